/* L2 logistic regression as scikit-learn 1.2's LogisticRegression(solver='lbfgs'):
 * binary = one logit (sigmoid), 3+ classes = multinomial softmax; objective
 * C * sum_i s_i * logloss_i + 0.5 * ||W||^2 on standardised features, intercepts free.
 *
 * One trainer for rows in one process and for rows spread over participants: every sum over
 * rows (class counts, the scaler, the Gram matrix, each evaluation's loss and gradient, the
 * held-out losses) goes through opts->allreduce when one is given, so every participant runs
 * the same optimisation on the same sums and ends with the same model.
 *
 * Each fit runs in the eigenbasis of the standardised rows' Gram matrix Z'Z (a rotation, so
 * ||W|| and the objective are unchanged) with every variable scaled by the square root of an
 * estimate of the Hessian's diagonal there (1 + C * mean curvature * eigenvalue): correlated
 * CNN features make the plain problem ill-conditioned, the rotated and scaled one is close to
 * the identity, and L-BFGS (liblbfgs) needs fewer iterations (docs/classifier.md). The grid
 * search fits its folds on worker threads, in float32 (one process only). */
#include <cblas.h>
#include <lbfgs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "learn/classifier.h"

/* LAPACK (in OpenBLAS): eigen-decomposition of a symmetric matrix, divide and conquer. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

/* Above this many features the rotation (D x D matrices, D^3 work) is not used: the fits run
 * on the standardised features with the diagonal scaling only. */
#define ROTATE_MAX_DIM 4096

/* ---- sums over participants --------------------------------------------------------------- */

typedef struct sums {
    irb_allreduce_fn fn; /* NULL: this process holds every row */
    void *user;
} sums;

static irb_status allsum(const sums *r, double *buf, size_t n, irb_error *err)
{
    return r->fn ? r->fn(r->user, buf, n, err) : IRB_OK;
}

/* ---- the objective ------------------------------------------------------------------------ */

/* n x D rows: in double, or in float for the grid search's fits in one process (half the memory
 * traffic per evaluation; sums of products in float are good to ~1e-6 relative, far below the
 * search's tolerance) with float scratch for the products' other operand. */
typedef struct mat {
    const double *d; /* one of d, f */
    const float *f;
    float *s1, *s2; /* f: M x D and n x M scratch */
} mat;

/* L (n x M) += Z W^T for W M x D. */
static void mat_times_wt(const mat *Z, size_t n, int D, int M, const double *W, double *L)
{
    if (!n)
        return;
    if (Z->d) {
        if (M == 1) /* gemm with one column would pack (copy) all of Z on every call */
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, D, 1.0, Z->d, D, W, 1, 1.0, L, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, M, D, 1.0, Z->d, D, W, D, 1.0, L, M);
        return;
    }
    for (size_t j = 0; j < (size_t)M * D; j++)
        Z->s1[j] = (float)W[j];
    if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, D, 1.0f, Z->f, D, Z->s1, 1, 0.0f, Z->s2, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, M, D, 1.0f, Z->f, D, Z->s1, D, 0.0f, Z->s2, M);
    for (size_t i = 0; i < n * (size_t)M; i++)
        L[i] += Z->s2[i];
}

/* G (M x D) = R^T Z for R n x M. */
static void mat_rt_times(const mat *Z, size_t n, int D, int M, const double *R, double *G)
{
    if (!n) {
        memset(G, 0, (size_t)M * D * sizeof *G);
    } else if (Z->d) {
        if (M == 1)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, D, 1.0, Z->d, D, R, 1, 0.0, G, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, D, (int)n, 1.0, R, M, Z->d, D, 0.0, G, D);
    } else {
        for (size_t i = 0; i < n * (size_t)M; i++)
            Z->s2[i] = (float)R[i];
        if (M == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)n, D, 1.0f, Z->f, D, Z->s2, 1, 0.0f, Z->s1, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, D, (int)n, 1.0f, Z->s2, M, Z->f, D, 0.0f, Z->s1, D);
        for (size_t j = 0; j < (size_t)M * D; j++)
            G[j] = Z->s1[j];
    }
}

typedef struct problem {
    mat Z;            /* n x D local rows in the fit's basis */
    const int *y;     /* n labels */
    const double *sw; /* n sample weights */
    size_t n;
    int D, K, M;
    double C;
    double *sq;  /* M * (D + 1): the optimiser's variable j is sq[j] * w[j] */
    double *L;   /* n x M logits, then residuals */
    double *w;   /* M * (D + 1) scratch: the parameters being evaluated */
    double *buf; /* M * (D + 1) + 1: gradient and data loss, summed over participants */
    const sums *red;
    irb_error *err;
    irb_status failed; /* a failed reduction: every participant stops alike */
    int iters;
} problem;

static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* Logits of the n rows Z under w = [W (M x D), b (M)] into L (n x M). */
static void logits(const mat *Z, size_t n, int D, int M, const double *w, double *L)
{
    const double *b = w + (size_t)M * D;
    for (size_t i = 0; i < n; i++)
        for (int m = 0; m < M; m++)
            L[i * M + m] = b[m];
    mat_times_wt(Z, n, D, M, w, L);
}

/* Turns row z's logits into residuals (prob - onehot) * s; returns the row's log-loss. */
static double residual_row(double *z, int y, double s, int K, int M)
{
    if (M == 1) {
        double t = y == 1, loss = softplus(z[0]) - t * z[0];
        double sig = z[0] >= 0 ? 1.0 / (1.0 + exp(-z[0])) : exp(z[0]) / (1.0 + exp(z[0]));
        z[0] = s * (sig - t);
        return loss;
    }
    double mx = z[0], sum = 0;
    for (int k = 1; k < K; k++)
        mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < K; k++)
        sum += exp(z[k] - mx);
    double lse = mx + log(sum), loss = lse - z[y];
    for (int k = 0; k < K; k++)
        z[k] = s * (exp(z[k] - lse) - (k == y));
    return loss;
}

/* The local weighted log-loss sum of the n rows Z under w; L is left holding the residuals. */
static double local_loss(const mat *Z, const int *y, const double *sw, size_t n, int D, int K, int M, const double *w,
                         double *L)
{
    logits(Z, n, D, M, w, L);
    double data = 0;
    for (size_t i = 0; i < n; i++)
        data += sw[i] * residual_row(L + i * M, y[i], sw[i], K, M);
    return data;
}

static lbfgsfloatval_t evaluate(void *inst, const lbfgsfloatval_t *a, lbfgsfloatval_t *g, int nvar,
                                lbfgsfloatval_t step)
{
    (void)step;
    problem *p = inst;
    size_t MD = (size_t)p->M * p->D, nv = (size_t)nvar;
    for (size_t j = 0; j < nv; j++)
        p->w[j] = a[j] / p->sq[j];
    double *b = p->buf;
    b[nv] = local_loss(&p->Z, p->y, p->sw, p->n, p->D, p->K, p->M, p->w, p->L);
    mat_rt_times(&p->Z, p->n, p->D, p->M, p->L, b);
    for (int m = 0; m < p->M; m++) {
        double sb = 0;
        for (size_t i = 0; i < p->n; i++)
            sb += p->L[i * p->M + m];
        b[MD + m] = sb;
    }
    if (p->failed == IRB_OK)
        p->failed = allsum(p->red, b, nv + 1, p->err);
    double reg = 0;
    for (size_t j = 0; j < MD; j++)
        reg += p->w[j] * p->w[j];
    for (size_t j = 0; j < nv; j++)
        g[j] = (p->C * b[j] + (j < MD ? p->w[j] : 0)) / p->sq[j];
    return p->failed == IRB_OK ? p->C * b[nv] + 0.5 * reg : INFINITY;
}

static int progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g, lbfgsfloatval_t fx,
                    lbfgsfloatval_t xnorm, lbfgsfloatval_t gnorm, lbfgsfloatval_t step, int n, int k, int ls)
{
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)ls;
    ((problem *)inst)->iters = k;
    return ((problem *)inst)->failed != IRB_OK;
}

/* liblbfgs codes that mean "stopped at a usable point": converged, or the line search could not
 * improve further (rounding at the optimum); liblbfgs keeps the best point in x. */
static int lbfgs_usable(int r)
{
    return r >= 0 || r == LBFGSERR_ROUNDING_ERROR || r == LBFGSERR_MAXIMUMLINESEARCH || r == LBFGSERR_MINIMUMSTEP ||
           r == LBFGSERR_MAXIMUMITERATION || r == LBFGSERR_WIDTHTOOSMALL || r == LBFGSERR_INCREASEGRADIENT ||
           r == LBFGSERR_MAXIMUMSTEP;
}

/* ---- the basis of a fit: scaler, rotation, curvature -------------------------------------- */

typedef struct space {
    double *mean, *std; /* D each: the scaler */
    const double *E;    /* D x D rotation shared by every fit of a training (row k = eigenvector k
                         * of the standardised rows' Gram matrix); NULL: none */
    double *lam;        /* D: sum over all rows of each column's square in the basis */
    double N;           /* rows over all participants */
} space;

/* One worker's buffers for one fit (a fold's training and held-out rows, or all rows). */
typedef struct ws {
    space sp;
    size_t *tr, *va;
    int *ytr, *yva;
    double *swtr, *swva;
    double *Ztr, *Zva, *tmp;  /* rows x D in double: training rows in the fit's basis, held-out
                               * rows standardised; standardised rows */
    float *Ftr, *Fva, *ftmp;  /* the same for a fold in float */
    float *s1, *s2;           /* float products' scratch (mat) */
    double *L;                /* rows x M */
    double *w, *sq, *x, *buf; /* M * (D + 1) (+ 1 for buf) */
    size_t ntr, nva;          /* a fold's training and held-out rows */
} ws;

static void ws_free(ws *b)
{
    irb_free(b->sp.mean), irb_free(b->sp.std), irb_free(b->sp.lam), irb_free(b->tr), irb_free(b->va);
    irb_free(b->ytr), irb_free(b->yva), irb_free(b->swtr), irb_free(b->swva), irb_free(b->Ztr), irb_free(b->Zva);
    irb_free(b->tmp);
    irb_free(b->Ftr), irb_free(b->Fva), irb_free(b->ftmp), irb_free(b->s1), irb_free(b->s2), irb_free(b->L);
    irb_free(b->w), irb_free(b->sq), irb_free(b->x), irb_free(b->buf);
    memset(b, 0, sizeof *b);
}

/* Buffers for up to n training and nva held-out rows of dim D with M outputs, the rows in
 * float (a fold) or double (the final fit); 0 when out of memory. */
static int ws_alloc(ws *b, size_t n, size_t nva, int D, int M, int f32)
{
    size_t N1 = n ? n : 1, V1 = nva ? nva : 1, d = (size_t)D, nvar = (size_t)M * (d + 1);
    b->sp.mean = irb_malloc_array(d, sizeof(double)), b->sp.std = irb_malloc_array(d, sizeof(double));
    b->sp.lam = irb_malloc_array(d + 1, sizeof(double));
    b->tr = irb_malloc_array(N1, sizeof(size_t)), b->va = irb_malloc_array(V1, sizeof(size_t));
    b->ytr = irb_malloc_array(N1, sizeof(int)), b->yva = irb_malloc_array(V1, sizeof(int));
    b->swtr = irb_malloc_array(N1, sizeof(double)), b->swva = irb_malloc_array(V1, sizeof(double));
    if (f32) {
        size_t big = N1 > V1 ? N1 : V1;
        b->Ftr = irb_malloc_array(N1, d * sizeof(float)), b->Fva = irb_malloc_array(V1, d * sizeof(float));
        b->ftmp = irb_malloc_array(big, d * sizeof(float)), b->s1 = irb_malloc_array(nvar, sizeof(float));
        b->s2 = irb_malloc_array(big, (size_t)M * sizeof(float));
    } else {
        b->Ztr = irb_malloc_array(N1, d * sizeof(double)), b->tmp = irb_malloc_array(N1, d * sizeof(double));
        b->Zva = irb_malloc_array(V1, d * sizeof(double));
    }
    b->L = irb_malloc_array(N1 > V1 ? N1 : V1, (size_t)M * sizeof(double));
    b->w = irb_malloc_array(nvar, sizeof(double)), b->sq = irb_malloc_array(nvar, sizeof(double));
    b->x = irb_malloc_array(nvar, sizeof(double));
    b->buf = irb_malloc_array(nvar > d ? nvar + 1 : d + 1, sizeof(double));
    int rows = f32 ? b->Ftr && b->Fva && b->ftmp && b->s1 && b->s2 : b->Ztr && b->Zva && b->tmp;
    return b->sp.mean && b->sp.std && b->sp.lam && b->tr && b->va && b->ytr && b->yva && b->swtr && b->swva && rows &&
           b->L && b->w && b->sq && b->x && b->buf;
}

/* Mean and population std over all participants' rows idx (as sklearn's StandardScaler; std 0
 * -> 1), two passes; the identity when no_std. sp->N gets the row count. */
static irb_status fit_scaler(const float *x, int D, const size_t *idx, size_t n, int no_std, const sums *r, space *sp,
                             double *acc, irb_error *err)
{
    memset(acc, 0, ((size_t)D + 1) * sizeof *acc);
    for (size_t i = 0; i < n; i++) {
        const float *row = x + idx[i] * (size_t)D;
        for (int j = 0; j < D; j++)
            acc[j] += row[j];
    }
    acc[D] = (double)n;
    IRB_TRY(allsum(r, acc, (size_t)D + 1, err));
    sp->N = acc[D];
    for (int j = 0; j < D; j++)
        sp->mean[j] = no_std ? 0 : acc[j] / (sp->N > 0 ? sp->N : 1), sp->std[j] = 1;
    if (no_std)
        return IRB_OK;
    memset(acc, 0, (size_t)D * sizeof *acc);
    for (size_t i = 0; i < n; i++) {
        const float *row = x + idx[i] * (size_t)D;
        for (int j = 0; j < D; j++) {
            double d = row[j] - sp->mean[j];
            acc[j] += d * d;
        }
    }
    IRB_TRY(allsum(r, acc, (size_t)D, err));
    for (int j = 0; j < D; j++) {
        double s = sp->N > 0 ? sqrt(acc[j] / sp->N) : 0;
        sp->std[j] = s > 1e-12 * (fabs(sp->mean[j]) > 1 ? fabs(sp->mean[j]) : 1) ? s : 1.0;
    }
    return IRB_OK;
}

/* Rows idx of x standardised with sp's scaler into Z (n x D), or into F in float when Z is NULL. */
static void standardise(const float *x, int D, const size_t *idx, size_t n, const space *sp, double *Z, float *F)
{
    for (size_t i = 0; i < n; i++) {
        const float *row = x + idx[i] * (size_t)D;
        for (int j = 0; j < D; j++) {
            double v = ((double)row[j] - sp->mean[j]) / sp->std[j];
            if (Z)
                Z[i * (size_t)D + j] = v;
            else
                F[i * (size_t)D + j] = (float)v;
        }
    }
}

/* Whether every participant holds bitwise the same E: 8-bit pieces of its SHA-256, their sums
 * and sums of squares are exact in doubles, and all are equal iff P * sum(x^2) == sum(x)^2. */
static irb_status same_everywhere(const sums *r, const double *E, size_t n, int *same, irb_error *err)
{
    *same = 1;
    if (!r->fn)
        return IRB_OK;
    char hex[65];
    irb_sha256_buffer(E, n * sizeof *E, hex);
    double b[17] = {0};
    for (int k = 0; k < 8; k++) {
        unsigned v = 0;
        sscanf(hex + 2 * k, "%2x", &v);
        b[k] = v, b[8 + k] = (double)v * v;
    }
    b[16] = 1;
    IRB_TRY(allsum(r, b, 17, err));
    for (int k = 0; k < 8; k++)
        if (b[16] * b[8 + k] != b[k] * b[k])
            *same = 0;
    return IRB_OK;
}

/* The rotation of every fit: the eigenvectors of the summed Gram matrix Z'Z of the standardised
 * rows Z (n local) into E (row k = eigenvector k). *used = 0 (and E unused) when D is too large,
 * LAPACK fails, or the participants did not all compute bitwise the same E. */
static irb_status fit_rotation(const double *Z, size_t n, int D, const sums *r, double *E, int *used, irb_error *err)
{
    size_t d = (size_t)D;
    *used = 0;
    if (D > ROTATE_MAX_DIM)
        return IRB_OK;
    int lwork = 1 + 6 * D + 2 * D * D, liwork = 3 + 5 * D, info = 0, same = 0;
    double *work = irb_malloc_array((size_t)lwork + d, sizeof *work), *lam = work + lwork;
    int *iwork = irb_malloc_array((size_t)liwork, sizeof *iwork);
    double bad = work && iwork ? 0 : 1;
    irb_status s = allsum(r, &bad, 1, err);
    if (s == IRB_OK && bad > 0)
        s = irb_fail(err, IRB_NOMEM, "logistic regression: out of memory (%d x %d Gram matrix)", D, D);
    if (s != IRB_OK)
        goto cleanup;
    memset(E, 0, d * d * sizeof *E);
    if (n)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, D, (int)n, 1.0, Z, D, 0.0, E, D);
    for (size_t i = 0; i < d; i++) /* the lower half too: the sum must be symmetric everywhere */
        for (size_t j = 0; j < i; j++)
            E[i * d + j] = E[j * d + i];
    if ((s = allsum(r, E, d * d, err)) != IRB_OK)
        goto cleanup;
    /* row-major E is the column-major matrix too (symmetric); the eigenvectors come back as its
     * columns in column-major order, i.e. as the rows of row-major E */
    dsyevd_("V", "L", &D, E, &D, lam, work, &lwork, iwork, &liwork, &info);
    if (info == 0 && (s = same_everywhere(r, E, d * d, &same, err)) != IRB_OK)
        goto cleanup;
    *used = info == 0 && same;
cleanup:
    irb_free(work);
    irb_free(iwork);
    return s;
}

/* Standardised rows Zs (n x D) into the basis E (out = Zs E^T; a copy without E). */
static void rotate(const double *Zs, size_t n, int D, const double *E, double *out)
{
    if (!E)
        memcpy(out, Zs, n * (size_t)D * sizeof *Zs);
    else if (n)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, D, D, 1.0, Zs, D, E, D, 0.0, out, D);
}

/* The same in float (Ef: E in float). */
static void rotate_f(const float *Zs, size_t n, int D, const float *Ef, float *out)
{
    if (!Ef)
        memcpy(out, Zs, n * (size_t)D * sizeof *Zs);
    else if (n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, D, D, 1.0f, Zs, D, Ef, D, 0.0f, out, D);
}

/* sp->lam: each column's sum of squares over every participant's rows Z (n local x D; double
 * or float). */
static irb_status column_squares(const mat *Z, size_t n, int D, const sums *r, space *sp, irb_error *err)
{
    memset(sp->lam, 0, (size_t)D * sizeof *sp->lam);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) {
            double v = Z->d ? Z->d[i * (size_t)D + j] : Z->f[i * (size_t)D + j];
            sp->lam[j] += v * v;
        }
    return allsum(r, sp->lam, (size_t)D, err);
}

/* Weights W (M x D) from sp's basis back to the standardised space (W E), in place; tmp M x D
 * scratch. The intercepts are the same in both. */
static void map_weights_back(const space *sp, int M, int D, double *W, double *tmp)
{
    if (!sp->E)
        return;
    memcpy(tmp, W, (size_t)M * D * sizeof *W);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, D, 1.0, tmp, D, sp->E, D, 0.0, W, D);
}

/* ---- one fit ------------------------------------------------------------------------------ */

/* The variables' scales at the starting point w: the square root of the Hessian's diagonal
 * C * sum_i c_im z_ij^2 + 1 estimated as C * mean_i(c_im) * lam_j + 1, c_im = s_i p_im (1 - p_im)
 * (the intercepts: C * sum_i c_im, unpenalised). One pass over the rows and one sum. */
static irb_status set_scales(problem *p, const double *w, const space *sp, irb_error *err)
{
    int M = p->M, D = p->D;
    double *c = p->buf; /* M curvature sums */
    memset(c, 0, (size_t)M * sizeof *c);
    logits(&p->Z, p->n, D, M, w, p->L);
    for (size_t i = 0; i < p->n; i++) {
        double *z = p->L + i * M;
        residual_row(z, p->y[i], 1.0, p->K, M); /* z: prob - onehot */
        for (int m = 0; m < M; m++) {
            double q = M == 1 ? z[0] + (p->y[i] == 1) : z[m] + (m == p->y[i]);
            c[m] += p->sw[i] * q * (1 - q);
        }
    }
    IRB_TRY(allsum(p->red, c, (size_t)M, err));
    for (int m = 0; m < M; m++) {
        double cm = c[m] / (sp->N > 0 ? sp->N : 1);
        for (int j = 0; j < D; j++)
            p->sq[(size_t)m * D + j] = sqrt(1 + p->C * cm * sp->lam[j]);
        double hb = p->C * c[m];
        p->sq[(size_t)M * D + m] = sqrt(hb > 1e-6 ? hb : 1e-6);
    }
    return IRB_OK;
}

typedef struct fit_out {
    int iterations;
    int status;
} fit_out;

void irb_logreg_lbfgs_params(lbfgs_parameter_t *prm, double tol, int max_iter)
{
    lbfgs_parameter_init(prm);
    prm->m = 10;
    prm->epsilon = tol;
    prm->past = 0;
    prm->max_iterations = max_iter;
    prm->max_linesearch = 40;
}

/* Minimises from the starting point in w (warm start, in p's basis); w gets the solution. */
static irb_status fit(problem *p, const space *sp, double *w, int max_iter, double tol, fit_out *out, irb_error *err)
{
    IRB_TRY(set_scales(p, w, sp, err));
    size_t nvar = (size_t)p->M * ((size_t)p->D + 1);
    for (size_t j = 0; j < nvar; j++)
        w[j] *= p->sq[j];
    lbfgs_parameter_t prm;
    irb_logreg_lbfgs_params(&prm, tol, max_iter);
    lbfgsfloatval_t fx;
    p->iters = 0;
    int r = lbfgs((int)nvar, w, &fx, evaluate, progress, p, &prm);
    for (size_t j = 0; j < nvar; j++)
        w[j] /= p->sq[j];
    out->status = r;
    out->iterations = p->iters;
    if (p->failed != IRB_OK)
        return p->failed;
    if (!lbfgs_usable(r))
        return irb_fail(err, r == LBFGSERR_OUTOFMEMORY ? IRB_NOMEM : IRB_INTERNAL,
                        "logistic regression: L-BFGS failed with code %d", r);
    return IRB_OK;
}

/* ---- grouped k-fold ------------------------------------------------------------------------- */

typedef struct group_info {
    int id;
    size_t first, size;
} group_info;

static int by_id(const void *a, const void *b)
{
    const group_info *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int by_size_then_first(const void *a, const void *b)
{
    const group_info *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return (x->first > y->first) - (x->first < y->first);
}

static size_t find_group(const group_info *g, size_t ng, int id)
{
    size_t lo = 0, hi = ng;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (g[mid].id <= id)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

irb_status irb_group_kfold(const int *groups, size_t n, int k, int *fold, irb_error *err)
{
    if (k < 2 || !groups || !fold)
        return irb_fail(err, IRB_INVALID_ARG, "group k-fold: need k >= 2 and groups (k = %d)", k);
    if ((size_t)k > n) /* before k counters are allocated: k = 2^31 - 1 took 16 GB */
        return irb_fail(err, IRB_INVALID_ARG, "group k-fold: %zu rows, fewer than %d folds", n, k);
    group_info *g = irb_malloc_array(n ? n : 1, sizeof *g);
    size_t *load = irb_calloc((size_t)k, sizeof *load);
    int *gfold = irb_malloc_array(n ? n : 1, sizeof *gfold);
    irb_status s = IRB_OK;
    if (!g || !load || !gfold) {
        s = irb_fail(err, IRB_NOMEM, "group k-fold: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        g[i] = (group_info){groups[i], i, 1};
    qsort(g, n, sizeof *g, by_id);
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (ng && g[ng - 1].id == g[i].id) {
            g[ng - 1].size++;
            if (g[i].first < g[ng - 1].first)
                g[ng - 1].first = g[i].first;
        } else {
            g[ng++] = g[i];
        }
    }
    if (ng < (size_t)k) {
        s = irb_fail(err, IRB_INVALID_ARG, "group k-fold: %zu groups, fewer than %d folds", ng, k);
        goto cleanup;
    }
    /* largest groups first, each into the currently lightest fold */
    group_info *order = irb_malloc_array(ng, sizeof *order);
    if (!order) {
        s = irb_fail(err, IRB_NOMEM, "group k-fold: out of memory");
        goto cleanup;
    }
    memcpy(order, g, ng * sizeof *g);
    qsort(order, ng, sizeof *order, by_size_then_first);
    for (size_t j = 0; j < ng; j++) {
        int best = 0;
        for (int f = 1; f < k; f++)
            if (load[f] < load[best])
                best = f;
        load[best] += order[j].size;
        gfold[find_group(g, ng, order[j].id)] = best;
    }
    irb_free(order);
    for (size_t i = 0; i < n; i++)
        fold[i] = gfold[find_group(g, ng, groups[i])];
cleanup:
    irb_free(g);
    irb_free(load);
    irb_free(gfold);
    return s;
}

/* ---- cross-validation over C ---------------------------------------------------------------- */

const double irb_logreg_default_grid[IRB_LOGREG_DEFAULT_GRID_N] = {
    1e-4, 3.1622776601683795e-4, 1e-3, 3.1622776601683795e-3, 1e-2, 3.1622776601683795e-2, 1e-1, 3.1622776601683795e-1,
    1.0,  3.1622776601683795,    10.0, 31.622776601683795,    100.0};

typedef struct data {
    const float *x;
    const int *y;
    size_t n; /* local rows */
    int D, K, M;
    const double *cw;
    int max_iter;
    double tol, cv_tol;
    int no_std; /* identity scaler (irb_train_opts.no_standardize) */
    sums red;
    const double *E; /* the rotation of every fit (NULL: none) */
    const float *Ef; /* E in float (the grid search's folds) */
} data;

irb_status irb_logreg_grid(const irb_train_opts *o, const double **grid, int *n, irb_error *err)
{
    *grid = o->grid ? o->grid : irb_logreg_default_grid;
    *n = o->grid ? o->grid_n : IRB_LOGREG_DEFAULT_GRID_N;
    if (*n < 1 || *n > IRB_CV_GRID_MAX)
        return irb_fail(err, IRB_INVALID_ARG, "cross-validation: grid of %d values (1..%d)", *n, IRB_CV_GRID_MAX);
    for (int c = 0; c < *n; c++)
        if (!((*grid)[c] > 0) || (c && (*grid)[c] <= (*grid)[c - 1]))
            return irb_fail(err, IRB_INVALID_ARG, "cross-validation: grid must be positive and ascending");
    return IRB_OK;
}

typedef struct cv_job {
    const data *d;
    const int *fold; /* n local rows' folds */
    int k, ng;
    const double *grid;
    int c;              /* the grid index every fold fits next; -1: prepare the folds */
    ws *bufs;           /* one per fold: its rows and its solution, kept along the path of C */
    double *loss;       /* k x ng local held-out weighted log-loss sums */
    double *vaw;        /* k local held-out weight sums */
    irb_status *status; /* k */
    irb_error *errs;    /* k */
} cv_job;

/* Fold f: a scaler and basis on its training rows, its training rows in that basis and its
 * held-out rows standardised in b, the starting point zero. */
static irb_status prepare_fold(const cv_job *j, int f, ws *b, irb_error *err)
{
    const data *d = j->d;
    size_t ntr = 0, nva = 0, nvar = (size_t)d->M * d->D + (size_t)d->M;
    for (size_t i = 0; i < d->n; i++) {
        if (j->fold[i] == f)
            b->va[nva] = i, b->yva[nva] = d->y[i], b->swva[nva++] = d->cw[d->y[i]];
        else
            b->tr[ntr] = i, b->ytr[ntr] = d->y[i], b->swtr[ntr++] = d->cw[d->y[i]];
    }
    b->ntr = ntr, b->nva = nva;
    IRB_TRY(fit_scaler(d->x, d->D, b->tr, ntr, d->no_std, &d->red, &b->sp, b->buf, err));
    b->sp.E = d->E;
    mat Ztr = {b->Ztr, b->Ftr, b->s1, b->s2};
    /* the held-out rows stay in the standardised space (a fifth of the rotation's work saved);
     * their loss takes the weights mapped back */
    if (b->Ztr) { /* double */
        standardise(d->x, d->D, b->tr, ntr, &b->sp, b->tmp, NULL);
        rotate(b->tmp, ntr, d->D, d->E, b->Ztr);
        standardise(d->x, d->D, b->va, nva, &b->sp, b->Zva, NULL);
    } else {
        standardise(d->x, d->D, b->tr, ntr, &b->sp, NULL, b->ftmp);
        rotate_f(b->ftmp, ntr, d->D, d->Ef, b->Ftr);
        standardise(d->x, d->D, b->va, nva, &b->sp, NULL, b->Fva);
    }
    IRB_TRY(column_squares(&Ztr, ntr, d->D, &d->red, &b->sp, err));
    j->vaw[f] = 0;
    for (size_t i = 0; i < nva; i++)
        j->vaw[f] += b->swva[i];
    memset(b->x, 0, nvar * sizeof *b->x);
    return IRB_OK;
}

/* Fold f at grid value c, warm-started from its solution at the previous value; its held-out
 * loss. */
static irb_status fit_fold(const cv_job *j, int f, ws *b, int c, irb_error *err)
{
    const data *d = j->d;
    mat Ztr = {b->Ztr, b->Ftr, b->s1, b->s2}, Zva = {b->Zva, b->Fva, b->s1, b->s2};
    problem p = {Ztr,   b->ytr, b->swtr, b->ntr, d->D,    d->K, d->M,   j->grid[c],
                 b->sq, b->L,   b->w,    b->buf, &d->red, err,  IRB_OK, 0};
    fit_out fo;
    IRB_TRY(fit(&p, &b->sp, b->x, d->max_iter, d->cv_tol, &fo, err));
    size_t nvar = (size_t)d->M * d->D + (size_t)d->M;
    memcpy(b->buf, b->x, nvar * sizeof *b->buf);
    map_weights_back(&b->sp, d->M, d->D, b->buf, b->w);
    j->loss[f * j->ng + c] = local_loss(&Zva, b->yva, b->swva, b->nva, d->D, d->K, d->M, b->buf, b->L);
    return IRB_OK;
}

static void fold_worker(void *ctx, int ith, int nth)
{
    const cv_job *j = ctx;
    for (int f = ith; f < j->k; f += nth)
        if (j->status[f] == IRB_OK)
            j->status[f] = j->c < 0 ? prepare_fold(j, f, &j->bufs[f], &j->errs[f])
                                    : fit_fold(j, f, &j->bufs[f], j->c, &j->errs[f]);
}

/* One step (j->c) of every fold, on the pool's threads or in order (the first failure stops:
 * with an allreduce every participant fails alike). The first failure's message into err. */
static irb_status run_folds(cv_job *j, irb_pool *pool, irb_error *err)
{
    if (pool)
        irb_pool_run(pool, fold_worker, j);
    else
        for (int f = 0; f < j->k && (f == 0 || j->status[f - 1] == IRB_OK); f++)
            fold_worker(j, f, j->k); /* fold f alone */
    for (int f = 0; f < j->k; f++)
        if (j->status[f] != IRB_OK) {
            *err = j->errs[f];
            return j->status[f];
        }
    return IRB_OK;
}

/* Threads for the folds: none with an allreduce (the participants' collectives must run in one
 * order), else opts->threads (0: every CPU), at most one per fold. */
static int fold_threads(const data *d, const irb_train_opts *o, int k)
{
    if (d->red.fn)
        return 1;
    int t = o->threads > 0 ? o->threads : irb_cpu_count();
    return t < k ? t : k;
}

/* The folds of the n local rows (o->folds, else irb_group_kfold of the groups) into fold. */
static irb_status assign_folds(const irb_train_opts *o, size_t n, int k, int *fold, irb_error *err)
{
    if (o->folds) {
        memcpy(fold, o->folds, n * sizeof *fold);
        return IRB_OK;
    }
    int *own = NULL;
    const int *groups = o->groups;
    if (!groups && !(groups = own = irb_malloc_array(n ? n : 1, sizeof *own)))
        return irb_fail(err, IRB_NOMEM, "cross-validation: out of memory");
    for (size_t i = 0; own && i < n; i++)
        own[i] = (int)i;
    /* fails alike everywhere: without an allreduce only (with one, o->folds is required) */
    irb_status s = irb_group_kfold(groups, n, k, fold, err);
    irb_free(own);
    return s;
}

/* The folds run in lock step along the ascending grid (each fold keeps its rows and warm start),
 * so the pooled held-out loss is known after each C: the path stops once it has not improved on
 * its best for o->cv_patience values (the held-out loss rises past its minimum; the larger Cs are
 * the slowest fits); those Cs get NaN. */
static irb_status choose_C(const data *d, const irb_train_opts *o, irb_train_report *rep, double *bestC, irb_error *err)
{
    const double *grid;
    int ng, k = o->cv_folds > 0 ? o->cv_folds : 5, patience = o->cv_patience ? o->cv_patience : 2;
    IRB_TRY(irb_logreg_grid(o, &grid, &ng, err));
    size_t n = d->n;
    int nt = fold_threads(d, o, k), blas = -1;
    cv_job j = {d,
                NULL,
                k,
                ng,
                grid,
                -1,
                irb_calloc((size_t)k, sizeof(ws)),
                irb_calloc((size_t)k * ng + ng + 1, sizeof(double)),
                irb_calloc((size_t)k, sizeof(double)),
                irb_calloc((size_t)k, sizeof(irb_status)),
                irb_calloc((size_t)k, sizeof(irb_error))};
    int *fold = irb_malloc_array(n ? n : 1, sizeof *fold);
    size_t *cnt = irb_calloc((size_t)k, sizeof *cnt);
    irb_pool *pool = NULL;
    int ok = j.bufs && j.loss && j.vaw && j.status && j.errs && fold && cnt;
    irb_status s = IRB_OK;
    if (ok && (s = assign_folds(o, n, k, fold, err)) != IRB_OK)
        goto cleanup;
    for (size_t i = 0; ok && i < n; i++)
        cnt[fold[i]]++;
    for (int f = 0; ok && f < k; f++)
        ok = ws_alloc(&j.bufs[f], n - cnt[f], cnt[f], d->D, d->M, !d->red.fn);
    double bad = ok ? 0 : 1; /* every participant learns whether all could allocate */
    if ((s = allsum(&d->red, &bad, 1, err)) != IRB_OK)
        goto cleanup;
    if (bad > 0) {
        s = irb_fail(err, IRB_NOMEM, "cross-validation: out of memory (%d folds x %zu rows x %d)", k, n, d->D);
        goto cleanup;
    }
    j.fold = fold;
    if (nt > 1 && (pool = irb_pool_new(nt)) && irb_pool_size(pool) != nt)
        irb_pool_free(pool), pool = NULL;
    if (pool) {
        /* one BLAS thread per fold worker while they run: each BLAS call splitting over every
         * core again oversubscribes them (about twice the time on 2 cores). OpenBLAS's count is
         * process-wide; it is restored when the search ends. */
        blas = openblas_get_num_threads();
        openblas_set_num_threads(1);
    }
    double *tot = j.loss + (size_t)k * ng; /* ng pooled losses, then the held-out weight */
    if ((s = run_folds(&j, pool, err)) != IRB_OK)
        goto cleanup;
    for (int f = 0; f < k; f++)
        tot[ng] += j.vaw[f];
    if ((s = allsum(&d->red, tot + ng, 1, err)) != IRB_OK)
        goto cleanup;
    int best = 0, last = ng - 1;
    for (int c = 0; c < ng; c++) {
        j.c = c;
        if ((s = run_folds(&j, pool, err)) != IRB_OK)
            goto cleanup;
        for (int f = 0; f < k; f++)
            tot[c] += j.loss[f * ng + c];
        if ((s = allsum(&d->red, tot + c, 1, err)) != IRB_OK)
            goto cleanup;
        if (tot[c] < tot[best])
            best = c; /* strict: ties keep the smaller C */
        if (patience > 0 && c - best >= patience) {
            last = c;
            break;
        }
    }
    rep->grid_n = ng;
    for (int c = 0; c < ng; c++) {
        rep->grid[c] = grid[c];
        rep->cv_logloss[c] = c > last ? NAN : tot[c] / (tot[ng] > 0 ? tot[ng] : 1.0);
    }
    *bestC = grid[best];
cleanup:
    if (blas > 0)
        openblas_set_num_threads(blas);
    irb_pool_free(pool);
    for (int f = 0; j.bufs && f < k; f++)
        ws_free(&j.bufs[f]);
    irb_free(j.bufs), irb_free(j.loss), irb_free(j.vaw), irb_free(j.status), irb_free(j.errs);
    irb_free(fold), irb_free(cnt);
    return s;
}

/* ---- training ------------------------------------------------------------------------------- */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Arguments, checked on every participant before the first collective. */
static irb_status check_args(const float *x, size_t n, int dim, const int *y, int K, const char *const *names,
                             const irb_train_opts *o, irb_error *err)
{
    int dist = o->allreduce != NULL;
    if ((n && (!x || !y)) || (!dist && n == 0) || !names || dim < 1 || dim > IRB_CLF_MAX_DIM || K < 2 ||
        K > IRB_CLF_MAX_CLASSES)
        return irb_fail(err, IRB_INVALID_ARG,
                        "logistic regression: need rows (none only with an allreduce), "
                        "labels, names, dim >= 1 and >= 2 classes (n %zu, dim %d, classes %d)",
                        n, dim, K);
    if (n > (size_t)INT32_MAX)
        return irb_fail(err, IRB_TOO_LARGE, "logistic regression: %zu rows is more than BLAS indexes", n);
    if (o->C < 0 || !isfinite(o->C) || (o->balanced && o->class_weight))
        return irb_fail(err, IRB_INVALID_ARG,
                        "logistic regression: C must be > 0 (or 0 for CV), got %g; "
                        "balanced and explicit class weights exclude each other",
                        o->C);
    for (int k = 0; k < K; k++)
        if (!names[k])
            return irb_fail(err, IRB_INVALID_ARG, "logistic regression: class name %d is NULL", k);
    if (o->cv_folds < 0) /* 0: the default; a negative count was taken as it */
        return irb_fail(err, IRB_INVALID_ARG, "logistic regression: cv_folds %d must be >= 0 (0: 5)", o->cv_folds);
    if (o->threads < 0 || o->max_iter < 0 || !(o->tol >= 0) || !(o->cv_tol >= 0)) /* likewise */
        return irb_fail(err, IRB_INVALID_ARG,
                        "logistic regression: threads %d, max_iter %d, tol %g and cv_tol %g must be >= 0 (0: the "
                        "default)",
                        o->threads, o->max_iter, o->tol, o->cv_tol);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < k; j++)
            if (!strcmp(names[j], names[k]))
                return irb_fail(err, IRB_INVALID_ARG, "logistic regression: classes %d and %d are both named '%s'", j,
                                k, names[k]);
    int k = o->cv_folds > 0 ? o->cv_folds : 5;
    if (o->C == 0) {
        const double *grid;
        int ng;
        IRB_TRY(irb_logreg_grid(o, &grid, &ng, err));
        if (dist && !o->folds && n)
            return irb_fail(err, IRB_INVALID_ARG, "distributed cross-validation needs the rows' folds");
        for (size_t i = 0; o->folds && i < n; i++)
            if (o->folds[i] < 0 || o->folds[i] >= k)
                return irb_fail(err, IRB_INVALID_ARG, "cross-validation: fold %d of row %zu outside 0..%d", o->folds[i],
                                i, k - 1);
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K)
            return irb_fail(err, IRB_INVALID_ARG, "logistic regression: label %d of row %zu outside 0..%d", y[i], i,
                            K - 1);
    for (size_t i = 0; i < n * (size_t)dim; i++)
        if (!isfinite(x[i]))
            return irb_fail(err, IRB_INVALID_ARG, "logistic regression: row %zu has a non-finite value", i / dim);
    return IRB_OK;
}

/* Class weights from the class counts over all participants (balanced: n / (K * count_k)). */
static irb_status class_weights(const int *y, size_t n, int K, const char *const *names, const irb_train_opts *o,
                                const sums *r, double *cw, irb_error *err)
{
    double *count = irb_calloc((size_t)K, sizeof *count), N = 0;
    if (!count)
        return irb_fail(err, IRB_NOMEM, "logistic regression: out of memory");
    for (size_t i = 0; i < n; i++)
        count[y[i]] += 1;
    irb_status s = allsum(r, count, (size_t)K, err);
    for (int k = 0; k < K; k++)
        N += count[k];
    for (int k = 0; k < K && s == IRB_OK; k++) {
        if (!count[k])
            s = irb_fail(err, IRB_INVALID_ARG, "logistic regression: class %d (%s) has no training rows", k, names[k]);
        else if (o->balanced)
            cw[k] = N / ((double)K * count[k]);
        else
            cw[k] = o->class_weight ? o->class_weight[k] : 1.0;
        if (s == IRB_OK && !(cw[k] > 0 && isfinite(cw[k])))
            s = irb_fail(err, IRB_INVALID_ARG, "logistic regression: class weight %d is %g", k, cw[k]);
    }
    irb_free(count);
    return s;
}

/* All rows in the basis of every fit: the scaler, the rotation (into E, d->E set when used), the
 * rows standardised and rotated into b->Ztr, ready for the final fit. */
static irb_status prepare_all(data *d, ws *b, double *E, irb_error *err)
{
    size_t n = d->n;
    double bad = ws_alloc(b, n, 0, d->D, d->M, 0) && (E || d->D > ROTATE_MAX_DIM) ? 0 : 1;
    IRB_TRY(allsum(&d->red, &bad, 1, err));
    if (bad > 0)
        return irb_fail(err, IRB_NOMEM, "logistic regression: out of memory (%zu rows x %d)", n, d->D);
    for (size_t i = 0; i < n; i++)
        b->tr[i] = i, b->swtr[i] = d->cw[d->y[i]];
    IRB_TRY(fit_scaler(d->x, d->D, b->tr, n, d->no_std, &d->red, &b->sp, b->buf, err));
    standardise(d->x, d->D, b->tr, n, &b->sp, b->tmp, NULL);
    int used = 0;
    if (d->D <= ROTATE_MAX_DIM)
        IRB_TRY(fit_rotation(b->tmp, n, d->D, &d->red, E, &used, err));
    d->E = b->sp.E = used ? E : NULL;
    rotate(b->tmp, n, d->D, d->E, b->Ztr);
    mat Z = {b->Ztr, NULL, NULL, NULL};
    return column_squares(&Z, n, d->D, &d->red, &b->sp, err);
}

/* The model on all rows (prepared in b) at C, from zero: it depends on the rows and C only, not
 * on how C was found (the experiment compares fits across runs bitwise). */
static irb_status final_fit(const data *d, ws *b, double C, irb_classifier_t *c, irb_train_report *rep, irb_error *err)
{
    size_t n = d->n, D = (size_t)d->D, M = (size_t)d->M, nvar = M * (D + 1);
    double *w = b->x;
    memset(w, 0, nvar * sizeof *w);
    mat Z = {b->Ztr, NULL, NULL, NULL};
    problem p = {Z, d->y, b->swtr, n, d->D, d->K, d->M, C, b->sq, b->L, b->w, b->buf, &d->red, err, IRB_OK, 0};
    fit_out fo;
    IRB_TRY(fit(&p, &b->sp, w, d->max_iter, d->tol, &fo, err));
    double acc[2] = {local_loss(&Z, d->y, b->swtr, n, d->D, d->K, d->M, w, b->L), 0}, reg = 0;
    logits(&Z, n, d->D, d->M, w, b->L);
    for (size_t i = 0; i < n; i++) {
        const double *z = b->L + i * M;
        int arg = 0;
        if (M == 1)
            arg = z[0] > 0;
        else
            for (int k = 1; k < d->K; k++)
                arg = z[k] > z[arg] ? k : arg;
        acc[1] += arg == d->y[i];
    }
    IRB_TRY(allsum(&d->red, acc, 2, err));
    for (size_t j = 0; j < M * D; j++)
        reg += w[j] * w[j];
    map_weights_back(&b->sp, d->M, d->D, w, b->w);
    memcpy(c->W, w, M * D * sizeof *w);
    memcpy(c->b, w + M * D, M * sizeof *w);
    memcpy(c->mean, b->sp.mean, D * sizeof *w);
    memcpy(c->std, b->sp.std, D * sizeof *w);
    c->C = C;
    rep->C = C;
    rep->iterations = fo.iterations;
    rep->lbfgs_status = fo.status;
    rep->objective = C * acc[0] + 0.5 * reg;
    rep->train_accuracy = acc[1] / (b->sp.N > 0 ? b->sp.N : 1);
    return IRB_OK;
}

irb_status irb_logreg_train(const float *x, size_t n, int dim, const int *y, int K, const char *const *names,
                            const irb_train_opts *opts, irb_classifier_t **out, irb_train_report *rep_out,
                            irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_logreg_train: NULL out");
    *out = NULL;
    double t0 = now();
    irb_train_opts o = opts ? *opts : (irb_train_opts){.C = 1.0};
    irb_train_report rep = {0};
    IRB_TRY(check_args(x, n, dim, y, K, names, &o, err));
    irb_classifier_t *c = irb_classifier_alloc(K, dim);
    if (!c)
        return irb_fail(err, IRB_NOMEM, "logistic regression: out of memory");
    irb_status s = IRB_OK;
    for (int k = 0; k < K && s == IRB_OK; k++)
        if (!(c->class_name[k] = irb_strdup(names[k])))
            s = irb_fail(err, IRB_NOMEM, "logistic regression: out of memory");
    /* every participant must make the same collective calls: a local failure above is acted on
     * after the class counts' sum (an allocation failure there may leave the others waiting) */
    sums red = {o.allreduce, o.allreduce_user};
    if (s == IRB_OK)
        s = class_weights(y, n, K, names, &o, &red, c->class_weight, err);
    data d = {x,
              y,
              n,
              dim,
              K,
              c->M,
              c->class_weight,
              o.max_iter > 0 ? o.max_iter : 5000,
              o.tol > 0 ? o.tol : 1e-7,
              o.cv_tol > 0 ? o.cv_tol : 1e-4,
              o.no_standardize,
              red,
              NULL,
              NULL};
    ws all = {0};
    size_t d2 = (size_t)dim * (size_t)dim;
    double C = o.C, *E = dim <= ROTATE_MAX_DIM ? irb_malloc_array(d2, sizeof *E) : NULL;
    if (s == IRB_OK)
        s = prepare_all(&d, &all, E, err);
    float *Ef = NULL;
    if (s == IRB_OK && C == 0 && d.E && !red.fn) {
        if (!(Ef = irb_malloc_array(d2, sizeof *Ef)))
            s = irb_fail(err, IRB_NOMEM, "logistic regression: out of memory");
        for (size_t i = 0; Ef && i < d2; i++)
            Ef[i] = (float)d.E[i];
        d.Ef = Ef;
    }
    if (s == IRB_OK && C == 0)
        s = choose_C(&d, &o, &rep, &C, err);
    if (s == IRB_OK)
        s = final_fit(&d, &all, C, c, &rep, err);
    ws_free(&all);
    irb_free(E);
    irb_free(Ef);
    if (s != IRB_OK) {
        irb_classifier_free(c);
        return s;
    }
    rep.seconds = now() - t0;
    if (rep_out)
        *rep_out = rep;
    *out = c;
    return IRB_OK;
}

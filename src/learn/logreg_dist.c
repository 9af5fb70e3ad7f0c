/* Data-parallel logistic regression (the hook behind `irbis-mpi train`, MPI-free): every
 * participant holds some rows; the class counts, the standardisation sums and, at each L-BFGS
 * evaluation, the loss and gradient of its rows are summed across participants through the
 * caller's allreduce. Every participant runs the same L-BFGS on the same sums, so all end with
 * the same model, equal to irb_logreg_train's on all rows up to the order of floating-point sums.
 * The objective and its parameterisation are those of logreg.c (docs/classifier.md); so is the
 * cross-validated choice of C when none is given, over folds the caller assigned. */
#include <cblas.h>
#include <lbfgs.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "learn/classifier.h"

typedef struct dproblem {
    const double *Z;   /* local n x D standardised rows */
    const int *y;
    const double *sw;  /* local sample weights */
    size_t n;
    int D, K, M;
    double C, scale;
    double *L;         /* local n x M logits / residuals */
    double *buf;       /* M * (D + 1) + 1: the summed gradient and data loss */
    irb_allreduce_fn allreduce;
    void *user;
    irb_error *err;
    irb_status failed;
    int iters;
} dproblem;

static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* Local logits -> weighted residuals; returns the local weighted data loss. */
static double local_residuals(dproblem *p, const double *w)
{
    const double *b = w + (size_t)p->M * p->D;
    for (size_t i = 0; i < p->n; i++)
        for (int m = 0; m < p->M; m++)
            p->L[i * p->M + m] = b[m];
    if (p->n)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->n, p->M, p->D, 1.0, p->Z, p->D, w, p->D, 1.0,
                    p->L, p->M);
    double data = 0;
    for (size_t i = 0; i < p->n; i++) {
        double *z = p->L + i * p->M, s = p->sw[i], loss;
        int y = p->y[i];
        if (p->M == 1) {
            double t = y == 1;
            loss = softplus(z[0]) - t * z[0];
            double sig = z[0] >= 0 ? 1.0 / (1.0 + exp(-z[0])) : exp(z[0]) / (1.0 + exp(z[0]));
            z[0] = s * (sig - t);
        } else {
            double mx = z[0], sum = 0;
            for (int k = 1; k < p->K; k++)
                mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < p->K; k++)
                sum += exp(z[k] - mx);
            double lse = mx + log(sum);
            loss = lse - z[y];
            for (int k = 0; k < p->K; k++)
                z[k] = s * (exp(z[k] - lse) - (k == y));
        }
        data += s * loss;
    }
    return data;
}

static lbfgsfloatval_t evaluate(void *inst, const lbfgsfloatval_t *w, lbfgsfloatval_t *g, int nvar,
                                lbfgsfloatval_t step)
{
    (void)step;
    dproblem *p = inst;
    size_t MD = (size_t)p->M * p->D, nv = (size_t)nvar;
    double *b = p->buf;
    memset(b, 0, (nv + 1) * sizeof *b);
    b[nv] = local_residuals(p, w);
    if (p->n)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->M, p->D, (int)p->n, 1.0, p->L, p->M, p->Z, p->D, 0.0,
                    b, p->D);
    for (int m = 0; m < p->M; m++)
        for (size_t i = 0; i < p->n; i++)
            b[MD + m] += p->L[i * p->M + m];
    if (p->failed == IRB_OK)
        p->failed = p->allreduce(p->user, b, nv + 1, p->err);
    double reg = 0;
    for (size_t j = 0; j < MD; j++)
        reg += w[j] * w[j];
    for (size_t j = 0; j < nv; j++)
        g[j] = (p->C * b[j] + (j < MD ? w[j] : 0)) * p->scale;
    /* a failed reduction must stop every participant alike: report a flat, huge objective */
    return p->failed == IRB_OK ? (p->C * b[nv] + 0.5 * reg) * p->scale : INFINITY;
}

static int progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g, lbfgsfloatval_t fx,
                    lbfgsfloatval_t xnorm, lbfgsfloatval_t gnorm, lbfgsfloatval_t step, int n, int k, int ls)
{
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)ls;
    ((dproblem *)inst)->iters = k;
    return ((dproblem *)inst)->failed != IRB_OK;
}

static int lbfgs_usable(int r)
{
    return r >= 0 || r == LBFGSERR_ROUNDING_ERROR || r == LBFGSERR_MAXIMUMLINESEARCH || r == LBFGSERR_MINIMUMSTEP ||
           r == LBFGSERR_MAXIMUMITERATION || r == LBFGSERR_WIDTHTOOSMALL || r == LBFGSERR_INCREASEGRADIENT ||
           r == LBFGSERR_MAXIMUMSTEP;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Global class counts -> class weights (balanced uses the global counts); *n_all the row count. */
static irb_status global_weights(const int *y, size_t n, irb_classifier_t *c, const irb_train_opts *o,
                                 irb_allreduce_fn ar, void *user, double *n_all, irb_error *err)
{
    int K = c->K;
    double *s = irb_calloc((size_t)K, sizeof *s);
    if (!s)
        return irb_fail(err, IRB_NOMEM, "distributed logistic regression: out of memory");
    for (size_t i = 0; i < n; i++)
        s[y[i]] += 1;
    irb_status st = ar(user, s, (size_t)K, err);
    double N = 0;
    for (int k = 0; k < K; k++)
        N += s[k];
    for (int k = 0; st == IRB_OK && k < K; k++) {
        if (s[k] == 0)
            st = irb_fail(err, IRB_INVALID_ARG, "logistic regression: class %d (%s) has no training rows", k,
                          c->class_name[k]);
        else
            c->class_weight[k] = o->balanced ? N / ((double)K * s[k]) : o->class_weight ? o->class_weight[k] : 1.0;
    }
    *n_all = N;
    irb_free(s);
    return st;
}

/* Mean and population std over every participant's n rows (std 0 -> 1; identity when no_std),
 * two passes as the single-process scaler. */
static irb_status global_scaler(const float *x, size_t n, int D, int no_std, double *mean, double *std,
                                irb_allreduce_fn ar, void *user, irb_error *err)
{
    if (no_std) {
        for (int j = 0; j < D; j++)
            mean[j] = 0, std[j] = 1;
        return IRB_OK;
    }
    double *s = irb_calloc((size_t)D + 1, sizeof *s);
    if (!s)
        return irb_fail(err, IRB_NOMEM, "distributed logistic regression: out of memory");
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            s[j] += x[i * (size_t)D + j];
    s[D] = (double)n;
    irb_status st = ar(user, s, (size_t)D + 1, err);
    double N = s[D];
    for (int j = 0; j < D; j++)
        mean[j] = s[j] / (N > 0 ? N : 1);
    memset(s, 0, (size_t)D * sizeof *s);
    for (size_t i = 0; st == IRB_OK && i < n; i++)
        for (int j = 0; j < D; j++) {
            double d = x[i * (size_t)D + j] - mean[j];
            s[j] += d * d;
        }
    if (st == IRB_OK)
        st = ar(user, s, (size_t)D, err);
    for (int j = 0; st == IRB_OK && j < D; j++) {
        std[j] = N > 0 ? sqrt(s[j] / N) : 0;
        if (!(std[j] > 1e-12 * (fabs(mean[j]) > 1 ? fabs(mean[j]) : 1)))
            std[j] = 1.0;
    }
    irb_free(s);
    return st;
}

static void standardise_rows(const float *x, size_t n, int D, const double *mean, const double *std, double *Z)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < (size_t)D; j++)
            Z[i * D + j] = ((double)x[i * D + j] - mean[j]) / std[j];
}

/* L-BFGS on p from w (in: start, out: solution), with the parameters of logreg.c's fit. */
static irb_status dist_fit(dproblem *p, double *w, double tol, int max_iter, int *status, irb_error *err)
{
    lbfgs_parameter_t prm;
    irb_logreg_lbfgs_params(&prm, tol, max_iter);
    lbfgsfloatval_t fx;
    p->iters = 0;
    int r = p->failed == IRB_OK ? lbfgs(p->M * (p->D + 1), w, &fx, evaluate, progress, p, &prm) : 0;
    if (status)
        *status = r;
    if (p->failed != IRB_OK)
        return p->failed;
    if (!lbfgs_usable(r))
        return irb_fail(err, r == LBFGSERR_OUTOFMEMORY ? IRB_NOMEM : IRB_INTERNAL,
                        "logistic regression: L-BFGS failed with code %d", r);
    return IRB_OK;
}

/* The sum over participants of a local double (e.g. sample weights). */
static irb_status global_sum(double v, double *out, irb_allreduce_fn ar, void *user, irb_error *err)
{
    double b[1] = {v};
    irb_status s = ar(user, b, 1, err);
    *out = b[0];
    return s;
}

typedef struct cv_bufs {
    float *xtr, *xva;
    int *ytr, *yva;
    double *Ztr, *Zva, *Ltr, *Lva, *swtr, *swva, *mean, *std, *w, *buf, *loss;
} cv_bufs;

static void cv_bufs_free(cv_bufs *b)
{
    irb_free(b->xtr), irb_free(b->xva), irb_free(b->ytr), irb_free(b->yva), irb_free(b->Ztr), irb_free(b->Zva);
    irb_free(b->Ltr), irb_free(b->Lva), irb_free(b->swtr), irb_free(b->swva), irb_free(b->mean), irb_free(b->std);
    irb_free(b->w), irb_free(b->buf), irb_free(b->loss);
}

/* Grouped cross-validation over the grid, as logreg.c's choose_C: per fold a scaler on its
 * training rows, ascending C with each fit warm-started from the previous, the held-out weighted
 * log-loss summed over folds and participants; the lowest mean wins (the first on ties). */
static irb_status choose_C_dist(const float *x, size_t n, int D, const int *y, const irb_classifier_t *c,
                                const irb_train_opts *o, irb_allreduce_fn ar, void *user, irb_train_report *rep,
                                double *bestC, irb_error *err)
{
    const double *grid;
    int ng, k = o->cv_folds > 0 ? o->cv_folds : 5;
    IRB_TRY(irb_logreg_grid(o, &grid, &ng, err)); /* checked before any collective already */
    int M = c->M, max_iter = o->max_iter > 0 ? o->max_iter : 5000;
    double cv_tol = o->cv_tol > 0 ? o->cv_tol : 1e-4;
    size_t N1 = n ? n : 1, nvar = (size_t)M * ((size_t)D + 1);
    cv_bufs b = {irb_malloc_array(N1, (size_t)D * sizeof(float)), irb_malloc_array(N1, (size_t)D * sizeof(float)),
                 irb_malloc_array(N1, sizeof(int)), irb_malloc_array(N1, sizeof(int)),
                 irb_malloc_array(N1, (size_t)D * sizeof(double)), irb_malloc_array(N1, (size_t)D * sizeof(double)),
                 irb_malloc_array(N1, (size_t)M * sizeof(double)), irb_malloc_array(N1, (size_t)M * sizeof(double)),
                 irb_malloc_array(N1, sizeof(double)), irb_malloc_array(N1, sizeof(double)),
                 irb_malloc_array((size_t)D, sizeof(double)), irb_malloc_array((size_t)D, sizeof(double)),
                 irb_malloc_array(nvar, sizeof(double)), irb_malloc_array(nvar + 1, sizeof(double)),
                 irb_calloc((size_t)ng + 1, sizeof(double))};
    int ok = b.xtr && b.xva && b.ytr && b.yva && b.Ztr && b.Zva && b.Ltr && b.Lva && b.swtr && b.swva && b.mean &&
             b.std && b.w && b.buf && b.loss;
    /* every participant learns whether all could allocate before the folds' collectives */
    double bad;
    irb_status s = global_sum(ok ? 0 : 1, &bad, ar, user, err);
    if (s == IRB_OK && bad > 0)
        s = irb_fail(err, IRB_NOMEM, "distributed cross-validation: out of memory on %g participant(s)", bad);
    for (int f = 0; s == IRB_OK && f < k; f++) {
        size_t ntr = 0, nva = 0;
        for (size_t i = 0; i < n; i++) {
            int va = o->folds[i] == f;
            memcpy((va ? b.xva + nva * D : b.xtr + ntr * D), x + i * (size_t)D, (size_t)D * sizeof *x);
            if (va)
                b.yva[nva] = y[i], b.swva[nva++] = c->class_weight[y[i]];
            else
                b.ytr[ntr] = y[i], b.swtr[ntr++] = c->class_weight[y[i]];
        }
        if ((s = global_scaler(b.xtr, ntr, D, o->no_standardize, b.mean, b.std, ar, user, err)) != IRB_OK)
            break;
        standardise_rows(b.xtr, ntr, D, b.mean, b.std, b.Ztr);
        standardise_rows(b.xva, nva, D, b.mean, b.std, b.Zva);
        double wtr = 0, wva = 0;
        for (size_t i = 0; i < ntr; i++)
            wtr += b.swtr[i];
        for (size_t i = 0; i < nva; i++)
            wva += b.swva[i];
        if ((s = global_sum(wtr, &wtr, ar, user, err)) != IRB_OK)
            break;
        b.loss[ng] += wva; /* summed across participants with the losses below */
        memset(b.w, 0, nvar * sizeof *b.w);
        for (int g = 0; s == IRB_OK && g < ng; g++) {
            dproblem p = {b.Ztr, b.ytr, b.swtr, ntr, D, c->K, M, grid[g], 1.0 / (grid[g] * (wtr > 0 ? wtr : 1.0)),
                          b.Ltr, b.buf, ar, user, err, IRB_OK, 0};
            s = dist_fit(&p, b.w, cv_tol, max_iter, NULL, err);
            dproblem pv = {b.Zva, b.yva, b.swva, nva, D, c->K, M, grid[g], 1.0, b.Lva, NULL, ar, user, err, IRB_OK, 0};
            if (s == IRB_OK)
                b.loss[g] += local_residuals(&pv, b.w);
        }
    }
    if (s == IRB_OK)
        s = ar(user, b.loss, (size_t)ng + 1, err);
    if (s == IRB_OK) {
        int best = 0;
        rep->grid_n = ng;
        for (int g = 0; g < ng; g++) {
            rep->grid[g] = grid[g];
            rep->cv_logloss[g] = b.loss[g] / (b.loss[ng] > 0 ? b.loss[ng] : 1.0);
            if (rep->cv_logloss[g] < rep->cv_logloss[best])
                best = g;
        }
        *bestC = grid[best];
    }
    cv_bufs_free(&b);
    return s;
}

/* Arguments, checked on every participant before the first collective. */
static irb_status check_dist_args(const float *x, size_t n, int dim, const int *y, int K, const char *const *names,
                                  const irb_train_opts *o, irb_allreduce_fn allreduce, irb_error *err)
{
    if (!allreduce || (n && (!x || !y)) || !names || dim < 1 || dim > IRB_CLF_MAX_DIM || K < 2 ||
        K > IRB_CLF_MAX_CLASSES || n > (size_t)INT32_MAX)
        return irb_fail(err, IRB_INVALID_ARG, "distributed logistic regression: need an allreduce, names, dim >= 1, "
                        ">= 2 classes (n %zu, dim %d, classes %d)", n, dim, K);
    if (o->C < 0 || !isfinite(o->C) || (o->balanced && o->class_weight))
        return irb_fail(err, IRB_INVALID_ARG, "distributed logistic regression: C must be > 0 (or 0 for CV), got "
                        "%g; balanced and explicit class weights exclude each other", o->C);
    int k = o->cv_folds > 0 ? o->cv_folds : 5;
    if (o->C == 0) {
        if (!o->folds && n)
            return irb_fail(err, IRB_INVALID_ARG, "distributed cross-validation needs the rows' folds");
        for (size_t i = 0; i < n; i++)
            if (o->folds[i] < 0 || o->folds[i] >= k)
                return irb_fail(err, IRB_INVALID_ARG, "distributed cross-validation: fold %d of row %zu outside "
                                "0..%d", o->folds[i], i, k - 1);
        const double *grid;
        int ng;
        IRB_TRY(irb_logreg_grid(o, &grid, &ng, err));
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

irb_status irb_logreg_train_dist(const float *x, size_t n, int dim, const int *y, int K, const char *const *names,
                                 const irb_train_opts *opts, irb_allreduce_fn allreduce, void *user,
                                 irb_classifier_t **out, irb_train_report *rep_out, irb_error *err)
{
    *out = NULL;
    double t0 = now();
    irb_train_opts o = opts ? *opts : (irb_train_opts){.C = 1.0};
    IRB_TRY(check_dist_args(x, n, dim, y, K, names, &o, allreduce, err));
    irb_classifier_t *c = irb_classifier_alloc(K, dim);
    if (!c)
        return irb_fail(err, IRB_NOMEM, "logistic regression: out of memory");
    irb_status s = IRB_OK;
    for (int k = 0; k < K && s == IRB_OK; k++)
        if (!names[k] || !(c->class_name[k] = irb_strdup(names[k])))
            s = irb_fail(err, names[k] ? IRB_NOMEM : IRB_INVALID_ARG, "logistic regression: class name %d", k);
    size_t D = (size_t)dim, M = (size_t)c->M, nvar = M * (D + 1);
    double N = 0;
    double *Z = irb_malloc_array(n ? n : 1, D * sizeof(double)), *L = irb_malloc_array(n ? n : 1, M * sizeof(double));
    double *sw = irb_malloc_array(n ? n : 1, sizeof(double)), *w = irb_calloc(nvar, sizeof(double));
    double *buf = irb_malloc_array(nvar + 1, sizeof(double));
    if (s == IRB_OK && (!Z || !L || !sw || !w || !buf))
        s = irb_fail(err, IRB_NOMEM, "logistic regression: out of memory (%zu rows x %zu)", n, D);
    /* every participant must make the same collective calls, so errors are only acted on after */
    if (s == IRB_OK)
        s = global_weights(y, n, c, &o, allreduce, user, &N, err);
    irb_train_report rep = {0};
    double C = o.C;
    if (s == IRB_OK && C == 0)
        s = choose_C_dist(x, n, dim, y, c, &o, allreduce, user, &rep, &C, err);
    if (s == IRB_OK)
        s = global_scaler(x, n, dim, o.no_standardize, c->mean, c->std, allreduce, user, err);
    if (s == IRB_OK) {
        standardise_rows(x, n, dim, c->mean, c->std, Z);
        double wsum = 0;
        for (size_t i = 0; i < n; i++)
            wsum += (sw[i] = c->class_weight[y[i]]);
        s = global_sum(wsum, &wsum, allreduce, user, err);
        dproblem p = {Z, y, sw, n, dim, K, (int)M, C, 1.0 / (C * (wsum > 0 ? wsum : 1.0)), L, buf,
                      allreduce, user, err, s, 0};
        int r = 0;
        if (s == IRB_OK)
            s = dist_fit(&p, w, o.tol > 0 ? o.tol : 1e-7, o.max_iter > 0 ? o.max_iter : 5000, &r, err);
        if (s == IRB_OK) {
            /* the objective and training accuracy at the solution, summed like the rest */
            double acc[2] = {local_residuals(&p, w), 0};
            /* local_residuals overwrote the logits: recompute them for the argmax */
            const double *b = w + M * D;
            for (size_t i = 0; i < n; i++) {
                double best = -INFINITY;
                int arg = 0;
                for (size_t m = 0; m < M; m++) {
                    double z = b[m];
                    for (size_t j = 0; j < D; j++)
                        z += w[m * D + j] * Z[i * D + j];
                    if (M == 1)
                        arg = z > 0;
                    else if (z > best)
                        best = z, arg = (int)m;
                }
                acc[1] += arg == y[i];
            }
            s = allreduce(user, acc, 2, err);
            double reg = 0;
            for (size_t j = 0; j < M * D; j++)
                reg += w[j] * w[j];
            rep.C = C;
            rep.iterations = p.iters;
            rep.lbfgs_status = r;
            rep.objective = C * acc[0] + 0.5 * reg;
            rep.train_accuracy = acc[1] / (N > 0 ? N : 1);
            memcpy(c->W, w, M * D * sizeof *w);
            memcpy(c->b, w + M * D, M * sizeof *w);
            c->C = C;
        }
    }
    irb_free(Z), irb_free(L), irb_free(sw), irb_free(w), irb_free(buf);
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

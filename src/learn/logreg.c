/* L2 logistic regression as scikit-learn 1.2's LogisticRegression(solver='lbfgs'):
 * binary = one logit (sigmoid), 3+ classes = multinomial softmax; objective
 * C * sum_i s_i * logloss_i + 0.5 * ||W||^2 on standardised features, intercepts free.
 * Minimised with liblbfgs; loss and gradient through two dgemm calls per evaluation. */
#include <cblas.h>
#include <lbfgs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "learn/classifier.h"

/* ---- the objective ------------------------------------------------------------------------ */

typedef struct problem {
    const double *Z;  /* n x D standardised rows */
    const int *y;     /* n labels */
    const double *sw; /* n sample weights */
    size_t n;
    int D, K, M;
    double C;
    double scale;     /* the optimiser sees objective * scale, keeping gradients O(1) */
    double *L;        /* n x M logits, then residuals */
    int evals, iters;
} problem;

static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* Logits into p->L from parameters w = [W (M x D), b (M)]. */
static void logits(const problem *p, const double *w)
{
    const double *b = w + (size_t)p->M * p->D;
    for (size_t i = 0; i < p->n; i++)
        for (int m = 0; m < p->M; m++)
            p->L[i * p->M + m] = b[m];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->n, p->M, p->D, 1.0, p->Z, p->D, w, p->D, 1.0, p->L,
                p->M);
}

/* Turns row i's logits into weighted residuals (prob - onehot) * s_i; returns its log-loss. */
static double residual_row(const problem *p, size_t i)
{
    double *z = p->L + i * p->M, s = p->sw[i];
    int y = p->y[i];
    if (p->M == 1) {
        double t = y == 1, loss = softplus(z[0]) - t * z[0];
        double sig = z[0] >= 0 ? 1.0 / (1.0 + exp(-z[0])) : exp(z[0]) / (1.0 + exp(z[0]));
        z[0] = s * (sig - t);
        return loss;
    }
    double mx = z[0], sum = 0;
    for (int k = 1; k < p->K; k++)
        mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < p->K; k++)
        sum += exp(z[k] - mx);
    double lse = mx + log(sum), loss = lse - z[y];
    for (int k = 0; k < p->K; k++)
        z[k] = s * (exp(z[k] - lse) - (k == y));
    return loss;
}

/* The unscaled objective at w; writes its gradient into g when g != NULL. */
static double objective(problem *p, const double *w, double *g)
{
    size_t MD = (size_t)p->M * p->D;
    logits(p, w);
    double data = 0, reg = 0;
    for (size_t i = 0; i < p->n; i++)
        data += p->sw[i] * residual_row(p, i);
    for (size_t j = 0; j < MD; j++)
        reg += w[j] * w[j];
    if (g) {
        memcpy(g, w, MD * sizeof *g);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->M, p->D, (int)p->n, p->C, p->L, p->M, p->Z, p->D, 1.0,
                    g, p->D);
        for (int m = 0; m < p->M; m++) {
            double sb = 0;
            for (size_t i = 0; i < p->n; i++)
                sb += p->L[i * p->M + m];
            g[MD + m] = p->C * sb;
        }
    }
    return p->C * data + 0.5 * reg;
}

static lbfgsfloatval_t evaluate(void *inst, const lbfgsfloatval_t *w, lbfgsfloatval_t *g, int nvar,
                                lbfgsfloatval_t step)
{
    (void)step;
    problem *p = inst;
    p->evals++;
    double f = objective(p, w, g);
    for (int j = 0; j < nvar; j++)
        g[j] *= p->scale;
    return f * p->scale;
}

/* liblbfgs codes that mean "stopped at a usable point": converged, or the line search could not
 * improve further (rounding at the optimum); liblbfgs keeps the best point in x. */
static int lbfgs_usable(int r)
{
    return r >= 0 || r == LBFGSERR_ROUNDING_ERROR || r == LBFGSERR_MAXIMUMLINESEARCH || r == LBFGSERR_MINIMUMSTEP ||
           r == LBFGSERR_MAXIMUMITERATION || r == LBFGSERR_WIDTHTOOSMALL || r == LBFGSERR_INCREASEGRADIENT ||
           r == LBFGSERR_MAXIMUMSTEP;
}

typedef struct fit_out {
    int iterations;
    int status;
} fit_out;

static int progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g, lbfgsfloatval_t fx,
                    lbfgsfloatval_t xnorm, lbfgsfloatval_t gnorm, lbfgsfloatval_t step, int n, int k, int ls)
{
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)ls;
    ((problem *)inst)->iters = k;
    return 0;
}

void irb_logreg_lbfgs_params(lbfgs_parameter_t *prm, double tol, int max_iter)
{
    lbfgs_parameter_init(prm);
    prm->m = 10;
    prm->epsilon = tol;
    prm->past = 0;
    prm->max_iterations = max_iter;
    prm->max_linesearch = 40;
}

/* Minimises from the starting point in w (warm start); w gets the solution. */
static irb_status fit(problem *p, double *w, int max_iter, double tol, fit_out *out, irb_error *err)
{
    double wsum = 0;
    for (size_t i = 0; i < p->n; i++)
        wsum += p->sw[i];
    p->scale = 1.0 / (p->C * (wsum > 0 ? wsum : 1.0));
    lbfgs_parameter_t prm;
    irb_logreg_lbfgs_params(&prm, tol, max_iter);
    int nvar = p->M * (p->D + 1);
    lbfgsfloatval_t fx;
    p->evals = p->iters = 0;
    int r = lbfgs(nvar, w, &fx, evaluate, progress, p, &prm);
    out->status = r;
    out->iterations = p->iters;
    if (!lbfgs_usable(r))
        return irb_fail(err, r == LBFGSERR_OUTOFMEMORY ? IRB_NOMEM : IRB_INTERNAL,
                        "logistic regression: L-BFGS failed with code %d", r);
    return IRB_OK;
}

/* ---- standardisation and weights -------------------------------------------------------------- */

/* Mean and population std (as sklearn's StandardScaler; std 0 -> 1) of the rows listed in idx. */
static void fit_scaler(const float *x, int D, const size_t *idx, size_t n, double *mean, double *std)
{
    for (int j = 0; j < D; j++)
        mean[j] = std[j] = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = x + idx[i] * (size_t)D;
        for (int j = 0; j < D; j++)
            mean[j] += r[j];
    }
    if (n == 0) { /* identity scaler */
        for (int j = 0; j < D; j++)
            std[j] = 1.0;
        return;
    }
    for (int j = 0; j < D; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        const float *r = x + idx[i] * (size_t)D;
        for (int j = 0; j < D; j++) {
            double d = r[j] - mean[j];
            std[j] += d * d;
        }
    }
    for (int j = 0; j < D; j++) {
        std[j] = sqrt(std[j] / (double)n);
        if (!(std[j] > 1e-12 * (fabs(mean[j]) > 1 ? fabs(mean[j]) : 1)))
            std[j] = 1.0;
    }
}

static void standardise(const float *x, int D, const size_t *idx, size_t n, const double *mean, const double *std,
                        double *Z)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = x + idx[i] * (size_t)D;
        for (int j = 0; j < D; j++)
            Z[i * (size_t)D + j] = ((double)r[j] - mean[j]) / std[j];
    }
}

static irb_status class_weights(const int *y, size_t n, int K, const char *const *names, const irb_train_opts *o,
                                double *cw, irb_error *err)
{
    size_t *count = irb_calloc((size_t)K, sizeof *count);
    if (!count)
        return irb_fail(err, IRB_NOMEM, "logistic regression: out of memory");
    for (size_t i = 0; i < n; i++)
        count[y[i]]++;
    irb_status s = IRB_OK;
    for (int k = 0; k < K && s == IRB_OK; k++) {
        if (!count[k])
            s = irb_fail(err, IRB_INVALID_ARG, "logistic regression: class %d (%s) has no training rows", k, names[k]);
        else if (o->balanced)
            cw[k] = (double)n / ((double)K * (double)count[k]);
        else
            cw[k] = o->class_weight ? o->class_weight[k] : 1.0;
        if (s == IRB_OK && !(cw[k] > 0 && isfinite(cw[k])))
            s = irb_fail(err, IRB_INVALID_ARG, "logistic regression: class weight %d is %g", k, cw[k]);
    }
    irb_free(count);
    return s;
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

const double irb_logreg_default_grid[IRB_LOGREG_DEFAULT_GRID_N] = {1e-4, 3.1622776601683795e-4, 1e-3, 3.1622776601683795e-3, 1e-2,
                                      3.1622776601683795e-2, 1e-1, 3.1622776601683795e-1, 1.0, 3.1622776601683795,
                                      10.0, 31.622776601683795, 100.0};

typedef struct data {
    const float *x;
    const int *y;
    size_t n;
    int D, K, M;
    const double *cw;
    int max_iter;
    double tol, cv_tol;
    int no_std;       /* identity scaler (irb_train_opts.no_standardize) */
} data;

/* Held-out weighted log-loss sum of the rows val (standardised in Zv) under parameters w. */
static double heldout_loss(const data *d, const double *Zv, const size_t *val, size_t nv, const double *w,
                           double *L, const int *yv, const double *swv)
{
    problem p = {Zv, yv, swv, nv, d->D, d->K, d->M, 1.0, 1.0, L, 0, 0};
    (void)val;
    logits(&p, w);
    double sum = 0;
    for (size_t i = 0; i < nv; i++)
        sum += swv[i] * residual_row(&p, i);
    return sum;
}

typedef struct fold_buf {
    size_t *tr, *va;
    double *Ztr, *Zva, *L, *swtr, *swva, *mean, *std, *w;
    int *ytr, *yva;
} fold_buf;

static void fold_buf_free(fold_buf *b)
{
    irb_free(b->tr), irb_free(b->va), irb_free(b->Ztr), irb_free(b->Zva), irb_free(b->L);
    irb_free(b->swtr), irb_free(b->swva), irb_free(b->mean), irb_free(b->std), irb_free(b->w);
    irb_free(b->ytr), irb_free(b->yva);
}

static irb_status run_fold(const data *d, const int *fold, int f, const double *grid, int ng, double *loss,
                           double *wsum, fold_buf *b, irb_error *err)
{
    size_t ntr = 0, nva = 0, D = (size_t)d->D;
    for (size_t i = 0; i < d->n; i++) {
        if (fold[i] == f) {
            b->va[nva] = i, b->yva[nva] = d->y[i], b->swva[nva++] = d->cw[d->y[i]];
        } else {
            b->tr[ntr] = i, b->ytr[ntr] = d->y[i], b->swtr[ntr++] = d->cw[d->y[i]];
        }
    }
    fit_scaler(d->x, d->D, b->tr, d->no_std ? 0 : ntr, b->mean, b->std);
    standardise(d->x, d->D, b->tr, ntr, b->mean, b->std, b->Ztr);
    standardise(d->x, d->D, b->va, nva, b->mean, b->std, b->Zva);
    memset(b->w, 0, (size_t)d->M * (D + 1) * sizeof *b->w);
    for (size_t i = 0; i < nva; i++)
        *wsum += b->swva[i];
    for (int c = 0; c < ng; c++) { /* ascending C, each fit warm-started from the previous */
        problem p = {b->Ztr, b->ytr, b->swtr, ntr, d->D, d->K, d->M, grid[c], 1.0, b->L, 0, 0};
        fit_out fo;
        IRB_TRY(fit(&p, b->w, d->max_iter, d->cv_tol, &fo, err));
        loss[c] += heldout_loss(d, b->Zva, b->va, nva, b->w, b->L, b->yva, b->swva);
    }
    return IRB_OK;
}

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

static irb_status choose_C(const data *d, const irb_train_opts *o, irb_train_report *rep, double *bestC,
                           irb_error *err)
{
    const double *grid;
    int ng, k = o->cv_folds > 0 ? o->cv_folds : 5;
    IRB_TRY(irb_logreg_grid(o, &grid, &ng, err));
    size_t n = d->n, D = (size_t)d->D, M = (size_t)d->M;
    int *fold = irb_malloc_array(n, sizeof *fold), *own = NULL;
    fold_buf b = {0};
    double loss[IRB_CV_GRID_MAX] = {0}, wsum = 0;
    irb_status s = IRB_OK;
    const int *groups = o->groups;
    if (!groups && (own = irb_malloc_array(n, sizeof *own)))
        for (size_t i = 0; i < n; i++)
            own[i] = (int)i;
    b.tr = irb_malloc_array(n, sizeof(size_t)), b.va = irb_malloc_array(n, sizeof(size_t));
    b.Ztr = irb_malloc_array(n, D * sizeof(double)), b.Zva = irb_malloc_array(n, D * sizeof(double));
    b.L = irb_malloc_array(n, M * sizeof(double));
    b.swtr = irb_malloc_array(n, sizeof(double)), b.swva = irb_malloc_array(n, sizeof(double));
    b.ytr = irb_malloc_array(n, sizeof(int)), b.yva = irb_malloc_array(n, sizeof(int));
    b.mean = irb_malloc_array(D, sizeof(double)), b.std = irb_malloc_array(D, sizeof(double));
    b.w = irb_malloc_array(M, (D + 1) * sizeof(double));
    if (!fold || (!groups && !own) || !b.tr || !b.va || !b.Ztr || !b.Zva || !b.L || !b.swtr || !b.swva || !b.ytr ||
        !b.yva || !b.mean || !b.std || !b.w) {
        s = irb_fail(err, IRB_NOMEM, "cross-validation: out of memory (%zu rows x %zu)", n, D);
        goto cleanup;
    }
    if ((s = irb_group_kfold(groups ? groups : own, n, k, fold, err)) != IRB_OK)
        goto cleanup;
    for (int f = 0; f < k && s == IRB_OK; f++)
        s = run_fold(d, fold, f, grid, ng, loss, &wsum, &b, err);
    if (s != IRB_OK)
        goto cleanup;
    int best = 0;
    rep->grid_n = ng;
    for (int c = 0; c < ng; c++) {
        rep->grid[c] = grid[c];
        rep->cv_logloss[c] = loss[c] / wsum;
        if (rep->cv_logloss[c] < rep->cv_logloss[best])
            best = c; /* strict: ties keep the smaller C */
    }
    *bestC = grid[best];
cleanup:
    irb_free(fold);
    irb_free(own);
    fold_buf_free(&b);
    return s;
}

/* ---- training ------------------------------------------------------------------------------- */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static irb_status check_args(const float *x, size_t n, int dim, const int *y, int K, const char *const *names,
                             const irb_train_opts *o, irb_error *err)
{
    if (!x || !y || !names || n == 0 || dim < 1 || dim > IRB_CLF_MAX_DIM || K < 2 || K > IRB_CLF_MAX_CLASSES)
        return irb_fail(err, IRB_INVALID_ARG, "logistic regression: need rows, labels, names, dim >= 1 and >= 2 "
                        "classes (n %zu, dim %d, classes %d)", n, dim, K);
    if (n > (size_t)INT32_MAX)
        return irb_fail(err, IRB_TOO_LARGE, "logistic regression: %zu rows is more than BLAS indexes", n);
    if (o->C < 0 || !isfinite(o->C) || (o->balanced && o->class_weight))
        return irb_fail(err, IRB_INVALID_ARG, "logistic regression: C must be > 0 (or 0 for CV), got %g; "
                        "balanced and explicit class weights exclude each other", o->C);
    for (int k = 0; k < K; k++)
        if (!names[k])
            return irb_fail(err, IRB_INVALID_ARG, "logistic regression: class name %d is NULL", k);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K)
            return irb_fail(err, IRB_INVALID_ARG, "logistic regression: label %d of row %zu outside 0..%d", y[i], i,
                            K - 1);
    for (size_t i = 0; i < n * (size_t)dim; i++)
        if (!isfinite(x[i]))
            return irb_fail(err, IRB_INVALID_ARG, "logistic regression: row %zu has a non-finite value", i / dim);
    return IRB_OK;
}

static irb_status final_fit(const data *d, double C, irb_classifier_t *c, irb_train_report *rep, irb_error *err)
{
    size_t n = d->n, D = (size_t)d->D, M = (size_t)d->M;
    size_t *all = irb_malloc_array(n, sizeof *all);
    double *Z = irb_malloc_array(n, D * sizeof(double)), *L = irb_malloc_array(n, M * sizeof(double));
    double *sw = irb_malloc_array(n, sizeof(double)), *w = irb_calloc(M * (D + 1), sizeof(double));
    irb_status s = IRB_OK;
    if (!all || !Z || !L || !sw || !w) {
        s = irb_fail(err, IRB_NOMEM, "logistic regression: out of memory (%zu rows x %zu)", n, D);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        all[i] = i, sw[i] = d->cw[d->y[i]];
    fit_scaler(d->x, d->D, all, d->no_std ? 0 : n, c->mean, c->std);
    standardise(d->x, d->D, all, n, c->mean, c->std, Z);
    problem p = {Z, d->y, sw, n, d->D, d->K, d->M, C, 1.0, L, 0, 0};
    fit_out fo;
    if ((s = fit(&p, w, d->max_iter, d->tol, &fo, err)) != IRB_OK)
        goto cleanup;
    memcpy(c->W, w, M * D * sizeof *w);
    memcpy(c->b, w + M * D, M * sizeof *w);
    c->C = C;
    rep->C = C;
    rep->iterations = fo.iterations;
    rep->lbfgs_status = fo.status;
    rep->objective = objective(&p, w, NULL);
    size_t right = 0;
    logits(&p, w);
    for (size_t i = 0; i < n; i++) {
        const double *z = L + i * M;
        int arg = 0;
        if (M == 1)
            arg = z[0] > 0;
        else
            for (int k = 1; k < d->K; k++)
                arg = z[k] > z[arg] ? k : arg;
        right += arg == d->y[i];
    }
    rep->train_accuracy = (double)right / (double)n;
cleanup:
    irb_free(all), irb_free(Z), irb_free(L), irb_free(sw), irb_free(w);
    return s;
}

irb_status irb_logreg_train(const float *x, size_t n, int dim, const int *y, int K, const char *const *names,
                            const irb_train_opts *opts, irb_classifier_t **out, irb_train_report *rep_out,
                            irb_error *err)
{
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
    if (s == IRB_OK)
        s = class_weights(y, n, K, names, &o, c->class_weight, err);
    data d = {x, y, n, dim, K, c->M, c->class_weight, o.max_iter > 0 ? o.max_iter : 5000, o.tol > 0 ? o.tol : 1e-7,
              o.cv_tol > 0 ? o.cv_tol : 1e-4, o.no_standardize};
    double C = o.C;
    if (s == IRB_OK && C == 0)
        s = choose_C(&d, &o, &rep, &C, err);
    if (s == IRB_OK)
        s = final_fit(&d, C, c, &rep, err);
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

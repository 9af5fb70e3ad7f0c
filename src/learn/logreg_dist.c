/* Data-parallel logistic regression (the hook behind `irbis-mpi train`, MPI-free): every
 * participant holds some rows; the class counts, the standardisation sums and, at each L-BFGS
 * evaluation, the loss and gradient of its rows are summed across participants through the
 * caller's allreduce. Every participant runs the same L-BFGS on the same sums, so all end with
 * the same model, equal to irb_logreg_train's on all rows up to the order of floating-point sums.
 * The objective and its parameterisation are those of logreg.c (docs/classifier.md). */
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

/* Global class counts, weights (balanced uses the global counts) and the scaler. */
static irb_status global_stats(const float *x, size_t n, int D, const int *y, irb_classifier_t *c, const irb_train_opts *o,
                               irb_allreduce_fn ar, void *user, double *n_all, irb_error *err)
{
    int K = c->K;
    double *s = irb_calloc((size_t)K + 2 * (size_t)D + 1, sizeof *s);
    if (!s)
        return irb_fail(err, IRB_NOMEM, "distributed logistic regression: out of memory");
    for (size_t i = 0; i < n; i++)
        s[y[i]] += 1;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            s[K + j] += x[i * (size_t)D + j];
    irb_status st = ar(user, s, (size_t)K + (size_t)D, err);
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
    for (int j = 0; j < D; j++)
        c->mean[j] = s[K + j] / (N > 0 ? N : 1);
    double *v = s + K + D;
    memset(v, 0, (size_t)D * sizeof *v);
    for (size_t i = 0; st == IRB_OK && i < n; i++)
        for (int j = 0; j < D; j++) {
            double d = x[i * (size_t)D + j] - c->mean[j];
            v[j] += d * d;
        }
    if (st == IRB_OK)
        st = ar(user, v, (size_t)D, err);
    for (int j = 0; st == IRB_OK && j < D; j++) {
        c->std[j] = sqrt(v[j] / N);
        if (!(c->std[j] > 1e-12 * (fabs(c->mean[j]) > 1 ? fabs(c->mean[j]) : 1)))
            c->std[j] = 1.0;
    }
    *n_all = N;
    irb_free(s);
    return st;
}

irb_status irb_logreg_train_dist(const float *x, size_t n, int dim, const int *y, int K, const char *const *names,
                                 const irb_train_opts *opts, irb_allreduce_fn allreduce, void *user,
                                 irb_classifier_t **out, irb_train_report *rep_out, irb_error *err)
{
    *out = NULL;
    double t0 = now();
    irb_train_opts o = opts ? *opts : (irb_train_opts){.C = 1.0};
    if (!allreduce || (n && (!x || !y)) || !names || dim < 1 || dim > IRB_CLF_MAX_DIM || K < 2 ||
        K > IRB_CLF_MAX_CLASSES || n > (size_t)INT32_MAX)
        return irb_fail(err, IRB_INVALID_ARG, "distributed logistic regression: need an allreduce, names, dim >= 1, "
                        ">= 2 classes (n %zu, dim %d, classes %d)", n, dim, K);
    if (!(o.C > 0) || !isfinite(o.C) || (o.balanced && o.class_weight))
        return irb_fail(err, IRB_INVALID_ARG, "distributed logistic regression: needs a given C > 0 (got %g); "
                        "balanced and explicit class weights exclude each other", o.C);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K)
            return irb_fail(err, IRB_INVALID_ARG, "logistic regression: label %d of row %zu outside 0..%d", y[i], i,
                            K - 1);
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
        s = global_stats(x, n, dim, y, c, &o, allreduce, user, &N, err);
    irb_train_report rep = {0};
    if (s == IRB_OK) {
        for (size_t i = 0; i < n; i++) {
            sw[i] = c->class_weight[y[i]];
            for (size_t j = 0; j < D; j++)
                Z[i * D + j] = ((double)x[i * D + j] - c->mean[j]) / c->std[j];
        }
        double wsum[1] = {0};
        for (size_t i = 0; i < n; i++)
            wsum[0] += sw[i];
        s = allreduce(user, wsum, 1, err);
        dproblem p = {Z, y, sw, n, dim, K, (int)M, o.C, 1.0 / (o.C * (wsum[0] > 0 ? wsum[0] : 1.0)), L, buf,
                      allreduce, user, err, s, 0};
        lbfgs_parameter_t prm;
        lbfgs_parameter_init(&prm);
        prm.m = 10;
        prm.epsilon = o.tol > 0 ? o.tol : 1e-7;
        prm.past = 0;
        prm.max_iterations = o.max_iter > 0 ? o.max_iter : 5000;
        prm.max_linesearch = 40;
        lbfgsfloatval_t fx;
        int r = s == IRB_OK ? lbfgs((int)nvar, w, &fx, evaluate, progress, &p, &prm) : 0;
        if (s == IRB_OK && p.failed != IRB_OK)
            s = p.failed;
        else if (s == IRB_OK && !lbfgs_usable(r))
            s = irb_fail(err, r == LBFGSERR_OUTOFMEMORY ? IRB_NOMEM : IRB_INTERNAL,
                         "logistic regression: L-BFGS failed with code %d", r);
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
            rep.C = o.C;
            rep.iterations = p.iters;
            rep.lbfgs_status = r;
            rep.objective = o.C * acc[0] + 0.5 * reg;
            rep.train_accuracy = acc[1] / (N > 0 ? N : 1);
            memcpy(c->W, w, M * D * sizeof *w);
            memcpy(c->b, w + M * D, M * sizeof *w);
            c->C = o.C;
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

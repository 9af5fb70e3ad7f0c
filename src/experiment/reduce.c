/* An exact reduction for logistic regression with many more features than rows (raw pixels:
 * 43,200 features, ~1,500 rows). With an L2 penalty the optimal weights lie in the span of the
 * (standardised) training rows Xs = U S V^T, so writing w = V b turns the problem into the same
 * penalised logistic regression on Z = X V = U S (n x r), with ||w|| = ||b||: the same objective,
 * the same predictions, but each L-BFGS step costs n*r instead of n*d. The Gram matrix Xs Xs^T
 * (BLAS) and its eigen-decomposition (LAPACK dsyev) give U and S; a test row x maps to
 * z = xs Xs^T U S^-1. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "experiment/reduce.h"

/* LAPACK (in OpenBLAS) symmetric eigen-decomposition. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
                   const int *lwork, int *info);

void irb_reduce_release(irb_reduce *r)
{
    if (!r)
        return;
    irb_free(r->mean);
    irb_free(r->std);
    irb_free(r->xs);
    irb_free(r->proj);
    memset(r, 0, sizeof *r);
}

static void standardise_rows(float *x, size_t n, size_t d, const double *mean, const double *std)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float)((x[i * d + j] - mean[j]) / std[j]);
}

/* Mean and population std of the columns (std 0 -> 1), as the classifier would standardise. */
static void column_stats(const float *x, size_t n, size_t d, double *mean, double *std)
{
    memset(mean, 0, d * sizeof *mean);
    memset(std, 0, d * sizeof *std);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mean[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double v = x[i * d + j] - mean[j];
            std[j] += v * v;
        }
    for (size_t j = 0; j < d; j++) {
        std[j] = sqrt(std[j] / (double)n);
        if (!(std[j] > 1e-12))
            std[j] = 1.0;
    }
}

/* Eigen-decomposition of the n x n Gram matrix g (overwritten by eigenvectors, column-major
 * = row-major of the symmetric input); eigenvalues ascending into w. */
static irb_status eigen(double *g, int n, double *w, irb_error *err)
{
    int lwork = -1, info = 0;
    double q;
    dsyev_("V", "U", &n, g, &n, w, &q, &lwork, &info);
    lwork = (int)q;
    double *work = irb_malloc_array((size_t)lwork, sizeof *work);
    if (!work)
        return irb_fail(err, IRB_NOMEM, "reduction: out of memory");
    dsyev_("V", "U", &n, g, &n, w, work, &lwork, &info);
    irb_free(work);
    if (info != 0)
        return irb_fail(err, IRB_INTERNAL, "reduction: LAPACK dsyev failed (info %d)", info);
    return IRB_OK;
}

irb_status irb_reduce_fit(float *x, size_t n, size_t d, irb_reduce *r, float **z_out, irb_error *err)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->d = d;
    r->mean = irb_malloc_array(d, sizeof *r->mean);
    r->std = irb_malloc_array(d, sizeof *r->std);
    float *gf = irb_malloc_array(n, n * sizeof(float));
    double *g = irb_malloc_array(n, n * sizeof(double));
    double *w = irb_malloc_array(n, sizeof(double));
    irb_status s = IRB_OK;
    if (!r->mean || !r->std || !gf || !g || !w) {
        s = irb_fail(err, IRB_NOMEM, "reduction: out of memory for %zu x %zu", n, d);
        goto cleanup;
    }
    column_stats(x, n, d, r->mean, r->std);
    standardise_rows(x, n, d, r->mean, r->std);
    r->xs = x; /* taken over */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)d, 1.0f, x, (int)d, x, (int)d, 0.0f, gf,
                (int)n);
    for (size_t i = 0; i < n * n; i++)
        g[i] = gf[i];
    if ((s = eigen(g, (int)n, w, err)) != IRB_OK)
        goto cleanup;
    /* g now holds eigenvectors as columns in column-major order: vector k is g[k*n .. k*n+n) */
    double top = w[n - 1] > 0 ? w[n - 1] : 1;
    size_t rank = 0;
    for (size_t k = 0; k < n; k++)
        rank += w[k] > 1e-9 * top;
    r->r = rank ? rank : 1;
    r->proj = irb_malloc_array(n, r->r * sizeof(float));
    float *z = irb_malloc_array(n, r->r * sizeof(float));
    if (!r->proj || !z) {
        irb_free(z);
        s = irb_fail(err, IRB_NOMEM, "reduction: out of memory");
        goto cleanup;
    }
    for (size_t c = 0; c < r->r; c++) {
        size_t k = n - 1 - c; /* largest eigenvalues first */
        double sv = sqrt(w[k] > 0 ? w[k] : 0);
        for (size_t i = 0; i < n; i++) {
            double u = g[k * n + i];
            z[i * r->r + c] = (float)(u * sv);
            r->proj[i * r->r + c] = (float)(sv > 0 ? u / sv : 0);
        }
    }
    *z_out = z;
cleanup:
    irb_free(gf);
    irb_free(g);
    irb_free(w);
    return s;
}

irb_status irb_reduce_apply(const irb_reduce *r, float *x, size_t m, float *z, irb_error *err)
{
    float *k = irb_malloc_array(m, r->n * sizeof(float));
    if (!k)
        return irb_fail(err, IRB_NOMEM, "reduction: out of memory");
    standardise_rows(x, m, r->d, r->mean, r->std);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)r->n, (int)r->d, 1.0f, x, (int)r->d, r->xs,
                (int)r->d, 0.0f, k, (int)r->n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)r->r, (int)r->n, 1.0f, k, (int)r->n, r->proj,
                (int)r->r, 0.0f, z, (int)r->r);
    irb_free(k);
    return IRB_OK;
}

/* w . z with z = xs Xs^T proj is (w proj^T Xs) . xs: the classifier on reduced rows as one on
 * the standardised features, A = Xs^T proj (d x r) computed in double precision. */
irb_status irb_reduce_unfold(const irb_reduce *r, const irb_classifier_t *clf, irb_classifier_t **out, irb_error *err)
{
    *out = NULL;
    if (clf->D != (int)r->r)
        return irb_fail(err, IRB_INTERNAL, "reduction: the classifier has %d features, the reduction %zu", clf->D,
                        r->r);
    double *a = irb_calloc(r->d * r->r, sizeof *a);
    irb_classifier_t *c = irb_classifier_alloc(clf->K, (int)r->d);
    irb_status s = IRB_OK;
    if (!a || !c) {
        s = irb_fail(err, IRB_NOMEM, "reduction: out of memory unfolding %zu x %zu", r->d, r->r);
        goto done;
    }
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->d; j++) {
            double x = r->xs[i * r->d + j];
            for (size_t k = 0; k < r->r; k++)
                a[j * r->r + k] += x * r->proj[i * r->r + k];
        }
    c->C = clf->C;
    for (int k = 0; k < clf->K && s == IRB_OK; k++) {
        c->class_weight[k] = clf->class_weight[k];
        if (!(c->class_name[k] = irb_strdup(clf->class_name[k])))
            s = irb_fail(err, IRB_NOMEM, "reduction: out of memory");
    }
    memcpy(c->mean, r->mean, r->d * sizeof *c->mean);
    memcpy(c->std, r->std, r->d * sizeof *c->std);
    for (int m = 0; m < c->M; m++) {
        c->b[m] = clf->b[m];
        for (size_t j = 0; j < r->d; j++) {
            double w = 0;
            for (size_t k = 0; k < r->r; k++)
                w += clf->W[(size_t)m * r->r + k] * a[j * r->r + k];
            c->W[(size_t)m * r->d + j] = w;
        }
    }
done:
    irb_free(a);
    if (s != IRB_OK) {
        irb_classifier_free(c);
        return s;
    }
    *out = c;
    return IRB_OK;
}

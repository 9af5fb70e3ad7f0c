/* The novelty model of a pipeline (include/irbis/pipeline.h, docs/pipeline.md): cosine
 * distance to the nearest training image, with a threshold from held-out scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/learn.h"
#include "irbis/pipeline.h"

void irb_novelty_free(irb_novelty *nv)
{
    if (!nv)
        return;
    irb_free(nv->rows);
    irb_free(nv);
}

/* dst = src / |src| (a zero row stays zero), in double for the norm. */
static void normalise(const float *src, int dim, float *dst)
{
    double ss = 0;
    for (int j = 0; j < dim; j++)
        ss += (double)src[j] * src[j];
    double inv = ss > 0 ? 1 / sqrt(ss) : 0;
    for (int j = 0; j < dim; j++)
        dst[j] = (float)(src[j] * inv);
}

/* The dot products of x with up to 8 rows r[0..k-1], each summed in double in index order
 * (the same sums as one row at a time), interleaved so the 8 chains of additions overlap. */
static void dots8(const float *x, int dim, const float *const *r, int k, double *dot)
{
    double a[8] = {0};
    const float *rr[8];
    for (int q = 0; q < 8; q++)
        rr[q] = r[q < k ? q : 0];
    for (int j = 0; j < dim; j++) {
        double xj = x[j];
        for (int q = 0; q < 8; q++)
            a[q] += xj * rr[q][j];
    }
    for (int q = 0; q < k; q++)
        dot[q] = a[q];
}

/* 1 - the largest cosine between x (any norm) and the rows t[i] for which use(i) (all when
 * fold is NULL, else fold[i] != skip), kept in [0, 2] against rounding. 1 when there is no such
 * row or x is zero. */
static double nearest(const float *x, int dim, const float *t, size_t n, const int *fold, int skip)
{
    double ss = 0;
    for (int j = 0; j < dim; j++)
        ss += (double)x[j] * x[j];
    if (!(ss > 0))
        return 1;
    double best = -INFINITY, dot[8];
    const float *r[8];
    int k = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !(fold && fold[i] == skip))
            r[k++] = t + i * (size_t)dim;
        if (k == 8 || (i == n && k > 0)) {
            dots8(x, dim, r, k, dot);
            for (int q = 0; q < k; q++)
                best = dot[q] > best ? dot[q] : best;
            k = 0;
        }
    }
    double d = best == -INFINITY ? 1 : 1 - best / sqrt(ss);
    return d < 0 ? 0 : d > 2 ? 2 : d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of v[0..n) by linear interpolation between order statistics (numpy's default). */
static double quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_double);
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (h - (double)lo) * (v[hi] - v[lo]);
}

irb_status irb_novelty_fit(const float *x, size_t n, int dim, const int *groups, int folds, double q, int part,
                           double *held_out, irb_novelty **out, irb_error *err)
{
    *out = NULL;
    if (!x || n < 2 || dim < 1 || folds < 2 || !(q > 0 && q <= 1) || part < 0)
        return irb_fail(err, IRB_INVALID_ARG,
                        "novelty: need 2 rows or more, 2 folds or more and a quantile in (0, 1] "
                        "(%zu rows, %d folds, quantile %g)",
                        n, folds, q);
    irb_novelty *nv = irb_calloc(1, sizeof *nv);
    int *fold = irb_malloc_array(n, sizeof *fold), *own = groups ? NULL : irb_malloc_array(n, sizeof *own);
    double *sc = irb_malloc_array(n, sizeof *sc);
    irb_status s = IRB_OK;
    if (!nv || !fold || !sc || (!groups && !own) || !(nv->rows = irb_malloc_array(n, (size_t)dim * sizeof(float))))
        s = irb_fail(err, IRB_NOMEM, "novelty: out of memory for %zu rows of %d", n, dim);
    for (size_t i = 0; s == IRB_OK && !groups && i < n; i++)
        own[i] = (int)i;
    if (s == IRB_OK)
        s = irb_group_kfold(groups ? groups : own, n, folds, fold, err);
    if (s == IRB_OK) {
        nv->part = part, nv->dim = dim, nv->n = n, nv->quantile = q;
        for (size_t i = 0; i < n; i++)
            normalise(x + i * (size_t)dim, dim, nv->rows + i * (size_t)dim);
        for (size_t i = 0; i < n; i++)
            sc[i] = nearest(x + i * (size_t)dim, dim, nv->rows, n, fold, fold[i]);
        if (held_out)
            memcpy(held_out, sc, n * sizeof *sc);
        nv->threshold = quantile(sc, n, q);
    }
    irb_free(fold), irb_free(own), irb_free(sc);
    if (s != IRB_OK) {
        irb_novelty_free(nv);
        return s;
    }
    *out = nv;
    return IRB_OK;
}

irb_status irb_novelty_score(const irb_novelty *nv, const float *x, size_t n, int dim, double *score, irb_error *err)
{
    if (!nv || (!x && n) || !score)
        return irb_fail(err, IRB_INVALID_ARG, "novelty_score: NULL argument");
    if (dim != nv->dim)
        return irb_fail(err, IRB_MISMATCH, "novelty: rows of %d features, the model's have %d", dim, nv->dim);
    for (size_t i = 0; i < n; i++)
        score[i] = nearest(x + i * (size_t)dim, dim, nv->rows, nv->n, NULL, 0);
    return IRB_OK;
}

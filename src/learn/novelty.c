/* The novelty model of a pipeline (include/irbis/pipeline.h, docs/pipeline.md): cosine
 * distance to the nearest training image, with a threshold from held-out scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
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

/* ---- nearest training row, for blocks of queries (docs/pipeline.md, "Uncertain and novel
 * images"). A query's dot product with a row is summed in NV_L float lanes (lane l takes the
 * features j with j % NV_L == l, in order, a product then a sum, never fused), the lanes are
 * added in double in one fixed tree, and the features past the last whole group of NV_L are
 * added after, in double, in order. Every (query, row) pair is summed the same way whatever
 * block or tile it is in, so a score never depends on which images were scored together (a
 * resumed classify writes the same bytes); the largest cosine is exact in any order. The same
 * loop is compiled for AVX-512, AVX2 and plain x86-64 and picked at run time: ISO C does not
 * contract a * b + c into one rounding (-ffp-contract=off), so the three give the same bits. */

#define NV_L 16 /* lanes */
#define NV_Q 8  /* queries per block */

typedef struct nv_block {
    const float *xq; /* NV_Q queries x dim; unused slots are zero */
    int dim;
    const float *rows; /* normalised training rows */
    size_t n;
    const int *fold; /* NULL, or per row: rows of query q's own fold (skip[q]) are left out */
    const int *skip;
    double *best; /* per query: the largest dot product, -INFINITY when no row was used */
} nv_block;

typedef float nv_vec __attribute__((vector_size(NV_L * sizeof(float))));

static inline __attribute__((always_inline)) void nv_body(const nv_block *b)
{
    int dim = b->dim, whole = dim / NV_L * NV_L;
    for (size_t r = 0; r < b->n; r++) {
        const float *t = b->rows + r * (size_t)dim;
        nv_vec a[NV_Q];
#pragma GCC unroll 8
        for (int q = 0; q < NV_Q; q++)
            a[q] = (nv_vec){0};
        for (int j = 0; j < whole; j += NV_L) {
            nv_vec tv;
            memcpy(&tv, t + j, sizeof tv);
#pragma GCC unroll 8
            for (int q = 0; q < NV_Q; q++) {
                nv_vec xv;
                memcpy(&xv, b->xq + (size_t)q * dim + j, sizeof xv);
                a[q] += xv * tv;
            }
        }
        for (int q = 0; q < NV_Q; q++) {
            if (b->fold && b->fold[r] == b->skip[q])
                continue;
            double v[NV_L];
            for (int l = 0; l < NV_L; l++)
                v[l] = a[q][l];
            for (int w = NV_L / 2; w > 0; w /= 2) /* a fixed tree: lane l += lane l + w */
                for (int l = 0; l < w; l++)
                    v[l] += v[l + w];
            double d = v[0];
            for (int j = whole; j < dim; j++)
                d += (double)b->xq[(size_t)q * dim + j] * t[j];
            b->best[q] = d > b->best[q] ? d : b->best[q];
        }
    }
}

typedef void nv_fn(const nv_block *b);

static void nv_base(const nv_block *b) { nv_body(b); }

#if IRB_X86
__attribute__((target("avx2"))) static void nv_avx2(const nv_block *b) { nv_body(b); }
__attribute__((target("avx512f"))) static void nv_avx512(const nv_block *b) { nv_body(b); }
#endif

static nv_fn *nv_pick(void)
{
#if IRB_X86
    int level = irb_cpu_simd();
    if (level >= IRB_SIMD_AVX512)
        return nv_avx512;
    if (level == IRB_SIMD_AVX2)
        return nv_avx2;
#endif
    return nv_base;
}

/* Rows per tile: a tile (NV_R x 1280 floats, 320 KiB) stays in the L2 cache while every block
 * of queries runs over it, so the rows come from memory once per call, not once per block. */
#define NV_R 64

/* dist[i] = 1 - the largest cosine between query x[i] (any norm) and the rows t[r] (normalised)
 * for which fold[r] != own[i] (all rows when fold is NULL), kept in [0, 2] against rounding; 1
 * when there is no such row or the query is zero. 0 when out of memory. */
static int nearest(const float *x, size_t nq, int dim, const float *t, size_t n, const int *fold, const int *own,
                   double *dist)
{
    nv_fn *fn = nv_pick();
    size_t nb = (nq + NV_Q - 1) / NV_Q * NV_Q, last = nq / NV_Q * NV_Q; /* queries padded; the partial block */
    double *best = irb_malloc_array(nb, sizeof *best);
    int *skip = irb_malloc_array(nb, sizeof *skip);
    float *pad = irb_calloc((size_t)NV_Q * (size_t)dim, sizeof *pad);
    if (!best || !skip || !pad) {
        irb_free(best), irb_free(skip), irb_free(pad);
        return 0;
    }
    memcpy(pad, x + last * (size_t)dim, (nq - last) * (size_t)dim * sizeof *pad);
    for (size_t i = 0; i < nb; i++)
        best[i] = -INFINITY, skip[i] = fold && i < nq ? own[i] : -1;
    for (size_t r0 = 0; r0 < n; r0 += NV_R)
        for (size_t i0 = 0; i0 < nq; i0 += NV_Q) {
            nv_block b = {i0 < last ? x + i0 * (size_t)dim : pad,
                          dim,
                          t + r0 * (size_t)dim,
                          n - r0 < NV_R ? n - r0 : NV_R,
                          fold ? fold + r0 : NULL,
                          skip + i0,
                          best + i0};
            fn(&b);
        }
    for (size_t i = 0; i < nq; i++) {
        double ss = 0;
        for (int j = 0; j < dim; j++)
            ss += (double)x[i * dim + j] * x[i * dim + j];
        double d = !(ss > 0) || best[i] == -INFINITY ? 1 : 1 - best[i] / sqrt(ss);
        dist[i] = d < 0 ? 0 : d > 2 ? 2 : d;
    }
    irb_free(best), irb_free(skip), irb_free(pad);
    return 1;
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
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_novelty_fit: NULL out");
    *out = NULL;
    if (!x || n < 2 || dim < 1 || folds < 2 || !(q > 0 && q <= 1) || part < 0)
        return irb_fail(err, IRB_INVALID_ARG,
                        "novelty: need 2 rows or more, 2 folds or more and a quantile in (0, 1] "
                        "(%zu rows, %d folds, quantile %g)",
                        n, folds, q);
    IRB_TRY(irb_check_rows(n, (size_t)dim, sizeof(float), "novelty", err));
    for (size_t i = 0; i < n * (size_t)dim; i++) /* as training refuses them (a threshold of 1 came out) */
        if (!isfinite(x[i]))
            return irb_fail(err, IRB_INVALID_ARG, "novelty: row %zu has a non-finite value", i / (size_t)dim);
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
        if (!nearest(x, n, dim, nv->rows, n, fold, fold, sc))
            s = irb_fail(err, IRB_NOMEM, "novelty: out of memory for %zu rows of %d", n, dim);
    }
    if (s == IRB_OK) {
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
    IRB_TRY(irb_check_rows(n, (size_t)dim, sizeof(float), "novelty", err));
    if (!n)
        return IRB_OK;
    if (!nearest(x, n, dim, nv->rows, nv->n, NULL, NULL, score))
        return irb_fail(err, IRB_NOMEM, "novelty: out of memory scoring %zu rows", n);
    return IRB_OK;
}

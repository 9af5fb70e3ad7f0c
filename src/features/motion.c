/* Temporal-context ("motion") features (docs/experiment.md, row M): what in a frame is not in
 * the frames shot just before and after it by the same camera. For image i and each position p
 * of the CNN's last spatial map (C x H x W), d_j(p) is the Euclidean distance over the C channels
 * between i's map and neighbour j's at p; m(p) is the smaller over the neighbours (a change both
 * neighbours show: something in this frame that is in neither). The features are the maximum,
 * the 99th, 95th, 90th, 75th and 50th percentiles and the mean of m over the H x W positions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/error.h"
#include "features/features.h"
#include "features/simd.h"

static int cmp_float_asc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void irb_sort_floats(float *v, size_t n) { qsort(v, n, sizeof *v, cmp_float_asc); }

float irb_percentile_sorted(const float *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    return lo + 1 < n ? (float)(v[lo] + (v[lo + 1] - v[lo]) * frac) : v[lo];
}

/* acc[p] += (a[c][p] - b[c][p])^2 over the channels, in channel order; each position's sum is
 * its own, so the vector builds (several positions per instruction) give the same bits. */
#define MOTION_DIST_BODY                                                                                               \
    memset(acc, 0, positions * sizeof *acc);                                                                           \
    for (int c = 0; c < channels; c++) {                                                                               \
        const float *x = a + (size_t)c * positions, *y = b + (size_t)c * positions;                                    \
        for (size_t p = 0; p < positions; p++) {                                                                       \
            double d = (double)x[p] - (double)y[p];                                                                    \
            acc[p] += d * d;                                                                                           \
        }                                                                                                              \
    }                                                                                                                  \
    for (size_t p = 0; p < positions; p++)                                                                             \
        dist[p] = (float)sqrt(acc[p]);

static void dist_portable(const float *a, const float *b, int channels, size_t positions, double *acc, float *dist)
{
    MOTION_DIST_BODY
}

#if IRB_X86
__attribute__((target("avx512f"))) static void dist_avx512(const float *a, const float *b, int channels,
                                                           size_t positions, double *acc, float *dist)
{
    MOTION_DIST_BODY
}
#endif

void motion_dist(const float *a, const float *b, int channels, size_t positions, double *acc, float *dist)
{
#if IRB_X86
    if (irb_cpu_simd() >= IRB_SIMD_AVX512) {
        dist_avx512(a, b, channels, positions, acc, dist);
        return;
    }
#endif
    dist_portable(a, b, channels, positions, acc, dist);
}

/* dist[p] for H x W x C maps: position p's channels are side by side, its sum taken over them
 * in channel order as above (the same bits). */
static void dist_hwc_portable(const float *a, const float *b, int channels, size_t positions, size_t p, float *dist)
{
    for (; p < positions; p++) {
        const float *x = a + p * (size_t)channels, *y = b + p * (size_t)channels;
        double sum = 0;
        for (int c = 0; c < channels; c++) {
            double d = (double)x[c] - (double)y[c];
            sum += d * d;
        }
        dist[p] = (float)sqrt(sum);
    }
}

#if IRB_X86
/* 8 positions at a time: 8 channels of each loaded as rows and transposed (irb_transpose8), so
 * that each channel's 8 values add to the 8 positions' sums in channel order. Returns the
 * positions done (a multiple of 8). */
__attribute__((target("avx512f"))) static size_t dist_hwc_avx512(const float *a, const float *b, int channels,
                                                                 size_t positions, float *dist)
{
    size_t C = (size_t)channels, p = 0;
    for (; p + 8 <= positions; p += 8) {
        __m512d sum = _mm512_setzero_pd();
        size_t c = 0;
        for (; c + 8 <= C; c += 8) {
            __m256 x[8], y[8];
            for (int k = 0; k < 8; k++) {
                x[k] = _mm256_loadu_ps(a + (p + (size_t)k) * C + c);
                y[k] = _mm256_loadu_ps(b + (p + (size_t)k) * C + c);
            }
            irb_transpose8(x);
            irb_transpose8(y);
            for (int k = 0; k < 8; k++) {
                __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(x[k]), _mm512_cvtps_pd(y[k]));
                sum = _mm512_add_pd(sum, _mm512_mul_pd(d, d));
            }
        }
        double s[8];
        _mm512_storeu_pd(s, sum);
        for (int k = 0; k < 8; k++) {
            const float *x = a + (p + (size_t)k) * C, *y = b + (p + (size_t)k) * C;
            for (size_t t = c; t < C; t++) {
                double d = (double)x[t] - (double)y[t];
                s[k] += d * d;
            }
            dist[p + (size_t)k] = (float)sqrt(s[k]);
        }
    }
    return p;
}
#endif

void motion_dist_hwc(const float *a, const float *b, int channels, size_t positions, float *dist)
{
    size_t p = 0;
#if IRB_X86
    if (irb_cpu_simd() >= IRB_SIMD_AVX512)
        p = dist_hwc_avx512(a, b, channels, positions, dist);
#endif
    dist_hwc_portable(a, b, channels, positions, p, dist);
}

void motion_from_dist(const float *dprev, const float *dnext, size_t positions, float *m, float out[MOTION_DIM])
{
    const float *d[2] = {dprev, dnext};
    for (size_t p = 0; p < positions; p++)
        m[p] = INFINITY;
    for (int j = 0; j < 2; j++)
        for (size_t p = 0; d[j] && p < positions; p++)
            m[p] = fminf(m[p], d[j][p]);
    double sum = 0;
    for (size_t p = 0; p < positions; p++) {
        if (!dprev && !dnext)
            m[p] = 0; /* no neighbour: no change seen */
        sum += m[p];
    }
    irb_sort_floats(m, positions);
    static const double q[MOTION_DIM - 1] = {1.0, 0.99, 0.95, 0.90, 0.75, 0.50};
    for (int k = 0; k < MOTION_DIM - 1; k++)
        out[k] = irb_percentile_sorted(m, positions, q[k]);
    out[MOTION_DIM - 1] = (float)(sum / (double)positions);
}

void motion_stats(const float *map, const float *prev, const float *next, int channels, size_t positions, double *acc,
                  float *m, float *dist, float out[MOTION_DIM])
{
    if (prev)
        motion_dist(map, prev, channels, positions, acc, dist);
    if (next)
        motion_dist(map, next, channels, positions, acc, dist + positions);
    motion_from_dist(prev ? dist : NULL, next ? dist + positions : NULL, positions, m, out);
}

/* ---- streaming the maps in neighbour order ------------------------------------------------- */

/* The last three maps received (a ring): the middle one is finished when the next arrives. */
struct motion_stream {
    size_t dim, positions;
    int channels;
    int channels_last; /* maps are H x W x C */
    float *buf[3];
    long who[3]; /* image index held, -1 none */
    int valid[3];
    irb_error why[3];
    size_t seen; /* maps received */
    const long *prev, *next;
    const long *want_k; /* image index -> its index in the want list, -1 when not wanted */
    const size_t *list; /* the images fed, in neighbour order */
    irb_extract_fn fn;
    void *ctx;
    double *acc;
    float *m;
    /* distances from an image to its previous and next neighbour; the next one's is kept as
     * `carry` for the image after, whose previous neighbour is this image (the distance is the
     * same both ways, bit for bit: (x - y)^2 = (y - x)^2), so each pair is computed once */
    float *dist[2], *carry;
    long carry_from, carry_to; /* carry: the distance between these two images; -1 none */
};

static void stream_dist(motion_stream *r, const float *a, const float *b, float *dist)
{
    if (r->channels_last)
        motion_dist_hwc(a, b, r->channels, r->positions, dist);
    else
        motion_dist(a, b, r->channels, r->positions, r->acc, dist);
}

static void finish(motion_stream *r, int s)
{
    long w = r->who[s];
    if (w < 0 || r->want_k[w] < 0)
        return;
    if (!r->valid[s]) {
        r->fn(r->ctx, (size_t)r->want_k[w], 0, NULL, MOTION_DIM, &r->why[s]);
        return;
    }
    const float *nb[2] = {NULL, NULL};
    const long want_nb[2] = {r->prev[w], r->next[w]};
    for (int j = 0; j < 2; j++)
        for (int t = 0; t < 3; t++)
            if (want_nb[j] >= 0 && r->who[t] == want_nb[j] && r->valid[t])
                nb[j] = r->buf[t];
    float out[MOTION_DIM], *d[2] = {NULL, NULL};
    if (nb[0] && r->carry_from == want_nb[0] && r->carry_to == w) {
        d[0] = r->carry;
    } else if (nb[0]) {
        d[0] = r->dist[0];
        stream_dist(r, r->buf[s], nb[0], d[0]);
    }
    if (nb[1]) {
        d[1] = r->dist[1];
        stream_dist(r, r->buf[s], nb[1], d[1]);
    }
    motion_from_dist(d[0], d[1], r->positions, r->m, out);
    r->carry_from = r->carry_to = -1;
    if (d[1]) { /* the next image's distance to its previous one */
        float *t = r->carry;
        r->carry = r->dist[1], r->dist[1] = t;
        r->carry_from = w, r->carry_to = want_nb[1];
    }
    r->fn(r->ctx, (size_t)r->want_k[w], 0, out, MOTION_DIM, &r->why[s]);
}

void motion_stream_free(motion_stream *r)
{
    if (!r)
        return;
    irb_free(r->acc);
    irb_free(r->m);
    irb_free(r->dist[0]), irb_free(r->dist[1]), irb_free(r->carry);
    irb_free(r->buf[0]); /* the three maps are one block */
    irb_free(r);
}

irb_status motion_stream_new(size_t dim, int channels, int channels_last, motion_stream **out, irb_error *err)
{
    *out = NULL;
    if (channels <= 0 || dim % (size_t)channels)
        return irb_fail(err, IRB_INVALID_ARG, "motion features: a %zu-value map is not %d channels", dim, channels);
    motion_stream *r = irb_calloc(1, sizeof *r);
    if (!r)
        return irb_fail(err, IRB_NOMEM, "motion features: out of memory");
    r->dim = dim;
    r->channels = channels;
    r->channels_last = channels_last;
    r->positions = dim / (size_t)channels;
    r->acc = irb_malloc_array(r->positions, sizeof *r->acc);
    r->m = irb_malloc_array(r->positions, sizeof *r->m);
    r->dist[0] = irb_malloc_array(r->positions, sizeof(float));
    r->dist[1] = irb_malloc_array(r->positions, sizeof(float));
    r->carry = irb_malloc_array(r->positions, sizeof(float));
    r->carry_from = r->carry_to = -1;
    /* the three maps in one block, on huge pages when it is large enough (alloc.h): a 576 map is
     * 1.7 MB, and first touching it 4 KiB at a time was a tenth of a short run's page faults */
    if ((r->buf[0] = irb_malloc_large(dim, 3 * sizeof(float))))
        r->buf[1] = r->buf[0] + dim, r->buf[2] = r->buf[1] + dim;
    if (!r->acc || !r->m || !r->dist[0] || !r->dist[1] || !r->carry || !r->buf[0]) {
        motion_stream_free(r);
        return irb_fail(err, IRB_NOMEM, "motion features: out of memory");
    }
    *out = r;
    return IRB_OK;
}

void motion_stream_begin(motion_stream *r, const long *prev, const long *next, const long *want_k, const size_t *list,
                         irb_extract_fn fn, void *ctx)
{
    r->prev = prev, r->next = next, r->want_k = want_k, r->list = list;
    r->fn = fn, r->ctx = ctx;
    r->seen = 0;
    r->carry_from = r->carry_to = -1;
    for (int t = 0; t < 3; t++)
        r->who[t] = -1, r->valid[t] = 0;
}

void motion_stream_feed(motion_stream *r, size_t k, const float *row, size_t dim, const irb_error *e)
{
    int s = (int)(r->seen % 3);
    r->who[s] = (long)r->list[k];
    r->valid[s] = row != NULL && dim == r->dim;
    if (r->valid[s])
        memcpy(r->buf[s], row, dim * sizeof(float));
    if (e)
        irb_error_copy(&r->why[s], e);
    else
        memset(&r->why[s], 0, sizeof r->why[s]);
    r->seen++;
    if (r->seen >= 2) /* the one before this is complete: its neighbours are this and the one before it */
        finish(r, (int)((r->seen - 2) % 3));
}

void motion_stream_end(motion_stream *r)
{
    if (r->seen >= 1)
        finish(r, (int)((r->seen - 1) % 3));
}

static void on_map(void *ctx, size_t k, int flipped, const float *row, size_t dim, const irb_error *e)
{
    (void)flipped;
    motion_stream_feed(ctx, k, row, dim, e);
}

/* Each wanted image with its neighbours, in neighbour order (neighbours are adjacent in that
 * order, so the list stays sorted): list[0..*n_list), want_k[image] = its index in want or -1. */
static void motion_list(const long *prev, const long *next, size_t n_all, const size_t *want, size_t n_want,
                        long *want_k, uint8_t *listed, size_t *list, size_t *n_list)
{
    *n_list = 0;
    for (size_t i = 0; i < n_all; i++)
        want_k[i] = -1;
    for (size_t k = 0; k < n_want; k++) {
        size_t w = want[k];
        want_k[w] = (long)k;
        long three[3] = {prev[w], (long)w, next[w]};
        for (int j = 0; j < 3; j++)
            if (three[j] >= 0 && !listed[three[j]]) {
                listed[three[j]] = 1;
                list[(*n_list)++] = (size_t)three[j];
            }
    }
}

irb_status motion_extract(irb_net_t *net, const irb_extract_opts *eo, const char *const *paths, size_t n_all,
                          const long *prev, const long *next, int channels, const size_t *want, size_t n_want,
                          irb_extract_fn fn, void *ctx, irb_error *err)
{
    motion_stream *r = NULL;
    IRB_TRY(motion_stream_new(irb_net_output_size(net), channels, irb_net_channels_last(net), &r, err));
    long *want_k = irb_malloc_array(n_all ? n_all : 1, sizeof *want_k);
    size_t *list = irb_malloc_array(3 * n_want + 1, sizeof *list);
    uint8_t *listed = irb_calloc(n_all ? n_all : 1, 1);
    const char **sub = irb_malloc_array(3 * n_want + 1, sizeof *sub);
    irb_status s = IRB_OK;
    if (!want_k || !list || !listed || !sub)
        s = irb_fail(err, IRB_NOMEM, "motion features: out of memory");
    if (s == IRB_OK) {
        size_t n_list = 0;
        motion_list(prev, next, n_all, want, n_want, want_k, listed, list, &n_list);
        for (size_t k = 0; k < n_list; k++)
            sub[k] = paths[list[k]];
        motion_stream_begin(r, prev, next, want_k, list, fn, ctx);
        irb_extract_opts o = *eo;
        o.flip = 0;
        s = irb_extract(net, sub, n_list, &o, on_map, r, err);
        if (s == IRB_OK)
            motion_stream_end(r);
    }
    irb_free(want_k);
    irb_free(list);
    irb_free(listed);
    irb_free(sub);
    motion_stream_free(r);
    return s;
}

/* Separable antialiased resampling with PIL's arithmetic (Image.resize on 8-bit images):
 * for each output pixel a kernel centred on its source position, with support widened by the
 * downscale factor; weights normalised, turned into 22-bit fixed point, accumulated from a
 * rounding bias of 1/2, shifted and clamped. Horizontal pass first (only over the rows the
 * vertical pass needs), then vertical, each rounding to 8 bits in between like PIL. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/error.h"
#include "image/internal.h"

#define PRECISION 22

typedef struct {
    int ksize;
    int *bounds; /* per output pixel: first source index, count */
    int32_t *k;  /* per output pixel: ksize fixed-point weights */
} kernel;

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

static void kernel_free(kernel *kn)
{
    irb_free(kn->bounds);
    irb_free(kn->k);
}

static int kernel_make(int lo, int in_size, double in0, double in1, int out_size, irb_filter f, kernel *kn)
{
    double (*fn)(double) = f == IRB_FILTER_BOX ? box : triangle;
    double support = f == IRB_FILTER_BOX ? 0.5 : 1.0;
    double scale = (in1 - in0) / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    support *= filterscale;
    kn->ksize = (int)ceil(support) * 2 + 1;
    kn->bounds = irb_malloc_array((size_t)out_size * 2, sizeof(int));
    kn->k = irb_malloc_array((size_t)out_size, (size_t)kn->ksize * sizeof(int32_t));
    double *w = irb_malloc_array((size_t)kn->ksize, sizeof(double));
    if (!kn->bounds || !kn->k || !w) {
        irb_free(w);
        kernel_free(kn);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, total = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < lo)
            xmin = lo;
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            w[x] = fn((x + xmin - center + 0.5) * ss);
            total += w[x];
        }
        int32_t *k = kn->k + (size_t)xx * (size_t)kn->ksize;
        for (int x = 0; x < kn->ksize; x++) {
            double v = x < xmax && total != 0.0 ? w[x] / total : 0.0;
            k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION) : 0.5 + v * (1 << PRECISION));
        }
        kn->bounds[xx * 2] = xmin;
        kn->bounds[xx * 2 + 1] = xmax;
    }
    irb_free(w);
    return 1;
}

static inline uint8_t clip8(int32_t v)
{
    v >>= PRECISION;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

#if IRB_X86
#include <immintrin.h>

/* Output pixels [from, to) of one RGB row of the horizontal pass with a pixel's three sums in one
 * vector (the fourth lane reads the next pixel's first byte and is dropped; the image's very last
 * pixel, which has no next byte, is read byte by byte). end: the end of the source image's bytes. */
__attribute__((target("sse4.1"))) static void hrow3_sse41(const uint8_t *row, const uint8_t *end, const kernel *kn,
                                                          int from, int to, uint8_t *o)
{
    const __m128i bias = _mm_set1_epi32(1 << (PRECISION - 1));
    for (int xx = from; xx < to; xx++) {
        int xmin = kn->bounds[xx * 2], n = kn->bounds[xx * 2 + 1];
        const int32_t *k = kn->k + (size_t)xx * (size_t)kn->ksize;
        const uint8_t *p = row + (size_t)xmin * 3;
        __m128i acc = bias;
        for (int x = 0; x < n; x++, p += 3) {
            int32_t v;
            if (end - p >= 4)
                memcpy(&v, p, 4);
            else
                v = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16);
            __m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
            acc = _mm_add_epi32(acc, _mm_mullo_epi32(px, _mm_set1_epi32(k[x])));
        }
        /* >> PRECISION, then clamp to 0..255: the saturating packs do clip8's clamp */
        acc = _mm_srai_epi32(acc, PRECISION);
        uint32_t r = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(acc, acc), acc));
        o[xx * 3] = (uint8_t)r, o[xx * 3 + 1] = (uint8_t)(r >> 8), o[xx * 3 + 2] = (uint8_t)(r >> 16);
    }
}
#endif

/* The AVX2 RGB horizontal pass 16 output pixels (48 values) at a time: for each tap one gather
 * reads each pixel's 3 bytes (and the next one) from its own source pixel, and the three
 * channels' sums are 16 lanes each. Each value's sum is the same integer as hrow3's (a tap past a
 * pixel's count has weight 0), so the same bytes. The tables depend only on the kernel, so they
 * are made once per pass and used for every row. */
#if IRB_X86
enum { HG = 16 };

typedef struct hgroup {
    int need; /* the bytes of a row (from its start) its gathers read */
    int taps; /* the most taps of its pixels */
    int at;   /* its first tap's entry in hplan.gat */
} hgroup;

typedef struct htap {
    int32_t off[HG]; /* each pixel's source byte in the row for this tap */
    int32_t w[HG];   /* its weight (0 past the pixel's count) */
} htap;

typedef struct hplan {
    int n;
    hgroup *g;
    htap *gat; /* per tap of a group */
} hplan;

static void hplan_free(hplan *hp)
{
    irb_free(hp->g), irb_free(hp->gat);
    memset(hp, 0, sizeof *hp);
}

/* 0 when out of memory (the caller then runs hrow3 on every pixel). */
static int hplan_make(const kernel *kn, int out_w, hplan *hp)
{
    memset(hp, 0, sizeof *hp);
    hp->n = out_w / HG;
    size_t taps = (size_t)hp->n * (size_t)kn->ksize;
    hp->g = irb_malloc_array((size_t)hp->n + 1, sizeof *hp->g);
    hp->gat = irb_calloc(taps + 1, sizeof *hp->gat);
    if (!hp->g || !hp->gat) {
        hplan_free(hp);
        return 0;
    }
    int gat = 0;
    for (int gi = 0; gi < hp->n; gi++) {
        hgroup *g = &hp->g[gi];
        int x0 = gi * HG, taps_g = 0;
        for (int j = 0; j < HG; j++)
            taps_g = kn->bounds[(x0 + j) * 2 + 1] > taps_g ? kn->bounds[(x0 + j) * 2 + 1] : taps_g;
        g->taps = taps_g, g->at = gat, g->need = 0;
        for (int t = 0; t < taps_g; t++, gat++)
            for (int j = 0; j < HG; j++) {
                int xmin = kn->bounds[(x0 + j) * 2], n = kn->bounds[(x0 + j) * 2 + 1];
                htap *h = &hp->gat[gat];
                h->off[j] = (t < n ? xmin + t : xmin) * 3;
                h->w[j] = t < n ? kn->k[(size_t)(x0 + j) * (size_t)kn->ksize + (size_t)t] : 0;
                g->need = h->off[j] + 4 > g->need ? h->off[j] + 4 : g->need;
            }
    }
    return 1;
}

/* The AVX-512 VBMI + VNNI horizontal pass, any channel count: an output row is blocks of 16
 * values (pixel-major, channels interleaved as stored). A block's taps go four at a time: one
 * byte permute (vpermb from a 64-byte window of the source row, vpermi2b from a 128-byte one;
 * rarely two windows or more, where the four taps' bytes spread wider) puts each value's four
 * source bytes in one 32-bit lane,
 * and vpdpbusd multiplies them (unsigned) by four signed bytes and adds the four products to the
 * lane. A weight w (0 <= w <= 2^22) is three signed base-256 digits, w = d0 + d1 2^8 + d2 2^16
 * (-128 <= d < 128), so each lane keeps three sums S0, S1, S2 whose S0 + S1 2^8 + S2 2^16 is hrow3's
 * integer modulo 2^32 (the instructions wrap, and that integer, below 2^31, is the only one in
 * range), so the same bytes. Kernels of at most two taps (upscales) pair instead (wplan.pairs):
 * a lane holds a value's two bytes as 16-bit numbers, for vpdpwssd with w = hi 2^11 + lo. The
 * permute tables, windows and digits depend only on the kernel: they are made once per pass, and
 * each is used for four rows at a time. */

/* w (0 <= w <= 2^PRECISION) = hi 2^11 + lo with 0 <= lo < 2^11: the two 16-bit factors of the
 * vpdpwssd paths (kernels of at most two taps) */
static void wsplit(int32_t w, int16_t *lo, int16_t *hi)
{
    *lo = (int16_t)(w & 2047);
    *hi = (int16_t)(w >> 11);
}

/* w (|w| < 2^23) = d0 + d1 2^8 + d2 2^16 with -128 <= d < 128: digit i to d[i * step] */
static void wdigits(int32_t w, int8_t *d, int step)
{
    for (int i = 0, r = w; i < 3; i++) {
        int di = ((r + 128) & 255) - 128;
        d[i * step] = (int8_t)di, r = (r - di) >> 8; /* (exact: r - di is a multiple of 256) */
    }
}

enum { HV = 16, HT = 4, HWIN = 128 };

typedef struct hwin {
    int32_t off;     /* the window's first byte in a row (it is the HWIN bytes from there) */
    int32_t wide;    /* 1: it reads past its first 64 bytes */
    uint64_t lanes;  /* the byte lanes it fills */
    uint8_t idx[64]; /* each filled lane's byte in the window */
} hwin;

typedef struct hquad {
    int8_t d[3][HV * HT]; /* byte 4j + h: digit i of value j's weight of the quad's tap h (pairs: d[0], d[1]
                             are int16 lo, hi at 2j + h) */
    hwin win;             /* its first window */
    int more, nmore;      /* its further windows in wplan.more */
} hquad;

typedef struct wplan {
    int nblock, nval, c; /* blocks of 16 values; values of an output row (out_w * c) */
    int need;            /* the bytes from a row's start that its windows read */
    int *first;          /* per block its first quad in q; first[nblock]: their end */
    int simple;          /* 1: every block has one quad, with one window of 64 bytes (first[b] = b) */
    int pairs;           /* 1: no pixel has more than two taps (upscales): a "quad" is two taps, each
                            lane two 16-bit bytes (byte 4j + 2h), for vpdpwssd with w = hi 2^11 + lo */
    hquad *q;
    hwin *more;
    int nq, nmore, cap_more;
} wplan;

static void wplan_free(wplan *wp)
{
    irb_free(wp->first), irb_free(wp->q), irb_free(wp->more);
    memset(wp, 0, sizeof *wp);
}

/* One window of a quad: the lanes left whose source byte is within HWIN of the lowest one.
 * byte: each lane's source byte; returns the lanes not yet in a window. */
static uint64_t wplan_window(wplan *wp, hwin *hw, const int *byte, uint64_t left)
{
    int off = INT_MAX, top = 0;
    for (uint64_t m = left; m; m &= m - 1)
        off = byte[__builtin_ctzll(m)] < off ? byte[__builtin_ctzll(m)] : off;
    memset(hw, 0, sizeof *hw);
    hw->off = off;
    for (uint64_t m = left; m; m &= m - 1) {
        int l = __builtin_ctzll(m);
        if (byte[l] < off + HWIN) {
            left &= ~(1ULL << l);
            hw->idx[l] = (uint8_t)(byte[l] - off), hw->lanes |= 1ULL << l;
            top = byte[l] - off > top ? byte[l] - off : top;
        }
    }
    hw->wide = top >= 64;
    wp->need = off + (hw->wide ? HWIN : 64) > wp->need ? off + (hw->wide ? HWIN : 64) : wp->need;
    return left;
}

/* Block b's quads and windows. 0: out of memory, or a weight outside 0..2^22. */
static int wplan_block(const kernel *kn, int b, wplan *wp)
{
    int c = wp->c, v0 = b * HV, v1 = v0 + HV < wp->nval ? v0 + HV : wp->nval, most = 0;
    for (int x = v0 / c; x <= (v1 - 1) / c; x++)
        most = kn->bounds[x * 2 + 1] > most ? kn->bounds[x * 2 + 1] : most;
    int taps = wp->pairs ? 2 : HT, step = wp->pairs ? 2 : 1;
    for (int t0 = 0; t0 < most; t0 += taps) {
        int byte[HV * HT];
        int32_t w[HV * HT];
        uint64_t left = 0; /* the lanes with a nonzero weight (the only ones of byte and w set and read) */
        for (int v = v0, x = v0 / c, ch = v0 % c; v < v1; v++, x += ++ch == c, ch %= c) {
            int xmin = kn->bounds[x * 2], n = kn->bounds[x * 2 + 1];
            for (int h = 0; h < taps && t0 + h < n; h++) {
                int l = (v - v0) * HT + h * step;
                w[l] = kn->k[(size_t)x * (size_t)kn->ksize + (size_t)(t0 + h)];
                byte[l] = (xmin + t0 + h) * c + ch;
                if (w[l] < 0 || w[l] > 1 << PRECISION)
                    return 0;
                left |= (uint64_t)(w[l] != 0) << l;
            }
        }
        if (!left)
            continue;
        hquad *q = &wp->q[wp->nq++];
        memset(q->d, 0, sizeof q->d);
        for (uint64_t m = left; m; m &= m - 1) {
            int l = __builtin_ctzll(m);
            if (wp->pairs) {
                int16_t lo, hi;
                wsplit(w[l], &lo, &hi);
                memcpy(q->d[0] + l, &lo, 2), memcpy(q->d[1] + l, &hi, 2);
            } else {
                wdigits(w[l], q->d[0] + l, HV * HT);
            }
        }
        left = wplan_window(wp, &q->win, byte, left);
        q->more = wp->nmore, q->nmore = 0;
        for (; left; q->nmore++) {
            if (wp->nmore == wp->cap_more) {
                int cap = wp->cap_more ? 2 * wp->cap_more : 16;
                hwin *more = irb_realloc_array(wp->more, (size_t)cap, sizeof *more);
                if (!more)
                    return 0;
                wp->more = more, wp->cap_more = cap;
            }
            left = wplan_window(wp, &wp->more[wp->nmore++], byte, left);
        }
    }
    return 1;
}

/* 0 when out of memory or a weight is outside 0..2^22 (the caller then takes another loop). */
static int wplan_make(const kernel *kn, int out_w, int c, wplan *wp)
{
    memset(wp, 0, sizeof *wp);
    wp->c = c, wp->nval = out_w * c, wp->nblock = (wp->nval + HV - 1) / HV, wp->pairs = 1;
    for (int x = 0; x < out_w; x++)
        wp->pairs &= kn->bounds[x * 2 + 1] <= 2;
    wp->first = irb_malloc_array((size_t)wp->nblock + 1, sizeof *wp->first);
    wp->q = irb_malloc_array((size_t)wp->nblock * (size_t)((kn->ksize + HT - 1) / HT) + 1, sizeof *wp->q);
    int ok = wp->first && wp->q;
    for (int b = 0; ok && b < wp->nblock; b++) {
        wp->first[b] = wp->nq;
        ok = wplan_block(kn, b, wp);
    }
    if (!ok) {
        wplan_free(wp);
        return 0;
    }
    wp->first[wp->nblock] = wp->nq;
    wp->simple = wp->nq == wp->nblock && wp->nmore == 0;
    for (int i = 0; wp->simple && i < wp->nq; i++)
        wp->simple = wp->first[i] == i && !wp->q[i].win.wide;
    return 1;
}

#define VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vnni")))

/* The first n (1..64) bytes at p; masked, so nothing past them is read */
VBMI static inline __attribute__((always_inline)) __m512i hload(const uint8_t *p, size_t n)
{
    return n >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8((__mmask64)((1ULL << n) - 1), p);
}

/* A window's bytes of a row in its lanes (0 elsewhere). safe: the window may pass end, the
 * source image's last byte; its loads then stop there. */
VBMI static inline __attribute__((always_inline)) __m512i hwin_bytes(const hwin *w, __m512i idx, const uint8_t *row,
                                                                     int safe, int narrow, const uint8_t *end)
{
    const uint8_t *q = row + w->off;
    size_t left = safe ? (size_t)(end - q) : HWIN; /* >= 1: a window starts at a byte it reads */
    __m512i a = hload(q, left);
    if (narrow || !w->wide)
        return _mm512_maskz_permutexvar_epi8((__mmask64)w->lanes, idx, a);
    __m512i z = left > 64 ? hload(q + 64, left - 64) : _mm512_setzero_si512();
    return _mm512_maskz_permutex2var_epi8((__mmask64)w->lanes, a, idx, z);
}

/* nr rows (1..4) of the pass; safe as hwin_bytes */
VBMI static inline __attribute__((always_inline)) void hrows_body(const uint8_t *const *row, uint8_t *const *o, int nr,
                                                                  int safe, int simple, int pairs, const uint8_t *end,
                                                                  const wplan *wp)
{
    const __m512i bias = _mm512_set1_epi32(1 << (PRECISION - 1)), zero = _mm512_setzero_si512();
    for (int b = 0; b < wp->nblock; b++) {
        __m512i s0[4], s1[4], s2[4];
        for (int r = 0; r < nr; r++)
            s0[r] = bias, s1[r] = s2[r] = zero;
        for (int i = simple ? b : wp->first[b]; i < (simple ? b + 1 : wp->first[b + 1]); i++) {
            const hquad *q = &wp->q[i];
            __m512i v[4], idx = _mm512_loadu_si512(q->win.idx);
            for (int r = 0; r < nr; r++)
                v[r] = hwin_bytes(&q->win, idx, row[r], safe, simple, end);
            for (int m = 0; !simple && m < q->nmore; m++) { /* a quad whose bytes spread wider than a window */
                const hwin *w = &wp->more[q->more + m];
                idx = _mm512_loadu_si512(w->idx);
                for (int r = 0; r < nr; r++)
                    v[r] = _mm512_or_si512(v[r], hwin_bytes(w, idx, row[r], safe, 0, end));
            }
            __m512i d0 = _mm512_loadu_si512(q->d[0]), d1 = _mm512_loadu_si512(q->d[1]);
            if (pairs) {
                for (int r = 0; r < nr; r++)
                    s0[r] = _mm512_dpwssd_epi32(s0[r], v[r], d0), s1[r] = _mm512_dpwssd_epi32(s1[r], v[r], d1);
                continue;
            }
            __m512i d2 = _mm512_loadu_si512(q->d[2]);
            for (int r = 0; r < nr; r++) {
                s0[r] = _mm512_dpbusd_epi32(s0[r], v[r], d0);
                s1[r] = _mm512_dpbusd_epi32(s1[r], v[r], d1);
                s2[r] = _mm512_dpbusd_epi32(s2[r], v[r], d2);
            }
        }
        int n = wp->nval - b * HV;
        for (int r = 0; r < nr; r++) { /* S0 + S1 2^8 + S2 2^16 (pairs: S0 + S1 2^11) + 1/2, >> PRECISION, to 255 */
            __m512i s = pairs ? _mm512_add_epi32(s0[r], _mm512_slli_epi32(s1[r], 11))
                              : _mm512_add_epi32(
                                    s0[r], _mm512_add_epi32(_mm512_slli_epi32(s1[r], 8), _mm512_slli_epi32(s2[r], 16)));
            /* (no clamp to 0: the weights are >= 0, wplan_block checks, so s >= 1/2) */
            __m128i x = _mm512_cvtusepi32_epi8(_mm512_srli_epi32(s, PRECISION));
            if (n >= HV)
                _mm_storeu_si128((__m128i *)(void *)(o[r] + (size_t)b * HV), x);
            else
                _mm512_mask_storeu_epi8(o[r] + (size_t)b * HV, (__mmask64)((1u << n) - 1), _mm512_castsi128_si512(x));
        }
    }
}

VBMI static void hrows4(const uint8_t *const *row, uint8_t *const *o, const wplan *wp)
{
    if (wp->simple && wp->pairs)
        hrows_body(row, o, 4, 0, 1, 1, NULL, wp);
    else if (wp->simple)
        hrows_body(row, o, 4, 0, 1, 0, NULL, wp);
    else
        hrows_body(row, o, 4, 0, 0, wp->pairs, NULL, wp);
}

VBMI static void hrows1(const uint8_t *row, uint8_t *o, const uint8_t *end, const wplan *wp)
{
    if ((size_t)(end - row) >= (size_t)wp->need)
        hrows_body(&row, &o, 1, 0, 0, wp->pairs, end, wp);
    else
        hrows_body(&row, &o, 1, 1, 0, wp->pairs, end, wp);
}

/* rows [y0, y0 + nrows) of src -> out, four rows at a time while their windows stay in the image */
static void pass_h_vbmi(const irb_image *src, int y0, int nrows, const wplan *wp, uint8_t *out)
{
    size_t in_stride = (size_t)src->width * (size_t)wp->c, out_stride = (size_t)wp->nval;
    const uint8_t *end = src->data + in_stride * (size_t)src->height;
    int y = 0;
    for (; y + 4 <= nrows; y += 4) {
        const uint8_t *row[4];
        uint8_t *o[4];
        for (int r = 0; r < 4; r++)
            row[r] = src->data + (size_t)(y0 + y + r) * in_stride, o[r] = out + (size_t)(y + r) * out_stride;
        if ((size_t)(end - row[3]) < (size_t)wp->need)
            break;
        hrows4(row, o, wp);
    }
    for (; y < nrows; y++)
        hrows1(src->data + (size_t)(y0 + y) * in_stride, out + (size_t)y * out_stride, end, wp);
}

/* The gathering pass for CPUs with AVX2 but not AVX-512 VBMI: every group of 16 gathers, 8
 * pixels per gather; the sums are the same integers as hrow3's, so the same bytes. */
__attribute__((target("avx2"))) static __m128i hsum8_avx2(__m256i lo, __m256i hi)
{
    /* >> PRECISION, then the saturating packs do clip8's clamp; pixels 0..15 in order */
    lo = _mm256_srai_epi32(lo, PRECISION), hi = _mm256_srai_epi32(hi, PRECISION);
    __m128i a = _mm_packs_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
    __m128i b = _mm_packs_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
    return _mm_packus_epi16(a, b);
}

__attribute__((target("avx2"))) static void hgather_avx2(const uint8_t *row, const htap *tap, int taps, uint8_t *out)
{
    const __m256i bias = _mm256_set1_epi32(1 << (PRECISION - 1)), byte = _mm256_set1_epi32(0xff);
    __m256i s[2][3] = {{bias, bias, bias}, {bias, bias, bias}};
    for (int t = 0; t < taps; t++)
        for (int h = 0; h < 2; h++) {
            __m256i v = _mm256_i32gather_epi32((const int *)(const void *)row,
                                               _mm256_loadu_si256((const __m256i *)(tap[t].off + 8 * h)), 1);
            __m256i w = _mm256_loadu_si256((const __m256i *)(tap[t].w + 8 * h));
            s[h][0] = _mm256_add_epi32(s[h][0], _mm256_mullo_epi32(_mm256_and_si256(v, byte), w));
            s[h][1] = _mm256_add_epi32(s[h][1], _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 8), byte), w));
            s[h][2] =
                _mm256_add_epi32(s[h][2], _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 16), byte), w));
        }
    __m128i r = hsum8_avx2(s[0][0], s[1][0]), g = hsum8_avx2(s[0][1], s[1][1]), b = hsum8_avx2(s[0][2], s[1][2]);
    /* R0 G0 B0 R1 ...: output chunk k takes its bytes from r, g and b by put[k][channel] */
    static const int8_t put[3][3][16] = {
        {{0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1, 5},
         {-1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1},
         {-1, -1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1}},
        {{-1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10, -1},
         {5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10},
         {-1, 5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1}},
        {{-1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1, -1},
         {-1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1},
         {10, -1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15}},
    };
    for (int k = 0; k < 3; k++) {
        __m128i o = _mm_or_si128(_mm_shuffle_epi8(r, _mm_loadu_si128((const __m128i *)put[k][0])),
                                 _mm_or_si128(_mm_shuffle_epi8(g, _mm_loadu_si128((const __m128i *)put[k][1])),
                                              _mm_shuffle_epi8(b, _mm_loadu_si128((const __m128i *)put[k][2]))));
        _mm_storeu_si128((__m128i *)(out + 16 * k), o);
    }
}

__attribute__((target("avx2"))) static void hrow3_avx2(const uint8_t *row, const uint8_t *end, const kernel *kn,
                                                       const hplan *hp, int out_w, uint8_t *o)
{
    for (int gi = 0; gi < hp->n; gi++) {
        const hgroup *g = &hp->g[gi];
        if (end - row < g->need) /* the image's last pixel: its 4-byte read would pass the end */
            hrow3_sse41(row, end, kn, gi * HG, (gi + 1) * HG, o);
        else
            hgather_avx2(row, &hp->gat[g->at], g->taps, o + (size_t)gi * HG * 3);
    }
    hrow3_sse41(row, end, kn, hp->n * HG, out_w, o);
}
#endif

/* rows [y0, y0 + nrows) of src -> out (out_w wide); RGB, the decoders' output, has loops of its
 * own that keep the three sums together */
static void pass_h(const irb_image *src, int y0, int nrows, const kernel *kn, int out_w, uint8_t *out)
{
    int c = src->channels;
#if IRB_X86
    int level = irb_cpu_simd();
    wplan wp;
    if (level >= IRB_SIMD_AVX512_VBMI && wplan_make(kn, out_w, c, &wp)) {
        pass_h_vbmi(src, y0, nrows, &wp, out);
        wplan_free(&wp);
        return;
    }
    if (c == 3 && level >= IRB_SIMD_SSE41) {
        const uint8_t *end = src->data + (size_t)src->width * (size_t)src->height * 3;
        hplan hp = {0};
        int plan = level >= IRB_SIMD_AVX2 && hplan_make(kn, out_w, &hp);
        for (int y = 0; y < nrows; y++) {
            const uint8_t *row = src->data + (size_t)(y0 + y) * (size_t)src->width * 3;
            uint8_t *o = out + (size_t)y * (size_t)out_w * 3;
            if (plan)
                hrow3_avx2(row, end, kn, &hp, out_w, o);
            else
                hrow3_sse41(row, end, kn, 0, out_w, o);
        }
        hplan_free(&hp);
        return;
    }
#endif
    for (int y = 0; y < nrows; y++) {
        const uint8_t *row = src->data + (size_t)(y0 + y) * (size_t)src->width * (size_t)c;
        uint8_t *o = out + (size_t)y * (size_t)out_w * (size_t)c;
        for (int xx = 0; xx < out_w; xx++) {
            int xmin = kn->bounds[xx * 2], n = kn->bounds[xx * 2 + 1];
            const int32_t *k = kn->k + (size_t)xx * (size_t)kn->ksize;
            const uint8_t *p = row + (size_t)xmin * (size_t)c;
            if (c == 3) {
                int32_t s0 = 1 << (PRECISION - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < n; x++, p += 3) {
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                o[xx * 3] = clip8(s0), o[xx * 3 + 1] = clip8(s1), o[xx * 3 + 2] = clip8(s2);
                continue;
            }
            for (int ch = 0; ch < c; ch++) {
                int32_t ss = 1 << (PRECISION - 1);
                for (int x = 0; x < n; x++)
                    ss += p[(size_t)x * (size_t)c + (size_t)ch] * k[x];
                o[(size_t)xx * (size_t)c + (size_t)ch] = clip8(ss);
            }
        }
    }
}

/* One output row of the vertical pass: out[i] = clip8(bias + sum_y in[y * stride + i] * k[y]),
 * i < len, in blocks of 32 columns whose sums stay in registers across the taps. The compiler
 * vectorises the block loops; the sums are integers, so every order gives the same bytes. */
static inline __attribute__((always_inline)) void vrow_body(const uint8_t *in, size_t stride, int n, const int32_t *k,
                                                            size_t len, uint8_t *out)
{
    enum { B = 32 };
    size_t i = 0;
    for (; i + B <= len; i += B) {
        int32_t s[B];
        for (int t = 0; t < B; t++)
            s[t] = 1 << (PRECISION - 1);
        for (int y = 0; y < n; y++) {
            const uint8_t *p = in + (size_t)y * stride + i;
            int32_t ky = k[y];
            for (int t = 0; t < B; t++)
                s[t] += p[t] * ky;
        }
        for (int t = 0; t < B; t++)
            out[i + t] = clip8(s[t]);
    }
    for (; i < len; i++) {
        int32_t s = 1 << (PRECISION - 1);
        for (int y = 0; y < n; y++)
            s += in[(size_t)y * stride + i] * k[y];
        out[i] = clip8(s);
    }
}

typedef void vrow_fn(const uint8_t *in, size_t stride, int n, const int32_t *k, size_t len, uint8_t *out);

static void vrow_base(const uint8_t *in, size_t stride, int n, const int32_t *k, size_t len, uint8_t *out)
{
    vrow_body(in, stride, n, k, len, out);
}

#if IRB_X86
__attribute__((target("avx2"))) static void vrow_avx2(const uint8_t *in, size_t stride, int n, const int32_t *k,
                                                      size_t len, uint8_t *out)
{
    vrow_body(in, stride, n, k, len, out);
}

__attribute__((target("avx512f,avx512bw"))) static void vrow_avx512(const uint8_t *in, size_t stride, int n,
                                                                    const int32_t *k, size_t len, uint8_t *out)
{
    vrow_body(in, stride, n, k, len, out);
}

/* The vertical pass with AVX-512 VNNI, as the horizontal one: a weight is three signed base-256
 * digits (vdigits), four taps' bytes of a column are interleaved into one 32-bit lane (two
 * unpacks per tap), and vpdpbusd adds the four products per digit; 64 columns at a time, the
 * last ones with masked loads and stores. Kernels of more than VQ_MAX taps take vrow_avx512. */
enum { VQ_MAX = 256 };

/* digit i of taps 4q..4q+3 in the bytes of dq[q][i] (wdigits) */
static void vdigits(const int32_t *k, int n, int32_t (*dq)[3])
{
    int8_t d[VQ_MAX][3];
    for (int t = 0; t < n; t++)
        wdigits(k[t], d[t], 1);
    for (int q = 0; q < (n + 3) / 4; q++)
        for (int i = 0; i < 3; i++) {
            uint32_t v = 0;
            for (int h = 0; h < 4 && 4 * q + h < n; h++)
                v |= (uint32_t)(uint8_t)d[4 * q + h][i] << (8 * h);
            dq[q][i] = (int32_t)v;
        }
}

/* Sums of 64 columns (masked by m) as four vectors in the unpacks' order -> 64 bytes in column
 * order: >> PRECISION, and the saturating packs do clip8's clamp and undo the unpacks' order. */
VBMI static inline __attribute__((always_inline)) void vstore64(__m512i t[4], __mmask64 m, uint8_t *out)
{
    for (int j = 0; j < 4; j++)
        t[j] = _mm512_srai_epi32(t[j], PRECISION);
    __m512i o = _mm512_packus_epi16(_mm512_packs_epi32(t[0], t[1]), _mm512_packs_epi32(t[2], t[3]));
    _mm512_mask_storeu_epi8(out, m, o);
}

/* A kernel of one or two taps (every upscale): each 32-bit lane holds a column's two bytes as
 * 16-bit numbers, and vpdpwssd adds their products with the weights split w = hi 2^11 + lo
 * (|hi| <= 2^11, 0 <= lo < 2^11), two sums per lane instead of three digits for four taps. */
VBMI static void vrow2_vnni(const uint8_t *in, size_t stride, int n, const int32_t *k, size_t len, uint8_t *out)
{
    int16_t lo0, hi0, lo1 = 0, hi1 = 0;
    wsplit(k[0], &lo0, &hi0);
    if (n > 1)
        wsplit(k[1], &lo1, &hi1);
    const uint8_t *in1 = n > 1 ? in + stride : in;
    __m512i hi = _mm512_set1_epi32((int32_t)((uint32_t)(uint16_t)hi0 | (uint32_t)(uint16_t)hi1 << 16));
    __m512i lo = _mm512_set1_epi32((int32_t)((uint32_t)(uint16_t)lo0 | (uint32_t)(uint16_t)lo1 << 16)),
            zero = _mm512_setzero_si512();
    const __m512i bias = _mm512_set1_epi32(1 << (PRECISION - 1));
    for (size_t i = 0; i < len; i += 64) {
        __mmask64 m = len - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (len - i)) - 1;
        __m512i a = _mm512_maskz_loadu_epi8(m, in + i), b = _mm512_maskz_loadu_epi8(m, in1 + i);
        __m512i a0 = _mm512_unpacklo_epi8(a, zero), a1 = _mm512_unpackhi_epi8(a, zero);
        __m512i b0 = _mm512_unpacklo_epi8(b, zero), b1 = _mm512_unpackhi_epi8(b, zero);
        /* x[j]: in 128-bit lane L, columns 16 L + 4 j .. + 3 (as in vrow_vnni) */
        __m512i x[4] = {_mm512_unpacklo_epi16(a0, b0), _mm512_unpackhi_epi16(a0, b0), _mm512_unpacklo_epi16(a1, b1),
                        _mm512_unpackhi_epi16(a1, b1)};
        __m512i t[4];
        for (int j = 0; j < 4; j++)
            t[j] = _mm512_add_epi32(_mm512_dpwssd_epi32(bias, x[j], lo),
                                    _mm512_slli_epi32(_mm512_dpwssd_epi32(zero, x[j], hi), 11));
        vstore64(t, m, out + i);
    }
}

VBMI static void vrow_vnni(const uint8_t *in, size_t stride, int n, const int32_t *k, size_t len, uint8_t *out)
{
    int32_t dq[VQ_MAX / 4][3];
    if (n > VQ_MAX) {
        vrow_avx512(in, stride, n, k, len, out);
        return;
    }
    if (n <= 2) {
        vrow2_vnni(in, stride, n, k, len, out);
        return;
    }
    vdigits(k, n, dq);
    const __m512i bias = _mm512_set1_epi32(1 << (PRECISION - 1));
    for (size_t i = 0; i < len; i += 64) {
        __mmask64 m = len - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (len - i)) - 1;
        __m512i s[3][4];
        for (int d = 0; d < 3; d++)
            for (int j = 0; j < 4; j++)
                s[d][j] = _mm512_setzero_si512();
        for (int q = 0; q < n; q += 4) {
            __m512i r[4]; /* the quad's rows; a tap past n reads row q again, with weight 0 */
            for (int h = 0; h < 4; h++)
                r[h] = _mm512_maskz_loadu_epi8(m, in + (size_t)(q + h < n ? q + h : q) * stride + i);
            __m512i ab0 = _mm512_unpacklo_epi8(r[0], r[1]), ab1 = _mm512_unpackhi_epi8(r[0], r[1]);
            __m512i cd0 = _mm512_unpacklo_epi8(r[2], r[3]), cd1 = _mm512_unpackhi_epi8(r[2], r[3]);
            /* x[j]: in 128-bit lane L, columns 16 L + 4 j .. + 3, their four taps' bytes */
            __m512i x[4] = {_mm512_unpacklo_epi16(ab0, cd0), _mm512_unpackhi_epi16(ab0, cd0),
                            _mm512_unpacklo_epi16(ab1, cd1), _mm512_unpackhi_epi16(ab1, cd1)};
            for (int d = 0; d < 3; d++) {
                __m512i w = _mm512_set1_epi32(dq[q / 4][d]);
                for (int j = 0; j < 4; j++)
                    s[d][j] = _mm512_dpbusd_epi32(s[d][j], x[j], w);
            }
        }
        __m512i t[4];
        for (int j = 0; j < 4; j++) /* S0 + S1 2^8 + S2 2^16 + 1/2 */
            t[j] = _mm512_add_epi32(_mm512_add_epi32(s[0][j], bias),
                                    _mm512_add_epi32(_mm512_slli_epi32(s[1][j], 8), _mm512_slli_epi32(s[2][j], 16)));
        vstore64(t, m, out + i);
    }
}
#endif

static vrow_fn *vrow_pick(void)
{
#if IRB_X86
    int level = irb_cpu_simd();
    if (level >= IRB_SIMD_AVX512_VBMI)
        return vrow_vnni;
    if (level >= IRB_SIMD_AVX512)
        return vrow_avx512;
    if (level == IRB_SIMD_AVX2)
        return vrow_avx2;
#endif
    return vrow_base;
}

/* in (w x in_h rows, c channels) -> out (w x out_h); bounds are relative to in's first row. */
static void pass_v(const uint8_t *in, int w, int c, const kernel *kn, int out_h, uint8_t *out)
{
    size_t stride = (size_t)w * (size_t)c;
    vrow_fn *row = vrow_pick();
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = kn->bounds[yy * 2], n = kn->bounds[yy * 2 + 1];
        row(in + (size_t)ymin * stride, stride, n, kn->k + (size_t)yy * (size_t)kn->ksize, stride,
            out + (size_t)yy * stride);
    }
}

irb_status irb_resize(const irb_image *src, double x0, double y0, double x1, double y1, int out_w, int out_h,
                      irb_filter filter, irb_image *dst, irb_error *err)
{
    return irb__resize_clamped(src, x0, y0, x1, y1, 0, out_w, out_h, filter, dst, err);
}

irb_status irb__resize_clamped(const irb_image *src, double x0, double y0, double x1, double y1, int clamp, int out_w,
                               int out_h, irb_filter filter, irb_image *dst, irb_error *err)
{
    if (!irb__image_ok(src) || !dst || out_w <= 0 || out_h <= 0 ||
        (filter != IRB_FILTER_BILINEAR && filter != IRB_FILTER_BOX))
        return irb_fail(err, IRB_INVALID_ARG, "resize: bad arguments (output %dx%d, filter %d)", out_w, out_h,
                        (int)filter);
    /* the decoder's own limit: its kernels are made per output row and column before the image */
    if ((long long)out_w * out_h > IRB_DEFAULT_MAX_PIXELS || out_w > 1 << 20 || out_h > 1 << 20)
        return irb_fail(err, IRB_TOO_LARGE, "resize: output %dx%d above %lld pixels", out_w, out_h,
                        IRB_DEFAULT_MAX_PIXELS);
    if (x0 == 0 && y0 == 0 && x1 == 0 && y1 == 0) {
        x1 = src->width;
        y1 = src->height;
    }
    if (!(x0 >= 0 && y0 >= 0 && x1 <= src->width && y1 <= src->height && x1 > x0 && y1 > y0))
        return irb_fail(err, IRB_INVALID_ARG, "resize: box (%g,%g)-(%g,%g) outside a %dx%d image", x0, y0, x1, y1,
                        src->width, src->height);
    int need_h = out_w != src->width || x0 != 0 || x1 != src->width;
    int need_v = out_h != src->height || y0 != 0 || y1 != src->height;
    kernel kh = {0}, kv = {0};
    irb_image tmp = {0};
    irb_status s = IRB_OK;
    /* clamp: kernels stay inside the box's whole pixels, as if the box had been cropped first */
    int lx = clamp ? (int)floor(x0) : 0, hx = clamp ? (int)ceil(x1) : src->width;
    int ly = clamp ? (int)floor(y0) : 0, hy = clamp ? (int)ceil(y1) : src->height;
    if (!kernel_make(lx, hx, x0, x1, out_w, filter, &kh) || !kernel_make(ly, hy, y0, y1, out_h, filter, &kv)) {
        s = irb_fail(err, IRB_NOMEM, "resize: cannot allocate kernels");
        goto cleanup;
    }
    int c = src->channels;
    /* the rows the vertical pass reads */
    int first = need_v ? kv.bounds[0] : 0;
    int last = need_v ? kv.bounds[(out_h - 1) * 2] + kv.bounds[(out_h - 1) * 2 + 1] : src->height;
    if ((s = irb__image_alloc(dst, out_w, out_h, c, "resize", err)) != IRB_OK)
        goto cleanup;
    if (!need_h && !need_v) {
        memcpy(dst->data, src->data, (size_t)out_w * (size_t)out_h * (size_t)c);
    } else if (!need_v) {
        pass_h(src, 0, out_h, &kh, out_w, dst->data);
    } else if (!need_h) {
        pass_v(src->data, src->width, c, &kv, out_h, dst->data);
    } else {
        if ((s = irb__image_alloc(&tmp, out_w, last - first, c, "resize", err)) != IRB_OK)
            goto cleanup;
        pass_h(src, first, last - first, &kh, out_w, tmp.data);
        for (int i = 0; i < out_h; i++)
            kv.bounds[i * 2] -= first;
        pass_v(tmp.data, out_w, c, &kv, out_h, dst->data);
    }
cleanup:
    if (s != IRB_OK)
        irb_image_release(dst);
    irb_image_release(&tmp);
    kernel_free(&kh);
    kernel_free(&kv);
    return s;
}

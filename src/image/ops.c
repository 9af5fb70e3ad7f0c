/* Geometry and tensor conversion on decoded images: crop, flip, EXIF orientation, CHW floats. */
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "image/internal.h"

irb_status irb_image_crop(const irb_image *src, int x, int y, int w, int h, irb_image *dst, irb_error *err)
{
    if (!irb__image_ok(src) || !dst || x < 0 || y < 0 || w <= 0 || h <= 0 || x > src->width - w || y > src->height - h)
        return irb_fail(err, IRB_INVALID_ARG, "crop %dx%d at (%d,%d) does not fit a %dx%d image", w, h, x, y,
                        src ? src->width : 0, src ? src->height : 0);
    IRB_TRY(irb__image_alloc(dst, w, h, src->channels, "crop", err));
    size_t c = (size_t)src->channels, row = (size_t)w * c;
    for (int r = 0; r < h; r++)
        memcpy(dst->data + (size_t)r * row, src->data + ((size_t)(y + r) * (size_t)src->width + (size_t)x) * c, row);
    return IRB_OK;
}

void irb_image_flip(irb_image *img)
{
    if (!irb__image_ok(img))
        return;
    int c = img->channels;
    for (int y = 0; y < img->height; y++) {
        uint8_t *a = img->data + (size_t)y * (size_t)img->width * (size_t)c;
        uint8_t *b = a + (size_t)(img->width - 1) * (size_t)c;
        for (; a < b; a += c, b -= c)
            for (int k = 0; k < c; k++) {
                uint8_t t = a[k];
                a[k] = b[k];
                b[k] = t;
            }
    }
}

/* For orientation o, the source pixel of destination (x, y) is origin + x * dx + y * dy (in
 * source pixels), with the stored image W x H. */
irb_status irb_image_orient(const irb_image *src, int o, irb_image *dst, irb_error *err)
{
    if (!irb__image_ok(src) || !dst)
        return irb_fail(err, IRB_INVALID_ARG, "orient: no image (or a %dx%dx%d one)", src ? src->width : 0,
                        src ? src->height : 0, src ? src->channels : 0);
    if (o < 1 || o > 8)
        o = 1;
    long W = src->width, H = src->height;
    int swap = o >= 5;
    IRB_TRY(irb__image_alloc(dst, swap ? (int)H : (int)W, swap ? (int)W : (int)H, src->channels, "orient", err));
    long x0 = 0, y0 = 0, xdx = 1, ydx = 0, xdy = 0, ydy = 1; /* src(x0 + x*xdx + y*xdy, y0 + x*ydx + y*ydy) */
    switch (o) {
    case 2:
        x0 = W - 1;
        xdx = -1;
        break; /* mirror */
    case 3:
        x0 = W - 1;
        y0 = H - 1;
        xdx = -1;
        ydy = -1;
        break; /* 180 */
    case 4:
        y0 = H - 1;
        ydy = -1;
        break; /* flip */
    case 5:
        xdx = 0;
        ydx = 1;
        xdy = 1;
        ydy = 0;
        break; /* transpose */
    case 6:
        y0 = H - 1;
        xdx = 0;
        ydx = -1;
        xdy = 1;
        ydy = 0;
        break; /* rotate 90 cw */
    case 7:
        x0 = W - 1;
        y0 = H - 1;
        xdx = 0;
        ydx = -1;
        xdy = -1;
        ydy = 0;
        break; /* transverse */
    case 8:
        x0 = W - 1;
        xdx = 0;
        ydx = 1;
        xdy = -1;
        ydy = 0;
        break; /* rotate 90 ccw */
    default: break;
    }
    long c = src->channels, step = (ydx * W + xdx) * c;
    uint8_t *out = dst->data;
    for (long y = 0; y < dst->height; y++) {
        long i = ((y0 + y * ydy) * W + (x0 + y * xdy)) * c;
        for (long x = 0; x < dst->width; x++, i += step, out += c)
            memcpy(out, src->data + i, (size_t)c);
    }
    return IRB_OK;
}

/* Each channel's 256 values looked up (the same float expression as computed per pixel), RGB
 * read in one pass; with mirror, each row is also written right to left there. */
#if IRB_X86
#include <immintrin.h>

/* Byte shuffles that gather one channel of 16 RGB pixels (48 bytes in three 16-byte loads):
 * channel ch is the OR of load k shuffled by RGB_SEL[ch][k]. */
static const int8_t RGB_SEL[3][3][16] = {
    {{0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {-1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14, -1, -1, -1, -1, -1},
     {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 4, 7, 10, 13}},
    {{1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {-1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1},
     {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14}},
    {{2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {-1, -1, -1, -1, -1, 1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1},
     {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15}},
};

/* The 16 bytes of channel ch of the 16 RGB pixels at q. */
__attribute__((target("sse4.1"))) static inline __m128i rgb_channel16(const uint8_t *q, int ch)
{
    __m128i v = _mm_setzero_si128();
    for (int k = 0; k < 3; k++)
        v = _mm_or_si128(v, _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(q + 16 * k)),
                                             _mm_loadu_si128((const __m128i *)RGB_SEL[ch][k])));
    return v;
}

/* One RGB row of w pixels into three float rows o[c] (and their mirrors mr[c], NULL for none), 16
 * pixels at a time: the 48 bytes deinterleaved by shuffles, each value (v - m) * inv in float
 * as the scalar table's entries are, so the same bits. Returns the pixels done (a multiple of
 * 16); the caller does the rest. */
__attribute__((target("sse4.1"))) static size_t
chw_row3_sse41(const uint8_t *p, size_t w, const float m[3], const float inv[3], float *const o[3], float *const mr[3])
{
    size_t x = 0;
    for (; x + 16 <= w; x += 16) {
        for (int ch = 0; ch < 3; ch++) {
            __m128i v = rgb_channel16(p + 3 * x, ch);
            __m128 mv = _mm_set1_ps(m[ch]), iv = _mm_set1_ps(inv[ch]);
            for (int k = 0; k < 4; k++, v = _mm_srli_si128(v, 4)) {
                __m128 f = _mm_mul_ps(_mm_sub_ps(_mm_cvtepi32_ps(_mm_cvtepu8_epi32(v)), mv), iv);
                _mm_storeu_ps(o[ch] + x + 4 * k, f);
                if (mr)
                    _mm_storeu_ps(mr[ch] + (w - x - 4 * k - 4), _mm_shuffle_ps(f, f, _MM_SHUFFLE(0, 1, 2, 3)));
            }
        }
    }
    return x;
}

/* The same with each channel's 16 values converted, stored and (reversed) mirrored as one
 * 512-bit vector: the same float operations per value, so the same bits. A row whose outputs
 * are all 64-byte aligned (the featurizer's tensors at sizes that are multiples of 16) is
 * written with non-temporal stores: the tensors (14 MB an image for 576, 448 and 224 with
 * mirrors) are read by the CNN after the chunk is decoded, so reading their lines into the cache
 * before writing them (what a normal store does) only doubles the memory traffic. Returns
 * whether it streamed (the caller fences once at the end). */
__attribute__((target("avx512f,avx512bw"))) static int chw_row3_avx512(const uint8_t *p, size_t w, const float m[3],
                                                                       const float inv[3], float *const o[3],
                                                                       float *const mr[3], size_t *done)
{
    const __m512i rev = _mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    int stream = w % 16 == 0;
    for (int ch = 0; ch < 3; ch++)
        stream &= ((uintptr_t)o[ch] % 64 == 0) && (!mr || (uintptr_t)mr[ch] % 64 == 0);
    size_t x = 0;
    for (; x + 16 <= w; x += 16)
        for (int ch = 0; ch < 3; ch++) {
            __m512i v = _mm512_cvtepu8_epi32(rgb_channel16(p + 3 * x, ch));
            __m512 f =
                _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(m[ch])), _mm512_set1_ps(inv[ch]));
            if (stream) {
                _mm512_stream_ps(o[ch] + x, f);
                if (mr)
                    _mm512_stream_ps(mr[ch] + (w - x - 16), _mm512_permutexvar_ps(rev, f));
                continue;
            }
            _mm512_storeu_ps(o[ch] + x, f);
            if (mr)
                _mm512_storeu_ps(mr[ch] + (w - x - 16), _mm512_permutexvar_ps(rev, f));
        }
    *done = x;
    return stream;
}
#endif

/* Each channel's mean and factor (scale 0 or none: 1) and its 256 normalised values, the
 * scalar reference both tensor layouts' vector code reproduces bit for bit. */
static void norm_table(const float mean[3], const float scale[3], float m[3], float inv[3], float lut[3][256])
{
    for (int c = 0; c < 3; c++) {
        m[c] = mean ? mean[c] : 0.0f, inv[c] = 1.0f / (scale && scale[c] != 0.0f ? scale[c] : 1.0f);
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v - m[c]) * inv[c];
    }
}

void irb__image_to_chw(const irb_image *img, const float mean[3], const float scale[3], float *out, float *mirror)
{
    size_t w = (size_t)img->width, h = (size_t)img->height, plane = w * h;
    float lut[3][256], m[3], inv[3];
    norm_table(mean, scale, m, inv, lut);
    if (img->channels == 3) { /* the decoders' RGB: a row of the three planes (and mirrors) at a time */
#if IRB_X86
        int vec = irb_cpu_simd(), streamed = 0;
#endif
        for (size_t y = 0; y < h; y++) {
            const uint8_t *p = img->data + y * w * 3;
            float *o[3] = {out + y * w, out + plane + y * w, out + 2 * plane + y * w};
            float *mr[3] = {mirror ? mirror + y * w : NULL, mirror ? mirror + plane + y * w : NULL,
                            mirror ? mirror + 2 * plane + y * w : NULL};
            size_t x = 0;
#if IRB_X86
            if (vec >= IRB_SIMD_AVX512)
                streamed |= chw_row3_avx512(p, w, m, inv, o, mirror ? mr : NULL, &x);
            else if (vec >= IRB_SIMD_SSE41)
                x = chw_row3_sse41(p, w, m, inv, o, mirror ? mr : NULL);
#endif
            for (; x < w; x++)
                for (int c = 0; c < 3; c++) {
                    float v = lut[c][p[3 * x + (size_t)c]];
                    o[c][x] = v;
                    if (mirror)
                        mr[c][w - 1 - x] = v;
                }
        }
#if IRB_X86
        if (streamed) /* non-temporal stores are weakly ordered: done before anyone reads them */
            _mm_sfence();
#endif
        return;
    }
    for (int c = 0; c < 3; c++) {
        const uint8_t *q = img->data + (img->channels > c ? c : 0);
        float *o = out + (size_t)c * plane, *mm = mirror ? mirror + (size_t)c * plane : NULL;
        for (size_t y = 0; y < h; y++) {
            float *orow = o + y * w;
            for (size_t x = 0; x < w; x++, q += img->channels)
                orow[x] = lut[c][*q];
            if (mm) {
                float *mrow = mm + y * w;
                for (size_t x = 0; x < w; x++)
                    mrow[x] = orow[w - 1 - x];
            }
        }
    }
}

#if IRB_X86
/* The per-value constants of an interleaved row, 16 pixels (48 values, three vectors) at a time:
 * value i of vector k is channel (16k + i) % 3, and the mirror's value i of vector k is the
 * block's value s = (15 - (16k + i) / 3) * 3 + (16k + i) % 3 (the same channel of the pixel at
 * the other end). Built once per image. */
typedef struct hwc_consts {
    float m[3][16], inv[3][16];
    int lo[3][16], hi[3][16]; /* s among the first two vectors; s - 32 in the third */
    uint16_t third[3];        /* the values whose s is in the third vector */
} hwc_consts;

static void hwc_consts_init(hwc_consts *k, const float m[3], const float inv[3])
{
    for (int v = 0; v < 3; v++) {
        k->third[v] = 0;
        for (int i = 0; i < 16; i++) {
            int j = 16 * v + i, s = (15 - j / 3) * 3 + j % 3;
            k->m[v][i] = m[j % 3], k->inv[v][i] = inv[j % 3];
            k->lo[v][i] = s & 31, k->hi[v][i] = s & 15;
            if (s >= 32)
                k->third[v] |= (uint16_t)(1u << i);
        }
    }
}

#define HWC_STREAM_BYTES ((size_t)1 << 20)

/* One RGB row of w pixels into the interleaved float row o (and its mirror mr, NULL for none,
 * pixels right to left, each pixel's channels in order): (v - m) * inv with the means and
 * factors laid out in the channels' pattern, the scalar table's float operations, the same bits;
 * each mirror vector is a two-source permutation of the block's first two vectors with the third
 * merged under a mask. Streams as chw_row3_avx512 does when big (a tensor of at least
 * HWC_STREAM_BYTES). */
__attribute__((target("avx512f,avx512bw"))) static int hwc_row3_avx512(const uint8_t *p, size_t w, const hwc_consts *kc,
                                                                       float *o, float *mr, int big, size_t *done)
{
    __m512 mv[3], iv[3];
    __m512i lo[3], hi[3];
    for (int k = 0; k < 3; k++) {
        mv[k] = _mm512_loadu_ps(kc->m[k]), iv[k] = _mm512_loadu_ps(kc->inv[k]);
        lo[k] = _mm512_loadu_si512(kc->lo[k]), hi[k] = _mm512_loadu_si512(kc->hi[k]);
    }
    int stream = big && w % 16 == 0 && (uintptr_t)o % 64 == 0 && (!mr || (uintptr_t)mr % 64 == 0);
    size_t x = 0;
    for (; x + 16 <= w; x += 16) {
        __m512 f[3];
        for (int k = 0; k < 3; k++) {
            __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 3 * x + 16 * (size_t)k)));
            f[k] = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(v), mv[k]), iv[k]);
            if (stream)
                _mm512_stream_ps(o + 3 * x + 16 * (size_t)k, f[k]);
            else
                _mm512_storeu_ps(o + 3 * x + 16 * (size_t)k, f[k]);
        }
        for (int k = 0; mr && k < 3; k++) {
            __m512 r = _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(f[0], lo[k], f[1]), kc->third[k], hi[k], f[2]);
            float *at = mr + 3 * (w - 16 - x) + 16 * (size_t)k;
            if (stream)
                _mm512_stream_ps(at, r);
            else
                _mm512_storeu_ps(at, r);
        }
    }
    *done = x;
    return stream;
}
#endif

void irb__image_to_hwc(const irb_image *img, const float mean[3], const float scale[3], float *out, float *mirror)
{
    size_t w = (size_t)img->width, h = (size_t)img->height, ch = (size_t)img->channels;
    float lut[3][256], m[3], inv[3];
    norm_table(mean, scale, m, inv, lut);
#if IRB_X86
    int vec = ch == 3 && irb_cpu_simd() >= IRB_SIMD_AVX512, streamed = 0;
    hwc_consts kc;
    if (vec)
        hwc_consts_init(&kc, m, inv);
    /* streamed only when the tensor outgrows a core's L2 (448 and 576, not 224): a 224 tensor,
     * read by the CNN soon after, comes from the cache, and streaming it cost the featurizer 3 %
     * (RN2 at 224, hannaboe and MLWIC frames alike) */
    int big = w * h * 3 * sizeof(float) >= HWC_STREAM_BYTES;
#endif
    for (size_t y = 0; y < h; y++) {
        const uint8_t *q = img->data + y * w * ch;
        float *o = out + y * w * 3, *mr = mirror ? mirror + y * w * 3 : NULL;
        size_t x = 0;
#if IRB_X86
        if (vec)
            streamed |= hwc_row3_avx512(q, w, &kc, o, mr, big, &x);
#endif
        for (; x < w; x++)
            for (int c = 0; c < 3; c++) {
                float v = lut[c][q[x * ch + (ch > (size_t)c ? (size_t)c : 0)]];
                o[3 * x + (size_t)c] = v;
                if (mr)
                    mr[3 * (w - 1 - x) + (size_t)c] = v;
            }
    }
#if IRB_X86
    if (streamed)
        _mm_sfence();
#endif
}

void irb_image_to_chw(const irb_image *img, const float mean[3], const float scale[3], float *out)
{
    if (!irb__image_ok(img) || !out)
        return;
    irb__image_to_chw(img, mean, scale, out, NULL);
}

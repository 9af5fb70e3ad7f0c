/* An appearance row taken from a spatial map after the net (docs/pipeline.md, the shared pass):
 * classify's shared pass and the experiment's RN2+A@M rows at bf16 / int8 both compute it here,
 * so the two give the same row to the bit. Each channel's mean is one double sum in position
 * order, whichever build runs: the vector build only changes which channels are summed side by
 * side, never the order of a channel's terms. */
#include <string.h>

#include "core/cpu.h"
#include "features/features.h"

/* Channels summed side by side in the portable build: 8 independent chains keep the adder busy
 * instead of waiting on one. */
#define MAP_MEAN_LANES 8

static void map_mean_portable(const float *map, size_t ch, size_t channels, size_t positions, float *out)
{
    for (; ch + MAP_MEAN_LANES <= channels; ch += MAP_MEAN_LANES) {
        double sum[MAP_MEAN_LANES] = {0};
        const float *m = map + ch * positions;
        for (size_t p = 0; p < positions; p++)
            for (int k = 0; k < MAP_MEAN_LANES; k++)
                sum[k] += m[(size_t)k * positions + p];
        for (int k = 0; k < MAP_MEAN_LANES; k++)
            out[ch + (size_t)k] = (float)(sum[k] / (double)positions);
    }
    for (; ch < channels; ch++) {
        double sum = 0;
        for (size_t p = 0; p < positions; p++)
            sum += map[ch * positions + p];
        out[ch] = (float)(sum / (double)positions);
    }
}

#if IRB_X86
#include "features/simd.h"

/* 16 channels at a time: 8 positions of each loaded as rows, turned into 8 vectors of 8
 * channels, each added in double to its lane's sum (position order kept); the last positions
 * (fewer than 8) one by one. Returns the channels done (a multiple of 16). */
__attribute__((target("avx512f"))) static size_t map_mean_avx512(const float *map, size_t channels, size_t positions,
                                                                 float *out)
{
    size_t ch = 0;
    for (; ch + 16 <= channels; ch += 16) {
        const float *m = map + ch * positions;
        __m512d a = _mm512_setzero_pd(), b = _mm512_setzero_pd();
        size_t p = 0;
        for (; p + 8 <= positions; p += 8) {
            __m256 r[8], q[8];
            for (int k = 0; k < 8; k++) {
                r[k] = _mm256_loadu_ps(m + (size_t)k * positions + p);
                q[k] = _mm256_loadu_ps(m + (size_t)(8 + k) * positions + p);
            }
            irb_transpose8(r);
            irb_transpose8(q);
            for (int k = 0; k < 8; k++) {
                a = _mm512_add_pd(a, _mm512_cvtps_pd(r[k]));
                b = _mm512_add_pd(b, _mm512_cvtps_pd(q[k]));
            }
        }
        double sum[16];
        _mm512_storeu_pd(sum, a);
        _mm512_storeu_pd(sum + 8, b);
        for (; p < positions; p++)
            for (int k = 0; k < 16; k++)
                sum[k] += m[(size_t)k * positions + p];
        for (int k = 0; k < 16; k++)
            out[ch + (size_t)k] = (float)(sum[k] / (double)positions);
    }
    return ch;
}
#endif

void irb_map_mean(const float *map, size_t channels, size_t positions, float *out)
{
    size_t ch = 0;
#if IRB_X86
    if (irb_cpu_simd() >= IRB_SIMD_AVX512)
        ch = map_mean_avx512(map, channels, positions, out);
#endif
    map_mean_portable(map, ch, channels, positions, out);
}

/* An H x W x C map: each position's C values side by side, added to their channels' sums, so
 * every channel's terms come in position order as above (the same bits as irb_map_mean of the
 * transposed map); the channels in blocks whose sums stay in L1. */
#define MAP_MEAN_HWC_BLOCK 512
#define MAP_MEAN_HWC_BODY                                                                                              \
    for (size_t c0 = 0; c0 < channels; c0 += MAP_MEAN_HWC_BLOCK) {                                                     \
        size_t n = channels - c0 < MAP_MEAN_HWC_BLOCK ? channels - c0 : MAP_MEAN_HWC_BLOCK;                            \
        double sum[MAP_MEAN_HWC_BLOCK];                                                                                \
        memset(sum, 0, n * sizeof *sum);                                                                               \
        for (size_t p = 0; p < positions; p++) {                                                                       \
            const float *m = map + p * channels + c0;                                                                  \
            for (size_t k = 0; k < n; k++)                                                                             \
                sum[k] += m[k];                                                                                        \
        }                                                                                                              \
        for (size_t k = 0; k < n; k++)                                                                                 \
            out[c0 + k] = (float)(sum[k] / (double)positions);                                                         \
    }

static void map_mean_hwc_portable(const float *map, size_t channels, size_t positions, float *out) { MAP_MEAN_HWC_BODY }

#if IRB_X86
__attribute__((target("avx512f"))) static void map_mean_hwc_avx512(const float *map, size_t channels, size_t positions,
                                                                   float *out)
{
    MAP_MEAN_HWC_BODY
}
#endif

void irb_map_mean_hwc(const float *map, size_t channels, size_t positions, float *out)
{
#if IRB_X86
    if (irb_cpu_simd() >= IRB_SIMD_AVX512) {
        map_mean_hwc_avx512(map, channels, positions, out);
        return;
    }
#endif
    map_mean_hwc_portable(map, channels, positions, out);
}

int irb_cut_pools_map(const irb_model_info *mi, int cut, int pool, int map)
{
    if (cut < 1 || cut > mi->n_cuts || map < 1 || map > mi->n_cuts)
        return 0;
    const irb_cut_info *a = &mi->cuts[cut - 1], *m = &mi->cuts[map - 1];
    if (m->tensor.rank != 4)
        return 0;
    if (cut == map)
        return pool;
    return cut + 1 == map && a->op && !strcmp(a->op, "GlobalAveragePool") && a->tensor.rank == 4 &&
           a->tensor.dims[1] == m->tensor.dims[1] && a->tensor.dims[2] * a->tensor.dims[3] == 1;
}

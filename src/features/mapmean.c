/* An appearance row taken from a spatial map after the net (docs/pipeline.md, the shared pass):
 * classify's shared pass and the experiment's RN2+A@M rows at bf16 / int8 both compute it here,
 * so the two give the same row to the bit. */
#include <string.h>

#include "features/features.h"

/* Channels summed side by side: each channel's sum is still one chain in position order (the
 * same bits as channel by channel), but 8 independent chains keep the adder busy instead of
 * waiting on one (a 576 net's 1280 x 324 map: about 4x faster on the calling thread). */
#define MAP_MEAN_LANES 8

void irb_map_mean(const float *map, size_t channels, size_t positions, float *out)
{
    size_t ch = 0;
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

/* An appearance row taken from a spatial map after the net (docs/pipeline.md, the shared pass):
 * classify's shared pass and the experiment's RN2+A@M rows at bf16 / int8 both compute it here,
 * so the two give the same row to the bit. */
#include <string.h>

#include "features/features.h"

void irb_map_mean(const float *map, size_t channels, size_t positions, float *out)
{
    for (size_t ch = 0; ch < channels; ch++) {
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

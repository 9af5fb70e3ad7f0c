/* Benchmark (not a test): ms per irb_resize of a random RGB image, for the size pairs of the
 * pipelines (camera frames 1280 x 720 and 1920 x 1080 decoded whole or at 7/8, 256 x 256 frames;
 * to 576, 448 and 224 wide), the horizontal pass alone (the height kept) and whole (a square).
 *   bench_resize [REPEATS [CHANNELS]]     prints "<in> -> <out> h_ms hv_ms" per pair, best of REPEATS
 * BENCH_SIMD=N caps the vector level (core/cpu.h: 2 AVX2, 4 AVX-512 VBMI) as in bench_stages. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/cpu.h"
#include "irbis.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/* best ms of reps resizes of src to ow x oh (bilinear), -1 on failure */
static double best_ms(const irb_image *src, int ow, int oh, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        irb_image out = {0};
        double t0 = now();
        irb_status s = irb_resize(src, 0, 0, 0, 0, ow, oh, IRB_FILTER_BILINEAR, &out, NULL);
        double dt = now() - t0;
        irb_image_release(&out);
        if (s != IRB_OK)
            return -1;
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const int pairs[][3] = {{1280, 720, 576},  {1280, 720, 448},  {1280, 720, 224},
                                   {1920, 1080, 576}, {1920, 1080, 224}, {1120, 630, 576},
                                   {256, 256, 224},   {256, 256, 448},   {256, 256, 576}};
    int reps = argc > 1 ? atoi(argv[1]) : 20, c = argc > 2 ? atoi(argv[2]) : 3;
    if (getenv("BENCH_SIMD"))
        irb__simd_cap(atoi(getenv("BENCH_SIMD")));
    if (reps < 1 || c < 1 || c > 4) {
        fprintf(stderr, "usage: bench_resize [REPEATS [CHANNELS]]\n");
        return 2;
    }
    uint32_t seed = 1;
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        int w = pairs[i][0], h = pairs[i][1], ow = pairs[i][2];
        irb_image src = {w, h, c, malloc((size_t)w * h * c)};
        if (!src.data)
            return 1;
        for (size_t j = 0; j < (size_t)w * h * c; j++)
            src.data[j] = (uint8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
        double th = best_ms(&src, ow, h, reps), thv = best_ms(&src, ow, ow, reps);
        printf("%dx%d -> %d %.3f %.3f\n", w, h, ow, th, thv);
        free(src.data);
    }
    return 0;
}

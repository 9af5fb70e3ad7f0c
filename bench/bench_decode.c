/* Benchmark (not a test): ms per image to go from a JPEG file to the 224x224 network input
 * (short side 256, centre crop 224, bilinear), with DCT-scaled decoding and with a full decode.
 *   bench_decode REPEATS FILE...     prints "<file> dct_ms full_ms" per file */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "irbis.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static double time_one(irb_decoder_t *dec, const char *path, int full, int reps, float *out)
{
    irb_preproc pp = irb_preproc_default(224);
    pp.mode = IRB_RESIZE_SHORT_CROP;
    pp.short_side = 256;
    pp.full_decode = full;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (irb_preprocess_file(dec, path, &pp, out, NULL) != IRB_OK) {
            fprintf(stderr, "%s\n", irb_decoder_error(dec)->message);
            return -1;
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_decode REPEATS FILE...\n");
        return 2;
    }
    int reps = atoi(argv[1]);
    irb_decoder_t *dec = NULL;
    float *out = malloc(sizeof(float) * 3 * 224 * 224);
    if (!out || irb_decoder_new(&dec) != IRB_OK)
        return 3;
    for (int i = 2; i < argc; i++)
        printf("%s %.2f %.2f\n", argv[i], time_one(dec, argv[i], 0, reps, out), time_one(dec, argv[i], 1, reps, out));
    irb_decoder_free(dec);
    free(out);
    return 0;
}

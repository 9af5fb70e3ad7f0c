/* Benchmark (not a test): ms per image to go from a JPEG file to the 224x224 network input
 * (short side 256, centre crop 224, bilinear), with DCT-scaled decoding and with a full decode.
 *   bench_decode REPEATS FILE...     prints "<file> dct_ms full_ms" per file
 *   bench_decode --scales REPEATS FILE...
 *       the whole frame squashed to 224, 448 and 576 (a multi-size pipeline's inputs), with the
 *       DCT scale picked from every scale (IRB_DCT_ANY) and from 1/8, 1/4, 1/2, 1/1
 *       (IRB_DCT_FAST), interleaved: "<file> <size> any <scale> <ms> fast <scale> <ms>"
 *   bench_decode --floor REPEATS FILE...
 *       the floor under a JPEG's decode: libjpeg-turbo (TurboJPEG) at 1/8, which entropy-decodes
 *       every block and keeps its DC term (no IDCT beyond it), against TurboJPEG at the scale a
 *       224 x 224 squash picks and irbis's whole preprocessing to that tensor (channels last,
 *       as classify's); the mean over the files of each one's best, one thread:
 *       "floor <ms> scaled <num>/<den> <ms> preprocess <ms> (N files)" */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbojpeg.h>

#include "core/alloc.h"
#include "core/file.h"
#include "irbis.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static double time_pp(irb_decoder_t *dec, const char *path, const irb_preproc *pp, int reps, float *out,
                      irb_image_info *info);

static double time_one(irb_decoder_t *dec, const char *path, int full, int reps, float *out)
{
    irb_preproc pp = irb_preproc_default(224);
    pp.mode = IRB_RESIZE_SHORT_CROP;
    pp.short_side = 256;
    pp.full_decode = full;
    return time_pp(dec, path, &pp, reps, out, NULL);
}

/* The best of reps runs of pp on path, in ms (-1 on failure); info: the last run's. */
static double time_pp(irb_decoder_t *dec, const char *path, const irb_preproc *pp, int reps, float *out,
                      irb_image_info *info)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (irb_preprocess_file(dec, path, pp, out, info) != IRB_OK) {
            fprintf(stderr, "%s\n", irb_decoder_error(dec)->message);
            return -1;
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

/* --scales: each size with either set of DCT scales, the two interleaved rep by rep */
static void scales(irb_decoder_t *dec, const char *path, int reps, float *out)
{
    static const int sizes[] = {224, 448, 576};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        irb_preproc pp[2] = {irb_preproc_default(sizes[k]), irb_preproc_default(sizes[k])};
        pp[0].mode = pp[1].mode = IRB_RESIZE_SQUASH;
        pp[0].scales = IRB_DCT_ANY, pp[1].scales = IRB_DCT_FAST;
        double best[2] = {1e30, 1e30};
        irb_image_info info[2] = {{0}, {0}};
        for (int r = 0; r < reps; r++)
            for (int j = 0; j < 2; j++) {
                double t = time_pp(dec, path, &pp[j], 1, out, &info[j]);
                best[j] = t < best[j] ? t : best[j];
            }
        printf("%s %d any %d/%d %.2f fast %d/%d %.2f\n", path, sizes[k], info[0].scale_num, info[0].scale_denom,
               best[0], info[1].scale_num, info[1].scale_denom, best[1]);
    }
}

/* --floor: see the header */
static int floor_run(irb_decoder_t *dec, char **files, int n, int reps, float *out)
{
    tjhandle tj = tjInitDecompress();
    unsigned char *px = NULL;
    void *buf = NULL;
    size_t px_cap = 0;
    double sum[3] = {0, 0, 0};
    int done = 0, num = 0, den = 0;
    for (int i = 0; tj && i < n; i++, irb_free(buf), buf = NULL) {
        size_t len = 0;
        irb_error err = {0};
        if (irb_read_file(files[i], (size_t)1 << 30, &buf, &len, &err) != IRB_OK) {
            fprintf(stderr, "%s\n", err.message);
            continue;
        }
        int w = 0, h = 0, sub = 0, cs = 0;
        irb_preproc pp = irb_preproc_default(224);
        pp.mode = IRB_RESIZE_SQUASH;
        pp.channels_last = 1;
        irb_image_info info = {0};
        if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &sub, &cs) != 0 ||
            irb_preprocess_file(dec, files[i], &pp, out, &info) != IRB_OK) {
            fprintf(stderr, "%s: not a JPEG irbis decodes\n", files[i]);
            continue;
        }
        int sw[2] = {(w + 7) / 8, (w * info.scale_num + info.scale_denom - 1) / info.scale_denom};
        int sh[2] = {(h + 7) / 8, (h * info.scale_num + info.scale_denom - 1) / info.scale_denom};
        size_t need = (size_t)sw[1] * (size_t)sh[1] * 3;
        if (need > px_cap) {
            unsigned char *p = realloc(px, need);
            if (!p) {
                fprintf(stderr, "%s: out of memory\n", files[i]);
                break;
            }
            px = p, px_cap = need;
        }
        double best[3] = {1e30, 1e30, 1e30};
        for (int r = 0; r < reps; r++) {
            for (int k = 0; k < 2; k++) {
                double t0 = now();
                tjDecompress2(tj, buf, (unsigned long)len, px, sw[k], 0, sh[k], TJPF_RGB, 0);
                double t = now() - t0;
                best[k] = t < best[k] ? t : best[k];
            }
            double t = time_pp(dec, files[i], &pp, 1, out, NULL);
            best[2] = t < best[2] ? t : best[2];
        }
        for (int k = 0; k < 3; k++)
            sum[k] += best[k];
        num = info.scale_num, den = info.scale_denom;
        done++;
    }
    if (done)
        printf("floor %.3f scaled %d/%d %.3f preprocess %.3f (%d files)\n", sum[0] / done, num, den, sum[1] / done,
               sum[2] / done, done);
    if (tj)
        tjDestroy(tj);
    free(px), irb_free(buf);
    return done ? 0 : 3;
}

int main(int argc, char **argv)
{
    int floor_mode = argc > 1 && !strcmp(argv[1], "--floor");
    argv += floor_mode, argc -= floor_mode;
    int by_scale = argc > 1 && !strcmp(argv[1], "--scales");
    argv += by_scale, argc -= by_scale;
    if (by_scale || floor_mode) {
        /* one thread freeing and taking back the same few hundred KB in a loop: glibc returns the
         * heap's top to the kernel at each free and faults it in again at the next call, which
         * on this paravirtualised host cost up to 2.5 ms a 256 x 256 frame, depending on the heap's
         * state (the featurizer's threads do not show it); measure the decode, not that */
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
    }
    if (argc < 3) {
        fprintf(stderr, "usage: bench_decode [--scales | --floor] REPEATS FILE...\n");
        return 2;
    }
    int reps = atoi(argv[1]);
    irb_decoder_t *dec = NULL;
    float *out = malloc(sizeof(float) * 3 * 576 * 576);
    if (!out || irb_decoder_new(&dec) != IRB_OK)
        return 3;
    if (floor_mode) {
        int rc = floor_run(dec, argv + 2, argc - 2, reps, out);
        irb_decoder_free(dec);
        free(out);
        return rc;
    }
    for (int i = 2; i < argc; i++)
        if (by_scale)
            scales(dec, argv[i], reps, out);
        else
            printf("%s %.2f %.2f\n", argv[i], time_one(dec, argv[i], 0, reps, out),
                   time_one(dec, argv[i], 1, reps, out));
    irb_decoder_free(dec);
    free(out);
    return 0;
}

/* Novelty scoring speed (not a test; bench/bench_novelty.py drives it against scikit-learn).
 * Reads raw float32 rows, fits a novelty model on the training rows (held-out scores over
 * `folds` folds of single rows, as irbis train does without groups) and scores the queries in
 * one call, as classify scores a batch. Writes the query scores (float64) to OUT and prints one
 * line: "fit S s score M ms/query threshold T". Only the public API: it builds against any
 * version of the library that has irb_novelty_fit / irb_novelty_score.
 *
 *   bench_novelty TRAIN.f32 N QUERIES.f32 Q DIM FOLDS OUT.f64
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "irbis/pipeline.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *read_rows(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *x = f ? malloc(n * sizeof *x) : NULL;
    if (!x || fread(x, sizeof *x, n, f) != n) {
        fprintf(stderr, "bench_novelty: cannot read %zu floats from %s\n", n, path);
        exit(1);
    }
    fclose(f);
    return x;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: bench_novelty TRAIN.f32 N QUERIES.f32 Q DIM FOLDS OUT.f64\n");
        return 2;
    }
    size_t n = strtoul(argv[2], NULL, 10), q = strtoul(argv[4], NULL, 10);
    int dim = atoi(argv[5]), folds = atoi(argv[6]);
    float *x = read_rows(argv[1], n * (size_t)dim), *y = read_rows(argv[3], q * (size_t)dim);
    double *score = malloc(q * sizeof *score);
    irb_error err = {0};
    irb_novelty *nv = NULL;
    double t0 = now();
    if (!score || irb_novelty_fit(x, n, dim, NULL, folds, 0.95, 0, NULL, &nv, &err) != IRB_OK) {
        fprintf(stderr, "bench_novelty: %s\n", err.message);
        return 1;
    }
    double t1 = now();
    if (irb_novelty_score(nv, y, q, dim, score, &err) != IRB_OK) {
        fprintf(stderr, "bench_novelty: %s\n", err.message);
        return 1;
    }
    double t2 = now();
    FILE *f = fopen(argv[7], "wb");
    if (!f || fwrite(score, sizeof *score, q, f) != q || fclose(f)) {
        fprintf(stderr, "bench_novelty: cannot write %s\n", argv[7]);
        return 1;
    }
    printf("fit %.3f s score %.4f ms/query threshold %.9f\n", t1 - t0, (t2 - t1) * 1e3 / (double)q, nv->threshold);
    irb_novelty_free(nv);
    free(x), free(y), free(score);
    return 0;
}

/* Benchmark (not a test): the stages of `irbis classify --pipeline` alone, on a pipeline's own
 * inputs (its sizes, preprocessings, cuts and mirrors: the classify engine's featurizer inputs,
 * an appearance part served by a motion input's pass included, as classify runs them):
 *   decode      the featurizer with no nets: every image read, decoded and preprocessed for
 *               every input (the preprocessed tensors are the rows)
 *   cnn         each input's net on batches of preprocessed tensors already in memory, the
 *               mirrors included (rate: images through every input's net)
 *   classifier  each part's classifier on rows of its width (batches of 16)
 *   featurizer  decode and CNN together, as classify runs them (decode of the next chunk
 *               overlapped with the nets)
 *   bench_stages PIPELINE MODEL THREADS LIST_FILE [REPEATS [ROUNDS [STAGES]]]
 * prints "passes P" (CNN passes per image), then "stage images/s" lines, the four stages per
 * round (REPEATS: CNN batches per input, default 4; ROUNDS default 1; STAGES: letters of the
 * stages to run, d n c f, default all; with i, the CNN stage also prints each input's rate).
 * BENCH_SIMD=L in the environment caps the library's vector level at L (0 portable, 1 SSE4.1,
 * 2 AVX2, 3 AVX-512, 4 AVX-512 VBMI: src/core/cpu.h), to time an AVX2 machine's builds here.
 * The survey run itself (scan, store, outputs) is timed by bench/bench_pipeline.py, which
 * drives this. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "irbis.h"
#include "irbis/experiment.h"
#include "irbis/pipeline.h"
#include "classify/classify_internal.h"
#include "core/alloc.h"
#include "core/cpu.h"

#define MAX_IN (IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS)
#define BATCH  16

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Wall seconds of the timed parts of a stage, and its images. (No CPU time: on this host's
 * paravirtualised kernel a live process's CPU clocks count the time its vCPUs were stolen.) */
typedef struct span {
    double wall, w0;
    double images;
} span;

static void span_start(span *t) { t->w0 = now(); }
static void span_stop(span *t) { t->wall += now() - t->w0; }

static void report(const char *stage, const span *t)
{
    printf("%s %.3f\n", stage, t->wall > 0 ? t->images / t->wall : 0);
    fflush(stdout);
}

typedef struct bench {
    irb_pipeline *p;
    irb_classify_opts o;
    irb_cls_real *real;
    irb_cls_engine engine;
    irb_feat_input in[MAX_IN];
    int n_in, threads;
    char **paths;
    size_t n;
} bench;

static int fail(const char *what, const irb_error *e)
{
    fprintf(stderr, "bench_stages: %s: %s\n", what, e ? e->message : "");
    return 1;
}

static int load(bench *b, const char *pipe, const char *model, const char *list)
{
    irb_error err = {0};
    if (irb_pipeline_load(pipe, &b->p, &err) != IRB_OK)
        return fail(pipe, &err);
    irb_classify_opts_default(&b->o);
    b->o.pipeline_path = pipe, b->o.model_path = model;
    b->o.threads = b->threads, b->o.batch = BATCH;
    const irb_feat_input *in = NULL;
    if (irb_cls_real_new(&b->o, &b->real, &err) != IRB_OK || irb_cls_real_engine(b->real, &b->engine, &err) != IRB_OK)
        return fail("the classify engine", &err);
    b->n_in = irb_cls_real_inputs(b->engine.ctx, &in);
    memcpy(b->in, in, (size_t)b->n_in * sizeof *in);
    FILE *f = fopen(list, "r");
    char line[8192];
    size_t cap = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!*line)
            continue;
        if (b->n == cap && !(b->paths = realloc(b->paths, (cap = cap ? 2 * cap : 256) * sizeof *b->paths)))
            return fclose(f), 1;
        b->paths[b->n++] = strdup(line);
    }
    if (f)
        fclose(f);
    return b->n ? 0 : (fprintf(stderr, "bench_stages: no images in %s\n", list), 1);
}

static void no_row(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim, const irb_error *e)
{
    (void)ctx, (void)index, (void)input, (void)flipped, (void)row, (void)dim, (void)e;
}

/* The featurizer over every image, with the nets (nets = 1) or without. */
static void featurize(bench *b, int nets, span *t)
{
    irb_feat_input in[MAX_IN];
    for (int j = 0; j < b->n_in; j++) {
        in[j] = b->in[j];
        if (!nets)
            in[j].net = NULL;
    }
    irb_featurizer_opts fo = {.threads = b->threads, .batch = BATCH};
    irb_featurizer *f = NULL;
    irb_error err = {0};
    if (irb_featurizer_new(in, b->n_in, &fo, &f, &err) != IRB_OK) {
        fail("featurizer", &err);
        return;
    }
    span_start(t);
    irb_status s = irb_featurizer_run(f, (const char *const *)b->paths, b->n, NULL, no_row, NULL, &err);
    span_stop(t);
    irb_featurizer_free(f);
    if (s != IRB_OK)
        fail("featurizer run", &err);
    else
        t->images += (double)b->n;
}

/* Every input's net on `reps` batches of BATCH images (mirrors doubling the rows): an image
 * has gone through the CNN when it has gone through every input's net. With each = 1, also
 * prints each input's own rate: "input J SIZE PASSES images/s". */
static void cnn(bench *b, int reps, int each, span *t)
{
    for (int j = 0; j < b->n_in; j++) {
        int rows = BATCH * (b->in[j].flip == 1 ? 2 : 1);
        size_t in_dim = (size_t)3 * b->in[j].pp.size * b->in[j].pp.size;
        /* allocated as the featurizer's tensors and rows are (huge pages where the kernel gives them:
         * a map written position by position into 4 KiB pages took its last conv 2.6x as long) */
        float *x = irb_malloc_large((size_t)rows * in_dim, sizeof *x);
        float *y = irb_malloc_large((size_t)rows * irb_net_output_size(b->in[j].net), sizeof *y);
        if (!x || !y) {
            irb_free(x), irb_free(y);
            return;
        }
        for (size_t i = 0; i < (size_t)rows * in_dim; i++)
            x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        irb_net_run(b->in[j].net, x, rows, y); /* warm-up */
        double w = t->wall;
        span_start(t);
        for (int r = 0; r < reps; r++)
            irb_net_run(b->in[j].net, x, rows, y);
        span_stop(t);
        if (each)
            printf("input %d %d %d %.3f\n", j, b->in[j].pp.size, rows / BATCH, reps * BATCH / (t->wall - w));
        irb_free(x), irb_free(y);
    }
    t->images += (double)reps * BATCH;
}

/* Every part's classifier on rows of its width (100 x reps batches). */
static void classifier(bench *b, int reps, span *t)
{
    for (int k = 0; k < b->p->n_parts; k++) {
        const irb_pipeline_part *q = &b->p->parts[k];
        int dim = irb_classifier_dim(q->clf), rows = BATCH * (q->kind == IRB_PART_APPEARANCE && q->mirror ? 2 : 1);
        float *x = malloc((size_t)rows * dim * sizeof *x);
        double *prob = malloc((size_t)rows * b->p->n_classes * sizeof *prob);
        if (!x || !prob) {
            free(x), free(prob);
            return;
        }
        for (size_t i = 0; i < (size_t)rows * dim; i++)
            x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
        irb_error err = {0};
        span_start(t);
        for (int r = 0; r < reps * 100; r++)
            irb_classifier_predict(q->clf, x, (size_t)rows, dim, prob, &err);
        span_stop(t);
        free(x), free(prob);
    }
    t->images += (double)reps * 100 * BATCH;
}

int main(int argc, char **argv)
{
    cli_process_setup(); /* as the CLI: OpenBLAS's idle threads stopped */
    if (getenv("BENCH_SIMD"))
        irb__simd_cap(atoi(getenv("BENCH_SIMD")));
    if (argc < 5) {
        fprintf(stderr, "usage: bench_stages PIPELINE MODEL THREADS LIST_FILE [REPEATS [ROUNDS [STAGES]]]\n");
        return 2;
    }
    bench b = {.threads = atoi(argv[3])};
    int reps = argc > 5 ? atoi(argv[5]) : 4, rounds = argc > 6 ? atoi(argv[6]) : 1;
    const char *which = argc > 7 ? argv[7] : "dncf";
    int rc = load(&b, argv[1], argv[2], argv[4]);
    int passes = 0; /* CNN passes per image: an input's net on the image, and on its mirror */
    for (int j = 0; rc == 0 && j < b.n_in; j++)
        passes += b.in[j].net ? 1 + (b.in[j].flip == 1) : 0;
    if (rc == 0)
        printf("passes %d\n", passes);
    for (int r = 0; rc == 0 && r < rounds; r++) { /* stages interleaved, round by round */
        span t[4] = {{0}};
        static const char *const name[4] = {"decode", "cnn", "classifier", "featurizer"};
        if (strchr(which, 'd'))
            featurize(&b, 0, &t[0]);
        if (strchr(which, 'n'))
            cnn(&b, reps, strchr(which, 'i') != NULL, &t[1]);
        if (strchr(which, 'c'))
            classifier(&b, reps, &t[2]);
        if (strchr(which, 'f'))
            featurize(&b, 1, &t[3]);
        for (int k = 0; k < 4; k++)
            if (t[k].images > 0)
                report(name[k], &t[k]);
    }
    if (b.engine.free)
        b.engine.free(b.engine.ctx);
    irb_cls_real_free(b.real);
    for (size_t i = 0; i < b.n; i++)
        free(b.paths[i]);
    free(b.paths);
    irb_pipeline_free(b.p);
    return rc;
}

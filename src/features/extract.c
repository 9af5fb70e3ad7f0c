/* The one featurizer (docs/design.md): decode -> preprocess -> CNN -> rows, for one or several
 * inputs at once (a pipeline's sizes, cuts and mirrors). Each image file is read and decoded
 * once for all its inputs (irb_preprocess_multi), a mirror beside its tensor in the same pass
 * (irb_preproc.flip = 2). Images go in chunks; while one chunk's rows go through the nets, the
 * next chunk decodes:
 *   - one queue (every net with a per-image slot per worker, irb_net_slots): the pool's workers
 *     take CNN rows (a decoded image's, oldest chunk first, largest input first), else images to
 *     decode, with no barrier between chunks (sched_take);
 *   - otherwise the next chunk decodes on the pool while this thread runs the nets (irb_net_run).
 * Rows are handed out on the calling thread after each chunk, input by input, in image order.
 * Buffers live as long as the featurizer, so a long run allocates nothing per chunk. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "image/internal.h"
#include "irbis/features.h"

/* Preprocessed floats held per buffer set (16 MiB): bounds a chunk of large multi-input images
 * (the demo pipeline: 1 image, 3 sizes, mirrored). Smaller chunks cost no speed (measured: 1, 2,
 * 4 and 9 images per chunk alike) and each new page costs its first touch (docs/pipeline.md). */
#define CHUNK_FLOATS ((size_t)4 << 20)

typedef struct in_state {
    irb_feat_input in;
    size_t in_dim, out_dim;
    int per_image; /* rows per image at most: 2 with flip = 1, else 1 */
} in_state;

/* One chunk of images: their inputs decoded into rows, ready for the nets. */
typedef struct chunk {
    size_t first, count;
    float **rows;             /* per input: count x per_image x in_dim */
    long **slot;              /* per input: image -> its first row, -1 when the input skips it */
    unsigned char **mirrored; /* per input: image -> 1 when its mirror's row follows its own */
    int *n_rows;              /* per input */
    irb_error *status;        /* per image */
    float **output;           /* per input with a net: its rows through the net (count x per_image x out_dim) */
    /* the mixed queue's tasks: the CNN rows, inputs largest first (order), then in image order */
    size_t *at;                  /* at[k]: the first task of input order[k]; at[n_in]: the tasks */
    size_t *row_image;           /* task -> its image */
    unsigned char *ready;        /* image -> 1 once decoded */
    size_t decode_next, decoded; /* images taken to decode, and decoded */
    size_t cnn_next, cnn_done;   /* tasks taken, and done */
} chunk;

struct irb_featurizer {
    in_state *in;
    int n_in;
    int *order; /* inputs by decreasing size: the order their nets run in */
    int chunk_max;
    irb_pool *pool;
    irb_decoder_t **dec;
    int workers;
    chunk set[3]; /* the mixed queue: one delivered, one through the nets, one decoding (else 2) */
    int mixed;
    irb_preproc *pps; /* per worker: n_in preprocessings of one image */
    float ***outs;    /* per worker: n_in output pointers */
    int *which;       /* per worker: input index of each preprocessing */
    /* the run */
    const char *const *paths;
    const unsigned char *mark;
};

static int wants(const irb_featurizer *f, int j, size_t image) { return f->in[j].in.all || !f->mark || f->mark[image]; }

/* Whether input j mirrors the image (flip = 1: its mirror's row follows its own). */
static int mirrors(const irb_featurizer *f, int j, size_t image)
{
    const irb_feat_input *in = &f->in[j].in;
    return in->flip == 1 && (!in->mirror_marked || !f->mark || f->mark[image]);
}

typedef struct decode_job {
    irb_featurizer *f;
    chunk *c;
} decode_job;

/* A job on the pool run from a thread of its own, so the caller works meanwhile (in line, before
 * bg_start returns, when no thread can start). */
typedef struct bg_run {
    irb_pool *pool;
    void (*fn)(void *ctx, int ith, int nth);
    void *ctx;
    pthread_t thread;
    int running;
} bg_run;

static void *bg_main(void *arg)
{
    bg_run *b = arg;
    irb_pool_run(b->pool, b->fn, b->ctx);
    return NULL;
}

/* Starts the job on a thread of its own; 0 when no thread can start (nothing run). */
static int bg_try(bg_run *b, irb_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx)
{
    *b = (bg_run){.pool = pool, .fn = fn, .ctx = ctx};
    b->running = pthread_create(&b->thread, NULL, bg_main, b) == 0;
    return b->running;
}

static void bg_start(bg_run *b, irb_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx)
{
    if (!bg_try(b, pool, fn, ctx))
        irb_pool_run(pool, fn, ctx);
}

static void bg_wait(bg_run *b)
{
    if (b->running)
        pthread_join(b->thread, NULL);
    b->running = 0;
}

/* Worker ith decodes image i of the chunk, every input that wants it at once. */
static void decode_one(irb_featurizer *f, chunk *c, size_t i, int ith)
{
    irb_preproc *pps = f->pps + (size_t)ith * f->n_in;
    float **outs = f->outs[ith];
    int *which = f->which + (size_t)ith * f->n_in;
    int n = 0;
    for (int j = 0; j < f->n_in; j++) {
        if (c->slot[j][i] < 0)
            continue;
        /* a mirror follows its image's row (flip 2); flip = 2 inputs see only the mirror */
        pps[n] = f->in[j].in.pp;
        pps[n].flip = c->mirrored[j][i] ? 2 : f->in[j].in.flip == 2;
        outs[n] = c->rows[j] + (size_t)c->slot[j][i] * f->in[j].in_dim;
        which[n++] = j;
    }
    if (n == 0) {
        irb_error_clear(&c->status[i]);
        return;
    }
    irb_decoder_t *d = f->dec[ith];
    irb_status s = irb_preprocess_multi(d, f->paths[c->first + i], pps, n, outs, NULL);
    irb_error_copy(&c->status[i], irb_decoder_error(d));
    c->status[i].status = s;
    for (int k = 0; k < n && s != IRB_OK; k++) { /* the nets still run on the slot: give them zeros */
        const in_state *is = &f->in[which[k]];
        memset(outs[k], 0, is->in_dim * (size_t)(1 + c->mirrored[which[k]][i]) * sizeof(float));
    }
}

/* Worker ith decodes images ith, ith + nth, ... of the chunk. */
static void decode_part(void *ctx, int ith, int nth)
{
    decode_job *job = ctx;
    for (size_t i = (size_t)ith; i < job->c->count; i += (size_t)nth)
        decode_one(job->f, job->c, i, ith);
}

/* Lays out the chunk of images [first, first + count): each input's rows for the images it wants,
 * and the mixed queue's tasks. */
static void chunk_plan(irb_featurizer *f, chunk *c, size_t first, size_t count)
{
    c->first = first, c->count = count;
    c->decode_next = c->decoded = c->cnn_next = c->cnn_done = 0;
    memset(c->ready, 0, count);
    for (int j = 0; j < f->n_in; j++) {
        int r = 0;
        for (size_t i = 0; i < count; i++) {
            int w = wants(f, j, first + i);
            c->slot[j][i] = w ? r : -1;
            c->mirrored[j][i] = (unsigned char)(w && mirrors(f, j, first + i));
            r += w ? 1 + c->mirrored[j][i] : 0;
        }
        c->n_rows[j] = r;
    }
    size_t t = 0;
    for (int k = 0; k < f->n_in; k++) {
        int j = f->order[k];
        c->at[k] = t;
        for (size_t i = 0; f->in[j].in.net && i < count; i++)
            for (long r = 0; c->slot[j][i] >= 0 && r < 1 + c->mirrored[j][i]; r++)
                c->row_image[t++] = i;
    }
    c->at[f->n_in] = t;
}

/* Hands the chunk's rows out, input by input, in image order. */
static void deliver(irb_featurizer *f, const chunk *c, irb_feat_fn fn, void *ctx)
{
    for (int j = 0; j < f->n_in; j++) {
        const in_state *is = &f->in[j];
        const float *result = is->in.net ? c->output[j] : c->rows[j];
        size_t dim = is->in.net ? is->out_dim : is->in_dim;
        for (size_t i = 0; i < c->count; i++) {
            if (c->slot[j][i] < 0)
                continue;
            if (c->status[i].status != IRB_OK) {
                fn(ctx, c->first + i, j, 0, NULL, dim, &c->status[i]);
                continue;
            }
            const float *row = result + (size_t)c->slot[j][i] * dim;
            if (is->in.flip != 2)
                fn(ctx, c->first + i, j, 0, row, dim, &c->status[i]);
            if (is->in.flip == 2 || c->mirrored[j][i])
                fn(ctx, c->first + i, j, 1, row + (is->in.flip == 1 ? dim : 0), dim, &c->status[i]);
        }
    }
}

/* Runs each input's net on the chunk, the largest inputs first (a net's activation memory is then
 * reused by the smaller ones: src/backends/onednn/engine.c). */
static irb_status run_nets(irb_featurizer *f, const chunk *c, irb_error *err)
{
    for (int k = 0; k < f->n_in; k++) {
        const in_state *is = &f->in[f->order[k]];
        int j = f->order[k];
        if (is->in.net && c->n_rows[j] > 0 &&
            irb_net_run(is->in.net, c->rows[j], c->n_rows[j], c->output[j]) != IRB_OK) {
            irb_error_copy(err, irb_net_error(is->in.net));
            return err && err->status != IRB_OK ? err->status : IRB_INTERNAL;
        }
    }
    return IRB_OK;
}

/* The mixed queue, without a barrier between chunks. Chunk k lives in set k % 3; the pool's
 * workers take, in this order: the oldest chunk's next CNN row whose image is decoded (inputs
 * largest first, rows in image order, worker ith on the nets' slot ith), the next image to decode
 * of the oldest chunk with one left, or the first image of a new chunk when its set is free (the
 * chunk three before it delivered). So a worker that ends one chunk's last row goes on with the
 * next chunk's rows or images while the other finishes, and decoding fills the cores the nets
 * leave. This thread hands each chunk's rows out as soon as all of them are done, in order. */
typedef struct sched {
    irb_featurizer *f;
    size_t n;      /* images in the run */
    long chunks;   /* chunks in the run */
    long planned;  /* chunks laid out so far (0, 1, ...) */
    long finished; /* chunks whose rows are all done (in order) */
    long given;    /* chunks delivered */
    int failed;
    irb_error err; /* the first failure's */
    pthread_mutex_t mu;
    pthread_cond_t work; /* workers: a row's image decoded, a set freed, the run failed */
    pthread_cond_t done; /* this thread: a chunk finished, the run failed */
} sched;

enum { TASK_NONE, TASK_DECODE, TASK_CNN, TASK_STOP };

/* Under the lock: the next task for a worker (its chunk's set in *c, image or row in *t). */
static int sched_take(sched *q, chunk **c, size_t *t)
{
    irb_featurizer *f = q->f;
    if (q->failed)
        return TASK_STOP;
    for (long k = q->given; k < q->planned; k++) { /* CNN rows first (delivered chunks have none) */
        chunk *h = &f->set[k % 3];
        if (h->cnn_next < h->at[f->n_in] && h->ready[h->row_image[h->cnn_next]]) {
            *c = h, *t = h->cnn_next++;
            return TASK_CNN;
        }
    }
    for (long k = q->given; k < q->planned; k++) {
        chunk *h = &f->set[k % 3];
        if (h->decode_next < h->count) {
            *c = h, *t = h->decode_next++;
            return TASK_DECODE;
        }
    }
    size_t step = (size_t)f->chunk_max, first = (size_t)q->planned * step;
    if (q->planned < q->chunks && q->planned - q->given < 3) { /* a new chunk in a free set */
        chunk *h = &f->set[q->planned % 3];
        chunk_plan(f, h, first, q->n - first < step ? q->n - first : step);
        q->planned++;
        *c = h, *t = h->decode_next++;
        return TASK_DECODE;
    }
    /* nothing to take now: wait for an image to decode or a set to free, unless every task of the
     * run is taken (a row whose image another worker is decoding is not) */
    for (long k = q->given; k < q->planned; k++) {
        const chunk *h = &f->set[k % 3];
        if (h->cnn_next < h->at[f->n_in])
            return TASK_NONE;
    }
    return q->planned == q->chunks ? TASK_STOP : TASK_NONE;
}

/* Under the lock: marks a task of chunk c done, and the chunks it finishes. */
static void sched_done(sched *q, chunk *c, int kind, size_t t)
{
    irb_featurizer *f = q->f;
    if (kind == TASK_DECODE) {
        c->ready[t] = 1;
        c->decoded++;
        pthread_cond_broadcast(&q->work);
    } else {
        c->cnn_done++;
    }
    int any = 0;
    while (q->finished < q->planned) {
        const chunk *h = &f->set[q->finished % 3];
        if (h->decoded < h->count || h->cnn_done < h->at[f->n_in])
            break;
        q->finished++, any = 1;
    }
    if (any)
        pthread_cond_signal(&q->done);
}

/* One CNN row: task t of chunk c, on the nets' slot ith. */
static irb_status sched_row(irb_featurizer *f, const chunk *c, size_t t, int ith, irb_error *e)
{
    int k = 0;
    while (t >= c->at[k + 1])
        k++;
    int j = f->order[k];
    const in_state *is = &f->in[j];
    size_t r = t - c->at[k];
    return irb_net_run_slot(is->in.net, ith, c->rows[j] + r * is->in_dim, c->output[j] + r * is->out_dim, e);
}

static void sched_worker(void *ctx, int ith, int nth)
{
    (void)nth;
    sched *q = ctx;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        chunk *c = NULL;
        size_t t = 0;
        int kind = sched_take(q, &c, &t);
        if (kind == TASK_STOP)
            break;
        if (kind == TASK_NONE) {
            pthread_cond_wait(&q->work, &q->mu);
            continue;
        }
        pthread_mutex_unlock(&q->mu);
        irb_error e = {0};
        irb_status s = IRB_OK;
        if (kind == TASK_DECODE)
            decode_one(q->f, c, t, ith);
        else
            s = sched_row(q->f, c, t, ith, &e);
        pthread_mutex_lock(&q->mu);
        if (s != IRB_OK && !q->failed) {
            q->failed = 1;
            q->err = e;
            pthread_cond_broadcast(&q->work);
            pthread_cond_signal(&q->done);
        }
        sched_done(q, c, kind, t);
    }
    pthread_mutex_unlock(&q->mu);
}

/* Whether the mixed queue can serve: a pool, and every net with a slot per worker. */
static int mixed_ok(const irb_featurizer *f)
{
    if (!f->pool)
        return 0;
    int nets = 0;
    for (int j = 0; j < f->n_in; j++) {
        if (f->in[j].in.net && irb_net_slots(f->in[j].in.net) < f->workers)
            return 0;
        nets += f->in[j].in.net != NULL;
    }
    return nets > 0;
}

/* The run on the mixed queue; *started = 0 when its workers' thread cannot start (nothing done). */
static irb_status run_all_mixed(irb_featurizer *f, size_t n, irb_feat_fn fn, void *ctx, irb_error *err, int *started)
{
    size_t step = (size_t)f->chunk_max;
    sched q = {.f = f, .n = n, .chunks = (long)((n + step - 1) / step)};
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.work, NULL);
    pthread_cond_init(&q.done, NULL);
    bg_run bg;
    *started = bg_try(&bg, f->pool, sched_worker, &q);
    pthread_mutex_lock(&q.mu);
    while (*started && q.given < q.chunks) {
        while (!q.failed && q.finished == q.given)
            pthread_cond_wait(&q.done, &q.mu);
        if (q.failed)
            break;
        pthread_mutex_unlock(&q.mu);
        deliver(f, &f->set[q.given % 3], fn, ctx);
        pthread_mutex_lock(&q.mu);
        q.given++;
        pthread_cond_broadcast(&q.work);
    }
    pthread_mutex_unlock(&q.mu);
    bg_wait(&bg);
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.work);
    pthread_cond_destroy(&q.done);
    if (!q.failed)
        return IRB_OK;
    irb_error_copy(err, &q.err);
    return q.err.status != IRB_OK ? q.err.status : IRB_INTERNAL;
}

/* Plans c as the chunk after `prev` (count 0 past the end). */
static void chunk_next(irb_featurizer *f, const chunk *prev, chunk *c, size_t n)
{
    size_t after = prev->first + prev->count, step = (size_t)f->chunk_max;
    c->count = 0;
    if (after < n)
        chunk_plan(f, c, after, n - after < step ? n - after : step);
    else
        c->first = n;
}

irb_status irb_featurizer_run(irb_featurizer *f, const char *const *paths, size_t n, const unsigned char *mark,
                              irb_feat_fn fn, void *ctx, irb_error *err)
{
    if (!f || (!paths && n) || !fn)
        return irb_fail(err, IRB_INVALID_ARG, "irb_featurizer_run: missing featurizer, paths or callback");
    f->paths = paths, f->mark = mark;
    size_t step = (size_t)f->chunk_max;
    if (n == 0)
        return IRB_OK;
    if (f->mixed) {
        int started = 0;
        irb_status s = run_all_mixed(f, n, fn, ctx, err, &started);
        if (started)
            return s;
    }
    chunk *cur = &f->set[0], *next = &f->set[1];
    chunk_plan(f, cur, 0, n < step ? n : step);
    decode_job job = {f, cur};
    irb_pool_run(f->pool, decode_part, &job);
    irb_status s = IRB_OK;
    bg_run bg = {0};
    while (cur->count > 0) { /* the next chunk decodes on the pool while this thread runs the nets */
        chunk_next(f, cur, next, n);
        job = (decode_job){f, next};
        if (next->count > 0)
            bg_start(&bg, f->pool, decode_part, &job);
        s = run_nets(f, cur, err);
        bg_wait(&bg);
        if (s != IRB_OK)
            break;
        deliver(f, cur, fn, ctx);
        chunk *t = cur;
        cur = next, next = t;
    }
    return s;
}

static void chunk_free(chunk *c, int n_in)
{
    for (int j = 0; j < n_in; j++) {
        irb_free(c->output ? c->output[j] : NULL);
        irb_free(c->rows ? c->rows[j] : NULL);
        irb_free(c->slot ? c->slot[j] : NULL);
        irb_free(c->mirrored ? c->mirrored[j] : NULL);
    }
    irb_free(c->rows), irb_free(c->slot), irb_free(c->mirrored), irb_free(c->n_rows), irb_free(c->status);
    irb_free(c->output), irb_free(c->at), irb_free(c->row_image), irb_free(c->ready);
}

void irb_featurizer_free(irb_featurizer *f)
{
    if (!f)
        return;
    for (int i = 0; f->dec && i < f->workers; i++)
        irb_decoder_free(f->dec[i]);
    for (int i = 0; f->outs && i < f->workers; i++)
        irb_free(f->outs[i]);
    irb_free(f->dec), irb_free(f->outs), irb_free(f->pps), irb_free(f->which);
    irb_pool_free(f->pool);
    for (int k = 0; k < 3; k++)
        chunk_free(&f->set[k], f->n_in);
    irb_free(f->order);
    irb_free(f->in);
    irb_free(f);
}

static irb_status check_input(const irb_feat_input *in, int j, size_t *in_dim, size_t *out_dim, irb_error *err)
{
    char name[32];
    snprintf(name, sizeof name, "featurizer input %d", j);
    irb_preproc pp = in->pp;
    pp.flip = 0; /* ignored: the input's own flip says */
    /* checked once here: a bad one would otherwise fail every image of the run, one by one */
    IRB_TRY(irb__preproc_check(&pp, name, IRB_INVALID_ARG, err));
    if (in->flip < 0 || in->flip > 2)
        return irb_fail(err, IRB_INVALID_ARG, "featurizer input %d: flip must be 0, 1 or 2 (got %d)", j, in->flip);
    *in_dim = (size_t)3 * in->pp.size * in->pp.size;
    *out_dim = *in_dim;
    if (in->net) {
        int c, h, w;
        irb_net_input_shape(in->net, &c, &h, &w);
        if ((size_t)c * h * w != *in_dim)
            return irb_fail(err, IRB_MISMATCH, "the net takes %dx%dx%d inputs but preprocessing makes 3x%dx%d", c, h, w,
                            in->pp.size, in->pp.size);
        *out_dim = irb_net_output_size(in->net);
    }
    return IRB_OK;
}

static irb_status chunk_alloc(irb_featurizer *f, chunk *c, irb_error *err)
{
    size_t m = (size_t)f->chunk_max;
    c->rows = irb_calloc((size_t)f->n_in, sizeof *c->rows);
    c->slot = irb_calloc((size_t)f->n_in, sizeof *c->slot);
    c->mirrored = irb_calloc((size_t)f->n_in, sizeof *c->mirrored);
    c->n_rows = irb_calloc((size_t)f->n_in, sizeof *c->n_rows);
    c->status = irb_calloc(m, sizeof *c->status);
    c->output = irb_calloc((size_t)f->n_in, sizeof *c->output);
    size_t tasks = 0;
    for (int j = 0; j < f->n_in; j++)
        tasks += f->in[j].in.net ? m * (size_t)f->in[j].per_image : 0;
    c->at = irb_calloc((size_t)f->n_in + 1, sizeof *c->at);
    c->row_image = irb_malloc_array(tasks ? tasks : 1, sizeof *c->row_image);
    c->ready = irb_malloc(m);
    if (!c->rows || !c->slot || !c->mirrored || !c->n_rows || !c->status || !c->output || !c->at || !c->row_image ||
        !c->ready)
        return irb_fail(err, IRB_NOMEM, "featurizer: out of memory");
    for (int j = 0; j < f->n_in; j++) {
        c->rows[j] = irb_malloc_large(m * (size_t)f->in[j].per_image, f->in[j].in_dim * sizeof(float));
        c->slot[j] = irb_malloc_array(m, sizeof(long));
        c->mirrored[j] = irb_malloc_array(m, 1);
        if (f->in[j].in.net)
            c->output[j] = irb_malloc_large(m * (size_t)f->in[j].per_image, f->in[j].out_dim * sizeof(float));
        if (!c->rows[j] || !c->slot[j] || !c->mirrored[j] || (f->in[j].in.net && !c->output[j]))
            return irb_fail(err, IRB_NOMEM, "featurizer: out of memory for %zu images of input %d", m, j);
    }
    return IRB_OK;
}

irb_status irb_featurizer_new(const irb_feat_input *inputs, int n, const irb_featurizer_opts *o, irb_featurizer **out,
                              irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_featurizer_new: NULL output");
    *out = NULL;
    if (!inputs || n < 1 || !o)
        return irb_fail(err, IRB_INVALID_ARG, "irb_featurizer_new: no inputs or options");
    if (o->threads < 0 || o->batch < 0) /* not taken as 0: the defaults */
        return irb_fail(err, IRB_INVALID_ARG, "featurizer: threads %d and batch %d must be >= 0", o->threads, o->batch);
    irb_featurizer *f = irb_calloc(1, sizeof *f);
    if (!f || !(f->in = irb_calloc((size_t)n, sizeof *f->in))) {
        irb_free(f);
        return irb_fail(err, IRB_NOMEM, "featurizer: out of memory");
    }
    f->n_in = n;
    f->order = irb_malloc_array((size_t)n, sizeof *f->order);
    if (!f->order) {
        irb_free(f->in);
        irb_free(f);
        return irb_fail(err, IRB_NOMEM, "featurizer: out of memory");
    }
    irb_status s = IRB_OK;
    size_t per_image = 0;
    for (int j = 0; j < n && s == IRB_OK; j++) {
        in_state *is = &f->in[j];
        is->in = inputs[j];
        if (is->in.net) /* the tensors in the layout the net takes */
            is->in.pp.channels_last = irb_net_channels_last(is->in.net);
        is->per_image = inputs[j].flip == 1 ? 2 : 1;
        s = check_input(&inputs[j], j, &is->in_dim, &is->out_dim, err);
        per_image += is->in_dim * (size_t)is->per_image;
        int k = j; /* insertion by decreasing input size, stable */
        for (; k > 0 && f->in[f->order[k - 1]].in_dim < is->in_dim; k--)
            f->order[k] = f->order[k - 1];
        f->order[k] = j;
    }
    int batch = o->batch > 0 ? o->batch : 16;
    size_t fit = per_image ? CHUNK_FLOATS / per_image : (size_t)batch;
    f->chunk_max = fit < 1 ? 1 : fit < (size_t)batch ? (int)fit : batch;
    f->workers = o->threads > 0 ? o->threads : irb_cpu_count();
    if (s == IRB_OK) {
        f->pool = irb_pool_new(f->workers);
        f->workers = f->pool ? irb_pool_size(f->pool) : f->workers;
        f->dec = irb_calloc((size_t)f->workers, sizeof *f->dec);
        f->outs = irb_calloc((size_t)f->workers, sizeof *f->outs);
        f->pps = irb_malloc_array((size_t)f->workers * (size_t)n, sizeof *f->pps);
        f->which = irb_malloc_array((size_t)f->workers * (size_t)n, sizeof *f->which);
        if (!f->pool || !f->dec || !f->outs || !f->pps || !f->which)
            s = irb_fail(err, IRB_NOMEM, "featurizer: out of memory");
    }
    for (int i = 0; s == IRB_OK && i < f->workers; i++) {
        if (irb_decoder_new(&f->dec[i]) != IRB_OK || !(f->outs[i] = irb_calloc((size_t)n, sizeof(float *))))
            s = irb_fail(err, IRB_NOMEM, "featurizer: cannot create a decoder");
    }
    if (s == IRB_OK)
        f->mixed = mixed_ok(f);
    /* without the mixed queue a chunk's images are split among the workers (decode_part): a chunk
     * of fewer images than workers would leave some idle */
    if (!f->mixed && f->chunk_max < f->workers)
        f->chunk_max = f->workers < batch ? f->workers : batch;
    for (int k = 0; s == IRB_OK && k < (f->mixed ? 3 : 2); k++)
        s = chunk_alloc(f, &f->set[k], err);
    if (s != IRB_OK) {
        irb_featurizer_free(f);
        return s;
    }
    *out = f;
    return IRB_OK;
}

/* ---- one input: irb_extract ------------------------------------------------------------------ */

size_t irb_extract_dim(const irb_net_t *net, const irb_extract_opts *o)
{
    return net                   ? irb_net_output_size(net)
           : o && o->pp.size > 0 ? (size_t)3 * (size_t)o->pp.size * (size_t)o->pp.size
                                 : 0;
}

typedef struct {
    irb_extract_fn fn;
    void *ctx;
} extract_ctx;

static void extract_row(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim,
                        const irb_error *e)
{
    extract_ctx *x = ctx;
    (void)input;
    x->fn(x->ctx, index, flipped, row, dim, e);
}

irb_status irb_extract(irb_net_t *net, const char *const *paths, size_t n, const irb_extract_opts *o, irb_extract_fn fn,
                       void *ctx, irb_error *err)
{
    if ((!paths && n) || !o || !fn)
        return irb_fail(err, IRB_INVALID_ARG, "irb_extract: missing paths, options, callback or size");
    irb_feat_input in = {.net = net, .pp = o->pp, .flip = o->flip, .all = 1};
    irb_featurizer_opts fo = {.threads = o->threads, .batch = o->batch};
    irb_featurizer *f = NULL;
    IRB_TRY(irb_featurizer_new(&in, 1, &fo, &f, err));
    extract_ctx x = {fn, ctx};
    irb_status s = irb_featurizer_run(f, paths, n, NULL, extract_row, &x, err);
    irb_featurizer_free(f);
    return s;
}

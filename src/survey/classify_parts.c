/* Library hooks of distributed classify runs (irbis-mpi classify, docs/scaling.md): a worker
 * that computes per-image results with the real engine of irb_classify_run, and a run whose
 * engine replays results computed elsewhere. The library stays MPI-free: the driver moves the
 * results between processes. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "survey/classify_internal.h"

/* ==== the worker ============================================================================ */

/* One batch in flight: its images' absolute paths, prepared inputs and decode outcomes. */
typedef struct wbatch {
    int n;
    size_t first;    /* index of its first image in the caller's list */
    char **abs;      /* [batch] */
    float *inputs;   /* batch x input_floats */
    irb_status *st;  /* [batch] */
    irb_error *errs; /* [batch] */
    struct irb_classify_worker_t *w;
} wbatch;

struct irb_classify_worker_t {
    const irb_classify_opts *o;
    irb_cls_real *real;
    irb_cls_engine e;
    irb_pool *pool;
    int batch;
    wbatch b[2];
    double *probs; /* batch x classes */
    char key[512];
};

static void wbatch_clear(wbatch *b, int cap)
{
    for (int i = 0; b->abs && i < cap; i++) {
        irb_free(b->abs[i]);
        b->abs[i] = NULL;
    }
    b->n = 0;
}

IRB_API void irb_classify_worker_free(irb_classify_worker_t *w)
{
    if (!w)
        return;
    if (w->e.free)
        w->e.free(w->e.ctx);
    irb_cls_real_free(w->real);
    irb_pool_free(w->pool);
    for (int k = 0; k < 2; k++) {
        wbatch_clear(&w->b[k], w->batch);
        irb_free(w->b[k].abs), irb_free(w->b[k].inputs), irb_free(w->b[k].st), irb_free(w->b[k].errs);
    }
    irb_free(w->probs);
    irb_free(w);
}

static int wbatch_alloc(wbatch *b, irb_classify_worker_t *w)
{
    b->w = w;
    b->abs = irb_calloc((size_t)w->batch, sizeof *b->abs);
    b->inputs = irb_malloc_array((size_t)w->batch, sizeof(float) * w->e.input_floats);
    b->st = irb_calloc((size_t)w->batch, sizeof *b->st);
    b->errs = irb_calloc((size_t)w->batch, sizeof *b->errs);
    return b->abs && b->inputs && b->st && b->errs;
}

IRB_API irb_status irb_classify_worker_new(const irb_classify_opts *o, irb_classify_worker_t **out,
                                           irb_error *err)
{
    *out = NULL;
    if (!o || !o->survey_dir)
        return irb_fail(err, IRB_INVALID_ARG, "classify needs a survey folder");
    if (o->batch < 1 || o->batch > 256)
        return irb_fail(err, IRB_INVALID_ARG, "batch must be 1..256, got %d", o->batch);
    irb_classify_worker_t *w = irb_calloc(1, sizeof *w);
    if (!w)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    w->o = o;
    w->batch = o->batch;
    irb_status s = irb_cls_real_new(o, &w->real, err);
    if (s == IRB_OK)
        s = irb_cls_real_engine(w->real, &w->e, err);
    if (s == IRB_OK) {
        w->pool = irb_pool_new(w->e.workers > 0 ? w->e.workers : 1);
        w->probs = irb_malloc_array((size_t)w->batch, sizeof(double) * (size_t)w->e.n_classes);
        if (!w->pool || !w->probs || !wbatch_alloc(&w->b[0], w) || !wbatch_alloc(&w->b[1], w))
            s = irb_fail(err, IRB_NOMEM, "out of memory for a batch of %d images", w->batch);
    }
    if (s != IRB_OK) {
        irb_classify_worker_free(w);
        return s;
    }
    irb_cls_sources ids = {0};
    irb_cls_real_ids(w->real, &ids);
    snprintf(w->key, sizeof w->key, "classify|model=%s|classifier=%s|classes=%d|survey=%s", ids.model_id,
             ids.classifier_id, ids.n_classes, o->survey_dir);
    *out = w;
    return IRB_OK;
}

IRB_API int irb_classify_worker_classes(const irb_classify_worker_t *w)
{
    return w->e.n_classes;
}
IRB_API const char *irb_classify_worker_key(const irb_classify_worker_t *w)
{
    return w->key;
}

/* Worker ith of nth prepares images ith, ith + nth, ... (the split of classify.c). */
static void wbatch_prepare(void *ctx, int ith, int nth)
{
    wbatch *b = ctx;
    irb_cls_engine *e = &b->w->e;
    for (int i = ith; i < b->n; i += nth) {
        irb_error_clear(&b->errs[i]);
        b->st[i] = e->prepare(e->ctx, ith, b->abs[i], b->inputs + (size_t)i * e->input_floats, &b->errs[i]);
    }
}

static void *wbatch_thread(void *arg)
{
    wbatch *b = arg;
    irb_pool_run(b->w->pool, wbatch_prepare, b);
    return NULL;
}

/* Fills b with images first.. of paths (up to a batch). */
static irb_status wbatch_fill(wbatch *b, const char *const *paths, size_t n, size_t first, irb_error *err)
{
    irb_classify_worker_t *w = b->w;
    wbatch_clear(b, w->batch);
    b->first = first;
    int k = n - first < (size_t)w->batch ? (int)(n - first) : w->batch;
    for (int i = 0; i < k; i++)
        if (!(b->abs[i] = irb_path_join(w->o->survey_dir, paths[first + (size_t)i])))
            return irb_fail(err, IRB_NOMEM, "out of memory");
    b->n = k;
    return IRB_OK;
}

/* Scores b's decoded images and hands every result to fn, in order. */
static irb_status wbatch_deliver(wbatch *b, irb_classify_result_fn fn, void *user, irb_error *err)
{
    irb_classify_worker_t *w = b->w;
    size_t nf = w->e.input_floats, nc = (size_t)w->e.n_classes;
    int good = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->st[i] != IRB_OK)
            continue;
        if (good != i)
            memmove(b->inputs + (size_t)good * nf, b->inputs + (size_t)i * nf, sizeof(float) * nf);
        good++;
    }
    if (good)
        IRB_TRY(w->e.score(w->e.ctx, b->inputs, good, w->probs, err));
    for (int i = 0, g = 0; i < b->n; i++)
        fn(user, b->first + (size_t)i, b->st[i], b->st[i] == IRB_OK ? w->probs + nc * (size_t)g++ : NULL,
           &b->errs[i]);
    return IRB_OK;
}

IRB_API irb_status irb_classify_worker_run(irb_classify_worker_t *w, const char *const *paths, size_t n,
                                           irb_classify_result_fn fn, void *user, irb_error *err)
{
    wbatch *cur = &w->b[0], *next = &w->b[1];
    if (n == 0)
        return IRB_OK;
    IRB_TRY(wbatch_fill(cur, paths, n, 0, err));
    irb_pool_run(w->pool, wbatch_prepare, cur);
    while (cur->n > 0) {
        size_t after = cur->first + (size_t)cur->n;
        irb_status s = IRB_OK;
        pthread_t tid;
        int running = 0;
        if (after < n) {
            s = wbatch_fill(next, paths, n, after, err);
            if (s == IRB_OK && !(running = pthread_create(&tid, NULL, wbatch_thread, next) == 0))
                irb_pool_run(w->pool, wbatch_prepare, next); /* no thread: decode in line */
        } else {
            wbatch_clear(next, w->batch);
        }
        if (s == IRB_OK)
            s = wbatch_deliver(cur, fn, user, err);
        if (running)
            pthread_join(tid, NULL);
        IRB_TRY(s);
        wbatch *t = cur;
        cur = next, next = t;
    }
    return IRB_OK;
}

/* ==== the run with results computed elsewhere =============================================== */

typedef struct dist_ctx {
    const irb_classify_opts *o;
    const irb_classify_dist *d;
    irb_cls_real *real;
    int nc;
    size_t prefix;   /* length of "survey_dir/" as irb_path_join writes it */
    irb_error fatal; /* why a result could not be had (set by prepare, read by score) */
} dist_ctx;

/* The pending images with their cameras, in the order classify.c fetches them (by id). */
static irb_status dist_plan(void *user, irb_store *st, irb_error *err)
{
    dist_ctx *c = user;
    sqlite3 *db = irb_store_db(st);
    sqlite3_stmt *q = NULL;
    char **paths = NULL, **cams = NULL;
    double *times = NULL;
    long long n = 0, cap = 0;
    irb_status s = IRB_OK;
    if (sqlite3_prepare_v2(db, "SELECT path, camera, tsec, tfrac FROM images WHERE state = 0 ORDER BY id", -1, &q,
                           NULL) != SQLITE_OK)
        return irb_db_fail(st, err, "prepare pending images");
    int rc;
    while (s == IRB_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **np = irb_realloc_array(paths, (size_t)cap, sizeof *np);
            if (np)
                paths = np;
            char **nc = irb_realloc_array(cams, (size_t)cap, sizeof *nc);
            if (nc)
                cams = nc;
            double *nt = irb_realloc_array(times, (size_t)cap, sizeof *nt);
            if (nt)
                times = nt;
            if (!np || !nc || !nt) {
                s = irb_fail(err, IRB_NOMEM, "out of memory listing pending images");
                break;
            }
        }
        paths[n] = irb_strdup((const char *)sqlite3_column_text(q, 0));
        cams[n] = irb_strdup((const char *)sqlite3_column_text(q, 1));
        times[n] = sqlite3_column_type(q, 2) == SQLITE_NULL
                       ? NAN
                       : (double)sqlite3_column_int64(q, 2) + sqlite3_column_double(q, 3);
        n++;
        if (!paths[n - 1] || !cams[n - 1])
            s = irb_fail(err, IRB_NOMEM, "out of memory listing pending images");
    }
    if (s == IRB_OK && rc != SQLITE_DONE)
        s = irb_db_fail(st, err, "read pending images");
    sqlite3_finalize(q);
    if (s == IRB_OK)
        s = c->d->plan(c->d->user, n, (const char *const *)paths, (const char *const *)cams, times, err);
    for (long long i = 0; i < n; i++)
        irb_free(paths[i]), irb_free(cams[i]);
    irb_free(paths), irb_free(cams), irb_free(times);
    return s;
}

/* The replaying engine: "prepare" fetches an image's result into its input slot, one double
 * (1: the result could not be had) then n_classes doubles, copied bit for bit into floats;
 * "score" copies them back, or stops the run before the batch is stored. One worker, so results
 * are asked for in order. */
static size_t slot_doubles(const dist_ctx *c)
{
    return 1 + (size_t)c->nc;
}

static irb_status replay_prepare(void *ctx, int worker, const char *abs_path, float *input, irb_error *err)
{
    (void)worker;
    dist_ctx *c = ctx;
    size_t l = strlen(abs_path);
    const char *rel = l > c->prefix ? abs_path + c->prefix : abs_path;
    double *p = irb_malloc_array(slot_doubles(c), sizeof(double));
    if (!p)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    irb_error_clear(err);
    int got = c->d->result(c->d->user, rel, p + 1, err);
    irb_status s = IRB_OK;
    if (got == 0) {
        s = err->status != IRB_OK ? err->status : IRB_INTERNAL;
    } else if (got < 0) {
        /* not an image failure: remembered for score(), which runs after this batch's decode */
        irb_error_copy(&c->fatal, err);
        if (c->fatal.status == IRB_OK)
            c->fatal.status = IRB_INTERNAL;
        memset(p, 0, sizeof(double) * slot_doubles(c));
        p[0] = 1;
    } else {
        p[0] = 0;
    }
    if (s == IRB_OK)
        memcpy(input, p, sizeof(double) * slot_doubles(c));
    irb_free(p);
    return s;
}

static irb_status replay_score(void *ctx, const float *inputs, int n, double *probs, irb_error *err)
{
    dist_ctx *c = ctx;
    size_t nc = (size_t)c->nc, slot = slot_doubles(c);
    for (int i = 0; i < n; i++) {
        double flag;
        const char *in = (const char *)inputs + sizeof(double) * slot * (size_t)i;
        memcpy(&flag, in, sizeof flag);
        if (flag != 0) {
            irb_error_copy(err, &c->fatal);
            return c->fatal.status;
        }
        memcpy(probs + nc * (size_t)i, in + sizeof(double), sizeof(double) * nc);
    }
    return IRB_OK;
}

static void replay_free(void *ctx)
{
    (void)ctx;
}

static irb_status dist_engine(void *user, irb_cls_engine *e, irb_error *err)
{
    (void)err;
    dist_ctx *c = user;
    irb_cls_sources ids = {0};
    irb_cls_real_ids(c->real, &ids);
    e->ctx = c;
    e->workers = 1;
    e->n_classes = c->nc;
    e->classes = ids.classes;
    e->input_floats = sizeof(double) / sizeof(float) * slot_doubles(c);
    e->classified_by = ids.classified_by;
    e->prepare = replay_prepare, e->score = replay_score, e->free = replay_free;
    return IRB_OK;
}

static irb_status dist_scanner(void *user, irb_cls_scanner *sc, irb_error *err)
{
    return irb_cls_real_scanner(((dist_ctx *)user)->real, sc, err);
}

IRB_API irb_status irb_classify_run_dist(const irb_classify_opts *o, const irb_classify_dist *d,
                                         irb_classify_summary *sum, irb_error *err)
{
    if (!d || !d->plan || !d->result)
        return irb_fail(err, IRB_INVALID_ARG, "a distributed run needs plan and result hooks");
    dist_ctx c = {.o = o, .d = d};
    IRB_TRY(irb_cls_real_new(o, &c.real, err));
    irb_cls_sources src = {
        .make_scanner = dist_scanner, .make_engine = dist_engine, .plan = dist_plan, .user = &c};
    irb_cls_real_ids(c.real, &src);
    c.nc = src.n_classes;
    size_t la = o->survey_dir ? strlen(o->survey_dir) : 0;
    while (la > 1 && o->survey_dir[la - 1] == '/')
        la--;
    c.prefix = la + 1;
    irb_status s = irb_classify_run_sources(o, &src, sum, err);
    irb_cls_real_free(c.real);
    return s;
}

/* Library hooks of distributed classify runs (irbis-mpi classify, docs/scaling.md): a worker
 * that computes per-image results with the real engine of irb_classify_run, and a run whose
 * engine replays results computed elsewhere. The library stays MPI-free: the driver moves the
 * results between processes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "classify/classify_internal.h"

/* ==== the worker ============================================================================ */

struct irb_classify_worker_t {
    const irb_classify_opts *o;
    irb_cls_real *real;
    irb_cls_engine e;
    int per_run;
    irb_cls_item items[IRB_CLS_RUN_MAX];
    char *abs[3 * IRB_CLS_RUN_MAX]; /* the run's absolute paths (image, prev, next) */
    double *probs;                  /* per_run x classes */
    double *row;                    /* one result's values: classes probabilities (+ novelty) */
    irb_status st[IRB_CLS_RUN_MAX];
    irb_error *errs;       /* [per_run] */
    char (*digest)[2][65]; /* [per_run]: each file's content digests, read before its decode */
    char key[512];
};

static void worker_clear(irb_classify_worker_t *w)
{
    for (int i = 0; i < 3 * IRB_CLS_RUN_MAX; i++)
        irb_free(w->abs[i]), w->abs[i] = NULL;
}

IRB_API void irb_classify_worker_free(irb_classify_worker_t *w)
{
    if (!w)
        return;
    if (w->e.free)
        w->e.free(w->e.ctx);
    irb_cls_real_free(w->real);
    worker_clear(w);
    irb_free(w->probs), irb_free(w->errs), irb_free(w->row), irb_free(w->digest);
    irb_free(w);
}

IRB_API irb_status irb_classify_worker_new(const irb_classify_opts *o, irb_classify_worker_t **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_classify_worker_new: NULL out");
    *out = NULL;
    if (!o || !o->survey_dir)
        return irb_fail(err, IRB_INVALID_ARG, "classify needs a survey folder");
    if (o->batch < 1 || o->batch > 256)
        return irb_fail(err, IRB_INVALID_ARG, "batch must be 1..256, got %d", o->batch);
    irb_classify_worker_t *w = irb_calloc(1, sizeof *w);
    if (!w)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    w->o = o;
    w->per_run = 4 * o->batch < IRB_CLS_RUN_MAX ? 4 * o->batch : IRB_CLS_RUN_MAX;
    irb_status s = irb_cls_real_new(o, &w->real, err);
    if (s == IRB_OK)
        s = irb_cls_real_engine(w->real, &w->e, err);
    if (s == IRB_OK) {
        w->probs = irb_malloc_array((size_t)w->per_run, sizeof(double) * (size_t)w->e.n_classes);
        w->errs = irb_calloc((size_t)w->per_run, sizeof *w->errs);
        w->row = irb_malloc_array((size_t)w->e.n_classes + 1, sizeof(double));
        w->digest = irb_calloc((size_t)w->per_run, sizeof *w->digest);
        if (!w->probs || !w->errs || !w->row || !w->digest)
            s = irb_fail(err, IRB_NOMEM, "out of memory for a batch of %d images", o->batch);
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

IRB_API int irb_classify_worker_classes(const irb_classify_worker_t *w) { return w ? w->e.n_classes : 0; }
IRB_API const char *irb_classify_worker_key(const irb_classify_worker_t *w) { return w ? w->key : NULL; }
IRB_API int irb_classify_worker_values(const irb_classify_worker_t *w)
{
    return w ? w->e.n_classes + (w->e.novelty != NULL) : 0;
}
IRB_API int irb_classify_worker_neighbours(const irb_classify_worker_t *w) { return w ? w->e.neighbours : 0; }

/* One run of images first.. of paths: absolute paths, their content digests (the pass of
 * irb_classify_run, just before the decode: the files are then in the page cache), the engine,
 * every result to fn. */
static irb_status worker_step(irb_classify_worker_t *w, const char *const *paths, const char *const *prev,
                              const char *const *next, size_t first, int k, irb_classify_result_fn fn, void *user,
                              irb_error *err)
{
    const char *root = w->o->survey_dir;
    worker_clear(w);
    for (int i = 0; i < k; i++) {
        size_t g = first + (size_t)i;
        const char *pv = prev ? prev[g] : NULL, *nx = next ? next[g] : NULL;
        w->abs[3 * i] = irb_path_join(root, paths[g]);
        w->abs[3 * i + 1] = pv ? irb_path_join(root, pv) : NULL;
        w->abs[3 * i + 2] = nx ? irb_path_join(root, nx) : NULL;
        if (!w->abs[3 * i] || (pv && !w->abs[3 * i + 1]) || (nx && !w->abs[3 * i + 2]))
            return irb_fail(err, IRB_NOMEM, "out of memory");
        w->items[i] = (irb_cls_item){w->abs[3 * i], w->abs[3 * i + 1], w->abs[3 * i + 2]};
    }
    const char *files[IRB_CLS_RUN_MAX];
    for (int i = 0; i < k; i++)
        files[i] = w->items[i].path;
    irb_image_digests(NULL, files, (size_t)k, w->o->threads, w->digest, NULL);
    IRB_TRY(w->e.run(w->e.ctx, w->items, k, w->probs, w->st, w->errs, err));
    size_t nc = (size_t)w->e.n_classes;
    for (int i = 0; i < k; i++) {
        const double *row = w->probs + nc * (size_t)i;
        if (w->st[i] == IRB_OK && w->e.novelty) { /* the values: probabilities, then the novelty */
            memcpy(w->row, row, nc * sizeof(double));
            w->row[nc] = w->e.novelty[i];
            row = w->row;
        }
        fn(user, first + (size_t)i, w->st[i], w->st[i] == IRB_OK ? row : NULL, (const char(*)[65])w->digest[i],
           &w->errs[i]);
    }
    return IRB_OK;
}

IRB_API irb_status irb_classify_worker_run(irb_classify_worker_t *w, const char *const *paths, const char *const *prev,
                                           const char *const *next, size_t n, irb_classify_result_fn fn, void *user,
                                           irb_error *err)
{
    if (!w || (n && (!paths || !fn)))
        return irb_fail(err, IRB_INVALID_ARG, "irb_classify_worker_run: NULL %s",
                        !w       ? "worker"
                        : !paths ? "paths"
                                 : "fn");
    for (size_t i = 0; i < n; i++)
        if (!paths[i])
            return irb_fail(err, IRB_INVALID_ARG, "irb_classify_worker_run: image %zu has no path", i);
    for (size_t first = 0; first < n; first += (size_t)w->per_run) {
        int k = n - first < (size_t)w->per_run ? (int)(n - first) : w->per_run;
        IRB_TRY(worker_step(w, paths, prev, next, first, k, fn, user, err));
    }
    return IRB_OK;
}

/* ==== the run with results computed elsewhere =============================================== */

typedef struct dist_ctx {
    const irb_classify_opts *o;
    const irb_classify_dist *d;
    irb_cls_real *real;
    int nc;
    int has_novelty; /* results carry a novelty score after the probabilities */
    double *row;     /* one result: nc probabilities (+ the novelty) */
    double novelty[IRB_CLS_RUN_MAX];
    char digest[IRB_CLS_RUN_MAX][2][65]; /* the results' digests, as their workers read them */
    int neighbours;                      /* the pipeline has a motion part: images go in shooting order */
    size_t prefix;                       /* length of "survey_dir/" as irb_path_join writes it */
} dist_ctx;

/* The pending images as the run will ask for them: paths, cameras, times, and with neighbours
 * their previous / next image in shooting order. */
typedef struct pending_list {
    char **paths, **cams, **prev, **next;
    double *times;
    long long n, cap;
} pending_list;

static void pending_free(pending_list *l)
{
    for (long long i = 0; i < l->n; i++) {
        irb_free(l->paths[i]), irb_free(l->cams[i]);
        irb_free(l->prev ? l->prev[i] : NULL), irb_free(l->next ? l->next[i] : NULL);
    }
    irb_free(l->paths), irb_free(l->cams), irb_free(l->prev), irb_free(l->next), irb_free(l->times);
}

static int pending_grow(pending_list *l)
{
    if (l->n < l->cap)
        return 1;
    long long cap = l->cap ? 2 * l->cap : 1024;
    char ***arrays[4] = {&l->paths, &l->cams, &l->prev, &l->next};
    for (int k = 0; k < 4; k++) {
        char **v = irb_realloc_array(*arrays[k], (size_t)cap, sizeof *v);
        if (!v)
            return 0;
        memset(v + l->cap, 0, (size_t)(cap - l->cap) * sizeof *v);
        *arrays[k] = v;
    }
    double *t = irb_realloc_array(l->times, (size_t)cap, sizeof *t);
    if (!t)
        return 0;
    l->times = t;
    l->cap = cap;
    return 1;
}

/* The pending images with their cameras and times, in id order, or in shooting order. */
static irb_status list_pending(irb_store *st, int shots, pending_list *l, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_images_begin(st, shots ? IRB_IMAGES_PENDING_SHOTS : IRB_IMAGES_PENDING, 0, &it, err));
    irb_status s = IRB_OK;
    irb_img_row r;
    while (s == IRB_OK && irb_store_images_next(it, &r)) {
        if (!pending_grow(l)) {
            s = irb_fail(err, IRB_NOMEM, "out of memory listing pending images");
            break;
        }
        long long n = l->n++;
        l->paths[n] = irb_strdup(r.path);
        l->cams[n] = irb_strdup(r.camera);
        l->times[n] = r.timed ? (double)r.tsec + r.tfrac : NAN;
        if (!l->paths[n] || !l->cams[n])
            s = irb_fail(err, IRB_NOMEM, "out of memory listing pending images");
    }
    irb_status end = irb_store_iter_end(it, s == IRB_OK ? err : NULL);
    return s == IRB_OK ? end : s;
}

/* Each pending image's neighbours, from the store's shooting order (the same pages the run
 * takes them in). */
static irb_status list_neighbours(irb_store *st, pending_list *l, irb_error *err)
{
    irb_shot shots[IRB_CLS_RUN_MAX];
    int64_t after = 0;
    long long i = 0;
    irb_status s = IRB_OK;
    for (int n = 1; s == IRB_OK && n > 0;) {
        if ((s = irb_store_pending_shots(st, after, IRB_CLS_RUN_MAX, shots, &n, err)) != IRB_OK)
            n = 0;
        for (int k = 0; k < n; k++, i++) {
            if (s == IRB_OK && (i >= l->n || strcmp(shots[k].path, l->paths[i]) != 0))
                s = irb_fail(err, IRB_INTERNAL, "the pending images changed while they were listed");
            if (s == IRB_OK) {
                l->prev[i] = shots[k].prev, shots[k].prev = NULL;
                l->next[i] = shots[k].next, shots[k].next = NULL;
                after = shots[k].k;
            }
            irb_shot_release(&shots[k]);
        }
    }
    if (s == IRB_OK && i != l->n)
        s = irb_fail(err, IRB_INTERNAL, "the pending images changed while they were listed");
    return s;
}

static irb_status dist_plan(void *user, irb_store *st, irb_error *err)
{
    dist_ctx *c = user;
    pending_list l = {0};
    irb_status s = IRB_OK;
    if (c->neighbours)
        s = irb_store_rank_shots(st, err);
    if (s == IRB_OK)
        s = list_pending(st, c->neighbours, &l, err);
    if (s == IRB_OK && c->neighbours)
        s = list_neighbours(st, &l, err);
    if (s == IRB_OK)
        s = c->d->plan(c->d->user, l.n, (const char *const *)l.paths, (const char *const *)l.cams, l.times,
                       c->neighbours ? (const char *const *)l.prev : NULL,
                       c->neighbours ? (const char *const *)l.next : NULL, err);
    pending_free(&l);
    return s;
}

/* The replaying engine: each image's result asked for in the run's order (the plan's). */
static irb_status replay_run(void *ctx, const irb_cls_item *items, int n, double *probs, irb_status *st,
                             irb_error *errs, irb_error *err)
{
    dist_ctx *c = ctx;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(items[i].path);
        const char *rel = l > c->prefix ? items[i].path + c->prefix : items[i].path;
        irb_error_clear(&errs[i]);
        c->digest[i][0][0] = c->digest[i][1][0] = '\0';
        int got = c->d->result(c->d->user, rel, c->row, c->digest[i], &errs[i]);
        c->digest[i][0][64] = c->digest[i][1][64] = '\0'; /* whatever the hook wrote */
        memcpy(probs + (size_t)i * (size_t)c->nc, c->row, sizeof(double) * (size_t)c->nc);
        c->novelty[i] = c->has_novelty && got == 1 ? c->row[c->nc] : NAN;
        st[i] = IRB_OK;
        if (got == 0) {
            st[i] = errs[i].status != IRB_OK ? errs[i].status : IRB_INTERNAL;
        } else if (got < 0) {
            irb_error_copy(err, &errs[i]);
            return errs[i].status != IRB_OK ? errs[i].status : IRB_INTERNAL;
        }
    }
    return IRB_OK;
}

static irb_status dist_engine(void *user, irb_cls_engine *e, irb_error *err)
{
    (void)err;
    dist_ctx *c = user;
    irb_cls_sources ids = {0};
    irb_cls_real_ids(c->real, &ids);
    memset(e, 0, sizeof *e);
    e->ctx = c;
    e->n_classes = c->nc;
    e->classes = ids.classes;
    e->classified_by = ids.classified_by;
    e->run = replay_run;
    e->novelty = c->has_novelty ? c->novelty : NULL;
    e->neighbours = c->neighbours;
    e->digest = c->digest;
    return IRB_OK;
}

static irb_status dist_digests(void *user, int n, const char *const *paths, char (*digests)[2][65], irb_error *err)
{
    const irb_classify_dist *d = ((dist_ctx *)user)->d;
    for (int i = 0; i < n; i++)
        digests[i][0][0] = digests[i][1][0] = '\0';
    IRB_TRY(d->digests(d->user, n, paths, digests, err));
    for (int i = 0; i < n; i++)
        digests[i][0][64] = digests[i][1][64] = '\0';
    return IRB_OK;
}

static irb_status dist_scanner(void *user, irb_cls_scanner *sc, irb_error *err)
{
    return irb_cls_scanner_open(((dist_ctx *)user)->o, sc, err);
}

IRB_API irb_status irb_classify_run_dist(const irb_classify_opts *o, const irb_classify_dist *d,
                                         irb_classify_summary *sum, irb_error *err)
{
    if (!d || !d->plan || !d->result)
        return irb_fail(err, IRB_INVALID_ARG, "a distributed run needs plan and result hooks");
    dist_ctx c = {.o = o, .d = d};
    IRB_TRY(irb_cls_real_new(o, &c.real, err));
    irb_cls_sources src = {.make_scanner = dist_scanner,
                           .make_engine = dist_engine,
                           .plan = dist_plan,
                           .digests = d->digests ? dist_digests : NULL,
                           .user = &c};
    irb_cls_real_ids(c.real, &src);
    c.nc = src.n_classes;
    c.has_novelty = src.has_novelty;
    c.neighbours = irb_cls_real_neighbours(c.real);
    if (!(c.row = irb_malloc_array((size_t)c.nc + 1, sizeof(double)))) {
        irb_cls_real_free(c.real);
        return irb_fail(err, IRB_NOMEM, "out of memory");
    }
    irb_classify_opts resolved = *o; /* the pipeline's defaults where o leaves them (negative) */
    irb_cls_real_resolve(c.real, &resolved);
    size_t la = o->survey_dir ? strlen(o->survey_dir) : 0;
    while (la > 1 && o->survey_dir[la - 1] == '/')
        la--;
    c.prefix = la + 1;
    irb_status s = irb_classify_run_sources(&resolved, &src, sum, err);
    irb_cls_real_free(c.real);
    irb_free(c.row);
    return s;
}

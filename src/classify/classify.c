/* The run driver of `irbis classify`: scan into the store, classify pending images batch by
 * run of images through the engine (classify_pipeline.c: it decodes the next images while the
 * CNN runs), committing each run in one transaction, build sequences, write the outputs. Resume
 * semantics and formats: docs/classify.md. The real scanner is classify_scan.c's. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "classify/classify_internal.h"
#include "irbis/nn.h"

void irb_classify_opts_default(irb_classify_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->sequence_gap = 60.0;
    o->threshold = 0.5;
    o->batch = 16;
    o->report_sequences = 50;
    o->max_sequence_images = 6;
    o->progress_interval = 0.5;
    o->min_confidence = -1;    /* the pipeline's default, else off */
    o->novelty_threshold = -1; /* the pipeline's, else off */
    o->precision = -1;         /* the pipeline's */
}

int irb_sort_mode_parse(const char *name)
{
    static const char *const names[] = {"none", "copy", "hardlink", "symlink"};
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, names[i]))
            return i;
    return -1;
}

/* ---- one batch ---------------------------------------------------------------------------- */

typedef struct batch {
    int n;
    int64_t ids[IRB_CLS_RUN_MAX];
    char *paths[IRB_CLS_RUN_MAX]; /* absolute paths, owned */
    irb_status st[IRB_CLS_RUN_MAX];
    irb_error *errs;       /* [IRB_CLS_RUN_MAX] */
    char (*digest)[2][65]; /* [IRB_CLS_RUN_MAX]: each file's irb_image_digest ("" when unread) */
} batch;

/* Each file's content digests, read on the run's threads just before the engine decodes it (so
 * its bytes are then in the page cache): the store knows the picture again under another path or
 * time. The same pass a distributed run's workers make (irb_classify_worker_run). */
static void digest_batch(batch *b, int threads)
{
    irb_image_digests(NULL, (const char *const *)b->paths, (size_t)b->n, threads, b->digest, NULL);
}

static void batch_clear(batch *b)
{
    for (int i = 0; i < b->n; i++)
        irb_free(b->paths[i]), b->paths[i] = NULL;
    b->n = 0;
}

/* Fills b with the next pending images after *after (their ids and absolute paths). */
static irb_status fetch(irb_store *st, const char *root, int max, int64_t *after, batch *b, irb_error *err)
{
    batch_clear(b);
    int64_t *ids;
    char **paths;
    int n;
    IRB_TRY(irb_store_pending(st, *after, max, &ids, &paths, &n, err));
    for (int i = 0; i < n; i++) {
        b->ids[i] = ids[i];
        if (!(b->paths[i] = irb_path_join(root, paths[i]))) {
            b->n = i;
            return irb_fail(err, IRB_NOMEM, "out of memory");
        }
    }
    b->n = n;
    if (n)
        *after = ids[n - 1];
    return IRB_OK;
}

/* Stores the batch's results in one transaction: the images with st[i] == IRB_OK take the
 * rows of probs in order (and their novelty score nov[i] when nov is not NULL), the others
 * their failure. */
static irb_status store_batch_novel(irb_store *st, batch *b, const double *probs, const double *nov, double nov_thr,
                                    int nc, int pos, double thr, double min_conf, long long *failed, irb_error *err)
{
    IRB_TRY(irb_store_begin(st, err));
    irb_status s = IRB_OK;
    for (int i = 0, g = 0; i < b->n && s == IRB_OK; i++) {
        if (b->st[i] == IRB_OK) {
            const double *p = probs + (size_t)g++ * (size_t)nc;
            double score = nov ? nov[i] : NAN;
            s = irb_store_set_result(st, b->ids[i], p, nc,
                                     irb_cls_label_novel(p, nc, pos, thr, min_conf, score, nov_thr),
                                     b->errs[i].warning ? b->errs[i].message : NULL, err);
            if (s == IRB_OK && nov)
                s = irb_store_set_novelty(st, b->ids[i], score, err);
        } else {
            (*failed)++;
            s = irb_store_set_failed(st, b->ids[i], b->st[i], b->errs[i].message, err);
        }
        if (s == IRB_OK && b->digest[i][1][0])
            s = irb_store_set_digest(st, b->ids[i], b->digest[i][0], b->digest[i][1], err);
    }
    if (s == IRB_OK)
        s = irb_store_commit(st, err);
    if (s != IRB_OK)
        irb_store_rollback(st);
    return s;
}

/* The next batch for an engine with run(): pending images in id order, or in shooting order
 * with their neighbours; items[i] point into b and the owned neighbour paths nb. */
static irb_status fetch_items(irb_store *st, const irb_cls_engine *e, const char *root, int max, int64_t *after,
                              batch *b, irb_cls_item *items, char **nb, irb_error *err)
{
    for (int i = 0; i < 2 * max; i++)
        irb_free(nb[i]), nb[i] = NULL;
    if (!e->neighbours) {
        IRB_TRY(fetch(st, root, max, after, b, err));
        for (int i = 0; i < b->n; i++)
            items[i] = (irb_cls_item){b->paths[i], NULL, NULL};
        return IRB_OK;
    }
    batch_clear(b);
    irb_shot shots[IRB_CLS_RUN_MAX];
    int n = 0;
    irb_status s = irb_store_pending_shots(st, *after, max, shots, &n, err);
    for (int i = 0; i < n; i++) {
        if (s == IRB_OK) {
            b->ids[i] = shots[i].id;
            b->paths[i] = irb_path_join(root, shots[i].path);
            nb[2 * i] = shots[i].prev ? irb_path_join(root, shots[i].prev) : NULL;
            nb[2 * i + 1] = shots[i].next ? irb_path_join(root, shots[i].next) : NULL;
            b->n = i + 1;
            if (!b->paths[i] || (shots[i].prev && !nb[2 * i]) || (shots[i].next && !nb[2 * i + 1]))
                s = irb_fail(err, IRB_NOMEM, "out of memory");
            items[i] = (irb_cls_item){b->paths[i], nb[2 * i], nb[2 * i + 1]};
            *after = shots[i].k;
        }
        irb_shot_release(&shots[i]);
    }
    return s;
}

/* ---- phases ------------------------------------------------------------------------------- */

/* Every run scans the whole survey (header reads only): files added since the last run become
 * pending rows, the ones already stored are kept unless their file changed or their failure may
 * have passed, and those no longer listed are dropped (irb_store_add_image, irb_store_scan_end). */
static irb_status scan_phase(irb_store *st, irb_cls_make_scanner make, void *user, irb_progress_tracker *pt,
                             irb_scan_tally *t, irb_error *err)
{
    irb_cls_scanner sc = {0};
    IRB_TRY(make(user, &sc, err));
    irb_progress_phase(pt, IRB_PHASE_SCAN, 0, 0);
    irb_status s = irb_store_begin(st, err);
    if (s == IRB_OK)
        s = irb_store_scan_begin(st, err);
    long long n = 0;
    irb_cls_row row;
    while (s == IRB_OK && (s = sc.next(sc.ctx, &row, err)) == IRB_OK) {
        if ((s = row.skipped ? irb_store_skip_file(st, &row, t, err) : irb_store_add_image(st, &row, t, err)) != IRB_OK)
            break;
        if (++n % 256 == 0) {
            if ((s = irb_store_commit(st, err)) != IRB_OK || (s = irb_store_begin(st, err)) != IRB_OK)
                break;
            irb_progress_update(pt, n, n, 0, 0);
        }
    }
    if (s == IRB_NOT_FOUND) {
        irb_error_clear(err);
        s = irb_store_scan_end(st, t, err);
        if (s == IRB_OK)
            s = irb_store_commit(st, err);
    }
    if (s != IRB_OK)
        irb_store_rollback(st);
    sc.close(sc.ctx);
    if (s == IRB_OK) {
        irb_progress_update(pt, n, n, 0, 1);
        irb_progress_end_phase(pt);
    }
    return s;
}

/* The content digests of n images of the store (paths relative to the survey): read where the
 * run's sources read them (a distributed run: on its workers, src->digests), else on this run's
 * threads. */
static irb_status read_digests(const irb_classify_opts *o, const irb_cls_sources *src, int n, char **paths,
                               char (*digest)[2][65], irb_error *err)
{
    if (src->digests)
        return src->digests(src->user, n, (const char *const *)paths, digest, err);
    return irb_image_digests(o->survey_dir, (const char *const *)paths, (size_t)n, o->threads, digest, err);
}

typedef irb_status (*list_fn)(irb_store *st, int64_t after, int max, int64_t **ids, char ***paths, int *n,
                              irb_error *err);

/* Records the digests of the images `list` gives (irb_store_undigested, irb_store_unknown), a page
 * at a time, each page in one transaction; the count of images listed so far to pt (or NULL). */
static irb_status digest_rows(irb_store *st, const irb_classify_opts *o, const irb_cls_sources *src, list_fn list,
                              irb_progress_tracker *pt, long long total, irb_error *err)
{
    char(*digest)[2][65] = irb_calloc(IRB_CLS_RUN_MAX, sizeof *digest);
    irb_status s = digest ? IRB_OK : irb_fail(err, IRB_NOMEM, "out of memory");
    int64_t after = 0, *ids;
    char **paths;
    long long done = 0;
    for (int n = IRB_CLS_RUN_MAX; s == IRB_OK && n == IRB_CLS_RUN_MAX;) {
        if ((s = list(st, after, IRB_CLS_RUN_MAX, &ids, &paths, &n, err)) != IRB_OK || n == 0)
            break;
        if ((s = read_digests(o, src, n, paths, digest, err)) != IRB_OK || (s = irb_store_begin(st, err)) != IRB_OK)
            break;
        for (int i = 0; i < n && s == IRB_OK; i++)
            if (digest[i][1][0])
                s = irb_store_set_digest(st, ids[i], digest[i][0], digest[i][1], err);
        if (s == IRB_OK)
            s = irb_store_commit(st, err);
        if (s != IRB_OK)
            irb_store_rollback(st);
        after = ids[n - 1];
        if (pt)
            irb_progress_update(pt, done += n, total, pt->p.failed, 0);
    }
    irb_free(digest);
    return s;
}

/* The pictures that the scan saw leave their path or change their file's stamp found again: the
 * pending images that may hold one (the same size or path) are read for their digests, then the
 * store gives them their results and human labels (irb_store_follow_content). A file that cannot
 * be read has none: it is done again. */
static irb_status follow_phase(irb_store *st, const irb_classify_opts *o, const irb_cls_sources *src, irb_scan_tally *t,
                               irb_error *err)
{
    IRB_TRY(digest_rows(st, o, src, irb_store_undigested, NULL, 0, err));
    return irb_store_follow_content(st, src->neighbours, t, err);
}

/* Images classified by an irbis that recorded no digests (a store from before them) are given
 * theirs once, read from their unchanged files, so that a later move or rename of the survey
 * keeps their results and human labels instead of classifying them again. */
static irb_status backfill_phase(irb_store *st, const irb_classify_opts *o, const irb_cls_sources *src,
                                 irb_progress_tracker *pt, irb_scan_tally *t, irb_error *err)
{
    long long total = 0, left = 0;
    IRB_TRY(irb_store_count_unknown(st, &total, err));
    if (!total)
        return IRB_OK;
    irb_progress_phase(pt, IRB_PHASE_DIGESTS, 0, total);
    IRB_TRY(digest_rows(st, o, src, irb_store_unknown, pt, total, err));
    IRB_TRY(irb_store_count_unknown(st, &left, err));
    t->digested = total - left; /* those that could not be read are tried again by the next run */
    irb_progress_end_phase(pt); /* done: the last page's count */
    return IRB_OK;
}

typedef struct run_ctx {
    const irb_classify_opts *o;
    irb_store *st;
    int nc, pos;
    irb_progress_tracker *pt;
    irb_store_counts c;
    long long processed, failed;
    int ranked;        /* shooting order ranked in this run */
    long long decoded; /* the engine's count */
    /* the Camtrap DP options the last run or export of OUT wrote its outputs with (NULL: none) */
    char *was_deployments, *was_taxa, *was_utc;
} run_ctx;

/* The engine's run() on the pending images, a run of images at a time (the engine overlaps its
 * own decoding with its CNN inside a run), each run's results committed in one transaction. */
static irb_status run_loop(run_ctx *r, irb_cls_engine *e, batch *b, double *probs, irb_error *err)
{
    const irb_classify_opts *o = r->o;
    if (e->neighbours && !r->ranked)
        IRB_TRY(irb_store_rank_shots(r->st, err));
    int64_t after = 0;
    irb_cls_item items[IRB_CLS_RUN_MAX];
    char *nb[2 * IRB_CLS_RUN_MAX] = {0};
    long long done = r->c.ok + r->c.failed;
    irb_status s = IRB_OK;
    int per_run = 4 * o->batch < IRB_CLS_RUN_MAX ? 4 * o->batch : IRB_CLS_RUN_MAX;
    for (;;) {
        int take = per_run;
        if (o->limit > 0 && r->processed + take > o->limit)
            take = (int)(o->limit - r->processed);
        if (take <= 0)
            break;
        if ((s = fetch_items(r->st, e, o->survey_dir, take, &after, b, items, nb, err)) != IRB_OK || b->n == 0)
            break;
        if (!e->digest)
            digest_batch(b, o->threads);
        if ((s = e->run(e->ctx, items, b->n, probs, b->st, b->errs, err)) != IRB_OK)
            break;
        if (e->digest) /* read by the workers that made the results */
            memcpy(b->digest, e->digest, (size_t)b->n * sizeof *b->digest);
        int good = 0;
        for (int i = 0; i < b->n; i++)
            if (b->st[i] == IRB_OK) {
                if (good != i)
                    memmove(probs + (size_t)good * (size_t)r->nc, probs + (size_t)i * (size_t)r->nc,
                            sizeof(double) * (size_t)r->nc);
                good++;
            }
        if ((s = store_batch_novel(r->st, b, probs, e->novelty, o->novelty_threshold, r->nc, r->pos, o->threshold,
                                   o->min_confidence, &r->failed, err)) != IRB_OK)
            break;
        r->processed += b->n;
        done += b->n;
        irb_progress_update(r->pt, done, r->c.total, r->c.failed + r->failed, 0);
    }
    for (int i = 0; i < 2 * IRB_CLS_RUN_MAX; i++)
        irb_free(nb[i]);
    return s;
}

static irb_status classify_phase(run_ctx *r, const irb_cls_sources *src, irb_error *err)
{
    if (r->c.pending == 0)
        return IRB_OK;
    const irb_classify_opts *o = r->o;
    if (src->plan)
        IRB_TRY(src->plan(src->user, r->st, err));
    irb_cls_engine e = {0};
    IRB_TRY(src->make_engine(src->user, &e, err));
    irb_status s = IRB_OK;
    batch b = {0};
    double *probs = NULL;
    if (e.n_classes != r->nc || !e.run) {
        s = irb_fail(err, IRB_MISMATCH, "the engine gives %d classes, the classifier %d", e.n_classes, r->nc);
        goto done;
    }
    b.errs = irb_calloc(IRB_CLS_RUN_MAX, sizeof(irb_error));
    b.digest = irb_calloc(IRB_CLS_RUN_MAX, sizeof *b.digest);
    probs = irb_malloc_array(IRB_CLS_RUN_MAX, sizeof(double) * (size_t)r->nc);
    if (!b.errs || !b.digest || !probs) {
        s = irb_fail(err, IRB_NOMEM, "out of memory for a batch of %d images", o->batch);
        goto done;
    }
    irb_progress_phase(r->pt, IRB_PHASE_CLASSIFY, r->c.ok + r->c.failed, r->c.total);
    r->pt->p.resumed = r->c.ok + r->c.failed;
    s = run_loop(r, &e, &b, probs, err);
    if (s == IRB_OK)
        irb_progress_end_phase(r->pt);
done:
    r->decoded = e.decoded ? *e.decoded : 0;
    batch_clear(&b);
    irb_free(b.errs), irb_free(b.digest), irb_free(probs);
    if (e.free)
        e.free(e.ctx);
    return s;
}

/* The Camtrap DP options the outputs of OUT were last written with (by a run or an `irbis
 * export`), read before record_params (a --restart empties the state): the coordinates, time
 * zone and taxa a team gave once are not lost by the run that adds the next card. */
static irb_status recall_camtrapdp(run_ctx *r, irb_error *err)
{
    char **v[] = {&r->was_deployments, &r->was_taxa, &r->was_utc};
    static const char *const key[] = {"out.deployments", "out.taxa", "out.utc_offset"};
    for (int i = 0; i < 3; i++) {
        IRB_TRY(irb_store_get_state(r->st, key[i], v[i], err));
        if (*v[i] && !**v[i]) {
            irb_free(*v[i]);
            *v[i] = NULL;
        }
    }
    return IRB_OK;
}

/* An option the run was not given: the recorded one when it still holds (a deployments file
 * still there and valid, taxa of this run's classes), else none. */
static const char *recalled(const char *given, const char *was, int ok)
{
    return given ? given : was && ok ? was : NULL;
}

static irb_status outputs_phase(run_ctx *r, const char *classified_by, const char *const *classes, irb_error *err)
{
    const irb_classify_opts *o = r->o;
    irb_error quiet = {0};
    const char *deployments =
        recalled(o->deployments, r->was_deployments,
                 r->was_deployments && irb_camtrapdp_check(r->was_deployments, NULL, &quiet) == IRB_OK);
    const char *taxa =
        recalled(o->taxa, r->was_taxa, r->was_taxa && irb_taxa_check(r->was_taxa, classes, r->nc, &quiet) == IRB_OK);
    const char *utc = recalled(o->utc_offset, r->was_utc, 1);
    irb_outputs_opts oo = {
        .survey_dir = o->survey_dir,
        .n_classes = r->nc,
        .classes = classes,
        .pos = r->pos,
        .threshold = o->threshold,
        .min_confidence = o->min_confidence,
        .novelty_threshold = o->novelty_threshold,
        .gap = o->sequence_gap,
        .classified_by = classified_by,
        .taxa = taxa,
        .deployments = deployments,
        .utc_offset = utc ? utc : "Z",
        .sort = o->sort,
        .report_sequences = o->report_sequences,
        .max_sequence_images = o->max_sequence_images,
        .threads = o->threads,
    };
    irb_progress_phase(r->pt, IRB_PHASE_SEQUENCES, 0, 1);
    IRB_TRY(irb_store_build_sequences(r->st, o->sequence_gap, r->nc, r->pos, o->threshold, o->min_confidence,
                                      o->novelty_threshold, err));
    irb_progress_update(r->pt, 1, 1, r->pt->p.failed, 1);
    irb_progress_end_phase(r->pt);
    return irb_write_outputs(r->st, &oo, r->pt, err);
}

/* ---- the run ------------------------------------------------------------------------------ */

static irb_status check_opts(const irb_classify_opts *o, const irb_cls_sources *src, int *pos, irb_error *err)
{
    int nc = src->n_classes;
    const char *const *classes = src->classes;
    if (!o->survey_dir || !o->out_dir)
        return irb_fail(err, IRB_INVALID_ARG, "classify needs a survey folder and an output folder");
    if (!(o->sequence_gap >= 0) || !isfinite(o->sequence_gap))
        return irb_fail(err, IRB_INVALID_ARG, "sequence gap must be a number of seconds >= 0, got %g", o->sequence_gap);
    if (!(o->threshold >= 0 && o->threshold <= 1))
        return irb_fail(err, IRB_INVALID_ARG, "threshold must be in [0, 1], got %g", o->threshold);
    if (!(o->min_confidence >= 0 && o->min_confidence <= 1))
        return irb_fail(err, IRB_INVALID_ARG, "min-confidence must be in [0, 1], got %g", o->min_confidence);
    if (!(o->novelty_threshold >= 0 && o->novelty_threshold <= 2))
        return irb_fail(err, IRB_INVALID_ARG, "novelty threshold must be in [0, 2], got %g", o->novelty_threshold);
    if (o->novelty_threshold > 0 && !src->has_novelty)
        return irb_fail(err, IRB_INVALID_ARG,
                        "a novelty threshold needs a pipeline with a novelty model "
                        "(irbis train --images)");
    if (o->batch < 1 || o->batch > 256)
        return irb_fail(err, IRB_INVALID_ARG, "batch must be 1..256, got %d", o->batch);
    /* counts and enums from elsewhere: a negative count was taken as 0, a sort mode past the
     * names read beyond them */
    if (o->camera_depth < 0 || o->threads < 0 || o->limit < 0 || o->report_sequences < 0 ||
        o->max_sequence_images < 0 || !(o->progress_interval >= 0))
        return irb_fail(err, IRB_INVALID_ARG,
                        "camera depth %d, threads %d, limit %lld, report sequences %d, images per sequence %d and "
                        "progress interval %g must be >= 0",
                        o->camera_depth, o->threads, o->limit, o->report_sequences, o->max_sequence_images,
                        o->progress_interval);
    if ((unsigned)o->sort > IRB_SORT_SYMLINK || o->precision > (int)IRB_PRECISION_INT8)
        return irb_fail(err, IRB_INVALID_ARG, "sort mode %d or precision %d is not one irbis has", (int)o->sort,
                        o->precision);
    if (nc < 1)
        return irb_fail(err, IRB_INVALID_ARG, "the classifier has no classes");
    IRB_TRY(irb_camtrapdp_check(o->deployments, o->utc_offset, err));
    IRB_TRY(irb_taxa_check(o->taxa, classes, nc, err));
    *pos = -1;
    if (o->positive) {
        for (int k = 0; k < nc; k++)
            if (!strcmp(classes[k], o->positive))
                *pos = k;
        if (*pos < 0)
            return irb_fail(err, IRB_INVALID_ARG, "positive class '%s' is not one of the classifier's classes",
                            o->positive);
    }
    return IRB_OK;
}

/* The survey folder as the store records it: its canonical absolute path, so `s`, `./s/` and
 * /abs/s are one survey and the same relative name typed elsewhere is another. A folder that
 * does not exist is refused here, before the output folder is touched. */
static irb_status canonical_survey(const char *dir, char canon[PATH_MAX], irb_error *err)
{
    struct stat st;
    if (!realpath(dir, canon) || stat(canon, &st) != 0)
        return irb_fail(err, errno == ENOENT || errno == ENOTDIR ? IRB_NOT_FOUND : IRB_IO, "survey folder %s: %s", dir,
                        strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return irb_fail(err, IRB_INVALID_ARG, "survey folder %s: not a folder", dir);
    return IRB_OK;
}

/* OUT inside the survey is skipped by the scan as an output folder once it holds the store, so
 * it must not be the survey itself (the store and outputs would be scanned as images, and the
 * next run's thumbnails classified) nor a folder of the survey's own files, such as a camera
 * folder (the whole camera would be skipped). Refused before anything is written. */
static irb_status check_out_dir(const char *out_dir, const char *survey, irb_error *err)
{
    char out[PATH_MAX];
    if (!realpath(out_dir, out))
        return IRB_OK; /* a new folder: only the run's outputs will be in it */
    size_t n = strlen(survey);
    if (!strcmp(out, survey))
        return irb_fail(err, IRB_INVALID_ARG,
                        "output folder %s is the survey folder: its outputs would be scanned as images; give "
                        "a new folder, beside the survey or inside it (e.g. its results/)",
                        out_dir);
    if (strncmp(out, survey, n) != 0 || out[n] != '/')
        return IRB_OK;
    DIR *d = irb_store_exists(out) ? NULL : opendir(out);
    int files = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        files += e->d_name[0] != '.';
    if (d)
        closedir(d);
    if (files)
        return irb_fail(err, IRB_INVALID_ARG,
                        "output folder %s is a folder of the survey with files in it (a camera folder?): the scan "
                        "would skip them all; give a new folder, beside the survey or inside it (e.g. its results/)",
                        out_dir);
    return IRB_OK;
}

static irb_status no_files(const char *survey, irb_error *err)
{
    return irb_fail(err, IRB_NOT_FOUND,
                    "%s: no files in the survey folder (hidden files are skipped and links to folders are "
                    "not followed: give the camera folders themselves)",
                    survey);
}

/* A new run (no store in OUT yet) on a survey whose scanner lists no file is refused before
 * OUT is touched: a store left there would name the empty folder as its survey and refuse the
 * corrected command. (A store's own run goes on: its outputs name the files it has.) */
static irb_status check_new_run(const char *out_dir, const char *survey, const irb_cls_sources *src, irb_error *err)
{
    if (irb_store_exists(out_dir))
        return IRB_OK;
    /* a folder of the user's that holds files of these names would see them overwritten, and a
     * later --restart would empty its sorted/, thumbs/ and camtrap-dp/ */
    for (const char *const *name = irb_out_names; *name; name++) {
        char *p = irb_path_join(out_dir, *name);
        struct stat sb;
        int there = p && lstat(p, &sb) == 0;
        irb_free(p);
        if (there)
            return irb_fail(err, IRB_INVALID_ARG,
                            "%s holds %s but no irbis.sqlite: not the output folder of an irbis run, and this run "
                            "would overwrite it; give a new or empty folder",
                            out_dir, *name);
    }
    irb_cls_scanner sc = {0};
    IRB_TRY(src->make_scanner(src->user, &sc, err));
    irb_cls_row row;
    irb_status s = sc.next(sc.ctx, &row, err);
    sc.close(sc.ctx);
    if (s == IRB_NOT_FOUND)
        return no_files(survey, err);
    return s;
}

/* --sort hardlink needs the survey and OUT on one file system: said before classifying, not
 * after the whole run. */
static irb_status check_hardlink(const char *survey, const char *out, irb_error *err)
{
    struct stat a, b;
    if (stat(survey, &a) == 0 && stat(out, &b) == 0 && a.st_dev != b.st_dev)
        return irb_fail(err, IRB_INVALID_ARG,
                        "--sort hardlink: the survey (%s) and the output folder (%s) are on different file "
                        "systems; use --sort copy or symlink",
                        survey, out);
    return IRB_OK;
}

/* Stores written before the survey was canonicalised hold it as typed: when that spelling is
 * the same folder (seen from here), the record is updated instead of refusing the run; so is
 * the record of a survey whose folder moved, when the caller says so (survey_moved). */
static irb_status upgrade_survey_param(irb_store *st, const char *canon, int moved, irb_error *err)
{
    char *have = NULL, again[PATH_MAX];
    IRB_TRY(irb_store_get_param(st, "survey", &have, err));
    irb_status s = IRB_OK;
    if (have && strcmp(have, canon) != 0 && (moved || (realpath(have, again) && !strcmp(again, canon))))
        s = irb_store_set_param(st, "survey", canon, err);
    irb_free(have);
    return s;
}

/* ---- a run that cannot resume: what differs, in words ------------------------------------- */

/* What the recorded run did (was), what this run does (now) and what resumes it (keep), e.g.
 * "at fp32" / "is int8" / "use --precision fp32". */
typedef struct differ {
    char was[640], now[640], keep[640];
} differ;

/* The first 12 hex digits of a model or classifier id (its "+precision" cut). */
static int sha_len(const char *id)
{
    int n = (int)strcspn(id, "+");
    return n < 12 ? n : 12;
}

/* The precision a classifier id names ("SHA+int8"), else the file's own. */
static const char *id_precision(const char *id, const char *own)
{
    const char *plus = strchr(id, '+');
    return plus ? plus + 1 : own ? own : "the file's own precision";
}

/* model_sha256 / classifier_sha256: another file, or the same pipeline at another precision.
 * by: the recorded run's "classified by" (its files' names), or NULL. */
static void differ_files(differ *d, int model, const char *have, const char *want, const irb_classify_opts *o,
                         const irb_cls_sources *src, const char *by)
{
    size_t n = strcspn(want, "+");
    if (!model && n == strcspn(have, "+") && !strncmp(have, want, n)) {
        const char *p = id_precision(have, src->file_precision), *q = id_precision(want, src->file_precision);
        snprintf(d->was, sizeof d->was, "at %s", p);
        snprintf(d->now, sizeof d->now, "is %s", q);
        snprintf(d->keep, sizeof d->keep, "use --precision %s", p);
        return;
    }
    const char *what = model ? "CNN model" : o->pipeline_path ? "pipeline" : "classifier";
    const char *file = model ? o->model_path : o->pipeline_path ? o->pipeline_path : o->classifier_path;
    snprintf(d->was, sizeof d->was, "with another %s (sha256 %.*s...%s%.300s)", what, sha_len(have), have,
             by ? ", by " : "", by ? by : "");
    if (file)
        snprintf(d->now, sizeof d->now, "has the %s %.300s (sha256 %.*s...)", what, file, sha_len(want), want);
    else /* a pipeline's model, found beside it */
        snprintf(d->now, sizeof d->now, "has a %s with sha256 %.*s...", what, sha_len(want), want);
    snprintf(d->keep, sizeof d->keep, "give the %s of that run", model ? "model" : what);
}

/* The options recorded as numbers ("%.17g"; "" when off or the default). */
static const struct {
    const char *key, *option, *off; /* off: what an unset value says */
    const char *unset;              /* what this run's option may be when not given */
} NUMBERS[] = {{"sequence_gap", "--gap", NULL, ""},
               {"threshold", "--threshold", NULL, ""},
               {"min_confidence", "--min-confidence", "0", " (given, or the pipeline's default)"},
               {"novelty_threshold", "--novelty-threshold", "0", " (given, or the pipeline's default)"},
               {"camera_depth", "--camera-depth", "0", ""}};

/* v as the fewest digits that read back as the recorded value (so an option given so resumes). */
static void number(const char *v, const char *off, char *buf, size_t size)
{
    double x = strtod(v, NULL);
    for (int digits = 1; v[0] && digits <= 17; digits++)
        if (snprintf(buf, size, "%.*g", digits, x) > 0 && strtod(buf, NULL) == x && (!strchr(buf, 'e') || digits > 16))
            return;
    snprintf(buf, size, "%s", v[0] ? v : off ? off : "?");
}

/* Fills d for key; 0 when the key has no words here (the generic message stays). */
static int differ_key(differ *d, const char *key, const char *have, const char *want, const irb_classify_opts *o,
                      const irb_cls_sources *src, const char *by)
{
    if (!strcmp(key, "model_sha256") || !strcmp(key, "classifier_sha256")) {
        differ_files(d, key[0] == 'm', have, want, o, src, by);
        return 1;
    }
    if (!strcmp(key, "positive")) {
        snprintf(d->was, sizeof d->was, "%s%.300s", have[0] ? "with --positive " : "without --positive", have);
        snprintf(d->now, sizeof d->now, "%s%.300s", want[0] ? "has --positive " : "has no --positive", want);
        snprintf(d->keep, sizeof d->keep, "%s%.300s", have[0] ? "use --positive " : "leave out --positive", have);
        return 1;
    }
    for (size_t i = 0; i < sizeof NUMBERS / sizeof *NUMBERS; i++)
        if (!strcmp(key, NUMBERS[i].key)) {
            char a[64], b[64];
            number(have, NUMBERS[i].off, a, sizeof a), number(want, NUMBERS[i].off, b, sizeof b);
            snprintf(d->was, sizeof d->was, "with %s %s", NUMBERS[i].option, a);
            snprintf(d->now, sizeof d->now, "has %s %s%s", NUMBERS[i].option, b, NUMBERS[i].unset);
            snprintf(d->keep, sizeof d->keep, "use %s %s", NUMBERS[i].option, a);
            return 1;
        }
    return 0;
}

/* Rewords the IRB_MISMATCH of irb_store_check_params on key (this run's value: want). */
static void explain_mismatch(irb_store *st, const irb_classify_opts *o, const irb_cls_sources *src, const char *key,
                             const char *want, irb_error *err)
{
    char *have = NULL, *by = NULL;
    differ d;
    if (irb_store_get_param(st, key, &have, NULL) == IRB_OK && have &&
        irb_store_get_state(st, "out.classified_by", &by, NULL) == IRB_OK && /* by: NULL before a run's end */
        differ_key(&d, key, have, want, o, src, by))
        irb_fail(err, IRB_MISMATCH,
                 "%s: this folder was classified %s; this run %s: add --restart to discard those results and "
                 "classify again, or %s to resume it",
                 o->out_dir, d.was, d.now, d.keep);
    irb_free(have), irb_free(by);
}

static irb_status record_params(irb_store *st, const irb_classify_opts *o, const char *survey,
                                const irb_cls_sources *src, int nc, const char *const *classes, irb_error *err)
{
    IRB_TRY(upgrade_survey_param(st, survey, o->survey_moved && !o->restart, err));
    char gap[64], thr[64], minc[64] = "", nov[64] = "", depth[32] = "", cls[4096] = "";
    if (o->camera_depth > 0) /* the folder: "" (stores of earlier versions were made so) */
        snprintf(depth, sizeof depth, "%d", o->camera_depth);
    if (o->min_confidence > 0) /* unset: "" (so stores of earlier versions resume) */
        snprintf(minc, sizeof minc, "%.17g", o->min_confidence);
    if (o->novelty_threshold > 0)
        snprintf(nov, sizeof nov, "%.17g", o->novelty_threshold);
    snprintf(gap, sizeof gap, "%.17g", o->sequence_gap);
    snprintf(thr, sizeof thr, "%.17g", o->positive ? o->threshold : -1.0);
    for (int k = 0; k < nc; k++) {
        size_t l = strlen(cls);
        snprintf(cls + l, sizeof cls - l, "%s%s", k ? "," : "", classes[k]);
    }
    const char *keys[] = {"model_sha256",      "classifier_sha256", "sequence_gap", "positive",
                          "threshold",         "classes",           "survey",       "min_confidence",
                          "novelty_threshold", "camera_depth"};
    const char *vals[] = {
        src->model_id, src->classifier_id, gap, o->positive ? o->positive : "", thr, cls, survey, minc, nov, depth};
    if (o->restart) /* what the run being discarded wrote, while the store still names its images */
        IRB_TRY(irb_outputs_prune(st, err));
    int which = -1;
    irb_status s = irb_store_check_params(st, keys, vals, (int)(sizeof keys / sizeof *keys), o->restart, &which, err);
    if (s == IRB_MISMATCH && which >= 0)
        explain_mismatch(st, o, src, keys[which], vals[which], err);
    if (s == IRB_MISMATCH && strstr(err->message, " with survey = '")) /* the way on, not only over */
        irb_error_append(err, " (when the same survey's folder moved, e.g. its drive is mounted elsewhere: "
                              "--survey-moved)");
    return s;
}

irb_status irb_classify_run_with(const irb_classify_opts *o, const char *model_id, const char *classifier_id,
                                 int n_classes, const char *const *classes, const char *classified_by,
                                 irb_cls_make_scanner make_scanner, irb_cls_make_engine make_engine, void *user,
                                 irb_classify_summary *sum, irb_error *err)
{
    irb_cls_sources src = {.model_id = model_id,
                           .classifier_id = classifier_id,
                           .n_classes = n_classes,
                           .classes = classes,
                           .classified_by = classified_by,
                           .make_scanner = make_scanner,
                           .make_engine = make_engine,
                           .user = user};
    return irb_classify_run_sources(o, &src, sum, err);
}

irb_status irb_classify_run_sources(const irb_classify_opts *o, const irb_cls_sources *src, irb_classify_summary *sum,
                                    irb_error *err)
{
    int n_classes = src->n_classes;
    const char *const *classes = src->classes;
    irb_classify_opts resolved = *o; /* negative: the pipeline's default, resolved by its caller; else off */
    resolved.min_confidence = o->min_confidence < 0 ? 0 : o->min_confidence;
    resolved.novelty_threshold = o->novelty_threshold < 0 ? 0 : o->novelty_threshold;
    o = &resolved;
    irb_classify_summary dummy;
    if (!sum)
        sum = &dummy;
    memset(sum, 0, sizeof *sum);
    irb_progress_tracker pt;
    irb_progress_init(&pt, o->progress, o->progress_user, o->progress_interval);
    run_ctx r = {.o = o, .nc = n_classes, .pt = &pt};
    char survey[PATH_MAX];
    IRB_TRY(check_opts(o, src, &r.pos, err));
    IRB_TRY(canonical_survey(o->survey_dir, survey, err));
    IRB_TRY(check_out_dir(o->out_dir, survey, err));
    IRB_TRY(check_new_run(o->out_dir, o->survey_dir, src, err));
    irb_status open = irb_store_open(o->out_dir, &r.st, err);
    char aside[PATH_MAX] = "";
    if (open == IRB_CORRUPT && o->restart) { /* a damaged store: kept aside, the run starts over */
        IRB_TRY(irb_store_set_aside(o->out_dir, aside, sizeof aside, err));
        open = irb_store_open(o->out_dir, &r.st, err);
    }
    IRB_TRY(open);
    irb_status s = recall_camtrapdp(&r, err);
    if (s == IRB_OK)
        s = record_params(r.st, o, survey, src, n_classes, classes, err);
    if (s == IRB_OK && o->sort == IRB_SORT_HARDLINK)
        s = check_hardlink(survey, o->out_dir, err);
    irb_scan_tally tally = {0};
    if (s == IRB_OK)
        s = scan_phase(r.st, src->make_scanner, src->user, &pt, &tally, err);
    if (s == IRB_OK)
        s = follow_phase(r.st, o, src, &tally, err);
    if (s == IRB_OK)
        s = backfill_phase(r.st, o, src, &pt, &tally, err);
    if (s == IRB_OK)
        s = irb_store_counts_get(r.st, &r.c, err);
    if (s == IRB_OK && src->neighbours && r.c.pending > 0) { /* before a distributed plan lists them */
        long long redo = 0;
        s = irb_store_rank_shots(r.st, err);
        r.ranked = s == IRB_OK;
        if (s == IRB_OK)
            s = irb_store_redo_neighbours(r.st, &redo, err);
        if (s == IRB_OK && redo)
            s = irb_store_counts_get(r.st, &r.c, err);
    }
    if (s == IRB_OK && r.c.total == 0 && tally.skipped) /* a folder of videos (or notes) only */
        s = irb_fail(err, IRB_NOT_FOUND,
                     "%s: no still images in the survey folder, only %lld files that are not (%lld videos): irbis "
                     "classifies still images (irbis scan lists the files)",
                     o->survey_dir, tally.skipped, tally.skipped_videos);
    if (s == IRB_OK && r.c.total == 0) /* a wrong folder, not a survey without pictures */
        s = no_files(o->survey_dir, err);
    pt.p.failed = r.c.failed;
    double t_cls = irb_now();
    if (s == IRB_OK)
        s = classify_phase(&r, src, err);
    sum->classify_seconds = irb_now() - t_cls;
    sum->decoded = r.decoded;
    if (s == IRB_OK)
        s = outputs_phase(&r, src->classified_by, classes, err);
    irb_store_counts c = {0};
    if (s == IRB_OK)
        s = irb_store_counts_get(r.st, &c, err);
    if (s == IRB_OK)
        s = irb_store_copies_count(r.st, sum, err);
    irb_store_close(r.st);
    irb_free(r.was_deployments), irb_free(r.was_taxa), irb_free(r.was_utc);
    sum->images = c.total;
    sum->classified = c.ok;
    sum->failed = c.failed;
    sum->resumed = tally.resumed;
    sum->changed = tally.changed, sum->retried = tally.retried, sum->dropped = tally.dropped;
    snprintf(sum->first_changed, sizeof sum->first_changed, "%s", tally.first_changed);
    snprintf(sum->first_dropped, sizeof sum->first_dropped, "%s", tally.first_dropped);
    sum->reviews_moved = tally.reviews_moved, sum->reviews_dropped = tally.reviews_dropped;
    snprintf(sum->first_review_moved, sizeof sum->first_review_moved, "%s", tally.first_review_moved);
    sum->reviews_retired = tally.reviews_retired;
    snprintf(sum->first_review_retired, sizeof sum->first_review_retired, "%s", tally.first_review_retired);
    sum->found = tally.found;
    snprintf(sum->first_found, sizeof sum->first_found, "%s", tally.first_found);
    sum->digested = tally.digested;
    snprintf(sum->store_aside, sizeof sum->store_aside, "%s", aside);
    sum->sequences = c.sequences;
    sum->pending = c.pending;
    sum->untimed = c.untimed;
    sum->skipped = c.skipped, sum->skipped_videos = c.skipped_videos;
    sum->seconds = irb_now() - pt.t0;
    return s;
}

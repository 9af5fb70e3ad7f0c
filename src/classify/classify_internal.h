/* Internals of `irbis classify`: the results store (store.c), the output writers (outputs*.c),
 * the progress model (progress.c) and the run driver (classify.c). The driver talks to the
 * scanner and to the decode + CNN + classifier engine through the two small interfaces below,
 * so tests can drive the whole run (store, resume, outputs) with fakes. */
#ifndef IRB_CLASSIFY_CLASSIFY_INTERNAL_H
#define IRB_CLASSIFY_CLASSIFY_INTERNAL_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "core/file.h"
#include "irbis/classify.h"
#include "irbis/core.h"
#include "irbis/image.h"

/* ---- sources the driver consumes ---------------------------------------------------------- */

/* One scanned file. Strings are borrowed until the next call to next(). */
typedef struct irb_cls_row {
    const char *path;         /* relative to the survey root, '/'-separated */
    const char *camera;       /* "" when unknown */
    const char *timestamp;    /* local camera time "YYYY-MM-DDTHH:MM:SS[.fff]" or "" */
    int width, height;        /* 0 when unknown */
    irb_status status;        /* not IRB_OK: the file is already known to be bad */
    const char *message;      /* the cause when status != IRB_OK */
    long long size, mtime_ns; /* the file's stamp (0: unknown): a file whose stamp changed is read again */
    int skipped;              /* 1: not a still image (irbis/scan.h IRB_ROW_SKIPPED): counted, not stored */
    int video;                /* skipped: 1 when the file is a video */
} irb_cls_row;

/* What a scan found against the store: files that changed since they were done (other bytes,
 * or another stamp where the content is not known) or whose failure may have passed (unreadable,
 * missing) are done again; files no longer in the survey whose picture is nowhere else are
 * dropped from the results. */
typedef struct irb_scan_tally {
    long long changed, retried, dropped;
    long long resumed; /* images done by an earlier run and kept as they are */
    char first_changed[256], first_dropped[256];
    long long reviews_moved;      /* human labels that followed their image to its new path */
    long long reviews_dropped;    /* dropped images with a human label (kept in the store) */
    char first_review_moved[520]; /* "old -> new" */
    long long reviews_retired;    /* human labels of files now another picture: no longer applied */
    char first_review_retired[256];
    long long found;                   /* images found under another path with the same bytes: their results kept */
    char first_found[520];             /* "old -> new" */
    long long digested;                /* classified images of an earlier irbis whose content this run recorded */
    long long skipped, skipped_videos; /* files that are not still images (irb_store_skip_file) */
} irb_scan_tally;

typedef struct irb_cls_scanner {
    void *ctx;
    /* IRB_OK with *row filled, IRB_NOT_FOUND at the end, another status on a fatal error. */
    irb_status (*next)(void *ctx, irb_cls_row *row, irb_error *err);
    void (*close)(void *ctx);
} irb_cls_scanner;

/* One image handed to an engine's run(): absolute paths, borrowed for the call. */
typedef struct irb_cls_item {
    const char *path;
    const char *prev, *next; /* the same camera's previous / next image in shooting order, or NULL */
} irb_cls_item;

/* Decode + CNN + classifier, at most IRB_CLS_RUN_MAX images per run(). */
#define IRB_CLS_RUN_MAX 256
typedef struct irb_cls_engine {
    void *ctx;
    int workers; /* unused (the engine has its own threads) */
    int n_classes;
    const char *const *classes; /* n_classes names, owned by ctx */
    const char *classified_by;  /* "irbis 0.1.0 (mobilenet_v2_1.0_224.onnx + c.irbis)" */
    /* Decodes and scores n images on its own threads. Per image st[i]: IRB_OK with probs row i
     * (n_classes doubles), or the image's failure with errs[i] naming the file and the cause. A
     * returned failure is fatal (the batch is not stored). */
    irb_status (*run)(void *ctx, const irb_cls_item *items, int n, double *probs, irb_status *st, irb_error *errs,
                      irb_error *err);
    int neighbours;        /* run() needs each image's neighbours: images come in shooting order */
    const double *novelty; /* or NULL: after run(), novelty[i] is image i's novelty score (NaN: none;
                            * docs/pipeline.md), owned by ctx */
    /* or NULL: after run(), digest[i] is image i's content digests (irb_image_digest: head, data;
     * "" when unknown) as its results' maker read them (a distributed run's workers), owned by
     * ctx; NULL: the run reads them on its own threads just before run() */
    char (*digest)[2][65];
    const long long *decoded; /* or NULL: images the engine has read and decoded so far (each
                               * image once; a neighbour not kept from the run before once more) */
    void (*free)(void *ctx);
} irb_cls_engine;

/* The run with explicit sources (irb_classify_run builds the real ones). The driver takes
 * ownership of neither; `make_engine` is called only when there is work for it, so a finished
 * run can be re-emitted without loading the model. Parameters recorded in the store come from
 * opts plus `model_id` and `classifier_id` (e.g. sha256 hex strings). */
typedef irb_status (*irb_cls_make_engine)(void *user, irb_cls_engine *engine, irb_error *err);
typedef irb_status (*irb_cls_make_scanner)(void *user, irb_cls_scanner *scanner, irb_error *err);
irb_status irb_classify_run_with(const irb_classify_opts *opts, const char *model_id, const char *classifier_id,
                                 int n_classes, const char *const *classes, const char *classified_by,
                                 irb_cls_make_scanner make_scanner, irb_cls_make_engine make_engine, void *user,
                                 irb_classify_summary *sum, irb_error *err);

/* The same run described by a struct, with an optional hook: plan(user, store) is called after
 * the scan, only when images are pending, before make_engine (a distributed driver computes the
 * pending images' results elsewhere there, and its engine then replays them). */
typedef struct irb_store irb_store;
typedef struct irb_cls_sources {
    const char *model_id, *classifier_id;
    int n_classes;
    const char *const *classes;
    const char *classified_by;
    irb_cls_make_scanner make_scanner;
    irb_cls_make_engine make_engine;
    irb_status (*plan)(void *user, irb_store *st, irb_error *err); /* or NULL */
    void *user;
    const char *file_precision; /* the precision the pipeline or classifier was trained at (its
                                 * classifier_id has "+PRECISION" when run at another), or NULL */
    int has_novelty;            /* the engine scores novelty (a pipeline with a novelty model) */
    int neighbours;             /* the engine reads each image's neighbours (a motion part) */
    /* or NULL: the content digests of n images (paths relative to the survey) into digests, as
     * irb_image_digests gives them (a distributed run reads them on its workers); NULL: read on
     * the run's threads */
    irb_status (*digests)(void *user, int n, const char *const *paths, char (*digests)[2][65], irb_error *err);
} irb_cls_sources;
irb_status irb_classify_run_sources(const irb_classify_opts *opts, const irb_cls_sources *src,
                                    irb_classify_summary *sum, irb_error *err);

/* The real sources of irb_classify_run (classify_pipeline.c): the pipeline (or version-1
 * classifier) loaded and checked against the model, the scanner of opts->survey_dir, and the
 * pipeline's engine. opts is borrowed and must outlive the handle. */
typedef struct irb_cls_real irb_cls_real;
irb_status irb_cls_real_new(const irb_classify_opts *opts, irb_cls_real **out, irb_error *err);
void irb_cls_real_free(irb_cls_real *c); /* c may be NULL */
/* model_id/classifier_id/n_classes/classes/classified_by of c (owned by c), sources unset. */
void irb_cls_real_ids(const irb_cls_real *c, irb_cls_sources *src);
/* Signatures of irb_cls_make_scanner / irb_cls_make_engine, with user = the irb_cls_real. */
irb_status irb_cls_real_scanner(void *user, irb_cls_scanner *scanner, irb_error *err);
irb_status irb_cls_real_engine(void *user, irb_cls_engine *engine, irb_error *err);
/* opts' min_confidence and novelty_threshold where negative: the pipeline's defaults. */
void irb_cls_real_resolve(const irb_cls_real *c, irb_classify_opts *opts);
/* 1 when the engine needs each image's neighbours (a motion part). */
int irb_cls_real_neighbours(const irb_cls_real *c);
/* The featurizer inputs of an engine made by irb_cls_real_engine (its ctx), as it runs them
 * (bench/bench_stages.c times them): *inputs (owned by the engine) and the count. */
struct irb_feat_input;
int irb_cls_real_inputs(void *engine_ctx, const struct irb_feat_input **inputs);

/* The scanner of o->survey_dir (irb_scan_*, o->camera_depth), as irb_classify_run uses it. */
irb_status irb_cls_scanner_open(const irb_classify_opts *o, irb_cls_scanner *sc, irb_error *err);

/* ---- labels ------------------------------------------------------------------------------- */

/* The label rule for images and sequences: with a positive class (pos >= 0) the label is pos
 * iff p[pos] >= threshold, else the most probable other class; without, the argmax (lowest
 * index on ties). With min_conf > 0, IRB_LABEL_UNCERTAIN when the top probability is below
 * min_conf. */
enum { IRB_LABEL_UNCERTAIN = -2 };
int irb_cls_label(const double *p, int n, int pos, double threshold, double min_conf);
/* The same, and IRB_LABEL_UNCERTAIN when novelty_threshold > 0 and the novelty score is above it
 * (a NaN score, i.e. none, never is): the image is unlike the training images. */
int irb_cls_label_novel(const double *p, int n, int pos, double threshold, double min_conf, double novelty,
                        double novelty_threshold);

/* ---- the results store (store.c) -------------------------------------------------------- */

enum { IRB_IMG_PENDING = 0, IRB_IMG_OK = 1, IRB_IMG_FAILED = 2 };

/* Creates dir if needed, takes the exclusive lock dir/.lock (IRB_BUSY when another process or
 * handle holds it) and opens dir/irbis.sqlite in WAL mode. */
irb_status irb_store_open(const char *dir, irb_store **out, irb_error *err);
/* Where dir may be written: irb_store_open (a store of an earlier version is brought up to date).
 * Where it may not (a read-only file system, another user's folder: the folder, its .lock or
 * irbis.sqlite denied), irb_store_open refuses with IRB_IO ("... is read-only") and this opens
 * the store read-only for a command that only reads: no lock file, no schema change (a store
 * lacking a table or column of this version is refused, IRB_UNSUPPORTED), a shared flock on dir
 * (IRB_BUSY while a run holds it), and a non-empty irbis.sqlite-wal in a folder that cannot be
 * written is refused (IRB_IO): its commits could not be read. Every write then fails. */
irb_status irb_store_open_reader(const char *dir, irb_store **out, irb_error *err);
/* 1 when st was opened read-only (irb_store_open_reader in a folder it may not write). */
int irb_store_readonly(const irb_store *st);
/* Closes the database and releases the lock. st may be NULL. */
void irb_store_close(irb_store *st);
const char *irb_store_dir(const irb_store *st);
/* 1 when the store holds an image of this survey-relative path (0 also on an error). */
int irb_store_has_path(irb_store *st, const char *path);

/* Compares the recorded parameters with keys/values (n pairs). No recorded run: records them.
 * Different: IRB_MISMATCH naming the first difference (its index in *which when which is not
 * NULL), unless restart, which wipes the store (and OUT/sorted, OUT/thumbs) and records the new
 * ones. */
irb_status irb_store_check_params(irb_store *st, const char *const *keys, const char *const *values, int n, int restart,
                                  int *which, irb_error *err);
/* One recorded parameter (*value a copy the caller frees with irb_free, NULL when unset), and
 * overwriting one (e.g. a legacy spelling of the same value). */
irb_status irb_store_get_param(irb_store *st, const char *key, char **value, irb_error *err);
irb_status irb_store_set_param(irb_store *st, const char *key, const char *value, irb_error *err);
/* A free-form state value; *value is a copy the caller frees with
 * irb_free, NULL when unset. */
irb_status irb_store_get_state(irb_store *st, const char *key, char **value, irb_error *err);
irb_status irb_store_set_state(irb_store *st, const char *key, const char *value, irb_error *err);

irb_status irb_store_begin(irb_store *st, irb_error *err);
irb_status irb_store_commit(irb_store *st, irb_error *err);
void irb_store_rollback(irb_store *st);

/* Adds a scanned file unless its path is already there (then nothing changes). A row with
 * status != IRB_OK is recorded as failed with its message. */
irb_status irb_store_add_image(irb_store *st, const irb_cls_row *row, irb_scan_tally *t, irb_error *err);
/* A scanned file that is not a still image (row->skipped): counted in t (and t->skipped_videos),
 * not stored; a failed row of its path (an earlier version listed such files as failures) is
 * deleted without being counted as dropped. irb_store_scan_end records the counts (state
 * "scan.skipped": "N VIDEOS") for irb_store_counts_get. */
irb_status irb_store_skip_file(irb_store *st, const irb_cls_row *row, irb_scan_tally *t, irb_error *err);
/* The scan in a run: irb_store_scan_begin (in its first transaction) marks every stored image
 * unseen (seen 0); irb_store_add_image marks the ones the scan lists (1: kept, 2: new or done
 * again); irb_store_scan_end (in its last)
 * drops those it did not list (a folder it could not open keeps its images), or refuses when it
 * listed none but the store has some (IRB_NOT_FOUND: an unmounted drive). */
irb_status irb_store_scan_begin(irb_store *st, irb_error *err);
/* Renames a damaged OUT/irbis.sqlite (and its -wal, -shm) to irbis.sqlite.damaged-TIME, named
 * in aside, so that a --restart can start over without destroying it. */
irb_status irb_store_set_aside(const char *dir, char *aside, size_t size, irb_error *err);
irb_status irb_store_scan_end(irb_store *st, irb_scan_tally *t, irb_error *err);

/* Pictures found again (after the scan, before classifying): the scan keeps in table former the
 * classified images whose content is known (their digests) that left their path or whose file's
 * stamp changed (a copy with new times, a file renamed or replaced). irb_store_undigested lists,
 * as irb_store_pending does, the pending images that may hold one of them (the same size, or the
 * same path), whose digests the caller computes (irb_image_digest) and records with
 * irb_store_set_digest; irb_store_follow_content then, in one transaction, gives each pending
 * image of the same bytes the results of its former image (with same_camera, only one of its own
 * camera) and each human label of a picture no longer at its path to the images that hold that
 * picture now (the same data digest, so an EXIF edit is the same picture), and takes off the
 * labels of paths that hold another picture now (kept in the history); the tally counts them. */
irb_status irb_store_undigested(irb_store *st, int64_t after, int max, int64_t **ids, char ***paths, int *n,
                                irb_error *err);
irb_status irb_store_set_digest(irb_store *st, int64_t id, const char *head, const char *data, irb_error *err);
irb_status irb_store_follow_content(irb_store *st, int same_camera, irb_scan_tally *t, irb_error *err);
/* Classified images whose content is not known (irbis before digests: NULL digests) and whose
 * files the scan found unchanged, listed as irb_store_pending does, and their count: a run reads
 * their digests once (irb_store_set_digest), so a later move or rename keeps their results and
 * labels. A file that cannot be read stays unknown (tried again by the next run). */
irb_status irb_store_unknown(irb_store *st, int64_t after, int max, int64_t **ids, char ***paths, int *n,
                             irb_error *err);
irb_status irb_store_count_unknown(irb_store *st, long long *n, irb_error *err);

/* Up to max pending images with id > after, in id order: ids[i], paths[i] (owned by st, valid
 * until the next call). *n receives the count (0: none left). */
irb_status irb_store_pending(irb_store *st, int64_t after, int max, int64_t **ids, char ***paths, int *n,
                             irb_error *err);
/* An image's result; warning: the decoder's warning about the file (a damaged JPEG decoded in
 * part: its message column), or NULL. */
irb_status irb_store_set_result(irb_store *st, int64_t id, const double *probs, int n_classes, int label,
                                const char *warning, irb_error *err);
irb_status irb_store_set_failed(irb_store *st, int64_t id, irb_status status, const char *message, irb_error *err);
/* An image's novelty score (docs/pipeline.md); a NaN stores none. */
irb_status irb_store_set_novelty(irb_store *st, int64_t id, double score, irb_error *err);

/* Shooting order, for engines that compare an image with its neighbours: ranks every image by
 * (camera, timed before untimed, time, path), as the experiment orders a camera's frames. Run
 * after the scan; recomputed on every run, so images added since are placed. */
irb_status irb_store_rank_shots(irb_store *st, irb_error *err);
/* 1 if dir holds a store (dir/irbis.sqlite): the output folder of an irbis classify run. */
int irb_store_exists(const char *dir);
/* After irb_store_rank_shots: the classified images whose previous or next readable image of
 * their camera is pending are pending again, so an image whose neighbour arrived after it was
 * classified (files added to a finished survey) gets the result one run over all the files
 * gives it. *n: how many. */
irb_status irb_store_redo_neighbours(irb_store *st, long long *n, irb_error *err);
/* A pending image in shooting order with the previous and next readable image (width > 0) of
 * its camera, whatever their state (NULL at a camera's ends). Strings are owned: irb_shot_release. */
typedef struct irb_shot {
    int64_t id, k; /* store id, shooting rank */
    char *path, *camera, *prev, *next;
} irb_shot;
/* Up to max pending images with rank > after, in rank order, into out[0..*n). */
irb_status irb_store_pending_shots(irb_store *st, int64_t after, int max, irb_shot *out, int *n, irb_error *err);
void irb_shot_release(irb_shot *s);

typedef struct irb_store_counts {
    long long total, pending, ok, failed, sequences;
    long long untimed;                 /* classified images without a time (not in the Camtrap DP package) */
    long long skipped, skipped_videos; /* files of the last scan that are not still images (not in images) */
} irb_store_counts;
irb_status irb_store_counts_get(irb_store *st, irb_store_counts *c, irb_error *err);

/* Recomputes sequences from the store in one transaction: per camera, by (time, path), a gap
 * above `gap` seconds starts a new sequence, untimed images are sequences of one; sequence
 * probabilities are the mean of the members', and so is its novelty (of the members that have a
 * score), labelled with irb_cls_label_novel. Streams the rows (SQLite sorts on disk when
 * needed): memory is O(classes). */
irb_status irb_store_build_sequences(irb_store *st, double gap, int n_classes, int pos, double threshold,
                                     double min_conf, double novelty_threshold, irb_error *err);

/* A local camera time in seconds (and fraction) by irb_time_parse; 0 when the text is empty or
 * invalid (the image is then untimed, a sequence of one). */
int irb_cls_parse_time(const char *text, int64_t *sec, double *frac);

/* ---- reading the store (store_query.c) ------------------------------------------------------
 * The store is the only code that knows SQL (tests/py/test_store_sql.py): the writers read it
 * through the cursors below, one row struct per kind of row. A cursor is opened by a _begin
 * call, read with the matching _next (1: *row filled, 0: the end or a failure) and closed by
 * irb_store_iter_end, which returns the failure, if any, with its message. Strings and
 * probabilities in a row are owned by the cursor and valid until the next _next or the end;
 * probs are NULL unless the store holds exactly n_classes of them. */
typedef struct irb_store_iter irb_store_iter;
irb_status irb_store_iter_end(irb_store_iter *it, irb_error *err); /* it may be NULL */

/* Which images, in which order. */
typedef enum irb_img_query {
    IRB_IMAGES_ALL,           /* every image by path, with its sequence and review (predictions.csv) */
    IRB_IMAGES_CLASSIFIED,    /* classified images (IRB_IMG_OK) by path, with their sequences */
    IRB_IMAGES_FRAMES,        /* the same, and each one's frame number in its sequence */
    IRB_IMAGES_DONE,          /* classified or failed images by path, with their reviews */
    IRB_IMAGES_TIMED,         /* classified images with a time, by path, with their sequences */
    IRB_IMAGES_FAILED,        /* failed images by path */
    IRB_IMAGES_REVIEWED,      /* classified images that have or had a review, with their reviews */
    IRB_IMAGES_PENDING,       /* pending images by id */
    IRB_IMAGES_PENDING_SHOTS, /* pending images in shooting order (after irb_store_rank_shots) */
} irb_img_query;

/* One image (with its sequence's columns when the query joins them, else seq_name NULL). */
typedef struct irb_img_row {
    int64_t id;
    const char *path, *camera, *timestamp; /* never NULL ("" when unknown) */
    int timed;                             /* tsec, tfrac hold the parsed time */
    int64_t tsec;
    double tfrac;
    int has_size, width, height;
    int state;                    /* IRB_IMG_* */
    const char *status, *message; /* never NULL */
    const double *probs;
    int has_label, label; /* label 0 when !has_label */
    double novelty;       /* NaN: none */
    const char *human;    /* its review's label, or NULL */
    const char *seq_name; /* its sequence, or NULL */
    long long seq_n;      /* the sequence's images */
    int frame;            /* its place in the sequence from 0 (IRB_IMAGES_FRAMES) */
    const double *seq_probs;
    int has_seq_label, seq_label;
    double seq_novelty; /* NaN: none */
} irb_img_row;

irb_status irb_store_images_begin(irb_store *st, irb_img_query q, int n_classes, irb_store_iter **it, irb_error *err);
/* The images of sequence seq in (time, path) order (untimed last), without sequence columns. */
irb_status irb_store_members_begin(irb_store *st, int64_t seq, int n_classes, irb_store_iter **it, irb_error *err);
int irb_store_images_next(irb_store_iter *it, irb_img_row *row);

typedef enum irb_seq_query {
    IRB_SEQS_ALL,      /* every sequence by id, without human labels */
    IRB_SEQS_HUMAN,    /* every sequence by id, with human labels */
    IRB_SEQS_EVENTS,   /* sequences of timed images (start != "") by id, with human labels */
    IRB_SEQS_REVIEWED, /* sequences holding an image that has or had a review, by id, with human labels */
} irb_seq_query;

typedef struct irb_seq_row {
    int64_t id;
    const char *name, *camera, *start, *end; /* never NULL */
    long long n;
    const double *probs;
    int label;
    double novelty; /* NaN: none */
    /* when every image of it has a human label, else NULL: the most common of those labels (ties:
     * the first name; compare it with the run's classes), the latest review with that label; and
     * the latest review of any of its images (also when only some are reviewed) */
    const char *human, *human_time, *review_time;
} irb_seq_row;

irb_status irb_store_seqs_begin(irb_store *st, irb_seq_query q, int n_classes, irb_store_iter **it, irb_error *err);
/* The one sequence id (no row when there is none), without human labels. */
irb_status irb_store_seq_begin(irb_store *st, int64_t id, int n_classes, irb_store_iter **it, irb_error *err);
int irb_store_seqs_next(irb_store_iter *it, irb_seq_row *row);

/* Per camera, in camera order: its images, failed and classified ones, and the classified
 * ones with a time and their earliest and latest (whole) second. */
typedef struct irb_camera_row {
    const char *camera;
    long long images, failed, classified, timed;
    int64_t tmin, tmax;
} irb_camera_row;
irb_status irb_store_cameras_begin(irb_store *st, irb_store_iter **it, irb_error *err);
int irb_store_cameras_next(irb_store_iter *it, irb_camera_row *row);

/* The human labels (table reviews) by path. */
typedef struct irb_review_row {
    const char *path, *label, *time, *method;
} irb_review_row;
irb_status irb_store_reviews_begin(irb_store *st, irb_store_iter **it, irb_error *err);
int irb_store_reviews_next(irb_store_iter *it, irb_review_row *row);

/* Pictures that more than one classified image holds (the same sha_data at two paths: a card
 * copied twice), in the order of their first path: that path, the group's last path, its images.
 * No rows from a store without digests. */
typedef struct irb_copy_row {
    const char *first, *last;
    long long n;
} irb_copy_row;
irb_status irb_store_copies_begin(irb_store *st, irb_store_iter **it, irb_error *err);
int irb_store_copies_next(irb_store_iter *it, irb_copy_row *row);
/* Their totals into sum->copies and sum->copy_groups, the first group's two paths into
 * sum->first_copy. */
irb_status irb_store_copies_count(irb_store *st, irb_classify_summary *sum, irb_error *err);

/* Labels counted into images[0..n_classes] (classified images) and seqs[0..n_classes]
 * (sequences, of `camera` when not NULL): index k for class k, n_classes for uncertain. images
 * may be NULL. */
irb_status irb_store_label_counts(irb_store *st, const char *camera, int n_classes, long long *images, long long *seqs,
                                  irb_error *err);
/* Classified images that have a review. */
irb_status irb_store_count_reviewed(irb_store *st, long long *n, irb_error *err);
/* The id of the classified image at path, -1 when there is none. */
irb_status irb_store_classified_id(irb_store *st, const char *path, int64_t *id, irb_error *err);
/* The paths whose sorted/ entries must go (images that left the survey or changed since they
 * were sorted): fn on each, in path order, until it fails; irb_store_gone_clear empties the list
 * once the sorted/ writer has placed every image. */
irb_status irb_store_gone_each(irb_store *st, irb_status (*fn)(void *ctx, const char *path, irb_error *err), void *ctx,
                               irb_error *err);
irb_status irb_store_gone_clear(irb_store *st, irb_error *err);

/* Writes of irb_reviews_apply and the review handle: an image's or sequence's label, and a
 * review of every image of sequence seq (label "" removes it), kept in the history too. */
irb_status irb_store_set_image_label(irb_store *st, int64_t id, int label, irb_error *err);
irb_status irb_store_set_seq_label(irb_store *st, int64_t id, int label, irb_error *err);
irb_status irb_store_review_seq(irb_store *st, int64_t seq, const char *label, const char *time, irb_error *err);

/* ---- outputs (outputs*.c) ---------------------------------------------------------------- */

typedef struct irb_outputs_opts {
    const char *survey_dir;
    int n_classes;
    const char *const *classes;
    int pos; /* positive class index or -1 */
    double threshold;
    double min_confidence;    /* labels below it are IRB_LABEL_UNCERTAIN (0: off) */
    double novelty_threshold; /* images and sequences whose novelty is above it are IRB_LABEL_UNCERTAIN
                               * (0: off; then no novelty columns) */
    double gap;
    const char *classified_by;
    const char *model_name;
    const char *taxa;        /* "class=Name;..." or NULL */
    const char *deployments; /* CSV camera,latitude,longitude[,locationName] or NULL */
    const char *utc_offset;  /* "Z" or "+hh:mm" */
    irb_sort_mode sort;
    int report_sequences, max_sequence_images;
    int threads; /* for the report's thumbnails (0: every CPU) */
} irb_outputs_opts;

/* ---- what a run writes in OUT: one list, read by the writers below, by the check that a new
 * run's folder holds none of it (classify.c) and by --restart's pruning (irb_outputs_prune) ---- */
#define IRB_OUT_PREDICTIONS "predictions.csv"
#define IRB_OUT_REPORT      "report.html"
#define IRB_OUT_MD          "megadetector.json"
#define IRB_OUT_CCT         "coco-camera-traps.json"
#define IRB_OUT_CTDP        "camtrap-dp"
#define IRB_OUT_SORTED      "sorted"
#define IRB_OUT_THUMBS      "thumbs"
/* The names above, NULL-terminated (outputs.c). */
extern const char *const irb_out_names[];
/* The name of image id's thumbnail in OUT/thumbs/: "ID.jpg" (size >= 24). */
void irb_out_thumb_name(int64_t id, char *buf, size_t size);
/* 1 when name (relative to OUT/camtrap-dp/) is one of the package's files or its temporary
 * (outputs_ctdp.c). */
int irb_ctdp_owns(const char *name);
/* Removes what runs wrote in OUT's folders, for --restart, before the store's rows go:
 * sorted/LABEL/PATH of an image of the store, thumbs/ID.jpg, the Camtrap DP package's files (and
 * their temporaries); a user's own files there stay, with their folders. */
irb_status irb_outputs_prune(irb_store *st, irb_error *err);

/* OUT/predictions.csv, one row per image in path order (docs/classify.md). */
irb_status irb_write_predictions(irb_store *st, const irb_outputs_opts *o, irb_error *err);
/* OUT/camtrap-dp/{datapackage.json,deployments.csv,media.csv,observations.csv}. */
irb_status irb_write_camtrapdp(irb_store *st, const irb_outputs_opts *o, irb_error *err);
/* OUT/coco-camera-traps.json (outputs_cct.c) */
irb_status irb_write_cct(irb_store *st, const irb_outputs_opts *o, irb_error *err);
/* OUT/megadetector.json, MegaDetector batch output 1.6 (outputs_md.c) */
irb_status irb_write_md(irb_store *st, const irb_outputs_opts *o, irb_error *err);
/* OUT/name (malloc'd), or NULL with err set */
char *irb_out_path(irb_store *st, const char *name, irb_error *err);
/* OUT/sorted/<sequence label>/<relative path>. */
irb_status irb_write_sorted(irb_store *st, const irb_outputs_opts *o, irb_error *err);
/* OUT/report.html + OUT/thumbs/. */
irb_status irb_write_report(irb_store *st, const irb_outputs_opts *o, irb_error *err);

/* The outputs above in order (export.c), after recording o in the store's state for irb_export;
 * progress through pt when not NULL. A Camtrap DP warning is kept in err. */
typedef struct irb_progress_tracker irb_progress_tracker;
irb_status irb_write_outputs(irb_store *st, const irb_outputs_opts *o, irb_progress_tracker *pt, irb_error *err);

/* The output options a run recorded (export.c), in strings owned by r: o's strings point into
 * r. IRB_NOT_FOUND when the store holds no finished run. */
typedef struct irb_outputs_recalled {
    char *v[16];
    char **classes;
    char *sort;
    int n;
} irb_outputs_recalled;
irb_status irb_outputs_recall(irb_store *st, irb_outputs_recalled *r, irb_outputs_opts *o, irb_error *err);
void irb_outputs_recalled_free(irb_outputs_recalled *r);

/* Human labels (review.c): every image with a review gets its human label (when it is one of
 * o's classes), every sequence whose images are all reviewed the most common of their labels; images
 * and sequences whose review was removed get the machine label again (irb_cls_label of their
 * probabilities). Entries of OUT/sorted/ under a label that changed are removed, so
 * irb_write_sorted places them anew. One transaction. */
irb_status irb_reviews_apply(irb_store *st, const irb_outputs_opts *o, irb_error *err);

/* Writes a small JPEG thumbnail of src to dst (outputs_report.c); 0 when src cannot be read. */
int irb_thumb_write(irb_decoder_t *dec, void *tjcompressor, const char *src, const char *dst);
/* 1 when the thumbnail dst is there to be shown: a file that is not empty (thumbnails are written
 * without fsync, so a power cut may leave one empty: it is then made again). */
int irb_thumb_ok(const char *dst);

/* Helpers shared by the writers. */
void irb_utc_now(char *buf, size_t size);                         /* "YYYY-MM-DDTHH:MM:SSZ", the current UTC time */
const char *irb_label_name(const irb_outputs_opts *o, int label); /* class, "uncertain" or NULL */
int irb_uncertain_on(const irb_outputs_opts *o); /* the run can label uncertain (min-confidence or novelty) */
const char *irb_obs_type(const char *cls);       /* Camtrap DP observationType of a class name */
const char *irb_taxon(const char *taxa, const char *cls, char *buf, size_t size); /* "" if unmapped */
/* --taxa checked against the classes: each entry CLASS=NAME with a class of the classifier, a
 * non-empty name, each class once. IRB_INVALID_ARG names the entry. */
irb_status irb_taxa_check(const char *taxa, const char *const *classes, int n_classes, irb_error *err);

/* irb_atomic_open (core/file.h) of OUT/name */
irb_status irb_out_open(irb_store *st, const char *name, irb_atomic_file *af, irb_error *err);

/* mkdir -p (mode 0777 & umask); the message names the path. */
irb_status irb_mkdirs(const char *path, irb_error *err);
/* Removes a folder tree (no error when it does not exist). */
irb_status irb_rmtree(const char *path, irb_error *err);
/* Removes the files under root that is_ours(ctx, rel) claims (rel relative to root), then every
 * folder left empty, root too: a user's own files there stay, with their folders. */
irb_status irb_prune_tree(const char *root, int (*is_ours)(void *ctx, const char *rel), void *ctx, irb_error *err);
/* "a" + "/" + "b" into a new string (irb_free), NULL when out of memory. */
char *irb_path_join(const char *a, const char *b);

/* ---- progress (progress.c) ---------------------------------------------------------------- */

typedef struct irb_progress_tracker {
    irb_progress_fn fn;
    void *user;
    double interval, t0, phase_t0, last_report;
    long long phase_done0; /* done at the start of this run's phase */
    double win_t[8];       /* recent (time, done) samples for the rate */
    long long win_done[8];
    int win_n;
    irb_progress p;
} irb_progress_tracker;

double irb_now(void); /* monotonic seconds */
void irb_progress_init(irb_progress_tracker *t, irb_progress_fn fn, void *user, double interval);
void irb_progress_phase(irb_progress_tracker *t, irb_phase phase, long long done, long long total);
/* Updates counts; calls the callback when the interval has passed (or force). */
void irb_progress_update(irb_progress_tracker *t, long long done, long long total, long long failed, int force);
void irb_progress_end_phase(irb_progress_tracker *t);

#endif

/* irbis/classify.h: the production run. A survey folder goes in; a results store, per-image
 * and per-sequence predictions, a Camtrap DP package, MegaDetector and COCO Camera Traps JSON,
 * sorted folders and an HTML report come out. Included by irbis.h. Formats, exit statuses and resume semantics:
 * docs/classify.md.
 *
 * Overview
 *   - irb_classify_run scans the survey, decodes images on worker threads while the previous
 *     batch runs through the CNN, applies the classifier, groups images into sequences and
 *     averages their probabilities, and writes the outputs into opts->out_dir.
 *   - Every per-image record lives in OUT/irbis.sqlite (SQLite, WAL mode), committed one
 *     transaction per batch: memory does not grow with the survey. A run that is killed at any
 *     moment and started again with the same options skips what is done.
 *   - The run holds an exclusive lock on OUT/.lock; a second run on the same folder gets
 *     IRB_BUSY. The run's parameters (model and classifier sha256, sequence gap, threshold,
 *     positive class, survey folder) are recorded in the store; resuming with different ones
 *     gives IRB_MISMATCH unless opts->restart is set (which discards the old results).
 *   - Progress is reported through a callback (the library never prints).
 *
 * Example (classify a survey folder into out/):
 *
 *   irb_classify_opts o;
 *   irb_classify_opts_default(&o);
 *   o.model_path = "mobilenet_v2.onnx";
 *   o.classifier_path = "classifier.irbis";
 *   o.survey_dir = "survey";
 *   o.out_dir = "out";
 *   irb_classify_summary sum;
 *   irb_error err = {0};
 *   if (irb_classify_run(&o, &sum, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   printf("%lld images, %lld classified, %lld failed\n", sum.images, sum.classified, sum.failed);
 */
#ifndef IRBIS_CLASSIFY_H
#define IRBIS_CLASSIFY_H

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- progress --------------------------------------------------------------------------- */

typedef enum irb_phase {
    IRB_PHASE_SCAN = 0,  /* walking the survey folder; total is not known yet */
    IRB_PHASE_CLASSIFY,  /* decode + CNN + classifier; done/total are images */
    IRB_PHASE_SEQUENCES, /* grouping and ensembling (from the store) */
    IRB_PHASE_OUTPUTS,   /* writing CSV, Camtrap DP, report, sorted folders */
    IRB_PHASE_DIGESTS,   /* reading the content digests of images an earlier irbis classified without
                          * them (once, before classifying); done/total are images */
} irb_phase;

/* A progress snapshot, passed to the callback (borrowed for the call). */
typedef struct irb_progress {
    irb_phase phase;
    const char *phase_name; /* "scan", "classify", "sequences", "outputs", "digests" */
    long long done;         /* items finished in this phase, including earlier runs */
    long long total;        /* items in this phase (scan: found so far) */
    long long failed;       /* images that could not be classified so far */
    long long resumed;      /* images already done by an earlier run */
    double elapsed;         /* seconds since the run started */
    double rate;            /* items/s in this phase, this run only (recent average) */
    double eta;             /* seconds to the end of the phase, or -1 when unknown */
    int final;              /* 1 on the last report of a phase */
} irb_progress;

typedef void (*irb_progress_fn)(void *user, const irb_progress *p);

/* ---- options and summary ------------------------------------------------------------------ */

typedef enum irb_sort_mode {
    IRB_SORT_NONE = 0,
    IRB_SORT_COPY,     /* copy each image to OUT/sorted/<label>/<relative path> */
    IRB_SORT_HARDLINK, /* hard link there (same file system only) */
    IRB_SORT_SYMLINK,  /* symbolic link to the absolute source path */
} irb_sort_mode;

/* Parses "none", "copy", "hardlink", "symlink"; -1 otherwise. */
IRB_API int irb_sort_mode_parse(const char *name);

typedef struct irb_classify_opts {
    const char *model_path;      /* ONNX model (required) */
    const char *classifier_path; /* classifier file from `irbis train FEATURES` (or a pipeline) */
    const char *pipeline_path;   /* or a pipeline file (`irbis train --images`, `irbis experiment
                                  * --save`): every part of the recipe is applied; model_path may
                                  * then be NULL (the pipeline's model is found from its record) */
    const char *survey_dir;      /* survey root (required) */
    const char *out_dir;         /* output folder, created if missing (required) */
    double sequence_gap;         /* seconds; a larger gap starts a new sequence (default 60) */
    int camera_depth;            /* a file's camera: its folder (0), or the first k folder
                                  * components of its path (irb_scan_opts.camera_depth) */
    const char *positive;        /* class the threshold applies to, or NULL (plain argmax) */
    double threshold;            /* positive label iff p(positive) >= threshold (default 0.5) */
    double min_confidence;       /* images and sequences whose top probability is below it are
                                  * labelled "uncertain" (Camtrap DP: unknown); 0: off; negative
                                  * (irb_classify_opts_default): the pipeline's default, else off */
    double novelty_threshold;    /* with a pipeline that has a novelty model: images and sequences
                                  * whose novelty score is above it are labelled "uncertain" (novel,
                                  * unlike the training images); 0: off; negative (default): the
                                  * pipeline's threshold. Must be 0 or negative without one */
    int precision;               /* the CNN's irb_precision; negative (default): the pipeline's
                                  * (INT8 needs the pipeline's calibration tables). Another
                                  * precision than the pipeline's runs its classifiers on features
                                  * they were not trained on (docs/int8.md says how close) */
    int threads;                 /* decode and CNN threads (0: all CPUs) */
    int batch;                   /* images per CNN batch and per store transaction (0: 16) */
    int restart;                 /* 1: discard earlier results in out_dir and start over */
    int survey_moved;            /* 1: out_dir holds a run on a survey whose folder is now
                                  * survey_dir (a drive mounted elsewhere, a copy): its record is
                                  * updated and the run goes on (the scan redoes files of other
                                  * bytes, docs/classify.md) */
    irb_sort_mode sort;          /* OUT/sorted/ by sequence label (default none) */
    /* The Camtrap DP options. NULL: the one the outputs of out_dir were last written with (by a
     * run, --restart included, or irb_export), when it still holds (the deployments file is still
     * there and valid, the taxa name this run's classes), else none ("Z" for utc_offset). */
    const char *taxa;         /* "class=Scientific name;class2=Name2" for Camtrap DP, or NULL */
    const char *deployments;  /* CSV camera,latitude,longitude[,locationName][,deploymentStart,
                               * deploymentEnd] or NULL (irb_camtrapdp_check) */
    const char *utc_offset;   /* camera clocks' zone for Camtrap DP: "Z", "+05:00", or NULL */
    int report_sequences;     /* sequences shown with thumbnails in report.html (default 50) */
    int max_sequence_images;  /* images shown per sequence in the report (default 6) */
    long long limit;          /* stop classifying after this many images this run (0: no
                               * limit; for tests of resumption) */
    irb_progress_fn progress; /* called from the calling thread, or NULL */
    void *progress_user;
    double progress_interval; /* seconds between reports (default 0.5) */
} irb_classify_opts;

/* Fills *o with the defaults above (all paths NULL); does nothing when o is NULL. */
IRB_API void irb_classify_opts_default(irb_classify_opts *o);

typedef struct irb_classify_summary {
    long long images;        /* images in the survey (every file scanned) */
    long long classified;    /* images with probabilities */
    long long failed;        /* images that could not be read/decoded (listed with their cause) */
    long long resumed;       /* images done by an earlier run and skipped by this one */
    long long sequences;     /* sequences of classified images */
    long long pending;       /* images left unclassified (only with opts.limit) */
    long long untimed;       /* classified images without a time: not in the Camtrap DP package */
    double seconds;          /* wall time of this run */
    double classify_seconds; /* of which decode + CNN + classifier */
    long long decoded;       /* images this process read to decode (failed ones included):
                              * each image of the run once, and with motion parts the
                              * neighbours outside them that it reads (0 when classified
                              * elsewhere: irbis-mpi) */
    /* what the scan found against an earlier run's results: files that changed since (other
     * bytes, or another stamp for an image classified by an earlier version: classified again),
     * failures that may have passed (unreadable or missing: tried again), files no longer in the
     * survey whose picture is nowhere else (dropped from the results), with the first path of the
     * first and last */
    long long changed, retried, dropped;
    char first_changed[256], first_dropped[256];
    char store_aside[4096]; /* with opts.restart: where a damaged store was moved, or "" */
    /* human labels (irbis review) of images no longer at their path: moved with the picture to
     * the images that hold it now (its content: docs/review.md), or, when it is nowhere or
     * ambiguous, kept in the store under the old path and counted among the dropped;
     * first_review_moved: "old -> new" */
    long long reviews_moved, reviews_dropped;
    char first_review_moved[520];
    /* human labels of images whose file is now another picture (a card refilled; a time or EXIF
     * time put right is the same picture): taken off the image, which is the machine's again
     * (the history keeps them); the first such path */
    long long reviews_retired;
    char first_review_retired[256];
    /* images found under another path with the same bytes (files renamed, a survey copied with
     * its folders renamed): their results kept, not classified again, and counted in resumed; the
     * first as "old -> new" */
    long long found;
    char first_found[520];
    /* images classified by an earlier irbis that recorded no content digests, given theirs by
     * this run (read once from their unchanged files: a later move or rename keeps their results
     * and human labels) */
    long long digested;
    /* files of the survey that are not still images (irbis/scan.h, IRB_ROW_SKIPPED: video clips,
     * notes, logs): not classified, not failures, in no output file (report.html counts them);
     * skipped_videos of them are videos */
    long long skipped, skipped_videos;
    /* classified images whose picture another classified image at another path also is (the same
     * content digest, irb_image_digest's data: a card copied twice into the survey, a copy with
     * only its metadata edited): copies images in copy_groups pictures; first_copy: two paths of
     * the first such picture (in path order). Counted, not removed: every copy stays in every
     * output (docs/classify.md). Images without digests (failed ones) are not counted. */
    long long copies, copy_groups;
    char first_copy[2][256];
} irb_classify_summary;

/* Checks the Camtrap DP options before a run: utc_offset (NULL: not checked) must be "Z" or
 * "+HH:MM"/"-HH:MM"; the deployments CSV (NULL: none; borrowed for the call) must have the columns
 * camera,latitude,longitude (optional locationName, deploymentStart/start, deploymentEnd/end),
 * decimal coordinates in range, local start/end times, each camera once. IRB_INVALID_ARG with
 * the file, line and cause in err; IRB_NOT_FOUND/IRB_IO when the file cannot be read. */
IRB_API irb_status irb_camtrapdp_check(const char *deployments, const char *utc_offset, irb_error *err);

/* Runs the whole job described by opts (borrowed for the call); sum (may be NULL) receives the
 * counts. Returns IRB_OK when the run completed, even if some images failed (sum->failed);
 * IRB_BUSY when another run holds the output folder; IRB_MISMATCH when the folder holds a run
 * with different parameters (or the classifier does not fit the model); IRB_INVALID_ARG,
 * IRB_IO, IRB_NOT_FOUND, IRB_CORRUPT, IRB_NOMEM otherwise. The message names the file.
 * IRB_INVALID_ARG (before the survey is touched) for options out of range: a negative count
 * (camera_depth, threads, limit, report_sequences, max_sequence_images), NaN, or a sort mode or
 * precision irbis does not have. */
IRB_API irb_status irb_classify_run(const irb_classify_opts *opts, irb_classify_summary *sum, irb_error *err);

/* ==== outputs again, without classifying (irbis export; src/classify/export.c) ================= */

typedef struct irb_export_opts {
    const char *out_dir;     /* the output folder of an irb_classify_run (required) */
    const char *deployments; /* new deployments CSV (as irb_classify_opts), or NULL: the run's */
    const char *utc_offset;  /* new zone of the camera clocks, or NULL: the run's */
    const char *taxa;        /* new class-to-taxon mapping, or NULL: the run's */
} irb_export_opts;

/* Rewrites the survey outputs of out_dir (predictions.csv, camtrap-dp/, coco-camera-traps.json,
 * megadetector.json, report.html; sorted/ when the run made it) from its results store, with the
 * human labels of irbis/review.h, with the options the run
 * recorded except those given in e (borrowed for the call; checked as irb_camtrapdp_check does,
 * IRB_INVALID_ARG when bad); the new ones are recorded for later exports. Takes the folder's lock
 * (IRB_BUSY while a run uses it). IRB_NOT_FOUND when out_dir holds no finished run. sum (may be
 * NULL) receives the store's counts. As with irb_classify_run, an incomplete Camtrap DP package
 * (cameras without coordinates) is a warning in err, not a failure. */
IRB_API irb_status irb_export(const irb_export_opts *e, irb_classify_summary *sum, irb_error *err);

/* ==== distributed runs (irbis-mpi classify; src/classify/classify_parts.c) ====================
 * A worker computes per-image results exactly as irb_classify_run does (same decoder, net cut,
 * classifier, batches on its own threads) for images it is handed, without a store, so several
 * processes can each compute a share of a survey. irb_classify_run_dist then runs the normal
 * store, sequence and output path of irb_classify_run with those results in place of its own
 * engine, so its outputs equal irb_classify_run's. */

typedef struct irb_classify_worker_t irb_classify_worker_t;

/* Loads the classifier and the model (checked against each other as irb_classify_run does) and
 * builds the engine for opts (borrowed; must outlive the worker): model_path, classifier_path,
 * survey_dir, threads, batch are used. Free with irb_classify_worker_free. */
IRB_API irb_status irb_classify_worker_new(const irb_classify_opts *opts, irb_classify_worker_t **out, irb_error *err);
IRB_API void irb_classify_worker_free(irb_classify_worker_t *w); /* w may be NULL */
IRB_API int irb_classify_worker_classes(const irb_classify_worker_t *w);
/* A fingerprint of what shapes the results (model and classifier sha256, class count, survey),
 * owned by w: results computed under another key must not be reused. NULL for w = NULL (and the
 * counts above and below are 0). */
IRB_API const char *irb_classify_worker_key(const irb_classify_worker_t *w);
/* The values of one image's result: the classes' probabilities, then, when the pipeline has a
 * novelty model, the image's novelty score (classes + 1). */
IRB_API int irb_classify_worker_values(const irb_classify_worker_t *w);
/* One image's result, passed to the callback of irb_classify_worker_run (borrowed for the call):
 * index i into the paths given, status IRB_OK with probs (irb_classify_worker_values doubles), or the image's failure
 * status with image_err->message naming the file and the cause (as the store records it); digest:
 * the file's content digests (irb_image_digest: digest[0] its head, digest[1] its data; both ""
 * when it could not be read), read by the worker just before its decode, for the store. */
typedef void (*irb_classify_result_fn)(void *user, size_t i, irb_status status, const double *probs,
                                       const char (*digest)[65], const irb_error *image_err);

/* 1 when the worker's pipeline has a motion part: then every image needs its neighbours (the
 * previous and next image of its camera in shooting order, as irb_classify_dist's plan gives them). */
IRB_API int irb_classify_worker_neighbours(const irb_classify_worker_t *w);
/* Classifies n images (paths relative to opts->survey_dir, borrowed for the call), with their
 * neighbours prev[i] / next[i] (relative paths or NULL; the arrays may be NULL when the worker
 * needs none), in runs of a few batches, reading each run's content digests on opts->threads
 * threads and then decoding the next images on the worker threads while the CNN runs, as
 * irb_classify_run does. fn is called on the calling thread for every image,
 * in order, a run at a time. Returns IRB_OK unless the engine itself failed (err says why);
 * IRB_INVALID_ARG for a NULL w, or a NULL paths, paths[i] or fn with n > 0. */
IRB_API irb_status irb_classify_worker_run(irb_classify_worker_t *w, const char *const *paths, const char *const *prev,
                                           const char *const *next, size_t n, irb_classify_result_fn fn, void *user,
                                           irb_error *err);

/* Hooks of irb_classify_run_dist, called on the calling thread. */
typedef struct irb_classify_dist {
    void *user;
    /* After the scan, only when images are pending: the n pending images (paths relative to the
     * survey, their cameras and their times in seconds on the camera's clock, NaN when unknown;
     * borrowed for the call) in the order `result` will be asked for them. With a motion part in
     * the pipeline, they come in shooting order with each image's neighbours prev[i] / next[i]
     * (relative paths, NULL at a camera's ends; classified images included); else prev and next
     * are NULL. Compute their results (e.g. on other processes) and return; not IRB_OK (message
     * in err) ends the run with that status. */
    irb_status (*plan)(void *user, long long n, const char *const *paths, const char *const *cameras,
                       const double *times, const char *const *prev, const char *const *next, irb_error *err);
    /* The result of the next pending image `path`: returns 1 with probs filled (the values
     * irb_classify_worker_values gives: the classes' probabilities, then the novelty score when
     * the pipeline has a novelty model); 0 when the image failed (err->status and err->message are the image's, as the
     * store records them); -1 when the result cannot be had (err says why: the run stops with
     * err->status and stores nothing of the batch in flight). May be called from another thread
     * than plan, never concurrently. digest: the image's content digests as the worker that
     * computed the result read them (irb_classify_result_fn's), to fill (both "" when unknown):
     * the run records them instead of reading the file again. */
    int (*result)(void *user, const char *path, double *probs, char (*digest)[65], irb_error *err);
    /* Or NULL (the run reads them on opts->threads threads): the content digests of n images
     * (paths relative to the survey, borrowed for the call) into digests[i] (head, data; both ""
     * when a file cannot be read), as irb_image_digests gives them, e.g. read on other
     * processes. The run asks, before plan and before it has anything to classify, for those of
     * pending images that may be pictures it knew under another path or time (a survey moved or
     * renamed) and of classified images whose content an earlier irbis did not record (read
     * once). Not IRB_OK (message in err) ends the run with that status. */
    irb_status (*digests)(void *user, int n, const char *const *paths, char (*digests)[2][65], irb_error *err);
} irb_classify_dist;

/* irb_classify_run with results from dist (borrowed for the call) instead of its own engine:
 * same options, lock, parameters, scan, resume, sequences, outputs, summary and statuses. */
IRB_API irb_status irb_classify_run_dist(const irb_classify_opts *opts, const irb_classify_dist *dist,
                                         irb_classify_summary *sum, irb_error *err);
/* ==== end of distributed runs ============================================================== */

#ifdef __cplusplus
}
#endif
#endif

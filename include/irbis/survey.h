/* irbis/survey.h: camera times, burst sequences, per-sequence ensembling, cross-validation folds,
 * and (in the last section) the results store. Included by irbis.h.
 *
 * Overview
 *   - irb_time_parse reads local camera times ("2012-11-24T16:59:05", "2012-11-24T16:59:05.25",
 *     EXIF "2012:11:24 16:59:05") as seconds since 1970-01-01T00:00:00 of the same local clock.
 *     No time zone or DST arithmetic is done: camera clocks are local and naive.
 *   - irb_sequences_assign groups images into bursts ("sequences", "events"): per camera, sorted
 *     by (time, path), a new sequence starts when the gap to the previous image exceeds `gap`
 *     seconds (default 60 s). A gap exactly equal to `gap` stays in the same sequence. An explicit
 *     sequence value overrides the time grouping; images without a time are sequences of one.
 *   - irb_ensemble_sequences combines per-image class probabilities over each sequence (mean,
 *     max, geometric mean) and gives every image its sequence's probabilities and label.
 *   - irb_folds_assign splits images into k cross-validation folds without splitting a unit
 *     (sequence, camera, or a contiguous block of the sorted path order).
 *   Design and rationale: docs/sequences.md.
 *
 * Example (sequences and two cross-validation folds for four images of two cameras):
 *
 *   const char *path[4] = {"cam1/a.jpg", "cam1/b.jpg", "cam1/c.jpg", "cam2/d.jpg"};
 *   const char *camera[4] = {"cam1", "cam1", "cam1", "cam2"};
 *   const char *when[4] = {"2012-11-24T16:59:05", "2012:11:24 16:59:50", "2012-11-24T17:30:00",
 *                          "2012-11-24T16:59:10"};
 *   irb_seq_item items[4];
 *   irb_error err = {0};
 *   for (int i = 0; i < 4; i++) {
 *       items[i] = (irb_seq_item){.path = path[i], .camera = camera[i], .has_time = 1};
 *       if (irb_time_parse(when[i], &items[i].time, &err) != IRB_OK) {
 *           fprintf(stderr, "%s\n", err.message);
 *           return 1;
 *       }
 *   }
 *   irb_sequences seq = {0};
 *   if (irb_sequences_assign(items, 4, NULL, &seq, &err) != IRB_OK) {   // gap: 60 s
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   irb_fold_item f[4];
 *   for (int i = 0; i < 4; i++)   // folds never split a sequence
 *       f[i] = (irb_fold_item){.path = path[i], .camera = camera[i], .unit = seq.ids[seq.image_seq[i]],
 *                              .label = -1};
 *   irb_fold_opts fo = irb_fold_opts_default();   // by sequence, stratified
 *   fo.k = 2;
 *   int fold[4];
 *   int rc = irb_folds_assign(f, 4, &fo, fold, &err) == IRB_OK ? 0 : 1;
 *   for (int i = 0; rc == 0 && i < 4; i++)
 *       printf("%s sequence %s fold %d\n", path[i], seq.ids[seq.image_seq[i]], fold[i]);
 *   if (rc)
 *       fprintf(stderr, "%s\n", err.message);
 *   irb_sequences_release(&seq);
 *   return rc;
 */
#ifndef IRBIS_SURVEY_H
#define IRBIS_SURVEY_H

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- camera times ------------------------------------------------------------------------ */

/* A local camera time: whole seconds since 1970-01-01T00:00:00 on the camera's own clock
 * (proleptic Gregorian, no time zone), plus a fraction in [0, 1). */
typedef struct irb_time {
    int64_t seconds;
    double frac;
} irb_time;

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]" (the 'T' may also be a space) or EXIF's
 * "YYYY:MM:DD HH:MM:SS[.fff]". Leading/trailing spaces are ignored; a trailing "Z" or a UTC
 * offset is refused (IRB_UNSUPPORTED), since camera times are local. Fields are range-checked
 * (month 1-12, day within the month incl. leap years, hour 0-23, minute 0-59, second 0-60;
 * a leap second 60 is taken as 59 + 1 s, but 9999-12-31T23:59:60, which would be year 10000,
 * is refused). EXIF's "unknown" pattern ("0000:00:00 00:00:00" or blanks) gives IRB_NOT_FOUND.
 * Other bad text gives IRB_CORRUPT with the text in err. */
IRB_API irb_status irb_time_parse(const char *text, irb_time *out, irb_error *err);

/* Seconds from a to b (b - a), as a double (any two times: no overflow). */
IRB_API double irb_time_diff(irb_time a, irb_time b);

/* Formats t as "YYYY-MM-DDTHH:MM:SS" (plus ".ffffff" when frac is not zero) into buf, which
 * must hold at least 32 bytes (a shorter one gets the string cut). Any t formats (a year beyond
 * 9999 in more digits; a frac outside [0, 1) is left out). Returns buf. */
IRB_API char *irb_time_format(irb_time t, char *buf, size_t size);

/* ---- burst sequences ------------------------------------------------------------------- */

#define IRB_SEQ_GAP_DEFAULT 60.0

/* One image as input to sequence grouping. All strings are borrowed for the call. */
typedef struct irb_seq_item {
    const char *path;   /* required; the tie-breaker within equal times */
    const char *camera; /* NULL or "" = unknown camera (all such images are one camera) */
    int has_time;       /* 0 = no time known: the image is a sequence of its own */
    irb_time time;
    const char *sequence; /* explicit sequence/event id, NULL or "" = none */
} irb_seq_item;

typedef struct irb_seq_opts {
    double gap; /* seconds; > gap starts a new sequence, == gap does not. Must be >= 0. */
} irb_seq_opts;

/* The result of grouping. All arrays are owned; release with irb_sequences_release.
 * Sequences are ordered by (camera, first time, first path); untimed singletons of a camera
 * come after its timed sequences, in path order; explicit sequences are ordered the same way
 * by their first member. */
typedef struct irb_sequences {
    size_t n_images, n_sequences;
    size_t *image_seq; /* [n_images]: the sequence index of input image i */
    char **ids;        /* [n_sequences]: "<camera>#<k>" (k = 1, 2, ... in time order within the
                        * camera; "#<k>" for an unknown camera) for grouped sequences; the
                        * explicit value for explicit ones ("<camera>:<value>" when the same
                        * value occurs on more than one camera) */
    size_t *start;     /* [n_sequences + 1]: members of sequence s are member[start[s]..start[s+1]) */
    size_t *member;    /* [n_images]: input image indices, grouped by sequence, (time, path) order */
} irb_sequences;

/* Default options: gap = IRB_SEQ_GAP_DEFAULT. */
IRB_API irb_seq_opts irb_seq_opts_default(void);

/* Groups n images into sequences. opts may be NULL (defaults). The result does not depend on
 * the input order. Errors: IRB_INVALID_ARG (NULL path, negative/NaN gap), IRB_NOMEM. *out is
 * zeroed on failure. */
IRB_API irb_status irb_sequences_assign(const irb_seq_item *items, size_t n, const irb_seq_opts *opts,
                                        irb_sequences *out, irb_error *err);

/* Frees the arrays of s and zeroes it. s may be NULL. */
IRB_API void irb_sequences_release(irb_sequences *s);

/* The burst rule, streamed: the one definition of a sequence, used by irb_sequences_assign (the
 * experiment, train), the results store (classify, irbis-mpi classify) and irbis-mpi's units.
 * Feed the images of no explicit sequence in burst order (irb_seq_order: camera, timed before
 * untimed, time, path); each either starts a new sequence or joins the current one. An image
 * joins when it has a time, the previous image fed is of the same camera and has a time, and
 * the gap between them is <= gap seconds. Memory: the current camera's name.
 *
 *   irb_seq_stream bs;
 *   irb_seq_stream_init(&bs, 60, &err);
 *   for each image in burst order:
 *       irb_seq_stream_next(&bs, camera, has_time, time, &starts, &err);
 *       if (starts) ... a new sequence, named irb_seq_stream_name(&bs) ("<camera>#<k>")
 *   irb_seq_stream_release(&bs);
 */
typedef struct irb_seq_stream {
    double gap;
    char *camera;   /* the camera of the image fed last (owned), NULL before the first */
    int prev_timed; /* the image fed last had a time */
    irb_time prev;  /* and this was it */
    size_t k;       /* the current sequence is the k-th of its camera (1, 2, ...) */
    char name[600]; /* "<camera>#<k>" of the current sequence (a longer camera is cut) */
} irb_seq_stream;

/* Errors: IRB_INVALID_ARG (a NULL s; gap negative or NaN). */
IRB_API irb_status irb_seq_stream_init(irb_seq_stream *s, double gap, irb_error *err);
/* One image (camera NULL = ""; t is read when has_time). *starts: 1 when it starts a sequence.
 * Errors: IRB_NOMEM; IRB_INVALID_ARG for a NULL s or starts. */
IRB_API irb_status irb_seq_stream_next(irb_seq_stream *s, const char *camera, int has_time, irb_time t, int *starts,
                                       irb_error *err);
/* The current sequence's name (owned by s, valid until the next call; "" for NULL). */
IRB_API const char *irb_seq_stream_name(const irb_seq_stream *s);
IRB_API void irb_seq_stream_release(irb_seq_stream *s);
/* Burst order: camera (bytes), timed before untimed, time, path (bytes); <0, 0, >0. The store's
 * SQL ORDER BY (camera, tsec IS NULL, tsec, tfrac, path) is the same order. */
IRB_API int irb_seq_order(const irb_seq_item *a, const irb_seq_item *b);

/* ---- ensembling over sequences ------------------------------------------------------- */

typedef enum irb_ensemble {
    IRB_ENSEMBLE_MEAN = 0, /* arithmetic mean of the members' probabilities (default) */
    IRB_ENSEMBLE_MAX,      /* per-class maximum over members, renormalised to sum 1 */
    IRB_ENSEMBLE_GEOMEAN,  /* per-class geometric mean (probabilities floored at 1e-12),
                            * renormalised to sum 1 */
} irb_ensemble;

/* Parses "mean", "max", "geomean" (also "geometric"); returns -1 for anything else. */
IRB_API int irb_ensemble_parse(const char *name);
IRB_API const char *irb_ensemble_name(irb_ensemble e);

/* Combines per-image probabilities over sequences.
 *   probs       [seq->n_images * n_classes], row-major, borrowed
 *   seq_probs   [seq->n_sequences * n_classes] out, caller-allocated, or NULL
 *   seq_label   [seq->n_sequences] out: argmax of seq_probs (lowest index on ties), or NULL
 *   image_probs [seq->n_images * n_classes] out: each image's sequence probabilities, or NULL
 *   image_label [seq->n_images] out: each image's sequence label, or NULL
 * Errors: IRB_INVALID_ARG (n_classes 0, unknown method, a negative or NaN probability). */
IRB_API irb_status irb_ensemble_sequences(const irb_sequences *seq, const double *probs, size_t n_classes,
                                          irb_ensemble method, double *seq_probs, int *seq_label, double *image_probs,
                                          int *image_label, irb_error *err);

/* Index of the largest of v[0..n) (the first on ties; a NaN is never the largest unless all are);
 * -1 when n is 0 or v is NULL. */
IRB_API int irb_argmax(const double *v, size_t n);

/* ---- cross-validation folds ------------------------------------------------------------- */

typedef enum irb_fold_unit {
    IRB_FOLD_SEQUENCE = 0, /* units are sequences (irb_fold_item.unit); default */
    IRB_FOLD_CAMERA,       /* units are cameras: test folds hold unseen sites */
    IRB_FOLD_BLOCK,        /* k contiguous blocks of the images sorted by path */
} irb_fold_unit;

/* Parses "sequence", "camera", "block"; returns -1 for anything else. */
IRB_API int irb_fold_unit_parse(const char *name);
IRB_API const char *irb_fold_unit_name(irb_fold_unit u);

/* One image as input to fold assignment. Strings are borrowed for the call. */
typedef struct irb_fold_item {
    const char *path;   /* required (the order for IRB_FOLD_BLOCK and for tie-breaks) */
    const char *camera; /* for IRB_FOLD_CAMERA; NULL/"" = one unknown camera */
    const char *unit;   /* the sequence id for IRB_FOLD_SEQUENCE; NULL/"" = the image alone */
    int label;          /* class index for stratification, or -1 (any negative) when unknown;
                         * any int: labels count by their rank among those given */
} irb_fold_item;

typedef struct irb_fold_opts {
    int k; /* number of folds, >= 2 */
    irb_fold_unit unit;
    int stratify; /* 1 = balance each unit's majority label across folds (units are never
                   * split); ignored for IRB_FOLD_BLOCK */
} irb_fold_opts;

/* k = 5, IRB_FOLD_SEQUENCE, stratify = 1. */
IRB_API irb_fold_opts irb_fold_opts_default(void);

/* Writes fold[i] in [0, k) for every image. Units are never split. Assignment is deterministic
 * and independent of the input order:
 *   BLOCK: images sorted by path, fold f gets positions [f*n/k, (f+1)*n/k).
 *   SEQUENCE / CAMERA, not stratified: units by image count, largest first (ties by name), each
 *     to the fold with the fewest images so far (ties: lowest fold). Then
 *     max - min fold size <= the largest unit's size.
 *   stratified: units grouped by majority label (ties: lowest label; -1 last), labels with
 *     fewer images first, within a label largest unit first; each to the fold with the fewest
 *     images of that label (ties: fewest images, then lowest fold).
 * Errors: IRB_INVALID_ARG (k < 2, fewer units than k, NULL path), IRB_NOMEM. */
IRB_API irb_status irb_folds_assign(const irb_fold_item *items, size_t n, const irb_fold_opts *opts, int *fold,
                                    irb_error *err);

/* ---- results store and survey classification (classify) ---- */

#ifdef __cplusplus
}
#endif
#endif

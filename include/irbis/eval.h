/* irbis/eval.h: accuracy, balanced accuracy, per-class precision/recall/F1, confusion matrix,
 * ROC curve and AUC, the prediction/label files `irbis evaluate` reads, and the metric writers
 * (JSON, CSV, SVG figure). Included by irbis.h. Definitions and file formats: docs/evaluation.md.
 *
 * Semantics follow scikit-learn 1.2 so results can be checked against it:
 *   - precision/recall/F1 are 0 when undefined (zero_division=0); balanced accuracy is the mean
 *     recall over the classes that occur in the truth.
 *   - ROC: one point per distinct score (ties move together), a first point (0, 0) with
 *     threshold +inf (scikit-learn >= 1.3; 1.2 writes max score + 1 there); "positive" means
 *     score >= threshold. With drop_intermediate, points collinear with their neighbours on a
 *     horizontal or vertical run are dropped (same rule as sklearn.metrics.roc_curve); the AUC
 *     (trapezoid rule) does not change.
 *   - When the truth holds only one class the ROC/AUC is undefined: irb_roc_compute succeeds with
 *     auc = NaN, the undefined rate NaN, and a warning in err (sklearn raises instead).
 *
 * Example (accuracy of labels and AUC of scores for six images):
 *
 *   int truth[6] = {0, 0, 1, 1, 1, 0}, pred[6] = {0, 1, 1, 1, 0, 0};
 *   double score[6] = {0.1, 0.6, 0.8, 0.7, 0.4, 0.2};   // p(class 1)
 *   irb_error err = {0};
 *   irb_metrics m = {0};
 *   irb_roc roc = {0};
 *   int rc = irb_metrics_compute(truth, pred, 6, 2, &m, &err) == IRB_OK &&
 *            irb_roc_compute(score, truth, 6, 1, &roc, &err) == IRB_OK ? 0 : 1;
 *   if (rc)
 *       fprintf(stderr, "%s\n", err.message);
 *   else
 *       printf("accuracy %.6f balanced %.6f AUC %.6f\n", m.accuracy, m.balanced_accuracy, roc.auc);
 *   irb_metrics_release(&m);
 *   irb_roc_release(&roc);
 *   return rc;
 */
#ifndef IRBIS_EVAL_H
#define IRBIS_EVAL_H

#include <stdio.h>

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- classification metrics --------------------------------------------------------- */

/* Owned arrays; release with irb_metrics_release. */
typedef struct irb_metrics {
    size_t n_samples, n_classes;
    double accuracy;
    double balanced_accuracy; /* mean recall over classes with support > 0 (NaN when n = 0) */
    double macro_f1;          /* mean F1 over all n_classes */
    double *precision;        /* [n_classes] */
    double *recall;           /* [n_classes] */
    double *f1;               /* [n_classes] */
    size_t *support;          /* [n_classes]: true count */
    size_t *confusion;        /* [n_classes * n_classes]: row = true class, column = predicted */
} irb_metrics;

/* truth[i], pred[i] in [0, n_classes). Errors: IRB_INVALID_ARG (a value out of range, a
 * confusion matrix of n_classes^2 that no buffer can hold), NOMEM. */
IRB_API irb_status irb_metrics_compute(const int *truth, const int *pred, size_t n, size_t n_classes, irb_metrics *out,
                                       irb_error *err);
IRB_API void irb_metrics_release(irb_metrics *m);

/* Precision and recall of the positive class when "score >= threshold" is predicted positive
 * (0 when undefined, and when score or is_pos is NULL). */
IRB_API void irb_precision_recall_at(const double *score, const int *is_pos, size_t n, double threshold,
                                     double *precision, double *recall);

/* ---- ROC ------------------------------------------------------------------------------- */

typedef struct irb_roc {
    size_t n;          /* points */
    double *fpr, *tpr; /* [n], non-decreasing */
    double *threshold; /* [n], decreasing; threshold[0] = +inf */
    double auc;        /* trapezoid area; NaN when undefined */
    size_t n_pos, n_neg;
} irb_roc;

/* score[i] (NaN refused), is_pos[i] nonzero for positives. drop_intermediate as in sklearn.
 * Errors: IRB_INVALID_ARG (n = 0 or a NaN score), IRB_NOMEM. One-class truth: see above. */
IRB_API irb_status irb_roc_compute(const double *score, const int *is_pos, size_t n, int drop_intermediate,
                                   irb_roc *out, irb_error *err);
IRB_API void irb_roc_release(irb_roc *r);

/* ---- predictions and labels files ---------------------------------------------------- */

/* A predictions CSV: `path`, one `p_<class>` column per class, optionally `sequence` and
 * `seq_p_<class>` (same classes). Other columns are ignored. Owned; irb_predictions_release. */
typedef struct irb_predictions {
    size_t n, n_classes;
    char **path;       /* [n] */
    char **classes;    /* [n_classes], the <class> part of the p_<class> columns, in file order */
    double *probs;     /* [n * n_classes] */
    char **sequence;   /* [n] or NULL when there is no `sequence` column */
    double *seq_probs; /* [n * n_classes] or NULL when there are no seq_p_ columns */
    size_t n_unscored; /* rows skipped: a `status` column other than "ok" (classify's failed or
                        * pending images, which have no probabilities) */
} irb_predictions;

/* Rows with a `status` column other than "ok" (or empty) are skipped and counted in n_unscored.
 * Errors: IRB_IO, IRB_CORRUPT (bad number, missing columns: names the file, line and column; no
 * scored row), IRB_NOT_FOUND (no `path` or no p_ column), IRB_NOMEM. */
IRB_API irb_status irb_predictions_read(const char *path, irb_predictions *out, irb_error *err);
IRB_API void irb_predictions_release(irb_predictions *p);

/* Labels: one path and one label per row. Owned; irb_labels_release. Paths are normalised
 * ("./" parts and repeated '/' removed; irb_labels_from_table joins them to its root first).
 * A row with an empty label is no label (skipped). One path listed twice is one label (with two
 * different labels it is refused: IRB_CORRUPT naming the path, both labels and both rows). */
typedef struct irb_labels {
    size_t n;
    char **path, **label;
    size_t *row;                 /* [n]: the row of each label in its file (0 = the first after the header);
                                  * may be NULL in hand-made label sets */
    char *source;                /* the file's name for messages; may be NULL */
    size_t n_empty, first_empty; /* rows skipped for an empty label cell, and the first (as row) */
} irb_labels;

/* How a labels source is read (irb_labels_table_load, irb_labels_read): a NULL opts, or NULL
 * members, take the defaults. The strings are borrowed for the call. */
typedef struct irb_labels_opts {
    const char *path_column;  /* the column of image paths (NULL: "path"; a Timelapse export, which
                               * has File and RelativePath columns and no path column:
                               * RelativePath/File) */
    const char *label_column; /* the column of labels (NULL: "label"; a Timelapse export has no
                               * standard one, so without a label column it must be named) */
    const char *blank_label;  /* a blank label cell (spaces only) on a row with a path becomes this
                               * label ("empty": tagging sheets often leave an empty frame's species
                               * blank); NULL or "": such rows have no label (skipped, counted) */
} irb_labels_opts;

/* A labels source read as irb_labels_table_load reads it (opts may be NULL), then as
 * irb_labels_from_table reads its `path` and `label` columns. Errors: those two functions'; the
 * message names the file. */
IRB_API irb_status irb_labels_read(const char *path, const irb_labels_opts *opts, irb_labels *out, irb_error *err);
/* A labels source as a table (owned; irb_table_free) whose columns `path` and `label` hold each
 * row's image path and label (docs/evaluation.md, "Where labels come from"):
 *   - a CSV (irb_table_load). opts names its path and label columns (default `path`, `label`);
 *     when they are named otherwise the table is rebuilt as `path`, `label`, then the other
 *     columns as read (one named like `path` or `label` that was not chosen is left out). A
 *     column that does not exist: IRB_NOT_FOUND naming the file, the column asked for and the
 *     columns the file has.
 *   - a Timelapse export (columns File and RelativePath, no path column, no opts->path_column):
 *     path is RelativePath/File (RelativePath's '\' separators read as '/'); rows whose
 *     DeleteFlag is true are left out (counted in a warning); `timestamp` (when the file has no
 *     such column) is the DateTime ("2021-04-05 18:05:01", "2021-04-05T18:05:01", blanks around
 *     it) or the older Date ("05-Apr-2021") and Time ("18:05:01") as "YYYY-MM-DDTHH:MM:SS" ("" when
 *     unreadable, counted in the warning). Its label column must be named by opts unless it has a
 *     `label` column: IRB_NOT_FOUND listing its columns other than Timelapse's own.
 *   - a Camtrap DP package (its folder or its datapackage.json), whose media files get the
 *     labels of the observations people made ("Labels from a Camtrap DP package"): an
 *     observation of the file itself, else the observations of its deployment's events whose span
 *     holds its time; an animal's label is its scientificName ("animal" without one), a blank is
 *     "empty", "human" and "vehicle" are theirs; observations by a machine and of unknown or
 *     unclassified type give none, and a file given two different labels is left out. The
 *     package's table also has `camera` (deploymentID), `timestamp` (the file's local time, its
 *     zone cut), `sequence` (the eventID) and `mediaID`; `path` is the media's filePath, or its
 *     fileName when filePath is a URL. What was left out is said in err's warning.
 * Then opts->blank_label fills blank label cells of rows with a path. Errors: those of
 * irb_table_load; IRB_NOT_FOUND (a missing column; a package with no file labelled), IRB_IO (a
 * folder without datapackage.json, as a folder given for a file), IRB_CORRUPT (a package's
 * table without a column the standard requires, not JSON), IRB_UNSUPPORTED (a resource at a
 * URL), IRB_NOMEM. */
struct irb_table;
IRB_API irb_status irb_labels_table_load(const char *path, const irb_labels_opts *opts, struct irb_table **out,
                                         irb_error *err);
/* The same from a loaded table (irb_table_load, include/irbis/learn.h; borrowed): path_col and
 * label_col name the columns (NULL: "path", "label"); root (may be NULL) is joined in front of
 * every relative path; source names the file in messages. */
IRB_API irb_status irb_labels_from_table(const struct irb_table *t, const char *path_col, const char *label_col,
                                         const char *root, const char *source, irb_labels *out, irb_error *err);
IRB_API void irb_labels_release(irb_labels *l);

/* The one rule that joins labels to images, in train (feature rows), evaluate (prediction rows)
 * and the experiment (the files under --images): docs/evaluation.md. For each image path q[i]
 * writes into match[i] the index of its labels row, or -1. Both sides are normalised ("./"
 * parts and repeated '/' removed); bytes are compared exactly (case and extension count).
 * In order:
 *   1. the same path;
 *   2. else q[i] is a tail of label paths that starts right after a '/' ("cam1/a.jpg" is a tail
 *      of "/data/s/cam1/a.jpg");
 *   3. else the longest label path that is such a tail of q[i].
 * Two label rows that match equally well with different labels are an error: IRB_MISMATCH
 * naming the image and both rows (with the same label, the first row is taken). One label row
 * matched by images of different paths (a bare "IMG_1.JPG" in every camera folder) labels them
 * all and sets a warning in err naming one example. A NULL q[i] is IRB_INVALID_ARG. */
IRB_API irb_status irb_labels_match(const irb_labels *labels, const char *const *q, size_t n, long *match,
                                    irb_error *err);
/* How many label rows no image matched (match[0..n) as irb_labels_match wrote it; NULL: none
 * matched); *example (may be NULL) is the first such row, or -1. */
IRB_API size_t irb_labels_unmatched(const irb_labels *labels, const long *match, size_t n, long *example);
/* For a label row that matched nothing: the first of q[0..n) that it would match but for case
 * (the same rule, letters compared without case: 'cam01/img_0001.jpg' for CAM01/IMG_0001.JPG), or
 * -1. For the hint in the "match no file" message. */
IRB_API long irb_labels_case_twin(const irb_labels *labels, long row, const char *const *q, size_t n);
/* 1 when two of the class names look alike: different strings that are equal once case is
 * folded, leading and trailing blanks dropped and runs of spaces, '_' and '-' taken as one
 * ("Snow leopard", "snow_leopard", "snow-leopard "): a species task would train them as two
 * classes. *a and *b (may be NULL) receive the first such pair's indices. */
IRB_API int irb_labels_lookalike(const char *const *names, size_t n, size_t *a, size_t *b);

/* Predictions joined with labels, ready for irb_evaluate. Owned; irb_joined_release.
 * Classes are the prediction classes in file order, then any label not among them (such images
 * can never be predicted right; n_extra_classes counts them, their probability columns are 0).
 * Image level: one sample per prediction row whose path matched a label (irb_labels_match).
 * Sequence level (only when the predictions have a `sequence` column): one sample per sequence
 * value with at least one labelled image (an empty value is a sequence of its own); its
 * probabilities are the seq_p_ columns of its first row when present, otherwise the mean of
 * p_ over all its rows; its true label is the majority label of its labelled images, ties going
 * to the class that comes first. */
typedef struct irb_joined {
    size_t n_classes, n_extra_classes;
    char **classes;            /* [n_classes] */
    size_t n;                  /* labelled images */
    long *row;                 /* [n]: the predictions row of each sample */
    double *probs;             /* [n * n_classes] */
    int *truth;                /* [n] */
    size_t n_unlabelled;       /* prediction rows without a matching label (skipped) */
    size_t n_labels_unmatched; /* label rows that match no prediction row */
    long unmatched_example;    /* one of them (a label index), or -1 */
    size_t n_seq;              /* 0 when there is no sequence column */
    char **seq_ids;            /* [n_seq] */
    double *seq_probs;         /* [n_seq * n_classes] */
    int *seq_truth;            /* [n_seq] */
} irb_joined;

IRB_API irb_status irb_join_labels(const irb_predictions *p, const irb_labels *l, irb_joined *out, irb_error *err);
IRB_API void irb_joined_release(irb_joined *j);

/* ---- one evaluation (image or sequence level) ------------------------------------------- */

typedef struct irb_evaluation {
    size_t n; /* samples (images, or sequences) */
    size_t n_classes;
    char **classes; /* [n_classes], owned copies */
    int positive;   /* the ROC's positive class */
    double threshold;
    irb_metrics metrics;            /* argmax prediction vs truth */
    irb_roc roc;                    /* positive vs rest on probs[:, positive] */
    double precision_at, recall_at; /* positive class at threshold */
} irb_evaluation;

/* probs [n * n_classes] (borrowed), truth [n] in [0, n_classes), classes borrowed (copied).
 * The prediction is the argmax (first on ties). Warnings (one-class ROC) go to err.
 * IRB_INVALID_ARG for a NULL class name, a NaN threshold, a positive outside the classes or
 * n x n_classes overflowing. */
IRB_API irb_status irb_evaluate(const double *probs, const int *truth, size_t n, size_t n_classes,
                                const char *const *classes, int positive, double threshold, irb_evaluation *out,
                                irb_error *err);
IRB_API void irb_evaluation_release(irb_evaluation *e);

/* ---- writers --------------------------------------------------------------------------- */

/* metrics.json: {"image": {...}, "sequence": {...}} (seq may be NULL: key omitted). NaN and
 * infinities are written as null. */
IRB_API irb_status irb_write_metrics_json(const char *path, const irb_evaluation *image, const irb_evaluation *seq,
                                          irb_error *err);
/* Per-class CSV: class,precision,recall,f1,support; then rows "accuracy", "balanced_accuracy",
 * "macro_f1" with the value in the precision column. */
IRB_API irb_status irb_write_metrics_csv(const char *path, const irb_evaluation *e, irb_error *err);
/* Confusion matrix CSV: header "true\predicted,<class>...", one row per true class. */
IRB_API irb_status irb_write_confusion_csv(const char *path, const irb_evaluation *e, irb_error *err);
/* ROC points of several curves: curve,threshold,fpr,tpr (threshold "inf" for the first point).
 * IRB_INVALID_ARG when one of the n_curves curves or names is NULL (also in irb_write_roc_svg). */
IRB_API irb_status irb_write_roc_csv(const char *path, const irb_roc *const *curves, const char *const *names,
                                     size_t n_curves, irb_error *err);
/* An SVG figure: one polyline path per curve (class "roc-curve"), a dashed chance diagonal,
 * axes with ticks at 0, 0.2, ..., 1 and labels, a legend "<name> (AUC 0.xxx)". title may be NULL. */
IRB_API irb_status irb_write_roc_svg(const char *path, const irb_roc *const *curves, const char *const *names,
                                     size_t n_curves, const char *title, irb_error *err);

#ifdef __cplusplus
}
#endif
#endif

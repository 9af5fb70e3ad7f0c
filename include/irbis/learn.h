/* irbis/learn.h: feature files, grouped k-fold, logistic regression (also spread over several
 * processes), classifier files. Included by irbis.h.
 *
 * Feature sets on disk (docs/features.md). A base path P names three files:
 *   P.npy   NumPy .npy v1.0, dtype '<f4', C order, shape (N, D): one feature row per image
 *   P.csv   header "row,path,flipped[,extra...]", one line per .npy row, in order
 *   P.json  metadata object: format, version, dim, rows, model, model_sha256, layer, cut, ...
 * The writer streams rows (N need not be known up front) into temporary files and renames them
 * into place at close, so a crash never leaves a half-written set under the final names.
 *
 * Example (a feature set of three 4-float rows with a camera column):
 *
 *   irb_error err = {0};
 *   irb_featwriter_t *w = NULL;
 *   const char *extra[] = {"camera", NULL};
 *   if (irb_featwriter_open("written", 4, extra, &w, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   irb_featwriter_set_meta_str(w, "model", "mobilenet_v2.onnx");
 *   irb_status s = IRB_OK;
 *   for (int i = 0; i < 3 && s == IRB_OK; i++) {
 *       float row[4] = {i, i + 0.5f, -i, 1};
 *       char path[32];
 *       snprintf(path, sizeof path, "cam1/IMG_%04d.JPG", i + 1);
 *       s = irb_featwriter_add(w, path, 0, (const char *[]){"cam1"}, row, &err);
 *   }
 *   if (s != IRB_OK)
 *       irb_featwriter_free(w);              // abandons the set: no file is left behind
 *   else
 *       s = irb_featwriter_close(w, &err);   // written.npy/.csv/.json in place; always frees w
 *   if (s != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *
 * Classifiers (docs/classifier.md): multinomial (3+ classes) or binary (one logit) L2 logistic
 * regression on standardised features, objective C * sum_i s_i * logloss_i + 0.5 * ||W||^2
 * (intercepts not penalised), as scikit-learn 1.2's LogisticRegression(solver='lbfgs').
 *
 * Example (a classifier's probabilities for a feature set of the same backbone):
 *
 *   irb_error err = {0};
 *   irb_classifier_t *clf = NULL;
 *   irb_features *fs = NULL;
 *   if (irb_classifier_load("classifier.irbis", &clf, &err) != IRB_OK ||
 *       irb_features_load("feat", &fs, &err) != IRB_OK ||
 *       irb_classifier_check_features(clf, fs, &err) != IRB_OK) {   // refuse a mismatched backbone
 *       fprintf(stderr, "%s\n", err.message);
 *       irb_features_free(fs);
 *       irb_classifier_free(clf);
 *       return 1;
 *   }
 *   int k = irb_classifier_classes(clf);
 *   double *prob = malloc(sizeof(double) * fs->n * k);                // n x classes
 *   int rc = 1;
 *   if (!prob)
 *       fprintf(stderr, "out of memory\n");
 *   else if (irb_classifier_predict(clf, fs->x, fs->n, fs->dim, prob, &err) != IRB_OK)
 *       fprintf(stderr, "%s\n", err.message);
 *   else {
 *       for (size_t i = 0; i < fs->n; i++)
 *           printf("%s p(%s) = %.6f\n", fs->path[i], irb_classifier_class_name(clf, 0), prob[i * k]);
 *       rc = 0;
 *   }
 *   free(prob);
 *   irb_features_free(fs);
 *   irb_classifier_free(clf);
 *   return rc;
 */
#ifndef IRBIS_LEARN_H
#define IRBIS_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "irbis/core.h"
#include "irbis/files.h" /* SHA-256 provenance, CRC-32 checksums of the files below */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- feature writer ----------------------------------------------------------------------- */

typedef struct irb_featwriter irb_featwriter_t;

/* Starts a feature set at base path `base` (files base.npy/.csv/.json, written under temporary
 * names until close). dim: the row length D (> 0). extra: NULL-terminated list of extra CSV
 * column names after row,path,flipped (NULL for none); copied. On success *out owns the writer.
 * IRB_INVALID_ARG for a NULL or empty base, dim <= 0 or a NULL out. */
IRB_API irb_status irb_featwriter_open(const char *base, int dim, const char *const *extra, irb_featwriter_t **out,
                                       irb_error *err);
/* Appends one row. path: the image path (CSV-quoted as needed). flipped: 0/1. extra_values:
 * one string per extra column (NULL allowed when there are none; a NULL entry writes "").
 * row: dim floats. All borrowed. Non-finite values are written as they are. */
IRB_API irb_status irb_featwriter_add(irb_featwriter_t *w, const char *path, int flipped,
                                      const char *const *extra_values, const float *row, irb_error *err);
/* Sets metadata key to a JSON value given as text (e.g. "\"relu\"", "7", "{\"a\":1}"); the text
 * is checked to be one well-formed JSON value. Setting a key twice replaces it. The keys
 * format, version, dim and rows are written by the writer and cannot be set. Errors go to
 * irb_featwriter_error(w). */
IRB_API irb_status irb_featwriter_set_meta(irb_featwriter_t *w, const char *key, const char *json_value_text);
/* Same with a plain string value (JSON-escaped by the writer). */
IRB_API irb_status irb_featwriter_set_meta_str(irb_featwriter_t *w, const char *key, const char *value);
/* Rows added so far. */
IRB_API size_t irb_featwriter_rows(const irb_featwriter_t *w);
/* The writer's last error (never NULL for a non-NULL w; NULL for w = NULL). */
IRB_API const irb_error *irb_featwriter_error(const irb_featwriter_t *w);
/* Finishes: patches N into the .npy header, writes .csv/.json, fsyncs, renames the three files
 * into place. Always frees w (also on failure, when the temporary files are removed). */
IRB_API irb_status irb_featwriter_close(irb_featwriter_t *w, irb_error *err);
/* Abandons the set: removes the temporary files and frees w. NULL allowed. */
IRB_API void irb_featwriter_free(irb_featwriter_t *w);

/* ---- feature reader ----------------------------------------------------------------------- */

typedef struct irb_features {
    size_t n;          /* rows N */
    int dim;           /* row length D */
    float *x;          /* N x D, row-major */
    char **path;       /* N paths */
    uint8_t *flipped;  /* N flags 0/1 */
    int n_extra;       /* extra CSV columns */
    char **extra_name; /* n_extra names */
    char ***extra;     /* extra[j][i]: column j, row i */
    int n_meta;        /* metadata entries, in file order */
    char **meta_key;
    char **meta_json; /* the raw JSON text of each value */
    char **meta_text; /* a string value decoded; other values as their JSON text */
} irb_features;

/* Loads base.npy, base.csv and base.json. All memory belongs to *out, freed with
 * irb_features_free. Errors name the file: IRB_NOT_FOUND/IRB_IO (missing/unreadable),
 * IRB_CORRUPT (bad .npy header, wrong dtype/order/shape, short data, bad CSV/JSON),
 * IRB_MISMATCH (row counts or dims disagree between the three files); IRB_INVALID_ARG for a NULL
 * base or out (also in irb_features_load_index). */
IRB_API irb_status irb_features_load(const char *base, irb_features **out, irb_error *err);
/* The same without the values (x = NULL): paths, flags, extra columns and metadata, the .npy's
 * header and size checked. Rows are then read with irb_features_read_rows, so a caller holds
 * only the rows it needs (irbis-mpi train: each rank its own block). */
IRB_API irb_status irb_features_load_index(const char *base, irb_features **out, irb_error *err);
/* Rows rows[0..n) (indices into fs, < fs->n) of base.npy into out (n x fs->dim). The file
 * must still have fs's shape (IRB_MISMATCH otherwise); an index out of range is
 * IRB_INVALID_ARG. */
IRB_API irb_status irb_features_read_rows(const char *base, const irb_features *fs, const size_t *rows, size_t n,
                                          float *out, irb_error *err);
IRB_API void irb_features_free(irb_features *fs);
/* The N values of extra column `name`, or NULL when there is no such column (or fs or name is
 * NULL, here and in irb_features_meta). Owned by fs. */
IRB_API char *const *irb_features_column(const irb_features *fs, const char *name);
/* Metadata value of `key` (decoded string, or JSON text for non-strings), or NULL. Owned by fs. */
IRB_API const char *irb_features_meta(const irb_features *fs, const char *key);

/* ---- cross-validation folds ----------------------------------------------------------------- */

/* Grouped k-fold: assigns each of n rows a fold in [0, k) so that rows with the same group id
 * share a fold. Groups are taken largest first (ties: first appearance) and each goes to the
 * fold with the fewest rows so far (ties: lowest fold), as scikit-learn's GroupKFold does.
 * groups: n ids (any ints), borrowed; fold: n ints written. Fails with IRB_INVALID_ARG when
 * there are fewer than k distinct groups. */
IRB_API irb_status irb_group_kfold(const int *groups, size_t n, int k, int *fold, irb_error *err);

/* ---- training ------------------------------------------------------------------------------ */

typedef struct irb_classifier irb_classifier_t;

#define IRB_CV_GRID_MAX 32

/* Sums n doubles element-wise over all participants of a distributed training, in place; every
 * participant must receive bitwise the same result (e.g. MPI_Reduce to one rank + MPI_Bcast).
 * user is the caller's. On failure returns a status with the message in err. */
typedef irb_status (*irb_allreduce_fn)(void *user, double *buf, size_t n, irb_error *err);

typedef struct irb_train_opts {
    double C;                   /* > 0: use this C; 0: choose C by grouped cross-validation */
    int cv_folds;               /* folds for choosing C (0: 5) */
    const double *grid;         /* candidate Cs (NULL: 10^-4 .. 10^2 in half-decades, 13 values) */
    int grid_n;                 /* entries in grid (<= IRB_CV_GRID_MAX) */
    const int *groups;          /* n group ids for CV folds (NULL: every row its own group) */
    int balanced;               /* class weights n / (K * count_k), as sklearn's 'balanced' */
    const double *class_weight; /* or K explicit class weights (NULL: all 1); not with balanced */
    int max_iter;               /* L-BFGS iteration cap (0: 5000) */
    double tol;                 /* L-BFGS stop: gradient norm <= tol * max(1, norm of the variables),
                                 * both in the fit's preconditioned variables (0: 1e-7) */
    double cv_tol;              /* the same for the fits inside cross-validation (0: 1e-4: the CV
                                 * losses near the optimum to ~1e-5, docs/classifier.md) */
    int cv_patience;            /* CV: the ascending path of C stops once the held-out loss (pooled
                                 * over the folds) has not improved on its best for this many
                                 * values; the rest get NaN (0: 2; < 0: every C is fitted) */
    int no_standardize;         /* 1: use the features as given (mean 0, std 1 stored); for callers
                                 * that standardise or transform the rows themselves */
    const int *folds;           /* n rows' CV folds in [0, cv_folds) (NULL: irb_group_kfold of groups);
                                 * required with allreduce, assigned over all participants' rows */
    int threads;                /* worker threads for the CV folds (0: every CPU; 1 with allreduce) */
    irb_allreduce_fn allreduce; /* NULL: this process holds every row. Else rows are spread over
                                 * participants and every sum over rows goes through it (below) */
    void *allreduce_user;       /* passed to allreduce */
} irb_train_opts;

typedef struct irb_train_report {
    double C;              /* the C used */
    int iterations;        /* L-BFGS iterations of the final fit */
    int lbfgs_status;      /* liblbfgs's return code of the final fit */
    double objective;      /* C * sum s_i logloss_i + 0.5 ||W||^2 at the solution */
    double train_accuracy; /* fraction of training rows whose argmax is the label */
    int grid_n;            /* CV: candidates tried (0 when C was given) */
    double grid[IRB_CV_GRID_MAX];
    double cv_logloss[IRB_CV_GRID_MAX]; /* CV: mean held-out log-loss per candidate; NaN: not
                                         * fitted (past the minimum, cv_patience) */
    double seconds;                     /* wall time of the whole call */
} irb_train_report;

/* Trains a classifier on n rows x of length dim (row-major floats, borrowed) with labels
 * y[i] in [0, n_classes) (borrowed), n_classes >= 2 with names class_names (copied).
 * Standardises with the rows' mean and population std (std 0 -> 1), fits with L-BFGS (in the
 * eigenbasis of the rows' Gram matrix, preconditioned; docs/classifier.md). With opts->C = 0, C
 * is chosen by grouped cross-validation over the grid (folds on worker threads). opts may be
 * NULL (C = 1). rep may be NULL. On success *out owns a new classifier with no provenance set
 * (add it with irb_classifier_set_meta). Deterministic: same input and threads, same bytes.
 * Two classes of one name, or a negative (or NaN) threads, max_iter, tol or cv_tol in opts, are
 * IRB_INVALID_ARG.
 *
 * Distributed (opts->allreduce set): every participant calls this with its own n rows (n may
 * be 0) and the same dim, n_classes, class_names and opts (with opts->folds for its rows when
 * C = 0); class counts, the scaler, the Gram matrix, each L-BFGS evaluation's loss and gradient
 * and the held-out losses are summed through allreduce, so all participants return the same
 * classifier, equal to the one-process result on the union of the rows up to the rounding of
 * the sums. Arguments are checked before the first allreduce; a participant that fails later
 * (e.g. out of memory) may leave the others waiting, so drivers abort the job then.
 * IRB_INVALID_ARG (before anything else) for a NULL out. */
IRB_API irb_status irb_logreg_train(const float *x, size_t n, int dim, const int *y, int n_classes,
                                    const char *const *class_names, const irb_train_opts *opts, irb_classifier_t **out,
                                    irb_train_report *rep, irb_error *err);

/* ---- classifiers ---------------------------------------------------------------------------- */

/* clf may be NULL in the getters below: 0 classes, dim and C, a NULL class name. */
IRB_API void irb_classifier_free(irb_classifier_t *clf);
IRB_API int irb_classifier_classes(const irb_classifier_t *clf);
IRB_API const char *irb_classifier_class_name(const irb_classifier_t *clf, int k);
IRB_API int irb_classifier_dim(const irb_classifier_t *clf);
IRB_API double irb_classifier_C(const irb_classifier_t *clf);
/* Read-only views of the parameters (owned by clf): outputs is 1 for a binary classifier (one
 * logit for class 1) and the class count otherwise; weights outputs x dim (standardised space),
 * intercepts outputs, mean/std dim each, class_weight classes entries. Any pointer may be NULL;
 * with clf NULL the views are NULL and the result 0. */
IRB_API int irb_classifier_params(const irb_classifier_t *clf, const double **weights, const double **intercepts,
                                  const double **mean, const double **std, const double **class_weight);

/* Provenance strings (key/value, both copied; setting a key again replaces it). Train records
 * e.g. model, model_sha256, layer, cut, pool, precision, preprocessing, flip_augmentation,
 * train_rows. irb_classifier_meta returns the value or NULL (owned by clf). */
IRB_API irb_status irb_classifier_set_meta(irb_classifier_t *clf, const char *key, const char *value);
IRB_API const char *irb_classifier_meta(const irb_classifier_t *clf, const char *key);
/* Copies the provenance keys (model, model_sha256, layer, cut, pool, precision, preprocessing)
 * present in a feature set's metadata into the classifier. IRB_INVALID_ARG for a NULL clf or fs. */
IRB_API irb_status irb_classifier_set_provenance(irb_classifier_t *clf, const irb_features *fs);
/* Checks that features fit the classifier: same dim, and equal values for every provenance key
 * in model_sha256, layer, cut, pool, preprocessing present on both sides. IRB_MISMATCH names
 * the field and both values. A key missing on one side is a warning. IRB_INVALID_ARG when clf
 * or fs is NULL. */
IRB_API irb_status irb_classifier_check_features(const irb_classifier_t *clf, const irb_features *fs, irb_error *err);

/* Class probabilities for n rows x (n x dim floats, raw, unstandardised; borrowed) into prob
 * (n x classes doubles, caller-owned). Batched through BLAS. Rows are not checked: a row holding a
 * NaN or an infinity gets probabilities that are not finite (irbis predict checks them and leaves
 * the row out, naming it), and so may a row against a classifier whose weights are extreme
 * (finite, as the parser checks, but overflowing the logits). IRB_MISMATCH for a dim other than
 * the classifier's; IRB_INVALID_ARG for NULL x or prob with n > 0, or an n whose rows no buffer can
 * hold (n x dim floats or n x classes doubles overflowing). */
IRB_API irb_status irb_classifier_predict(const irb_classifier_t *clf, const float *x, size_t n, int dim, double *prob,
                                          irb_error *err);

/* Classifier files (docs/classifier.md): written to a temporary name, fsynced, renamed.
 * Load errors: IRB_NOT_FOUND/IRB_IO, IRB_CORRUPT (bad magic, checksum, truncation, bad
 * fields), IRB_UNSUPPORTED (a newer format version). */
IRB_API irb_status irb_classifier_save(const irb_classifier_t *clf, const char *path, irb_error *err);
IRB_API irb_status irb_classifier_load(const char *path, irb_classifier_t **out, irb_error *err);
/* Parses a classifier from memory (what load does after reading the file); name is for messages.
 * Both return IRB_INVALID_ARG for a NULL out or path, or NULL data with size > 0. */
IRB_API irb_status irb_classifier_parse(const void *data, size_t size, const char *name, irb_classifier_t **out,
                                        irb_error *err);

#ifdef __cplusplus
}
#endif
#endif

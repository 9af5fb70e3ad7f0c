/* irbis/experiment.h: batched feature extraction over image files, and the reference
 * transfer-learning experiment (L120, RN1, RN2, RN2+A, RN2+A+E). Included by irbis.h. */
#ifndef IRBIS_EXPERIMENT_H
#define IRBIS_EXPERIMENT_H

#include "irbis/core.h"
#include "irbis/image.h"
#include "irbis/nn.h"
#include "irbis/survey.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- feature extraction ------------------------------------------------------------------ */

typedef struct irb_extract_opts {
    irb_preproc pp;  /* preprocessing of each image (pp.flip is ignored: see flip) */
    int flip;        /* 1: also emit the horizontally mirrored image's row (flipped = 1);
                      * 2: emit only the mirrored image's row (its original is known already) */
    int threads;     /* decoding workers (0: all CPUs) */
    int batch;       /* images per net run (0: 16); with flip the net sees 2 x batch rows */
} irb_extract_opts;

/* Called once per output row, in input order (original before flipped; with flip = 2 only the
 * flipped). On a failed image it
 * is called once with row = NULL and e describing the failure (file and cause); a decoded image
 * with a warning (e.g. truncated JPEG) gets rows and e->warning set. Pointers are valid for the
 * call only. */
typedef void (*irb_extract_fn)(void *ctx, size_t index, int flipped, const float *row, size_t dim,
                               const irb_error *e);

/* The length of one row: irb_net_output_size(net), or with net = NULL the preprocessed pixels
 * themselves (3 * pp.size^2, "raw pixel" features such as L120). */
IRB_API size_t irb_extract_dim(const irb_net_t *net, const irb_extract_opts *o);

/* irb_featurizer with one input (all images): decodes paths[0..n) on worker threads (one decoder
 * each), runs them through net in batches
 * (net may be NULL: raw pixels), and hands every row to fn. Bad images never stop the run.
 * net must have been created with max_batch >= batch (x2 with flip). Returns IRB_OK unless the
 * run itself failed (no memory, the net failed): then err says why. */
IRB_API irb_status irb_extract(irb_net_t *net, const char *const *paths, size_t n, const irb_extract_opts *o,
                               irb_extract_fn fn, void *ctx, irb_error *err);

/* ---- int8 calibration from images (docs/int8.md) ------------------------------------------ */

/* Called for each image that fails (row-less) or decodes with a warning: index into paths. */
typedef void (*irb_calib_fn)(void *ctx, size_t index, const irb_error *e);

/* Records into cal the activation ranges of the fp32 net that `no` describes (cut, pool,
 * input_size; precision and engine are ignored) over min(n, count) of paths, evenly spread,
 * preprocessed as pp (no flip). Bad images are handed to fn (may be NULL) and skipped; none
 * readable is IRB_CORRUPT. The model and paths are borrowed for the call. */
IRB_API irb_status irb_calibrate_files(const irb_model_t *m, const irb_net_opts *no, const irb_preproc *pp,
                                       const char *const *paths, size_t n, size_t count, irb_calib_t *cal,
                                       irb_calib_fn fn, void *ctx, irb_error *err);

/* ---- the featurizer: several inputs of each image at once ----------------------------------- */

/* One input of a featurizer: a preprocessing and the net that turns it into rows. */
typedef struct irb_feat_input {
    irb_net_t *net;  /* borrowed (must outlive the featurizer); NULL: the preprocessed pixels are
                      * the row. Created with max_batch >= batch, x2 with flip = 1 */
    irb_preproc pp;  /* pp.flip is ignored: see flip */
    int flip;        /* 0: the image's row; 1: the image's and its mirror's; 2: the mirror's only */
    int all;         /* 1: every image; 0: only the images marked in irb_featurizer_run's mark */
} irb_feat_input;

typedef struct irb_featurizer_opts {
    int threads;     /* decoding workers (0: all CPUs) */
    int batch;       /* images per net run (0: 16; fewer when a batch of large inputs would
                      * hold more than 32 Mi floats) */
} irb_featurizer_opts;
typedef struct irb_featurizer irb_featurizer;

/* Rows of input `input` for image `index`: as irb_extract_fn. Per chunk of images, input by
 * input, in image order (original before mirror). */
typedef void (*irb_feat_fn)(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim,
                            const irb_error *e);

/* A featurizer over inputs[0..n) (copied; the nets are borrowed), with its buffers, decoders and
 * threads made once. Free with irb_featurizer_free. */
IRB_API irb_status irb_featurizer_new(const irb_feat_input *inputs, int n, const irb_featurizer_opts *o,
                                      irb_featurizer **out, irb_error *err);
/* Reads and decodes each of paths[0..n) once for all the inputs that want it (mark[i] != 0 or
 * input.all; mark may be NULL: all), runs the nets while the next images decode, and hands
 * every row to fn. A bad image gets fn once per input with row = NULL; it never stops the run.
 * Returns IRB_OK unless the run itself failed (a net failed): then err says why. */
IRB_API irb_status irb_featurizer_run(irb_featurizer *f, const char *const *paths, size_t n,
                                      const unsigned char *mark, irb_feat_fn fn, void *ctx, irb_error *err);
IRB_API void irb_featurizer_free(irb_featurizer *f);

/* ---- the reference experiment ------------------------------------------------------------ */

typedef enum irb_task {
    IRB_TASK_EMPTY = 0, /* empty vs animal: label == empty_label vs anything else */
    IRB_TASK_SPECIES,   /* every label its own class */
    IRB_TASK_POSITIVE,  /* `positive` vs everything else */
} irb_task;

typedef enum irb_crop_choice {
    IRB_CROP_NONE = 0,  /* keep the info strips */
    IRB_CROP_AUTO,      /* crop detected info strips before resizing */
    IRB_CROP_CHOOSE,    /* per training fold, keep whichever of NONE/AUTO has the lower
                         * inner cross-validated log-loss (the choice never sees test data) */
} irb_crop_choice;

#define IRB_EXPERIMENT_MAX_SIZES 4

/* With several feature variants (info-strip crop choose x several input sizes): */
typedef enum irb_combine {
    IRB_COMBINE_CHOOSE = 0, /* each training fold picks the variant with the lowest inner-CV log-loss */
    IRB_COMBINE_MEAN,       /* each training fold fits one classifier per variant (its own inner-CV
                             * C) and predicts the mean of their probabilities */
} irb_combine;

typedef struct irb_experiment_opts {
    const char *images;       /* root folder the labels' paths are relative to (borrowed) */
    const char *labels;       /* CSV with path,label and optionally camera,timestamp,sequence;
                               * a missing camera or timestamp (column or cell) is taken as
                               * irbis classify's scan takes it: the image's folder (see
                               * camera_depth) and its EXIF DateTimeOriginal */
    int camera_depth;         /* cameras from folders: irb_scan_opts.camera_depth (0: the folder) */
    const char *model;        /* ONNX model (the backbone) */
    const char *out_dir;      /* created if missing */
    const char *cache_dir;    /* feature cache; NULL: <out_dir>/cache */
    double cache_every;       /* seconds between checkpoints of the cache while features are
                               * computed, so a killed run keeps them (0: 300; < 0: only at the end) */
    irb_task task;
    const char *positive;     /* IRB_TASK_POSITIVE: the class; IRB_TASK_EMPTY: the empty label
                               * (NULL: "empty") */
    int folds;                /* outer folds (0: 5) */
    int unit;                 /* fold unit: -1 auto (sequences when times or sequence ids are
                               * known, else contiguous blocks of path order), or irb_fold_unit */
    double gap;               /* sequence gap in seconds (<= 0: 60) */
    double C;                 /* > 0: fixed; 0: chosen by inner grouped CV in each training fold */
    irb_crop_choice crop;
    irb_combine combine;      /* several variants (crops x sizes): CHOOSE one per training fold
                               * (default) or average a classifier per variant (MEAN) */
    irb_resize_mode resize;   /* how images become the CNN input (default CROP_FRACTION 0.875) */
    int sizes[IRB_EXPERIMENT_MAX_SIZES]; /* CNN input sizes (irb_net_opts.input_size), ended by 0 or
                               * the array's end; with more than one, each training fold chooses
                               * one (with the crop) or averages them, as `combine` says. All 0:
                               * the model's size */
    double crop_fraction;     /* for IRB_RESIZE_CROP_FRACTION (0: 0.875) */
    int raw_size;             /* L120's side (0: 120) */
    int threads, batch;       /* 0: all CPUs; 0: 16 */
    irb_engine engine;
    irb_precision precision;
    const char *calib[IRB_EXPERIMENT_MAX_SIZES]; /* INT8: calibration table files (irb_calib_save),
                               * one per sizes[k] (borrowed); NULL: recorded from up to 64 of the
                               * images at that size (docs/int8.md). Saved in the pipeline */
    size_t limit;             /* use the first `limit` labelled images in path order (0: all) */
    const char *rows;         /* comma-separated subset of L120,RN1,RN2,RN2+A,RN2+A+E,M,RN2+A+M,
                               * RN2+A+M+E (NULL: all) */
    const char *save;         /* a row name, or "best" (the most accurate row that can be deployed:
                               * every row but L120): after the cross-validation, that row's
                               * classifiers are trained on all the labelled images, with C and the
                               * crop chosen by the same inner cross-validation, and saved as a
                               * pipeline (irbis/pipeline.h) to save_path. NULL: nothing saved */
    const char *save_path;    /* NULL: <out_dir>/pipeline.irbis */
    void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *progress_ctx;
} irb_experiment_opts;

#define IRB_EXPERIMENT_MAX_ROWS 8
#define IRB_EXPERIMENT_MAX_CLASSES 256

typedef struct irb_experiment_row {
    char name[16];            /* "L120", "RN1", "RN2", "RN2+A", "RN2+A+E", "M", "RN2+A+M", "RN2+A+M+E" */
    char what[128];           /* one-line description */
    int features;             /* feature vector length */
    double accuracy;          /* pooled over every image's out-of-fold prediction */
    double balanced_accuracy;
    double auc;               /* ROC AUC of the positive class (NaN for species without one) */
    double fold_acc_min, fold_acc_max;
    double seq_accuracy;      /* one sample per sequence (ensembled rows only; else NaN) */
    double mean_log10_C;      /* mean over folds of the chosen log10 C */
    int crop_auto_folds;      /* folds whose training chose to crop info strips (--combine mean:
                               * folds where a classifier averaged in was trained on cropped strips) */
    int size_folds[IRB_EXPERIMENT_MAX_SIZES]; /* folds whose training chose opts.sizes[k] (CNN rows) */
    char sizes[64];           /* the CNN input sizes: "576", "224:2 576:3" (folds choosing each),
                               * "mean 224/576" (averaged); "" for L120 */
    double train_seconds;     /* fitting, including inner CV */
    double feature_seconds;   /* computing features not found in the cache */
} irb_experiment_row;

typedef struct irb_experiment_result {
    size_t n_images;          /* labelled images used */
    size_t n_failed;          /* labelled images that could not be decoded (excluded) */
    size_t n_sequences;
    int n_classes;
    int folds;
    char unit[16];            /* "sequence", "camera" or "block" */
    char positive[64];        /* the ROC's positive class */
    int n_rows;
    irb_experiment_row rows[IRB_EXPERIMENT_MAX_ROWS];
    char saved_row[16];       /* the row saved as a pipeline ("" when none) */
    char saved_path[4096];
    double saved_min_confidence;  /* the saved pipeline's default --min-confidence (0: off) */
    double saved_novelty;         /* its novelty threshold, or -1 without a novelty model */
} irb_experiment_result;

/* Runs the experiment and writes into out_dir: table.csv, table.md, results.json,
 * predictions_<row>.csv (out-of-fold), roc.csv, roc.svg, failed.csv and report.html
 * (docs/experiment.md). Images that fail to decode are excluded and listed. */
IRB_API irb_status irb_experiment_run(const irb_experiment_opts *opts, irb_experiment_result *out,
                                      irb_error *err);

#ifdef __cplusplus
}
#endif
#endif

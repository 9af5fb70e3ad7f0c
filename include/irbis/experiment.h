/* irbis/experiment.h: the reference transfer-learning experiment (L120, RN1, RN2, RN2+A,
 * RN2+A+E). Included by irbis.h. */
#ifndef IRBIS_EXPERIMENT_H
#define IRBIS_EXPERIMENT_H

#include "irbis/core.h"
#include "irbis/eval.h"
#include "irbis/features.h"
#include "irbis/survey.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the reference experiment ------------------------------------------------------------ */

typedef enum irb_task {
    IRB_TASK_EMPTY = 0, /* empty vs animal: label == empty_label vs anything else */
    IRB_TASK_SPECIES,   /* every label its own class */
    IRB_TASK_POSITIVE,  /* `positive` vs everything else */
} irb_task;

typedef enum irb_crop_choice {
    IRB_CROP_NONE = 0, /* keep the info strips */
    IRB_CROP_AUTO,     /* crop detected info strips before resizing */
    IRB_CROP_CHOOSE,   /* per training fold, keep whichever of NONE/AUTO has the lower
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
    const char *images;          /* root folder the labels' paths are relative to (borrowed) */
    const char *labels;          /* CSV with path,label and optionally camera,timestamp,sequence;
                                  * a missing camera or timestamp (column or cell) is taken as
                                  * irbis classify's scan takes it: the image's folder (see
                                  * camera_depth) and its EXIF DateTimeOriginal */
    irb_labels_opts labels_opts; /* how `labels` is read: its path and label columns, the label of a
                                  * blank label cell (irb_labels_table_load; {0}: path, label, none);
                                  * a Timelapse export or a Camtrap DP package goes too */
    int camera_depth;            /* cameras from folders: irb_scan_opts.camera_depth (0: the folder) */
    const char *model;           /* ONNX model (the backbone) */
    const char *out_dir;         /* created if missing */
    const char *cache_dir;       /* feature cache; NULL: <out_dir>/cache */
    double cache_every;          /* seconds between checkpoints of the cache while features are
                                  * computed, so a killed run keeps them (0: 300; < 0: only at the end) */
    irb_task task;
    const char *positive; /* IRB_TASK_POSITIVE: the class; IRB_TASK_EMPTY: the empty label
                           * (NULL: "empty") */
    int folds;            /* outer folds (0: 5) */
    int unit;             /* fold unit: -1 auto (sequences when times or sequence ids are
                           * known, else contiguous blocks of path order), or irb_fold_unit */
    double gap;           /* sequence gap in seconds (<= 0: 60) */
    double C;             /* > 0: fixed; 0: chosen by inner grouped CV in each training fold */
    irb_crop_choice crop;
    irb_combine combine;                 /* several variants (crops x sizes): CHOOSE one per training fold
                                          * (default) or average a classifier per variant (MEAN) */
    irb_resize_mode resize;              /* how images become the CNN input (default CROP_FRACTION 0.875) */
    int sizes[IRB_EXPERIMENT_MAX_SIZES]; /* CNN input sizes (irb_net_opts.input_size), ended by 0 or
                                          * the array's end; with more than one, each training fold chooses
                                          * one (with the crop) or averages them, as `combine` says. All 0:
                                          * the model's size */
    int decode_each;                     /* several sizes: 0 (default) every size resamples the decode the
                                          * largest one picks (irb_preproc.decode_size: one decode per image
                                          * in classify); 1 each size decodes at its own DCT scale (as before) */
    double crop_fraction;                /* for IRB_RESIZE_CROP_FRACTION (0: 0.875) */
    int raw_size;                        /* L120's side (0: 120) */
    int threads, batch;                  /* 0: all CPUs; 0: 16 */
    irb_engine engine;
    irb_precision precision;
    const char *calib[IRB_EXPERIMENT_MAX_SIZES]; /* INT8: calibration table files (irb_calib_save),
                                                  * one per sizes[k] (borrowed); NULL: recorded from up to 64 of the
                                                  * images at that size (docs/int8.md). Saved in the pipeline */
    size_t limit;                                /* use the first `limit` labelled images in path order (0: all) */
    const char *rows;                            /* comma-separated subset of L120,RN1,RN2,RN2+A,RN2+A+E,M,RN2+A+M,
                                                  * RN2+A+M+E (NULL: all) */
    const char *save;                            /* a row name, or "best" (the most accurate row that can be deployed:
                                                  * every row but L120): after the cross-validation, that row's
                                                  * classifiers are trained on all the labelled images, with C and the
                                                  * crop chosen by the same inner cross-validation, and saved as a
                                                  * pipeline (irbis/pipeline.h) to save_path. NULL: nothing saved */
    const char *save_path;                       /* NULL: <out_dir>/pipeline.irbis */
    void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *progress_ctx;
} irb_experiment_opts;

#define IRB_EXPERIMENT_MAX_ROWS    8
#define IRB_EXPERIMENT_MAX_CLASSES 256

typedef struct irb_experiment_row {
    char name[16];   /* "L120", "RN1", "RN2", "RN2+A", "RN2+A+E", "M", "RN2+A+M", "RN2+A+M+E" */
    char what[128];  /* one-line description */
    int features;    /* feature vector length */
    double accuracy; /* pooled over every image's out-of-fold prediction */
    double balanced_accuracy;
    double auc; /* ROC AUC of the positive class (NaN for species without one) */
    double fold_acc_min, fold_acc_max;
    double seq_accuracy;                      /* one sample per sequence (ensembled rows only; else NaN) */
    double mean_log10_C;                      /* mean over folds of the chosen log10 C */
    int crop_auto_folds;                      /* folds whose training chose to crop info strips (--combine mean:
                                               * folds where a classifier averaged in was trained on cropped strips) */
    int size_folds[IRB_EXPERIMENT_MAX_SIZES]; /* folds whose training chose opts.sizes[k] (CNN rows) */
    char sizes[64];                           /* the CNN input sizes: "576", "224:2 576:3" (folds choosing each),
                                               * "mean 224/576" (averaged); "" for L120 */
    double train_seconds;                     /* fitting, including inner CV */
    double feature_seconds;                   /* computing features not found in the cache */
} irb_experiment_row;

typedef struct irb_experiment_result {
    size_t n_images; /* labelled images used */
    size_t n_failed; /* labelled images that could not be decoded (excluded) */
    size_t n_sequences;
    int n_classes;
    int folds;
    char unit[16];     /* "sequence", "camera" or "block" */
    char positive[64]; /* the ROC's positive class */
    int n_rows;
    irb_experiment_row rows[IRB_EXPERIMENT_MAX_ROWS];
    char saved_row[16]; /* the row saved as a pipeline ("" when none) */
    char saved_path[4096];
    double saved_min_confidence; /* the saved pipeline's default --min-confidence (0: off) */
    double saved_novelty;        /* its novelty threshold, or -1 without a novelty model */
} irb_experiment_result;

/* Runs the experiment and writes into out_dir: table.csv, table.md, results.json,
 * predictions_<row>.csv (out-of-fold), roc.csv, roc.svg, failed.csv and report.html
 * (docs/experiment.md). Images that fail to decode are excluded and listed. */
IRB_API irb_status irb_experiment_run(const irb_experiment_opts *opts, irb_experiment_result *out, irb_error *err);
/* The checks irb_experiment_run makes of opts before any work (the row names of rows and save;
 * enums, counts and numbers in range: no negative count, NaN, or folds of 1), for a command line
 * to refuse them as usage errors. IRB_INVALID_ARG names the bad value. */
IRB_API irb_status irb_experiment_check(const irb_experiment_opts *opts, irb_error *err);

#ifdef __cplusplus
}
#endif
#endif

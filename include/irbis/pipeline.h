/* irbis/pipeline.h: a trained recipe, saved once and deployed on every new survey. Included by
 * irbis.h. File format byte for byte: docs/pipeline.md.
 *
 * A pipeline holds everything needed to reproduce one experiment row's predictions on new
 * images: the backbone's identity (file name, sha256), and one or more parts, each a logistic
 * regression over features of that backbone:
 *   - an appearance part: the CNN cut at `cut` (pooled or not) of the image preprocessed as
 *     `preprocessing` says (input size, resize mode, info-strip crop); with `mirror`, the part's
 *     probabilities are the mean over the image and its horizontal mirror (RN2+A);
 *   - a motion part: the 7 motion statistics (docs/experiment.md, row M) per input size, side by
 *     side, of the change between the image's CNN map and those of the previous and next image
 *     of the same camera in shooting order.
 * The pipeline's probabilities are the weighted sum of its parts' (the weights sum to 1). The
 * class names, the decision rule (positive class and threshold), the sequence gap and whether
 * sequences are averaged complete it.
 *
 * Example (what a pipeline file holds):
 *
 *   irb_pipeline *p = NULL;
 *   irb_error err = {0};
 *   if (irb_pipeline_load("classifier.irbis", &p, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   printf("%s: %d parts, %d classes\n", p->row, p->n_parts, p->n_classes);
 *   irb_pipeline_free(p);
 *
 * Version-1 files (a single classifier from `irbis train FEATURES`) load as one-part pipelines.
 *
 * A pipeline may also carry what makes an image `uncertain` rather than confidently classified:
 * a default minimum top probability, and a novelty model (irb_novelty below) that scores how
 * unlike the training images an image's features are. Files without them load with neither.
 */
#ifndef IRBIS_PIPELINE_H
#define IRBIS_PIPELINE_H

#include "irbis/core.h"
#include "irbis/learn.h"
#include "irbis/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IRB_PIPELINE_MAX_PARTS  16
#define IRB_PIPELINE_MAX_INPUTS 4
#define IRB_PIPELINE_MAX_CALIB  16 /* calibration tables: one per input size */

typedef enum irb_part_kind {
    IRB_PART_APPEARANCE = 0, /* a classifier on the CNN's features of the image (and its mirror) */
    IRB_PART_MOTION = 1,     /* a classifier on the motion statistics, one block per input */
} irb_part_kind;

typedef struct irb_pipeline_part {
    irb_part_kind kind;
    double weight;                                /* the part's share of the pipeline's probabilities */
    int cut;                                      /* the net's cut point (irb_net_opts.cut; 0 when layer names it) */
    char *layer;                                  /* or the output tensor by name ("" when cut is used) */
    int pool;                                     /* 1: global average pooling of a spatial cut (irb_net_opts.pool) */
    int mirror;                                   /* appearance: the mean over the image and its left-right mirror */
    int n_inputs;                                 /* appearance: 1; motion: one per input size */
    int sizes[IRB_PIPELINE_MAX_INPUTS];           /* CNN input side of each input (0: the model's) */
    char *preprocessing[IRB_PIPELINE_MAX_INPUTS]; /* irb_preproc_to_json text ("": the model's) */
    irb_classifier_t *clf;                        /* owned */
    int map_mean;                                 /* appearance, bf16 / int8: 1 = trained on the spatial mean of the map
                                                   * this cut pools, taken after the net (as classify's shared pass takes
                                                   * it from the motion input of the same preprocessing), not on the net's
                                                   * own pooling; 0 (files before the 'map-mean' section): the net's */
} irb_pipeline_part;

/* Novelty: the cosine distance from an image's features to the nearest training image's,
 *   score(x) = 1 - max_j <x / |x|, t_j>   (t_j the L2-normalised training rows; 0 .. 2),
 * on the features of one appearance part (the image's, not its mirror's). An image scoring
 * above `threshold` is novel: unlike anything trained. The threshold is the `quantile` of the
 * training images' held-out scores (each scored against the other inner cross-validation
 * folds' images, so a burst's frames do not vouch for each other). docs/pipeline.md says why
 * the nearest neighbour and what it separates. */
typedef struct irb_novelty {
    int part;         /* the pipeline part whose features are scored (an appearance part) */
    int dim;          /* features per row */
    size_t n;         /* training rows */
    float *rows;      /* n x dim, each of norm 1 (or all zero for a zero row); owned */
    double quantile;  /* of the held-out scores the threshold was set at, in (0, 1] */
    double threshold; /* score > threshold: novel */
} irb_novelty;

/* Fits a novelty model on n rows of x (n x dim, borrowed): stores the rows normalised, scores
 * each row against the rows of the other folds of a grouped k-fold (irb_group_kfold of groups,
 * n ids, borrowed; NULL: every row its own group) and sets the threshold at `quantile` of those
 * scores (linear interpolation, as numpy.quantile). held_out, when not NULL, receives the n
 * held-out scores. part is recorded as given. *out is owned: irb_novelty_free. IRB_INVALID_ARG
 * for a NULL x or out, or an n whose n x dim floats no buffer can hold (also in irb_novelty_score). */
IRB_API irb_status irb_novelty_fit(const float *x, size_t n, int dim, const int *groups, int folds, double quantile,
                                   int part, double *held_out, irb_novelty **out, irb_error *err);
/* Scores n rows of x (n x dim) into score[0..n): distance to the nearest training row. A row's
 * score is the same whatever other rows are scored with it (score a batch in one call: the
 * training rows are read once per call). IRB_NOMEM when its scratch (8 rows) does not fit. */
IRB_API irb_status irb_novelty_score(const irb_novelty *nv, const float *x, size_t n, int dim, double *score,
                                     irb_error *err);
IRB_API void irb_novelty_free(irb_novelty *nv); /* nv may be NULL */

typedef struct irb_pipeline {
    char *model_name;      /* the backbone's file name at training (a path relative to the
                            * pipeline file's folder, or absolute) */
    char model_sha256[65]; /* "" when unknown (version-1 files without provenance) */
    char *row;             /* the recipe, e.g. "RN2+A+M" */
    int n_classes;
    char **classes;
    int positive;       /* the class the threshold applies to, or -1 (argmax) */
    double threshold;   /* label = positive iff p >= threshold */
    double gap;         /* sequence gap in seconds */
    int ensemble;       /* 1: the recipe averages each sequence (RN2+A+E): labels come from
                         * the sequence means */
    double cv_accuracy; /* the recipe's cross-validated accuracy on its training images, or -1 */
    int n_parts;
    irb_pipeline_part parts[IRB_PIPELINE_MAX_PARTS];
    int version;             /* the file's format version (1: a single classifier) */
    double min_confidence;   /* classify's default --min-confidence: a top probability below it is
                              * `uncertain` (0: off; set at training, docs/pipeline.md) */
    irb_novelty *novelty;    /* or NULL; owned */
    irb_precision precision; /* of the features the parts were trained on (FP32 in files without
                              * the 'precision' section); classify runs it unless told otherwise */
    int n_calib;             /* INT8: a calibration table per CNN input size (docs/int8.md) */
    int calib_size[IRB_PIPELINE_MAX_CALIB];
    irb_calib_t *calib[IRB_PIPELINE_MAX_CALIB]; /* owned */
    char file_sha256[65]; /* SHA-256 of the bytes it was loaded or parsed from ("" when built in memory) */
} irb_pipeline;

/* A new empty pipeline (threshold 0.5, gap 60, positive -1, cv_accuracy -1), or NULL. */
IRB_API irb_pipeline *irb_pipeline_new(void);
IRB_API void irb_pipeline_free(irb_pipeline *p); /* p may be NULL; frees the parts' classifiers and
                                                  * the novelty model */

/* The calibration table for CNN input side `size`, or NULL (borrowed: valid while p lives). */
IRB_API const irb_calib_t *irb_pipeline_calib(const irb_pipeline *p, int size);
/* Adds a copy of cal (borrowed for the call) as the table for `size`, replacing one there.
 * IRB_INVALID_ARG for a NULL p or cal, a size outside 0..IRB_NET_MAX_INPUT_SIZE, or a table past
 * IRB_PIPELINE_MAX_CALIB. */
IRB_API irb_status irb_pipeline_set_calib(irb_pipeline *p, int size, const irb_calib_t *cal, irb_error *err);

/* Checks p (classes, parts, weights, each classifier's classes equal to p's, the novelty model's
 * part and width; an INT8 pipeline's table for every input size of every part), then writes it
 * durably (temporary name, fsync, rename). A pipeline that fails the checks is IRB_CORRUPT (as the
 * same fields read from a file would be) naming what does not hold. */
IRB_API irb_status irb_pipeline_save(const irb_pipeline *p, const char *path, irb_error *err);
/* Loads a pipeline (version 2) or a classifier (version 1: one appearance part from its
 * provenance keys model, model_sha256, layer, cut, pool, preprocessing). Errors as
 * irb_classifier_load's: IRB_NOT_FOUND/IRB_IO, IRB_CORRUPT naming the offset and the field,
 * IRB_UNSUPPORTED for a newer version; IRB_INVALID_ARG for a NULL path or out (parse: a NULL out,
 * or NULL data with size > 0). */
IRB_API irb_status irb_pipeline_load(const char *path, irb_pipeline **out, irb_error *err);
IRB_API irb_status irb_pipeline_parse(const void *data, size_t size, const char *name, irb_pipeline **out,
                                      irb_error *err);

/* The pipeline's probabilities from its parts' (part_probs[k]: n x n_classes of part k, in the
 * pipeline's class order) into out (n x n_classes). Does nothing when p or out is NULL, or p's
 * counts are out of range (n_parts outside 0..IRB_PIPELINE_MAX_PARTS, n x n_classes overflowing);
 * a NULL part_probs (or a NULL part_probs[k]) adds nothing (out is then zeros). */
IRB_API void irb_pipeline_combine(const irb_pipeline *p, const double *const *part_probs, size_t n, double *out);

#ifdef __cplusplus
}
#endif
#endif

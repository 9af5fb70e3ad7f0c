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
 */
#ifndef IRBIS_PIPELINE_H
#define IRBIS_PIPELINE_H

#include "irbis/core.h"
#include "irbis/learn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IRB_PIPELINE_MAX_PARTS 16
#define IRB_PIPELINE_MAX_INPUTS 4

typedef enum irb_part_kind {
    IRB_PART_APPEARANCE = 0, /* a classifier on the CNN's features of the image (and its mirror) */
    IRB_PART_MOTION = 1,     /* a classifier on the motion statistics, one block per input */
} irb_part_kind;

typedef struct irb_pipeline_part {
    irb_part_kind kind;
    double weight;       /* the part's share of the pipeline's probabilities */
    int cut;             /* the net's cut point (irb_net_opts.cut; 0 when layer names it) */
    char *layer;         /* or the output tensor by name ("" when cut is used) */
    int pool;            /* 1: global average pooling of a spatial cut (irb_net_opts.pool) */
    int mirror;          /* appearance: the mean over the image and its left-right mirror */
    int n_inputs;        /* appearance: 1; motion: one per input size */
    int sizes[IRB_PIPELINE_MAX_INPUTS];          /* CNN input side of each input (0: the model's) */
    char *preprocessing[IRB_PIPELINE_MAX_INPUTS]; /* irb_preproc_to_json text ("": the model's) */
    irb_classifier_t *clf;                        /* owned */
} irb_pipeline_part;

typedef struct irb_pipeline {
    char *model_name;        /* the backbone's file name at training (a path relative to the
                              * pipeline file's folder, or absolute) */
    char model_sha256[65];   /* "" when unknown (version-1 files without provenance) */
    char *row;               /* the recipe, e.g. "RN2+A+M" */
    int n_classes;
    char **classes;
    int positive;            /* the class the threshold applies to, or -1 (argmax) */
    double threshold;        /* label = positive iff p >= threshold */
    double gap;              /* sequence gap in seconds */
    int ensemble;            /* 1: the recipe averages each sequence (RN2+A+E): labels come from
                              * the sequence means */
    double cv_accuracy;      /* the recipe's cross-validated accuracy on its training images, or -1 */
    int n_parts;
    irb_pipeline_part parts[IRB_PIPELINE_MAX_PARTS];
    int version;             /* the file's format version (1: a single classifier) */
} irb_pipeline;

/* A new empty pipeline (threshold 0.5, gap 60, positive -1, cv_accuracy -1), or NULL. */
IRB_API irb_pipeline *irb_pipeline_new(void);
IRB_API void irb_pipeline_free(irb_pipeline *p); /* p may be NULL; frees the parts' classifiers */

/* Checks p (classes, parts, weights, each classifier's classes equal to p's), then writes it
 * durably (temporary name, fsync, rename). */
IRB_API irb_status irb_pipeline_save(const irb_pipeline *p, const char *path, irb_error *err);
/* Loads a pipeline (version 2) or a classifier (version 1: one appearance part from its
 * provenance keys model, model_sha256, layer, cut, pool, preprocessing). Errors as
 * irb_classifier_load's: IRB_NOT_FOUND/IRB_IO, IRB_CORRUPT naming the offset and the field,
 * IRB_UNSUPPORTED for a newer version. */
IRB_API irb_status irb_pipeline_load(const char *path, irb_pipeline **out, irb_error *err);
IRB_API irb_status irb_pipeline_parse(const void *data, size_t size, const char *name, irb_pipeline **out,
                                      irb_error *err);

/* The pipeline's probabilities from its parts' (part_probs[k]: n x n_classes of part k, in the
 * pipeline's class order) into out (n x n_classes). */
IRB_API void irb_pipeline_combine(const irb_pipeline *p, const double *const *part_probs, size_t n, double *out);

#ifdef __cplusplus
}
#endif
#endif

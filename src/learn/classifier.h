/* The classifier object shared by training (logreg.c) and the file format (classifier.c). */
#ifndef IRB_LEARN_CLASSIFIER_H
#define IRB_LEARN_CLASSIFIER_H

#include <lbfgs.h>

#include "irbis/learn.h"
#include "learn/binio.h"

#define IRB_CLF_VERSION      1
#define IRB_PIPELINE_VERSION 2 /* the newest envelope version (pipeline.c) */
#define IRB_CLF_MAX_CLASSES  65536
#define IRB_CLF_MAX_DIM      (1 << 24)

/* The C grid of cross-validation when none is given: 10^-4 .. 10^2 in half-decades. */
#define IRB_LOGREG_DEFAULT_GRID_N 13
extern const double irb_logreg_default_grid[IRB_LOGREG_DEFAULT_GRID_N];
/* The grid of o (or the default) into *grid, *n; IRB_INVALID_ARG unless 1..IRB_CV_GRID_MAX
 * positive ascending values. */
irb_status irb_logreg_grid(const irb_train_opts *o, const double **grid, int *n, irb_error *err);

/* The L-BFGS settings of every fit (single and distributed): 10 corrections, gradient tolerance
 * tol relative to max(1, ||w||), at most max_iter iterations, 40 line-search steps. */
void irb_logreg_lbfgs_params(lbfgs_parameter_t *prm, double tol, int max_iter);

struct irb_classifier {
    int K; /* classes */
    int D; /* feature dim */
    int M; /* outputs: 1 when K == 2 (logit of class 1), else K */
    double C;
    char **class_name;    /* K */
    double *class_weight; /* K */
    double *mean, *std;   /* D each */
    double *W;            /* M x D, on standardised features */
    double *b;            /* M */
    int n_meta;
    char **meta_key, **meta_val;
};

/* A whole version-1 classifier file (envelope included) appended to b. */
void irb_classifier_serialise(const irb_classifier_t *c, irb_wbuf *b);
/* Parses a version-1 body at r->off .. r->len (the envelope checked by the caller). */
irb_status irb_classifier_parse_body(irb_rbuf *r, irb_classifier_t **out);

/* A zeroed classifier with all arrays allocated (names NULL), std set to 1. NULL on no memory. */
irb_classifier_t *irb_classifier_alloc(int K, int D);

#endif

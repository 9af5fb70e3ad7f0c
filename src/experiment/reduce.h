/* Exact dimension reduction for L2 logistic regression when features outnumber rows (reduce.c). */
#ifndef IRB_EXPERIMENT_REDUCE_H
#define IRB_EXPERIMENT_REDUCE_H

#include <stddef.h>

#include "irbis/core.h"
#include "learn/classifier.h"

typedef struct irb_reduce {
    size_t n, d, r; /* training rows, features, rank kept */
    double *mean, *std;
    float *xs;   /* n x d standardised training rows (owned) */
    float *proj; /* n x r: U S^-1 */
} irb_reduce;

/* Standardises x (n x d, taken over: freed by irb_reduce_release) and returns in *z (owned by
 * the caller, n x r) the reduced training rows. Train on z without further standardisation. */
irb_status irb_reduce_fit(float *x, size_t n, size_t d, irb_reduce *r, float **z, irb_error *err);
/* Maps m rows x (m x d, overwritten) into z (m x r). */
irb_status irb_reduce_apply(const irb_reduce *r, float *x, size_t m, float *z, irb_error *err);
void irb_reduce_release(irb_reduce *r);
/* The classifier clf, trained on reduced rows (no standardisation of its own), as an equal
 * classifier on the original features (r's standardisation, weights mapped back): *out new. */
irb_status irb_reduce_unfold(const irb_reduce *r, const irb_classifier_t *clf, irb_classifier_t **out, irb_error *err);

#endif

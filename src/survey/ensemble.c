/* Per-sequence combination of per-image class probabilities. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/survey.h"

#define GEOMEAN_FLOOR 1e-12

int irb_ensemble_parse(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "mean") == 0)
        return IRB_ENSEMBLE_MEAN;
    if (strcmp(name, "max") == 0)
        return IRB_ENSEMBLE_MAX;
    if (strcmp(name, "geomean") == 0 || strcmp(name, "geometric") == 0)
        return IRB_ENSEMBLE_GEOMEAN;
    return -1;
}

const char *irb_ensemble_name(irb_ensemble e)
{
    switch (e) {
    case IRB_ENSEMBLE_MEAN: return "mean";
    case IRB_ENSEMBLE_MAX: return "max";
    case IRB_ENSEMBLE_GEOMEAN: return "geomean";
    }
    return "?";
}

int irb_argmax(const double *v, size_t n)
{
    if (!n || !v)
        return -1;
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best] || (isnan(v[best]) && !isnan(v[i]))) /* a NaN is never the largest */
            best = i;
    return (int)best;
}

/* One sequence's combined probabilities into acc[k]. */
static void combine(const irb_sequences *seq, size_t s, const double *probs, size_t k, irb_ensemble method, double *acc)
{
    size_t m = seq->start[s + 1] - seq->start[s];
    for (size_t c = 0; c < k; c++)
        acc[c] = 0.0;
    for (size_t j = seq->start[s]; j < seq->start[s + 1]; j++) {
        const double *p = probs + seq->member[j] * k;
        for (size_t c = 0; c < k; c++) {
            if (method == IRB_ENSEMBLE_MAX)
                acc[c] = p[c] > acc[c] ? p[c] : acc[c];
            else if (method == IRB_ENSEMBLE_GEOMEAN)
                acc[c] += log(p[c] > GEOMEAN_FLOOR ? p[c] : GEOMEAN_FLOOR);
            else
                acc[c] += p[c];
        }
    }
    double sum = 0;
    for (size_t c = 0; c < k; c++) {
        if (method == IRB_ENSEMBLE_GEOMEAN)
            acc[c] = exp(acc[c] / (double)m);
        else if (method == IRB_ENSEMBLE_MEAN)
            acc[c] /= (double)m;
        sum += acc[c];
    }
    if (method != IRB_ENSEMBLE_MEAN && sum > 0)
        for (size_t c = 0; c < k; c++)
            acc[c] /= sum;
}

irb_status irb_ensemble_sequences(const irb_sequences *seq, const double *probs, size_t n_classes, irb_ensemble method,
                                  double *seq_probs, int *seq_label, double *image_probs, int *image_label,
                                  irb_error *err)
{
    if (!seq || (!probs && seq->n_images))
        return irb_fail(err, IRB_INVALID_ARG, "ensemble: NULL argument");
    if (!n_classes)
        return irb_fail(err, IRB_INVALID_ARG, "ensemble: no classes");
    if (method != IRB_ENSEMBLE_MEAN && method != IRB_ENSEMBLE_MAX && method != IRB_ENSEMBLE_GEOMEAN)
        return irb_fail(err, IRB_INVALID_ARG, "ensemble: unknown method %d", (int)method);
    IRB_TRY(irb_check_rows(seq->n_images, n_classes, sizeof *probs, "ensemble", err));
    size_t total = seq->n_images * n_classes;
    for (size_t i = 0; i < total; i++)
        if (!(probs[i] >= 0))
            return irb_fail(err, IRB_INVALID_ARG, "ensemble: image %zu, class %zu: probability %g is not >= 0",
                            i / n_classes, i % n_classes, probs[i]);
    double *acc = irb_malloc_array(n_classes, sizeof *acc);
    if (!acc)
        return irb_fail(err, IRB_NOMEM, "ensemble: out of memory");
    for (size_t s = 0; s < seq->n_sequences; s++) {
        combine(seq, s, probs, n_classes, method, acc);
        int label = irb_argmax(acc, n_classes);
        if (seq_probs)
            memcpy(seq_probs + s * n_classes, acc, n_classes * sizeof *acc);
        if (seq_label)
            seq_label[s] = label;
        for (size_t j = seq->start[s]; j < seq->start[s + 1]; j++) {
            size_t i = seq->member[j];
            if (image_probs)
                memcpy(image_probs + i * n_classes, acc, n_classes * sizeof *acc);
            if (image_label)
                image_label[i] = label;
        }
    }
    irb_free(acc);
    return IRB_OK;
}

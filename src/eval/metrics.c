/* Classification metrics with scikit-learn's definitions (zero_division = 0). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/eval.h"

void irb_metrics_release(irb_metrics *m)
{
    if (!m)
        return;
    irb_free(m->precision);
    irb_free(m->recall);
    irb_free(m->f1);
    irb_free(m->support);
    irb_free(m->confusion);
    memset(m, 0, sizeof *m);
}

static double ratio(size_t a, size_t b) { return b ? (double)a / (double)b : 0.0; }

irb_status irb_metrics_compute(const int *truth, const int *pred, size_t n, size_t n_classes, irb_metrics *out,
                               irb_error *err)
{
    if (!out || (n && (!truth || !pred)))
        return irb_fail(err, IRB_INVALID_ARG, "metrics: NULL argument");
    memset(out, 0, sizeof *out);
    if (!n_classes)
        return irb_fail(err, IRB_INVALID_ARG, "metrics: no classes");
    IRB_TRY(irb_check_rows(n_classes, n_classes, sizeof *out->confusion, "metrics: the confusion matrix", err));
    IRB_TRY(irb_check_rows(n, 1, sizeof *truth, "metrics", err));
    for (size_t i = 0; i < n; i++)
        if (truth[i] < 0 || (size_t)truth[i] >= n_classes || pred[i] < 0 || (size_t)pred[i] >= n_classes)
            return irb_fail(err, IRB_INVALID_ARG, "metrics: sample %zu has class %d/%d outside [0, %zu)", i, truth[i],
                            pred[i], n_classes);
    size_t k = n_classes;
    out->n_samples = n;
    out->n_classes = k;
    out->precision = irb_calloc(k, sizeof(double));
    out->recall = irb_calloc(k, sizeof(double));
    out->f1 = irb_calloc(k, sizeof(double));
    out->support = irb_calloc(k, sizeof(size_t));
    out->confusion = irb_malloc_array(k * k / k == k ? k * k : SIZE_MAX, sizeof(size_t));
    if (!out->precision || !out->recall || !out->f1 || !out->support || !out->confusion) {
        irb_metrics_release(out);
        return irb_fail(err, IRB_NOMEM, "metrics: out of memory for %zu classes", k);
    }
    memset(out->confusion, 0, k * k * sizeof(size_t));
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        out->confusion[(size_t)truth[i] * k + (size_t)pred[i]]++;
        correct += truth[i] == pred[i];
    }
    double recall_sum = 0, f1_sum = 0;
    size_t present = 0;
    for (size_t c = 0; c < k; c++) {
        size_t tp = out->confusion[c * k + c], predicted = 0, actual = 0;
        for (size_t j = 0; j < k; j++) {
            predicted += out->confusion[j * k + c];
            actual += out->confusion[c * k + j];
        }
        out->support[c] = actual;
        out->precision[c] = ratio(tp, predicted);
        out->recall[c] = ratio(tp, actual);
        double pr = out->precision[c] + out->recall[c];
        out->f1[c] = pr > 0 ? 2 * out->precision[c] * out->recall[c] / pr : 0.0;
        f1_sum += out->f1[c];
        if (actual) {
            recall_sum += out->recall[c];
            present++;
        }
    }
    out->accuracy = n ? (double)correct / (double)n : NAN;
    out->balanced_accuracy = present ? recall_sum / (double)present : NAN;
    out->macro_f1 = f1_sum / (double)k;
    return IRB_OK;
}

void irb_precision_recall_at(const double *score, const int *is_pos, size_t n, double threshold, double *precision,
                             double *recall)
{
    size_t tp = 0, pp = 0, ap = 0;
    for (size_t i = 0; score && is_pos && i < n; i++) {
        int p = score[i] >= threshold;
        pp += p;
        ap += is_pos[i] != 0;
        tp += p && is_pos[i];
    }
    if (precision)
        *precision = ratio(tp, pp);
    if (recall)
        *recall = ratio(tp, ap);
}

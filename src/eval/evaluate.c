/* One evaluation: argmax metrics, the positive class's ROC, precision/recall at a threshold. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/eval.h"
#include "irbis/survey.h"

void irb_evaluation_release(irb_evaluation *e)
{
    if (!e)
        return;
    if (e->classes)
        for (size_t c = 0; c < e->n_classes; c++)
            irb_free(e->classes[c]);
    irb_free(e->classes);
    irb_metrics_release(&e->metrics);
    irb_roc_release(&e->roc);
    memset(e, 0, sizeof *e);
}

irb_status irb_evaluate(const double *probs, const int *truth, size_t n, size_t n_classes, const char *const *classes,
                        int positive, double threshold, irb_evaluation *out, irb_error *err)
{
    if (!out || !classes || (n && (!probs || !truth)))
        return irb_fail(err, IRB_INVALID_ARG, "evaluate: NULL argument");
    memset(out, 0, sizeof *out);
    if (positive < 0 || (size_t)positive >= n_classes)
        return irb_fail(err, IRB_INVALID_ARG, "evaluate: positive class %d outside [0, %zu)", positive, n_classes);
    IRB_TRY(irb_check_rows(n, n_classes, sizeof *probs, "evaluate", err));
    for (size_t c = 0; c < n_classes; c++)
        if (!classes[c])
            return irb_fail(err, IRB_INVALID_ARG, "evaluate: class %zu has no name", c);
    if (isnan(threshold))
        return irb_fail(err, IRB_INVALID_ARG, "evaluate: the threshold is not a number");
    out->n = n;
    out->n_classes = n_classes;
    out->positive = positive;
    out->threshold = threshold;
    irb_status st = IRB_NOMEM;
    int *pred = irb_malloc_array(n ? n : 1, sizeof *pred), *is_pos = irb_malloc_array(n ? n : 1, sizeof *is_pos);
    double *score = irb_malloc_array(n ? n : 1, sizeof *score);
    out->classes = irb_calloc(n_classes, sizeof *out->classes);
    if (!pred || !is_pos || !score || !out->classes)
        goto cleanup;
    for (size_t c = 0; c < n_classes; c++)
        if (!(out->classes[c] = irb_strdup(classes[c])))
            goto cleanup;
    for (size_t i = 0; i < n; i++) {
        pred[i] = irb_argmax(probs + i * n_classes, n_classes);
        score[i] = probs[i * n_classes + (size_t)positive];
        is_pos[i] = truth[i] == positive;
    }
    if ((st = irb_metrics_compute(truth, pred, n, n_classes, &out->metrics, err)) != IRB_OK)
        goto done;
    if ((st = irb_roc_compute(score, is_pos, n, 1, &out->roc, err)) != IRB_OK)
        goto done;
    irb_precision_recall_at(score, is_pos, n, threshold, &out->precision_at, &out->recall_at);
    st = IRB_OK;
    goto done;
cleanup:
    irb_fail(err, IRB_NOMEM, "evaluate: out of memory for %zu samples", n);
done:
    irb_free(pred);
    irb_free(is_pos);
    irb_free(score);
    if (st != IRB_OK)
        irb_evaluation_release(out);
    return st;
}

/* ROC curve and AUC with sklearn.metrics.roc_curve's construction: one point per distinct score,
 * optional dropping of collinear points, a first point (0, 0) at threshold +inf. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/eval.h"

typedef struct scored {
    double s;
    int pos;
} scored;

static int cmp_desc(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    return (a->s < b->s) - (a->s > b->s);
}

void irb_roc_release(irb_roc *r)
{
    if (!r)
        return;
    irb_free(r->fpr);
    irb_free(r->tpr);
    irb_free(r->threshold);
    memset(r, 0, sizeof *r);
}

irb_status irb_roc_compute(const double *score, const int *is_pos, size_t n, int drop_intermediate, irb_roc *out,
                           irb_error *err)
{
    if (!out || (n && (!score || !is_pos)))
        return irb_fail(err, IRB_INVALID_ARG, "roc: NULL argument");
    memset(out, 0, sizeof *out);
    if (!n)
        return irb_fail(err, IRB_INVALID_ARG, "roc: no samples");
    IRB_TRY(irb_check_rows(n, 1, sizeof *score, "roc", err));
    for (size_t i = 0; i < n; i++)
        if (isnan(score[i]))
            return irb_fail(err, IRB_INVALID_ARG, "roc: sample %zu has a NaN score", i);
    scored *v = irb_malloc_array(n, sizeof *v);
    /* at most n distinct thresholds plus the (0, 0) point; fps/tps kept as doubles */
    double *fps = irb_malloc_array(n + 1, sizeof *fps), *tps = irb_malloc_array(n + 1, sizeof *tps),
           *thr = irb_malloc_array(n + 1, sizeof *thr), *ofps = irb_malloc_array(n + 1, sizeof *ofps);
    if (!v || !fps || !tps || !thr || !ofps) {
        irb_free(v), irb_free(fps), irb_free(tps), irb_free(thr), irb_free(ofps);
        return irb_fail(err, IRB_NOMEM, "roc: out of memory for %zu samples", n);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (scored){score[i], is_pos[i] != 0};
    qsort(v, n, sizeof *v, cmp_desc);
    size_t m = 0, tp = 0;
    for (size_t i = 0; i < n; i++) {
        tp += (size_t)v[i].pos;
        if (i + 1 == n || v[i + 1].s != v[i].s) { /* last of a run of equal scores */
            tps[m] = (double)tp;
            fps[m] = (double)(i + 1 - tp);
            thr[m] = v[i].s;
            m++;
        }
    }
    out->n_pos = tp;
    out->n_neg = n - tp;
    if (drop_intermediate && m > 2) {
        memcpy(ofps, fps, m * sizeof *fps);
        /* decide from copies so each point is judged against its original neighbours */
        double *otps = irb_malloc_array(m, sizeof *otps), *othr = irb_malloc_array(m, sizeof *othr);
        if (!otps || !othr) {
            irb_free(otps), irb_free(othr), irb_free(v), irb_free(fps), irb_free(tps), irb_free(thr), irb_free(ofps);
            return irb_fail(err, IRB_NOMEM, "roc: out of memory");
        }
        memcpy(otps, tps, m * sizeof *tps);
        memcpy(othr, thr, m * sizeof *thr);
        size_t w = 0;
        for (size_t i = 0; i < m; i++) {
            int keep = i == 0 || i + 1 == m || ofps[i + 1] - 2 * ofps[i] + ofps[i - 1] != 0 ||
                       otps[i + 1] - 2 * otps[i] + otps[i - 1] != 0;
            if (keep) {
                fps[w] = ofps[i];
                tps[w] = otps[i];
                thr[w] = othr[i];
                w++;
            }
        }
        m = w;
        irb_free(otps);
        irb_free(othr);
    }
    irb_free(v);
    irb_free(ofps);
    /* prepend (0, 0) at +inf: "positive when score >= threshold" marks nothing positive */
    memmove(fps + 1, fps, m * sizeof *fps);
    memmove(tps + 1, tps, m * sizeof *tps);
    memmove(thr + 1, thr, m * sizeof *thr);
    fps[0] = tps[0] = 0;
    thr[0] = INFINITY;
    m++;
    double P = (double)out->n_pos, N = (double)out->n_neg;
    for (size_t i = 0; i < m; i++) {
        fps[i] = N > 0 ? fps[i] / N : NAN;
        tps[i] = P > 0 ? tps[i] / P : NAN;
    }
    out->n = m;
    out->fpr = fps;
    out->tpr = tps;
    out->threshold = thr;
    if (P == 0 || N == 0) {
        out->auc = NAN;
        irb_warn(err, "roc: only one class in the truth (%zu positive, %zu negative): ROC AUC is undefined", out->n_pos,
                 out->n_neg);
        return IRB_OK;
    }
    double area = 0;
    for (size_t i = 1; i < m; i++)
        area += (fps[i] - fps[i - 1]) * (tps[i] + tps[i - 1]) / 2;
    out->auc = area;
    return IRB_OK;
}

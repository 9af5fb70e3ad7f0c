/* Squeeze: removes the listed axes (each must be 1), or every axis of size 1 when none given. */
#include <string.h>

#include "nn/ops/axes.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    const irb_tensor *x = in[0];
    int axes[IRB_MAX_RANK], k = -1, drop[IRB_MAX_RANK] = {0};
    IRB_TRY(irb_read_axes(n, in, x->rank, axes, &k, err));
    for (int i = 0; i < k; i++) {
        if (x->dims[axes[i]] != 1)
            return irb_op_fail(err, n, IRB_MISMATCH, "axis %d has size %lld, not 1", axes[i],
                               (long long)x->dims[axes[i]]);
        drop[axes[i]] = 1;
    }
    out->dtype = x->dtype;
    out->rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (!(k < 0 ? x->dims[i] == 1 : drop[i]))
            out->dims[out->rank++] = x->dims[i];
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)n, (void)s, (void)err;
    memcpy(out->data, in[0]->data, out->nbytes);
    return IRB_OK;
}

const irb_op_impl irb_op_squeeze = {infer, NULL, exec};

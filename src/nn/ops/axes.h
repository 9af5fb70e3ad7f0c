/* Squeeze/Unsqueeze axes: the attribute (opset < 13, in n->a.axes) or the int64 input 1. */
#ifndef IRB_NN_AXES_H
#define IRB_NN_AXES_H

#include "nn/ops/ops.h"

/* Fills axes (normalised against rank r) and *count; *count = -1 when none are given. */
static inline irb_status irb_read_axes(const irb_node *n, const irb_tensor *const *in, int r, int *axes, int *count,
                                       irb_error *err)
{
    int64_t raw[IRB_MAX_RANK];
    int k = -1;
    if (n->n_in > 1 && in[1]) {
        if (in[1]->dtype != IRB_DT_INT64 || !in[1]->data)
            return irb_op_fail(err, n, IRB_UNSUPPORTED, "the axes input must be a constant int64 tensor");
        int64_t c = irb_numel(in[1]->rank, in[1]->dims);
        if (c > IRB_MAX_RANK)
            return irb_op_fail(err, n, IRB_UNSUPPORTED, "more than %d axes", IRB_MAX_RANK);
        for (k = 0; k < c; k++)
            raw[k] = ((const int64_t *)in[1]->data)[k];
    } else if (n->a.has_axes) {
        for (k = 0; k < n->a.n_axes; k++)
            raw[k] = n->a.axes[k];
    }
    for (int i = 0; i < k; i++) {
        if (!irb_axis(raw[i], r, 0, &axes[i]))
            return irb_op_fail(err, n, IRB_CORRUPT, "axis %lld out of range for rank %d", (long long)raw[i], r);
        for (int j = 0; j < i; j++)
            if (axes[j] == axes[i])
                return irb_op_fail(err, n, IRB_CORRUPT, "axis %lld repeated", (long long)raw[i]);
    }
    *count = k;
    return IRB_OK;
}

#endif

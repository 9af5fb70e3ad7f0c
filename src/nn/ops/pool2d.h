/* Shared geometry of MaxPool and AveragePool (2-D, NCHW). */
#ifndef IRB_NN_POOL2D_H
#define IRB_NN_POOL2D_H

#include "nn/ops/ops.h"

typedef struct irb_pool_geo {
    int64_t nc, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} irb_pool_geo;

static inline irb_status irb_pool_geometry(const irb_node *n, const irb_tensor *const *in, irb_pool_geo *q,
                                           irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    const irb_tensor *x = in[0];
    const irb_attrs *a = &n->a;
    if (x->rank != 4)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "only 2-D pooling (rank-4 input) is supported, got rank %d",
                           x->rank);
    if (n->n_out > 1)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "the Indices output is not supported");
    q->nc = x->dims[0] * x->dims[1], q->h = x->dims[2], q->w = x->dims[3];
    q->kh = a->kernel[0], q->kw = a->kernel[1], q->sh = a->strides[0], q->sw = a->strides[1];
    q->dh = a->dilations[0], q->dw = a->dilations[1];
    IRB_TRY(irb_window(n, 0, q->h, q->kh, q->sh, q->dh, a->ceil_mode, &q->oh, &q->pt, &q->pb, err));
    IRB_TRY(irb_window(n, 1, q->w, q->kw, q->sw, q->dw, a->ceil_mode, &q->ow, &q->pl, &q->pr, err));
    if (out) {
        irb_same_shape(x, out);
        out->dims[2] = q->oh, out->dims[3] = q->ow;
    }
    return IRB_OK;
}

#endif

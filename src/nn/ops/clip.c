/* Clip: bounds from attributes (opset < 11) or from the optional min/max inputs (opset >= 11,
 * read at run time; the passes fold constant ones into the attributes). */
#include <math.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    for (int i = 1; i < n->n_in && i < 3; i++)
        if (in[i] && (in[i]->dtype != IRB_DT_FLOAT || irb_numel(in[i]->rank, in[i]->dims) != 1))
            return irb_op_fail(err, n, IRB_CORRUPT, "input %d must be one float", i);
    irb_same_shape(in[0], out);
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    (void)err;
    float lo = n->a.has_clip_min ? n->a.clip_min : -INFINITY;
    float hi = n->a.has_clip_max ? n->a.clip_max : INFINITY;
    if (n->n_in > 1 && in[1])
        lo = *(const float *)in[1]->data;
    if (n->n_in > 2 && in[2])
        hi = *(const float *)in[2]->data;
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t count = irb_numel(out->rank, out->dims);
    for (int64_t i = 0; i < count; i++)
        y[i] = fminf(fmaxf(x[i], lo), hi);
    return IRB_OK;
}

const irb_op_impl irb_op_clip = {infer, NULL, exec};

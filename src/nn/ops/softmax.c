/* Softmax. Opset >= 13: along one axis (default -1). Older opsets (softmax_legacy): the input
 * is coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])] (default axis 1) and each row is
 * normalised. Max-subtracted for range. */
#include <math.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    int ax;
    if (!irb_axis(n->a.axis, in[0]->rank, 0, &ax))
        return irb_op_fail(err, n, IRB_CORRUPT, "axis %lld out of range for rank %d", (long long)n->a.axis,
                           in[0]->rank);
    irb_same_shape(in[0], out);
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s, (void)err;
    const irb_tensor *x = in[0];
    int ax = 0;
    irb_axis(n->a.axis, x->rank, 0, &ax);
    int64_t outer = irb_numel(ax, x->dims), len, inner;
    if (n->a.softmax_legacy) {
        len = irb_numel(x->rank - ax, x->dims + ax);
        inner = 1;
    } else {
        len = x->dims[ax];
        inner = irb_numel(x->rank - ax - 1, x->dims + ax + 1);
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = (const float *)x->data + o * len * inner + i;
            float *q = (float *)out->data + o * len * inner + i;
            float m = -INFINITY;
            for (int64_t k = 0; k < len; k++)
                m = fmaxf(m, p[k * inner]);
            double sum = 0.0;
            for (int64_t k = 0; k < len; k++)
                sum += (q[k * inner] = expf(p[k * inner] - m));
            for (int64_t k = 0; k < len; k++)
                q[k * inner] = (float)(q[k * inner] / sum);
        }
    return IRB_OK;
}

const irb_op_impl irb_op_softmax = {infer, NULL, exec};

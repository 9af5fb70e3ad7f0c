/* HardSwish: elementwise over float tensors of any rank. */
#include <math.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    irb_same_shape(in[0], out);
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    (void)err;
    (void)n;
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t count = irb_numel(out->rank, out->dims);

    for (int64_t i = 0; i < count; i++) {
        float v = x[i];
        y[i] = v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));
    }
    return IRB_OK;
}

const irb_op_impl irb_op_hardswish = {infer, NULL, exec};

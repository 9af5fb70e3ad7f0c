/* Relu: max(x, 0), elementwise over float tensors of any rank. */
#include "nn/ops/ops.h"

static float relu(const irb_node *n, float v)
{
    (void)n;
    return v > 0.0f ? v : 0.0f;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s, (void)err;
    irb_unary_map(n, in[0], out, relu);
    return IRB_OK;
}

const irb_op_impl irb_op_relu = {irb_unary_infer, NULL, exec};

/* Sigmoid: 1 / (1 + e^-x), elementwise over float tensors of any rank. */
#include <math.h>

#include "nn/ops/ops.h"

static float sigmoid(const irb_node *n, float v)
{
    (void)n;
    return 1.0f / (1.0f + expf(-v));
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s, (void)err;
    irb_unary_map(n, in[0], out, sigmoid);
    return IRB_OK;
}

const irb_op_impl irb_op_sigmoid = {irb_unary_infer, NULL, exec};

/* HardSwish: x * clamp(x / 6 + 1/2, 0, 1), elementwise over float tensors of any rank. */
#include <math.h>

#include "nn/ops/ops.h"

static float hardswish(const irb_node *n, float v)
{
    (void)n;
    return v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s, (void)err;
    irb_unary_map(n, in[0], out, hardswish);
    return IRB_OK;
}

const irb_op_impl irb_op_hardswish = {irb_unary_infer, NULL, exec};

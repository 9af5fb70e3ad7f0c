/* HardSigmoid: clamp(alpha x + beta, 0, 1), elementwise over float tensors of any rank. */
#include <math.h>

#include "nn/ops/ops.h"

static float hardsigmoid(const irb_node *n, float v) { return fmaxf(0.0f, fminf(1.0f, n->a.alpha * v + n->a.beta)); }

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s, (void)err;
    irb_unary_map(n, in[0], out, hardsigmoid);
    return IRB_OK;
}

const irb_op_impl irb_op_hardsigmoid = {irb_unary_infer, NULL, exec};

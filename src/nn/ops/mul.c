/* Mul: elementwise with numpy broadcasting, float or int64. */
#include "nn/ops/ops.h"

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)n, (void)s, (void)err;
    irb_broadcast_apply(IRB_BIN_MUL, in[0], in[1], out);
    return IRB_OK;
}

const irb_op_impl irb_op_mul = {irb_broadcast_infer, NULL, exec};

/* Identity: a copy, any dtype (the passes remove it before engines see the graph). */
#include <string.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    irb_same_shape(in[0], out);
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)n, (void)s, (void)err;
    memcpy(out->data, in[0]->data, out->nbytes);
    return IRB_OK;
}

const irb_op_impl irb_op_identity = {infer, NULL, exec};

/* Dropout at inference: the identity. The mask output (a bool tensor) and training mode are
 * refused as unsupported. */
#include <string.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    if (n->n_out > 1)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "the mask output is not supported (inference only)");
    irb_same_shape(in[0], out);
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    if (n->n_in > 2 && in[2] && in[2]->data && in[2]->nbytes >= 1 && *(const unsigned char *)in[2]->data)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "training_mode = true is not supported (inference only)");
    memcpy(out->data, in[0]->data, out->nbytes);
    return IRB_OK;
}

const irb_op_impl irb_op_dropout = {infer, NULL, exec};

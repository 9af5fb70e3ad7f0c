/* Flatten: [prod(dims[:axis]), prod(dims[axis:])], axis in [-r, r] (default 1). Any dtype. */
#include <string.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    int ax;
    if (!irb_axis(n->a.axis, in[0]->rank, 1, &ax))
        return irb_op_fail(err, n, IRB_CORRUPT, "axis %lld out of range for rank %d", (long long)n->a.axis,
                           in[0]->rank);
    out->dtype = in[0]->dtype;
    out->rank = 2;
    out->dims[0] = irb_numel(ax, in[0]->dims);
    out->dims[1] = irb_numel(in[0]->rank - ax, in[0]->dims + ax);
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)n, (void)s, (void)err;
    memcpy(out->data, in[0]->data, out->nbytes);
    return IRB_OK;
}

const irb_op_impl irb_op_flatten = {infer, NULL, exec};

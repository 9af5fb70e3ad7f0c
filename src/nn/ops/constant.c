/* Constant: the importer turns every Constant node into a constant value, so no graph that
 * reaches an engine has one; this entry exists only to keep the dispatch table total. */
#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    (void)in, (void)out;
    return irb_op_fail(err, n, IRB_INTERNAL, "Constant nodes are folded at import");
}

const irb_op_impl irb_op_constant = {infer, NULL, NULL};

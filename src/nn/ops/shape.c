/* Shape: the input's dims as a 1-D int64 tensor, sliced by start/end (opset 15). Needs only
 * the input's shape, so the constant folder turns it into a constant once shapes are known. */
#include "nn/ops/ops.h"

static void range(const irb_node *n, int r, int64_t *s, int64_t *e)
{
    *s = n->a.shape_start;
    *e = n->a.has_shape_end ? n->a.shape_end : r;
    if (*s < 0)
        *s += r;
    if (*e < 0)
        *e += r;
    *s = *s < 0 ? 0 : *s > r ? r : *s;
    *e = *e < 0 ? 0 : *e > r ? r : *e;
    if (*e < *s)
        *e = *s;
}

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    int64_t s, e;
    range(n, in[0]->rank, &s, &e);
    out->dtype = IRB_DT_INT64;
    out->rank = 1;
    out->dims[0] = e - s;
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *sc, irb_error *err)
{
    (void)sc, (void)err;
    int64_t s, e;
    range(n, in[0]->rank, &s, &e);
    for (int64_t i = s; i < e; i++)
        ((int64_t *)out->data)[i - s] = in[0]->dims[i];
    return IRB_OK;
}

const irb_op_impl irb_op_shape = {infer, NULL, exec};

/* Gather along `axis` with int32/int64 indices (negative ones count from the end); data of any
 * supported dtype. Output shape: data[:axis] + indices + data[axis+1:]. */
#include <string.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    IRB_TRY(irb_op_need(n, in, 1, 0, err));
    const irb_tensor *x = in[0], *ix = in[1];
    int ax;
    if (ix->dtype == IRB_DT_FLOAT)
        return irb_op_fail(err, n, IRB_CORRUPT, "indices must be int32 or int64");
    if (!irb_axis(n->a.axis, x->rank, 0, &ax))
        return irb_op_fail(err, n, IRB_CORRUPT, "axis %lld out of range for rank %d", (long long)n->a.axis, x->rank);
    if (x->rank - 1 + ix->rank > IRB_MAX_RANK)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "output rank above %d", IRB_MAX_RANK);
    out->dtype = x->dtype;
    out->rank = 0;
    for (int i = 0; i < ax; i++)
        out->dims[out->rank++] = x->dims[i];
    for (int i = 0; i < ix->rank; i++)
        out->dims[out->rank++] = ix->dims[i];
    for (int i = ax + 1; i < x->rank; i++)
        out->dims[out->rank++] = x->dims[i];
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    const irb_tensor *x = in[0], *ix = in[1];
    int ax = 0;
    irb_axis(n->a.axis, x->rank, 0, &ax);
    size_t es = irb_dtype_size(x->dtype);
    int64_t outer = irb_numel(ax, x->dims), dim = x->dims[ax];
    int64_t inner = irb_numel(x->rank - ax - 1, x->dims + ax + 1), ni = irb_numel(ix->rank, ix->dims);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < ni; k++) {
            int64_t j = irb_tensor_int(ix, k);
            if (j < 0)
                j += dim;
            if (j < 0 || j >= dim)
                return irb_op_fail(err, n, IRB_CORRUPT, "index %lld out of range [0, %lld)",
                                   (long long)irb_tensor_int(ix, k), (long long)dim);
            memcpy((char *)out->data + ((o * ni + k) * inner) * es,
                   (const char *)x->data + ((o * dim + j) * inner) * es, (size_t)inner * es);
        }
    return IRB_OK;
}

const irb_op_impl irb_op_gather = {infer, NULL, exec};

/* Concat along `axis`: all inputs share dtype, rank and every other dim. */
#include <string.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    const irb_tensor *x = in[0];
    int ax;
    if (!irb_axis(n->a.axis, x->rank, 0, &ax))
        return irb_op_fail(err, n, IRB_CORRUPT, "axis %lld out of range for rank %d", (long long)n->a.axis, x->rank);
    irb_same_shape(x, out);
    out->dims[ax] = 0;
    for (int i = 0; i < n->n_in; i++) {
        IRB_TRY(irb_op_need(n, in, i, 0, err));
        const irb_tensor *t = in[i];
        if (t->dtype != x->dtype || t->rank != x->rank)
            return irb_op_fail(err, n, IRB_MISMATCH, "input %d differs in data type or rank", i);
        for (int d = 0; d < x->rank; d++)
            if (d != ax && t->dims[d] != x->dims[d])
                return irb_op_fail(err, n, IRB_MISMATCH, "input %d has dim %d = %lld, expected %lld", i, d,
                                   (long long)t->dims[d], (long long)x->dims[d]);
        out->dims[ax] += t->dims[ax];
    }
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s, (void)err;
    int ax = 0;
    irb_axis(n->a.axis, out->rank, 0, &ax);
    size_t es = irb_dtype_size(out->dtype);
    int64_t outer = irb_numel(ax, out->dims), inner = irb_numel(out->rank - ax - 1, out->dims + ax + 1);
    int64_t row = out->dims[ax] * inner, off = 0;
    for (int i = 0; i < n->n_in; i++) {
        int64_t part = in[i]->dims[ax] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)out->data + (o * row + off) * es, (const char *)in[i]->data + o * part * es,
                   (size_t)part * es);
        off += part;
    }
    return IRB_OK;
}

const irb_op_impl irb_op_concat = {infer, NULL, exec};

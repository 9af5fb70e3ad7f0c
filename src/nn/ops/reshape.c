/* Reshape: the shape input (int64, needed when shapes are inferred, so constant in a network)
 * may hold one -1 (inferred) and 0s (copy the input's dim, or a real 0 with allowzero). */
#include <string.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    IRB_TRY(irb_op_need(n, in, 1, IRB_DT_INT64, err));
    const irb_tensor *x = in[0], *sh = in[1];
    if (!sh->data)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "the shape input is not a constant");
    int64_t r = irb_numel(sh->rank, sh->dims);
    if (sh->rank != 1 || r > IRB_MAX_RANK)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "shape must be 1-D with at most %d entries", IRB_MAX_RANK);
    int neg = -1;
    int64_t known = 1;
    out->dtype = x->dtype;
    out->rank = (int)r;
    for (int i = 0; i < r; i++) {
        int64_t d = ((const int64_t *)sh->data)[i];
        if (d == 0 && !n->a.allowzero) {
            if (i >= x->rank)
                return irb_op_fail(err, n, IRB_MISMATCH, "shape[%d] = 0 copies a dim the input lacks", i);
            d = x->dims[i];
        }
        if (d == -1) {
            if (neg >= 0)
                return irb_op_fail(err, n, IRB_CORRUPT, "more than one -1 in the shape");
            neg = i;
            continue;
        }
        if (d < 0)
            return irb_op_fail(err, n, IRB_CORRUPT, "shape[%d] = %lld", i, (long long)d);
        out->dims[i] = d;
        if (__builtin_mul_overflow(known, d, &known))
            return irb_op_fail(err, n, IRB_TOO_LARGE, "shape [..., %lld, ...] has more elements than int64 holds",
                               (long long)d);
    }
    int64_t total = irb_numel(x->rank, x->dims);
    if (neg >= 0) {
        if (known == 0 || total % known)
            return irb_op_fail(err, n, IRB_MISMATCH, "cannot infer -1: %lld elements into blocks of %lld",
                               (long long)total, (long long)known);
        out->dims[neg] = total / known;
    } else if (known != total) {
        return irb_op_fail(err, n, IRB_MISMATCH, "%lld elements cannot take a shape of %lld", (long long)total,
                           (long long)known);
    }
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)n, (void)s, (void)err;
    memcpy(out->data, in[0]->data, out->nbytes);
    return IRB_OK;
}

const irb_op_impl irb_op_reshape = {infer, NULL, exec};

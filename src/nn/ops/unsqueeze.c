/* Unsqueeze: inserts axes of size 1; axes index the output (rank r + count). */
#include <string.h>

#include "nn/ops/axes.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    const irb_tensor *x = in[0];
    int axes[IRB_MAX_RANK], k = -1, ins[IRB_MAX_RANK] = {0};
    int64_t given = n->n_in > 1 && in[1] ? irb_numel(in[1]->rank, in[1]->dims) : n->a.n_axes;
    if (given < 0 || x->rank + given > IRB_MAX_RANK)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "output rank above %d", IRB_MAX_RANK);
    IRB_TRY(irb_read_axes(n, in, x->rank + (int)given, axes, &k, err));
    if (k < 0)
        return irb_op_fail(err, n, IRB_CORRUPT, "no axes given");
    for (int i = 0; i < k; i++)
        ins[axes[i]] = 1;
    out->dtype = x->dtype;
    out->rank = x->rank + k;
    for (int i = 0, j = 0; i < out->rank; i++)
        out->dims[i] = ins[i] ? 1 : x->dims[j++];
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)n, (void)s, (void)err;
    memcpy(out->data, in[0]->data, out->nbytes);
    return IRB_OK;
}

const irb_op_impl irb_op_unsqueeze = {infer, NULL, exec};

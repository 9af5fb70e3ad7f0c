/* GlobalAveragePool: the mean over every axis after N and C (any rank >= 3). */
#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    if (in[0]->rank < 3)
        return irb_op_fail(err, n, IRB_MISMATCH, "input rank %d, expected N x C x spatial", in[0]->rank);
    irb_same_shape(in[0], out);
    for (int i = 2; i < out->rank; i++)
        out->dims[i] = 1;
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)n, (void)s, (void)err;
    const irb_tensor *x = in[0];
    int64_t nc = x->dims[0] * x->dims[1], sp = irb_numel(x->rank - 2, x->dims + 2);
    for (int64_t c = 0; c < nc; c++) {
        const float *p = (const float *)x->data + c * sp;
        double acc = 0.0;
        for (int64_t k = 0; k < sp; k++)
            acc += p[k];
        ((float *)out->data)[c] = sp ? (float)(acc / (double)sp) : 0.0f;
    }
    return IRB_OK;
}

const irb_op_impl irb_op_globalavgpool = {infer, NULL, exec};

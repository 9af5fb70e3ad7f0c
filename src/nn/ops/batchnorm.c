/* BatchNormalization at inference: y = scale * (x - mean) / sqrt(var + epsilon) + B per channel
 * (axis 1, any rank >= 2). Training mode (extra outputs) is refused. */
#include <math.h>

#include "nn/ops/ops.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    for (int i = 0; i < 5; i++)
        IRB_TRY(irb_op_need(n, in, i, IRB_DT_FLOAT, err));
    if (n->n_out > 1)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "training mode (running mean/var outputs) is not supported");
    if (in[0]->rank < 2)
        return irb_op_fail(err, n, IRB_MISMATCH, "input rank %d < 2", in[0]->rank);
    for (int i = 1; i < 5; i++)
        if (irb_numel(in[i]->rank, in[i]->dims) != in[0]->dims[1])
            return irb_op_fail(err, n, IRB_MISMATCH, "input %d must hold %lld values (one per channel)", i,
                               (long long)in[0]->dims[1]);
    irb_same_shape(in[0], out);
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s, (void)err;
    const irb_tensor *x = in[0];
    const float *sc = in[1]->data, *b = in[2]->data, *mean = in[3]->data, *var = in[4]->data;
    int64_t c = x->dims[1], sp = irb_numel(x->rank - 2, x->dims + 2);
    for (int64_t k = 0; k < x->dims[0] * c; k++) {
        int64_t ch = k % c;
        float m = sc[ch] / sqrtf(var[ch] + n->a.epsilon), add = b[ch] - mean[ch] * m;
        const float *p = (const float *)x->data + k * sp;
        float *q = (float *)out->data + k * sp;
        for (int64_t i = 0; i < sp; i++)
            q[i] = p[i] * m + add;
    }
    return IRB_OK;
}

const irb_op_impl irb_op_batchnorm = {infer, NULL, exec};

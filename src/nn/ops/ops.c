/* The one dispatch point from irb_op to its implementation, and helpers the op files share. */
#include <stdarg.h>
#include <stdio.h>

#include "nn/ops/ops.h"

#include "core/alloc.h"

static const irb_op_impl *const table[IRB_OP_COUNT] = {
    [IRB_OP_CONV] = &irb_op_conv,
    [IRB_OP_RELU] = &irb_op_relu,
    [IRB_OP_CLIP] = &irb_op_clip,
    [IRB_OP_SIGMOID] = &irb_op_sigmoid,
    [IRB_OP_HARDSIGMOID] = &irb_op_hardsigmoid,
    [IRB_OP_HARDSWISH] = &irb_op_hardswish,
    [IRB_OP_ADD] = &irb_op_add,
    [IRB_OP_MUL] = &irb_op_mul,
    [IRB_OP_MAXPOOL] = &irb_op_maxpool,
    [IRB_OP_AVGPOOL] = &irb_op_avgpool,
    [IRB_OP_GLOBALAVGPOOL] = &irb_op_globalavgpool,
    [IRB_OP_BATCHNORM] = &irb_op_batchnorm,
    [IRB_OP_GEMM] = &irb_op_gemm,
    [IRB_OP_MATMUL] = &irb_op_matmul,
    [IRB_OP_SOFTMAX] = &irb_op_softmax,
    [IRB_OP_FLATTEN] = &irb_op_flatten,
    [IRB_OP_RESHAPE] = &irb_op_reshape,
    [IRB_OP_SQUEEZE] = &irb_op_squeeze,
    [IRB_OP_UNSQUEEZE] = &irb_op_unsqueeze,
    [IRB_OP_IDENTITY] = &irb_op_identity,
    [IRB_OP_DROPOUT] = &irb_op_dropout,
    [IRB_OP_SHAPE] = &irb_op_shape,
    [IRB_OP_GATHER] = &irb_op_gather,
    [IRB_OP_CONCAT] = &irb_op_concat,
    [IRB_OP_CONSTANT] = &irb_op_constant,
};

const irb_op_impl *irb_op_impl_get(irb_op op) { return (unsigned)op < IRB_OP_COUNT ? table[op] : NULL; }

irb_status irb_op_fail(irb_error *err, const irb_node *n, irb_status s, const char *fmt, ...)
{
    char msg[IRB_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return irb_fail(err, s, "%s node '%s': %s", irb_op_name(n->op), n->name, msg);
}

irb_status irb_op_run(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    const irb_op_impl *impl = irb_op_impl_get(n->op);
    if (!impl || !impl->exec)
        return irb_op_fail(err, n, IRB_INTERNAL, "no reference implementation");
    irb_status s = IRB_OK;
    for (int o = 0; o < n->n_out; o++)
        out[o].data = NULL;
    for (int o = 0; o < n->n_out && s == IRB_OK; o++) {
        size_t bytes = 0;
        int64_t count = irb_numel(out[o].rank, out[o].dims);
        if (count < 0 || !irb_mul_size((size_t)count, irb_dtype_size(out[o].dtype), &bytes) ||
            !(out[o].data = irb_malloc(bytes ? bytes : 1)))
            s = irb_op_fail(err, n, IRB_NOMEM, "out of memory for the output");
        out[o].nbytes = bytes;
    }
    size_t ss = (s == IRB_OK && impl->scratch) ? impl->scratch(n, in, out) : 0;
    void *scratch = ss ? irb_malloc(ss) : NULL;
    if (ss && !scratch)
        s = irb_op_fail(err, n, IRB_NOMEM, "out of memory for scratch");
    if (s == IRB_OK)
        s = impl->exec(n, in, out, scratch, err);
    irb_free(scratch);
    for (int o = 0; s != IRB_OK && o < n->n_out; o++)
        irb_tensor_release(&out[o]);
    return s;
}

int irb_axis(int64_t axis, int rank, int inclusive, int *out)
{
    /* negative axes count from the end of the input's dims, also when rank itself is allowed */
    if (axis < 0)
        axis += rank;
    if (axis < 0 || axis >= rank + (inclusive ? 1 : 0))
        return 0;
    *out = (int)axis;
    return 1;
}

irb_status irb_op_need(const irb_node *n, const irb_tensor *const *in, int i, irb_dtype dt, irb_error *err)
{
    if (i >= n->n_in || !in[i])
        return irb_op_fail(err, n, IRB_CORRUPT, "input %d is missing", i);
    if (dt && in[i]->dtype != dt)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "input %d has data type %d, expected %d", i, (int)in[i]->dtype,
                           (int)dt);
    return IRB_OK;
}

int64_t irb_tensor_int(const irb_tensor *t, int64_t k)
{
    return t->dtype == IRB_DT_INT32 ? ((const int32_t *)t->data)[k] : ((const int64_t *)t->data)[k];
}

void irb_same_shape(const irb_tensor *in, irb_tensor *out)
{
    out->dtype = in->dtype;
    out->rank = in->rank;
    for (int i = 0; i < in->rank; i++)
        out->dims[i] = in->dims[i];
}

irb_status irb_unary_infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    irb_same_shape(in[0], out);
    return IRB_OK;
}

irb_status irb_window(const irb_node *n, int axis, int64_t in, int64_t k, int64_t stride, int64_t dil, int ceil_mode,
                      int64_t *out, int64_t *pad0, int64_t *pad1, irb_error *err)
{
    const irb_attrs *a = &n->a;
    if (k < 1 || stride < 1 || dil < 1)
        return irb_op_fail(err, n, IRB_CORRUPT, "kernel %lld, stride %lld, dilation %lld must be >= 1", (long long)k,
                           (long long)stride, (long long)dil);
    int64_t span = dil * (k - 1) + 1;
    if (a->auto_pad == 1 || a->auto_pad == 2) {
        int64_t o = (in + stride - 1) / stride;
        int64_t total = (o - 1) * stride + span - in;
        if (total < 0)
            total = 0;
        *pad0 = a->auto_pad == 1 ? total / 2 : total - total / 2;
        *pad1 = total - *pad0;
        *out = o;
        return IRB_OK;
    }
    *pad0 = a->auto_pad == 3 ? 0 : a->pads[axis];
    *pad1 = a->auto_pad == 3 ? 0 : a->pads[axis + 2];
    int64_t room = in + *pad0 + *pad1 - span;
    if (*pad0 < 0 || *pad1 < 0 || room < 0)
        return irb_op_fail(err, n, IRB_MISMATCH, "window of %lld does not fit input size %lld with pads %lld,%lld",
                           (long long)span, (long long)in, (long long)*pad0, (long long)*pad1);
    int64_t o = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
    /* ceil_mode: a last window that would start in the end padding is dropped (as PyTorch). */
    if (ceil_mode && (o - 1) * stride >= in + *pad0)
        o--;
    *out = o;
    return IRB_OK;
}

/* Shape inference + constant folding (see passes.h). */
#include <string.h>

#include "core/alloc.h"
#include "nn/ops/ops.h"
#include "nn/passes/passes.h"

static int known(const irb_value *v)
{
    if (v->rank < 0)
        return 0;
    for (int i = 0; i < v->rank; i++)
        if (v->dims[i] < 0)
            return 0;
    return 1;
}

/* Constant scalar inputs that engines should see as attributes. */
static void lift_attrs(irb_graph *g, irb_node *n)
{
    if (n->op == IRB_OP_CLIP) {
        for (int i = 1; i < n->n_in && i < 3; i++) {
            const irb_value *v = n->in[i] >= 0 ? &g->values[n->in[i]] : NULL;
            if (!v || !v->data || v->dtype != IRB_DT_FLOAT || v->nbytes != 4)
                continue;
            if (i == 1)
                n->a.clip_min = *(const float *)v->data, n->a.has_clip_min = 1;
            else
                n->a.clip_max = *(const float *)v->data, n->a.has_clip_max = 1;
            n->in[i] = -1;
        }
        while (n->n_in > 1 && n->in[n->n_in - 1] < 0)
            n->n_in--;
    }
    if ((n->op == IRB_OP_SQUEEZE || n->op == IRB_OP_UNSQUEEZE) && n->n_in > 1 && n->in[1] >= 0) {
        const irb_value *v = &g->values[n->in[1]];
        int64_t c = v->nbytes / 8;
        if (v->data && v->dtype == IRB_DT_INT64 && c <= IRB_MAX_RANK) {
            memcpy(n->a.axes, v->data, v->nbytes);
            n->a.n_axes = (int)c;
            n->a.has_axes = 1;
            n->n_in = 1;
        }
    }
}

/* Limits of shape inference: any value (for the IR's batch) and a folded constant. */
#define IRB_MAX_VALUE_BYTES ((size_t)1 << 34)
#define IRB_MAX_FOLD_BYTES  ((size_t)256 << 20)

/* A compute op whose weight has a zero dimension (a model that cannot be run: it passed shape
 * inference and failed later inside the engine with the engine's message). Zero-size values
 * elsewhere are legal ONNX (Reshape allowzero) and left alone. */
static irb_status check_weights(const irb_node *n, const irb_tensor *const *in, irb_error *err)
{
    if (n->op != IRB_OP_CONV && n->op != IRB_OP_GEMM && n->op != IRB_OP_MATMUL && n->op != IRB_OP_BATCHNORM)
        return IRB_OK;
    for (int i = 0; i < n->n_in; i++)
        if (in[i] && irb_numel(in[i]->rank, in[i]->dims) == 0)
            return irb_op_fail(err, n, IRB_CORRUPT, "input %d has no elements (a zero-size dimension)", i);
    return IRB_OK;
}

static irb_status fold(irb_graph *g, int k, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    irb_node *n = &g->nodes[k];
    IRB_TRY(irb_op_run(n, in, out, err));
    for (int o = 0; o < n->n_out; o++) {
        irb_value *v = &g->values[n->out[o]];
        if (!v->borrowed)
            irb_free(v->data);
        v->borrowed = 0;
        v->data = out[o].data;
        v->nbytes = out[o].nbytes;
        v->producer = -1;
    }
    n->n_out = 0; /* folded: prune drops it */
    return IRB_OK;
}

irb_status irb_pass_infer_fold(irb_graph *g, irb_error *err)
{
    for (int k = 0; k < g->n_nodes; k++) {
        irb_node *n = &g->nodes[k];
        if (!n->n_out)
            continue;
        lift_attrs(g, n);
        const irb_op_impl *impl = irb_op_impl_get(n->op);
        irb_tensor tin[IRB_MAX_NODE_INPUTS], out[2];
        const irb_tensor *in[IRB_MAX_NODE_INPUTS];
        int all_const = 1;
        memset(out, 0, sizeof out);
        for (int i = 0; i < n->n_in; i++) {
            in[i] = NULL;
            if (n->in[i] < 0)
                continue;
            const irb_value *v = &g->values[n->in[i]];
            if (!known(v))
                return irb_op_fail(err, n, IRB_MISMATCH, "the shape of input '%s' is not known", v->name);
            irb_value_view(v, &tin[i]);
            in[i] = &tin[i];
            all_const &= v->data != NULL;
        }
        IRB_TRY(impl->infer(n, in, out, err));
        IRB_TRY(check_weights(n, in, err));
        size_t biggest = 0;
        for (int o = 0; o < n->n_out; o++) { /* shapes from a malformed model's data can be anything */
            int64_t count = irb_numel(out[o].rank, out[o].dims);
            size_t bytes;
            if (count < 0 || !irb_mul_size((size_t)count, irb_dtype_size(out[o].dtype), &bytes) ||
                bytes > IRB_MAX_VALUE_BYTES)
                return irb_op_fail(err, n, IRB_TOO_LARGE,
                                   "output %d would hold %s%lld elements (at most %llu bytes "
                                   "per tensor)",
                                   o, count < 0 ? "more than " : "",
                                   count < 0 ? (long long)INT64_MAX : (long long)count,
                                   (unsigned long long)IRB_MAX_VALUE_BYTES);
            biggest = bytes > biggest ? bytes : biggest;
        }
        for (int o = 0; o < n->n_out; o++) {
            irb_value *v = &g->values[n->out[o]];
            v->dtype = out[o].dtype;
            v->rank = out[o].rank;
            memcpy(v->dims, out[o].dims, sizeof v->dims);
        }
        /* constant subgraphs are folded unless their result is huge (left to run, like any node) */
        if (impl->exec && (all_const || n->op == IRB_OP_SHAPE) && biggest <= IRB_MAX_FOLD_BYTES)
            IRB_TRY(fold(g, k, in, out, err));
    }
    return IRB_OK;
}

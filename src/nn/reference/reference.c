/* The reference engine: plain C (OpenBLAS for the matrix products), every op, the test oracle.
 * compile() copies the graph and allocates one buffer per value at batch 1; run() evaluates the
 * nodes once per image. eval() evaluates a whole graph for inputs of any shape (conformance). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/backend.h"
#include "nn/ops/ops.h"

static int supports(const irb_graph *g, int node)
{
    irb_op op = g->nodes[node].op;
    return op != IRB_OP_CONSTANT && op < IRB_OP_COUNT;
}

/* ------------------------------------------------------------------ general evaluation */

static irb_status eval_node(const irb_graph *g, int k, irb_tensor *vals, char *owned, irb_error *err)
{
    const irb_node *n = &g->nodes[k];
    const irb_op_impl *impl = irb_op_impl_get(n->op);
    const irb_tensor *in[IRB_MAX_NODE_INPUTS];
    irb_tensor out[2];
    memset(out, 0, sizeof out);
    for (int i = 0; i < n->n_in; i++) {
        in[i] = n->in[i] >= 0 ? &vals[n->in[i]] : NULL;
        if (in[i] && !in[i]->data)
            return irb_op_fail(err, n, IRB_INTERNAL, "input '%s' has not been computed", g->values[n->in[i]].name);
    }
    if (!impl->exec)
        return irb_op_fail(err, n, IRB_INTERNAL, "no reference implementation");
    IRB_TRY(impl->infer(n, in, out, err));
    irb_status s = irb_op_run(n, in, out, err);
    for (int o = 0; o < n->n_out && s == IRB_OK; o++) {
        vals[n->out[o]] = out[o];
        owned[n->out[o]] = 1;
    }
    return s;
}

static irb_status eval(const irb_graph *g, const irb_tensor *in, irb_tensor *out, irb_error *err)
{
    irb_tensor *vals = irb_calloc((size_t)g->n_values + 1, sizeof *vals);
    char *owned = irb_calloc((size_t)g->n_values + 1, 1);
    irb_status s = IRB_OK;
    if (!vals || !owned) {
        s = irb_fail(err, IRB_NOMEM, "out of memory evaluating the graph");
        goto cleanup;
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].data)
            irb_value_view(&g->values[v], &vals[v]);
    for (int i = 0; i < g->n_inputs; i++)
        vals[g->inputs[i]] = in[i];
    for (int k = 0; k < g->n_nodes && s == IRB_OK; k++)
        s = eval_node(g, k, vals, owned, err);
    for (int i = 0; i < g->n_outputs && s == IRB_OK; i++) {
        const irb_tensor *t = &vals[g->outputs[i]];
        out[i] = *t;
        if (!(out[i].data = irb_malloc(t->nbytes ? t->nbytes : 1))) {
            s = irb_fail(err, IRB_NOMEM, "out of memory for the outputs");
            for (int j = 0; j < i; j++)
                irb_tensor_release(&out[j]);
            break;
        }
        if (t->nbytes)
            memcpy(out[i].data, t->data, t->nbytes);
    }
cleanup:
    for (int v = 0; vals && owned && v < g->n_values; v++)
        if (owned[v])
            irb_free(vals[v].data);
    irb_free(vals);
    irb_free(owned);
    return s;
}

/* ------------------------------------------------------------------ compiled plan */

typedef struct ref_plan {
    irb_graph g;      /* own copy */
    irb_tensor *vals; /* per value: constants borrow g's data, activations own a buffer */
    char *owned;
    void *scratch;
    size_t in_count, out_count;
    void (*observe)(void *ctx, int value, const float *data, size_t n);
    void *observe_ctx;
} ref_plan;

static void destroy(void *p)
{
    ref_plan *r = p;
    if (!r)
        return;
    for (int v = 0; r->vals && v < r->g.n_values; v++)
        if (r->owned[v])
            irb_free(r->vals[v].data);
    irb_free(r->vals);
    irb_free(r->owned);
    irb_free(r->scratch);
    irb_graph_release(&r->g);
    irb_free(r);
}

static irb_status alloc_value(ref_plan *r, int v, irb_error *err)
{
    irb_tensor *t = &r->vals[v];
    irb_value_view(&r->g.values[v], t);
    size_t bytes;
    int64_t count = irb_numel(t->rank, t->dims);
    if (count < 0 || !irb_mul_size((size_t)count, irb_dtype_size(t->dtype), &bytes) ||
        !(t->data = irb_malloc(bytes ? bytes : 1)))
        return irb_fail(err, IRB_NOMEM, "out of memory for activation '%s'", r->g.values[v].name);
    t->nbytes = bytes;
    r->owned[v] = 1;
    return IRB_OK;
}

static irb_status compile_plan(ref_plan *r, const irb_exec_opts *o, irb_error *err)
{
    irb_graph *g = &r->g;
    if (o && o->precision != IRB_EXEC_FP32)
        return irb_fail(err, IRB_UNSUPPORTED, "the reference engine runs fp32 only");
    if (g->input < 0 || g->output < 0)
        return irb_fail(err, IRB_INVALID_ARG, "the graph has no input or output");
    r->vals = irb_calloc((size_t)g->n_values + 1, sizeof *r->vals);
    r->owned = irb_calloc((size_t)g->n_values + 1, 1);
    if (!r->vals || !r->owned)
        return irb_fail(err, IRB_NOMEM, "out of memory compiling the network");
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].data)
            irb_value_view(&g->values[v], &r->vals[v]);
    IRB_TRY(alloc_value(r, g->input, err));
    size_t scratch = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        const irb_node *n = &g->nodes[k];
        const irb_op_impl *impl = irb_op_impl_get(n->op);
        const irb_tensor *in[IRB_MAX_NODE_INPUTS];
        irb_tensor out[2];
        if (!impl->exec)
            return irb_op_fail(err, n, IRB_INTERNAL, "no reference implementation");
        memset(out, 0, sizeof out);
        for (int i = 0; i < n->n_in; i++)
            in[i] = n->in[i] >= 0 ? &r->vals[n->in[i]] : NULL;
        IRB_TRY(impl->infer(n, in, out, err));
        for (int i = 0; i < n->n_out; i++) {
            irb_value *v = &g->values[n->out[i]];
            if (v->rank != out[i].rank || memcmp(v->dims, out[i].dims, sizeof(int64_t) * (size_t)v->rank))
                return irb_op_fail(err, n, IRB_INTERNAL, "inferred shape of '%s' changed", v->name);
            IRB_TRY(alloc_value(r, n->out[i], err));
        }
        size_t s = impl->scratch ? impl->scratch(n, in, out) : 0;
        if (s > scratch)
            scratch = s;
    }
    if (!r->vals[g->output].data)
        return irb_fail(err, IRB_INVALID_ARG, "the output '%s' is not computed", g->values[g->output].name);
    if (scratch && !(r->scratch = irb_malloc(scratch)))
        return irb_fail(err, IRB_NOMEM, "out of memory for %zu bytes of scratch", scratch);
    r->observe = o ? o->observe : NULL;
    r->observe_ctx = o ? o->observe_ctx : NULL;
    r->in_count = r->vals[g->input].nbytes / sizeof(float);
    r->out_count = r->vals[g->output].nbytes / sizeof(float);
    if (g->values[g->input].dtype != IRB_DT_FLOAT || g->values[g->output].dtype != IRB_DT_FLOAT)
        return irb_fail(err, IRB_UNSUPPORTED, "network input and output must be float");
    return IRB_OK;
}

static irb_status compile(const irb_graph *g, const irb_exec_opts *o, void **plan, irb_error *err)
{
    *plan = NULL;
    ref_plan *r = irb_calloc(1, sizeof *r);
    if (!r)
        return irb_fail(err, IRB_NOMEM, "out of memory compiling the network");
    irb_status s = irb_graph_copy(g, &r->g, err);
    if (s == IRB_OK)
        s = compile_plan(r, o, err);
    if (s != IRB_OK) {
        destroy(r);
        return s;
    }
    *plan = r;
    return IRB_OK;
}

static irb_status run(void *plan, const float *input, int batch, float *output, irb_error *err)
{
    ref_plan *r = plan;
    irb_graph *g = &r->g;
    for (int b = 0; b < batch; b++) {
        memcpy(r->vals[g->input].data, input + (size_t)b * r->in_count, r->in_count * sizeof(float));
        for (int k = 0; k < g->n_nodes; k++) {
            const irb_node *n = &g->nodes[k];
            const irb_tensor *in[IRB_MAX_NODE_INPUTS];
            for (int i = 0; i < n->n_in; i++)
                in[i] = n->in[i] >= 0 ? &r->vals[n->in[i]] : NULL;
            IRB_TRY(irb_op_impl_get(n->op)->exec(n, in, &r->vals[n->out[0]], r->scratch, err));
            const irb_tensor *y = &r->vals[n->out[0]];
            if (r->observe && y->dtype == IRB_DT_FLOAT)
                r->observe(r->observe_ctx, n->out[0], y->data, y->nbytes / sizeof(float));
        }
        memcpy(output + (size_t)b * r->out_count, r->vals[g->output].data, r->out_count * sizeof(float));
    }
    return IRB_OK;
}

const irb_backend irb_backend_reference = {
    .name = "reference", .supports = supports, .compile = compile, .run = run, .destroy = destroy, .eval = eval};

irb_status irb_reference_eval(const irb_graph *g, const irb_tensor *in, irb_tensor *out, irb_error *err)
{
    return eval(g, in, out, err);
}

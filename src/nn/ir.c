/* The IR's bookkeeping: op names, building, copying and freeing graphs, tensors. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/ir.h"

static const char *const op_names[IRB_OP_COUNT] = {
    [IRB_OP_CONV] = "Conv",
    [IRB_OP_RELU] = "Relu",
    [IRB_OP_CLIP] = "Clip",
    [IRB_OP_SIGMOID] = "Sigmoid",
    [IRB_OP_HARDSIGMOID] = "HardSigmoid",
    [IRB_OP_HARDSWISH] = "HardSwish",
    [IRB_OP_ADD] = "Add",
    [IRB_OP_MUL] = "Mul",
    [IRB_OP_MAXPOOL] = "MaxPool",
    [IRB_OP_AVGPOOL] = "AveragePool",
    [IRB_OP_GLOBALAVGPOOL] = "GlobalAveragePool",
    [IRB_OP_BATCHNORM] = "BatchNormalization",
    [IRB_OP_GEMM] = "Gemm",
    [IRB_OP_MATMUL] = "MatMul",
    [IRB_OP_SOFTMAX] = "Softmax",
    [IRB_OP_FLATTEN] = "Flatten",
    [IRB_OP_RESHAPE] = "Reshape",
    [IRB_OP_SQUEEZE] = "Squeeze",
    [IRB_OP_UNSQUEEZE] = "Unsqueeze",
    [IRB_OP_IDENTITY] = "Identity",
    [IRB_OP_DROPOUT] = "Dropout",
    [IRB_OP_SHAPE] = "Shape",
    [IRB_OP_GATHER] = "Gather",
    [IRB_OP_CONCAT] = "Concat",
    [IRB_OP_CONSTANT] = "Constant",
};

const char *irb_op_name(irb_op op) { return (unsigned)op < IRB_OP_COUNT ? op_names[op] : "?"; }

irb_op irb_op_from_name(const char *s)
{
    for (int i = 0; i < IRB_OP_COUNT; i++)
        if (strcmp(op_names[i], s) == 0)
            return (irb_op)i;
    return IRB_OP_COUNT;
}

size_t irb_dtype_size(irb_dtype dt)
{
    switch (dt) {
    case IRB_DT_FLOAT: return 4;
    case IRB_DT_INT32: return 4;
    case IRB_DT_INT64: return 8;
    }
    return 0;
}

int64_t irb_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 || __builtin_mul_overflow(n, dims[i], &n))
            return -1;
    return n;
}

void irb_tensor_release(irb_tensor *t)
{
    if (!t)
        return;
    irb_free(t->data);
    memset(t, 0, sizeof *t);
}

void irb_value_view(const irb_value *v, irb_tensor *t)
{
    t->dtype = v->dtype;
    t->rank = v->rank;
    memcpy(t->dims, v->dims, sizeof t->dims);
    t->data = v->data;
    t->nbytes = v->nbytes;
}

/* ---------------------------------------------------------------- graphs */

void irb_graph_release(irb_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++) {
        irb_free(g->values[i].name);
        if (!g->values[i].borrowed)
            irb_free(g->values[i].data);
    }
    for (int i = 0; i < g->n_nodes; i++)
        irb_free(g->nodes[i].name);
    irb_free(g->values);
    irb_free(g->nodes);
    irb_free(g->metadata);
    irb_free(g->inputs);
    irb_free(g->outputs);
    irb_free(g->producer);
    irb_free(g->slab);
    memset(g, 0, sizeof *g);
}

int irb_graph_add_value(irb_graph *g, const char *name)
{
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? 2 * g->cap_values : 64;
        irb_value *v = irb_realloc_array(g->values, (size_t)cap, sizeof *v);
        if (!v)
            return -1;
        g->values = v;
        g->cap_values = cap;
    }
    irb_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = irb_strdup(name ? name : "");
    if (!v->name)
        return -1;
    v->producer = -1;
    return g->n_values++;
}

int irb_graph_add_node(irb_graph *g, irb_op op, const char *name)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        irb_node *n = irb_realloc_array(g->nodes, (size_t)cap, sizeof *n);
        if (!n)
            return -1;
        g->nodes = n;
        g->cap_nodes = cap;
    }
    irb_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = irb_strdup(name ? name : "");
    if (!n->name)
        return -1;
    n->op = op;
    return g->n_nodes++;
}

int irb_graph_find_value(const irb_graph *g, const char *name)
{
    for (int i = g->n_values - 1; i >= 0; i--)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}

int irb_graph_metadata(const irb_graph *g, const char *key, char *buf, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = g->metadata; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = len - kl - 1;
            if (n) {
                if (vl >= n)
                    vl = n - 1;
                memcpy(buf, p + kl + 1, vl);
                buf[vl] = 0;
            }
            return 1;
        }
        p = eol ? eol + 1 : p + len;
    }
    return 0;
}

static void *dup_bytes(const void *p, size_t n, int *ok)
{
    if (!p)
        return NULL;
    void *d = irb_malloc(n ? n : 1);
    if (!d) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, p, n);
    return d;
}

static irb_status graph_copy(const irb_graph *src, irb_graph *dst, int share, irb_error *err)
{
    int ok = 1;
    memset(dst, 0, sizeof *dst);
    *dst = *src;
    dst->values = irb_calloc((size_t)(src->n_values ? src->n_values : 1), sizeof(irb_value));
    dst->nodes = irb_calloc((size_t)(src->n_nodes ? src->n_nodes : 1), sizeof(irb_node));
    dst->n_values = dst->n_nodes = 0;
    dst->cap_values = src->n_values ? src->n_values : 1;
    dst->cap_nodes = src->n_nodes ? src->n_nodes : 1;
    dst->metadata = dst->producer = NULL;
    dst->inputs = dst->outputs = NULL;
    dst->slab = NULL; /* src's: its constants are copied (or, shared, borrowed from src) */
    if (!dst->values || !dst->nodes)
        goto nomem;
    for (int i = 0; i < src->n_values; i++, dst->n_values++) {
        irb_value *v = &dst->values[i];
        *v = src->values[i];
        v->name = irb_strdup(src->values[i].name);
        v->borrowed = share && v->data;
        if (!v->borrowed)
            v->data = dup_bytes(src->values[i].data, src->values[i].nbytes, &ok);
        if (!v->name || !ok)
            goto nomem;
    }
    for (int i = 0; i < src->n_nodes; i++, dst->n_nodes++) {
        dst->nodes[i] = src->nodes[i];
        dst->nodes[i].name = irb_strdup(src->nodes[i].name);
        if (!dst->nodes[i].name)
            goto nomem;
    }
    dst->metadata = src->metadata ? irb_strdup(src->metadata) : NULL;
    dst->producer = src->producer ? irb_strdup(src->producer) : NULL;
    dst->inputs = dup_bytes(src->inputs, (size_t)src->n_inputs * sizeof(int), &ok);
    dst->outputs = dup_bytes(src->outputs, (size_t)src->n_outputs * sizeof(int), &ok);
    if (!ok || (src->metadata && !dst->metadata) || (src->producer && !dst->producer))
        goto nomem;
    return IRB_OK;
nomem:
    irb_graph_release(dst);
    return irb_fail(err, IRB_NOMEM, "out of memory copying a network graph");
}

irb_status irb_graph_copy(const irb_graph *src, irb_graph *dst, irb_error *err) { return graph_copy(src, dst, 0, err); }

irb_status irb_graph_share(const irb_graph *src, irb_graph *dst, irb_error *err)
{
    return graph_copy(src, dst, 1, err);
}

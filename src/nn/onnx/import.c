/* ONNX ModelProto -> irb_graph: values, constants, nodes (op names -> irb_op), attributes,
 * metadata, and the structural checks (dangling inputs, duplicate outputs, cycles). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/onnx/onnx_internal.h"

/* A model's tensor bytes, which protobuf-c copies out of the file one allocation each, go into
 * one arena on transparent huge pages (a page fault per 2 MiB, not per 4 KiB: docs/nn.md); the
 * graph keeps the arena (irb_graph.slab) and its constants point into it. The arena holds at
 * most the file's size; anything else (and any small allocation) is an ordinary one. */
typedef struct pb_arena {
    char *base;
    size_t used, cap;
    int kept; /* a constant of the graph points into it */
} pb_arena;

enum { PB_ARENA_MIN = 4096, PB_ARENA_ALIGN = 64 };

static void *pb_alloc(void *d, size_t n)
{
    pb_arena *a = d;
    size_t need = (n + PB_ARENA_ALIGN - 1) / PB_ARENA_ALIGN * PB_ARENA_ALIGN;
    if (a && a->base && n >= PB_ARENA_MIN && need <= a->cap - a->used) {
        void *p = a->base + a->used;
        a->used += need;
        return p;
    }
    return irb_malloc_large(1, n ? n : 1); /* a large tensor's bytes on huge pages (alloc.h) */
}

static int in_arena(const pb_arena *a, const void *p)
{
    return a && a->base && (const char *)p >= a->base && (const char *)p < a->base + a->cap;
}

static void pb_free(void *d, void *p)
{
    if (!in_arena(d, p)) /* the arena is freed as a whole, by whoever keeps it */
        irb_free(p);
}

ProtobufCAllocator irb_onnx_allocator(void)
{
    ProtobufCAllocator a = {pb_alloc, pb_free, NULL};
    return a;
}

#define S(x) ((x) ? (x) : "")

typedef struct imp {
    const char *where;
    size_t max_bytes;
    irb_graph *g;
    irb_error *err;
    int opset;
    pb_arena *arena; /* where protobuf-c put the tensors' bytes (may be NULL) */
} imp;

static irb_status nomem(imp *m) { return irb_fail(m->err, IRB_NOMEM, "%s: out of memory while importing", m->where); }

/* A new constant value from a decoded tensor (takes t's data). */
/* A tensor not taken into the graph: its bytes freed unless they are the arena's. */
static void drop_tensor(imp *m, irb_tensor *t)
{
    if (in_arena(m->arena, t->data))
        memset(t, 0, sizeof *t);
    else
        irb_tensor_release(t);
}

static irb_status add_constant(imp *m, const char *name, irb_tensor *t)
{
    if (irb_graph_find_value(m->g, name) >= 0) {
        drop_tensor(m, t);
        return irb_fail(m->err, IRB_CORRUPT, "%s: tensor '%s' is defined twice", m->where, name);
    }
    int v = irb_graph_add_value(m->g, name);
    if (v < 0) {
        drop_tensor(m, t);
        return nomem(m);
    }
    irb_value *val = &m->g->values[v];
    val->dtype = t->dtype;
    val->rank = t->rank;
    memcpy(val->dims, t->dims, sizeof val->dims);
    val->data = t->data;
    val->nbytes = t->nbytes;
    val->borrowed = in_arena(m->arena, t->data); /* the graph keeps the arena (irb_onnx_parse) */
    if (val->borrowed)
        m->arena->kept = 1;
    return IRB_OK;
}

/* Constant node: value (tensor), value_float(s), value_int(s). */
static irb_status constant_node(imp *m, const Onnx__NodeProto *np)
{
    if (np->n_output != 1 || np->n_attribute != 1)
        return irb_fail(m->err, IRB_CORRUPT, "%s: Constant node '%s' needs one output and one attribute", m->where,
                        S(np->name));
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = S(a->name);
    irb_tensor t = {0};
    char where[512];
    snprintf(where, sizeof where, "%s: Constant node '%s'", m->where, S(np->name));
    if (strcmp(an, "value") == 0 && a->t) {
        IRB_TRY(irb_onnx_tensor(a->t, where, m->max_bytes, &t, m->err));
    } else if (strcmp(an, "value_float") == 0 || strcmp(an, "value_int") == 0 || strcmp(an, "value_floats") == 0 ||
               strcmp(an, "value_ints") == 0) {
        int is_f = an[6] == 'f', list = an[strlen(an) - 1] == 's';
        size_t count = list ? (is_f ? a->n_floats : a->n_ints) : 1;
        t.dtype = is_f ? IRB_DT_FLOAT : IRB_DT_INT64;
        t.rank = list;
        t.dims[0] = (int64_t)count;
        t.nbytes = count * irb_dtype_size(t.dtype);
        if (!(t.data = irb_malloc(t.nbytes ? t.nbytes : 1)))
            return nomem(m);
        if (list && t.nbytes)
            memcpy(t.data, is_f ? (const void *)a->floats : (const void *)a->ints, t.nbytes);
        else if (!list && is_f)
            *(float *)t.data = a->f;
        else if (!list)
            *(int64_t *)t.data = a->i;
    } else {
        return irb_fail(m->err, IRB_UNSUPPORTED, "%s: attribute '%s' is not supported", where, an);
    }
    return add_constant(m, S(np->output[0]), &t);
}

static irb_status graph_input(imp *m, const Onnx__ValueInfoProto *vi)
{
    const char *name = S(vi->name);
    if (irb_graph_find_value(m->g, name) >= 0)
        return IRB_OK; /* an initializer also listed as input (IR < 4): a constant */
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return irb_fail(m->err, IRB_UNSUPPORTED, "%s: graph input '%s' is not a tensor", m->where, name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int dt = tt->has_elem_type ? tt->elem_type : 0;
    if (dt != IRB_DT_FLOAT && dt != IRB_DT_INT64 && dt != IRB_DT_INT32)
        return irb_fail(m->err, IRB_UNSUPPORTED,
                        "%s: graph input '%s' has ONNX data type %d (only float, "
                        "int64, int32 are supported)",
                        m->where, name, dt);
    int v = irb_graph_add_value(m->g, name);
    if (v < 0)
        return nomem(m);
    irb_value *val = &m->g->values[v];
    val->dtype = (irb_dtype)dt;
    if (tt->shape) {
        if (tt->shape->n_dim > IRB_MAX_RANK)
            return irb_fail(m->err, IRB_UNSUPPORTED, "%s: graph input '%s' has rank %zu > %d", m->where, name,
                            tt->shape->n_dim, IRB_MAX_RANK);
        val->rank = (int)tt->shape->n_dim;
        for (int i = 0; i < val->rank; i++) {
            const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
            int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            if (known && d->dim_value < 0)
                return irb_fail(m->err, IRB_CORRUPT, "%s: graph input '%s' has dim %d = %lld", m->where, name, i,
                                (long long)d->dim_value);
            val->dims[i] = known ? d->dim_value : -1;
        }
    } else {
        val->rank = -1; /* unknown rank */
    }
    int *p = irb_realloc_array(m->g->inputs, (size_t)m->g->n_inputs + 1, sizeof(int));
    if (!p)
        return nomem(m);
    m->g->inputs = p;
    p[m->g->n_inputs++] = v;
    return IRB_OK;
}

/* Creates the node and its output values; inputs are resolved once all outputs exist. */
static irb_status add_node(imp *m, const Onnx__NodeProto *np)
{
    const char *type = S(np->op_type), *name = S(np->name), *dom = S(np->domain);
    if (dom[0] && strcmp(dom, "ai.onnx") != 0)
        return irb_fail(m->err, IRB_UNSUPPORTED,
                        "%s: node '%s' uses op %s from domain '%s' (only the "
                        "default ONNX domain is supported)",
                        m->where, name, type, dom);
    irb_op op = irb_op_from_name(type);
    if (op == IRB_OP_COUNT)
        return irb_fail(m->err, IRB_UNSUPPORTED, "%s: node '%s' uses op %s, which irbis does not support", m->where,
                        name, type);
    if (op == IRB_OP_CONSTANT)
        return constant_node(m, np);
    if (np->n_input > IRB_MAX_NODE_INPUTS || np->n_output < 1 || np->n_output > 2)
        return irb_fail(m->err, np->n_output < 1 ? IRB_CORRUPT : IRB_UNSUPPORTED,
                        "%s: %s node '%s' has %zu inputs and %zu outputs", m->where, type, name, np->n_input,
                        np->n_output);
    int k = irb_graph_add_node(m->g, op, name);
    if (k < 0)
        return nomem(m);
    irb_node *n = &m->g->nodes[k];
    n->n_in = (int)np->n_input;
    n->n_out = (int)np->n_output;
    IRB_TRY(irb_onnx_attrs(np, m->opset, n, m->where, m->err));
    for (size_t i = 0; i < np->n_output; i++) {
        const char *on = S(np->output[i]);
        if (!on[0] && i > 0) { /* an omitted optional output */
            n->n_out = (int)i;
            break;
        }
        if (irb_graph_find_value(m->g, on) >= 0)
            return irb_fail(m->err, IRB_CORRUPT, "%s: %s node '%s' output '%s' is already defined", m->where, type,
                            name, on);
        int v = irb_graph_add_value(m->g, on);
        if (v < 0)
            return nomem(m);
        m->g->values[v].producer = k;
        m->g->nodes[k].out[i] = v;
    }
    return IRB_OK;
}

static irb_status resolve_inputs(imp *m, const Onnx__GraphProto *gp)
{
    for (int k = 0, j = 0; k < m->g->n_nodes; j++) {
        const Onnx__NodeProto *np = gp->node[j];
        if (irb_op_from_name(S(np->op_type)) == IRB_OP_CONSTANT)
            continue;
        irb_node *n = &m->g->nodes[k++];
        for (int i = 0; i < n->n_in; i++) {
            const char *in = S(np->input[i]);
            n->in[i] = in[0] ? irb_graph_find_value(m->g, in) : -1;
            if (in[0] && n->in[i] < 0)
                return irb_fail(m->err, IRB_CORRUPT,
                                "%s: %s node '%s' input '%s' is not produced by any node, "
                                "initializer or graph input",
                                m->where, irb_op_name(n->op), n->name, in);
        }
    }
    return IRB_OK;
}

/* Kahn's algorithm: nodes may come in any order in the file; a cycle is an error. */
static irb_status topo_sort(imp *m)
{
    irb_graph *g = m->g;
    int nn = g->n_nodes;
    irb_status s = IRB_OK;
    int *deg = irb_calloc((size_t)nn + 1, sizeof(int)), *order = irb_calloc((size_t)nn + 1, sizeof(int));
    irb_node *sorted = irb_calloc((size_t)nn + 1, sizeof(irb_node));
    int *newidx = irb_calloc((size_t)nn + 1, sizeof(int));
    if (!deg || !order || !sorted || !newidx) {
        s = nomem(m);
        goto cleanup;
    }
    for (int k = 0; k < nn; k++)
        for (int i = 0; i < g->nodes[k].n_in; i++)
            if (g->nodes[k].in[i] >= 0 && g->values[g->nodes[k].in[i]].producer >= 0)
                deg[k]++;
    int head = 0, tail = 0;
    for (int k = 0; k < nn; k++)
        if (!deg[k])
            order[tail++] = k;
    while (head < tail) {
        int k = order[head++];
        for (int o = 0; o < g->nodes[k].n_out; o++) {
            int v = g->nodes[k].out[o];
            for (int c = 0; c < nn; c++)
                for (int i = 0; i < g->nodes[c].n_in; i++)
                    if (g->nodes[c].in[i] == v && --deg[c] == 0)
                        order[tail++] = c;
        }
    }
    if (tail < nn) {
        int bad = 0;
        while (deg[bad] == 0)
            bad++;
        s = irb_fail(m->err, IRB_CORRUPT, "%s: the graph has a cycle through %s node '%s'", m->where,
                     irb_op_name(g->nodes[bad].op), g->nodes[bad].name);
        goto cleanup;
    }
    for (int i = 0; i < nn; i++) {
        sorted[i] = g->nodes[order[i]];
        newidx[order[i]] = i;
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].producer >= 0)
            g->values[v].producer = newidx[g->values[v].producer];
    irb_free(g->nodes);
    g->nodes = sorted;
    g->cap_nodes = nn + 1;
    sorted = NULL;
cleanup:
    irb_free(deg);
    irb_free(order);
    irb_free(sorted);
    irb_free(newidx);
    return s;
}

static irb_status metadata(imp *m, const Onnx__ModelProto *mp)
{
    size_t len = 1;
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        len += strlen(S(mp->metadata_props[i]->key)) + strlen(S(mp->metadata_props[i]->value)) + 2;
    if (!mp->n_metadata_props)
        return IRB_OK;
    char *p = irb_malloc(len);
    if (!p)
        return nomem(m);
    m->g->metadata = p;
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        /* newlines inside keys or values would break the line format: they become spaces */
        for (const char *s = S(mp->metadata_props[i]->key); *s; s++)
            *p++ = (*s == '\n' || *s == '=') ? ' ' : *s;
        *p++ = '=';
        for (const char *s = S(mp->metadata_props[i]->value); *s; s++)
            *p++ = *s == '\n' ? ' ' : *s;
        *p++ = '\n';
    }
    *p = 0;
    return IRB_OK;
}

static irb_status import_graph(imp *m, const Onnx__ModelProto *mp)
{
    const Onnx__GraphProto *gp = mp->graph;
    irb_graph *g = m->g;
    if (!gp)
        return irb_fail(m->err, IRB_CORRUPT, "%s: the model has no graph", m->where);
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *d = S(mp->opset_import[i]->domain);
        if (!d[0] || strcmp(d, "ai.onnx") == 0)
            m->opset = (int)mp->opset_import[i]->version;
    }
    if (!m->opset)
        return irb_fail(m->err, IRB_CORRUPT, "%s: the model imports no opset of the default ONNX domain", m->where);
    g->opset = m->opset;
    if (mp->producer_name && !(g->producer = irb_strdup(mp->producer_name)))
        return nomem(m);
    IRB_TRY(metadata(m, mp));
    for (size_t i = 0; i < gp->n_initializer; i++) {
        irb_tensor t;
        IRB_TRY(irb_onnx_tensor(gp->initializer[i], m->where, m->max_bytes, &t, m->err));
        IRB_TRY(add_constant(m, S(gp->initializer[i]->name), &t));
    }
    if (gp->n_sparse_initializer)
        return irb_fail(m->err, IRB_UNSUPPORTED, "%s: sparse initializers are not supported", m->where);
    for (size_t i = 0; i < gp->n_input; i++)
        IRB_TRY(graph_input(m, gp->input[i]));
    for (size_t i = 0; i < gp->n_node; i++)
        IRB_TRY(add_node(m, gp->node[i]));
    IRB_TRY(resolve_inputs(m, gp));
    IRB_TRY(topo_sort(m));
    if (!gp->n_output)
        return irb_fail(m->err, IRB_CORRUPT, "%s: the graph has no output", m->where);
    if (!(g->outputs = irb_calloc(gp->n_output, sizeof(int))))
        return nomem(m);
    for (size_t i = 0; i < gp->n_output; i++) {
        int v = irb_graph_find_value(g, S(gp->output[i]->name));
        if (v < 0)
            return irb_fail(m->err, IRB_CORRUPT, "%s: graph output '%s' is not produced by any node", m->where,
                            S(gp->output[i]->name));
        g->outputs[g->n_outputs++] = v;
    }
    g->output = g->outputs[g->n_outputs - 1];
    g->input = g->n_inputs ? g->inputs[0] : -1;
    return IRB_OK;
}

irb_status irb_onnx_parse(const void *buf, size_t n, const char *name, size_t max_bytes, irb_graph *g, irb_error *err)
{
    memset(g, 0, sizeof *g);
    pb_arena arena = {irb_malloc_large(1, n ? n : 1), 0, n, 0}; /* without it, ordinary allocations */
    ProtobufCAllocator al = irb_onnx_allocator();
    al.allocator_data = &arena;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&al, n, buf);
    if (!mp)
        irb_free(arena.base);
    if (!mp)
        return irb_fail(err, IRB_CORRUPT,
                        "%s: not a valid ONNX model (protobuf decoding failed: truncated "
                        "or not ONNX)",
                        name);
    imp m = {name, max_bytes ? max_bytes : IRB_ONNX_DEFAULT_MAX_TENSOR_BYTES, g, err, 0, &arena};
    g->input = g->output = -1;
    irb_status s = import_graph(&m, mp);
    onnx__model_proto__free_unpacked(mp, &al);
    if (s != IRB_OK)
        irb_graph_release(g); /* its constants in the arena are borrowed: not freed one by one */
    if (s == IRB_OK && arena.kept)
        g->slab = arena.base; /* the constants in it borrow it (add_constant) */
    else
        irb_free(arena.base);
    return s;
}

irb_status irb_onnx_read_file(const char *path, size_t max_bytes, void **buf, size_t *n, irb_error *err)
{
    /* the file holds every tensor, so no file above a few times the tensor cap is plausible */
    size_t cap = max_bytes ? max_bytes : IRB_ONNX_DEFAULT_MAX_TENSOR_BYTES;
    return irb_read_file(path, cap > ((size_t)1 << 32) ? cap : ((size_t)4 << 30), buf, n, err);
}

irb_status irb_onnx_load(const char *path, size_t max_bytes, irb_graph *g, irb_error *err)
{
    void *buf;
    size_t n;
    memset(g, 0, sizeof *g);
    IRB_TRY(irb_onnx_read_file(path, max_bytes, &buf, &n, err));
    irb_status s = irb_onnx_parse(buf, n, path, max_bytes, g, err);
    irb_free(buf);
    return s;
}

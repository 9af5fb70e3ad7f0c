/* The cut: which value the network is evaluated to, and global average pooling after it. */
#include <stdio.h>
#include <string.h>

#include "nn/passes/passes.h"

int irb_op_is_shape_only(irb_op op)
{
    return op == IRB_OP_FLATTEN || op == IRB_OP_RESHAPE || op == IRB_OP_IDENTITY || op == IRB_OP_SQUEEZE ||
           op == IRB_OP_UNSQUEEZE || op == IRB_OP_DROPOUT;
}

/* The live producer of value v, or -1. */
static int producer(const irb_graph *g, int v)
{
    int p = v >= 0 ? g->values[v].producer : -1;
    return p >= 0 && g->nodes[p].n_out ? p : -1;
}

int irb_cut_value(const irb_graph *g, int cut)
{
    int v = g->output;
    for (int c = 0; c < cut; c++) {
        int p = producer(g, v);
        while (p >= 0 && irb_op_is_shape_only(g->nodes[p].op)) {
            v = g->nodes[p].in[0];
            p = producer(g, v);
        }
        if (p < 0 || g->nodes[p].n_in < 1 || g->nodes[p].in[0] < 0)
            return -1;
        v = g->nodes[p].in[0];
        if (producer(g, v) < 0) /* reached the graph input or a constant */
            return -1;
    }
    return v;
}

irb_status irb_pass_cut(irb_graph *g, const char *layer, int cut, irb_error *err)
{
    if (layer && layer[0]) {
        int v = irb_graph_find_value(g, layer);
        if (v < 0)
            return irb_fail(err, IRB_NOT_FOUND, "layer '%s': no tensor of that name in the model", layer);
        if (g->values[v].data || g->values[v].producer < 0)
            return irb_fail(err, IRB_INVALID_ARG, "layer '%s' is a constant or the graph input, not a layer", layer);
        g->output = v;
        return IRB_OK;
    }
    if (cut < 0)
        return irb_fail(err, IRB_INVALID_ARG, "cut %d: must be >= 0", cut);
    int v = irb_cut_value(g, cut);
    if (v < 0)
        return irb_fail(err, IRB_INVALID_ARG, "cut %d: the network has fewer compute layers than that", cut);
    g->output = v;
    return IRB_OK;
}

irb_status irb_pass_pool_avg(irb_graph *g, irb_error *err)
{
    const irb_value *y = &g->values[g->output];
    if (y->rank != 4)
        return IRB_OK;
    char name[512];
    snprintf(name, sizeof name, "%s/irbis_gap", y->name);
    int vp = irb_graph_add_value(g, name);
    snprintf(name, sizeof name, "%s/irbis_flat", g->values[g->output].name);
    int vf = vp >= 0 ? irb_graph_add_value(g, name) : -1;
    int kp = vf >= 0 ? irb_graph_add_node(g, IRB_OP_GLOBALAVGPOOL, "irbis_pool_avg") : -1;
    int kf = kp >= 0 ? irb_graph_add_node(g, IRB_OP_FLATTEN, "irbis_pool_flatten") : -1;
    if (kf < 0)
        return irb_fail(err, IRB_NOMEM, "out of memory adding the pooling node");
    const irb_value *x = &g->values[g->output];
    irb_value *p = &g->values[vp], *f = &g->values[vf];
    p->dtype = f->dtype = IRB_DT_FLOAT;
    p->rank = 4;
    p->dims[0] = x->dims[0], p->dims[1] = x->dims[1], p->dims[2] = p->dims[3] = 1;
    f->rank = 2;
    f->dims[0] = x->dims[0], f->dims[1] = x->dims[1];
    p->producer = kp;
    f->producer = kf;
    irb_node *np = &g->nodes[kp], *nf = &g->nodes[kf];
    np->n_in = np->n_out = nf->n_in = nf->n_out = 1;
    np->in[0] = g->output;
    np->out[0] = vp;
    nf->in[0] = vp;
    nf->out[0] = vf;
    nf->a.axis = 1;
    g->output = vf;
    return IRB_OK;
}

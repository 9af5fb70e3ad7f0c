/* Identity/Dropout removal and Reshape -> Flatten (see passes.h). */
#include "nn/passes/passes.h"

static void replace_uses(irb_graph *g, int from, int to)
{
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_in; i++)
            if (g->nodes[k].in[i] == from)
                g->nodes[k].in[i] = to;
    if (g->output == from)
        g->output = to;
}

irb_status irb_pass_simplify(irb_graph *g, irb_error *err)
{
    (void)err;
    for (int k = 0; k < g->n_nodes; k++) {
        irb_node *n = &g->nodes[k];
        if (!n->n_out)
            continue;
        if ((n->op == IRB_OP_IDENTITY || n->op == IRB_OP_DROPOUT) && n->n_out == 1 && n->in[0] >= 0) {
            replace_uses(g, n->out[0], n->in[0]);
            g->values[n->out[0]].producer = -1;
            n->n_out = 0;
        } else if (n->op == IRB_OP_RESHAPE && n->in[0] >= 0) {
            const irb_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
            if (y->rank == 2 && x->rank >= 1 && x->dims[0] == y->dims[0]) {
                n->op = IRB_OP_FLATTEN;
                n->a.axis = 1;
                n->n_in = 1;
            }
        }
    }
    return IRB_OK;
}

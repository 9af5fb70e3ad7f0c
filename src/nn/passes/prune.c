/* Dead-node removal (see passes.h). */
#include <string.h>

#include "core/alloc.h"
#include "nn/passes/passes.h"

irb_status irb_pass_prune(irb_graph *g, irb_error *err)
{
    char *need = irb_calloc((size_t)g->n_values + 1, 1);
    int *remap = irb_calloc((size_t)g->n_nodes + 1, sizeof(int));
    if (!need || !remap) {
        irb_free(need);
        irb_free(remap);
        return irb_fail(err, IRB_NOMEM, "out of memory pruning the graph");
    }
    if (g->output >= 0)
        need[g->output] = 1;
    if (g->input >= 0)
        need[g->input] = 1;
    int kept = 0;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        irb_node *n = &g->nodes[k];
        int live = 0;
        for (int o = 0; o < n->n_out; o++)
            live |= need[n->out[o]] && g->values[n->out[o]].producer == k;
        remap[k] = live ? 1 : -1;
        if (live)
            for (int i = 0; i < n->n_in; i++)
                if (n->in[i] >= 0)
                    need[n->in[i]] = 1;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        if (remap[k] < 0) {
            irb_free(g->nodes[k].name);
            continue;
        }
        remap[k] = kept;
        g->nodes[kept++] = g->nodes[k];
    }
    for (int v = 0; v < g->n_values; v++) {
        irb_value *val = &g->values[v];
        if (val->producer >= 0)
            val->producer = remap[val->producer];
        if (!need[v] && val->data) { /* an unused constant: drop its bytes */
            if (!val->borrowed)
                irb_free(val->data);
            val->borrowed = 0;
            val->data = NULL;
            val->nbytes = 0;
        }
    }
    g->n_nodes = kept;
    irb_free(need);
    irb_free(remap);
    return IRB_OK;
}

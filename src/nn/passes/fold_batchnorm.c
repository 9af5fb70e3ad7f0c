/* BatchNormalization folded into the preceding Conv (see passes.h):
 *   s = scale / sqrt(var + eps);  W'[m] = W[m] * s[m];  b'[m] = (b[m] - mean[m]) * s[m] + B[m]. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/passes/passes.h"

static int consumers(const irb_graph *g, int v)
{
    int c = g->output == v;
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_in && g->nodes[k].n_out; i++)
            c += g->nodes[k].in[i] == v;
    return c;
}

static const float *cf(const irb_graph *g, int v, int64_t count)
{
    if (v < 0 || !g->values[v].data || g->values[v].dtype != IRB_DT_FLOAT ||
        g->values[v].nbytes != (size_t)count * sizeof(float))
        return NULL;
    return g->values[v].data;
}

static int new_const(irb_graph *g, const char *base, const char *suffix, const irb_value *shape_of, float *data,
                     size_t nbytes)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    int v = irb_graph_add_value(g, name);
    if (v < 0)
        return -1;
    irb_value *val = &g->values[v];
    val->dtype = IRB_DT_FLOAT;
    val->rank = shape_of->rank;
    memcpy(val->dims, shape_of->dims, sizeof val->dims);
    val->data = data;
    val->nbytes = nbytes;
    return v;
}

static irb_status fold_one(irb_graph *g, int ci, int bi, irb_error *err)
{
    irb_node *bn = &g->nodes[bi];
    int64_t m = g->values[g->nodes[ci].in[1]].dims[0];
    const float *w = cf(g, g->nodes[ci].in[1], irb_numel(4, g->values[g->nodes[ci].in[1]].dims));
    const float *b = g->nodes[ci].n_in > 2 ? cf(g, g->nodes[ci].in[2], m) : NULL;
    const float *sc = cf(g, bn->in[1], m), *beta = cf(g, bn->in[2], m), *mean = cf(g, bn->in[3], m),
                *var = cf(g, bn->in[4], m);
    if (!w || !sc || !beta || !mean || !var || (g->nodes[ci].n_in > 2 && g->nodes[ci].in[2] >= 0 && !b))
        return IRB_OK; /* not all constant: leave the BatchNormalization as it is */
    size_t wb = g->values[g->nodes[ci].in[1]].nbytes;
    int64_t per = (int64_t)(wb / sizeof(float)) / m;
    float *w2 = irb_malloc(wb), *b2 = irb_malloc((size_t)m * sizeof(float));
    if (!w2 || !b2) {
        irb_free(w2);
        irb_free(b2);
        return irb_fail(err, IRB_NOMEM, "out of memory folding BatchNormalization");
    }
    for (int64_t o = 0; o < m; o++) {
        float s = sc[o] / sqrtf(var[o] + bn->a.epsilon);
        for (int64_t i = 0; i < per; i++)
            w2[o * per + i] = w[o * per + i] * s;
        b2[o] = ((b ? b[o] : 0.0f) - mean[o]) * s + beta[o];
    }
    const irb_value wshape = g->values[g->nodes[ci].in[1]];
    irb_value bshape = {0};
    bshape.rank = 1;
    bshape.dims[0] = m;
    int vw = new_const(g, g->nodes[ci].name, "/bn_folded_W", &wshape, w2, wb);
    if (vw < 0) {
        irb_free(w2);
        irb_free(b2);
        return irb_fail(err, IRB_NOMEM, "out of memory folding BatchNormalization");
    }
    int vb = new_const(g, g->nodes[ci].name, "/bn_folded_B", &bshape, b2, (size_t)m * sizeof(float));
    if (vb < 0) {
        irb_free(b2);
        return irb_fail(err, IRB_NOMEM, "out of memory folding BatchNormalization");
    }
    irb_node *conv = &g->nodes[ci];
    bn = &g->nodes[bi];
    conv->in[1] = vw;
    conv->in[2] = vb;
    conv->n_in = 3;
    g->values[conv->out[0]].producer = -1;
    conv->out[0] = bn->out[0];
    g->values[bn->out[0]].producer = ci;
    bn->n_out = 0;
    return IRB_OK;
}

irb_status irb_pass_fold_batchnorm(irb_graph *g, irb_error *err)
{
    for (int k = 0; k < g->n_nodes; k++) {
        irb_node *bn = &g->nodes[k];
        if (bn->op != IRB_OP_BATCHNORM || !bn->n_out || bn->n_in < 5 || bn->in[0] < 0)
            continue;
        int x = bn->in[0], c = g->values[x].producer;
        if (c < 0 || g->nodes[c].op != IRB_OP_CONV || g->values[x].rank != 4 || consumers(g, x) != 1)
            continue;
        IRB_TRY(fold_one(g, c, k, err));
    }
    return IRB_OK;
}

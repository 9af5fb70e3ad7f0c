/* Public net API: passes on a copy of the model's graph, engine choice, compile, run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "nn/backend.h"
#include "nn/calib.h"
#include "nn/model_internal.h"
#include "nn/passes/passes.h"

struct irb_net_t {
    const irb_backend *be;
    void *plan;
    int c, h, w, max_batch;
    size_t out_size;
    char *out_name;
    irb_error err;
    irb_calib_t *record; /* irb_net_opts.record, borrowed */
    int *entry;          /* recording: per graph value, its table entry or -1 */
    int channels_last;   /* irb_net_opts.channels_last */
    int oc, ohw;         /* a rank-4 output's C and H * W (0: another rank) */
    float *tin, *tout;   /* channels last on an engine without it: the NCHW tensors it runs */
};

/* dst[n][c][p] = src[n][p][c] (to_nchw) or dst[n][p][c] = src[n][c][p], p < hw. */
static void transpose_images(const float *src, float *dst, int batch, size_t c, size_t hw, int to_nchw)
{
    for (size_t n = 0; n < (size_t)batch; n++) {
        const float *x = src + n * c * hw;
        float *y = dst + n * c * hw;
        for (size_t k = 0; k < c; k++)
            for (size_t p = 0; p < hw; p++) {
                if (to_nchw)
                    y[k * hw + p] = x[p * c + k];
                else
                    y[p * c + k] = x[k * hw + p];
            }
    }
}

/* The pass pipeline (docs/nn.md). */
/* *cut_name gets the name of the tensor the net was cut at (before pooling and simplification
 * rename the output), the name a user can pass back as a layer. */
static irb_status optimise(irb_graph *g, const irb_net_opts *o, char **cut_name, irb_error *err)
{
    IRB_TRY(irb_pass_cut(g, o->layer, o->cut, err));
    if (!(*cut_name = irb_strdup(g->values[g->output].name)))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    IRB_TRY(irb_pass_prune(g, err));
    irb_value *x = &g->values[g->input];
    int native = x->dims[2] == o->input_size && x->dims[3] == o->input_size;
    if (o->input_size > 0 && !native)
        x->dims[2] = x->dims[3] = o->input_size; /* every other shape follows from the input's */
    irb_status s = irb_pass_infer_fold(g, err);
    if (s != IRB_OK && o->input_size > 0 && !native) {
        char msg[IRB_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return irb_fail(err, s, "the net cannot run at %dx%d inputs: %s", o->input_size, o->input_size, msg);
    }
    IRB_TRY(s);
    IRB_TRY(irb_pass_simplify(g, err));
    IRB_TRY(irb_pass_fold_batchnorm(g, err));
    if (o->pool == IRB_POOL_AVG)
        IRB_TRY(irb_pass_pool_avg(g, err));
    return irb_pass_prune(g, err);
}

static int unsupported_node(const irb_backend *be, const irb_graph *g)
{
    for (int k = 0; k < g->n_nodes; k++)
        if (!be->supports(g, k))
            return k;
    return -1;
}

static irb_status choose_engine(irb_engine e, const irb_graph *g, const irb_backend **out, irb_error *err)
{
    const char *name = e == IRB_ENGINE_REFERENCE ? "reference" : e == IRB_ENGINE_ONEDNN ? "onednn" : "auto";
    const irb_backend *be = irb_backend_find(name);
    if (!be)
        return irb_fail(err, IRB_UNSUPPORTED, "the %s engine is not built into this irbis", name);
    int bad = unsupported_node(be, g);
    if (bad >= 0 && e == IRB_ENGINE_AUTO) {
        be = &irb_backend_reference; /* fallback: the reference runs every op */
        bad = unsupported_node(be, g);
    }
    if (bad >= 0)
        return irb_fail(err, IRB_UNSUPPORTED, "the %s engine cannot run %s node '%s'", be->name,
                        irb_op_name(g->nodes[bad].op), g->nodes[bad].name);
    *out = be;
    return IRB_OK;
}

/* ---- int8: calibration ranges in, recording out (docs/int8.md) */

static void observe(void *ctx, int value, const float *data, size_t n)
{
    irb_net_t *net = ctx;
    if (net->entry[value] >= 0)
        irb_calib_observe(net->record, net->entry[value], data, n);
}

static irb_status setup_record(irb_net_t *net, const irb_graph *g, irb_exec_opts *eo, irb_error *err)
{
    if (!(net->entry = irb_malloc_array((size_t)g->n_values + 1, sizeof *net->entry)))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    for (int v = 0; v < g->n_values; v++) {
        net->entry[v] = -1;
        if (g->values[v].data || g->values[v].dtype != IRB_DT_FLOAT || g->values[v].producer < 0)
            continue;
        if ((net->entry[v] = irb_calib_entry(net->record, g->values[v].name)) == -2)
            return irb_fail(err, IRB_NOMEM, "out of memory");
    }
    eo->observe = observe;
    eo->observe_ctx = net;
    return IRB_OK;
}

static irb_status check_precision(const irb_net_opts *o, irb_error *err)
{
    if (o->record && (o->precision != IRB_PRECISION_FP32 || o->engine == IRB_ENGINE_ONEDNN))
        return irb_fail(err, IRB_INVALID_ARG, "a recording (calibration) net runs fp32 on the reference engine");
    if (o->precision != IRB_PRECISION_INT8)
        return IRB_OK;
    if (!o->calib)
        return irb_fail(err, IRB_INVALID_ARG, "int8 needs a calibration table (irb_net_opts.calib)");
    if (o->engine == IRB_ENGINE_REFERENCE)
        return irb_fail(err, IRB_UNSUPPORTED, "int8 runs on the oneDNN engine only");
    return IRB_OK;
}

static irb_status build(irb_net_t *net, const irb_model_t *m, const irb_net_opts *o, irb_error *err)
{
    IRB_TRY(check_precision(o, err));
    irb_graph g; /* the model's graph, its weights borrowed: the engines copy (pack) what they keep */
    IRB_TRY(irb_graph_share(&m->g, &g, err));
    float *range = NULL;
    irb_status s = optimise(&g, o, &net->out_name, err);
    irb_engine eng = o->record                            ? IRB_ENGINE_REFERENCE
                     : o->precision == IRB_PRECISION_INT8 ? IRB_ENGINE_ONEDNN
                                                          : o->engine;
    if (s == IRB_OK)
        s = choose_engine(eng, &g, &net->be, err);
    if (s == IRB_OK && o->precision == IRB_PRECISION_INT8)
        s = irb_calib_value_ranges(&g, o->calib, &range, err);
    if (s == IRB_OK) {
        const irb_value *x = &g.values[g.input], *y = &g.values[g.output];
        net->c = (int)x->dims[1], net->h = (int)x->dims[2], net->w = (int)x->dims[3];
        net->out_size = (size_t)irb_numel(y->rank - 1, y->dims + 1);
        net->max_batch = o->max_batch > 0 ? o->max_batch : 32;
        net->channels_last = o->channels_last;
        if (y->rank == 4)
            net->oc = (int)y->dims[1], net->ohw = (int)(y->dims[2] * y->dims[3]);
        irb_exec_opts eo = {o->precision == IRB_PRECISION_BF16   ? IRB_EXEC_BF16
                            : o->precision == IRB_PRECISION_INT8 ? IRB_EXEC_INT8
                                                                 : IRB_EXEC_FP32,
                            o->threads > 0 ? o->threads : irb_cpu_count(),
                            net->max_batch,
                            range,
                            NULL,
                            NULL,
                            net->channels_last};
        net->record = o->record;
        if (o->record)
            s = setup_record(net, &g, &eo, err);
        if (s == IRB_OK && net->channels_last && !net->be->channels_last) {
            eo.nhwc = 0; /* this engine runs NCHW: irb_net_run transposes */
            size_t in = (size_t)net->max_batch * (size_t)net->c * (size_t)net->h * (size_t)net->w;
            net->tin = irb_malloc_array(in, sizeof *net->tin);
            net->tout = irb_malloc_array((size_t)net->max_batch * net->out_size, sizeof *net->tout);
            if (!net->tin || !net->tout)
                s = irb_fail(err, IRB_NOMEM, "out of memory for a channels-last net's tensors");
        }
        if (s == IRB_OK)
            s = net->be->compile(&g, &eo, &net->plan, err);
    }
    irb_free(range);
    irb_graph_release(&g);
    return s;
}

irb_status irb_net_new(const irb_model_t *m, const irb_net_opts *opts, irb_net_t **out, irb_error *err)
{
    if (out)
        *out = NULL;
    if (!m || !out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_net_new: model or out is NULL");
    irb_net_opts o = {0};
    if (opts)
        o = *opts;
    if (o.input_size < 0 || o.input_size > IRB_NET_MAX_INPUT_SIZE)
        return irb_fail(err, IRB_INVALID_ARG, "input size %d is outside 1..%d", o.input_size, IRB_NET_MAX_INPUT_SIZE);
    if ((unsigned)o.pool > IRB_POOL_AVG || (unsigned)o.engine > IRB_ENGINE_ONEDNN ||
        (unsigned)o.precision > IRB_PRECISION_INT8) /* an enum from elsewhere: not taken as some default */
        return irb_fail(err, IRB_INVALID_ARG, "net options: pool %d, engine %d or precision %d is not one irbis has",
                        (int)o.pool, (int)o.engine, (int)o.precision);
    if (o.channels_last < 0 || o.channels_last > 1)
        return irb_fail(err, IRB_INVALID_ARG, "net options: channels_last must be 0 or 1 (got %d)", o.channels_last);
    if (o.threads < 0 || o.max_batch < 0)
        return irb_fail(err, IRB_INVALID_ARG, "net options: threads %d and max_batch %d must be >= 0 (0: the default)",
                        o.threads, o.max_batch);
    irb_net_t *net = irb_calloc(1, sizeof *net);
    if (!net)
        return irb_fail(err, IRB_NOMEM, "out of memory creating a net");
    irb_status s = build(net, m, &o, err);
    if (s != IRB_OK) {
        irb_net_free(net);
        return s;
    }
    *out = net;
    return IRB_OK;
}

void irb_net_input_shape(const irb_net_t *net, int *c, int *h, int *w)
{
    if (c)
        *c = net ? net->c : 0;
    if (h)
        *h = net ? net->h : 0;
    if (w)
        *w = net ? net->w : 0;
}

size_t irb_net_output_size(const irb_net_t *net) { return net ? net->out_size : 0; }

const char *irb_net_output_name(const irb_net_t *net) { return net ? net->out_name : NULL; }

const char *irb_precision_name(irb_precision p)
{
    static const char *const names[] = {"fp32", "bf16", "int8"};
    return (unsigned)p < 3 ? names[p] : "?";
}

const char *irb_net_engine(const irb_net_t *net) { return net ? net->be->name : NULL; }

int irb_net_channels_last(const irb_net_t *net) { return net ? net->channels_last : 0; }

irb_status irb_net_run(irb_net_t *net, const float *input, int batch, float *output)
{
    if (!net)
        return IRB_INVALID_ARG;
    irb_error_clear(&net->err);
    if (!input || !output || batch < 1 || batch > net->max_batch)
        return irb_fail(&net->err, IRB_INVALID_ARG, "irb_net_run: batch %d outside 1..%d or NULL buffers", batch,
                        net->max_batch);
    irb_status s;
    if (net->tin) { /* channels last on an engine that runs NCHW */
        transpose_images(input, net->tin, batch, (size_t)net->c, (size_t)net->h * (size_t)net->w, 1);
        s = net->be->run(net->plan, net->tin, batch, net->oc ? net->tout : output, &net->err);
        if (s == IRB_OK && net->oc)
            transpose_images(net->tout, output, batch, (size_t)net->oc, (size_t)net->ohw, 0);
    } else
        s = net->be->run(net->plan, input, batch, output, &net->err);
    if (s == IRB_OK && net->record)
        irb_calib_add_images(net->record, batch);
    return s;
}

const irb_error *irb_net_error(const irb_net_t *net)
{
    static const irb_error none = {IRB_INVALID_ARG, 0, "no net (NULL)"};
    return net ? &net->err : &none;
}

int irb_net_slots(const irb_net_t *net)
{
    return net && !net->record && net->be->slots ? net->be->slots(net->plan) : 0;
}

irb_status irb_net_run_slot(irb_net_t *net, int slot, const float *input, float *output, irb_error *err)
{
    if (!net || !input || !output || slot < 0 || slot >= irb_net_slots(net))
        return irb_fail(err, IRB_INVALID_ARG, "irb_net_run_slot: slot %d of %d, or NULL buffers", slot,
                        irb_net_slots(net));
    return net->be->run_slot(net->plan, slot, input, output, err);
}

void irb_net_free(irb_net_t *net)
{
    if (!net)
        return;
    if (net->plan)
        net->be->destroy(net->plan);
    irb_free(net->out_name);
    irb_free(net->entry);
    irb_free(net->tin);
    irb_free(net->tout);
    irb_free(net);
}

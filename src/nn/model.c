/* Public model API: load + validate an ONNX file, model facts (inputs, outputs, cut points, op
 * counts), preprocessing from metadata or the documented default rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/files.h"
#include "irbis/nn.h"
#include "nn/model_internal.h"
#include "nn/onnx/onnx.h"
#include "nn/passes/passes.h"

#define MAX_CUTS 16

static void tensor_info(const irb_graph *g, const irb_graph *shaped, int v, irb_tensor_info *t)
{
    t->name = g->values[v].name;
    t->rank = shaped->values[v].rank;
    memcpy(t->dims, shaped->values[v].dims, sizeof t->dims);
}

/* "a,b,c" (or one number for all channels) into out[3]; 1 on success. */
static int parse3(const char *s, float *out)
{
    char *end;
    for (int i = 0; i < 3; i++) {
        out[i] = strtof(s, &end);
        if (end == s)
            return 0;
        s = end;
        if (*s == ',')
            s++;
        else if (i == 0 && !*s) {
            out[1] = out[2] = out[0];
            return 1;
        } else if (i < 2)
            return 0;
    }
    return 1;
}

static void preprocess(irb_model_t *m)
{
    irb_preprocess *p = &m->pre;
    const irb_graph *g = &m->g;
    char buf[256];
    int64_t h = g->values[g->input].dims[2];
    p->input_size = h > 0 ? (int)h : 224;
    if (irb_graph_metadata(g, "irbis.input_size", buf, sizeof buf) && atoi(buf) > 0)
        p->input_size = atoi(buf);
    char mean[256], std[256];
    if (irb_graph_metadata(g, "irbis.mean", mean, sizeof mean) && irb_graph_metadata(g, "irbis.std", std, sizeof std) &&
        parse3(mean, p->mean) && parse3(std, p->std) && p->std[0] > 0 && p->std[1] > 0 && p->std[2] > 0) {
        p->source = "metadata";
    } else if (g->producer && strcmp(g->producer, "pytorch") == 0) {
        static const float mu[3] = {123.675f, 116.28f, 103.53f}, sd[3] = {58.395f, 57.12f, 57.375f};
        memcpy(p->mean, mu, sizeof mu);
        memcpy(p->std, sd, sizeof sd);
        p->source = "torchvision";
    } else {
        p->mean[0] = p->mean[1] = p->mean[2] = 128.0f;
        p->std[0] = p->std[1] = p->std[2] = 128.0f;
        p->source = "tflite";
    }
}

/* One float N x C x H x W input; batch becomes 1, symbolic H/W the preprocessing size. */
static irb_status check_input(irb_model_t *m, const char *name, irb_error *err)
{
    irb_graph *g = &m->g;
    if (g->n_inputs == 0)
        return irb_fail(err, IRB_CORRUPT, "%s: the graph has no input (every input is an initializer)", name);
    if (g->n_inputs > 1)
        return irb_fail(err, IRB_UNSUPPORTED,
                        "%s: the graph has %d inputs ('%s', '%s', ...); irbis needs one "
                        "image input",
                        name, g->n_inputs, g->values[g->inputs[0]].name, g->values[g->inputs[1]].name);
    irb_value *x = &g->values[g->input];
    if (x->rank != 4)
        return irb_fail(err, IRB_MISMATCH, "%s: input '%s' has rank %d; a network input must be N x C x H x W", name,
                        x->name, x->rank);
    if (x->dtype != IRB_DT_FLOAT)
        return irb_fail(err, IRB_UNSUPPORTED, "%s: input '%s' is not float", name, x->name);
    if (x->dims[1] <= 0)
        return irb_fail(err, IRB_UNSUPPORTED, "%s: input '%s' has no fixed channel count", name, x->name);
    preprocess(m);
    x->dims[0] = 1;
    for (int i = 2; i < 4; i++)
        if (x->dims[i] < 0)
            x->dims[i] = m->pre.input_size;
    return IRB_OK;
}

static irb_status build_info(irb_model_t *m, irb_error *err)
{
    const irb_graph *g = &m->g, *s = &m->shaped;
    irb_model_info *in = &m->info;
    m->outs = irb_calloc((size_t)g->n_outputs, sizeof *m->outs);
    m->cuts = irb_calloc(MAX_CUTS, sizeof *m->cuts);
    if (!m->outs || !m->cuts)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    tensor_info(g, s, g->input, &m->in);
    for (int i = 0; i < g->n_outputs; i++)
        tensor_info(g, s, g->outputs[i], &m->outs[i]);
    for (int c = 1; c <= MAX_CUTS; c++) {
        int v = irb_cut_value(g, c);
        if (v < 0)
            break;
        irb_cut_info *ci = &m->cuts[in->n_cuts++];
        ci->cut = c;
        ci->op = irb_op_name(g->nodes[g->values[v].producer].op);
        tensor_info(g, s, v, &ci->tensor);
    }
    int counts[IRB_OP_COUNT] = {0};
    for (int k = 0; k < g->n_nodes; k++)
        counts[g->nodes[k].op]++;
    for (int op = 0; op < IRB_OP_COUNT; op++)
        if (counts[op]) {
            m->ops[in->n_ops].op = irb_op_name((irb_op)op);
            m->ops[in->n_ops++].count = counts[op];
        }
    in->n_inputs = 1;
    in->inputs = &m->in;
    in->n_outputs = g->n_outputs;
    in->outputs = m->outs;
    in->cuts = m->cuts;
    in->ops = m->ops;
    in->opset = g->opset;
    in->producer = g->producer ? g->producer : "";
    in->sha256 = m->sha256;
    return IRB_OK;
}

static irb_status finish_load(irb_model_t *m, const char *name, irb_error *err)
{
    IRB_TRY(check_input(m, name, err));
    /* shapes of every value (and a check that the whole graph is consistent) on a copy */
    IRB_TRY(irb_graph_share(&m->g, &m->shaped, err));
    irb_status s = irb_pass_infer_fold(&m->shaped, err);
    if (s != IRB_OK) {
        char msg[IRB_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return irb_fail(err, s, "%s: %s", name, msg);
    }
    return build_info(m, err);
}

/* The bytes' sha256 (checked against opts->sha256 before anything is parsed), then the graph. */
/* The options' own checks, before anything is read: a digest that is not 64 hex digits could
 * never match (it was read as a mismatch with the file). */
static irb_status check_opts(const irb_model_opts *opts, irb_error *err)
{
    const char *h = opts ? opts->sha256 : NULL;
    size_t n = h ? strspn(h, "0123456789abcdefABCDEF") : 0;
    if (h && *h && (n != 64 || h[n]))
        return irb_fail(err, IRB_INVALID_ARG, "model sha256 '%.80s' is not 64 hex digits", h);
    return IRB_OK;
}

static irb_status hash_and_parse(irb_model_t *m, const void *data, size_t size, const char *name,
                                 const irb_model_opts *opts, irb_error *err)
{
    irb_sha256_buffer(data, size, m->sha256);
    if (opts && opts->sha256 && *opts->sha256 && strcasecmp(opts->sha256, m->sha256) != 0)
        return irb_fail(err, IRB_MISMATCH, "%s has sha256 %s, not %s", name, m->sha256, opts->sha256);
    IRB_TRY(irb_onnx_parse(data, size, name, opts ? opts->max_tensor_bytes : 0, &m->g, err));
    return finish_load(m, name, err);
}

irb_status irb_model_load_buffer(const void *data, size_t size, const char *name, const irb_model_opts *opts,
                                 irb_model_t **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_model_load: out is NULL");
    *out = NULL;
    if (!data && size)
        return irb_fail(err, IRB_INVALID_ARG, "irb_model_load_buffer: NULL data");
    IRB_TRY(check_opts(opts, err));
    irb_model_t *m = irb_calloc(1, sizeof *m);
    if (!m)
        return irb_fail(err, IRB_NOMEM, "out of memory loading %s", name);
    irb_status s = hash_and_parse(m, data, size, name, opts, err);
    if (s != IRB_OK) {
        irb_model_free(m);
        return s;
    }
    *out = m;
    return IRB_OK;
}

irb_status irb_model_load(const char *path, const irb_model_opts *opts, irb_model_t **out, irb_error *err)
{
    if (out)
        *out = NULL;
    if (!out || !path)
        return irb_fail(err, IRB_INVALID_ARG, "irb_model_load: path or out is NULL");
    IRB_TRY(check_opts(opts, err));
    irb_model_t *m = irb_calloc(1, sizeof *m);
    if (!m)
        return irb_fail(err, IRB_NOMEM, "out of memory loading %s", path);
    /* the file is read once: hashed (the pipeline's check of its model) and parsed from memory */
    void *buf = NULL;
    size_t n = 0;
    irb_status s = irb_onnx_read_file(path, opts ? opts->max_tensor_bytes : 0, &buf, &n, err);
    if (s == IRB_OK)
        s = hash_and_parse(m, buf, n, path, opts, err);
    irb_free(buf);
    if (s != IRB_OK) {
        irb_model_free(m);
        return s;
    }
    *out = m;
    return IRB_OK;
}

void irb_model_free(irb_model_t *m)
{
    if (!m)
        return;
    irb_graph_release(&m->g);
    irb_graph_release(&m->shaped);
    irb_free(m->outs);
    irb_free(m->cuts);
    irb_free(m->meta_value);
    irb_free(m);
}

const irb_model_info *irb_model_info_get(const irb_model_t *m) { return m ? &m->info : NULL; }

const irb_preprocess *irb_model_preprocess(const irb_model_t *m) { return m ? &m->pre : NULL; }

const char *irb_model_metadata(const irb_model_t *m, const char *key)
{
    if (!m || !key)
        return NULL;
    irb_model_t *mm = (irb_model_t *)m; /* a cache of the last lookup; not thread-safe */
    char buf[4096];
    if (!irb_graph_metadata(&m->g, key, buf, sizeof buf))
        return NULL;
    irb_free(mm->meta_value);
    mm->meta_value = irb_strdup(buf);
    return mm->meta_value;
}

/* The oneDNN engine's op builders: one lowering per IR op. Convolutions absorb the element-wise
 * ops and the residual Add that follow them as post-ops; everything else maps to one primitive
 * (pooling, inner product, softmax, eltwise, binary, batch norm, concat) or to a view. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "backends/onednn/engine.h"
#include "core/alloc.h"

/* ==== shared helpers */

static int64_t numel(const irb_value *v)
{
    int64_t n = 1;
    for (int i = 0; i < v->rank; i++)
        n *= v->dims[i];
    return n;
}

static int same_dims(const irb_value *a, const irb_value *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

/* The element-wise ops that can also be conv post-ops: up to two (alg, alpha, beta) triples. */
static int eltwise_of(const irb_node *n, dnnl_alg_kind_t alg[2], float al[2], float be[2])
{
    switch (n->op) {
    case IRB_OP_RELU: alg[0] = dnnl_eltwise_relu, al[0] = 0, be[0] = 0; return 1;
    case IRB_OP_CLIP:
        alg[0] = dnnl_eltwise_clip;
        al[0] = n->a.has_clip_min ? n->a.clip_min : -FLT_MAX;
        be[0] = n->a.has_clip_max ? n->a.clip_max : FLT_MAX;
        return 1;
    case IRB_OP_SIGMOID: alg[0] = dnnl_eltwise_logistic, al[0] = 0, be[0] = 0; return 1;
    case IRB_OP_HARDSWISH: /* oneDNN 2.6: x * relu6(x + 3) / 6, the ONNX definition */
        alg[0] = dnnl_eltwise_hardswish, al[0] = 0, be[0] = 0;
        return 1;
    case IRB_OP_HARDSIGMOID: /* max(0, min(1, alpha x + beta)) */
        alg[0] = dnnl_eltwise_linear, al[0] = n->a.alpha, be[0] = n->a.beta;
        alg[1] = dnnl_eltwise_clip, al[1] = 0, be[1] = 1;
        return 2;
    default: return 0;
    }
}

/* The one node consuming v, if v has exactly one consumer and is not the graph output. */
static int sole_consumer(const odn_builder *b, int v)
{
    if (b->n_cons[v] != 1 || v == b->g->output)
        return -1;
    for (int j = b->g->values[v].producer + 1; j < b->g->n_nodes; j++) {
        if (!b->needed[j])
            continue;
        const irb_node *n = &b->g->nodes[j];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v)
                return j;
    }
    return -1;
}

/* Explicit pads [top, left, bottom, right] for a window op, resolving auto_pad, and with the
 * bottom/right pads grown so that the output size matches (ceil_mode). */
static void window_pads(const irb_node *n, const int64_t *in, const int64_t *out, const int64_t *k, const int64_t *s,
                        const int64_t *d, dnnl_dims_t pl, dnnl_dims_t pr)
{
    for (int i = 0; i < 2; i++) {
        int64_t keff = (k[i] - 1) * d[i] + 1;
        int64_t total = (out[i] - 1) * s[i] + keff - in[i];
        if (total < 0)
            total = 0;
        if (n->a.auto_pad == 1 || n->a.auto_pad == 2) {
            int64_t small = total / 2;
            pl[i] = n->a.auto_pad == 1 ? small : total - small;
            pr[i] = total - pl[i];
        } else if (n->a.auto_pad == 3) {
            pl[i] = pr[i] = 0;
        } else {
            pl[i] = n->a.pads[i];
            pr[i] = n->a.pads[i + 2];
        }
        if (pl[i] + pr[i] < total)
            pr[i] = total - pl[i];
    }
}

static irb_status attr_new(odn_builder *b, int node, dnnl_primitive_attr_t *attr)
{
    IRB_TRY(odn_check(b, dnnl_primitive_attr_create(attr), node, "attributes"));
    return odn_check(b, dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user), node, "attributes");
}

/* Gives IR value `out` a new arena buffer of layout md. */
static irb_status new_act(odn_builder *b, int out, const dnnl_memory_desc_t *md)
{
    int buf = odn_new_buf(b, dnnl_memory_desc_get_size(md), ODN_BUF_ARENA);
    if (buf < 0)
        return irb_fail(b->err, IRB_NOMEM, "onednn: out of memory planning buffers");
    b->v->bufs[buf].nvals = 1;
    b->acts[out].buf = buf;
    b->acts[out].md = *md;
    return IRB_OK;
}

/* Creates the primitive for op descriptor d and appends it as a step. */
static irb_status make_step(odn_builder *b, const void *d, dnnl_primitive_attr_t attr, int node,
                            dnnl_primitive_desc_t *pd, odn_step **s)
{
    IRB_TRY(odn_check(b, dnnl_primitive_desc_create(pd, d, attr, b->eng, NULL), node, "no oneDNN implementation"));
    return odn_add_step(b, *pd, node, s);
}

/* ==== Conv (+ eltwise / residual-sum post-ops); int8 where calibrated (docs/int8.md) */

#define ODN_MAX_FUSED 8

typedef struct fused_op {
    int sum; /* 1: the residual sum, else an eltwise op */
    dnnl_alg_kind_t alg;
    float alpha, beta;
} fused_op;

typedef struct conv_fusion {
    fused_op ops[ODN_MAX_FUSED];
    int n;
    int out;       /* the IR value the fused chain produces */
    int sum_other; /* the residual summed into the output, or -1 */
} conv_fusion;

static irb_status fuse_chain(odn_builder *b, int node, conv_fusion *f)
{
    const irb_graph *g = b->g;
    int cur = g->nodes[node].out[0];
    f->out = cur;
    f->sum_other = -1;
    f->n = 0;
    while (f->n < 6) {
        int c = sole_consumer(b, cur);
        if (c < 0)
            break;
        const irb_node *cn = &g->nodes[c];
        dnnl_alg_kind_t alg[2];
        float al[2], be[2];
        int k = eltwise_of(cn, alg, al, be);
        if (k > 0) {
            for (int i = 0; i < k; i++)
                f->ops[f->n++] = (fused_op){0, alg[i], al[i], be[i]};
        } else if (cn->op == IRB_OP_ADD && f->sum_other < 0 && cn->n_in == 2) {
            int other = cn->in[0] == cur ? cn->in[1] : cn->in[0];
            /* the residual must be an activation of the same shape computed before this conv */
            if (odn_is_const(g, other) || !same_dims(&g->values[other], &g->values[cur]) ||
                (g->values[other].producer >= node) || b->acts[other].buf < 0)
                break;
            f->ops[f->n++] = (fused_op){.sum = 1};
            f->sum_other = other;
        } else {
            break;
        }
        b->done[c] = 1;
        cur = cn->out[0];
        f->out = cur;
    }
    return IRB_OK;
}

/* The quantization of one int8 convolution: real = stored / scale for src, dst and residual;
 * weights per output channel. */
typedef struct conv_quant {
    int on;
    dnnl_data_type_t src_dt, dst_dt, res_dt;
    float src_s, dst_s, res_s;
} conv_quant;

/* The post-ops for f. fp32: all scales 1. int8: the accumulator leaves the output scales in
 * real units when an eltwise op follows (ReLU6's 6 is a real 6), and the last eltwise op scales
 * into dst's units; with no eltwise op the output scales go straight to dst's units. The
 * residual sum reads its int8 values (type res_dt) and brings them to the units of that point. */
static irb_status make_post_ops(odn_builder *b, int node, const conv_fusion *f, const conv_quant *q,
                                dnnl_post_ops_t *po)
{
    IRB_TRY(odn_check(b, dnnl_post_ops_create(po), node, "post-ops"));
    int last = -1;
    for (int i = 0; i < f->n; i++)
        if (!f->ops[i].sum)
            last = i;
    float m = q->on && last < 0 ? q->dst_s : 1.0f; /* units of the value at this point */
    for (int i = 0; i < f->n; i++) {
        const fused_op *o = &f->ops[i];
        if (o->sum) {
            float sc = q->on ? m / q->res_s : 1.0f;
            if (q->on && q->res_dt != q->dst_dt)
                IRB_TRY(odn_check(b, dnnl_post_ops_append_sum_v2(*po, sc, q->res_dt), node, "post-op"));
            else
                IRB_TRY(odn_check(b, dnnl_post_ops_append_sum(*po, sc), node, "post-op"));
        } else {
            float sc = q->on && i == last ? q->dst_s : 1.0f;
            IRB_TRY(odn_check(b, dnnl_post_ops_append_eltwise(*po, sc, o->alg, o->alpha, o->beta), node, "post-op"));
            if (i == last)
                m = sc;
        }
    }
    return IRB_OK;
}

/* Signed activations at a side above 1/ODN_SIGNED_FP32_SIDE of the image's stay fp32: 8 (strides
 * 2 and 4) closed the worst image's gap; 16 (stride 8 too) cuts the mean int8 error of
 * MobileNetV2's features by a fifth, which brought the demo experiment's logits row (RN1) from
 * 0.7 to 0.2 point of fp32 (docs/int8.md: the per-tensor ablation and the tables). */
#define ODN_SIGNED_FP32_SIDE 16

/* 1 if v is a signed activation (calibrated minimum below 0: no ReLU before it) whose side is
 * more than 1/ODN_SIGNED_FP32_SIDE of the image's: MobileNetV2's linear bottlenecks at strides
 * 2, 4 and 8; in ResNet-50 the outputs of layers 1 and 2's first blocks' last convs, which
 * their downsample convs add. */
static int signed_high_res(const odn_builder *b, int v)
{
    const irb_value *x = &b->g->values[v], *img = &b->g->values[b->g->input];
    return b->range && x->rank == 4 && img->rank == 4 && b->range[2 * v] < 0 &&
           x->dims[2] * ODN_SIGNED_FP32_SIDE > img->dims[2];
}

/* 1 if conv `node` may run int8: not the first conv (on the image: 3 channels, little to gain,
 * and the image's own 8 bits would be requantized; general evaluation, for conformance tests,
 * quantizes it too), not a grouped (depthwise) conv, whose few taps per channel lose too much
 * at s8, and not a conv reading a signed activation at more than 1/16 of the image's side
 * (MobileNetV2's first blocks: per-tensor s8 over their wide, heavy-tailed range cost the worst
 * image 0.986 -> 0.99x at 448, and the mean error a fifth more; docs/int8.md: measured). */
static int conv_int8_able(const odn_builder *b, int node)
{
    const irb_node *n = &b->g->nodes[node];
    return n->op == IRB_OP_CONV && b->v->int8 && (n->in[0] != b->g->input || b->v->batch == 0) && n->a.group <= 1 &&
           (b->v->batch == 0 || !signed_high_res(b, n->in[0]));
}

/* 1 if every node reading v keeps it int8: an int8 conv, a MaxPool, or the residual Add a conv
 * absorbs; else v is best written in f32 (no rounding, no boundary reorder). */
static int int8_readers_only(const odn_builder *b, int v)
{
    const irb_graph *g = b->g;
    if (v == g->output)
        return 0;
    for (int j = 0; j < g->n_nodes; j++) {
        const irb_node *n = &g->nodes[j];
        int reads = 0;
        for (int k = 0; k < n->n_in; k++)
            reads |= n->in[k] == v;
        if (!b->needed[j] || !reads)
            continue;
        if (!(n->op == IRB_OP_CONV && n->in[0] == v && conv_int8_able(b, j)) && n->op != IRB_OP_MAXPOOL &&
            n->op != IRB_OP_ADD)
            return 0;
    }
    return 1;
}

/* int8 for this conv when it is able and its input, fused output and residual are calibrated.
 * Its output is int8 too when only int8 layers read it, else f32. */
static void conv_quant_choose(const odn_builder *b, int node, const conv_fusion *f, conv_quant *q)
{
    const irb_node *n = &b->g->nodes[node];
    memset(q, 0, sizeof *q);
    if (!conv_int8_able(b, node) || (b->v->batch && signed_high_res(b, f->out)))
        return;
    const odn_act *x = &b->acts[n->in[0]];
    if (odn_is_int8(x->md.data_type))
        q->src_dt = x->md.data_type, q->src_s = x->scale;
    else if (!odn_quant(b, n->in[0], &q->src_dt, &q->src_s))
        return;
    if (!odn_quant(b, f->out, &q->dst_dt, &q->dst_s))
        return;
    if (!int8_readers_only(b, f->out))
        q->dst_dt = dnnl_f32, q->dst_s = 1.0f;
    if (f->sum_other >= 0 && q->dst_dt == dnnl_f32) {
        q->res_dt = dnnl_f32, q->res_s = 1.0f;
    } else if (f->sum_other >= 0) {
        const odn_act *r = &b->acts[f->sum_other];
        if (odn_is_int8(r->md.data_type))
            q->res_dt = r->md.data_type, q->res_s = r->scale;
        else if (!odn_quant(b, f->sum_other, &q->res_dt, &q->res_s))
            return;
    }
    q->on = 1;
}

/* Per output channel: symmetric s8 weight scales (127 / max |w|) and, with them, the output
 * scales and the bias in accumulator units. */
static irb_status conv_scales(odn_builder *b, int node, const conv_quant *q, const irb_value *wv, const float *bias,
                              float **wscale, float **oscale, float **qbias)
{
    int64_t OC = wv->dims[0], per = irb_numel(wv->rank - 1, wv->dims + 1);
    *wscale = irb_malloc_array((size_t)OC, sizeof **wscale);
    *oscale = irb_malloc_array((size_t)OC, sizeof **oscale);
    *qbias = bias ? irb_malloc_array((size_t)OC, sizeof **qbias) : NULL;
    if (!*wscale || !*oscale || (bias && !*qbias))
        return irb_fail(b->err, IRB_NOMEM, "onednn: node '%s': out of memory for scales", odn_node_label(b->g, node));
    const float *w = wv->data;
    for (int64_t o = 0; o < OC; o++) {
        float amax = 0;
        for (int64_t i = 0; i < per; i++) {
            float a = fabsf(w[o * per + i]);
            amax = a > amax ? a : amax;
        }
        (*wscale)[o] = amax > 0 ? 127.0f / amax : 1.0f;
        (*oscale)[o] = 1.0f / (q->src_s * (*wscale)[o]);
        if (bias)
            (*qbias)[o] = bias[o] * q->src_s * (*wscale)[o];
    }
    return IRB_OK;
}

/* 1 if no value stored in buffer `buf` (other than `except`, -1 for none) is read by a node
 * after `node` that is still to be lowered (fused nodes are done), nor is the graph output, so
 * the buffer may be overwritten at `node`. */
static int buf_unread_after(const odn_builder *b, int buf, int node, int except)
{
    const irb_graph *g = b->g;
    for (int v = 0; v < g->n_values; v++) {
        if (v == except || b->acts[v].buf != buf)
            continue;
        if (v == g->output)
            return 0;
        for (int j = node + 1; j < g->n_nodes; j++) {
            if (!b->needed[j] || b->done[j])
                continue;
            for (int k = 0; k < g->nodes[j].n_in; k++)
                if (g->nodes[j].in[k] == v)
                    return 0;
        }
    }
    return 1;
}

typedef struct conv_mds {
    dnnl_memory_desc_t src, wei, wei_plain, bias, dst;
} conv_mds;

/* A band of a conv's rows (docs/engine.md, "Bands"): one image, hin input rows (the
 * image's rows inside the band's window) to hout output rows, with the band's own top and bottom
 * pads; the columns as the whole layer's. */
typedef struct band_geom {
    int64_t hin, hout, pt, pb;
} band_geom;

/* 1 when a bf16 conv's (fused) output is read by nothing but the run's outputs, which are f32:
 * the conv writes it in f32 (from its f32 accumulators, no rounding to bf16 and no reorder after;
 * with the output's layout, straight into the caller's buffer), as an int8 conv does. Not for
 * a band (its rows go to the chain's buffer) or a residual sum (it accumulates in bf16). */
static int f32_output(const odn_builder *b, const conv_fusion *f, const band_geom *geo)
{
    return b->v->dt == dnnl_bf16 && !geo && f->sum_other < 0 && b->n_outs[f->out] > 0 &&
           b->n_cons[f->out] == b->n_outs[f->out];
}

/* The conv's primitive descriptor: for the whole layer (geo NULL: any layout), or for a band
 * (NHWC, which makes a band of rows one contiguous block). */
static irb_status conv_pd(odn_builder *b, int node, const conv_fusion *f, const conv_quant *q, const float *oscale,
                          const band_geom *geo, conv_mds *m, dnnl_primitive_desc_t *pd)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    const irb_value *wv = &g->values[n->in[1]];
    int64_t G = n->a.group > 0 ? n->a.group : 1, OC = wv->dims[0];
    int64_t xd[4], yd[4];
    odn_value_dims(b, n->in[0], xd);
    odn_value_dims(b, n->out[0], yd);
    dnnl_dims_t st = {n->a.strides[0], n->a.strides[1]}, dil = {n->a.dilations[0] - 1, n->a.dilations[1] - 1};
    dnnl_dims_t pl, pr, d;
    window_pads(n, xd + 2, yd + 2, wv->dims + 2, n->a.strides, n->a.dilations, pl, pr);
    if (geo) {
        xd[0] = yd[0] = 1;
        xd[2] = geo->hin, yd[2] = geo->hout;
        pl[0] = geo->pt, pr[0] = geo->pb;
    }
    dnnl_format_tag_t tag = geo ? dnnl_acdb : dnnl_format_tag_any;
    dnnl_data_type_t sdt = q->on ? q->src_dt : b->v->dt, wdt = q->on ? dnnl_s8 : b->v->dt;
    dnnl_data_type_t ddt = q->on ? q->dst_dt : f32_output(b, f, geo) ? dnnl_f32 : b->v->dt;
    memcpy(d, xd, sizeof xd);
    dnnl_memory_desc_init_by_tag(&m->src, 4, d, sdt, tag);
    memcpy(d, yd, sizeof yd);
    dnnl_memory_desc_init_by_tag(&m->dst, 4, d, ddt, tag);
    if (G > 1) {
        dnnl_dims_t wd = {G, OC / G, wv->dims[1], wv->dims[2], wv->dims[3]};
        dnnl_memory_desc_init_by_tag(&m->wei, 5, wd, wdt, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&m->wei_plain, 5, wd, dnnl_f32, dnnl_goihw);
    } else {
        dnnl_dims_t wd = {OC, wv->dims[1], wv->dims[2], wv->dims[3]};
        dnnl_memory_desc_init_by_tag(&m->wei, 4, wd, wdt, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&m->wei_plain, 4, wd, dnnl_f32, dnnl_oihw);
    }
    dnnl_dims_t bd = {OC};
    dnnl_memory_desc_init_by_tag(&m->bias, 1, bd, dnnl_f32, dnnl_a);
    int bias = n->n_in > 2 ? n->in[2] : -1;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_convolution_desc_t cd;
    irb_status s = make_post_ops(b, node, f, q, &po);
    if (s == IRB_OK)
        s = attr_new(b, node, &attr);
    if (s == IRB_OK)
        s = odn_check(b, dnnl_primitive_attr_set_post_ops(attr, po), node, "post-ops");
    if (s == IRB_OK && q->on)
        s = odn_check(b, dnnl_primitive_attr_set_output_scales(attr, OC, 1 << 1, oscale), node, "output scales");
    /* Winograd (fp32, 3x3, stride 1, not grouped or dilated) where oneDNN has a kernel for the
     * shapes and post-ops; else, or when it has none, direct. docs/engine.md has the measurements. */
    int wino = b->v->winograd && !geo && !q->on && b->v->dt == dnnl_f32 && G == 1 && wv->dims[2] == 3 &&
               wv->dims[3] == 3 && st[0] == 1 && st[1] == 1 && dil[0] == 0 && dil[1] == 0;
    for (int pass = wino ? 0 : 1; s == IRB_OK && pass < 2; pass++) {
        dnnl_alg_kind_t alg = pass == 0 ? dnnl_convolution_winograd : dnnl_convolution_direct;
        s = odn_check(b,
                      dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, alg, &m->src, &m->wei,
                                                                 bias >= 0 ? &m->bias : NULL, &m->dst, st, dil, pl, pr),
                      node, "convolution descriptor");
        if (s == IRB_OK && pass == 0) {
            if (dnnl_primitive_desc_create(pd, &cd, attr, b->eng, NULL) == dnnl_success) {
                b->v->winograd_steps++;
                break;
            }
            *pd = NULL;
            continue;
        }
        if (s == IRB_OK)
            s = odn_check(b, dnnl_primitive_desc_create(pd, &cd, attr, b->eng, NULL), node,
                          "no oneDNN convolution for these shapes/post-ops");
    }
    dnnl_primitive_attr_destroy(attr);
    dnnl_post_ops_destroy(po);
    return s;
}

/* The conv's destination: a new buffer, or (residual sum) the residual's buffer when nothing
 * else reads it later, it is not the conv's own input and its layout is the conv's, else a copy
 * of the residual to accumulate into. int8: the residual keeps its own type (s8 under a u8
 * output: the sum reads it as s8). */
static irb_status conv_dst(odn_builder *b, int node, const conv_fusion *f, const conv_quant *q, const odn_act *src,
                           const dnnl_memory_desc_t *dmd, odn_act *dst)
{
    if (f->sum_other < 0) {
        IRB_TRY(new_act(b, f->out, dmd));
        *dst = b->acts[f->out];
    } else {
        dnnl_memory_desc_t rmd = *dmd;
        if (q->on)
            rmd.data_type = q->res_dt;
        const odn_act *r = &b->acts[f->sum_other];
        const odn_buf *rb = &b->v->bufs[r->buf];
        if (rb->where == ODN_BUF_ARENA && r->buf != src->buf && buf_unread_after(b, r->buf, node, -1) &&
            dnnl_memory_desc_equal(&r->md, &rmd))
            *dst = *r;
        else
            IRB_TRY(odn_act_copy(b, f->sum_other, &rmd, node, 1, dst));
        b->v->bufs[dst->buf].nvals++;
    }
    dst->md = *dmd;
    dst->scale = q->on ? q->dst_s : 1.0f;
    b->acts[f->out] = *dst;
    return IRB_OK;
}

/* ==== Conv chains in bands of rows (docs/engine.md, "Bands")
 * A chain conv E -> conv D -> 1x1 conv P on a large map (MobileNetV2's inverted residual blocks:
 * expansion, depthwise, projection; its first block: the image's conv, depthwise, projection)
 * runs band by band: E writes a few rows of its output into a small buffer, D reads them there
 * while they are still in cache, and P writes the band's rows of the chain's output. The rows
 * that D's windows share with the band before are copied over, not computed again. Each output
 * value is computed by the same kernels from the same inputs as with the whole layers. */

/* E's output per image at or above which a chain runs in bands (elements): measured faster from
 * 112 x 112 x 144 up, and no faster at 72 x 72 x 192 (docs/engine.md). */
#define BAND_MIN_ELEMS ((int64_t)1500000)
#define BAND_ROWS      8 /* D's output rows per band: 4 to 24 measured alike (docs/engine.md) */
#define BAND_MAX_PRIMS 8 /* shapes per conv: the first, middle and last bands, and the ones near a pad */

typedef struct band_prim {
    band_geom g;
    int owner; /* the step that owns the primitive, -1 before the first */
    dnnl_primitive_desc_t pd;
    dnnl_memory_t wmem;
} band_prim;

typedef struct band_conv {
    int node;
    conv_fusion f;
    conv_quant q;
    int64_t h, k, s, dl, pt;       /* along rows: input rows, kernel, stride, dilation, top pad */
    int64_t hout, row_in, row_out; /* output rows; elements per input and output row */
    dnnl_memory_t bmem;            /* the bias (NULL: none), of layout bias_md */
    dnnl_memory_desc_t bias_md;
    band_prim p[BAND_MAX_PRIMS];
    int n;
} band_conv;

/* 1 if node is a 2-D conv with constant weights (and bias) whose rows can run in bands; fills c's
 * geometry. */
static int band_conv_init(const odn_builder *b, int node, band_conv *c)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    if (n->op != IRB_OP_CONV || n->n_in < 2 || g->values[n->in[0]].rank != 4 || !odn_is_const(g, n->in[1]) ||
        (n->n_in > 2 && n->in[2] >= 0 && !odn_is_const(g, n->in[2])))
        return 0;
    const irb_value *wv = &g->values[n->in[1]];
    int64_t xd[4], yd[4];
    dnnl_dims_t pl, pr;
    odn_value_dims(b, n->in[0], xd);
    odn_value_dims(b, n->out[0], yd);
    window_pads(n, xd + 2, yd + 2, wv->dims + 2, n->a.strides, n->a.dilations, pl, pr);
    c->node = node;
    c->h = xd[2], c->k = wv->dims[2], c->s = n->a.strides[0], c->dl = n->a.dilations[0], c->pt = pl[0];
    c->hout = yd[2], c->row_in = xd[1] * xd[3], c->row_out = yd[1] * yd[3];
    /* every band's window then holds at least one row of the input: pads within the kernel's
     * reach, and a stride no longer than it (a band never skips its rows) */
    int64_t reach = (c->k - 1) * c->dl;
    return c->dl >= 1 && c->s >= 1 && c->s <= reach + 1 && pl[0] <= reach && pr[0] <= reach;
}

/* The band of c's output rows [a, e): its geometry, and in *lo its first input row. */
static band_geom band_rows(const band_conv *c, int64_t a, int64_t e, int64_t *lo)
{
    int64_t l = a * c->s - c->pt, h = (e - 1) * c->s - c->pt + (c->k - 1) * c->dl;
    band_geom g = {.hout = e - a, .pt = l < 0 ? -l : 0, .pb = h > c->h - 1 ? h - (c->h - 1) : 0};
    l = l < 0 ? 0 : l;
    h = h > c->h - 1 ? c->h - 1 : h;
    g.hin = h - l + 1;
    *lo = l;
    return g;
}

/* Appends a step running pd's primitive: the first such step (*owner < 0) creates it and
 * becomes its owner, later ones borrow it. */
static irb_status band_add_step(odn_builder *b, const_dnnl_primitive_desc_t pd, int *owner, int node, odn_step **st)
{
    if (*owner >= 0)
        return odn_add_step_again(b, *owner, node, st);
    IRB_TRY(odn_add_step(b, pd, node, st));
    *owner = (int)(*st - b->v->steps);
    return IRB_OK;
}

/* Appends a step of conv c over one band: src at soff bytes into buffer sbuf, dst at doff into
 * dbuf. Bands of one shape share a primitive and its packed weights. */
static irb_status band_step(odn_builder *b, band_conv *c, band_geom geo, int sbuf, size_t soff, int dbuf, size_t doff)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[c->node];
    int i = 0;
    while (i < c->n && memcmp(&c->p[i].g, &geo, sizeof geo) != 0)
        i++;
    conv_mds m;
    if (i == c->n) {
        if (c->n == BAND_MAX_PRIMS)
            return irb_fail(b->err, IRB_INTERNAL, "onednn: node '%s': too many band shapes",
                            odn_node_label(g, c->node));
        band_prim *p = &c->p[c->n];
        *p = (band_prim){.g = geo, .owner = -1};
        IRB_TRY(conv_pd(b, c->node, &c->f, &c->q, NULL, &geo, &m, &p->pd));
        c->n++;
        const dnnl_memory_desc_t *wq = dnnl_primitive_desc_query_md(p->pd, dnnl_query_weights_md, 0);
        for (int j = 0; j < i && !p->wmem; j++)
            if (dnnl_memory_desc_equal(wq, dnnl_primitive_desc_query_md(c->p[j].pd, dnnl_query_weights_md, 0)))
                p->wmem = c->p[j].wmem;
        if (!p->wmem)
            IRB_TRY(odn_const_from(b, g->values[n->in[1]].data, &m.wei_plain, wq, c->node, &p->wmem));
        if (n->n_in > 2 && n->in[2] >= 0 && !c->bmem) {
            c->bias_md = m.bias;
            IRB_TRY(odn_const_from(b, g->values[n->in[2]].data, &m.bias, &m.bias, c->node, &c->bmem));
        }
    }
    band_prim *p = &c->p[i];
    odn_step *st;
    IRB_TRY(band_add_step(b, p->pd, &p->owner, c->node, &st));
    odn_arg_buf_at(b, st, DNNL_ARG_SRC, sbuf, dnnl_primitive_desc_query_md(p->pd, dnnl_query_src_md, 0), 0, soff);
    odn_arg_const(st, DNNL_ARG_WEIGHTS, p->wmem, dnnl_primitive_desc_query_md(p->pd, dnnl_query_weights_md, 0));
    if (c->bmem)
        odn_arg_const(st, DNNL_ARG_BIAS, c->bmem, &c->bias_md);
    odn_arg_buf_at(b, st, DNNL_ARG_DST, dbuf, dnnl_primitive_desc_query_md(p->pd, dnnl_query_dst_md, 0), 1, doff);
    odn_arg_scratch(b, st, p->pd);
    return IRB_OK;
}

/* The band copy's primitive, for one count of rows. */
typedef struct band_copy {
    int64_t rows;
    int owner; /* -1: none yet */
} band_copy;

/* Appends a copy of `rows` rows of E's output from `from` bytes into buffer buf to its start;
 * copies of the same count share a primitive (a new count makes a new one). */
static irb_status band_carry(odn_builder *b, int node, band_copy *cp, int64_t rows, int64_t row, int buf, size_t from)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {1, 1, rows, row};
    dnnl_memory_desc_init_by_tag(&md, 4, d, b->v->dt, dnnl_abcd);
    if (cp->rows != rows)
        *cp = (band_copy){.rows = rows, .owner = -1};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    irb_status s = IRB_OK;
    if (cp->owner < 0) {
        s = attr_new(b, node, &attr);
        if (s == IRB_OK)
            s = odn_check(b, dnnl_reorder_primitive_desc_create(&pd, &md, b->eng, &md, b->eng, attr), node,
                          "band copy");
    }
    odn_step *st = NULL;
    if (s == IRB_OK)
        s = band_add_step(b, pd, &cp->owner, node, &st);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    IRB_TRY(s);
    odn_arg_buf_at(b, st, DNNL_ARG_FROM, buf, &md, 0, from);
    odn_arg_buf_at(b, st, DNNL_ARG_TO, buf, &md, 1, 0);
    return IRB_OK;
}

/* Finds the chain E -> D -> P starting at node E; 1 if it is one to run in bands (its nodes'
 * fusions in c[0..2], the fused nodes marked done), else 0 with b->done as it was. */
static int band_find(odn_builder *b, int node, band_conv c[3])
{
    const irb_graph *g = b->g;
    size_t nn = (size_t)g->n_nodes;
    char *saved = irb_malloc(nn + 1);
    if (!saved)
        return 0;
    memcpy(saved, b->done, nn);
    int ok = 1, cur = node;
    for (int i = 0; ok && i < 3; i++) {
        if (i > 0) {
            cur = sole_consumer(b, c[i - 1].f.out);
            ok = cur >= 0 && g->nodes[cur].in[0] == c[i - 1].f.out;
        }
        ok = ok && band_conv_init(b, cur, &c[i]) && fuse_chain(b, cur, &c[i].f) == IRB_OK;
        if (ok)
            conv_quant_choose(b, cur, &c[i].f, &c[i].q);
        ok = ok && !c[i].q.on && (i == 2 || c[i].f.sum_other < 0);
    }
    if (ok) {
        const irb_node *p = &g->nodes[c[2].node];
        ok = c[2].k == 1 && c[2].s == 1 && c[2].pt == 0 && p->a.group <= 1 && g->values[p->in[1]].dims[3] == 1 &&
             p->a.strides[1] == 1 && c[2].h == c[1].hout && c[0].hout * c[0].row_out >= BAND_MIN_ELEMS &&
             c[1].hout >= 2 * BAND_ROWS &&
             BAND_ROWS * c[1].s >= (c[1].k - 1) * c[1].dl + 1; /* a carry never overlaps its target */
    }
    if (!ok)
        memcpy(b->done, saved, nn);
    irb_free(saved);
    return ok;
}

/* Lowers the chain starting at conv `node` in bands when it is one (*done = 1). */
static irb_status band_chain(odn_builder *b, int node, int *done)
{
    *done = 0;
    band_conv c[3];
    memset(c, 0, sizeof c);
    /* batch-1 variants only: per-image workers, and intra-op runs of one image. An intra-op
     * batch splits each whole layer over the threads well, and in bands it ran 6 % slower
     * (docs/engine.md). */
    if (!b->v->bands || b->v->batch != 1 || !band_find(b, node, c))
        return IRB_OK;
    const irb_graph *g = b->g;
    band_conv *E = &c[0], *D = &c[1], *P = &c[2];
    int x = g->nodes[node].in[0];
    size_t elt = dnnl_data_type_size(b->v->dt);
    dnnl_dims_t xd, yd;
    odn_value_dims(b, x, xd);
    odn_value_dims(b, P->f.out, yd);
    dnnl_memory_desc_t xmd, ymd;
    dnnl_memory_desc_init_by_tag(&xmd, 4, xd, b->v->dt, dnnl_acdb);
    dnnl_memory_desc_init_by_tag(&ymd, 4, yd, b->v->dt, dnnl_acdb);
    odn_act xa, ya;
    irb_status s = odn_act_as(b, x, &xmd, node, &xa);
    /* P may sum into the residual's buffer in place when that is X itself only if no later band
     * reads the rows P overwrites: E 1x1 (its band reads X's rows past those D has used) */
    odn_act alias = xa;
    if (s == IRB_OK && ((E->k == 1 && E->s == 1 && E->pt == 0) || b->v->bufs[xa.buf].where != ODN_BUF_ARENA))
        alias.buf = -1; /* (nor into the run's input: the caller's, read-only) */
    if (s == IRB_OK)
        s = conv_dst(b, P->node, &P->f, &P->q, &alias, &ymd, &ya);
    if (s == IRB_OK && (b->v->bufs[xa.buf].where == ODN_BUF_OUTPUT || b->v->bufs[ya.buf].where != ODN_BUF_ARENA))
        s = irb_fail(b->err, IRB_INTERNAL, "onednn: node '%s': a band outside the arena", odn_node_label(g, node));
    int64_t erows = (BAND_ROWS - 1) * D->s + (D->k - 1) * D->dl + 1;
    int ebuf = -1, dbuf = -1;
    band_copy copy = {.owner = -1};
    if (s == IRB_OK) {
        ebuf = odn_new_buf(b, (size_t)(erows * E->row_out) * elt, ODN_BUF_ARENA);
        dbuf = odn_new_buf(b, (size_t)(BAND_ROWS * D->row_out) * elt, ODN_BUF_ARENA);
        if (ebuf < 0 || dbuf < 0)
            s = irb_fail(b->err, IRB_NOMEM, "onednn: out of memory planning buffers");
    }
    int64_t plo = 0, phi = -1; /* E's output rows in ebuf */
    for (int64_t r0 = 0; s == IRB_OK && r0 < D->hout; r0 += BAND_ROWS) {
        int64_t r1 = r0 + BAND_ROWS < D->hout ? r0 + BAND_ROWS : D->hout, dlo, elo;
        band_geom gd = band_rows(D, r0, r1, &dlo);
        int64_t dhi = dlo + gd.hin - 1, keep = phi >= dlo ? phi - dlo + 1 : 0;
        if (keep > 0)
            s = band_carry(b, E->node, &copy, keep, E->row_out, ebuf, (size_t)((dlo - plo) * E->row_out) * elt);
        if (s == IRB_OK && dlo + keep <= dhi) {
            band_geom ge = band_rows(E, dlo + keep, dhi + 1, &elo);
            s = band_step(b, E, ge, xa.buf, (size_t)(elo * E->row_in) * elt, ebuf, (size_t)(keep * E->row_out) * elt);
        }
        if (s == IRB_OK)
            s = band_step(b, D, gd, ebuf, 0, dbuf, 0);
        if (s == IRB_OK) {
            band_geom gp = {.hin = r1 - r0, .hout = r1 - r0};
            s = band_step(b, P, gp, dbuf, 0, ya.buf, (size_t)(r0 * P->row_out) * elt);
        }
        plo = dlo, phi = dhi;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < c[i].n; j++)
            dnnl_primitive_desc_destroy(c[i].p[j].pd);
    if (s == IRB_OK) {
        b->done[D->node] = b->done[P->node] = 1;
        b->v->band_chains++;
        *done = 1;
    }
    return s;
}

static irb_status lower_conv(odn_builder *b, int node)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    const irb_value *wv = &g->values[n->in[1]];
    int bias = n->n_in > 2 ? n->in[2] : -1;
    const float *bdata = bias >= 0 ? g->values[bias].data : NULL;
    conv_fusion f = {0};
    conv_quant q;
    conv_mds m;
    float *wscale = NULL, *oscale = NULL, *qbias = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int banded = 0;
    IRB_TRY(band_chain(b, node, &banded));
    if (banded)
        return IRB_OK;
    irb_status s = fuse_chain(b, node, &f);
    conv_quant_choose(b, node, &f, &q);
    if (s == IRB_OK && q.on) {
        s = conv_scales(b, node, &q, wv, bdata, &wscale, &oscale, &qbias);
        int eltwise = 0;
        for (int i = 0; i < f.n; i++)
            eltwise |= !f.ops[i].sum;
        for (int64_t o = 0; s == IRB_OK && !eltwise && o < wv->dims[0]; o++)
            oscale[o] *= q.dst_s;
    }
    if (s == IRB_OK)
        s = conv_pd(b, node, &f, &q, oscale, NULL, &m, &pd);
    if (s == IRB_UNSUPPORTED && q.on) { /* no int8 kernel for this one: it falls back to fp32 */
        q.on = 0;
        s = conv_pd(b, node, &f, &q, oscale, NULL, &m, &pd);
    }
    odn_act src = {0}, dst = {0};
    dnnl_memory_t wmem = NULL, bmem = NULL;
    const dnnl_memory_desc_t *wq = pd ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    if (s == IRB_OK)
        s = odn_act_as(b, n->in[0], dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), node, &src);
    if (s == IRB_OK) {
        int G = n->a.group > 1;
        s = q.on ? odn_const_scaled(b, wv->data, &m.wei_plain, wq, (int)wv->dims[0], G ? 3 : 1, wscale, node, &wmem)
                 : odn_const_from(b, wv->data, &m.wei_plain, wq, node, &wmem);
    }
    if (s == IRB_OK && bias >= 0)
        s = odn_const_from(b, q.on ? qbias : bdata, &m.bias, &m.bias, node, &bmem);
    if (s == IRB_OK)
        s = conv_dst(b, node, &f, &q, &src, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), &dst);
    odn_step *step;
    if (s == IRB_OK)
        s = odn_add_step(b, pd, node, &step);
    if (s == IRB_OK) {
        odn_arg_buf(b, step, DNNL_ARG_SRC, src.buf, &src.md, 0);
        odn_arg_const(step, DNNL_ARG_WEIGHTS, wmem, wq);
        if (bmem)
            odn_arg_const(step, DNNL_ARG_BIAS, bmem, &m.bias);
        odn_arg_buf(b, step, DNNL_ARG_DST, dst.buf, &dst.md, 1);
        odn_arg_scratch(b, step, pd);
        b->v->int8_steps += q.on;
    }
    dnnl_primitive_desc_destroy(pd);
    irb_free(wscale);
    irb_free(oscale);
    irb_free(qbias);
    return s;
}

/* ==== Pooling */

static irb_status lower_pool(odn_builder *b, int node)
{
    const irb_node *n = &b->g->nodes[node];
    int64_t xd[4], yd[4];
    odn_value_dims(b, n->in[0], xd);
    odn_value_dims(b, n->out[0], yd);
    int64_t k[2], str[2], dl[2] = {1, 1};
    dnnl_dims_t pl = {0, 0}, pr = {0, 0};
    dnnl_alg_kind_t alg = dnnl_pooling_avg_exclude_padding;
    if (n->op == IRB_OP_GLOBALAVGPOOL) {
        k[0] = xd[2], k[1] = xd[3], str[0] = str[1] = 1;
    } else {
        k[0] = n->a.kernel[0], k[1] = n->a.kernel[1], str[0] = n->a.strides[0], str[1] = n->a.strides[1];
        dl[0] = n->a.dilations[0] > 0 ? n->a.dilations[0] : 1;
        dl[1] = n->a.dilations[1] > 0 ? n->a.dilations[1] : 1;
        window_pads(n, xd + 2, yd + 2, k, str, dl, pl, pr);
        if (n->op == IRB_OP_MAXPOOL)
            alg = dnnl_pooling_max;
        else if (n->a.count_include_pad)
            alg = dnnl_pooling_avg_include_padding;
    }
    const odn_act *x = &b->acts[n->in[0]];
    dnnl_memory_desc_t dst_any;
    dnnl_dims_t d, kd = {k[0], k[1]}, sd = {str[0], str[1]}, dd = {dl[0] - 1, dl[1] - 1};
    memcpy(d, yd, sizeof yd);
    /* an int8 input is only here for MaxPool, which keeps its type and scale */
    dnnl_memory_desc_init_by_tag(&dst_any, 4, d, odn_is_int8(x->md.data_type) ? x->md.data_type : b->v->dt,
                                 dnnl_format_tag_any);
    dnnl_pooling_v2_desc_t pdsc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    odn_step *step;
    irb_status s = odn_check(
        b, dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg, &x->md, &dst_any, sd, kd, dd, pl, pr),
        node, "pooling descriptor");
    if (s == IRB_OK)
        s = attr_new(b, node, &attr);
    if (s == IRB_OK)
        s = make_step(b, &pdsc, attr, node, &pd, &step);
    if (s == IRB_OK)
        s = new_act(b, n->out[0], dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
    if (s == IRB_OK) {
        b->acts[n->out[0]].scale = x->scale;
        odn_arg_buf(b, step, DNNL_ARG_SRC, x->buf, &x->md, 0);
        odn_arg_buf(b, step, DNNL_ARG_DST, b->acts[n->out[0]].buf, &b->acts[n->out[0]].md, 1);
        odn_arg_scratch(b, step, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* ==== Element-wise (not fused into a conv) */

static irb_status lower_eltwise(odn_builder *b, int node)
{
    const irb_node *n = &b->g->nodes[node];
    dnnl_alg_kind_t alg[2];
    float al[2], be[2];
    int k = eltwise_of(n, alg, al, be);
    odn_act x = b->acts[n->in[0]];
    irb_status s = new_act(b, n->out[0], &x.md);
    for (int i = 0; i < k && s == IRB_OK; i++) {
        dnnl_eltwise_desc_t ed;
        dnnl_primitive_attr_t attr = NULL;
        dnnl_primitive_desc_t pd = NULL;
        odn_step *step;
        s = odn_check(b, dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg[i], &x.md, al[i], be[i]), node,
                      "eltwise descriptor");
        if (s == IRB_OK)
            s = attr_new(b, node, &attr);
        if (s == IRB_OK)
            s = make_step(b, &ed, attr, node, &pd, &step);
        if (s == IRB_OK) {
            odn_arg_buf(b, step, DNNL_ARG_SRC, x.buf, &x.md, 0);
            odn_arg_buf(b, step, DNNL_ARG_DST, b->acts[n->out[0]].buf, &x.md, 1);
            odn_arg_scratch(b, step, pd);
        }
        x = b->acts[n->out[0]]; /* a second op (HardSigmoid's clip) runs in place */
        dnnl_primitive_desc_destroy(pd);
        dnnl_primitive_attr_destroy(attr);
    }
    return s;
}

/* ==== Add / Mul (not fused): binary with numpy broadcasting of the second operand */

static irb_status lower_binary(odn_builder *b, int node)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    int a = n->in[0], c = n->in[1];
    const irb_value *out = &g->values[n->out[0]];
    if (odn_is_const(g, a) || !same_dims(&g->values[a], out)) {
        int t = a;
        a = c;
        c = t;
    }
    const irb_value *cv = &g->values[c];
    odn_act x = b->acts[a], y = {0};
    int64_t od[IRB_MAX_RANK], cd[IRB_MAX_RANK];
    odn_value_dims(b, n->out[0], od);
    int r = out->rank, lead = r - cv->rank;
    for (int i = 0; i < r; i++)
        cd[i] = i < lead ? 1 : cv->dims[i - lead];
    if (!odn_is_const(g, c) && cv->rank > 0 && lead == 0)
        odn_value_dims(b, c, cd);
    dnnl_memory_desc_t c_md;
    dnnl_memory_t cmem = NULL;
    irb_status s = IRB_OK;
    if (odn_is_const(g, c)) {
        odn_plain_md(&c_md, r, cd, dnnl_f32);
        s = odn_const_from(b, cv->data, &c_md, &c_md, node, &cmem);
    } else if (same_dims(cv, out)) {
        s = odn_act_as(b, c, &x.md, node, &y);
        c_md = x.md;
    } else {
        odn_plain_md(&c_md, r, cd, b->v->dt);
        s = odn_act_as(b, c, &c_md, node, &y);
    }
    dnnl_binary_desc_t bd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    odn_step *step;
    dnnl_alg_kind_t alg = n->op == IRB_OP_ADD ? dnnl_binary_add : dnnl_binary_mul;
    if (s == IRB_OK)
        s = odn_check(b, dnnl_binary_desc_init(&bd, alg, &x.md, &c_md, &x.md), node, "binary descriptor");
    if (s == IRB_OK)
        s = attr_new(b, node, &attr);
    if (s == IRB_OK)
        s = make_step(b, &bd, attr, node, &pd, &step);
    if (s == IRB_OK)
        s = new_act(b, n->out[0], &x.md);
    if (s == IRB_OK) {
        odn_arg_buf(b, step, DNNL_ARG_SRC_0, x.buf, &x.md, 0);
        if (cmem)
            odn_arg_const(step, DNNL_ARG_SRC_1, cmem, &c_md);
        else
            odn_arg_buf(b, step, DNNL_ARG_SRC_1, y.buf, &c_md, 0);
        odn_arg_buf(b, step, DNNL_ARG_DST, b->acts[n->out[0]].buf, &x.md, 1);
        odn_arg_scratch(b, step, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* ==== Views: Flatten, Reshape, Squeeze, Unsqueeze (and Identity/Dropout if still present) */

static irb_status lower_view(odn_builder *b, int node)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    int x = n->in[0];
    if (n->op == IRB_OP_IDENTITY || n->op == IRB_OP_DROPOUT) {
        b->acts[n->out[0]] = b->acts[x];
        b->v->bufs[b->acts[x].buf].nvals++;
        return IRB_OK;
    }
    int64_t xd[IRB_MAX_RANK], yd[IRB_MAX_RANK];
    odn_value_dims(b, x, xd);
    odn_value_dims(b, n->out[0], yd);
    dnnl_memory_desc_t plain, view;
    odn_plain_md(&plain, g->values[x].rank, xd, b->v->dt);
    odn_plain_md(&view, g->values[n->out[0]].rank, yd, b->v->dt);
    odn_act p;
    IRB_TRY(odn_act_as(b, x, &plain, node, &p)); /* a blocked layout is made plain first */
    b->acts[n->out[0]].buf = p.buf;
    b->acts[n->out[0]].md = view;
    b->v->bufs[p.buf].nvals++;
    return IRB_OK;
}

/* ==== Gemm / MatMul with constant weights: inner product */

static irb_status lower_gemm(odn_builder *b, int node)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    const irb_value *B = &g->values[n->in[1]];
    int is_gemm = n->op == IRB_OP_GEMM;
    int tb = is_gemm && n->a.trans_b;
    int64_t K = tb ? B->dims[1] : B->dims[0], M = tb ? B->dims[0] : B->dims[1];
    float alpha = is_gemm ? n->a.alpha : 1.0f, beta = is_gemm ? n->a.beta : 1.0f;
    int cidx = is_gemm && n->n_in > 2 ? n->in[2] : -1;
    int has_bias = cidx >= 0 && beta != 0.0f;

    float *wtmp = NULL, *btmp = NULL;
    const float *wdata = B->data;
    if (alpha != 1.0f) {
        if (!(wtmp = irb_malloc_array((size_t)(M * K), sizeof *wtmp)))
            return irb_fail(b->err, IRB_NOMEM, "onednn: node '%s': out of memory scaling weights",
                            odn_node_label(g, node));
        for (int64_t i = 0; i < M * K; i++)
            wtmp[i] = alpha * ((const float *)B->data)[i];
        wdata = wtmp;
    }
    dnnl_memory_desc_t src_md, wei_plain, wei_any, bias_md, dst_any;
    int64_t sd[2], yd[2];
    odn_value_dims(b, n->in[0], sd);
    odn_value_dims(b, n->out[0], yd);
    odn_plain_md(&src_md, 2, sd, b->v->dt);
    dnnl_dims_t wd = {M, K}, bd = {M}, dd = {yd[0], M};
    dnnl_memory_desc_init_by_tag(&wei_plain, 2, wd, dnnl_f32, tb ? dnnl_ab : dnnl_ba);
    dnnl_memory_desc_init_by_tag(&wei_any, 2, wd, b->v->dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&bias_md, 1, bd, dnnl_f32, dnnl_a);
    dnnl_memory_desc_init_by_tag(&dst_any, 2, dd, b->v->dt, dnnl_format_tag_any);

    irb_status s = IRB_OK;
    if (has_bias) {
        if (!(btmp = irb_malloc_array((size_t)M, sizeof *btmp)))
            s = irb_fail(b->err, IRB_NOMEM, "onednn: out of memory");
        for (int64_t i = 0; s == IRB_OK && i < M; i++)
            btmp[i] = beta * ((const float *)g->values[cidx].data)[i];
    }
    odn_act x;
    dnnl_inner_product_desc_t ipd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_t wmem = NULL, bmem = NULL;
    odn_step *step;
    if (s == IRB_OK)
        s = odn_act_as(b, n->in[0], &src_md, node, &x);
    if (s == IRB_OK)
        s = odn_check(b,
                      dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src_md, &wei_any,
                                                           has_bias ? &bias_md : NULL, &dst_any),
                      node, "inner product descriptor");
    if (s == IRB_OK)
        s = attr_new(b, node, &attr);
    if (s == IRB_OK)
        s = odn_check(b, dnnl_primitive_desc_create(&pd, &ipd, attr, b->eng, NULL), node, "no oneDNN inner product");
    const dnnl_memory_desc_t *wq = pd ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    if (s == IRB_OK)
        s = odn_const_from(b, wdata, &wei_plain, wq, node, &wmem);
    if (s == IRB_OK && has_bias)
        s = odn_const_from(b, btmp, &bias_md, &bias_md, node, &bmem);
    if (s == IRB_OK)
        s = new_act(b, n->out[0], dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
    if (s == IRB_OK)
        s = odn_add_step(b, pd, node, &step);
    if (s == IRB_OK) {
        odn_arg_buf(b, step, DNNL_ARG_SRC, x.buf, &x.md, 0);
        odn_arg_const(step, DNNL_ARG_WEIGHTS, wmem, wq);
        if (bmem)
            odn_arg_const(step, DNNL_ARG_BIAS, bmem, &bias_md);
        odn_arg_buf(b, step, DNNL_ARG_DST, b->acts[n->out[0]].buf, &b->acts[n->out[0]].md, 1);
        odn_arg_scratch(b, step, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    irb_free(wtmp);
    irb_free(btmp);
    return s;
}

/* ==== Softmax along one axis (opset >= 13), or over everything from `axis` on (opset < 13:
 * the input seen as 2-D); computed on a plain layout */

static irb_status lower_softmax(odn_builder *b, int node)
{
    const irb_node *n = &b->g->nodes[node];
    int r = b->g->values[n->in[0]].rank;
    int axis = (int)(n->a.axis < 0 ? n->a.axis + r : n->a.axis);
    int64_t xd[IRB_MAX_RANK], d2[2] = {1, 1};
    odn_value_dims(b, n->in[0], xd);
    dnnl_memory_desc_t md, smd;
    odn_plain_md(&md, r, xd, b->v->dt);
    smd = md;
    if (n->a.softmax_legacy) { /* same bytes, seen as rows x (everything from axis on) */
        for (int i = 0; i < r; i++)
            d2[i >= axis] *= xd[i];
        odn_plain_md(&smd, 2, d2, b->v->dt);
        axis = 1;
    }
    odn_act x;
    dnnl_softmax_desc_t sd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    odn_step *step;
    irb_status s = odn_act_as(b, n->in[0], &md, node, &x);
    if (s == IRB_OK)
        s = odn_check(b, dnnl_softmax_forward_desc_init(&sd, dnnl_forward_inference, &smd, axis), node,
                      "softmax descriptor");
    if (s == IRB_OK)
        s = attr_new(b, node, &attr);
    if (s == IRB_OK)
        s = make_step(b, &sd, attr, node, &pd, &step);
    if (s == IRB_OK)
        s = new_act(b, n->out[0], &md);
    if (s == IRB_OK) {
        odn_arg_buf(b, step, DNNL_ARG_SRC, x.buf, &smd, 0);
        odn_arg_buf(b, step, DNNL_ARG_DST, b->acts[n->out[0]].buf, &smd, 1);
        odn_arg_scratch(b, step, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* ==== BatchNormalization left unfolded (inference, global statistics) */

static irb_status lower_batchnorm(odn_builder *b, int node)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    const odn_act *x = &b->acts[n->in[0]];
    dnnl_memory_desc_t cmd;
    dnnl_dims_t cd = {g->values[n->in[1]].dims[0]};
    dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_a);
    static const int args[4] = {DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    dnnl_memory_t mem[4] = {0};
    irb_status s = IRB_OK;
    for (int i = 0; i < 4 && s == IRB_OK; i++)
        s = odn_const_from(b, g->values[n->in[1 + i]].data, &cmd, &cmd, node, &mem[i]);
    dnnl_batch_normalization_desc_t bd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    odn_step *step;
    if (s == IRB_OK)
        s = odn_check(
            b,
            dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &x->md, n->a.epsilon,
                                                       dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift),
            node, "batch norm descriptor");
    if (s == IRB_OK)
        s = attr_new(b, node, &attr);
    if (s == IRB_OK)
        s = make_step(b, &bd, attr, node, &pd, &step);
    if (s == IRB_OK)
        s = new_act(b, n->out[0], &x->md);
    if (s == IRB_OK) {
        odn_arg_buf(b, step, DNNL_ARG_SRC, x->buf, &x->md, 0);
        for (int i = 0; i < 4; i++)
            odn_arg_const(step, args[i], mem[i], &cmd);
        odn_arg_buf(b, step, DNNL_ARG_DST, b->acts[n->out[0]].buf, &x->md, 1);
        odn_arg_scratch(b, step, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* ==== Concat of activations along an axis */

static irb_status lower_concat(odn_builder *b, int node)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    int r = g->values[n->out[0]].rank;
    int axis = (int)(n->a.axis < 0 ? n->a.axis + r : n->a.axis);
    dnnl_memory_desc_t mds[IRB_MAX_NODE_INPUTS], dst_any;
    for (int i = 0; i < n->n_in; i++)
        mds[i] = b->acts[n->in[i]].md;
    int64_t yd[IRB_MAX_RANK];
    odn_value_dims(b, n->out[0], yd);
    dnnl_dims_t d;
    memcpy(d, yd, sizeof(int64_t) * (size_t)r);
    dnnl_memory_desc_init_by_tag(&dst_any, r, d, b->v->dt, dnnl_format_tag_any);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    odn_step *step;
    irb_status s = attr_new(b, node, &attr);
    if (s == IRB_OK)
        s = odn_check(b, dnnl_concat_primitive_desc_create(&pd, &dst_any, n->n_in, axis, mds, attr, b->eng), node,
                      "no oneDNN concat");
    if (s == IRB_OK)
        s = odn_add_step(b, pd, node, &step);
    if (s == IRB_OK)
        s = new_act(b, n->out[0], dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
    if (s == IRB_OK) {
        for (int i = 0; i < n->n_in; i++)
            odn_arg_buf(b, step, DNNL_ARG_MULTIPLE_SRC + i, b->acts[n->in[i]].buf, &mds[i], 0);
        odn_arg_buf(b, step, DNNL_ARG_DST, b->acts[n->out[0]].buf, &b->acts[n->out[0]].md, 1);
        odn_arg_scratch(b, step, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* ==== dispatch */

static int is_float(const irb_graph *g, int v) { return v < 0 || g->values[v].dtype == IRB_DT_FLOAT; }

int odn_supports(const irb_graph *g, int node) { return odn_supports_general(g, node, 0); }

int odn_supports_general(const irb_graph *g, int node, int general)
{
    const irb_node *n = &g->nodes[node];
    int view = n->op == IRB_OP_RESHAPE || n->op == IRB_OP_SQUEEZE || n->op == IRB_OP_UNSQUEEZE;
    for (int i = 0; i < n->n_in; i++) /* int64 only as a view's constant shape/axes */
        if (!is_float(g, n->in[i]) && !(view && i == 1 && odn_is_const(g, n->in[i])))
            return 0;
    if (n->n_in < 1 || n->in[0] < 0)
        return 0;
    const irb_value *x = &g->values[n->in[0]];
    const irb_value *y = &g->values[n->out[0]];
    int x_act = !odn_is_const(g, n->in[0]);
    switch (n->op) {
    case IRB_OP_CONV: {
        if (!x_act || x->rank != 4 || n->n_in < 2 || !odn_is_const(g, n->in[1]))
            return 0;
        const irb_value *w = &g->values[n->in[1]];
        int64_t G = n->a.group > 0 ? n->a.group : 1;
        if (w->rank != 4 || w->dims[0] % G || w->dims[1] * G != x->dims[1])
            return 0;
        if (n->n_in > 2 && n->in[2] >= 0 && (!odn_is_const(g, n->in[2]) || numel(&g->values[n->in[2]]) != w->dims[0]))
            return 0;
        return 1;
    }
    case IRB_OP_RELU:
    case IRB_OP_CLIP:
    case IRB_OP_SIGMOID:
    case IRB_OP_HARDSIGMOID:
    case IRB_OP_HARDSWISH: return x_act && x->rank >= 1;
    case IRB_OP_ADD:
    case IRB_OP_MUL: {
        if (n->n_in != 2 || n->in[1] < 0)
            return 0;
        const irb_value *a = x, *c = &g->values[n->in[1]];
        int ac = !x_act, cc = odn_is_const(g, n->in[1]);
        if (ac && cc)
            return 0;
        if (ac || !same_dims(a, y)) { /* the full-shape activation goes first */
            const irb_value *t = a;
            a = c, c = t;
            int tc = ac;
            ac = cc, cc = tc;
        }
        if (ac || !same_dims(a, y) || c->rank > y->rank)
            return 0;
        if (!cc && c->rank != y->rank)
            return 0;
        for (int i = 0; i < c->rank; i++) {
            int64_t cd = c->dims[i], yd = y->dims[y->rank - c->rank + i];
            if (cd != yd && cd != 1)
                return 0;
        }
        return 1;
    }
    case IRB_OP_MAXPOOL:
    case IRB_OP_AVGPOOL:
        if (n->op == IRB_OP_AVGPOOL && n->a.count_include_pad && n->a.ceil_mode)
            return 0;
        return x_act && x->rank == 4;
    case IRB_OP_GLOBALAVGPOOL: return x_act && x->rank == 4;
    case IRB_OP_BATCHNORM:
        if (!x_act || x->rank < 2 || x->rank > 5 || n->n_in < 5)
            return 0;
        for (int i = 1; i < 5; i++)
            if (!odn_is_const(g, n->in[i]) || numel(&g->values[n->in[i]]) != x->dims[1])
                return 0;
        return 1;
    case IRB_OP_GEMM:
    case IRB_OP_MATMUL: {
        if (!x_act || x->rank != 2 || n->n_in < 2 || !odn_is_const(g, n->in[1]))
            return 0;
        const irb_value *B = &g->values[n->in[1]];
        if (B->rank != 2)
            return 0;
        if (n->op == IRB_OP_MATMUL)
            return B->dims[0] == x->dims[1];
        int64_t K = n->a.trans_b ? B->dims[1] : B->dims[0], M = n->a.trans_b ? B->dims[0] : B->dims[1];
        if (n->a.trans_a || K != x->dims[1])
            return 0;
        if (n->n_in > 2 && n->in[2] >= 0) {
            const irb_value *C = &g->values[n->in[2]];
            if (!odn_is_const(g, n->in[2]) || numel(C) != M || (C->rank == 2 && C->dims[0] != 1))
                return 0;
        }
        return 1;
    }
    case IRB_OP_SOFTMAX: {
        int64_t ax = n->a.axis < 0 ? n->a.axis + x->rank : n->a.axis;
        /* compiled nets: the batch must stay outside the softmax */
        return x_act && x->rank >= 1 && x->rank <= 6 && ax >= 0 && ax < x->rank && (general || ax >= 1);
    }
    case IRB_OP_FLATTEN:
    case IRB_OP_RESHAPE:
    case IRB_OP_SQUEEZE:
    case IRB_OP_UNSQUEEZE:
        /* compiled nets: the batch stays the leading dimension */
        return x_act && x->rank >= 1 && y->rank >= 1 && x->rank <= 6 && y->rank <= 6 && numel(x) == numel(y) &&
               (general || (x->dims[0] == 1 && y->dims[0] == 1));
    case IRB_OP_IDENTITY:
    case IRB_OP_DROPOUT: return x_act;
    case IRB_OP_CONCAT:
        if (n->n_in > ODN_MAX_ARGS - 2) /* sources + destination + scratchpad per step */
            return 0;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] < 0 || odn_is_const(g, n->in[i]) || g->values[n->in[i]].rank != y->rank)
                return 0;
        return y->rank >= 1 && y->rank <= 6;
    default: return 0;
    }
}

/* int8 variants: the layers that run in fp32 read their int8 inputs dequantized, in the same
 * layout (a reorder at the precision boundary); *saved keeps the int8 activations to put back. */
static irb_status dequant_inputs(odn_builder *b, int node, odn_act *saved)
{
    const irb_node *n = &b->g->nodes[node];
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0 && !odn_is_const(b->g, n->in[i]))
            saved[i] = b->acts[n->in[i]];
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v < 0 || odn_is_const(b->g, v))
            continue;
        if (b->acts[v].buf < 0 || !odn_is_int8(b->acts[v].md.data_type))
            continue;
        dnnl_memory_desc_t md = b->acts[v].md;
        md.data_type = b->v->dt;
        odn_act f;
        IRB_TRY(odn_act_as(b, v, &md, node, &f));
        b->acts[v] = f;
    }
    return IRB_OK;
}

static void restore_inputs(odn_builder *b, int node, const odn_act *saved)
{
    const irb_node *n = &b->g->nodes[node];
    for (int i = n->n_in - 1; i >= 0; i--)
        if (n->in[i] >= 0 && !odn_is_const(b->g, n->in[i]))
            b->acts[n->in[i]] = saved[i];
}

static irb_status lower_any(odn_builder *b, int node);

irb_status odn_lower_node(odn_builder *b, int node)
{
    const irb_graph *g = b->g;
    const irb_node *n = &g->nodes[node];
    if (!odn_supports_general(g, node, b->v->batch == 0))
        return irb_fail(b->err, IRB_UNSUPPORTED, "onednn: node %d '%s': op %s with these inputs is not supported", node,
                        odn_node_label(g, node), irb_op_name(n->op));
    /* int8 layers: Conv (lower_conv decides) and MaxPool; identity views pass an act through */
    if (!b->v->int8 || n->op == IRB_OP_CONV || n->op == IRB_OP_MAXPOOL || n->op == IRB_OP_IDENTITY ||
        n->op == IRB_OP_DROPOUT)
        return lower_any(b, node);
    odn_act saved[IRB_MAX_NODE_INPUTS];
    irb_status s = dequant_inputs(b, node, saved);
    if (s == IRB_OK)
        s = lower_any(b, node);
    restore_inputs(b, node, saved);
    return s;
}

static irb_status lower_any(odn_builder *b, int node)
{
    const irb_node *n = &b->g->nodes[node];
    switch (n->op) {
    case IRB_OP_CONV: return lower_conv(b, node);
    case IRB_OP_MAXPOOL:
    case IRB_OP_AVGPOOL:
    case IRB_OP_GLOBALAVGPOOL: return lower_pool(b, node);
    case IRB_OP_RELU:
    case IRB_OP_CLIP:
    case IRB_OP_SIGMOID:
    case IRB_OP_HARDSIGMOID:
    case IRB_OP_HARDSWISH: return lower_eltwise(b, node);
    case IRB_OP_ADD:
    case IRB_OP_MUL: return lower_binary(b, node);
    case IRB_OP_GEMM:
    case IRB_OP_MATMUL: return lower_gemm(b, node);
    case IRB_OP_SOFTMAX: return lower_softmax(b, node);
    case IRB_OP_BATCHNORM: return lower_batchnorm(b, node);
    case IRB_OP_CONCAT: return lower_concat(b, node);
    default: return lower_view(b, node);
    }
}

/* The oneDNN engine's compile-time bookkeeping: activations and their buffers, steps and their
 * arguments, packed constants, and the liveness-based arena plan. */
#include <stdint.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "backends/onednn/engine.h"
#include "core/alloc.h"

const char *odn_node_label(const irb_graph *g, int node)
{
    if (node < 0)
        return "(reorder)";
    const char *n = g->nodes[node].name;
    return n && *n ? n : irb_op_name(g->nodes[node].op);
}

irb_status odn_check(odn_builder *b, dnnl_status_t s, int node, const char *what)
{
    if (s == dnnl_success)
        return IRB_OK;
    irb_status st = s == dnnl_out_of_memory ? IRB_NOMEM : s == dnnl_unimplemented ? IRB_UNSUPPORTED : IRB_INTERNAL;
    return irb_fail(b->err, st, "onednn: node %d '%s' (%s): %s: %s", node, odn_node_label(b->g, node),
                    node >= 0 ? irb_op_name(b->g->nodes[node].op) : "reorder", what, dnnl_status2str(s));
}

int odn_is_const(const irb_graph *g, int v) { return v >= 0 && g->values[v].data != NULL; }

int odn_new_buf(odn_builder *b, size_t size, int where)
{
    odn_variant *v = b->v;
    if (v->n_bufs == v->cap_bufs) {
        int cap = v->cap_bufs ? 2 * v->cap_bufs : 64;
        odn_buf *nb = irb_realloc_array(v->bufs, (size_t)cap, sizeof *nb);
        if (!nb)
            return -1;
        v->bufs = nb;
        v->cap_bufs = cap;
    }
    v->bufs[v->n_bufs] = (odn_buf){.size = size, .first = -1, .last = -1, .where = where};
    return v->n_bufs++;
}

/* A zeroed step at the end of the list (not counted until the caller commits it). */
static odn_step *step_slot(odn_builder *b, int node)
{
    odn_variant *v = b->v;
    if (v->n_steps == v->cap_steps) {
        int cap = v->cap_steps ? 2 * v->cap_steps : 64;
        odn_step *ns = irb_realloc_array(v->steps, (size_t)cap, sizeof *ns);
        if (!ns) {
            irb_fail(b->err, IRB_NOMEM, "onednn: out of memory planning %d steps", cap);
            return NULL;
        }
        v->steps = ns;
        v->cap_steps = cap;
    }
    odn_step *s = &v->steps[v->n_steps];
    memset(s, 0, sizeof *s);
    s->node = node;
    return s;
}

irb_status odn_add_step(odn_builder *b, const_dnnl_primitive_desc_t pd, int node, odn_step **out)
{
    odn_step *s = step_slot(b, node);
    if (!s)
        return IRB_NOMEM;
    IRB_TRY(odn_check(b, dnnl_primitive_create(&s->prim, pd), node, "creating the primitive"));
    b->v->n_steps++;
    *out = s;
    return IRB_OK;
}

irb_status odn_add_step_again(odn_builder *b, int owner, int node, odn_step **out)
{
    odn_step *s = step_slot(b, node);
    if (!s)
        return IRB_NOMEM;
    s->prim = b->v->steps[owner].prim;
    s->borrowed = 1;
    b->v->n_steps++;
    *out = s;
    return IRB_OK;
}

void odn_arg_buf(odn_builder *b, odn_step *s, int arg, int buf, const dnnl_memory_desc_t *md, int write)
{
    odn_arg_buf_at(b, s, arg, buf, md, write, 0);
}

void odn_arg_buf_at(odn_builder *b, odn_step *s, int arg, int buf, const dnnl_memory_desc_t *md, int write, size_t off)
{
    odn_buf *bf = &b->v->bufs[buf];
    int at = (int)(s - b->v->steps);
    if (bf->first < 0 || (write && bf->first > at))
        bf->first = at;
    if (bf->last < at)
        bf->last = at;
    s->args[s->nargs++] = (odn_arg){.arg = arg, .kind = ODN_ARG_BUF, .buf = buf, .md = *md, .off = off};
}

void odn_arg_const(odn_step *s, int arg, dnnl_memory_t mem, const dnnl_memory_desc_t *md)
{
    s->args[s->nargs++] = (odn_arg){.arg = arg, .kind = ODN_ARG_CONST, .buf = -1, .md = *md, .mem = mem};
}

void odn_arg_scratch(odn_builder *b, odn_step *s, const_dnnl_primitive_desc_t pd)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t n = md ? dnnl_memory_desc_get_size(md) : 0;
    if (n == 0)
        return;
    if (n > b->v->scratch_size)
        b->v->scratch_size = n;
    s->args[s->nargs++] = (odn_arg){.arg = DNNL_ARG_SCRATCHPAD, .kind = ODN_ARG_SCRATCH, .buf = -1, .md = *md};
}

/* ---- constants */

/* n bytes, ODN_ALIGN-aligned, from the variant's last slab (a new one when they do not fit). */
static void *slab_take(odn_variant *v, size_t n)
{
    size_t need = (n + ODN_ALIGN - 1) / ODN_ALIGN * ODN_ALIGN;
    if (!v->n_slabs || v->slab_used + need > v->slab_cap) {
        size_t cap = need > ODN_SLAB ? need : ODN_SLAB;
        void **ns = irb_realloc_array(v->slabs, (size_t)v->n_slabs + 1, sizeof *ns);
        if (!ns)
            return NULL;
        v->slabs = ns;
        if (!(ns[v->n_slabs] = irb_malloc_large(1, cap))) /* 2 MiB-aligned, so ODN_ALIGN-aligned too */
            return NULL;
        v->n_slabs++;
        v->slab_used = 0;
        v->slab_cap = cap;
    }
    void *p = (char *)v->slabs[v->n_slabs - 1] + v->slab_used;
    v->slab_used += need;
    return p;
}

static irb_status new_const(odn_builder *b, const dnnl_memory_desc_t *md, int node, odn_const **out)
{
    odn_variant *v = b->v;
    if (v->n_consts == v->cap_consts) {
        int cap = v->cap_consts ? 2 * v->cap_consts : 64;
        odn_const *nc = irb_realloc_array(v->consts, (size_t)cap, sizeof *nc);
        if (!nc)
            return irb_fail(b->err, IRB_NOMEM, "onednn: out of memory packing constants");
        v->consts = nc;
        v->cap_consts = cap;
    }
    size_t n = dnnl_memory_desc_get_size(md);
    odn_const *c = &v->consts[v->n_consts];
    c->mem = NULL;
    c->size = n;
    void *p = slab_take(v, n ? n : 1);
    if (!p)
        return irb_fail(b->err, IRB_NOMEM, "onednn: node '%s': out of memory for %zu bytes of weights",
                        odn_node_label(b->g, node), n);
    v->n_consts++;
    IRB_TRY(odn_check(b, dnnl_memory_create(&c->mem, md, b->eng, p), node, "creating a weights memory"));
    *out = c;
    return IRB_OK;
}

irb_status odn_const_from(odn_builder *b, const float *data, const dnnl_memory_desc_t *src_md,
                          const dnnl_memory_desc_t *md, int node, dnnl_memory_t *out)
{
    return odn_const_scaled(b, data, src_md, md, 0, 0, NULL, node, out);
}

irb_status odn_const_scaled(odn_builder *b, const float *data, const dnnl_memory_desc_t *src_md,
                            const dnnl_memory_desc_t *md, int count, int mask, const float *scales, int node,
                            dnnl_memory_t *out)
{
    odn_const *c = NULL;
    IRB_TRY(new_const(b, md, node, &c));
    *out = c->mem;
    dnnl_memory_t src = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_primitive_attr_t attr = NULL;
    irb_status st = odn_check(b, dnnl_memory_create(&src, src_md, b->eng, (void *)data), node, "wrapping weights");
    if (st == IRB_OK && scales) {
        st = odn_check(b, dnnl_primitive_attr_create(&attr), node, "attributes");
        if (st == IRB_OK)
            st = odn_check(b, dnnl_primitive_attr_set_output_scales(attr, count, mask, scales), node, "weight scales");
    }
    if (st == IRB_OK)
        st = odn_check(b, dnnl_reorder_primitive_desc_create(&pd, src_md, b->eng, md, b->eng, attr), node,
                       "planning the weights reorder");
    if (st == IRB_OK)
        st = odn_check(b, dnnl_primitive_create(&r, pd), node, "creating the weights reorder");
    if (st == IRB_OK) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, c->mem}};
        st = odn_check(b, dnnl_primitive_execute(r, b->stream, 2, args), node, "packing weights");
        if (st == IRB_OK)
            st = odn_check(b, dnnl_stream_wait(b->stream), node, "packing weights");
    }
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    dnnl_memory_destroy(src);
    return st;
}

/* ---- activations */

void odn_plain_md(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt)
{
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef};
    dnnl_dims_t d;
    for (int i = 0; i < rank; i++)
        d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, rank, d, dt, tags[rank]);
}

void odn_value_dims(const odn_builder *b, int v, int64_t *dims)
{
    const irb_value *val = &b->g->values[v];
    for (int i = 0; i < val->rank; i++)
        dims[i] = val->dims[i];
    if (val->rank > 0 && !val->data && b->v->batch > 0)
        dims[0] = b->v->batch;
}

irb_status odn_act_as(odn_builder *b, int v, const dnnl_memory_desc_t *md, int node, odn_act *out)
{
    return odn_act_copy(b, v, md, node, 0, out);
}

irb_status odn_act_copy(odn_builder *b, int v, const dnnl_memory_desc_t *md, int node, int force, odn_act *out)
{
    odn_act *a = &b->acts[v];
    if (a->buf < 0)
        return irb_fail(b->err, IRB_INTERNAL, "onednn: node '%s': input '%s' was not computed",
                        odn_node_label(b->g, node), b->g->values[v].name);
    if (!force && dnnl_memory_desc_equal(&a->md, md)) {
        *out = *a;
        return IRB_OK;
    }
    int buf = odn_new_buf(b, dnnl_memory_desc_get_size(md), ODN_BUF_ARENA);
    if (buf < 0)
        return irb_fail(b->err, IRB_NOMEM, "onednn: out of memory planning buffers");
    b->v->bufs[buf].nvals = 1;
    /* a layout change of an int8 activation keeps its scale (lossless); else the value's own */
    float scale =
        odn_is_int8(md->data_type) && md->data_type == a->md.data_type ? a->scale : odn_scale_for(b, v, md->data_type);
    IRB_TRY(odn_reorder_step(b, a, buf, md, scale, node));
    out->buf = buf;
    out->md = *md;
    out->scale = scale;
    return IRB_OK;
}

int odn_is_int8(dnnl_data_type_t dt) { return dt == dnnl_s8 || dt == dnnl_u8; }

int odn_quant(const odn_builder *b, int v, dnnl_data_type_t *dt, float *scale)
{
    if (!b->v->int8 || !b->range || v < 0)
        return 0;
    float lo = b->range[2 * v], hi = b->range[2 * v + 1];
    if (!(lo <= hi)) /* NaN: not calibrated */
        return 0;
    float amax = lo >= 0 ? hi : (hi > -lo ? hi : -lo);
    *dt = lo >= 0 ? dnnl_u8 : dnnl_s8;
    *scale = amax > 0 ? (lo >= 0 ? 255.0f : 127.0f) / amax : 1.0f;
    return 1;
}

float odn_scale_for(const odn_builder *b, int v, dnnl_data_type_t dt)
{
    dnnl_data_type_t q;
    float s;
    return odn_is_int8(dt) && odn_quant(b, v, &q, &s) ? s : 1.0f;
}

irb_status odn_reorder_step(odn_builder *b, const odn_act *src, int buf, const dnnl_memory_desc_t *md, float dst_scale,
                            int node)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    odn_act a = *src; /* src may point into b->acts, which stays put, but copy for clarity */
    irb_status st = odn_check(b, dnnl_primitive_attr_create(&attr), node, "attributes");
    if (st == IRB_OK)
        st = odn_check(b, dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), node, "attributes");
    float ratio = dst_scale / (odn_is_int8(a.md.data_type) ? a.scale : 1.0f);
    if (st == IRB_OK && ratio != 1.0f) /* a precision boundary: quantize, dequantize or rescale */
        st = odn_check(b, dnnl_primitive_attr_set_output_scales(attr, 1, 0, &ratio), node, "reorder scale");
    if (st == IRB_OK)
        st = odn_check(b, dnnl_reorder_primitive_desc_create(&pd, &a.md, b->eng, md, b->eng, attr), node,
                       "planning a layout reorder");
    odn_step *s;
    if (st == IRB_OK)
        st = odn_add_step(b, pd, -1, &s);
    if (st == IRB_OK) {
        odn_arg_buf(b, s, DNNL_ARG_FROM, a.buf, &a.md, 0);
        odn_arg_buf(b, s, DNNL_ARG_TO, buf, md, 1);
        odn_arg_scratch(b, s, pd);
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* ---- memory plan: greedy, largest buffers first, each at the lowest offset that does not overlap a
 * buffer whose live range [first, last] intersects its own. */

static size_t align_up(size_t n) { return (n + ODN_ALIGN - 1) & ~(size_t)(ODN_ALIGN - 1); }

irb_status odn_plan_memory(odn_variant *v, irb_error *err)
{
    int n = v->n_bufs;
    char *placed = irb_calloc((size_t)n + 1, 1);
    if (!placed)
        return irb_fail(err, IRB_NOMEM, "onednn: out of memory planning %d buffers", n);
    v->arena_size = 0;
    for (int k = 0; k < n; k++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!placed[i] && v->bufs[i].where == ODN_BUF_ARENA && v->bufs[i].first >= 0 &&
                (best < 0 || v->bufs[i].size > v->bufs[best].size))
                best = i;
        if (best < 0)
            break;
        odn_buf *x = &v->bufs[best];
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int i = 0; i < n; i++) {
                odn_buf *y = &v->bufs[i];
                if (!placed[i] || y->last < x->first || x->last < y->first)
                    continue;
                if (off < y->offset + align_up(y->size) && y->offset < off + align_up(x->size)) {
                    off = y->offset + align_up(y->size);
                    moved = 1;
                }
            }
        }
        x->offset = off;
        placed[best] = 1;
        if (off + align_up(x->size) > v->arena_size)
            v->arena_size = off + align_up(x->size);
    }
    irb_free(placed);
    return IRB_OK;
}

void odn_variant_free(odn_variant *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n_steps; i++)
        if (!v->steps[i].borrowed)
            dnnl_primitive_destroy(v->steps[i].prim);
    for (int i = 0; i < v->n_consts; i++)
        dnnl_memory_destroy(v->consts[i].mem);
    for (int i = 0; i < v->n_slabs; i++)
        irb_free(v->slabs[i]);
    irb_free(v->slabs);
    irb_free(v->steps);
    irb_free(v->bufs);
    irb_free(v->consts);
    irb_free(v);
}

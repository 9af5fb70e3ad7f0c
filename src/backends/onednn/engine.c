/* The oneDNN engine: the irb_backend vtable, variants (a graph lowered for one batch size and
 * thread count), contexts (a variant bound to a stream and private memory) and the two
 * threading schemes (docs/engine.md). */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "backends/onednn/engine.h"
#include "backends/onednn/onednn.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "nn/passes/passes.h"

/* ==== OpenMP thread control
 * oneDNN here is an OpenMP build, so a primitive uses omp_get_max_threads() of the thread that
 * creates/runs it. The OpenMP runtime comes in with libdnnl; we look its two functions up at run
 * time instead of linking libgomp ourselves, so a non-OpenMP oneDNN still works (no-ops). */

static int (*omp_get_fn)(void);
static void (*omp_set_fn)(int);
static pthread_once_t omp_once = PTHREAD_ONCE_INIT;

static void omp_lookup(void)
{
    *(void **)&omp_get_fn = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    *(void **)&omp_set_fn = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
}

int odn_omp_get(void)
{
    pthread_once(&omp_once, omp_lookup);
    return omp_get_fn ? omp_get_fn() : 1;
}

void odn_omp_set(int n)
{
    pthread_once(&omp_once, omp_lookup);
    if (omp_set_fn && n > 0)
        omp_set_fn(n);
}

int irb_onednn_has_bf16(void)
{
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

/* ==== variants */

typedef struct odn_io {
    const int *ins, *outs;
    int n_in, n_out;
} odn_io;

static void mark_needed(const irb_graph *g, const odn_io *io, char *live, char *needed)
{
    for (int j = 0; j < io->n_out; j++)
        live[io->outs[j]] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const irb_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++) /* nodes folded into constants are not needed */
            if (n->out[k] >= 0 && live[n->out[k]] && !odn_is_const(g, n->out[k]))
                needed[i] = 1;
        if (needed[i])
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0)
                    live[n->in[k]] = 1;
    }
}

/* The layout of a run's input or output: plain, or N x H x W x C for rank 4 when the variant is
 * channels last (the convolutions' own layout: no reorder at either end). */
static void io_md(const odn_builder *b, dnnl_memory_desc_t *md, int rank, const int64_t *d)
{
    odn_plain_md(md, rank, d, dnnl_f32);
    if (b->v->nhwc && rank == 4) {
        dnnl_dims_t dims = {d[0], d[1], d[2], d[3]};
        dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_acdb);
    }
}

static irb_status bind_io(odn_builder *b, const odn_io *io)
{
    const irb_graph *g = b->g;
    for (int i = 0; i < io->n_in; i++) {
        int v = io->ins[i];
        const irb_value *val = &g->values[v];
        if (val->dtype != IRB_DT_FLOAT || val->rank < 1)
            return irb_fail(b->err, IRB_UNSUPPORTED, "onednn: input '%s' is not a float tensor", val->name);
        int64_t d[IRB_MAX_RANK];
        odn_value_dims(b, v, d);
        io_md(b, &b->acts[v].md, val->rank, d);
        int buf = odn_new_buf(b, dnnl_memory_desc_get_size(&b->acts[v].md), ODN_BUF_INPUT);
        if (buf < 0)
            return irb_fail(b->err, IRB_NOMEM, "onednn: out of memory");
        b->v->bufs[buf].io = i;
        b->v->bufs[buf].nvals = 1;
        b->acts[v].buf = buf;
    }
    return IRB_OK;
}

static irb_status bind_outputs(odn_builder *b, const odn_io *io)
{
    for (int j = 0; j < io->n_out; j++) {
        int v = io->outs[j];
        const irb_value *val = &b->g->values[v];
        if (b->acts[v].buf < 0)
            return irb_fail(b->err, IRB_INTERNAL, "onednn: output '%s' was not computed", val->name);
        int64_t d[IRB_MAX_RANK];
        odn_value_dims(b, v, d);
        dnnl_memory_desc_t md;
        io_md(b, &md, val->rank, d);
        size_t size = dnnl_memory_desc_get_size(&md);
        odn_buf *at = &b->v->bufs[b->acts[v].buf];
        if (at->where == ODN_BUF_ARENA && at->nvals == 1 && at->size == size &&
            dnnl_memory_desc_equal(&b->acts[v].md, &md)) {
            at->where = ODN_BUF_OUTPUT; /* its producer writes the caller's output: no copy */
            at->io = j;
            continue;
        }
        int buf = odn_new_buf(b, size, ODN_BUF_OUTPUT);
        if (buf < 0)
            return irb_fail(b->err, IRB_NOMEM, "onednn: out of memory");
        b->v->bufs[buf].io = j;
        IRB_TRY(odn_reorder_step(b, &b->acts[v], buf, &md, 1.0f, -1));
    }
    return IRB_OK;
}

static irb_status lower_all(odn_builder *b, const odn_io *io)
{
    const irb_graph *g = b->g;
    size_t nv = (size_t)g->n_values, nn = (size_t)g->n_nodes;
    char *live = irb_calloc(nv + 1, 1);
    b->acts = irb_malloc_array(nv + 1, sizeof *b->acts);
    b->n_cons = irb_calloc(nv + 1, sizeof *b->n_cons);
    b->n_outs = irb_calloc(nv + 1, sizeof *b->n_outs);
    b->needed = irb_calloc(nn + 1, 1);
    b->done = irb_calloc(nn + 1, 1);
    irb_status s = IRB_OK;
    if (!live || !b->acts || !b->n_cons || !b->n_outs || !b->needed || !b->done)
        s = irb_fail(b->err, IRB_NOMEM, "onednn: out of memory compiling a graph of %d nodes", g->n_nodes);
    if (s == IRB_OK) {
        for (size_t v = 0; v < nv; v++)
            b->acts[v] = (odn_act){.buf = -1, .scale = 1.0f};
        mark_needed(g, io, live, b->needed);
        for (int i = 0; i < g->n_nodes; i++)
            for (int k = 0; b->needed[i] && k < g->nodes[i].n_in; k++)
                if (g->nodes[i].in[k] >= 0)
                    b->n_cons[g->nodes[i].in[k]]++;
        for (int j = 0; j < io->n_out; j++)
            b->n_cons[io->outs[j]]++, b->n_outs[io->outs[j]]++;
        s = bind_io(b, io);
    }
    for (int i = 0; s == IRB_OK && i < g->n_nodes; i++)
        if (b->needed[i] && !b->done[i])
            s = odn_lower_node(b, i);
    if (s == IRB_OK)
        s = bind_outputs(b, io);
    if (s == IRB_OK)
        s = odn_plan_memory(b->v, b->err);
    irb_free(live);
    return s;
}

/* Lowers g for `batch` images (0: dims as in the IR) with primitives created for `nthreads`
 * OpenMP threads (the creating thread's setting is what oneDNN bakes into a primitive). */
static irb_status variant_new(const irb_graph *g, const odn_io *io, int batch, int nthreads, dnnl_data_type_t dt,
                              const float *range, const odn_variant *choices, dnnl_engine_t eng, irb_error *err,
                              odn_variant **out)
{
    odn_variant *v = irb_calloc(1, sizeof *v);
    if (!v)
        return irb_fail(err, IRB_NOMEM, "onednn: out of memory");
    v->batch = batch;
    v->nthreads = nthreads;
    v->dt = dt;
    v->int8 = range != NULL;
    v->winograd = choices->winograd;
    v->bands = choices->bands;
    v->nhwc = choices->nhwc;
    odn_builder b = {.g = g, .v = v, .eng = eng, .err = err, .range = range};
    int saved = odn_omp_get();
    odn_omp_set(nthreads);
    irb_status s = odn_check(&b, dnnl_stream_create(&b.stream, eng, dnnl_stream_default_flags), -1, "stream");
    if (s == IRB_OK)
        s = lower_all(&b, io);
    odn_omp_set(saved);
    if (b.stream)
        dnnl_stream_destroy(b.stream);
    irb_free(b.acts);
    irb_free(b.n_cons);
    irb_free(b.n_outs);
    irb_free(b.needed);
    irb_free(b.done);
    if (s != IRB_OK) {
        odn_variant_free(v);
        return s;
    }
    *out = v;
    return IRB_OK;
}

/* ==== activation memory: blocks shared by every context of the process
 * A context takes a block (its arena, then its scratchpad) for each run and gives it back after,
 * so nets that run one after the other (a pipeline's sizes) use the same memory: each new page
 * costs its first touch, several ms per MB on a paravirtualised host. A context takes back the
 * block it had when that one is free (its memory objects then need no rebinding), else the
 * smallest free one that fits; when none fits, the largest free one is dropped for a new block.
 * The blocks live while a plan (or an eval) does. */

typedef struct odn_block {
    void *p;
    size_t size;
} odn_block;

static pthread_mutex_t blocks_mu = PTHREAD_MUTEX_INITIALIZER;
static odn_block *blocks;
static int n_blocks, cap_blocks, block_users;

static void blocks_use(int delta)
{
    pthread_mutex_lock(&blocks_mu);
    block_users += delta;
    if (block_users == 0) {
        for (int i = 0; i < n_blocks; i++)
            irb_free(blocks[i].p);
        irb_free(blocks);
        blocks = NULL, n_blocks = cap_blocks = 0;
    }
    pthread_mutex_unlock(&blocks_mu);
}

static void *block_get(size_t need, const void *prefer, size_t *size)
{
    pthread_mutex_lock(&blocks_mu);
    int best = -1, largest = -1;
    for (int i = 0; i < n_blocks; i++) {
        if (blocks[i].size >= need && (blocks[i].p == prefer || best < 0 || blocks[i].size < blocks[best].size)) {
            best = i;
            if (blocks[i].p == prefer)
                break;
        }
        if (largest < 0 || blocks[i].size > blocks[largest].size)
            largest = i;
    }
    void *p = NULL;
    int drop = best < 0 ? largest : -1;
    if (best >= 0)
        p = blocks[best].p, *size = blocks[best].size;
    else if (drop >= 0)
        irb_free(blocks[drop].p);
    if (best >= 0 || drop >= 0)
        blocks[best >= 0 ? best : drop] = blocks[--n_blocks];
    pthread_mutex_unlock(&blocks_mu);
    if (!p && (p = irb_malloc_large(1, need)))
        *size = need;
    return p;
}

static void block_put(void *p, size_t size)
{
    pthread_mutex_lock(&blocks_mu);
    if (n_blocks == cap_blocks) {
        int cap = cap_blocks ? 2 * cap_blocks : 8;
        odn_block *nb = irb_realloc_array(blocks, (size_t)cap, sizeof *nb);
        if (nb)
            blocks = nb, cap_blocks = cap;
    }
    if (n_blocks < cap_blocks)
        blocks[n_blocks++] = (odn_block){p, size};
    else
        irb_free(p);
    pthread_mutex_unlock(&blocks_mu);
}

int irb_onednn_free_blocks(size_t *bytes)
{
    pthread_mutex_lock(&blocks_mu);
    int n = n_blocks;
    size_t total = 0;
    for (int i = 0; i < n_blocks; i++)
        total += blocks[i].size;
    pthread_mutex_unlock(&blocks_mu);
    if (bytes)
        *bytes = total;
    return n;
}

/* ==== contexts: a variant with its own stream, memory objects, and a block per run */

typedef struct odn_ctx {
    const odn_variant *v;
    dnnl_stream_t stream;
    size_t need;           /* bytes of block: arena, then scratchpad (aligned) */
    const void *last;      /* the block of the previous run (given back since) */
    char *bound;           /* the aligned block base the memory objects point into */
    dnnl_exec_arg_t *args; /* all steps' arguments, step i at args + arg_at[i] */
    int *arg_at;
    dnnl_memory_t *owned;
    int n_owned;
    dnnl_memory_t *io_mem; /* memory objects bound to the run's inputs/outputs */
    int *io_idx;           /* >= 0: input i; < 0: output -1 - j */
    size_t *io_off;        /* bytes into that input/output (a band of rows) */
    int n_io;
    dnnl_memory_t *blk_mem; /* memory objects in the block, at blk_off from its aligned base */
    size_t *blk_off;
    int n_blk;
} odn_ctx;

static void *align_ptr(void *p) { return (void *)(((uintptr_t)p + ODN_ALIGN - 1) & ~(uintptr_t)(ODN_ALIGN - 1)); }

static size_t align_size(size_t n) { return (n + ODN_ALIGN - 1) & ~(size_t)(ODN_ALIGN - 1); }

static void ctx_release(odn_ctx *c)
{
    for (int i = 0; i < c->n_owned; i++)
        dnnl_memory_destroy(c->owned[i]);
    if (c->stream)
        dnnl_stream_destroy(c->stream);
    irb_free(c->owned);
    irb_free(c->args);
    irb_free(c->arg_at);
    irb_free(c->io_mem);
    irb_free(c->io_idx);
    irb_free(c->io_off);
    irb_free(c->blk_mem);
    irb_free(c->blk_off);
    memset(c, 0, sizeof *c);
}

static irb_status ctx_bind_arg(odn_ctx *c, const odn_arg *a, dnnl_engine_t eng, dnnl_exec_arg_t *x, irb_error *err)
{
    x->arg = a->arg;
    if (a->kind == ODN_ARG_CONST) {
        x->memory = a->mem;
        return IRB_OK;
    }
    /* every other argument's memory is bound at run time: to the run's inputs and outputs, or
     * into the block (the arena at the buffer's offset, the scratchpad after the arena) */
    const odn_buf *bf = a->kind == ODN_ARG_BUF ? &c->v->bufs[a->buf] : NULL;
    dnnl_status_t st = dnnl_memory_create(&x->memory, &a->md, eng, DNNL_MEMORY_NONE);
    if (st != dnnl_success)
        return irb_fail(err, st == dnnl_out_of_memory ? IRB_NOMEM : IRB_INTERNAL,
                        "onednn: creating a memory object: %s", dnnl_status2str(st));
    c->owned[c->n_owned++] = x->memory;
    if (bf && bf->where != ODN_BUF_ARENA) {
        c->io_mem[c->n_io] = x->memory;
        c->io_off[c->n_io] = a->off;
        c->io_idx[c->n_io++] = bf->where == ODN_BUF_INPUT ? bf->io : -1 - bf->io;
    } else {
        c->blk_mem[c->n_blk] = x->memory;
        c->blk_off[c->n_blk++] = bf ? bf->offset + a->off : align_size(c->v->arena_size);
    }
    return IRB_OK;
}

static irb_status ctx_init(odn_ctx *c, const odn_variant *v, dnnl_engine_t eng, irb_error *err)
{
    memset(c, 0, sizeof *c);
    c->v = v;
    c->need = align_size(v->arena_size) + v->scratch_size + ODN_ALIGN;
    size_t total = 0;
    for (int i = 0; i < v->n_steps; i++)
        total += (size_t)v->steps[i].nargs;
    c->args = irb_malloc_array(total + 1, sizeof *c->args);
    c->arg_at = irb_malloc_array((size_t)v->n_steps + 1, sizeof *c->arg_at);
    c->owned = irb_malloc_array(total + 1, sizeof *c->owned);
    c->io_mem = irb_malloc_array(total + 1, sizeof *c->io_mem);
    c->io_idx = irb_malloc_array(total + 1, sizeof *c->io_idx);
    c->io_off = irb_malloc_array(total + 1, sizeof *c->io_off);
    c->blk_mem = irb_malloc_array(total + 1, sizeof *c->blk_mem);
    c->blk_off = irb_malloc_array(total + 1, sizeof *c->blk_off);
    if (!c->args || !c->arg_at || !c->owned || !c->io_mem || !c->io_idx || !c->io_off || !c->blk_mem || !c->blk_off) {
        ctx_release(c);
        return irb_fail(err, IRB_NOMEM, "onednn: out of memory for a context of %d steps", v->n_steps);
    }
    irb_status s = IRB_OK;
    dnnl_status_t ds = dnnl_stream_create(&c->stream, eng, dnnl_stream_default_flags);
    if (ds != dnnl_success)
        s = irb_fail(err, IRB_INTERNAL, "onednn: creating a stream: %s", dnnl_status2str(ds));
    size_t k = 0;
    for (int i = 0; s == IRB_OK && i < v->n_steps; i++) {
        c->arg_at[i] = (int)k;
        for (int j = 0; s == IRB_OK && j < v->steps[i].nargs; j++)
            s = ctx_bind_arg(c, &v->steps[i].args[j], eng, &c->args[k++], err);
    }
    if (s != IRB_OK)
        ctx_release(c);
    return s;
}

/* Runs the context's variant on inputs `in` and writes `out` (one pointer per graph input/output),
 * in a block taken for the run and given back after. */
static irb_status ctx_run(odn_ctx *c, const float *const *in, float *const *out, irb_error *err)
{
    size_t size = 0;
    void *block = block_get(c->need, c->last, &size);
    if (!block)
        return irb_fail(err, IRB_NOMEM, "onednn: out of memory for %zu bytes of activations", c->need);
    char *base = align_ptr(block);
    if (base != c->bound) {
        for (int i = 0; i < c->n_blk; i++)
            dnnl_memory_set_data_handle(c->blk_mem[i], base + c->blk_off[i]);
        c->bound = base;
    }
    for (int i = 0; i < c->n_io; i++) {
        int k = c->io_idx[i];
        char *at = k >= 0 ? (char *)(uintptr_t)in[k] : (char *)out[-1 - k];
        dnnl_memory_set_data_handle(c->io_mem[i], at + c->io_off[i]);
    }
    const odn_variant *v = c->v;
    irb_status s = IRB_OK;
    for (int i = 0; s == IRB_OK && i < v->n_steps; i++) {
        dnnl_status_t st =
            dnnl_primitive_execute(v->steps[i].prim, c->stream, v->steps[i].nargs, c->args + c->arg_at[i]);
        if (st != dnnl_success)
            s = irb_fail(err, IRB_INTERNAL, "onednn: step %d failed: %s", i, dnnl_status2str(st));
    }
    dnnl_status_t st = dnnl_stream_wait(c->stream);
    if (st != dnnl_success && s == IRB_OK)
        s = irb_fail(err, IRB_INTERNAL, "onednn: stream wait: %s", dnnl_status2str(st));
    block_put(block, size);
    c->last = block;
    return s;
}

/* ==== plans */

typedef struct odn_plan {
    dnnl_engine_t eng;
    irb_onednn_threading threading;
    int threads, max_batch;
    odn_variant *one;  /* batch 1 */
    odn_variant *many; /* batch max_batch (intra-op with max_batch > 1 only) */
    odn_ctx *ctx;      /* per-image: one per worker; intra-op: [0] for `one`, [1] for `many` */
    int n_ctx;
    irb_pool *pool;
    size_t in_elems, out_elems; /* per image */
    /* per run (per-image workers) */
    const float *in;
    float *out;
    int batch;
    atomic_int next, failed;
    irb_status *wstatus;
    irb_error *werr;
} odn_plan;

static void plan_free(void *vp)
{
    odn_plan *p = vp;
    if (!p)
        return;
    irb_pool_free(p->pool);
    for (int i = 0; i < p->n_ctx; i++)
        ctx_release(&p->ctx[i]);
    blocks_use(-1); /* every plan counts from its compile on */
    irb_free(p->ctx);
    odn_variant_free(p->one);
    odn_variant_free(p->many);
    irb_free(p->wstatus);
    irb_free(p->werr);
    if (p->eng)
        dnnl_engine_destroy(p->eng);
    irb_free(p);
}

static irb_status check_graph(const irb_graph *g, const irb_exec_opts *o, irb_error *err)
{
    if (!g || !o || g->input < 0 || g->input >= g->n_values || g->output < 0 || g->output >= g->n_values)
        return irb_fail(err, IRB_INVALID_ARG, "onednn: graph without an input/output value");
    if (g->values[g->input].rank != 4)
        return irb_fail(err, IRB_UNSUPPORTED, "onednn: input '%s' has rank %d, expected NCHW", g->values[g->input].name,
                        g->values[g->input].rank);
    if (o->threads < 1 || o->max_batch < 1)
        return irb_fail(err, IRB_INVALID_ARG, "onednn: threads (%d) and max_batch (%d) must be >= 1", o->threads,
                        o->max_batch);
    if (o->precision == IRB_EXEC_INT8 && !o->range)
        return irb_fail(err, IRB_INVALID_ARG, "onednn: int8 without calibration ranges");
    if (o->precision == IRB_EXEC_BF16 && !irb_onednn_has_bf16())
        return irb_fail(err, IRB_UNSUPPORTED,
                        "onednn: bf16 needs a CPU with AVX512-BF16; oneDNN reports ISA 0x%x here (use fp32)",
                        (unsigned)dnnl_get_effective_cpu_isa());
    return IRB_OK;
}

irb_status irb_onednn_compile(const irb_graph *g, const irb_exec_opts *o, const irb_onednn_opts *eo, void **plan,
                              irb_error *err)
{
    IRB_TRY(check_graph(g, o, err));
    irb_onednn_threading t = eo ? eo->threading : IRB_ONEDNN_AUTO;
    odn_variant choices = {.winograd = !(eo && eo->direct_conv), .bands = !(eo && eo->no_bands), .nhwc = o->nhwc};
    odn_plan *p = irb_calloc(1, sizeof *p);
    if (!p)
        return irb_fail(err, IRB_NOMEM, "onednn: out of memory");
    blocks_use(1);
    if (t == IRB_ONEDNN_AUTO)
        t = o->max_batch > 1 ? IRB_ONEDNN_PER_IMAGE : IRB_ONEDNN_INTRA_OP;
    p->threading = t;
    p->threads = o->threads;
    p->max_batch = o->max_batch;
    p->in_elems = 1;
    p->out_elems = 1;
    for (int i = 1; i < g->values[g->input].rank; i++)
        p->in_elems *= (size_t)g->values[g->input].dims[i];
    for (int i = 1; i < g->values[g->output].rank; i++)
        p->out_elems *= (size_t)g->values[g->output].dims[i];
    dnnl_data_type_t dt = o->precision == IRB_EXEC_BF16 ? dnnl_bf16 : dnnl_f32;
    const float *range = o->precision == IRB_EXEC_INT8 ? o->range : NULL;
    odn_io io = {.ins = &g->input, .outs = &g->output, .n_in = 1, .n_out = 1};
    int per_image = t == IRB_ONEDNN_PER_IMAGE;
    int kernel_threads = per_image ? 1 : o->threads;
    irb_status s = IRB_OK;
    dnnl_status_t ds = dnnl_engine_create(&p->eng, dnnl_cpu, 0);
    if (ds != dnnl_success)
        s = irb_fail(err, IRB_INTERNAL, "onednn: no CPU engine: %s", dnnl_status2str(ds));
    if (s == IRB_OK)
        s = variant_new(g, &io, 1, kernel_threads, dt, range, &choices, p->eng, err, &p->one);
    if (s == IRB_OK && !per_image && o->max_batch > 1)
        s = variant_new(g, &io, o->max_batch, kernel_threads, dt, range, &choices, p->eng, err, &p->many);
    int n_ctx = per_image ? o->threads : (p->many ? 2 : 1);
    if (s == IRB_OK) {
        p->ctx = irb_calloc((size_t)n_ctx, sizeof *p->ctx);
        p->wstatus = irb_calloc((size_t)n_ctx, sizeof *p->wstatus);
        p->werr = irb_calloc((size_t)n_ctx, sizeof *p->werr);
        if (!p->ctx || !p->wstatus || !p->werr)
            s = irb_fail(err, IRB_NOMEM, "onednn: out of memory");
        else
            p->n_ctx = n_ctx;
    }
    for (int i = 0; s == IRB_OK && i < p->n_ctx; i++) {
        s = ctx_init(&p->ctx[i], i == 1 && p->many ? p->many : p->one, p->eng, err);
        if (s != IRB_OK)
            p->n_ctx = i;
    }
    if (s == IRB_OK && per_image && o->threads > 1 && !(p->pool = irb_pool_new(o->threads)))
        s = irb_fail(err, IRB_NOMEM, "onednn: cannot start %d worker threads", o->threads);
    if (s != IRB_OK) {
        plan_free(p);
        return s;
    }
    *plan = p;
    return IRB_OK;
}

static irb_status onednn_compile(const irb_graph *g, const irb_exec_opts *o, void **plan, irb_error *err)
{
    return irb_onednn_compile(g, o, NULL, plan, err);
}

static irb_status run_one(odn_plan *p, odn_ctx *c, int i, irb_error *err)
{
    const float *in = p->in + (size_t)i * p->in_elems;
    float *out = p->out + (size_t)i * p->out_elems;
    return ctx_run(c, &in, &out, err);
}

static void worker(void *ctx, int ith, int nth)
{
    (void)nth;
    odn_plan *p = ctx;
    int saved = odn_omp_get();
    odn_omp_set(1); /* this thread's primitives run single-threaded */
    for (;;) {
        int i = atomic_fetch_add(&p->next, 1);
        if (i >= p->batch || atomic_load(&p->failed))
            break;
        p->wstatus[ith] = run_one(p, &p->ctx[ith], i, &p->werr[ith]);
        if (p->wstatus[ith] != IRB_OK) {
            atomic_store(&p->failed, 1);
            break;
        }
    }
    odn_omp_set(saved);
}

static irb_status run_per_image(odn_plan *p, irb_error *err)
{
    atomic_store(&p->next, 0);
    atomic_store(&p->failed, 0);
    for (int i = 0; i < p->n_ctx; i++)
        p->wstatus[i] = IRB_OK;
    if (p->pool && p->batch > 1)
        irb_pool_run(p->pool, worker, p);
    else
        worker(p, 0, 1);
    for (int i = 0; i < p->n_ctx; i++)
        if (p->wstatus[i] != IRB_OK) {
            irb_error_copy(err, &p->werr[i]);
            return p->wstatus[i];
        }
    return IRB_OK;
}

static irb_status run_intra_op(odn_plan *p, irb_error *err)
{
    int saved = odn_omp_get();
    odn_omp_set(p->threads);
    irb_status s = IRB_OK;
    int i = 0;
    for (; s == IRB_OK && p->many && p->batch - i >= p->max_batch; i += p->max_batch)
        s = run_one(p, &p->ctx[1], i, err);
    for (; s == IRB_OK && i < p->batch; i++)
        s = run_one(p, &p->ctx[0], i, err);
    odn_omp_set(saved);
    return s;
}

static irb_status onednn_run(void *plan, const float *input, int batch, float *output, irb_error *err)
{
    odn_plan *p = plan;
    if (!p || !input || !output || batch < 1 || batch > p->max_batch)
        return irb_fail(err, IRB_INVALID_ARG, "onednn: run with batch %d (compiled for at most %d)", batch,
                        p ? p->max_batch : 0);
    p->in = input;
    p->out = output;
    p->batch = batch;
    return p->threading == IRB_ONEDNN_PER_IMAGE ? run_per_image(p, err) : run_intra_op(p, err);
}

static int onednn_slots(const void *plan)
{
    const odn_plan *p = plan;
    return p && p->threading == IRB_ONEDNN_PER_IMAGE ? p->n_ctx : 0;
}

/* One image on per-image context `slot`, in the calling thread (single-threaded primitives, as
 * the plan's own workers run them). */
static irb_status onednn_run_slot(void *plan, int slot, const float *input, float *output, irb_error *err)
{
    odn_plan *p = plan;
    if (!p || !input || !output || slot < 0 || slot >= onednn_slots(p))
        return irb_fail(err, IRB_INVALID_ARG, "onednn: run on slot %d of %d", slot, onednn_slots(p));
    int saved = odn_omp_get();
    odn_omp_set(1);
    irb_status s = ctx_run(&p->ctx[slot], &input, &output, err);
    odn_omp_set(saved);
    return s;
}

void irb_onednn_plan_info(const void *plan, irb_onednn_info *info)
{
    const odn_plan *p = plan;
    memset(info, 0, sizeof *info);
    info->threading = p->threading;
    info->threads = p->threads;
    info->max_batch = p->max_batch;
    const odn_variant *v = p->one;
    info->steps = v->n_steps;
    info->int8_steps = v->int8_steps;
    info->winograd_steps = v->winograd_steps;
    info->band_chains = v->band_chains;
    for (int i = 0; i < v->n_steps; i++)
        info->reorders += v->steps[i].node < 0;
    info->arena_bytes = v->arena_size;
    for (int i = 0; i < v->n_bufs; i++)
        if (v->bufs[i].where == ODN_BUF_ARENA)
            info->naive_bytes += v->bufs[i].size;
    for (int k = 0; k < 2; k++) {
        const odn_variant *w = k ? p->many : p->one;
        for (int i = 0; w && i < w->n_consts; i++)
            info->weight_bytes += w->consts[i].size;
    }
}

/* ==== general evaluation (conformance tests): the graph as loaded, inputs of any shape */

/* 1 if every use of value v is a parameter slot (weights, bias, statistics, clip bounds, shapes,
 * axes). */
static int parameter_only(const irb_graph *g, int v)
{
    int uses = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        const irb_node *n = &g->nodes[k];
        for (int i = 0; i < n->n_in; i++) {
            if (n->in[i] != v)
                continue;
            uses++;
            int param = (n->op == IRB_OP_CONV && i >= 1) ||
                        ((n->op == IRB_OP_GEMM || n->op == IRB_OP_MATMUL) && i >= 1) ||
                        (n->op == IRB_OP_BATCHNORM && i >= 1) || (n->op == IRB_OP_CLIP && i >= 1) ||
                        ((n->op == IRB_OP_RESHAPE || n->op == IRB_OP_SQUEEZE || n->op == IRB_OP_UNSQUEEZE) && i == 1);
            if (!param)
                return 0;
        }
    }
    return uses > 0;
}

/* The conformance graphs pass weights as graph inputs; the engine packs constants, so such
 * inputs become constants of the copy, then shapes are inferred and constants folded. */
static irb_status eval_prepare(irb_graph *c, const irb_tensor *in, irb_error *err)
{
    for (int i = 0; i < c->n_inputs; i++) {
        irb_value *v = &c->values[c->inputs[i]];
        v->dtype = in[i].dtype;
        v->rank = in[i].rank;
        memcpy(v->dims, in[i].dims, sizeof v->dims);
        if (parameter_only(c, c->inputs[i])) {
            if (!(v->data = irb_malloc(in[i].nbytes ? in[i].nbytes : 1)))
                return irb_fail(err, IRB_NOMEM, "onednn: out of memory");
            memcpy(v->data, in[i].data, in[i].nbytes);
            v->nbytes = in[i].nbytes;
        }
    }
    IRB_TRY(irb_pass_infer_fold(c, err));
    for (int k = 0; k < c->n_nodes; k++) {
        const irb_node *n = &c->nodes[k];
        int folded = 1;
        for (int o = 0; o < n->n_out; o++)
            folded &= n->out[o] < 0 || odn_is_const(c, n->out[o]);
        if (folded)
            continue;
        if (!odn_supports_general(c, k, 1))
            return irb_fail(err, IRB_UNSUPPORTED, "onednn: node '%s': no oneDNN lowering for %s with these inputs",
                            odn_node_label(c, k), irb_op_name(n->op));
        for (int i = 0; i < n->n_in + n->n_out; i++) {
            int v = i < n->n_in ? n->in[i] : n->out[i - n->n_in];
            if (v >= 0 && (c->values[v].rank < 1 || c->values[v].rank > 6))
                return irb_fail(err, IRB_UNSUPPORTED, "onednn: node '%s': tensor '%s' of rank %d", odn_node_label(c, k),
                                c->values[v].name, c->values[v].rank);
        }
    }
    return IRB_OK;
}

static irb_status eval_run(const irb_graph *c, const irb_tensor *in, irb_tensor *out, const float *range,
                           int *int8_steps, irb_error *err)
{
    int *ins = irb_calloc((size_t)c->n_inputs + 1, sizeof *ins),
        *outs = irb_calloc((size_t)c->n_outputs + 1, sizeof *outs);
    const float **inp = irb_calloc((size_t)c->n_inputs + 1, sizeof *inp);
    float **outp = irb_calloc((size_t)c->n_outputs + 1, sizeof *outp);
    odn_variant *v = NULL;
    odn_ctx ctx = {0};
    dnnl_engine_t eng = NULL;
    irb_status s = ins && outs && inp && outp ? IRB_OK : irb_fail(err, IRB_NOMEM, "onednn: out of memory");
    int n_in = 0, n_out = 0;
    for (int i = 0; s == IRB_OK && i < c->n_inputs; i++)
        if (!odn_is_const(c, c->inputs[i])) {
            inp[n_in] = in[i].data;
            ins[n_in++] = c->inputs[i];
        }
    for (int j = 0; s == IRB_OK && j < c->n_outputs; j++) {
        const irb_value *val = &c->values[c->outputs[j]];
        out[j] = (irb_tensor){.dtype = val->dtype, .rank = val->rank};
        memcpy(out[j].dims, val->dims, sizeof out[j].dims);
        out[j].nbytes = (size_t)irb_numel(val->rank, val->dims) * irb_dtype_size(val->dtype);
        if (!(out[j].data = irb_malloc(out[j].nbytes ? out[j].nbytes : 1)))
            s = irb_fail(err, IRB_NOMEM, "onednn: out of memory for outputs");
        else if (val->data)
            memcpy(out[j].data, val->data, out[j].nbytes);
        else {
            outp[n_out] = out[j].data;
            outs[n_out++] = c->outputs[j];
        }
    }
    odn_io io = {.ins = ins, .outs = outs, .n_in = n_in, .n_out = n_out};
    if (s == IRB_OK && n_out > 0) {
        dnnl_status_t ds = dnnl_engine_create(&eng, dnnl_cpu, 0);
        s = ds == dnnl_success ? IRB_OK : irb_fail(err, IRB_INTERNAL, "onednn: no CPU engine");
        if (s == IRB_OK)
            s = variant_new(c, &io, 0, odn_omp_get(), dnnl_f32, range, &(odn_variant){.winograd = 1}, eng, err, &v);
        if (s == IRB_OK && int8_steps)
            *int8_steps = v->int8_steps;
        blocks_use(1);
        if (s == IRB_OK)
            s = ctx_init(&ctx, v, eng, err);
        if (s == IRB_OK)
            s = ctx_run(&ctx, inp, outp, err);
        ctx_release(&ctx);
        blocks_use(-1);
    }
    for (int j = 0; s != IRB_OK && j < c->n_outputs; j++)
        irb_tensor_release(&out[j]);
    odn_variant_free(v);
    if (eng)
        dnnl_engine_destroy(eng);
    irb_free(ins), irb_free(outs), irb_free(inp), irb_free(outp);
    return s;
}

static irb_status onednn_eval(const irb_graph *g, const irb_tensor *in, irb_tensor *out, irb_error *err)
{
    irb_graph c;
    IRB_TRY(irb_graph_copy(g, &c, err));
    irb_status s = eval_prepare(&c, in, err);
    if (s == IRB_OK)
        s = eval_run(&c, in, out, NULL, NULL, err);
    irb_graph_release(&c);
    return s;
}

irb_status irb_onednn_eval_int8(const irb_graph *g, const irb_tensor *in, irb_tensor *out, const float *range,
                                int *int8_steps, irb_error *err)
{
    irb_graph c;
    IRB_TRY(irb_graph_copy(g, &c, err));
    irb_status s = eval_prepare(&c, in, err);
    if (s == IRB_OK)
        s = eval_run(&c, in, out, range, int8_steps, err);
    irb_graph_release(&c);
    return s;
}

const irb_backend irb_backend_onednn = {
    .name = "onednn",
    .supports = odn_supports,
    .compile = onednn_compile,
    .run = onednn_run,
    .destroy = plan_free,
    .eval = onednn_eval,
    .slots = onednn_slots,
    .run_slot = onednn_run_slot,
    .channels_last = 1,
};

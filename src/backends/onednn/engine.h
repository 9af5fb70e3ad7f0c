/* Internals of the oneDNN engine (docs/engine.md). compile() lowers an irb_graph into a
 * "variant": a list of steps (one oneDNN primitive each, with its arguments), for one batch size
 * and one OpenMP thread count. A "context" binds a variant to its own stream, activation arena,
 * scratchpad and memory objects, so several contexts run the same variant concurrently.
 *
 *   ops.c     one builder per IR op (conv with fused post-ops, pooling, inner product, ...)
 *   plan.c    the builder's bookkeeping: activations, buffers, liveness, memory planning
 *   engine.c  the irb_backend vtable, contexts, threads, run()
 */
#ifndef IRB_ONEDNN_ENGINE_H
#define IRB_ONEDNN_ENGINE_H

#include <oneapi/dnnl/dnnl.h>

#include "core/error.h"
#include "nn/backend.h"

#define ODN_MAX_ARGS 10
#define ODN_ALIGN    64
#define ODN_SLAB     ((size_t)16 << 20)

/* Where an argument's memory lives. */
enum { ODN_ARG_BUF, ODN_ARG_CONST, ODN_ARG_SCRATCH };
/* Buffers that are not in the arena: the run's input and output, bound per run. */
enum { ODN_BUF_ARENA, ODN_BUF_INPUT, ODN_BUF_OUTPUT };

typedef struct odn_buf {
    size_t size;
    int first, last; /* steps that write it first and read it last */
    int where;       /* ODN_BUF_* */
    int nvals;       /* IR values living in it (views share a buffer) */
    int io;          /* ODN_BUF_INPUT/OUTPUT: which input/output of the run */
    size_t offset;   /* in the arena, after planning */
} odn_buf;

/* An activation: an IR value's buffer and layout in this variant. */
typedef struct odn_act {
    int buf; /* -1: not computed (fused away or not needed) */
    dnnl_memory_desc_t md;
    float scale; /* s8/u8: stored = real * scale (docs/int8.md); else unused (1) */
} odn_act;

typedef struct odn_arg {
    int arg;  /* DNNL_ARG_* */
    int kind; /* ODN_ARG_* */
    int buf;  /* ODN_ARG_BUF */
    dnnl_memory_desc_t md;
    size_t off;        /* ODN_ARG_BUF: bytes into the buffer (a band of rows; docs/engine.md) */
    dnnl_memory_t mem; /* ODN_ARG_CONST: shared, read-only; owned by the variant */
} odn_arg;

typedef struct odn_step {
    dnnl_primitive_t prim;
    int borrowed; /* prim belongs to an earlier step (bands of one shape share a primitive) */
    int node;     /* IR node for messages, -1 for inserted reorders */
    int nargs;
    odn_arg args[ODN_MAX_ARGS];
} odn_step;

typedef struct odn_const {
    dnnl_memory_t mem;
    size_t size; /* bytes behind mem, in one of the variant's slabs */
} odn_const;

typedef struct odn_variant {
    int batch;           /* images per run; 0: the IR's dims are used as they are (general evaluation) */
    int nthreads;        /* OpenMP threads the primitives were created for */
    dnnl_data_type_t dt; /* activation type: f32 or bf16 (int8 variants: of the layers that fall back) */
    int int8;            /* convolutions run s8/u8 where the calibration covers them */
    int int8_steps;      /* of the steps, int8 convolutions */
    int winograd;        /* fp32 3x3 stride-1 convolutions may use oneDNN's Winograd kernels */
    int winograd_steps;  /* of the steps, Winograd convolutions */
    int bands;           /* large-map conv chains may run in bands of rows (docs/engine.md) */
    int nhwc;            /* the run's input, and its rank-4 outputs, are N x H x W x C (channels last) */
    int band_chains;     /* of the conv chains, how many run in bands */
    odn_step *steps;
    int n_steps, cap_steps;
    odn_buf *bufs;
    int n_bufs, cap_bufs;
    odn_const *consts;
    int n_consts, cap_consts;
    /* the packed constants' storage: slabs of >= ODN_SLAB bytes on transparent huge pages
     * (alloc.h), filled in order, freed with the variant: one page fault per 2 MiB while the
     * weights are packed instead of one per 4 KiB (docs/engine.md) */
    void **slabs;
    int n_slabs;
    size_t slab_used, slab_cap;
    size_t arena_size, scratch_size;
} odn_variant;

/* Compile-time state, freed when the variant is built. */
typedef struct odn_builder {
    const irb_graph *g;
    odn_variant *v;
    dnnl_engine_t eng;
    dnnl_stream_t stream; /* for packing weights at compile time */
    irb_error *err;
    odn_act *acts;      /* per IR value */
    int *n_cons;        /* consumers per IR value (+1 for each output it is bound to) */
    int *n_outs;        /* per IR value: how many of the run's outputs it is */
    char *needed;       /* per node: contributes to g->output */
    char *done;         /* per node: already lowered (fused into an earlier node) */
    const float *range; /* int8: per value [min, max] or NaN (irb_exec_opts.range) */
} odn_builder;

/* ---- plan.c */
const char *odn_node_label(const irb_graph *g, int node);
irb_status odn_check(odn_builder *b, dnnl_status_t s, int node, const char *what);
int odn_new_buf(odn_builder *b, size_t size, int where);
/* Appends a step running pd's primitive; args are filled by the caller through odn_arg_*. */
irb_status odn_add_step(odn_builder *b, const_dnnl_primitive_desc_t pd, int node, odn_step **out);
/* Appends a step running step `owner`'s primitive again (with its own arguments). */
irb_status odn_add_step_again(odn_builder *b, int owner, int node, odn_step **out);
void odn_arg_buf(odn_builder *b, odn_step *s, int arg, int buf, const dnnl_memory_desc_t *md, int write);
/* The same for md at `off` bytes into the buffer. */
void odn_arg_buf_at(odn_builder *b, odn_step *s, int arg, int buf, const dnnl_memory_desc_t *md, int write, size_t off);
void odn_arg_const(odn_step *s, int arg, dnnl_memory_t mem, const dnnl_memory_desc_t *md);
/* Adds the scratchpad argument when pd needs one and grows the variant's scratchpad size. */
void odn_arg_scratch(odn_builder *b, odn_step *s, const_dnnl_primitive_desc_t pd);
/* A constant in layout `md` made from row-major float data of layout `src_md` (reordered, and
 * converted to md's data type, once at compile time). */
irb_status odn_const_from(odn_builder *b, const float *data, const dnnl_memory_desc_t *src_md,
                          const dnnl_memory_desc_t *md, int node, dnnl_memory_t *out);
/* v's activation in layout md: itself if it already is, else a reorder into a new buffer. */
irb_status odn_act_as(odn_builder *b, int v, const dnnl_memory_desc_t *md, int node, odn_act *out);
/* The same, but with force = 1 always a copy into a new buffer (for in-place accumulation). */
irb_status odn_act_copy(odn_builder *b, int v, const dnnl_memory_desc_t *md, int node, int force, odn_act *out);
/* Appends a reorder of src into buffer buf with layout md, whose values are real * dst_scale
 * (1 for f32/bf16): src's scale is divided out, dst_scale applied. */
irb_status odn_reorder_step(odn_builder *b, const odn_act *src, int buf, const dnnl_memory_desc_t *md, float dst_scale,
                            int node);
/* int8 variants: 1 and the s8/u8 type and scale for IR value v when it is calibrated (u8 when
 * its minimum is >= 0), else 0. */
int odn_quant(const odn_builder *b, int v, dnnl_data_type_t *dt, float *scale);
int odn_is_int8(dnnl_data_type_t dt);
/* The scale of value v stored as type dt: odn_quant's for s8/u8, else 1. */
float odn_scale_for(const odn_builder *b, int v, dnnl_data_type_t dt);
/* A constant like odn_const_from, quantized on the way: per-output-channel scales (count values,
 * mask over md's dims, as dnnl_primitive_attr_set_output_scales takes them). */
irb_status odn_const_scaled(odn_builder *b, const float *data, const dnnl_memory_desc_t *src_md,
                            const dnnl_memory_desc_t *md, int count, int mask, const float *scales, int node,
                            dnnl_memory_t *out);
/* Plain (row-major) layout of the given dims and type. */
void odn_plain_md(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt);
/* IR value v's dims; for activations (not constants) dims[0] is set to the variant's batch. */
void odn_value_dims(const odn_builder *b, int v, int64_t *dims);
int odn_is_const(const irb_graph *g, int v);
/* Assigns arena offsets by liveness; call once all steps are built. */
irb_status odn_plan_memory(odn_variant *v, irb_error *err);
void odn_variant_free(odn_variant *v);

/* ---- ops.c */
int odn_supports(const irb_graph *g, int node);
/* general = 1: for general evaluation (no batch dimension to keep leading). */
int odn_supports_general(const irb_graph *g, int node, int general);
irb_status odn_lower_node(odn_builder *b, int node);

/* ---- engine.c: OpenMP thread count of the calling thread (no-op without an OpenMP runtime). */
int odn_omp_get(void);
void odn_omp_set(int n);

#endif

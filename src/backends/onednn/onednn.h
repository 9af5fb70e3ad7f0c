/* The oneDNN engine's own entry points beyond the irb_backend vtable (src/nn/backend.h): the
 * threading choice (for benchmarks and experiments) and a description of a compiled plan.
 * docs/engine.md explains both threading schemes and the measurements behind the default. */
#ifndef IRB_ONEDNN_H
#define IRB_ONEDNN_H

#include <stddef.h>

#include "nn/backend.h"

typedef enum irb_onednn_threading {
    IRB_ONEDNN_AUTO = 0,  /* per-image workers when max_batch > 1, else intra-op */
    IRB_ONEDNN_INTRA_OP,  /* one stream; every primitive runs on `threads` OpenMP threads */
    IRB_ONEDNN_PER_IMAGE, /* `threads` workers, one image each, single-threaded primitives */
} irb_onednn_threading;

/* Engine choices beyond irb_exec_opts; zeroed = the defaults the library's engine uses. */
typedef struct irb_onednn_opts {
    irb_onednn_threading threading;
    int direct_conv; /* 1: never Winograd (fp32 3x3 stride-1 convolutions use it where oneDNN has it) */
    int no_bands;    /* 1: every layer whole (large-map conv chains run in bands of rows by default) */
} irb_onednn_opts;

/* compile() with explicit engine choices (NULL: the defaults). Same contract as irb_backend.compile. */
irb_status irb_onednn_compile(const irb_graph *g, const irb_exec_opts *o, const irb_onednn_opts *eo, void **plan,
                              irb_error *err);

/* 1 if this CPU runs bf16 natively (AVX512-BF16 or newer, as oneDNN reports it). */
int irb_onednn_has_bf16(void);

typedef struct irb_onednn_info {
    irb_onednn_threading threading;
    int threads, max_batch;
    int steps;           /* primitives per image (batch-1 variant) */
    int reorders;        /* of which layout reorders (input/output included) */
    int int8_steps;      /* of which int8 convolutions (int8 plans) */
    int winograd_steps;  /* of which Winograd convolutions (fp32) */
    int band_chains;     /* conv chains run in bands of rows (docs/engine.md, "Bands") */
    size_t arena_bytes;  /* activation memory per context (batch-1 variant) */
    size_t naive_bytes;  /* the same without buffer reuse */
    size_t weight_bytes; /* packed constants (all variants) */
} irb_onednn_info;

void irb_onednn_plan_info(const void *plan, irb_onednn_info *info);

/* The activation blocks the process's contexts share (docs/engine.md, "Activation memory"):
 * how many are free now (every run has given its block back) and their bytes. For tests. */
int irb_onednn_free_blocks(size_t *bytes);

/* irb_backend.eval with int8 convolutions (conformance tests, docs/int8.md): range as
 * irb_exec_opts.range for g's values; every conv whose input and output have a range runs int8,
 * the one reading a graph input too. *int8_steps (may be NULL) gets how many did. */
irb_status irb_onednn_eval_int8(const irb_graph *g, const irb_tensor *in, irb_tensor *out, const float *range,
                                int *int8_steps, irb_error *err);

#endif

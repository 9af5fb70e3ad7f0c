/* The engine interface: a compiled, runnable form of an irb_graph. The plain-C reference
 * engine (src/nn/reference/) supports every op and is the test oracle; oneDNN
 * (src/backends/onednn/) is the fast path. The graph handed to compile() has already been
 * through the passes in src/nn/passes/: constants folded (no Shape/Gather/... chains left),
 * Identity/Dropout removed, BatchNorm folded into the Conv before it where possible, cut at the
 * requested value (g->output), and every value's shape inferred with batch 1. */
#ifndef IRB_NN_BACKEND_H
#define IRB_NN_BACKEND_H

#include "nn/ir.h"

typedef enum irb_precision_internal { IRB_EXEC_FP32 = 0, IRB_EXEC_BF16 = 1, IRB_EXEC_INT8 = 2 } irb_exec_precision;

typedef struct irb_exec_opts {
    irb_exec_precision precision;
    int threads;   /* worker threads (>= 1) */
    int max_batch; /* largest batch run() will be given */
    /* INT8: per value v of the graph, range[2v] = min and range[2v+1] = max seen in calibration;
     * NaN for a value without one (its producer runs in fp32). Borrowed for compile(). */
    const float *range;
    /* Reference engine: when set, run() calls observe(observe_ctx, v, data, n) for every node
     * output v of every image, after computing it (calibration). */
    void (*observe)(void *ctx, int value, const float *data, size_t n);
    void *observe_ctx;
    /* 1: run()'s input is batch x H x W x C, and a rank-4 output batch x H x W x C (channels
     * last), for an engine with channels_last set; else NCHW (irb_net_opts.channels_last). */
    int nhwc;
} irb_exec_opts;

typedef struct irb_backend {
    const char *name;
    /* 1 if this engine can run node `node` of g as compiled. */
    int (*supports)(const irb_graph *g, int node);
    /* Plans everything (kernels, packed weights, activation memory) so that run() neither
     * allocates nor parses. The graph is borrowed only for the call. */
    irb_status (*compile)(const irb_graph *g, const irb_exec_opts *o, void **plan, irb_error *err);
    /* input: batch x C x H x W float32 (NCHW, the graph input's C/H/W); output: batch x K float32
     * where K is the product of g->output's dims after the batch. batch <= max_batch. */
    irb_status (*run)(void *plan, const float *input, int batch, float *output, irb_error *err);
    void (*destroy)(void *plan);
    /* ---- appended (docs/nn.md) */
    /* General evaluation, for conformance tests: evaluates the whole graph g (as loaded, not cut;
     * inputs of any rank and dtype) for in[i] = the value g->inputs[i], and writes out[i] for
     * g->outputs[i]; out[i].data is irb_malloc'd, the caller frees it with irb_tensor_release.
     * May be NULL for an engine that offers no general evaluation. */
    irb_status (*eval)(const irb_graph *g, const irb_tensor *in, irb_tensor *out, irb_error *err);
    /* Per-image workers a caller can drive itself (NULL, or 0: none): slots(plan) is how many,
     * and run_slot(plan, k, in, out, err) runs one image on slot k in the calling thread, with
     * the same results as run(). One thread at a time per slot; different slots concurrently. */
    int (*slots)(const void *plan);
    irb_status (*run_slot)(void *plan, int slot, const float *input, float *output, irb_error *err);
    /* 1: compile() honours irb_exec_opts.nhwc; 0: the net transposes around run() instead. */
    int channels_last;
} irb_backend;

extern const irb_backend irb_backend_reference;
extern const irb_backend irb_backend_onednn;

/* The engine registry (src/nn/registry.c): "reference", "onednn" (when it was built into the
 * library) or "auto" (the fastest available). Returns NULL for a name that is not available. */
const irb_backend *irb_backend_find(const char *name);

#endif

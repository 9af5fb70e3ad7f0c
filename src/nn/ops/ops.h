/* The per-op contract of the reference engine (docs/nn.md): each op file under src/nn/ops/
 * defines one irb_op_impl; ops.c is the one dispatch table.
 *
 *   infer(n, in, out, err)   fills out[k].dtype/rank/dims from the inputs' dtype/rank/dims (and
 *                            their data where the op needs it: Reshape's shape, axes inputs;
 *                            in[i]->data may be NULL for a non-constant input while shapes are
 *                            inferred statically). Never touches out[k].data.
 *   scratch(n, in, out)      bytes of scratch exec() needs (NULL: none).
 *   exec(n, in, out, s, err) computes out[k].data (allocated by the caller, out[k].nbytes) from
 *                            in[i]->data. Never allocates.
 * in[] has n->n_in entries; an omitted optional input is NULL. */
#ifndef IRB_NN_OPS_H
#define IRB_NN_OPS_H

#include "core/error.h"
#include "nn/ir.h"

typedef struct irb_op_impl {
    irb_status (*infer)(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err);
    size_t (*scratch)(const irb_node *n, const irb_tensor *const *in, const irb_tensor *out);
    irb_status (*exec)(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *scratch, irb_error *err);
} irb_op_impl;

/* The implementation of op (never NULL for op < IRB_OP_COUNT; Constant has no exec because the
 * importer turns Constant nodes into constant values). */
const irb_op_impl *irb_op_impl_get(irb_op op);

/* A failure naming the node: "Conv node 'conv1': <message>". */
irb_status irb_op_fail(irb_error *err, const irb_node *n, irb_status s, const char *fmt, ...) IRB_PRINTF(4, 5);
/* Runs n once, the reference way: out[k] hold the shapes infer() gave; allocates out[k].data
 * (sizes checked), the scratch, and calls exec. The caller owns out[k].data after IRB_OK; on
 * failure every output is released. The constant folder and the reference engine both run
 * nodes through here. */
irb_status irb_op_run(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err);
/* Normalises axis into [0, rank) (or [0, rank] with inclusive); 0 if out of range. */
int irb_axis(int64_t axis, int rank, int inclusive, int *out);
/* Checks that input i is present with dtype dt (dt 0: float or int64 or int32). */
irb_status irb_op_need(const irb_node *n, const irb_tensor *const *in, int i, irb_dtype dt, irb_error *err);
/* Reads element k of an int32/int64 tensor as int64. */
int64_t irb_tensor_int(const irb_tensor *t, int64_t k);
/* out = in's dtype and shape. */
void irb_same_shape(const irb_tensor *in, irb_tensor *out);

/* The float elementwise ops (Relu, Sigmoid, HardSigmoid, HardSwish): each file gives its scalar
 * function f and takes irb_unary_infer (input 0 float, out its shape) and an exec calling
 * irb_unary_map, which is inline so that f is inlined into the loop. */
irb_status irb_unary_infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err);
static inline void irb_unary_map(const irb_node *n, const irb_tensor *x, irb_tensor *y,
                                 float (*f)(const irb_node *n, float v))
{
    const float *src = x->data;
    float *dst = y->data;
    int64_t count = irb_numel(y->rank, y->dims);
    for (int64_t i = 0; i < count; i++)
        dst[i] = f(n, src[i]);
}

extern const irb_op_impl irb_op_conv, irb_op_relu, irb_op_clip, irb_op_sigmoid, irb_op_hardsigmoid, irb_op_hardswish,
    irb_op_add, irb_op_mul, irb_op_maxpool, irb_op_avgpool, irb_op_globalavgpool, irb_op_batchnorm, irb_op_gemm,
    irb_op_matmul, irb_op_softmax, irb_op_flatten, irb_op_reshape, irb_op_squeeze, irb_op_unsqueeze, irb_op_identity,
    irb_op_dropout, irb_op_shape, irb_op_gather, irb_op_concat, irb_op_constant;

/* Shared by Conv and the pools: output size and begin/end pads of one spatial axis. */
irb_status irb_window(const irb_node *n, int axis, int64_t in, int64_t k, int64_t stride, int64_t dil, int ceil_mode,
                      int64_t *out, int64_t *pad0, int64_t *pad1, irb_error *err);

/* Numpy (multidirectional) broadcasting for binary elementwise ops (broadcast.c). */
irb_status irb_broadcast_infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err);
typedef enum { IRB_BIN_ADD, IRB_BIN_MUL } irb_binop;
void irb_broadcast_apply(irb_binop op, const irb_tensor *a, const irb_tensor *b, irb_tensor *out);

#endif

/* The irbis network IR: what the ONNX importer (src/nn/onnx/) produces and every pass,
 * the reference executor (src/nn/reference/) and the engines (src/backends/) consume.
 * Only src/nn/onnx/ knows ONNX; op names become irb_op values at load time.
 *
 * A graph is a list of values (tensors) and a topologically sorted list of nodes. Values with
 * data != NULL are constants (initializers, Constant outputs, folded shape chains). Shapes are
 * NCHW for images; dims[0] of activations is the batch, stored as 1 in the IR and chosen at run
 * time. Extend this contract by appending fields; do not change the meaning of existing ones. */
#ifndef IRB_NN_IR_H
#define IRB_NN_IR_H

#include <stddef.h>
#include <stdint.h>

#include "irbis/core.h"

#define IRB_MAX_RANK        8
#define IRB_MAX_NODE_INPUTS 16

typedef enum irb_op {
    IRB_OP_CONV,
    IRB_OP_RELU,
    IRB_OP_CLIP,
    IRB_OP_SIGMOID,
    IRB_OP_HARDSIGMOID,
    IRB_OP_HARDSWISH,
    IRB_OP_ADD,
    IRB_OP_MUL,
    IRB_OP_MAXPOOL,
    IRB_OP_AVGPOOL,
    IRB_OP_GLOBALAVGPOOL,
    IRB_OP_BATCHNORM,
    IRB_OP_GEMM,
    IRB_OP_MATMUL,
    IRB_OP_SOFTMAX,
    IRB_OP_FLATTEN,
    IRB_OP_RESHAPE,
    IRB_OP_SQUEEZE,
    IRB_OP_UNSQUEEZE,
    IRB_OP_IDENTITY,
    IRB_OP_DROPOUT,
    IRB_OP_SHAPE,
    IRB_OP_GATHER,
    IRB_OP_CONCAT,
    IRB_OP_CONSTANT,
    IRB_OP_COUNT
} irb_op;

typedef enum irb_dtype { IRB_DT_FLOAT = 1, IRB_DT_INT64 = 7, IRB_DT_INT32 = 6 } irb_dtype; /* ONNX codes */

typedef struct irb_value {
    char *name; /* owned */
    irb_dtype dtype;
    int rank;
    int64_t dims[IRB_MAX_RANK];
    void *data; /* owned unless borrowed; non-NULL for constants (row-major, dtype) */
    size_t nbytes;
    int borrowed; /* data is not this value's: another graph's (irb_graph_share) or in this graph's slab; never
                     freed or written through this value */
    int producer; /* node index, or -1 for graph inputs and constants */
} irb_value;

/* Parsed attributes: each op reads only the fields that apply to it; defaults are the ONNX
 * defaults, filled in by the importer. Spatial fields are [H, W]; pads are
 * [top, left, bottom, right] (ONNX order x1_begin, x2_begin, x1_end, x2_end). */
typedef struct irb_attrs {
    int64_t kernel[2], strides[2], dilations[2], pads[4];
    int64_t group;
    int auto_pad; /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
    int ceil_mode, count_include_pad;
    float alpha, beta; /* Gemm alpha/beta; HardSigmoid alpha/beta */
    int trans_a, trans_b;
    float epsilon;            /* BatchNormalization */
    float clip_min, clip_max; /* Clip (from attributes, opset < 11, or constant inputs) */
    int has_clip_min, has_clip_max;
    int64_t axis; /* Flatten, Softmax, Concat, Gather */
    int n_axes;   /* Squeeze/Unsqueeze axes (attribute or constant input) */
    int64_t axes[IRB_MAX_RANK];
    /* ---- appended (docs/nn.md) */
    int allowzero;                  /* Reshape (opset 14): a 0 in the shape means 0, not "copy" */
    int softmax_legacy;             /* Softmax opset < 13: coerce to 2-D at `axis`, normalise the rest */
    int64_t shape_start, shape_end; /* Shape (opset 15) start/end; has_shape_end = 0: to the end */
    int has_shape_end;
    int has_axes; /* n_axes came from an attribute or a folded constant input */
} irb_attrs;

typedef struct irb_node {
    irb_op op;
    char *name; /* owned; "" when the ONNX node had none */
    int n_in, n_out;
    int in[IRB_MAX_NODE_INPUTS]; /* value indices; -1 for an omitted optional input */
    int out[2];
    irb_attrs a;
} irb_node;

typedef struct irb_graph {
    irb_value *values;
    int n_values, cap_values;
    irb_node *nodes; /* topologically sorted */
    int n_nodes, cap_nodes;
    int input;      /* the image input value (rank 4, NCHW) */
    int output;     /* the value the graph is evaluated to (after a cut) */
    char *metadata; /* owned; ONNX metadata_props as "key=value\n" lines, may be NULL */
    /* ---- appended (docs/nn.md) */
    int *inputs, n_inputs;   /* owned; all graph inputs that are not initializers, file order */
    int *outputs, n_outputs; /* owned; all graph outputs, file order */
    int opset;               /* opset of the default ONNX domain */
    char *producer;          /* owned; producer_name, may be NULL */
    void *slab; /* owned, may be NULL: the importer's arena the borrowed constants of this graph point into */
} irb_graph;

/* The ONNX op_type of op ("Conv", "Relu", ...). */
const char *irb_op_name(irb_op op);
/* The op named by an ONNX op_type, or IRB_OP_COUNT when there is none. */
irb_op irb_op_from_name(const char *onnx_op_type);

/* A free-standing tensor: what general evaluation (irb_backend.eval, irb_reference_eval) takes
 * and returns. Row-major, dtype as in irb_value. */
typedef struct irb_tensor {
    irb_dtype dtype;
    int rank;
    int64_t dims[IRB_MAX_RANK];
    void *data; /* owned by whoever made the tensor, see the function */
    size_t nbytes;
} irb_tensor;

/* Bytes per element of dtype (4 or 8), or 0 for an unknown dtype. */
size_t irb_dtype_size(irb_dtype dt);
/* Product of dims (1 for rank 0); -1 when a dim is negative or the product overflows int64
 * (shapes computed from a malformed model's data can be anything). */
int64_t irb_numel(int rank, const int64_t *dims);
/* Frees t->data (irb_free) and zeroes t. NULL is fine. */
void irb_tensor_release(irb_tensor *t);
/* t = a view of v: its dtype, shape and data (borrowed: v keeps owning the data). */
void irb_value_view(const irb_value *v, irb_tensor *t);

/* ---- graph building and copying (src/nn/ir.c) */
/* Frees everything the graph owns and zeroes it. NULL is fine. */
void irb_graph_release(irb_graph *g);
/* A deep copy of src into *dst (constants' data included). */
irb_status irb_graph_copy(const irb_graph *src, irb_graph *dst, irb_error *err);
/* irb_graph_copy whose constants borrow src's bytes instead of copying them (a model's shape
 * facts: no second copy of the weights). src must outlive dst and keep its constants as they
 * are; passes on dst replace a borrowed value's data, never write into it. */
irb_status irb_graph_share(const irb_graph *src, irb_graph *dst, irb_error *err);
/* Appends a value named `name` (copied); returns its index or -1 when out of memory. */
int irb_graph_add_value(irb_graph *g, const char *name);
/* Appends a node (name copied, attrs zeroed); returns its index or -1 when out of memory. */
int irb_graph_add_node(irb_graph *g, irb_op op, const char *name);
/* Index of the value with this name, or -1. */
int irb_graph_find_value(const irb_graph *g, const char *name);
/* The value of metadata key `key`, copied into buf (size n); returns 1 if present. */
int irb_graph_metadata(const irb_graph *g, const char *key, char *buf, size_t n);

#endif

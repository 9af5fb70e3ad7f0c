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

#define IRB_MAX_RANK 8
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
    char *name;               /* owned */
    irb_dtype dtype;
    int rank;
    int64_t dims[IRB_MAX_RANK];
    void *data;               /* owned; non-NULL for constants (row-major, dtype) */
    size_t nbytes;
    int producer;             /* node index, or -1 for graph inputs and constants */
} irb_value;

/* Parsed attributes: each op reads only the fields that apply to it; defaults are the ONNX
 * defaults, filled in by the importer. Spatial fields are [H, W]; pads are
 * [top, left, bottom, right] (ONNX order x1_begin, x2_begin, x1_end, x2_end). */
typedef struct irb_attrs {
    int64_t kernel[2], strides[2], dilations[2], pads[4];
    int64_t group;
    int auto_pad;             /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
    int ceil_mode, count_include_pad;
    float alpha, beta;        /* Gemm alpha/beta; HardSigmoid alpha/beta */
    int trans_a, trans_b;
    float epsilon;            /* BatchNormalization */
    float clip_min, clip_max; /* Clip (from attributes, opset < 11, or constant inputs) */
    int has_clip_min, has_clip_max;
    int64_t axis;             /* Flatten, Softmax, Concat, Gather */
    int n_axes;               /* Squeeze/Unsqueeze axes (attribute or constant input) */
    int64_t axes[IRB_MAX_RANK];
} irb_attrs;

typedef struct irb_node {
    irb_op op;
    char *name;               /* owned; "" when the ONNX node had none */
    int n_in, n_out;
    int in[IRB_MAX_NODE_INPUTS];  /* value indices; -1 for an omitted optional input */
    int out[2];
    irb_attrs a;
} irb_node;

typedef struct irb_graph {
    irb_value *values;
    int n_values, cap_values;
    irb_node *nodes;          /* topologically sorted */
    int n_nodes, cap_nodes;
    int input;                /* the image input value (rank 4, NCHW) */
    int output;               /* the value the graph is evaluated to (after a cut) */
    char *metadata;           /* owned; ONNX metadata_props as "key=value\n" lines, may be NULL */
} irb_graph;

const char *irb_op_name(irb_op op);

#endif

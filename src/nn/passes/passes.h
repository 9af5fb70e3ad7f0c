/* Graph passes, run by irb_net_new on its own copy of the model's graph (docs/nn.md).
 * Value indices stay stable through every pass (values are never removed; unused constants
 * only lose their data); nodes are removed by irb_pass_prune. */
#ifndef IRB_NN_PASSES_H
#define IRB_NN_PASSES_H

#include "core/error.h"
#include "nn/ir.h"

/* Shape inference and constant folding in one topological walk: every node's outputs get
 * dtype/rank/dims from its inputs (graph inputs must have known dims); a node whose inputs are
 * all constant (or a Shape node whose input shape is known) is evaluated and its outputs become
 * constants (the node is then dropped by prune). Clip min/max and Squeeze/Unsqueeze axes given
 * as constant inputs move into the attributes. */
irb_status irb_pass_infer_fold(irb_graph *g, irb_error *err);
/* Identity and Dropout removed (consumers read the input); a Reshape that keeps dims[0] and
 * yields rank 2 becomes Flatten(axis 1). Needs shapes. */
irb_status irb_pass_simplify(irb_graph *g, irb_error *err);
/* BatchNormalization folded into the Conv before it when that Conv's output has no other
 * consumer and all parameters are constant: new constant weights and bias. Needs shapes. */
irb_status irb_pass_fold_batchnorm(irb_graph *g, irb_error *err);
/* Removes nodes that do not contribute to g->output (and folded ones); frees unused constants. */
irb_status irb_pass_prune(irb_graph *g, irb_error *err);

/* Shape-only ops (skipped when counting cuts): Flatten, Reshape, Identity, Squeeze, Unsqueeze,
 * Dropout. */
int irb_op_is_shape_only(irb_op op);
/* The value of cut `cut` (>= 1), walking back from g->output, or -1 if the walk reaches a
 * graph input or constant first. cut 0 is g->output itself. */
int irb_cut_value(const irb_graph *g, int cut);
/* Sets g->output to the requested layer: `layer` (a value name, when non-NULL and non-empty)
 * or cut number `cut`. */
irb_status irb_pass_cut(irb_graph *g, const char *layer, int cut, irb_error *err);
/* Appends GlobalAveragePool + Flatten after g->output when it is N x C x H x W. Needs shapes. */
irb_status irb_pass_pool_avg(irb_graph *g, irb_error *err);

#endif

/* The model handle's insides, shared by model.c and net.c. */
#ifndef IRB_NN_MODEL_INTERNAL_H
#define IRB_NN_MODEL_INTERNAL_H

#include "irbis/nn.h"
#include "nn/ir.h"

struct irb_model_t {
    irb_graph g;      /* as imported, input dims resolved (batch 1) */
    irb_graph shaped; /* g after shape inference + constant folding, for the facts */
    irb_model_info info;
    irb_tensor_info in, *outs;
    irb_cut_info *cuts;
    irb_op_count ops[IRB_OP_COUNT];
    irb_preprocess pre;
    char *meta_value;
    char sha256[65];
};

#endif

/* The reference engine's general evaluation entry (also irb_backend_reference.eval). */
#ifndef IRB_NN_REFERENCE_H
#define IRB_NN_REFERENCE_H

#include "nn/backend.h"

/* Evaluates every node of g for in[i] = value g->inputs[i] (borrowed) and writes out[i] for
 * g->outputs[i] (data irb_malloc'd; free with irb_tensor_release). */
irb_status irb_reference_eval(const irb_graph *g, const irb_tensor *in, irb_tensor *out, irb_error *err);

#endif

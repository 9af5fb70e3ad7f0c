/* ONNX import (the only code that knows ONNX): protobuf bytes -> irb_graph. docs/nn.md. */
#ifndef IRB_NN_ONNX_H
#define IRB_NN_ONNX_H

#include "core/file.h"
#include "nn/ir.h"

#define IRB_ONNX_DEFAULT_MAX_TENSOR_BYTES ((size_t)1 << 30)

/* Parses an ONNX model from memory into *g (zeroed first; release with irb_graph_release).
 * `name` (e.g. the path) is used in messages. Any tensor above max_tensor_bytes (0: the
 * default, 1 GiB) is refused with IRB_TOO_LARGE before it is allocated. Constant nodes become
 * constant values; nodes come out topologically sorted; declared input dims that are symbolic
 * are stored as -1. Does not infer shapes (see nn/passes/passes.h). */
irb_status irb_onnx_parse(const void *buf, size_t n, const char *name, size_t max_tensor_bytes, irb_graph *g,
                          irb_error *err);
/* Reads a model file's bytes into *buf (irb_free it): refused above a size no model with
 * tensors of at most max_tensor_bytes (0: the default) plausibly has. */
irb_status irb_onnx_read_file(const char *path, size_t max_tensor_bytes, void **buf, size_t *n, irb_error *err);
/* Reads a file and parses it as above. */
irb_status irb_onnx_load(const char *path, size_t max_tensor_bytes, irb_graph *g, irb_error *err);
/* Reads a serialized TensorProto file (the ONNX test data format) into *t (t->data is
 * irb_malloc'd; release with irb_tensor_release). */
irb_status irb_onnx_read_tensor(const char *path, size_t max_tensor_bytes, irb_tensor *t, irb_error *err);

#endif

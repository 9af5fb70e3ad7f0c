/* Internals shared by the ONNX importer's files. */
#ifndef IRB_NN_ONNX_INTERNAL_H
#define IRB_NN_ONNX_INTERNAL_H

#include "onnx.pb-c.h"
#include "nn/onnx/onnx.h"

/* protobuf-c allocations routed through src/core/alloc.h. */
ProtobufCAllocator irb_onnx_allocator(void);
/* Decodes tp into *t (data irb_malloc'd). `where` names the file/node for messages. raw_data
 * (allocated by irb_onnx_allocator) is moved into *t, not copied: tp no longer holds it. */
irb_status irb_onnx_tensor(Onnx__TensorProto *tp, const char *where, size_t max_bytes, irb_tensor *t, irb_error *err);
/* Fills node->a from the ONNX attributes with the ONNX defaults for node->op at `opset`. */
irb_status irb_onnx_attrs(const Onnx__NodeProto *np, int opset, irb_node *node, const char *where, irb_error *err);

#endif

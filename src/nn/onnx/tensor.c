/* ONNX TensorProto -> irb_tensor: dtype, dims and byte-size checks before allocating. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/onnx/onnx_internal.h"

irb_status irb_onnx_tensor(Onnx__TensorProto *tp, const char *where, size_t max_bytes, irb_tensor *t, irb_error *err)
{
    const char *name = tp->name ? tp->name : "";
    memset(t, 0, sizeof *t);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return irb_fail(err, IRB_UNSUPPORTED,
                        "%s: tensor '%s' keeps its data in an external file; "
                        "save the model with its weights inside",
                        where, name);
    int dt = tp->has_data_type ? tp->data_type : 0;
    if (dt != IRB_DT_FLOAT && dt != IRB_DT_INT64 && dt != IRB_DT_INT32)
        return irb_fail(err, IRB_UNSUPPORTED,
                        "%s: tensor '%s' has ONNX data type %d (only float, int64, "
                        "int32 are supported)",
                        where, name, dt);
    if (tp->n_dims > IRB_MAX_RANK)
        return irb_fail(err, IRB_UNSUPPORTED, "%s: tensor '%s' has rank %zu > %d", where, name, tp->n_dims,
                        IRB_MAX_RANK);
    size_t es = irb_dtype_size((irb_dtype)dt), count = 1, bytes;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return irb_fail(err, IRB_CORRUPT, "%s: tensor '%s' has dim %zu = %lld", where, name, i,
                            (long long)tp->dims[i]);
        if (!irb_mul_size(count, (size_t)tp->dims[i], &count) || count > ((size_t)1 << 62))
            return irb_fail(err, IRB_TOO_LARGE, "%s: tensor '%s' declares more elements than fit in memory", where,
                            name);
        t->dims[i] = tp->dims[i];
    }
    if (!irb_mul_size(count, es, &bytes) || bytes > max_bytes)
        return irb_fail(err, IRB_TOO_LARGE,
                        "%s: tensor '%s' declares %zu elements (%zu bytes each), above "
                        "the limit of %zu bytes",
                        where, name, count, es, max_bytes);
    size_t have;
    const void *src;
    if (tp->has_raw_data) {
        have = tp->raw_data.len, src = tp->raw_data.data;
    } else if (dt == IRB_DT_FLOAT) {
        have = tp->n_float_data * 4, src = tp->float_data;
    } else if (dt == IRB_DT_INT64) {
        have = tp->n_int64_data * 8, src = tp->int64_data;
    } else {
        have = tp->n_int32_data * 4, src = tp->int32_data;
    }
    if (have != bytes)
        return irb_fail(err, IRB_CORRUPT,
                        "%s: tensor '%s' declares %zu elements (%zu bytes) but holds %zu "
                        "bytes",
                        where, name, count, bytes, have);
    t->dtype = (irb_dtype)dt;
    t->rank = (int)tp->n_dims;
    t->nbytes = bytes;
    if (tp->has_raw_data && bytes) { /* moved: the bytes protobuf-c allocated become the tensor's */
        t->data = tp->raw_data.data;
        tp->raw_data.data = NULL;
        tp->raw_data.len = 0;
        return IRB_OK;
    }
    t->data = irb_malloc(bytes ? bytes : 1);
    if (!t->data)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory for tensor '%s' (%zu bytes)", where, name, bytes);
    if (bytes)
        memcpy(t->data, src, bytes); /* little-endian host assumed, as ONNX raw_data is */
    return IRB_OK;
}

irb_status irb_onnx_read_tensor(const char *path, size_t max_bytes, irb_tensor *t, irb_error *err)
{
    void *buf;
    size_t n;
    if (!max_bytes)
        max_bytes = IRB_ONNX_DEFAULT_MAX_TENSOR_BYTES;
    memset(t, 0, sizeof *t);
    IRB_TRY(irb_read_file(path, max_bytes + (1 << 20), &buf, &n, err));
    ProtobufCAllocator al = irb_onnx_allocator();
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&al, n, buf);
    irb_free(buf);
    if (!tp)
        return irb_fail(err, IRB_CORRUPT, "%s: not a valid ONNX TensorProto", path);
    irb_status s = irb_onnx_tensor(tp, path, max_bytes, t, err);
    onnx__tensor_proto__free_unpacked(tp, &al);
    return s;
}

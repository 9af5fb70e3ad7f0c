/* irbis/nn.h: ONNX models, loaded into irbis' IR, cut at a layer, compiled for an engine, run
 * in batches. Included by irbis.h. Design and file formats: docs/nn.md.
 *
 * Example (a batch of two images through the net cut before its classifier):
 *
 *   irb_error err = {0};
 *   irb_model_t *m = NULL;
 *   irb_net_t *net = NULL;
 *   if (irb_model_load("mobilenet_v2.onnx", NULL, &m, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   irb_net_opts o = {.cut = 2, .pool = IRB_POOL_AVG, .max_batch = 2};   // 1280-d features
 *   irb_status s = irb_net_new(m, &o, &net, &err);
 *   irb_model_free(m);                       // a net does not need its model after irb_net_new
 *   if (s != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   int c, h, w;
 *   irb_net_input_shape(net, &c, &h, &w);
 *   size_t dim = irb_net_output_size(net);
 *   // the input: batch x c x h x w floats, preprocessed as irb_model_preprocess(m) says (image.h);
 *   // zeros are two images of the mean colour
 *   float *in = calloc((size_t)2 * c * h * w, sizeof(float)), *out = calloc(2 * dim, sizeof(float));
 *   int rc = 1;
 *   if (!in || !out)
 *       fprintf(stderr, "out of memory\n");
 *   else if (irb_net_run(net, in, 2, out) != IRB_OK)
 *       fprintf(stderr, "%s\n", irb_net_error(net)->message);
 *   else {
 *       printf("input %dx%dx%d, %zu features (%s, %s engine), rows equal: %d\n", c, h, w, dim,
 *              irb_net_output_name(net), irb_net_engine(net), !memcmp(out, out + dim, dim * sizeof(float)));
 *       rc = 0;
 *   }
 *   free(in), free(out);
 *   irb_net_free(net);
 *   return rc;
 */
#ifndef IRBIS_NN_H
#define IRBIS_NN_H

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IRB_NN_MAX_RANK 8

typedef struct irb_model_t irb_model_t;
typedef struct irb_net_t irb_net_t;
typedef struct irb_calib_t irb_calib_t;

/* ------------------------------------------------------------------ models */

typedef struct irb_model_opts {
    /* Any tensor (initializer, constant) declaring more bytes than this is refused with
     * IRB_TOO_LARGE before it is allocated. 0: 1 GiB. */
    size_t max_tensor_bytes;
    /* When set (64 hex digits, either case; NULL or "": none): the bytes read must have this
     * SHA-256, else IRB_MISMATCH before they are parsed, the message naming the file and both
     * digests. Anything but 64 hex digits is IRB_INVALID_ARG before the file is read. */
    const char *sha256;
} irb_model_opts;

/* Loads an ONNX file. opts may be NULL (defaults). The model has exactly one float graph input
 * of rank 4 (N x C x H x W; a symbolic N is fine); the last graph output is the default
 * output. On success *out owns everything (free with irb_model_free); on failure *out is NULL
 * and err says which file, node or tensor and why: IRB_CORRUPT (truncated, dangling input,
 * cycle, size mismatch), IRB_UNSUPPORTED (op type and node named, external data, dtype),
 * IRB_TOO_LARGE, IRB_MISMATCH (wrong input rank), IRB_IO/IRB_NOT_FOUND. */
IRB_API irb_status irb_model_load(const char *path, const irb_model_opts *opts, irb_model_t **out, irb_error *err);
/* The same from bytes in memory (borrowed for the call); `name` is used in messages.
 * IRB_INVALID_ARG for NULL data with size > 0. */
IRB_API irb_status irb_model_load_buffer(const void *data, size_t size, const char *name, const irb_model_opts *opts,
                                         irb_model_t **out, irb_error *err);
IRB_API void irb_model_free(irb_model_t *m);

typedef struct irb_tensor_info {
    const char *name; /* owned by the model */
    int rank;
    int64_t dims[IRB_NN_MAX_RANK]; /* batch (dims[0]) shown as 1 */
} irb_tensor_info;

typedef struct irb_cut_info {
    int cut;        /* 1, 2, ...: the value irb_net_opts.cut = this number selects */
    const char *op; /* ONNX op type of the node producing it ("Conv", "Relu", ...) */
    irb_tensor_info tensor;
} irb_cut_info;

typedef struct irb_op_count {
    const char *op; /* ONNX op type */
    int count;
} irb_op_count;

typedef struct irb_model_info {
    int n_inputs, n_outputs, n_cuts, n_ops;
    const irb_tensor_info *inputs;  /* the network input (n_inputs = 1) */
    const irb_tensor_info *outputs; /* the graph outputs, file order; the last is the default */
    const irb_cut_info *cuts;       /* cut points 1..n_cuts, walking back from the output (the
                                     * first 16 listed; irb_net_opts.cut takes deeper ones too:
                                     * every compute layer is a cut point) */
    const irb_op_count *ops;        /* nodes per op type in the file (Constant nodes included) */
    int opset;
    const char *producer; /* producer_name, "" if none */
    const char *sha256;   /* SHA-256 of the file's (or buffer's) bytes, 64 lowercase hex digits */
} irb_model_info;

/* Facts about the model; owned by the model, valid until irb_model_free. */
IRB_API const irb_model_info *irb_model_info_get(const irb_model_t *m);

/* The input preprocessing the model expects: x[c] = (pixel[c] - mean[c]) / std[c], pixels
 * 0..255 RGB, image resized to input_size x input_size, NCHW. Read from metadata_props
 * irbis.mean / irbis.std / irbis.input_size when present (source = "metadata"), else by the
 * rule in docs/nn.md: producer "pytorch" -> ImageNet mean/std ("torchvision"), otherwise
 * mean = std = 128 ("tflite"). */
typedef struct irb_preprocess {
    float mean[3], std[3];
    int input_size;
    const char *source; /* "metadata", "torchvision" or "tflite"; static string */
} irb_preprocess;

IRB_API const irb_preprocess *irb_model_preprocess(const irb_model_t *m);

/* The value of metadata_props key `key` (owned by the model), or NULL. */
IRB_API const char *irb_model_metadata(const irb_model_t *m, const char *key);

/* ------------------------------------------------------------------ compiled nets */

typedef enum irb_engine { IRB_ENGINE_AUTO = 0, IRB_ENGINE_REFERENCE, IRB_ENGINE_ONEDNN } irb_engine;
typedef enum irb_precision { IRB_PRECISION_FP32 = 0, IRB_PRECISION_BF16, IRB_PRECISION_INT8 } irb_precision;
/* "fp32", "bf16", "int8" (a static string), or "?" for another value. */
IRB_API const char *irb_precision_name(irb_precision p);
typedef enum irb_pool_mode { IRB_POOL_NONE = 0, IRB_POOL_AVG } irb_pool_mode;

/* The largest irb_net_opts.input_size. */
#define IRB_NET_MAX_INPUT_SIZE 4096

typedef struct irb_net_opts {
    const char *layer;       /* a tensor name to cut at (borrowed for the call), or NULL/"" */
    int cut;                 /* with no layer: cut point number (0 = the model's output) */
    irb_pool_mode pool;      /* IRB_POOL_AVG: global average pooling of an N x C x H x W cut */
    irb_engine engine;       /* AUTO: oneDNN when built in (falling back to reference if it
                                cannot run every node), else reference */
    irb_precision precision; /* BF16, INT8: oneDNN only (docs/int8.md) */
    int threads;             /* 0: all CPUs */
    int max_batch;           /* 0: 32 */
    int input_size;          /* > 0: run at input_size x input_size instead of the model's input
                                size (shapes are inferred again: fully convolutional nets, such as
                                those ending in global pooling, take any size; a net whose shapes
                                do not fit fails with IRB_MISMATCH). 0: the model's size */
    /* INT8: the activation ranges to quantize with (required; borrowed for irb_net_new). A
     * layer whose tensors the table does not name runs in fp32. */
    const irb_calib_t *calib;
    /* Non-NULL: the net runs fp32 on the reference engine and every irb_net_run widens these
     * ranges with every activation it computes (calibration; see irb_calib_new). Must outlive
     * the net. */
    irb_calib_t *record;
    /* 1: irb_net_run's input is batch x H x W x C (channels last: a pixel's C values side by
     * side) instead of NCHW, and an unpooled rank-4 output is batch x H x W x C too (pooled and
     * other outputs are as before). The oneDNN engine's convolutions work in this layout, so it
     * saves a reorder at both ends (docs/engine.md); the reference engine transposes around its
     * run. The values are the same, only their order in memory differs. */
    int channels_last;
} irb_net_opts;

/* Cuts, optimises and compiles a copy of the model's graph. opts may be NULL (the model's
 * output, auto engine, fp32). The model is borrowed for the call only. Free with irb_net_free. */
IRB_API irb_status irb_net_new(const irb_model_t *m, const irb_net_opts *opts, irb_net_t **out, irb_error *err);
/* C, H, W of one input image. */
IRB_API void irb_net_input_shape(const irb_net_t *net, int *c, int *h, int *w);
/* Floats per image in the output (product of the output's dims after the batch). */
IRB_API size_t irb_net_output_size(const irb_net_t *net);
/* The name of the output tensor (after the cut, before pooling); owned by the net. */
IRB_API const char *irb_net_output_name(const irb_net_t *net);
/* The engine that runs the net: "reference" or "onednn". */
IRB_API const char *irb_net_engine(const irb_net_t *net);
/* 1 when the net was made with irb_net_opts.channels_last (its input and map output layout). */
IRB_API int irb_net_channels_last(const irb_net_t *net);
/* input: batch x C x H x W floats (borrowed; H x W x C with channels_last); output: batch x
 * irb_net_output_size floats (written). batch in 1..max_batch. Not reentrant on one net: one run
 * at a time. */
IRB_API irb_status irb_net_run(irb_net_t *net, const float *input, int batch, float *output);
/* The last run's error record (owned by the net); a static "no net" record for NULL. */
IRB_API const irb_error *irb_net_error(const irb_net_t *net);
/* Images the net can run at once from threads of the caller's own (the engine's per-image
 * workers, one per slot): 0 when it cannot (the reference engine, batch-1 nets, a recording
 * net). irb_net_run_slot runs one image on slot k (0 <= k < slots) in the calling thread, with
 * the same output as irb_net_run; one thread at a time per slot, different slots at once (and
 * not during an irb_net_run of the same net). Errors go to err, not to the net's record. A
 * caller's pool can so mix several nets' images, and other work, in one queue. */
IRB_API int irb_net_slots(const irb_net_t *net);
IRB_API irb_status irb_net_run_slot(irb_net_t *net, int slot, const float *input, float *output, irb_error *err);
IRB_API void irb_net_free(irb_net_t *net);

/* ------------------------------------------------------------------ int8 calibration tables
 *
 * A table maps tensor names (of the graph after irb_net_new's passes) to the range [min, max] of
 * the values seen there on sample images; an int8 net derives each activation's scale from it
 * (docs/int8.md). A table made for a model serves every cut, pooling and input size of that
 * model.
 *
 *   irb_calib_t *cal = NULL;  irb_calib_new(&cal, &err);
 *   irb_net_opts ro = {.cut = 2, .pool = IRB_POOL_AVG, .record = cal};
 *   irb_net_new(m, &ro, &rec, &err);  irb_net_run(rec, images, n, out);  ... irb_net_free(rec);
 *   irb_net_opts qo = {.cut = 2, .pool = IRB_POOL_AVG, .precision = IRB_PRECISION_INT8, .calib = cal};
 */

/* An empty table. Free with irb_calib_free. */
IRB_API irb_status irb_calib_new(irb_calib_t **out, irb_error *err);
IRB_API void irb_calib_free(irb_calib_t *c);
/* Tensors in the table, and images recorded into it. */
IRB_API int irb_calib_tensors(const irb_calib_t *c);
IRB_API long irb_calib_images(const irb_calib_t *c);
/* The range recorded for tensor `name`: 1 and *min, *max set, or 0 if the table lacks it. */
IRB_API int irb_calib_range(const irb_calib_t *c, const char *name, float *min, float *max);
/* The table as text (docs/int8.md: "irbis-calib 1" then one "min max name" line per tensor);
 * *text (NUL-terminated, *len bytes before the NUL) is the caller's: free with irb_calib_text_free. */
IRB_API irb_status irb_calib_to_text(const irb_calib_t *c, char **text, size_t *len, irb_error *err);
IRB_API void irb_calib_text_free(char *text);
/* Parses that text (borrowed for the call; `name` is used in messages). IRB_CORRUPT says the
 * line and why. */
IRB_API irb_status irb_calib_parse(const char *text, size_t len, const char *name, irb_calib_t **out, irb_error *err);
IRB_API irb_status irb_calib_save(const irb_calib_t *c, const char *path, irb_error *err);
IRB_API irb_status irb_calib_load(const char *path, irb_calib_t **out, irb_error *err);

#ifdef __cplusplus
}
#endif
#endif

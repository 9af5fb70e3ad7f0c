/* ONNX node attributes -> irb_attrs, with the ONNX defaults per op and opset. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "nn/onnx/onnx_internal.h"

static const Onnx__AttributeProto *find(const Onnx__NodeProto *np, const char *name)
{
    for (size_t i = 0; i < np->n_attribute; i++)
        if (np->attribute[i]->name && strcmp(np->attribute[i]->name, name) == 0)
            return np->attribute[i];
    return NULL;
}

static int64_t get_i(const Onnx__NodeProto *np, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = find(np, name);
    return a && a->has_i ? a->i : def;
}

static float get_f(const Onnx__NodeProto *np, const char *name, float def, int *has)
{
    const Onnx__AttributeProto *a = find(np, name);
    if (has)
        *has = a && a->has_f;
    return a && a->has_f ? a->f : def;
}

typedef struct ctx {
    const Onnx__NodeProto *np;
    irb_node *node;
    const char *where;
    irb_error *err;
} ctx;

static irb_status bad(ctx *c, irb_status s, const char *what)
{
    return irb_fail(c->err, s, "%s: %s node '%s': %s", c->where, irb_op_name(c->node->op), c->node->name, what);
}

/* A list attribute of exactly `want` ints into out (left alone when absent). */
static irb_status ints(ctx *c, const char *name, size_t want, int64_t *out)
{
    const Onnx__AttributeProto *a = find(c->np, name);
    if (!a || !a->n_ints)
        return IRB_OK;
    if (a->n_ints != want) {
        char msg[128];
        snprintf(msg, sizeof msg, "attribute %s has %zu values; only 2-D (%zu values) is supported", name, a->n_ints,
                 want);
        return bad(c, IRB_UNSUPPORTED, msg);
    }
    memcpy(out, a->ints, want * sizeof *out);
    return IRB_OK;
}

static irb_status spatial(ctx *c, int pool)
{
    irb_attrs *a = &c->node->a;
    a->strides[0] = a->strides[1] = a->dilations[0] = a->dilations[1] = 1;
    IRB_TRY(ints(c, "kernel_shape", 2, a->kernel));
    IRB_TRY(ints(c, "strides", 2, a->strides));
    IRB_TRY(ints(c, "dilations", 2, a->dilations));
    IRB_TRY(ints(c, "pads", 4, a->pads));
    if (pool && (a->kernel[0] <= 0 || a->kernel[1] <= 0))
        return bad(c, IRB_CORRUPT, "kernel_shape missing or not positive");
    const Onnx__AttributeProto *ap = find(c->np, "auto_pad");
    if (ap && ap->has_s) {
        static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
        a->auto_pad = -1;
        for (int i = 0; i < 4; i++)
            if (ap->s.len == strlen(names[i]) && memcmp(ap->s.data, names[i], ap->s.len) == 0)
                a->auto_pad = i;
        if (a->auto_pad < 0)
            return bad(c, IRB_CORRUPT, "unknown auto_pad value");
    }
    a->ceil_mode = (int)get_i(c->np, "ceil_mode", 0);
    a->count_include_pad = (int)get_i(c->np, "count_include_pad", 0);
    if (get_i(c->np, "storage_order", 0) != 0)
        return bad(c, IRB_UNSUPPORTED, "storage_order = 1 is not supported");
    return IRB_OK;
}

irb_status irb_onnx_attrs(const Onnx__NodeProto *np, int opset, irb_node *node, const char *where, irb_error *err)
{
    ctx c = {np, node, where, err};
    irb_attrs *a = &node->a;
    const Onnx__AttributeProto *ax;
    memset(a, 0, sizeof *a);
    switch (node->op) {
    case IRB_OP_CONV: a->group = get_i(np, "group", 1); return spatial(&c, 0);
    case IRB_OP_MAXPOOL:
    case IRB_OP_AVGPOOL: return spatial(&c, 1);
    case IRB_OP_HARDSIGMOID:
        a->alpha = get_f(np, "alpha", 0.2f, NULL);
        a->beta = get_f(np, "beta", 0.5f, NULL);
        return IRB_OK;
    case IRB_OP_GEMM:
        a->alpha = get_f(np, "alpha", 1.0f, NULL);
        a->beta = get_f(np, "beta", 1.0f, NULL);
        a->trans_a = get_i(np, "transA", 0) != 0;
        a->trans_b = get_i(np, "transB", 0) != 0;
        return IRB_OK;
    case IRB_OP_BATCHNORM:
        a->epsilon = get_f(np, "epsilon", 1e-5f, NULL);
        if (get_i(np, "training_mode", 0))
            return bad(&c, IRB_UNSUPPORTED, "training_mode = 1 is not supported (inference only)");
        return IRB_OK;
    case IRB_OP_CLIP:
        a->clip_min = get_f(np, "min", -INFINITY, &a->has_clip_min);
        a->clip_max = get_f(np, "max", INFINITY, &a->has_clip_max);
        return IRB_OK;
    case IRB_OP_SOFTMAX:
        a->softmax_legacy = opset < 13;
        a->axis = get_i(np, "axis", opset < 13 ? 1 : -1);
        return IRB_OK;
    case IRB_OP_FLATTEN: a->axis = get_i(np, "axis", 1); return IRB_OK;
    case IRB_OP_GATHER: a->axis = get_i(np, "axis", 0); return IRB_OK;
    case IRB_OP_CONCAT:
        if (!find(np, "axis"))
            return bad(&c, IRB_CORRUPT, "attribute axis is required");
        a->axis = get_i(np, "axis", 0);
        return IRB_OK;
    case IRB_OP_SQUEEZE:
    case IRB_OP_UNSQUEEZE:
        ax = find(np, "axes");
        if (ax && ax->n_ints) {
            if (ax->n_ints > IRB_MAX_RANK)
                return bad(&c, IRB_UNSUPPORTED, "too many axes");
            a->n_axes = (int)ax->n_ints;
            a->has_axes = 1;
            memcpy(a->axes, ax->ints, ax->n_ints * sizeof(int64_t));
        }
        return IRB_OK;
    case IRB_OP_RESHAPE: a->allowzero = get_i(np, "allowzero", 0) != 0; return IRB_OK;
    case IRB_OP_SHAPE:
        a->shape_start = get_i(np, "start", 0);
        a->has_shape_end = find(np, "end") != NULL;
        a->shape_end = get_i(np, "end", 0);
        return IRB_OK;
    default: return IRB_OK;
    }
}

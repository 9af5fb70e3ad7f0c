/* The official ONNX operator conformance tests (libonnx-testdata: data/node/test_<name>/ with
 * model.onnx and test_data_set_N/{input,output}_K.pb) run through an engine's general eval().
 *
 * Every test whose model irbis imports is run; an output matches when, elementwise,
 * |got - expected| <= 1e-5 + 1e-3 * |expected| (ONNX's own rtol 1e-3 / atol 1e-5 for floats;
 * integers exactly), with equal dtype and shape. A model refused as IRB_UNSUPPORTED at import
 * (an op irbis does not implement, a dtype such as double/float16/bool, 1-D/3-D pooling) is
 * counted as unsupported, not failed; the refusals of supported ops are listed in docs/nn.md.
 * Usage: test_onnx_conformance [engine] [data dir]  (engine: reference (default) or onednn). */
#include <dirent.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "nn/backend.h"
#include "nn/onnx/onnx.h"
#include "onnx.pb-c.h"

#ifndef CONFORMANCE_ENGINE
#define CONFORMANCE_ENGINE "reference"
#endif

typedef struct tally {
    char op[64];
    int pass, fail, refused;
} tally;

static tally tallies[128];
static int n_tallies, n_unsupported;

static tally *tally_for(const char *op)
{
    for (int i = 0; i < n_tallies; i++)
        if (strcmp(tallies[i].op, op) == 0)
            return &tallies[i];
    if (n_tallies == 128)
        return &tallies[127];
    snprintf(tallies[n_tallies].op, sizeof tallies[0].op, "%s", op);
    return &tallies[n_tallies++];
}

static int same(const irb_tensor *got, const irb_tensor *want, char *why, size_t n)
{
    if (got->dtype != want->dtype || got->rank != want->rank) {
        snprintf(why, n, "dtype/rank %d/%d, expected %d/%d", got->dtype, got->rank, want->dtype, want->rank);
        return 0;
    }
    for (int i = 0; i < got->rank; i++)
        if (got->dims[i] != want->dims[i]) {
            snprintf(why, n, "dim %d is %lld, expected %lld", i, (long long)got->dims[i], (long long)want->dims[i]);
            return 0;
        }
    int64_t count = irb_numel(want->rank, want->dims);
    for (int64_t k = 0; k < count; k++) {
        if (want->dtype == IRB_DT_FLOAT) {
            float g = ((float *)got->data)[k], w = ((float *)want->data)[k];
            if (!(fabsf(g - w) <= 1e-5f + 1e-3f * fabsf(w)) && !(isnan(g) && isnan(w))) {
                snprintf(why, n, "element %lld is %g, expected %g", (long long)k, g, w);
                return 0;
            }
        } else if (memcmp((char *)got->data + k * irb_dtype_size(want->dtype),
                          (char *)want->data + k * irb_dtype_size(want->dtype), irb_dtype_size(want->dtype))) {
            snprintf(why, n, "integer element %lld differs", (long long)k);
            return 0;
        }
    }
    return 1;
}

/* Runs every test_data_set_* of one test; returns -1 refused, 0 failed, 1 passed. */
static int run_sets(const irb_backend *be, const char *dir /* < 4096 */, const irb_graph *g, char *why, size_t wn)
{
    int result = 1, sets = 0;
    for (int s = 0; result == 1; s++) {
        char p[8192];
        snprintf(p, sizeof p, "%s/test_data_set_%d", dir, s);
        struct stat st;
        if (stat(p, &st) != 0)
            break;
        sets++;
        irb_tensor in[16] = {{0}}, out[16] = {{0}}, want = {0};
        irb_error err = {0};
        irb_status st_ = IRB_OK;
        int nin = g->n_inputs < 16 ? g->n_inputs : 16;
        for (int i = 0; i < nin && st_ == IRB_OK; i++) {
            snprintf(p, sizeof p, "%s/test_data_set_%d/input_%d.pb", dir, s, i);
            st_ = irb_onnx_read_tensor(p, 0, &in[i], &err);
        }
        if (st_ == IRB_OK && g->n_outputs <= 16)
            st_ = be->eval(g, in, out, &err);
        if (st_ == IRB_UNSUPPORTED) {
            snprintf(why, wn, "%s", err.message);
            result = -1;
        } else if (st_ != IRB_OK) {
            snprintf(why, wn, "%s", err.message);
            result = 0;
        }
        for (int o = 0; result == 1 && o < g->n_outputs; o++) {
            snprintf(p, sizeof p, "%s/test_data_set_%d/output_%d.pb", dir, s, o);
            if (irb_onnx_read_tensor(p, 0, &want, &err) != IRB_OK) {
                snprintf(why, wn, "reference output: %.900s", err.message);
                result = 0;
            } else if (!same(&out[o], &want, why, wn)) {
                result = 0;
            }
            irb_tensor_release(&want);
        }
        for (int i = 0; i < 16; i++) {
            irb_tensor_release(&in[i]);
            if (st_ == IRB_OK)
                irb_tensor_release(&out[i]);
        }
    }
    if (!sets) {
        snprintf(why, wn, "no test data");
        return 0;
    }
    return result;
}

/* The op type of the model's first node when every node is an op irbis implements, else NULL. */
static const char *supported_ops(const char *model, char *first, size_t n)
{
    void *buf;
    size_t len;
    const char *res = NULL;
    if (irb_read_file(model, (size_t)1 << 30, &buf, &len, NULL) != IRB_OK)
        return "(unreadable)";
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    irb_free(buf);
    if (!mp || !mp->graph)
        return "(corrupt)";
    res = first;
    snprintf(first, n, "%s", mp->graph->n_node ? mp->graph->node[0]->op_type : "(none)");
    for (size_t i = 0; i < mp->graph->n_node; i++) {
        const Onnx__NodeProto *np = mp->graph->node[i];
        if ((np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx")) ||
            irb_op_from_name(np->op_type) == IRB_OP_COUNT)
            res = NULL;
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return res;
}

static void run_test(const irb_backend *be, const char *root, const char *name)
{
    char dir[4096], model[4200], why[IRB_MESSAGE_MAX] = "";
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    irb_graph g;
    irb_error err = {0};
    char first[64];
    const char *op = supported_ops(model, first, sizeof first);
    if (!op) {
        n_unsupported++;
        return;
    }
    irb_status s = irb_onnx_load(model, 0, &g, &err);
    int r = s == IRB_OK ? run_sets(be, dir, &g, why, sizeof why) : (s == IRB_UNSUPPORTED ? -1 : 0);
    if (s != IRB_OK)
        snprintf(why, sizeof why, "%s", err.message);
    tally *t = tally_for(op);
    if (r > 0)
        t->pass++;
    else if (r < 0)
        t->refused++, printf("  refused %s: %s\n", name, why);
    else
        t->fail++, printf("  FAILED  %s: %s\n", name, why);
    CHECK(r != 0, "%s: %s", name, why);
    irb_graph_release(&g);
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(int argc, char **argv)
{
    const char *engine = argc > 1 ? argv[1] : CONFORMANCE_ENGINE;
    const char *root = argc > 2 ? argv[2] : "/usr/share/libonnx-testdata/data/node";
    const irb_backend *be = irb_backend_find(engine);
    if (!be || !be->eval) {
        printf("SKIPPED: engine '%s' %s\n", engine, be ? "offers no general eval()" : "is not built into this irbis");
        return 0;
    }
    struct dirent **ents;
    int n = scandir(root, &ents, NULL, by_name);
    if (n < 0) {
        printf("SKIPPED: no ONNX conformance data in %s (Debian package libonnx-testdata)\n", root);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (strncmp(ents[i]->d_name, "test_", 5) == 0)
            run_test(be, root, ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    printf("engine %s: %d test folders with ops irbis does not implement\n", be->name, n_unsupported);
    printf("%-20s %5s %5s %8s\n", "op", "pass", "fail", "refused");
    int tp = 0, tf = 0, tr = 0;
    for (int i = 0; i < n_tallies; i++) {
        printf("%-20s %5d %5d %8d\n", tallies[i].op, tallies[i].pass, tallies[i].fail, tallies[i].refused);
        tp += tallies[i].pass, tf += tallies[i].fail, tr += tallies[i].refused;
    }
    printf("%-20s %5d %5d %8d\n", "total", tp, tf, tr);
    return CHECK_DONE();
}

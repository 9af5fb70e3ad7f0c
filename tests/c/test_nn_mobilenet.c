/* The shared MobileNetV2 on the reference engine against the independent reference vectors
 * ($IRBIS_SHARED/models/mobilenet_v2/reference, SOURCE.md): `probs` (the output, cut 0) and
 * `features` (layer by name) within 1e-4 max abs error; cut 1 = the 1001 logits (softmax of
 * them equals probs), cut 2 = 1280 values equal to `features`. Also the model facts. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn_check.h"
#include "irbis/nn.h"
#include "nn/model_internal.h"

/* FNV-1a over every constant's bytes: the model's weights must not change while nets borrow them. */
static uint64_t weights_hash(const irb_graph *g, int *n_const)
{
    uint64_t h = 1469598103934665603ull;
    *n_const = 0;
    for (int v = 0; v < g->n_values; v++) {
        const unsigned char *d = g->values[v].data;
        for (size_t i = 0; d && i < g->values[v].nbytes; i++)
            h = (h ^ d[i]) * 1099511628211ull;
        *n_const += d != NULL;
    }
    return h;
}

static irb_net_t *net(const irb_model_t *m, const char *layer, int cut, irb_pool_mode pool)
{
    irb_net_opts o = {.layer = layer, .cut = cut, .pool = pool, .engine = IRB_ENGINE_REFERENCE, .max_batch = 2};
    char what[96];
    snprintf(what, sizeof what, "layer %s, cut %d", layer ? layer : "-", cut);
    return test_net(m, &o, what);
}

int main(void)
{
    irb_model_t *m = test_load_mobilenet();
    if (!m)
        return CHECK_DONE();
    const irb_model_info *info = irb_model_info_get(m);
    CHECK(info->n_outputs == 3 && strcmp(info->outputs[2].name, "probs") == 0, "outputs");
    CHECK(info->inputs[0].dims[1] == 3 && info->inputs[0].dims[2] == 224, "input shape");
    CHECK(info->n_cuts >= 2 && info->cuts[0].tensor.dims[1] == 1001 && strcmp(info->cuts[0].tensor.name, "logits") == 0,
          "cut 1 is logits, got %s", info->n_cuts ? info->cuts[0].tensor.name : "none");
    CHECK(info->n_cuts >= 2 && info->cuts[1].tensor.dims[1] == 1280, "cut 2 has 1280 channels");
    const irb_preprocess *pp = irb_model_preprocess(m);
    CHECK(pp->mean[0] == 128.0f && pp->std[2] == 128.0f && pp->input_size == 224, "MobileNetV2 preprocessing");
    /* API hostile test (regressions): option values irbis has no meaning for were taken as some
     * default (pool 7, engine 9, precision 9 ran fp32, threads -5, max_batch -1) */
    const irb_net_opts bad[] = {{.cut = 2, .pool = (irb_pool_mode)7},
                                {.cut = 2, .engine = (irb_engine)9},
                                {.cut = 2, .precision = (irb_precision)9},
                                {.cut = 2, .threads = -5},
                                {.cut = 2, .max_batch = -1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        irb_net_t *n = NULL;
        irb_error e = {0};
        CHECK(irb_net_new(m, &bad[i], &n, &e) == IRB_INVALID_ARG && !n && e.message[0], "bad net option %zu: %s", i,
              e.message);
    }

    /* the imported weights live in the importer's arena, which the model's graph keeps (its
     * constants borrow it; the small ones are owned); the shape-facts graph and every net's
     * working graph borrow the model's bytes (irb_graph_share): the facts graph's constants are
     * the model's bytes, not copies, and building (passes that drop or replace constants) and
     * freeing nets leaves them intact */
    int n_const = 0, n_after = 0, aliased = 0, in_slab = 0, large = 0;
    uint64_t before = weights_hash(&m->g, &n_const);
    for (int v = 0; v < m->g.n_values && v < m->shaped.n_values; v++)
        if (m->g.values[v].data) {
            aliased += m->shaped.values[v].data == m->g.values[v].data && m->shaped.values[v].borrowed;
            in_slab += m->g.values[v].borrowed;
            large += m->g.values[v].nbytes >= 4096;
        }
    CHECK(n_const > 100 && aliased == n_const, "%d constants: %d borrowed by the facts graph", n_const, aliased);
    CHECK(large > 40 && in_slab == large && m->g.slab, "%d of the model's constants in its arena, %d of 4 KiB or more",
          in_slab, large);
    for (int k = 0; k < 3; k++) {
        irb_net_opts o = {.cut = 2, .pool = IRB_POOL_AVG, .engine = k ? IRB_ENGINE_ONEDNN : IRB_ENGINE_REFERENCE};
        irb_net_t *t = test_net(m, &o, "borrowing net");
        irb_net_free(t);
    }
    CHECK(weights_hash(&m->g, &n_after) == before && n_after == n_const, "model weights unchanged by 3 nets");

    irb_net_t *probs = net(m, NULL, 0, IRB_POOL_NONE), *feat = net(m, "features", 0, IRB_POOL_NONE);
    irb_net_t *cut1 = net(m, NULL, 1, IRB_POOL_NONE), *cut2 = net(m, NULL, 2, IRB_POOL_AVG);
    if (!probs || !feat || !cut1 || !cut2)
        return CHECK_DONE();
    CHECK(irb_net_output_size(probs) == 1001 && irb_net_output_size(feat) == 1280, "output sizes");
    CHECK(irb_net_output_size(cut1) == 1001 && irb_net_output_size(cut2) == 1280, "cut sizes %zu %zu",
          irb_net_output_size(cut1), irb_net_output_size(cut2));
    static const char *const names[] = {"dog", "eagle", "giraffe", "horses"};
    float *in = malloc(2 * 3 * 224 * 224 * sizeof(float)), *out = malloc(2 * 1280 * sizeof(float));
    for (int i = 0; i < 4; i += 2) {
        char p[256];
        for (int j = 0; j < 2; j++) {
            snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_input_f32_nchw.bin", names[i + j]);
            float *x = test_read_floats(test_shared(p), 3 * 224 * 224);
            memcpy(in + j * 3 * 224 * 224, x, 3 * 224 * 224 * sizeof(float));
            free(x);
        }
        for (int j = 0; j < 2; j++) { /* batch of 2: image j of the batch */
            snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_probs_f32.bin", names[i + j]);
            float *rp = test_read_floats(test_shared(p), 1001);
            snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_features_f32.bin", names[i + j]);
            float *rf = test_read_floats(test_shared(p), 1280);
            CHECK(irb_net_run(probs, in, 2, out) == IRB_OK, "run: %s", irb_net_error(probs)->message);
            double dp = test_max_abs_diff(out + j * 1001, rp, 1001);
            CHECK(irb_net_run(feat, in, 2, out) == IRB_OK, "run: %s", irb_net_error(feat)->message);
            double df = test_max_abs_diff(out + j * 1280, rf, 1280);
            CHECK(irb_net_run(cut2, in, 2, out) == IRB_OK, "run: %s", irb_net_error(cut2)->message);
            double dc2 = test_max_abs_diff(out + j * 1280, rf, 1280);
            CHECK(irb_net_run(cut1, in, 2, out) == IRB_OK, "run: %s", irb_net_error(cut1)->message);
            double mx = -1e30, sum = 0;
            for (int k = 0; k < 1001; k++)
                mx = fmax(mx, out[j * 1001 + k]);
            for (int k = 0; k < 1001; k++)
                sum += exp(out[j * 1001 + k] - mx);
            double dl = 0;
            for (int k = 0; k < 1001; k++)
                dl = fmax(dl, fabs(exp(out[j * 1001 + k] - mx) / sum - rp[k]));
            printf("%-8s probs %.2e features %.2e cut2 %.2e softmax(cut1) %.2e\n", names[i + j], dp, df, dc2, dl);
            CHECK(dp <= 1e-4, "%s probs max abs error %g", names[i + j], dp);
            CHECK(df <= 1e-4, "%s features max abs error %g", names[i + j], df);
            CHECK(dc2 <= 1e-4, "%s cut 2 max abs error %g", names[i + j], dc2);
            CHECK(dl <= 1e-4, "%s softmax(cut 1) max abs error %g", names[i + j], dl);
            free(rp);
            free(rf);
        }
    }
    free(in);
    free(out);
    irb_net_free(probs);
    irb_net_free(feat);
    irb_net_free(cut1);
    irb_net_free(cut2);
    irb_model_free(m);
    return CHECK_DONE();
}

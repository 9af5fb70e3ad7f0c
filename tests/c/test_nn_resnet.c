/* torchvision ResNet-50 with seeded random weights, exported by tools/export_resnet50.py into
 * $IRBIS_TMP (with PyTorch's output for a random input), run on the reference engine:
 * max |irbis - torch| / max |torch| <= 1e-4, exported with --no-fold (Shape/Gather chain,
 * separate BatchNormalization nodes, symbolic batch). Cut 1 = 2048 pooled vector, cut 2 =
 * 2048 x 7 x 7, pool avg of cut 2 = cut 1; metadata preprocessing is read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn_check.h"
#include "irbis/nn.h"

static void one(const char *tmp, const char *flags, const char *tag)
{
    char args[13000], onnx[4200], xin[4200], yout[4200];
    snprintf(onnx, sizeof onnx, "%s/r50_%s.onnx", tmp, tag);
    snprintf(xin, sizeof xin, "%s/r50_%s_x.bin", tmp, tag);
    snprintf(yout, sizeof yout, "%s/r50_%s_y.bin", tmp, tag);
    snprintf(args, sizeof args, "%s --input-out %s --output-out %s", flags, xin, yout);
    irb_model_t *m = test_export_resnet50(onnx, args);
    if (!m)
        return;
    irb_error err = {0};
    const irb_model_info *info = irb_model_info_get(m);
    CHECK(info->n_cuts >= 2 && info->cuts[0].tensor.rank == 2 && info->cuts[0].tensor.dims[1] == 2048,
          "%s cut 1 is 2048-d", tag);
    CHECK(info->n_cuts >= 2 && strcmp(info->cuts[1].op, "Relu") == 0 && info->cuts[1].tensor.rank == 4 &&
              info->cuts[1].tensor.dims[1] == 2048 && info->cuts[1].tensor.dims[2] == 7,
          "%s cut 2 is the 2048x7x7 Relu", tag);
    const irb_preprocess *pp = irb_model_preprocess(m);
    CHECK(strcmp(pp->source, "metadata") == 0 && fabsf(pp->mean[0] - 123.675f) < 1e-3f &&
              fabsf(pp->std[2] - 57.375f) < 1e-3f,
          "%s preprocessing from metadata", tag);
    float *x = test_read_floats(xin, 3 * 224 * 224), *want = test_read_floats(yout, 1000);
    float *y = malloc(2048 * 49 * sizeof(float)), *c1 = malloc(2048 * sizeof(float));
    irb_net_t *net = NULL, *n1 = NULL, *n2 = NULL;
    irb_net_opts o = {.engine = IRB_ENGINE_REFERENCE};
    CHECK(irb_net_new(m, &o, &net, &err) == IRB_OK, "net: %s", err.message);
    o.cut = 1;
    CHECK(irb_net_new(m, &o, &n1, &err) == IRB_OK, "net cut 1: %s", err.message);
    o.cut = 2;
    o.pool = IRB_POOL_AVG;
    CHECK(irb_net_new(m, &o, &n2, &err) == IRB_OK, "net cut 2: %s", err.message);
    if (net && n1 && n2) {
        CHECK(irb_net_run(net, x, 1, y) == IRB_OK, "run: %s", irb_net_error(net)->message);
        double md = 0, mv = 0;
        for (int i = 0; i < 1000; i++) {
            md = fmax(md, fabs((double)y[i] - want[i]));
            mv = fmax(mv, fabs((double)want[i]));
        }
        printf("ResNet-50 %s: max |irbis - torch| = %.3g, max |torch| = %.3g, ratio %.3g\n", tag, md, mv, md / mv);
        CHECK(md / mv <= 1e-4, "%s: relative error %g", tag, md / mv);
        CHECK(irb_net_output_size(n1) == 2048 && irb_net_output_size(n2) == 2048, "cut sizes");
        CHECK(irb_net_run(n1, x, 1, c1) == IRB_OK && irb_net_run(n2, x, 1, y) == IRB_OK, "cut runs");
        double d = 0, v = 0;
        for (int i = 0; i < 2048; i++) {
            d = fmax(d, fabs((double)c1[i] - y[i]));
            v = fmax(v, fabs((double)c1[i]));
        }
        CHECK(v > 0 && d / v <= 1e-5, "%s: avg-pooled cut 2 differs from cut 1 by %g", tag, d / v);
    }
    irb_net_free(net);
    irb_net_free(n1);
    irb_net_free(n2);
    irb_model_free(m);
    free(x), free(want), free(y), free(c1);
}

int main(void)
{
    const char *tmp = test_tmpdir("nn_resnet");
    /* --no-fold is the harder file (Shape chain, BatchNorm nodes, symbolic batch); the folded
     * export is exercised by the oneDNN engine's tests. One export keeps this under a minute. */
    one(tmp, "--no-fold --opset 9", "nofold");
    return CHECK_DONE();
}

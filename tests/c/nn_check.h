/* What the network tests share (test_nn_mobilenet, test_nn_resnet, test_onednn_models,
 * test_int8): reading reference tensors, comparing outputs and making a net with a recorded
 * failure. Include after check.h. */
#ifndef IRB_TEST_NN_CHECK_H
#define IRB_TEST_NN_CHECK_H

#include <math.h>

#include "irbis/nn.h"

/* n floats from path (raw little-endian float32, e.g. a reference tensor); a file of another size
 * is a failure and ends the test (exit 1): nothing can be compared without it. */
static inline float *test_read_floats(const char *path, size_t n)
{
    size_t len = 0;
    float *b = test_slurp(path, &len);
    CHECK(b && len == n * sizeof(float), "%s: %zu bytes, expected %zu floats", path, len, n);
    if (!b || len != n * sizeof(float)) {
        printf("%d passed, %d failed\n", check_passed, check_failed);
        exit(1);
    }
    return b;
}

static inline double test_max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The cosine of a and b; two zero vectors are alike (1), a zero and a non-zero one are not (0). */
static inline double test_cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1 : 0);
}

/* A net of m with options o; a failure is recorded naming `what` and gives NULL. */
static inline irb_net_t *test_net(const irb_model_t *m, const irb_net_opts *o, const char *what)
{
    irb_error err = {0};
    irb_net_t *net = NULL;
    irb_status s = irb_net_new(m, o, &net, &err);
    CHECK(s == IRB_OK, "irb_net_new (%s): %s", what, err.message);
    return net;
}

/* The model at path; a failure is recorded and gives NULL. */
static inline irb_model_t *test_load_model(const char *path)
{
    irb_error err = {0};
    irb_model_t *m = NULL;
    CHECK(irb_model_load(path, NULL, &m, &err) == IRB_OK, "load %s: %s", path, err.message);
    return m;
}

/* The shared MobileNetV2. */
static inline irb_model_t *test_load_mobilenet(void)
{
    return test_load_model(test_shared("models/mobilenet_v2/mobilenet_v2_1.0_224.onnx"));
}

/* The seeded ResNet-50 of tools/export_resnet50.py (--seed 3 and `args`, e.g. --no-fold and where
 * to write a random input and PyTorch's output) exported to onnx and loaded; a failed export or
 * load is recorded and gives NULL. */
static inline irb_model_t *test_export_resnet50(const char *onnx, const char *args)
{
    char cmd[20000];
    const char *src = getenv("IRBIS_SRC");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/export_resnet50.py --seed 3 -o %s %s", src ? src : "..", onnx,
             args);
    if (system(cmd) != 0) {
        CHECK(0, "export failed: %s", cmd);
        return NULL;
    }
    return test_load_model(onnx);
}

#endif

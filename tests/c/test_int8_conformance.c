/* The int8 convolution against the ONNX conformance data (libonnx-testdata, node/test_*conv*,
 * Conv only): each net quantized with a calibration taken from its own data (the input's and the
 * expected output's min/max), run through irb_onednn_eval_int8, and every output element within
 * a bound derived from the scales:
 *   |y - want| <= dy / 2 + taps * (max|w| * dx / 2 + max|x| * dw / 2) + 1e-5
 * dx, dy: the input's and output's quantization steps (max|.| / 127, or max / 255 for u8), dw: the
 * weights' step (max|w| / 127, per channel <= that), taps: weights per output element. The
 * conv must have run int8 (irb_onednn_eval_int8 counts it). */
#include <math.h>
#include <string.h>

#include "backends/onednn/onednn.h"
#include "check.h"
#include "core/alloc.h"
#include "nn/onnx/onnx.h"

static const char *const cases[] = {
    "test_basic_conv_with_padding",      "test_basic_conv_without_padding",
    "test_conv_with_autopad_same",       "test_conv_with_strides_and_asymmetric_padding",
    "test_conv_with_strides_no_padding", "test_conv_with_strides_padding"};

static void range_of(const irb_tensor *t, float *lo, float *hi, float *amax)
{
    const float *x = t->data;
    size_t n = t->nbytes / sizeof(float);
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        *lo = x[i] < *lo ? x[i] : *lo;
        *hi = x[i] > *hi ? x[i] : *hi;
    }
    *amax = fmaxf(fabsf(*lo), fabsf(*hi));
}

static float step(float lo, float amax) { return lo >= 0 ? amax / 255 : amax / 127; }

static void run_case(const char *root, const char *name)
{
    char dir[4200], p[8400];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    irb_graph g;
    irb_error err = {0};
    if (irb_onnx_load(p, 0, &g, &err) != IRB_OK) {
        CHECK(0, "%s: %s", name, err.message);
        return;
    }
    irb_tensor in[2] = {{0}}, out[1] = {{0}}, want = {0};
    int ok = g.n_inputs == 2 && g.n_outputs == 1;
    for (int i = 0; ok && i < 2; i++) {
        snprintf(p, sizeof p, "%s/test_data_set_0/input_%d.pb", dir, i);
        ok = irb_onnx_read_tensor(p, 0, &in[i], &err) == IRB_OK;
    }
    snprintf(p, sizeof p, "%s/test_data_set_0/output_0.pb", dir);
    ok = ok && irb_onnx_read_tensor(p, 0, &want, &err) == IRB_OK;
    CHECK(ok, "%s: reading the case: %s", name, err.message);
    float *range = irb_malloc_array(2 * (size_t)g.n_values, sizeof *range);
    for (int v = 0; ok && v < g.n_values; v++)
        range[2 * v] = range[2 * v + 1] = NAN;
    float xlo = 0, ylo = 0, xmax = 0, ymax = 0, wlo, whi, wmax;
    if (ok) {
        range_of(&in[0], &range[2 * g.inputs[0]], &range[2 * g.inputs[0] + 1], &xmax);
        range_of(&want, &range[2 * g.outputs[0]], &range[2 * g.outputs[0] + 1], &ymax);
        xlo = range[2 * g.inputs[0]], ylo = range[2 * g.outputs[0]];
        range_of(&in[1], &wlo, &whi, &wmax);
    }
    int int8 = 0;
    irb_status s = ok ? irb_onednn_eval_int8(&g, in, out, range, &int8, &err) : IRB_INTERNAL;
    CHECK(s == IRB_OK, "%s: %s", name, err.message);
    if (s == IRB_OK) {
        int64_t taps = irb_numel(in[1].rank - 1, in[1].dims + 1);
        double tol = step(ylo, ymax) / 2 + (double)taps * (wmax * step(xlo, xmax) / 2 + xmax * wmax / 127 / 2) + 1e-5;
        const float *y = out[0].data, *w = want.data;
        size_t n = want.nbytes / sizeof(float);
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs((double)y[i] - w[i]));
        printf("%s: int8 convs %d, max error %.4g, bound %.4g (output range %.3g)\n", name, int8, worst, tol, ymax);
        CHECK(int8 == 1, "%s: the conv did not run int8 (%d)", name, int8);
        CHECK(out[0].nbytes == want.nbytes && worst <= tol, "%s: max error %.4g above %.4g", name, worst, tol);
        irb_tensor_release(&out[0]);
    }
    irb_free(range);
    irb_tensor_release(&in[0]);
    irb_tensor_release(&in[1]);
    irb_tensor_release(&want);
    irb_graph_release(&g);
}

int main(void)
{
    const char *root = "/usr/share/libonnx-testdata/data/node";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(root, cases[i]);
    return CHECK_DONE();
}

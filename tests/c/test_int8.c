/* int8 inference (docs/int8.md) against fp32 on the same engine: a calibration table recorded
 * on the shared camera-trap images of manifest rows 25, 75, 125, ... (46 images; a pipeline
 * records 64), then the features of 24 other shared images (rows 850, 900, ...) and of the four
 * reference inputs ($IRBIS_SHARED/models/mobilenet_v2/reference) must keep cosine >= 0.99 to
 * fp32, every image: MobileNetV2 at the cuts the recipes use (cut 1 = logits, cut 2 = pooled
 * 1280-d, at 224; cut 2 at 448 with a table recorded at 448) and the seeded ResNet-50 from
 * tools/export_resnet50.py (cut 1, pooled 2048-d). Also: int8 differs from fp32 (it really ran),
 * the table's text form round-trips, a net without a table is refused, and a table missing every
 * tensor runs (all layers fall back to fp32). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn_check.h"
#include "irbis.h"

#define N_CAL_MAX 64
#define N_EVAL    24
#define EVAL_FROM 850

static char *paths[N_CAL_MAX + N_EVAL];
static int N_CAL;

/* Every 50th row of the shared manifest: images of every source, none chosen by hand. Rows
 * 25 + 50k calibrate, rows 50k from EVAL_FROM are measured. */
static int pick_images(void)
{
    size_t n;
    char *csv = test_slurp(test_shared("data/camera-traps/manifest.csv"), &n);
    if (!csv)
        return 0;
    char *cal[N_CAL_MAX], *eval[N_EVAL];
    int nc = 0, ne = 0, row = 0;
    for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n"), row++) {
        int is_cal = row % 50 == 25 && nc < N_CAL_MAX, is_eval = row >= EVAL_FROM && row % 50 == 0 && ne < N_EVAL;
        if (!is_cal && !is_eval)
            continue;
        char *comma = strchr(line, ',');
        if (comma)
            *comma = 0;
        const char *root = getenv("IRBIS_SHARED");
        size_t len = strlen(root ? root : "../shared") + strlen(line) + 32;
        char *p = malloc(len);
        snprintf(p, len, "%s/data/camera-traps/%s", root ? root : "../shared", line);
        if (is_cal)
            cal[nc++] = p;
        else
            eval[ne++] = p;
    }
    free(csv);
    N_CAL = nc;
    memcpy(paths, cal, (size_t)nc * sizeof *paths);
    memcpy(paths + nc, eval, (size_t)ne * sizeof *paths);
    return nc >= 32 && ne == N_EVAL;
}

/* The DCT scales the inputs are decoded at: all eight (the table of docs/int8.md was recorded so),
 * or the fast ones every preprocessing saved since uses (mobilenet() measures both). */
static irb_dct_scales g_scales = IRB_DCT_ANY;

/* n preprocessed images (squashed whole frame at `size`, the model's normalisation) */
static float *load_inputs(const irb_model_t *m, char **list, int n, int size)
{
    const irb_preprocess *mp = irb_model_preprocess(m);
    irb_preproc pp = irb_preproc_default(size);
    pp.mode = IRB_RESIZE_SQUASH;
    pp.scales = g_scales;
    memcpy(pp.mean, mp->mean, sizeof pp.mean);
    memcpy(pp.scale, mp->std, sizeof pp.scale);
    size_t per = 3 * (size_t)size * size;
    float *x = malloc(per * n * sizeof *x);
    irb_decoder_t *dec = NULL;
    irb_decoder_new(&dec);
    for (int i = 0; i < n; i++) {
        irb_status s = irb_preprocess_file(dec, list[i], &pp, x + per * i, NULL);
        CHECK(s == IRB_OK, "%s: %s", list[i], irb_decoder_error(dec)->message);
    }
    irb_decoder_free(dec);
    return x;
}

static irb_net_t *make_net(const irb_model_t *m, int cut, int size, irb_precision p, const irb_calib_t *cal,
                           irb_calib_t *rec)
{
    irb_net_opts o = {.cut = cut,
                      .pool = IRB_POOL_AVG,
                      .precision = p,
                      .calib = cal,
                      .record = rec,
                      .threads = 2,
                      .max_batch = 8,
                      .input_size = size};
    char what[64];
    snprintf(what, sizeof what, "cut %d size %d precision %d", cut, size, (int)p);
    return test_net(m, &o, what);
}

static void run(irb_net_t *net, const float *x, int n, size_t per, float *y)
{
    size_t out = irb_net_output_size(net);
    for (int i = 0; i < n; i += 8) {
        int b = n - i < 8 ? n - i : 8;
        irb_status s = irb_net_run(net, x + per * i, b, y + out * i);
        CHECK(s == IRB_OK, "run: %s", irb_net_error(net)->message);
    }
}

/* A table recorded on the calibration images at `size`. */
static irb_calib_t *calibrate(const irb_model_t *m, int size)
{
    irb_calib_t *cal = NULL;
    irb_error err = {0};
    CHECK(irb_calib_new(&cal, &err) == IRB_OK, "calib_new");
    irb_net_t *rec = make_net(m, 0, size, IRB_PRECISION_FP32, NULL, cal);
    if (!rec)
        return cal;
    float *x = load_inputs(m, paths, N_CAL, size);
    float *y = malloc(irb_net_output_size(rec) * N_CAL * sizeof *y);
    run(rec, x, N_CAL, 3 * (size_t)size * size, y);
    CHECK(irb_calib_images(cal) == N_CAL, "%ld images recorded", irb_calib_images(cal));
    CHECK(irb_calib_tensors(cal) > 50, "%d tensors recorded", irb_calib_tensors(cal));
    irb_net_free(rec);
    free(x);
    free(y);
    return cal;
}

/* int8 vs fp32 features on inputs x (n images): min cosine must be >= min_cos, the mean >= mean_cos. */
static void compare(const irb_model_t *m, const irb_calib_t *cal, int cut, int size, const float *x, int n,
                    const char *what, double min_cos, double mean_cos)
{
    irb_net_t *f = make_net(m, cut, size, IRB_PRECISION_FP32, NULL, NULL);
    irb_net_t *q = make_net(m, cut, size, IRB_PRECISION_INT8, cal, NULL);
    if (!f || !q)
        goto done;
    size_t k = irb_net_output_size(f);
    float *yf = malloc(k * n * sizeof *yf), *yq = malloc(k * n * sizeof *yq);
    run(f, x, n, 3 * (size_t)size * size, yf);
    run(q, x, n, 3 * (size_t)size * size, yq);
    double lo = 1, sum = 0;
    int differ = 0;
    for (int i = 0; i < n; i++) {
        double c = test_cosine(yf + k * i, yq + k * i, k);
        lo = c < lo ? c : lo;
        sum += c;
        differ |= memcmp(yf + k * i, yq + k * i, k * sizeof(float)) != 0;
    }
    printf("%s cut %d size %d: cosine int8 vs fp32 min %.5f mean %.5f over %d images\n", what, cut, size, lo, sum / n,
           n);
    CHECK(lo >= min_cos, "%s cut %d size %d: min cosine %.5f < %.3f", what, cut, size, lo, min_cos);
    CHECK(sum / n >= mean_cos, "%s cut %d size %d: mean cosine %.5f < %.3f", what, cut, size, sum / n, mean_cos);
    CHECK(differ, "%s cut %d: int8 output identical to fp32 (int8 did not run)", what, cut);
    free(yf);
    free(yq);
done:
    irb_net_free(f);
    irb_net_free(q);
}

static void text_round_trip(const irb_calib_t *cal)
{
    irb_error err = {0};
    char *t = NULL;
    size_t len = 0;
    CHECK(irb_calib_to_text(cal, &t, &len, &err) == IRB_OK, "to_text: %s", err.message);
    irb_calib_t *back = NULL;
    CHECK(irb_calib_parse(t, len, "t", &back, &err) == IRB_OK, "parse: %s", err.message);
    CHECK(irb_calib_tensors(back) == irb_calib_tensors(cal) && irb_calib_images(back) == irb_calib_images(cal),
          "round trip: %d tensors, %ld images", irb_calib_tensors(back), irb_calib_images(back));
    char *t2 = NULL;
    size_t len2 = 0;
    CHECK(back && irb_calib_to_text(back, &t2, &len2, &err) == IRB_OK && len2 == len && !memcmp(t, t2, len),
          "text form not kept byte for byte");
    irb_calib_text_free(t2);
    irb_calib_free(back);
    /* damaged forms are refused with a line number */
    static const char *const bad[] = {"irbis-calib 2\nimages 1\n",          "irbis-calib 1\nimages x\n",
                                      "irbis-calib 1\nimages 1\n1 0 a\n",   "irbis-calib 1\nimages 1\n0 1 a\n0 1 a\n",
                                      "irbis-calib 1\nimages 1\nnan 1 a\n", "irbis-calib 1\nimages 1\n0 1\n",
                                      "irbis-calib 1\nimages 1\n0 1 a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        back = NULL;
        CHECK(irb_calib_parse(bad[i], strlen(bad[i]), "bad", &back, &err) == IRB_CORRUPT && !back,
              "bad table %zu accepted", i);
    }
    irb_calib_text_free(t);
}

static void mobilenet(void)
{
    irb_model_t *m = test_load_mobilenet();
    if (!m)
        return;
    irb_error err = {0};
    irb_calib_t *cal = calibrate(m, 224);
    text_round_trip(cal);
    float *x = load_inputs(m, paths + N_CAL, N_EVAL, 224);
    /* mean 0.997: the signed rule at 1/16 of the side (docs/int8.md); with it at 1/8 the means were
     * 0.9962 (cut 2) and 0.9966 (cut 1, the logits: 0.7 point below fp32 in the demo experiment) */
    compare(m, cal, 2, 224, x, N_EVAL, "mobilenet_v2", 0.99, 0.997);
    compare(m, cal, 1, 224, x, N_EVAL, "mobilenet_v2", 0.99, 0.997);
    free(x);
    /* the fast DCT scales (sharper inputs: full-scale decodes resized where 7/8 or 3/8 were
     * picked), table and inputs, as a pipeline saved since calibrates and runs them */
    g_scales = IRB_DCT_FAST;
    irb_calib_t *cal_fast = calibrate(m, 224);
    x = load_inputs(m, paths + N_CAL, N_EVAL, 224);
    compare(m, cal_fast, 2, 224, x, N_EVAL, "mobilenet_v2 (fast DCT scales)", 0.99, 0.996);
    compare(m, cal_fast, 1, 224, x, N_EVAL, "mobilenet_v2 (fast DCT scales)", 0.99, 0.996);
    irb_calib_free(cal_fast);
    free(x);
    g_scales = IRB_DCT_ANY;
    irb_calib_t *cal448 = calibrate(m, 448); /* each input size its own table (docs/int8.md) */
    x = load_inputs(m, paths + N_CAL, N_EVAL, 448);
    compare(m, cal448, 2, 448, x, N_EVAL, "mobilenet_v2", 0.99, 0.99);
    irb_calib_free(cal448);
    free(x);
    static const char *const names[] = {"dog", "eagle", "giraffe", "horses"};
    x = malloc(4 * 3 * 224 * 224 * sizeof *x);
    for (int i = 0; i < 4; i++) {
        char p[256];
        snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_input_f32_nchw.bin", names[i]);
        float *r = test_read_floats(test_shared(p), 3 * 224 * 224);
        memcpy(x + i * 3 * 224 * 224, r, 3 * 224 * 224 * sizeof *x);
        free(r);
    }
    compare(m, cal, 2, 224, x, 4, "mobilenet_v2 reference inputs", 0.99, 0.99);
    /* the reference features themselves: int8 against the independent fp32 vectors */
    irb_net_t *q = make_net(m, 2, 224, IRB_PRECISION_INT8, cal, NULL);
    float y[4 * 1280];
    if (q)
        run(q, x, 4, 3 * 224 * 224, y);
    for (int i = 0; q && i < 4; i++) {
        char p[256];
        snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_features_f32.bin", names[i]);
        float *r = test_read_floats(test_shared(p), 1280);
        double c = test_cosine(r, y + 1280 * i, 1280);
        printf("mobilenet_v2 int8 vs reference features %s: cosine %.5f\n", names[i], c);
        CHECK(c >= 0.99, "%s: cosine to the reference features %.5f", names[i], c);
        free(r);
    }
    irb_net_free(q);
    free(x);

    /* refusals and fallbacks */
    irb_net_t *n = NULL;
    irb_net_opts o = {.cut = 2, .pool = IRB_POOL_AVG, .precision = IRB_PRECISION_INT8};
    CHECK(irb_net_new(m, &o, &n, &err) == IRB_INVALID_ARG && !n, "int8 without a table accepted");
    o.calib = cal;
    o.engine = IRB_ENGINE_REFERENCE;
    CHECK(irb_net_new(m, &o, &n, &err) == IRB_UNSUPPORTED && !n, "int8 on the reference engine accepted");
    irb_calib_t *empty = NULL;
    irb_calib_new(&empty, &err);
    o.calib = empty;
    o.engine = IRB_ENGINE_AUTO;
    CHECK(irb_net_new(m, &o, &n, &err) == IRB_OK, "int8 with an empty table (all fp32): %s", err.message);
    irb_net_free(n);
    irb_calib_free(empty);
    irb_calib_free(cal);
    irb_model_free(m);
}

static void resnet50(void)
{
    const char *tmp = test_tmpdir("int8");
    char onnx[4200];
    snprintf(onnx, sizeof onnx, "%s/r50.onnx", tmp);
    irb_model_t *m = test_export_resnet50(onnx, "");
    if (!m)
        return;
    irb_calib_t *cal = calibrate(m, 224);
    float *x = load_inputs(m, paths + N_CAL, N_EVAL, 224);
    compare(m, cal, 1, 224, x, N_EVAL, "resnet50 (seeded)", 0.99, 0.99);
    free(x);
    irb_calib_free(cal);
    irb_model_free(m);
}

int main(void)
{
    if (!pick_images()) {
        CHECK(0, "cannot read %d images from the shared manifest", 32 + N_EVAL);
        return CHECK_DONE();
    }
    mobilenet();
    resnet50();
    for (int i = 0; i < N_CAL + N_EVAL; i++)
        free(paths[i]);
    return CHECK_DONE();
}

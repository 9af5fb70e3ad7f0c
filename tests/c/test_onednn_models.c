/* Real models on the oneDNN engine.
 *
 * With no arguments (ctest): the shared MobileNetV2 against its independent reference vectors
 * ($IRBIS_SHARED/models/mobilenet_v2/reference, SOURCE.md): `features` (cut 2, pooled) and
 * `probs` (the output) within 1e-4 max abs error in fp32, as one batch of 4 (per-image workers)
 * and one image at a time (intra-op); bf16 to the fp32 reference: features cosine >= 0.999, probabilities
 * cosine >= 0.997 and the same top-1 class (the softmax amplifies bf16 rounding; AMX kernels, which
 * oneDNN picks where the CPU has them, round differently from AVX512-BF16 ones: horses 0.99894 there).
 *
 * As a helper for tests/py/test_resnet*.py:
 *   test_onednn_models run MODEL LAYER BATCH THREADS IN.bin OUT
 * runs BATCH images of raw float32 NCHW from IN.bin through the oneDNN engine cut at LAYER and
 * writes raw float32 outputs to OUT.fp32, OUT.fp32b1, OUT.logits, OUT.bf16 (see helper_run). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <unistd.h>

#include <irbis.h>

#include "backends/onednn/onednn.h"
#include "check.h"
#include "nn_check.h"

static size_t argmax(const float *a, size_t n)
{
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        if (a[i] > a[k])
            k = i;
    return k;
}

static irb_net_t *onednn_net(const irb_model_t *m, const char *layer, int cut, irb_precision prec, int max_batch,
                             int threads)
{
    irb_net_opts o = {.layer = layer,
                      .cut = cut,
                      .pool = cut ? IRB_POOL_AVG : IRB_POOL_NONE,
                      .engine = IRB_ENGINE_ONEDNN,
                      .precision = prec,
                      .threads = threads,
                      .max_batch = max_batch};
    char what[64];
    snprintf(what, sizeof what, "cut %d, %s", cut, prec ? "bf16" : "fp32");
    irb_net_t *net = test_net(m, &o, what);
    CHECK(!net || strcmp(irb_net_engine(net), "onednn") == 0, "engine %s", net ? irb_net_engine(net) : "-");
    return net;
}

static void test_mobilenet(void)
{
    static const char *names[4] = {"dog", "eagle", "giraffe", "horses"};
    irb_model_t *m = test_load_mobilenet();
    if (!m)
        return;
    irb_error err = {0};
    enum { IN = 3 * 224 * 224, F = 1280, P = 1001 };
    float *in = malloc(4 * IN * sizeof *in), *feat = malloc(4 * F * sizeof *feat), *prob = malloc(4 * P * sizeof *prob);
    for (int i = 0; i < 4; i++) {
        char p[256];
        snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_input_f32_nchw.bin", names[i]);
        float *x = test_read_floats(test_shared(p), IN);
        snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_features_f32.bin", names[i]);
        float *f = test_read_floats(test_shared(p), F);
        snprintf(p, sizeof p, "models/mobilenet_v2/reference/%s_probs_f32.bin", names[i]);
        float *q = test_read_floats(test_shared(p), P);
        CHECK(x && f && q, "reference files for %s", names[i]);
        if (!x || !f || !q)
            return;
        memcpy(in + (size_t)i * IN, x, IN * sizeof *x);
        memcpy(feat + (size_t)i * F, f, F * sizeof *f);
        memcpy(prob + (size_t)i * P, q, P * sizeof *q);
        free(x), free(f), free(q);
    }
    float *out = malloc(4 * F * sizeof *out);
    for (int prec = 0; prec < 2; prec++) {
        if (prec == IRB_PRECISION_BF16 && !irb_onednn_has_bf16()) {
            irb_net_t *n = NULL;
            irb_net_opts o = {.cut = 2, .engine = IRB_ENGINE_ONEDNN, .precision = IRB_PRECISION_BF16};
            CHECK(irb_net_new(m, &o, &n, &err) == IRB_UNSUPPORTED, "bf16 refused without AVX512-BF16");
            continue;
        }
        for (int cut = 0; cut <= 2; cut += 2) {
            size_t d = cut ? F : P;
            const float *ref = cut ? feat : prob;
            /* a batch of 4 on two per-image workers, then one image at a time on 2 OpenMP threads */
            for (int mode = 0; mode < 2; mode++) {
                irb_net_t *net = onednn_net(m, NULL, cut, prec, mode ? 1 : 4, 2);
                if (!net)
                    continue;
                CHECK(irb_net_output_size(net) == d, "output size %zu", irb_net_output_size(net));
                for (int i = 0; i < 4; i += mode ? 1 : 4)
                    CHECK(irb_net_run(net, in + (size_t)i * IN, mode ? 1 : 4, out + (size_t)i * d) == IRB_OK, "run: %s",
                          irb_net_error(net)->message);
                for (int i = 0; i < 4; i++) {
                    const float *o = out + (size_t)i * d, *r = ref + (size_t)i * d;
                    if (prec == IRB_PRECISION_FP32) {
                        double e = test_max_abs_diff(o, r, d);
                        printf("fp32 %-8s %-8s batch %d: max abs error %.2e\n", names[i], cut ? "features" : "probs",
                               mode ? 1 : 4, e);
                        CHECK(e <= 1e-4, "fp32 %s cut %d: max abs error %g", names[i], cut, e);
                    } else {
                        double c = test_cosine(o, r, d);
                        printf("bf16 %-8s %-8s batch %d: cosine %.6f\n", names[i], cut ? "features" : "probs",
                               mode ? 1 : 4, c);
                        CHECK(c >= (cut ? 0.999 : 0.997), "bf16 %s cut %d: cosine %f", names[i], cut, c);
                        if (!cut)
                            CHECK(argmax(o, d) == argmax(r, d), "bf16 %s: top-1 class %zu, reference %zu", names[i],
                                  argmax(o, d), argmax(r, d));
                    }
                }
                irb_net_free(net);
            }
        }
    }
    free(in), free(feat), free(prob), free(out);
    irb_model_free(m);
}

/* helper runs: IRBIS_TEST_INPUT_SIZE (irb_net_opts.input_size) and IRBIS_TEST_ENGINE=reference */
static int helper_size;
static irb_engine helper_engine = IRB_ENGINE_ONEDNN;

/* Runs `batch` inputs through a net made with these options; writes the output to path. */
static int helper_net(const irb_model_t *m, const char *layer, irb_precision prec, int max_batch, int threads,
                      const float *in, int batch, const char *path)
{
    irb_error err = {0};
    irb_net_opts o = {.layer = layer,
                      .engine = helper_engine,
                      .precision = prec,
                      .threads = threads,
                      .max_batch = max_batch,
                      .input_size = helper_size};
    irb_net_t *net = NULL;
    if (irb_net_new(m, &o, &net, &err) != IRB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 3;
    }
    int c, h, w;
    irb_net_input_shape(net, &c, &h, &w);
    size_t k = irb_net_output_size(net), n = (size_t)c * h * w;
    float *out = malloc((size_t)batch * k * sizeof *out);
    int rc = out ? 0 : 3;
    for (int i = 0; rc == 0 && i < batch; i += max_batch) {
        int b = batch - i < max_batch ? batch - i : max_batch;
        if (irb_net_run(net, in + (size_t)i * n, b, out + (size_t)i * k) != IRB_OK) {
            fprintf(stderr, "%s\n", irb_net_error(net)->message);
            rc = 3;
        }
    }
    FILE *f = rc == 0 ? fopen(path, "wb") : NULL;
    if (rc == 0 && (!f || fwrite(out, sizeof *out, (size_t)batch * k, f) != (size_t)batch * k))
        rc = 3;
    if (f)
        fclose(f);
    free(out);
    irb_net_free(net);
    return rc;
}

/* run MODEL LAYER BATCH THREADS IN.bin OUT: writes OUT.fp32 (one batch), OUT.fp32b1 (one image
 * per run), OUT.logits (the model's output, fp32) and, with AVX512-BF16 on oneDNN, OUT.bf16. */
static int helper_run(char **argv)
{
    irb_error err = {0};
    irb_model_t *m = NULL;
    if (irb_model_load(argv[0], NULL, &m, &err) != IRB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 3;
    }
    int batch = atoi(argv[2]), threads = atoi(argv[3]), rc = 3;
    const char *size = getenv("IRBIS_TEST_INPUT_SIZE"), *engine = getenv("IRBIS_TEST_ENGINE");
    helper_size = size ? atoi(size) : 0;
    if (engine && !strcmp(engine, "reference"))
        helper_engine = IRB_ENGINE_REFERENCE;
    const irb_tensor_info *x = irb_model_info_get(m)->inputs;
    int64_t h = helper_size ? helper_size : x->dims[2], w = helper_size ? helper_size : x->dims[3];
    size_t n = (size_t)batch * x->dims[1] * h * w;
    float *in = test_read_floats(argv[4], n);
    char path[4096];
    if (in) {
        snprintf(path, sizeof path, "%s.fp32", argv[5]);
        rc = helper_net(m, argv[1], IRB_PRECISION_FP32, batch, threads, in, batch, path);
        snprintf(path, sizeof path, "%s.fp32b1", argv[5]);
        rc = rc ? rc : helper_net(m, argv[1], IRB_PRECISION_FP32, 1, threads, in, batch, path);
        snprintf(path, sizeof path, "%s.logits", argv[5]);
        rc = rc ? rc : helper_net(m, NULL, IRB_PRECISION_FP32, batch, threads, in, batch, path);
        snprintf(path, sizeof path, "%s.bf16", argv[5]);
        if (!rc && helper_engine == IRB_ENGINE_ONEDNN && irb_onednn_has_bf16())
            rc = helper_net(m, argv[1], IRB_PRECISION_BF16, batch, threads, in, batch, path);
    }
    free(in);
    irb_model_free(m);
    return rc;
}

/* The featurizer's mixed queue (CNN rows of several nets on their per-image slots, and the next
 * chunk's decoding, in one pool): a 224 input with mirrors and a 160 input, real frames in chunks
 * (batch 2, so 4 chunks in the 3 chunk sets, the first delivered slowly so that the workers wait
 * for a free set; and batch 1, 8 chunks), a missing file among them. Every row equals the same tensor
 * preprocessed alone (irb_preprocess_file, the mirror flipped by hand) through irb_net_run
 * byte for byte (the same single-threaded primitives). irb_net_slots: 2 for the per-image nets,
 * 0 for a batch-1 (intra-op) one, and a slot out of range is refused. */
typedef struct feat_rows {
    float *rows; /* [image][input][flipped] x 1280 */
    int got[8][2][2];
    int bad[8][2];
    int slow; /* 1: the first row's delivery takes 0.2 s, so the workers run out of free chunk sets */
} feat_rows;

static void keep_row(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim, const irb_error *e)
{
    feat_rows *r = ctx;
    if (r->slow && index == 0 && input == 0 && !flipped)
        usleep(200000);
    if (!row) {
        r->bad[index][input] += e && e->status != IRB_OK;
        return;
    }
    memcpy(r->rows + ((index * 2 + (size_t)input) * 2 + (size_t)flipped) * 1280, row, dim * sizeof(float));
    r->got[index][input][flipped]++;
}

static void test_featurizer_mixed(const irb_model_t *m)
{
    static const char *files[8] = {
        "data/camera-traps/mlwic_examples/images/CA-01_0006501.jpg",
        "data/camera-traps/mlwic_examples/images/CA-01_0006613.jpg",
        "data/camera-traps/wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG",
        "data/nope.jpg",
        "data/camera-traps/uruguay_curso_camtrapR/henry/camara1/e69.JPG",
        "data/odd-images/african_elephants_with_exif_orientation.jpg",
        "data/camera-traps/mlwic_examples/images/CA-01_0006502.jpg",
        "data/camera-traps/mlwic_examples/images/CA-01_0006503.jpg",
    };
    static const int sizes[2] = {224, 160};
    char paths[8][1024];
    const char *pp[8];
    for (int i = 0; i < 8; i++)
        snprintf(paths[i], sizeof paths[i], "%s", test_shared(files[i])), pp[i] = paths[i];
    irb_net_t *nets[2] = {NULL, NULL};
    irb_feat_input in[2];
    for (int k = 0; k < 2; k++) {
        irb_net_opts o = {.cut = 2,
                          .pool = IRB_POOL_AVG,
                          .engine = IRB_ENGINE_ONEDNN,
                          .threads = 2,
                          .max_batch = 4,
                          .input_size = sizes[k]};
        nets[k] = test_net(m, &o, "featurizer net");
        in[k] = (irb_feat_input){.net = nets[k], .pp = irb_preproc_default(sizes[k]), .flip = k == 0, .all = 1};
        in[k].pp.mode = IRB_RESIZE_SQUASH;
    }
    if (!nets[0] || !nets[1]) {
        irb_net_free(nets[0]), irb_net_free(nets[1]);
        return;
    }
    CHECK(irb_net_slots(nets[0]) == 2 && irb_net_slots(nets[1]) == 2, "slots %d %d", irb_net_slots(nets[0]),
          irb_net_slots(nets[1]));
    irb_error err = {0};
    float scratch[1280];
    CHECK(irb_net_run_slot(nets[0], 2, scratch, scratch, &err) == IRB_INVALID_ARG && strstr(err.message, "slot"),
          "slot 2 of 2 refused: %s", err.message);
    /* batch 2 (4 chunks in 3 sets) with a slow first delivery, and batch 1 (8 chunks) */
    feat_rows runs[2] = {{.rows = calloc((size_t)8 * 2 * 2 * 1280, sizeof(float)), .slow = 1},
                         {.rows = calloc((size_t)8 * 2 * 2 * 1280, sizeof(float))}};
    for (int v = 0; v < 2; v++) {
        irb_featurizer_opts fo = {.threads = 2, .batch = 2 - v};
        irb_featurizer *f = NULL;
        CHECK(irb_featurizer_new(in, 2, &fo, &f, &err) == IRB_OK, "featurizer: %s", err.message);
        if (f)
            CHECK(irb_featurizer_run(f, pp, 8, NULL, keep_row, &runs[v], &err) == IRB_OK, "run: %s", err.message);
        irb_featurizer_free(f);
    }
    irb_decoder_t *dec = NULL;
    CHECK(irb_decoder_new(&dec) == IRB_OK, "decoder");
    float *x = malloc(sizeof(float) * 3 * 224 * 224), *y = malloc(sizeof(float) * 3 * 224 * 224);
    size_t differ = 0, rows = 0;
    for (int i = 0; i < 8 && dec; i++)
        for (int k = 0; k < 2; k++) {
            if (i == 3) {
                for (int v = 0; v < 2; v++)
                    CHECK(runs[v].bad[i][k] == 1 && !runs[v].got[i][k][0], "the missing file: one error row per input");
                continue;
            }
            for (int fl = 0; fl <= in[k].flip; fl++) {
                int n = sizes[k];
                CHECK(irb_preprocess_file(dec, pp[i], &in[k].pp, x, NULL) == IRB_OK, "%s", files[i]);
                for (int c = 0; c < 3 * n; c++) /* the mirror: each row right to left */
                    for (int q = 0; q < n; q++)
                        y[(size_t)c * n + q] = fl ? x[(size_t)c * n + n - 1 - q] : x[(size_t)c * n + q];
                float want[1280];
                CHECK(irb_net_run(nets[k], y, 1, want) == IRB_OK, "%s", irb_net_error(nets[k])->message);
                for (int v = 0; v < 2; v++) {
                    const feat_rows *r = &runs[v];
                    const float *got = r->rows + (((size_t)i * 2 + (size_t)k) * 2 + (size_t)fl) * 1280;
                    CHECK(r->got[i][k][fl] == 1, "%s input %d flipped %d: %d rows", files[i], k, fl, r->got[i][k][fl]);
                    differ += memcmp(got, want, sizeof want) != 0;
                    rows++;
                }
            }
        }
    CHECK(rows == 42 && differ == 0, "featurizer rows vs one image at a time: %zu of %zu differ", differ, rows);
    irb_decoder_free(dec);
    free(x), free(y), free(runs[0].rows), free(runs[1].rows);
    irb_net_free(nets[0]), irb_net_free(nets[1]);
    irb_net_opts o1 = {.cut = 2, .pool = IRB_POOL_AVG, .engine = IRB_ENGINE_ONEDNN, .threads = 2, .max_batch = 1};
    irb_net_t *one = test_net(m, &o1, "batch-1 net");
    CHECK(!one || irb_net_slots(one) == 0, "a batch-1 (intra-op) net has no slots: %d", irb_net_slots(one));
    irb_net_free(one);
}

/* irb_net_opts.channels_last: the same net taking H x W x C inputs and giving an H x W x C map
 * gives exactly the values of the NCHW net, transposed: on oneDNN (which then reads the input and
 * writes the map in place of its reorders), fp32 and bf16, per-image workers (a batch of 2 and a
 * slot of their own) and intra-op (batch 1); at 448, where the first conv chain runs in bands
 * of rows read from the caller's input; pooled (cut 2) and a map (cut 3). On the reference
 * engine (which transposes around its run) at 160. */
static void transpose(const float *x, float *y, int n, int c, int hw, int to_hwc)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++)
            for (int p = 0; p < hw; p++) {
                size_t chw = ((size_t)i * c + k) * hw + p, hwc = ((size_t)i * hw + p) * c + k;
                if (to_hwc)
                    y[hwc] = x[chw];
                else
                    y[chw] = x[hwc];
            }
}

static void test_channels_last(const irb_model_t *m)
{
    int cases = 0, same = 0;
    for (int e = 0; e < 2; e++)
        for (int prec = 0; prec < (e ? 1 : 2); prec++)
            for (int mb = 2; mb >= 1; mb--)
                for (int cut = 3; cut >= 2; cut--) {
                    if ((prec == IRB_PRECISION_BF16 && !irb_onednn_has_bf16()) || (e && mb == 1))
                        continue;
                    int size = e ? 160 : 448, hw = size * size;
                    irb_net_opts o = {.cut = cut,
                                      .pool = cut == 2 ? IRB_POOL_AVG : IRB_POOL_NONE,
                                      .engine = e ? IRB_ENGINE_REFERENCE : IRB_ENGINE_ONEDNN,
                                      .precision = prec,
                                      .threads = 2,
                                      .max_batch = mb,
                                      .input_size = size};
                    irb_net_t *plain = test_net(m, &o, "NCHW net");
                    o.channels_last = 1;
                    irb_net_t *last = test_net(m, &o, "channels-last net");
                    if (!plain || !last) {
                        irb_net_free(plain), irb_net_free(last);
                        continue;
                    }
                    CHECK(irb_net_channels_last(last) == 1 && irb_net_channels_last(plain) == 0, "channels_last flags");
                    size_t dim = irb_net_output_size(plain), in = (size_t)3 * hw;
                    int n = mb, oc = cut == 3 ? 1280 : (int)dim, ohw = (int)(dim / (size_t)oc);
                    float *x = malloc(n * in * sizeof *x), *xh = malloc(n * in * sizeof *x),
                          *y = malloc(n * dim * sizeof *y), *yh = malloc(n * dim * sizeof *y),
                          *yt = malloc(n * dim * sizeof *y);
                    unsigned r = 99;
                    for (size_t i = 0; i < n * in; i++)
                        x[i] = (float)((r = r * 1103515245u + 12345u) >> 9) / 4194304.0f - 1.0f;
                    transpose(x, xh, n, 3, hw, 1);
                    int ok = irb_net_run(plain, x, n, y) == IRB_OK && irb_net_run(last, xh, n, yh) == IRB_OK;
                    CHECK(ok, "runs: %s %s", irb_net_error(plain)->message, irb_net_error(last)->message);
                    transpose(yh, yt, n, oc, ohw, 0);
                    int eq = ok && !memcmp(y, yt, n * dim * sizeof *y);
                    if (ok && irb_net_slots(last) > 0) { /* a slot of the caller's: the same */
                        irb_error err = {0};
                        memset(yh, 0, dim * sizeof *yh);
                        eq &= irb_net_run_slot(last, 1, xh + in, yh, &err) == IRB_OK;
                        transpose(yh, yt, 1, oc, ohw, 0);
                        eq &= !memcmp(y + dim, yt, dim * sizeof *y);
                    }
                    printf("channels last, %s %s, batch %d, cut %d (%d x %d): %s\n", irb_net_engine(last),
                           irb_precision_name(prec), n, cut, oc, ohw, eq ? "the same values" : "DIFFERENT");
                    cases++, same += eq;
                    free(x), free(xh), free(y), free(yh), free(yt);
                    irb_net_free(plain), irb_net_free(last);
                }
    CHECK(cases >= 6 && same == cases, "channels last: %d of %d nets give the NCHW net's values", same, cases);
}

/* A bf16 net whose output is a conv's map: the conv writes it in f32 from its accumulators
 * (no rounding to bf16, no reorder after), in both layouts, as an int8 conv does. Rounded, every
 * value would be a bf16 (its low 16 bits zero); written by the conv, most are not. The map stays
 * within bf16's error of the fp32 net's (cosine >= 0.995 on a random image's unpooled map). */
static void test_bf16_output(const irb_model_t *m)
{
    if (!irb_onednn_has_bf16()) {
        printf("bf16 output: no AVX512-BF16, skipped\n");
        return;
    }
    for (int last = 0; last < 2; last++) {
        irb_net_opts o = {.cut = 3,
                          .engine = IRB_ENGINE_ONEDNN,
                          .precision = IRB_PRECISION_BF16,
                          .threads = 1,
                          .max_batch = 1,
                          .input_size = 224,
                          .channels_last = last};
        irb_net_t *b = test_net(m, &o, "bf16 map net");
        o.precision = IRB_PRECISION_FP32;
        irb_net_t *f = test_net(m, &o, "fp32 map net");
        if (!b || !f) {
            irb_net_free(b), irb_net_free(f);
            continue;
        }
        size_t in = (size_t)3 * 224 * 224, dim = irb_net_output_size(b);
        float *x = malloc(in * sizeof *x), *yb = malloc(dim * sizeof *yb), *yf = malloc(dim * sizeof *yf);
        unsigned r = 7;
        for (size_t i = 0; i < in; i++)
            x[i] = (float)((r = r * 1103515245u + 12345u) >> 9) / 4194304.0f - 1.0f;
        int ok = irb_net_run(b, x, 1, yb) == IRB_OK && irb_net_run(f, x, 1, yf) == IRB_OK;
        CHECK(ok, "bf16 / fp32 map runs: %s %s", irb_net_error(b)->message, irb_net_error(f)->message);
        size_t nonzero = 0, beyond = 0;
        for (size_t i = 0; ok && i < dim; i++) {
            uint32_t bits;
            memcpy(&bits, &yb[i], sizeof bits);
            nonzero += yb[i] != 0.0f;
            beyond += (bits & 0xFFFFu) != 0;
        }
        double c = ok ? test_cosine(yb, yf, dim) : 0;
        printf("bf16 map (%s): %zu of %zu non-zero values beyond bf16's precision, cosine to fp32 %.6f\n",
               last ? "H x W x C" : "C x H x W", beyond, nonzero, c);
        CHECK(ok && nonzero > 1000 && beyond * 2 > nonzero, "bf16 map written in f32: %zu of %zu", beyond, nonzero);
        CHECK(c >= 0.995, "bf16 map against fp32: cosine %f", c);
        free(x), free(yb), free(yf);
        irb_net_free(b), irb_net_free(f);
    }
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "run") == 0)
        return helper_run(argv + 2);
    test_mobilenet();
    irb_model_t *m = test_load_mobilenet();
    if (m)
        test_featurizer_mixed(m);
    if (m)
        test_channels_last(m);
    if (m)
        test_bf16_output(m);
    irb_model_free(m);
    return CHECK_DONE();
}

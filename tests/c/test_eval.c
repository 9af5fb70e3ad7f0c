/* Metrics, ROC and path matching on hand-computed cases (the sklearn comparison is in
 * tests/py/test_eval_sklearn.py), plus writer failures and a three-curve SVG. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/cpu.h"
#include "features/features.h"
#include "irbis.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

static void test_metrics(void)
{
    /* truth 0 0 0 1 1 2, pred 0 1 0 1 1 1: class 2 never predicted */
    int t[] = {0, 0, 0, 1, 1, 2}, p[] = {0, 1, 0, 1, 1, 1};
    irb_metrics m = {0};
    irb_error err = {0};
    CHECK(irb_metrics_compute(t, p, 6, 4, &m, &err) == IRB_OK, "%s", err.message);
    CHECK(NEAR(m.accuracy, 4.0 / 6), "accuracy %g", m.accuracy);
    /* recall: 2/3, 1, 0 (class 3 absent from the truth: not averaged) */
    CHECK(NEAR(m.balanced_accuracy, (2.0 / 3 + 1 + 0) / 3), "balanced %g", m.balanced_accuracy);
    CHECK(NEAR(m.precision[0], 1) && NEAR(m.precision[1], 0.5) && m.precision[2] == 0 && m.precision[3] == 0,
          "precision");
    CHECK(NEAR(m.f1[0], 0.8) && NEAR(m.f1[1], 2 * 0.5 / 1.5), "f1 %g %g", m.f1[0], m.f1[1]);
    CHECK(m.support[0] == 3 && m.support[2] == 1 && m.support[3] == 0, "support");
    CHECK(m.confusion[0 * 4 + 1] == 1 && m.confusion[2 * 4 + 1] == 1 && m.confusion[1 * 4 + 1] == 2, "confusion");
    irb_metrics_release(&m);
    int bad[] = {0, 5};
    CHECK(irb_metrics_compute(bad, bad, 2, 4, &m, &err) == IRB_INVALID_ARG && strstr(err.message, "sample 1"), "range");
    double pr, rc;
    double s[] = {0.9, 0.5, 0.5, 0.1};
    int pos[] = {1, 0, 1, 0};
    irb_precision_recall_at(s, pos, 4, 0.5, &pr, &rc); /* >= 0.5: 3 predicted, 2 right */
    CHECK(NEAR(pr, 2.0 / 3) && NEAR(rc, 1), "p/r at 0.5: %g %g", pr, rc);
}

static void test_roc(void)
{
    /* scores 0.9(+) 0.8(-) 0.8(+) 0.4(-) 0.3(+) 0.1(-): ties at 0.8 move together.
     * Points: (0,0) inf; (0,1/3) .9; (1/3,2/3) .8; (2/3,2/3) .4; (2/3,1) .3; (1,1) .1
     * AUC = 1/3*(1/3+2/3)/2 + 1/3*2/3 + 1/3*1 = 1/6 + 2/9 + 1/3 = 13/18 */
    double s[] = {0.3, 0.8, 0.1, 0.9, 0.4, 0.8};
    int pos[] = {1, 1, 0, 1, 0, 0};
    irb_roc r = {0};
    irb_error err = {0};
    CHECK(irb_roc_compute(s, pos, 6, 0, &r, &err) == IRB_OK, "%s", err.message);
    double fpr[] = {0, 0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1}, tpr[] = {0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1, 1},
           thr[] = {INFINITY, 0.9, 0.8, 0.4, 0.3, 0.1};
    CHECK(r.n == 6, "points %zu", r.n);
    for (size_t i = 0; i < r.n && i < 6; i++)
        CHECK(NEAR(r.fpr[i], fpr[i]) && NEAR(r.tpr[i], tpr[i]) &&
                  (i == 0 ? isinf(r.threshold[0]) : r.threshold[i] == thr[i]),
              "point %zu: %g %g %g", i, r.fpr[i], r.tpr[i], r.threshold[i]);
    CHECK(NEAR(r.auc, 13.0 / 18), "auc %g", r.auc);
    irb_roc_release(&r);
    /* drop_intermediate: a vertical run (0,1/3),(0,2/3),(0,1) keeps only its ends */
    double s2[] = {0.9, 0.8, 0.7, 0.2};
    int p2[] = {1, 1, 1, 0};
    CHECK(irb_roc_compute(s2, p2, 4, 1, &r, &err) == IRB_OK, "%s", err.message);
    CHECK(r.n == 4 && NEAR(r.tpr[1], 1.0 / 3) && NEAR(r.tpr[2], 1) && r.threshold[2] == 0.7 && NEAR(r.auc, 1),
          "dropped: n %zu", r.n);
    irb_roc_release(&r);
    /* one class: OK with a warning, AUC NaN */
    irb_error_clear(&err);
    CHECK(irb_roc_compute(s2, p2, 3, 1, &r, &err) == IRB_OK && isnan(r.auc) && err.warning &&
              strstr(err.message, "undefined"),
          "one class");
    irb_roc_release(&r);
    double nanv[] = {NAN};
    CHECK(irb_roc_compute(nanv, p2, 1, 1, &r, &err) == IRB_INVALID_ARG, "NaN refused");
}

static void test_match(void)
{
    char *lp[] = {"cam1/a.jpg", "./cam2/a.jpg", "/abs/root/cam3/b.jpg", "x/dup.jpg", "y/dup.jpg"};
    char *ll[] = {"deer", "empty", "fox", "same", "same"};
    irb_labels l = {.n = 5, .path = lp, .label = ll};
    const char *q[] = {"cam1/a.jpg", "/data/s/cam2/a.jpg", "cam3/b.jpg", "a.jpg",
                       "dup.jpg",    "cam4/a.jpg",         "xcam1/a.jpg"};
    long m[7];
    irb_error err = {0};
    /* "a.jpg" matches cam1/a.jpg and cam2/a.jpg with different labels: ambiguous */
    CHECK(irb_labels_match(&l, q, 3, m, &err) == IRB_OK && m[0] == 0 && m[1] == 1 && m[2] == 2, "match %ld %ld %ld",
          m[0], m[1], m[2]);
    CHECK(irb_labels_match(&l, q + 3, 1, m, &err) == IRB_MISMATCH && strstr(err.message, "a.jpg"), "ambiguous");
    CHECK(irb_labels_match(&l, q + 4, 3, m, &err) == IRB_OK && m[0] == 3 && m[1] == -1 && m[2] == -1,
          "same label is fine; no match across a partial name: %ld %ld %ld", m[0], m[1], m[2]);
    /* a row that matched nothing: the file it misses only by case */
    const char *files[] = {"CAM1/B.JPG", "x/CAM1/A.JPG", "cam1/a.jpg.bak"};
    char *cp[] = {"cam1/a.jpg", "a.JPG", "zz/a.jpg"};
    irb_labels lc = {.n = 3, .path = cp, .label = ll};
    CHECK(irb_labels_case_twin(&lc, 0, files, 3) == 1 && irb_labels_case_twin(&lc, 1, files, 3) == 1 &&
              irb_labels_case_twin(&lc, 2, files, 3) == -1 && irb_labels_case_twin(&lc, 5, files, 3) == -1,
          "case twins");
    /* class names that look alike: a species task would train them as two classes */
    const char *alike[] = {"empty", "Snow leopard", "ibex", " snow__leopard-", "snow_leopard"};
    size_t a = 9, b = 9;
    CHECK(irb_labels_lookalike(alike, 5, &a, &b) == 1 && a == 1 && b == 3, "look-alike names: %zu %zu", a, b);
    const char *apart[] = {"snow_leopard", "snowleopard", "snow_leopards", "snow_leopard", "Ibex", "ibex1"};
    CHECK(irb_labels_lookalike(apart, 3, NULL, NULL) == 0, "other spellings are not alike (a missing '_', a plural)");
    CHECK(irb_labels_lookalike(apart + 3, 1, NULL, NULL) == 0 && irb_labels_lookalike(apart + 4, 2, NULL, NULL) == 0,
          "one name, a digit");
    CHECK(irb_labels_lookalike(apart, 4, &a, &b) == 0, "the same name twice is one class, not a look-alike");
}

static void test_svg(void)
{
    double s[] = {0.9, 0.7, 0.4, 0.2, 0.1};
    int p[] = {1, 0, 1, 0, 1};
    irb_roc r[3];
    for (int i = 0; i < 3; i++)
        irb_roc_compute(s, p, 5 - (size_t)i, 1, &r[i], NULL);
    const irb_roc *c[] = {&r[0], &r[1], &r[2]};
    const char *names[] = {"resnet50 <fc>", "mobilenet & co", "one"};
    char path[4200];
    snprintf(path, sizeof path, "%s/three.svg", test_tmpdir("eval"));
    irb_error err = {0};
    CHECK(irb_write_roc_svg(path, c, names, 3, "three models", &err) == IRB_OK, "%s", err.message);
    FILE *f = fopen(path, "rb");
    char buf[20000] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    int curves = 0;
    for (const char *q = buf; (q = strstr(q, "class=\"roc-curve\"")); q++)
        curves++;
    CHECK(n > 0 && curves == 3, "curves %d", curves);
    CHECK(strstr(buf, "resnet50 &lt;fc&gt;") && strstr(buf, "mobilenet &amp; co"), "names escaped");
    for (int i = 0; i < 3; i++)
        irb_roc_release(&r[i]);
    CHECK(irb_write_roc_svg("/nonexistent-dir/x.svg", c, names, 0, NULL, &err) == IRB_IO &&
              strstr(err.message, "/nonexistent-dir/x.svg"),
          "unwritable path named");
}

/* irb_extract on raw pixels (no net): flip = 1 gives each image's row then its mirror's, which
 * is the row reversed along x; flip = 2 gives only the mirror's, the same values; a missing file
 * gets one call with no row and its name; a bad flip value is refused. */
typedef struct {
    int calls, bad;
    size_t index[8];
    int flipped[8];
    float line[8][32]; /* channel 0, row 16 (size 32) */
    char why[1100];
} extract_log;

static void log_row(void *ctx, size_t index, int flipped, const float *row, size_t dim, const irb_error *e)
{
    extract_log *l = ctx;
    if (l->calls >= 8)
        return;
    l->index[l->calls] = index;
    l->flipped[l->calls] = flipped;
    if (row) {
        memcpy(l->line[l->calls], row + 16 * 32, sizeof l->line[0]);
        (void)dim;
    } else {
        l->bad++;
        snprintf(l->why, sizeof l->why, "%s", e ? e->message : "");
    }
    l->calls++;
}

static void test_extract_flip(void)
{
    const char *paths[] = {test_shared("data/odd-images/african_elephants_bw.jpg"), "/nonexistent/missing.jpg"};
    irb_extract_opts o = {0};
    o.pp = irb_preproc_default(32);
    o.pp.mode = IRB_RESIZE_SQUASH;
    o.threads = 1;
    CHECK(irb_extract_dim(NULL, &o) == 3 * 32 * 32, "raw dim");
    extract_log both = {0}, mirror = {0};
    irb_error err = {0};
    o.flip = 1;
    CHECK(irb_extract(NULL, paths, 2, &o, log_row, &both, &err) == IRB_OK, "flip 1: %s", err.message);
    o.flip = 2;
    CHECK(irb_extract(NULL, paths, 2, &o, log_row, &mirror, &err) == IRB_OK, "flip 2: %s", err.message);
    CHECK(both.calls == 3 && both.flipped[0] == 0 && both.flipped[1] == 1 && both.index[2] == 1, "flip 1 rows");
    int reversed = 1, differs = 0;
    for (int x = 0; x < 32; x++) {
        reversed &= both.line[1][x] == both.line[0][31 - x];
        differs |= both.line[0][x] != both.line[0][31 - x];
    }
    CHECK(reversed && differs, "the mirror is the row reversed (and the row is not symmetric)");
    CHECK(mirror.calls == 2 && mirror.flipped[0] == 1 && mirror.index[0] == 0 && mirror.index[1] == 1,
          "flip 2: only the mirror's row, then the failure (%d calls)", mirror.calls);
    CHECK(!memcmp(mirror.line[0], both.line[1], sizeof both.line[0]), "flip 2 mirror = flip 1 mirror");
    CHECK(mirror.bad == 1 && strstr(mirror.why, "missing.jpg"), "the missing file is named (%s)", mirror.why);
    o.flip = 3;
    CHECK(irb_extract(NULL, paths, 2, &o, log_row, &mirror, &err) == IRB_INVALID_ARG && strstr(err.message, "flip"),
          "flip 3 refused (%s)", err.message);
}

/* motion_stats on hand-computed maps: C = 2 channels, 5 positions (a C x P map). */
static void test_motion_stats(void)
{
    const float map[10] = {0, 0, 0, 0, 3, /* channel 0 */ 0, 0, 0, 0, 4}; /* position 4 differs */
    const float prev[10] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0};                /* position 3: 1 off */
    const float next[10] = {0, 0, 0, 0, 0, 0, 6, 0, 0, 0};                /* position 1: 6 off */
    double acc[5];
    float m[5], dist[10], out[MOTION_DIM];
    /* distances to prev: 0 0 0 1 5; to next: 0 6 0 0 5; the smaller: 0 0 0 0 5 */
    motion_stats(map, prev, next, 2, 5, acc, m, dist, out);
    /* numpy percentiles of {0,0,0,0,5}: 100 -> 5, 99 -> 4.8, 95 -> 4, 90 -> 3, 75 -> 0, 50 -> 0 */
    const float want[MOTION_DIM] = {5, 4.8f, 4, 3, 0, 0, 1};
    int same = 1;
    for (int k = 0; k < MOTION_DIM; k++)
        same &= fabsf(out[k] - want[k]) < 1e-5f;
    CHECK(same, "two neighbours: %g %g %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4], out[5], out[6]);
    /* one neighbour: its distances (0 0 0 1 5) */
    motion_stats(map, prev, NULL, 2, 5, acc, m, dist, out);
    CHECK(fabsf(out[0] - 5) < 1e-5f && fabsf(out[3] - 3.4f) < 1e-5f && fabsf(out[6] - 1.2f) < 1e-5f,
          "one neighbour: max %g, p90 %g, mean %g", out[0], out[3], out[6]);
    /* none: no change seen */
    motion_stats(map, NULL, NULL, 2, 5, acc, m, dist, out);
    int zero = 1;
    for (int k = 0; k < MOTION_DIM; k++)
        zero &= out[k] == 0;
    CHECK(zero, "no neighbour: zeros");
}

/* The motion stream (classify and the experiment): each pair of neighbours' distance is computed
 * once and kept for the second image of the pair. Its outputs must be those of motion_stats on
 * each image and its neighbours, bit for bit (the portable build as the reference), across a
 * camera change (no neighbour there), an image whose map failed (its neighbours lose it), an
 * image fed only as a neighbour (not wanted) and a camera of one image. */
typedef struct stream_out {
    float row[8][MOTION_DIM];
    int got[8], failed[8];
} stream_out;

static void on_stream(void *ctx, size_t k, int flipped, const float *row, size_t dim, const irb_error *e)
{
    (void)flipped, (void)e;
    stream_out *o = ctx;
    if (row && dim == MOTION_DIM)
        memcpy(o->row[k], row, sizeof o->row[k]), o->got[k]++;
    else
        o->failed[k]++;
}

#define STREAM_N 8
#define STREAM_C 19
#define STREAM_P 13
static void check_stream(float (*fed)[STREAM_C * STREAM_P], int channels_last, int simd,
                         float (*maps)[STREAM_C * STREAM_P], const long *prev, const long *next, const long *want_k,
                         const size_t *list, int failed, int unwanted);

static void test_motion_stream(void)
{
    enum { N = STREAM_N, C = STREAM_C, P = STREAM_P };
    static float maps[N][C * P];
    unsigned r = 11;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C * P; j++) {
            r = r * 1103515245u + 12345u;
            maps[i][j] = ldexpf((float)(r >> 9) / 8388608.0f - 0.5f, (int)((r >> 4) % 9));
        }
    /* cameras: images 0-4, 5-6, 7; image 1 is fed only as a neighbour (image 0's distance to it is
     * kept but is not image 2's); image 3's map fails */
    const long prev[N] = {-1, 0, 1, 2, 3, -1, 5, -1}, next[N] = {1, 2, 3, 4, -1, 6, -1, -1};
    const int failed = 3, unwanted = 1;
    long want_k[N];
    size_t list[N];
    for (int i = 0; i < N; i++)
        want_k[i] = i == unwanted ? -1 : i, list[i] = (size_t)i;
    static float hwc[N][C * P]; /* the same maps channels last */
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < P; p++)
                hwc[i][p * C + c] = maps[i][c * P + p];
    for (int layout = 0; layout < 2; layout++)
        for (int simd = 1; simd >= 0; simd--)
            check_stream(layout ? hwc : maps, layout, simd, maps, prev, next, want_k, list, failed, unwanted);
}

static void check_stream(float (*fed)[STREAM_C * STREAM_P], int channels_last, int simd,
                         float (*maps)[STREAM_C * STREAM_P], const long *prev, const long *next, const long *want_k,
                         const size_t *list, int failed, int unwanted)
{
    enum { N = STREAM_N, C = STREAM_C, P = STREAM_P };
    motion_stream *ms = NULL;
    irb_error err = {0};
    CHECK(motion_stream_new(C * P, C, channels_last, &ms, &err) == IRB_OK, "stream: %s", err.message);
    if (!ms)
        return;
    stream_out o = {0};
    int was = irb__simd(simd);
    motion_stream_begin(ms, prev, next, want_k, list, on_stream, &o);
    irb_error bad = {.status = IRB_CORRUPT};
    for (int i = 0; i < N; i++)
        motion_stream_feed(ms, (size_t)i, i == failed ? NULL : fed[i], C * P, i == failed ? &bad : NULL);
    motion_stream_end(ms);
    motion_stream_free(ms);
    int same = 1, calls = 1;
    irb__simd(0);
    for (int i = 0; i < N; i++) {
        if (i == unwanted || i == failed) {
            calls &= o.got[i] == 0 && o.failed[i] == (i == failed);
            continue;
        }
        calls &= o.got[i] == 1 && o.failed[i] == 0;
        const float *pv = prev[i] >= 0 && prev[i] != failed ? maps[prev[i]] : NULL;
        const float *nx = next[i] >= 0 && next[i] != failed ? maps[next[i]] : NULL;
        double acc[P];
        float m[P], dist[2 * P], want[MOTION_DIM];
        motion_stats(maps[i], pv, nx, C, P, acc, m, dist, want);
        same &= !memcmp(want, o.row[i], sizeof want);
    }
    irb__simd(was);
    CHECK(calls, "stream (%s, %s build): one row per wanted image, a failure for the failed one, none for the unwanted",
          channels_last ? "H x W x C" : "C x H x W", simd ? "vector" : "portable");
    CHECK(same, "stream (%s, %s build): the same bits as motion_stats on each image and its neighbours",
          channels_last ? "H x W x C" : "C x H x W", simd ? "vector" : "portable");
}

/* motion_dist_hwc (classify's channels-last maps) against motion_dist on the same maps as
 * C x H x W, the portable build as the reference: the same bits at channel and position counts
 * around the vector build's blocks (8 channels by 8 positions) and at the demo recipe's 1280 x
 * 18 x 18, in both builds. */
static void test_motion_dist_hwc(void)
{
    static const int chans[] = {1, 7, 8, 9, 19, 1280}, poss[] = {1, 7, 8, 9, 13, 324};
    enum { MAXN = 1280 * 324 };
    static float a[MAXN], b[MAXN], ah[MAXN], bh[MAXN];
    static double acc[324];
    static float want[324], got[324];
    unsigned r = 5;
    for (int i = 0; i < MAXN; i++) {
        r = r * 1103515245u + 12345u;
        a[i] = ldexpf((float)(r >> 9) / 8388608.0f - 0.5f, (int)((r >> 4) % 13) - 4);
        r = r * 1103515245u + 12345u;
        b[i] = i % 5 ? ldexpf((float)(r >> 9) / 8388608.0f - 0.5f, (int)((r >> 4) % 13) - 4) : a[i];
    }
    int same = 1, cases = 0;
    for (size_t x = 0; x < sizeof chans / sizeof *chans; x++)
        for (size_t y = 0; y < sizeof poss / sizeof *poss; y++) {
            int C = chans[x], P = poss[y];
            for (int c = 0; c < C; c++)
                for (int p = 0; p < P; p++)
                    ah[p * C + c] = a[c * P + p], bh[p * C + c] = b[c * P + p];
            int was = irb__simd(0);
            motion_dist(a, b, C, (size_t)P, acc, want);
            for (int simd = 1; simd >= 0; simd--) {
                irb__simd(simd);
                memset(got, 0, sizeof got);
                motion_dist_hwc(ah, bh, C, (size_t)P, got);
                same &= !memcmp(want, got, (size_t)P * sizeof *got);
                cases++;
            }
            irb__simd(was);
        }
    CHECK(same && cases == 72, "motion_dist_hwc: the same bits as motion_dist in %d cases", cases);
}

/* irb_map_mean: each channel's mean summed in double in position order, whatever the channel
 * count (19: two blocks of 8 side by side and 3 alone). Hand-made maps with exact means: 1e8 * (c
 * + 1) then four small values that depend on the channel, so a channel read at another's place,
 * or left out, shows. */
static void test_map_mean(void)
{
    enum { C = 19, P = 5 };
    float map[C * P], out[C];
    for (int c = 0; c < C; c++) {
        map[c * P] = 1e8f * (float)(c + 1);
        for (int p = 1; p < P; p++)
            map[c * P + p] = (float)(c % 3 + 1);
    }
    irb_map_mean(map, C, P, out);
    int same = 1;
    for (int c = 0; c < C; c++) {
        double want = (1e8 * (c + 1) + 4.0 * (c % 3 + 1)) / P; /* exact in double */
        same &= out[c] == (float)want;
    }
    CHECK(same, "channel means: out[0] %.9g out[8] %.9g out[18] %.9g", out[0], out[8], out[18]);
    /* the same bits as one channel at a time (the same order of terms): the vector build (16
     * channels, 8 positions at a time, the rest one by one) and the portable one, at channel and
     * position counts around those blocks; irb_map_mean_hwc on the map transposed (channels last,
     * the way classify's shared pass gets it), the same bits again */
    enum { C2 = 1285, P2 = 324 };
    static float big[C2 * P2], hwc[C2 * P2], one[C2], two[C2];
    unsigned r = 7;
    for (int i = 0; i < C2 * P2; i++) {
        /* +2^50 and -2^50 at every other odd index, values in [1, 13) between: each term's
         * share of the small values left in the sum depends on which side of a +2^50 it comes,
         * so a change in the order of terms changes the float mean */
        r = r * 1103515245u + 12345u;
        big[i] = i % 2 ? (i % 4 == 1 ? 0x1p50f : -0x1p50f) : 1.0f + (float)(r >> 9) / 8388608.0f * 12.0f;
    }
    static const int chans[] = {C2, 16, 15, 33}, poss[] = {49, 324, 1, 7, 8, 9};
    int bits = 1, builds = 0;
    for (int simd = 1; simd >= 0; simd--) {
        int was = irb__simd(simd);
        for (size_t a = 0; a < sizeof chans / sizeof *chans; a++)
            for (size_t b = 0; b < sizeof poss / sizeof *poss; b++) {
                int nc = chans[a], np = poss[b];
                for (int c = 0; c < nc; c++)
                    for (int p = 0; p < np; p++)
                        hwc[p * nc + c] = big[c * np + p];
                memset(one, 0, sizeof one);
                memset(two, 0, sizeof two);
                irb_map_mean(big, (size_t)nc, (size_t)np, one);
                irb_map_mean_hwc(hwc, (size_t)nc, (size_t)np, two);
                for (int c = 0; c < nc; c++) {
                    double sum = 0;
                    for (int p = 0; p < np; p++)
                        sum += big[c * np + p];
                    bits &= one[c] == (float)(sum / np) && two[c] == one[c];
                }
                builds++;
            }
        irb__simd(was);
    }
    CHECK(bits && builds == 48,
          "%d maps, both builds, C x H x W and H x W x C: the same bits as summed one channel at a time", builds);
}

int main(void)
{
    test_map_mean();
    test_motion_stats();
    test_motion_stream();
    test_motion_dist_hwc();
    test_extract_flip();
    test_metrics();
    test_roc();
    test_match();
    test_svg();
    return CHECK_DONE();
}

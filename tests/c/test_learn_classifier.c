/* Classifier files (round trip, checksum, truncation, version, provenance), prediction on a
 * hand-computed model, CRC-32 check value, grouped k-fold, choosing C, determinism; the novelty
 * model on synthetic clusters and the pipeline file's optional 'uncertain' section. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "irbis/learn.h"
#include "irbis/pipeline.h"
#include "core/cpu.h"

static uint64_t rng_state = 42;
static double urand(void) /* xorshift64*, uniform in [0, 1) */
{
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(1 - urand())) * cos(6.283185307179586 * urand()); }

static void put_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

/* A small trained 3-class model on random data with provenance set. */
static irb_classifier_t *small_model(int K, int D)
{
    enum { N = 60 };
    float x[N * 8];
    int y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % K;
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)(nrand() + (j == y[i] ? 1.5 : 0));
    }
    const char *names[] = {"empty", "snow leopard", "ibex, \"wild\""};
    irb_classifier_t *c = NULL;
    irb_error err = {0};
    irb_train_opts o = {.C = 0.5};
    if (irb_logreg_train(x, N, D, y, K, names, &o, &c, NULL, &err) != IRB_OK) {
        fprintf(stderr, "train: %s\n", err.message);
        return NULL;
    }
    irb_classifier_set_meta(c, "model_sha256", "aa11");
    irb_classifier_set_meta(c, "layer", "pool");
    irb_classifier_set_meta(c, "preprocessing", "resize 256, crop 224");
    return c;
}

static int load_status(const char *path, irb_error *err)
{
    irb_classifier_t *c = NULL;
    irb_error_clear(err);
    irb_status s = irb_classifier_load(path, &c, err);
    irb_classifier_free(c);
    return s;
}

static void test_crc(void)
{
    CHECK(irb_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32 check value %08x", irb_crc32(0, "123456789", 9));
    CHECK(irb_crc32(irb_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "crc32 continued");
    /* the table path (4096 bytes and more) against the definition, bit by bit; odd lengths and
     * a split inside it */
    static unsigned char big[20011];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    uint32_t ref = 0xFFFFFFFFu;
    for (size_t i = 0; i < sizeof big; i++) {
        ref ^= big[i];
        for (int k = 0; k < 8; k++)
            ref = (ref >> 1) ^ (0xEDB88320u & (0u - (ref & 1u)));
    }
    ref = ~ref;
    CHECK(irb_crc32(0, big, sizeof big) == ref, "crc32 of %zu bytes %08x, bit by bit %08x", sizeof big,
          irb_crc32(0, big, sizeof big), ref);
    CHECK(irb_crc32(irb_crc32(0, big, 5003), big + 5003, sizeof big - 5003) == ref, "crc32 continued at 5003");
}

static void test_file(const char *dir)
{
    char path[4200], p2[4200];
    snprintf(path, sizeof path, "%s/m.irbis", dir);
    snprintf(p2, sizeof p2, "%s/bad.irbis", dir);
    irb_classifier_t *c = small_model(3, 4), *d = NULL;
    irb_error err = {0};
    CHECK(c && irb_classifier_save(c, path, &err) == IRB_OK, "save: %s", err.message);
    CHECK(irb_classifier_load(path, &d, &err) == IRB_OK, "load: %s", err.message);
    if (!c || !d)
        return;
    const double *w1, *w2, *b1, *b2, *m1, *m2, *s1, *s2;
    int M = irb_classifier_params(c, &w1, &b1, &m1, &s1, NULL);
    CHECK(M == 3 && irb_classifier_params(d, &w2, &b2, &m2, &s2, NULL) == 3, "outputs");
    CHECK(!memcmp(w1, w2, 12 * sizeof(double)) && !memcmp(b1, b2, 3 * sizeof(double)) &&
              !memcmp(m1, m2, 4 * sizeof(double)) && !memcmp(s1, s2, 4 * sizeof(double)),
          "parameters differ");
    CHECK(!strcmp(irb_classifier_class_name(d, 2), "ibex, \"wild\""), "class name");
    CHECK(irb_classifier_C(d) == 0.5 && irb_classifier_dim(d) == 4, "C/dim");
    CHECK(irb_classifier_meta(d, "layer") && !strcmp(irb_classifier_meta(d, "layer"), "pool"), "meta");
    irb_classifier_free(d);

    size_t n;
    unsigned char *buf = test_slurp(path, &n);
    /* every single flipped byte is detected */
    int undetected = 0;
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0x10;
        irb_status s = irb_classifier_parse(buf, n, "flip", &d, &err);
        irb_classifier_free(d);
        undetected += s != IRB_CORRUPT;
        buf[i] ^= 0x10;
    }
    CHECK(undetected == 0, "%d of %zu byte flips not reported as corrupt", undetected, n);
    buf[n / 2] ^= 1;
    put_file(p2, buf, n);
    CHECK(load_status(p2, &err) == IRB_CORRUPT && strstr(err.message, "bad.irbis") && strstr(err.message, "checksum"),
          "flip message: %s", err.message);
    buf[n / 2] ^= 1;
    for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 37)) {
        put_file(p2, buf, cut);
        if (load_status(p2, &err) != IRB_CORRUPT) {
            CHECK(0, "truncated to %zu: status %d %s", cut, err.status, err.message);
            break;
        }
    }
    /* a newer version with a valid checksum: unsupported, not corrupt */
    buf[8] = 2;
    uint32_t crc = irb_crc32(0, buf, n - 4);
    for (int i = 0; i < 4; i++)
        buf[n - 4 + i] = (unsigned char)(crc >> (8 * i));
    put_file(p2, buf, n);
    CHECK(load_status(p2, &err) == IRB_UNSUPPORTED && strstr(err.message, "version 2"), "version: %s", err.message);
    snprintf(p2, sizeof p2, "%s/none.irbis", dir);
    CHECK(load_status(p2, &err) == IRB_NOT_FOUND && strstr(err.message, "none.irbis"), "missing: %s", err.message);
    free(buf);
    irb_classifier_free(c);
}

static void test_provenance(const char *dir)
{
    char base[4200];
    snprintf(base, sizeof base, "%s/prov", dir);
    irb_classifier_t *c = small_model(3, 4);
    irb_error err = {0};
    irb_featwriter_t *w = NULL;
    float row[4] = {1, 2, 3, 4};
    irb_featwriter_open(base, 4, NULL, &w, &err);
    irb_featwriter_set_meta_str(w, "model_sha256", "aa11");
    irb_featwriter_set_meta_str(w, "layer", "conv_last");
    irb_featwriter_add(w, "a.jpg", 0, NULL, row, &err);
    CHECK(irb_featwriter_close(w, &err) == IRB_OK, "write: %s", err.message);
    irb_features *fs = NULL;
    CHECK(irb_features_load(base, &fs, &err) == IRB_OK, "load: %s", err.message);
    if (!c || !fs)
        return;
    irb_error_clear(&err);
    CHECK(irb_classifier_check_features(c, fs, &err) == IRB_MISMATCH && strstr(err.message, "layer") &&
              strstr(err.message, "pool") && strstr(err.message, "conv_last"),
          "layer mismatch: %s", err.message);
    irb_classifier_set_meta(c, "layer", "conv_last");
    irb_error_clear(&err);
    CHECK(irb_classifier_check_features(c, fs, &err) == IRB_OK && err.warning && strstr(err.message, "preprocessing"),
          "match with warning: %s", err.message);
    irb_classifier_set_meta(c, "model_sha256", "bb22");
    CHECK(irb_classifier_check_features(c, fs, &err) == IRB_MISMATCH && strstr(err.message, "model_sha256"), "sha");
    irb_classifier_t *c5 = small_model(2, 5);
    CHECK(c5 && irb_classifier_check_features(c5, fs, &err) == IRB_MISMATCH && strstr(err.message, "dim"), "dim");
    /* provenance copied from features */
    CHECK(irb_classifier_set_provenance(c5, fs) == IRB_OK && !strcmp(irb_classifier_meta(c5, "layer"), "conv_last"),
          "set_provenance");
    irb_classifier_free(c5);
    irb_classifier_free(c);
    irb_features_free(fs);
}

/* Prediction against hand-computed values: the trained parameters are replaced through a file
 * whose fields are written here from the documented layout. */
static void test_predict_hand(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/hand.irbis", dir);
    unsigned char b[512];
    size_t n = 0;
#define PUT(p, k) (memcpy(b + n, (p), (k)), n += (k))
    uint32_t u;
    uint64_t q = 0;
    double v;
    PUT("IRBISCLF", 8);
    u = 1, PUT(&u, 4);
    u = 0, PUT(&u, 4);
    PUT(&q, 8);                     /* body length, set below */
    uint32_t hdr[4] = {2, 2, 1, 0}; /* K=2, D=2, M=1, no metadata */
    PUT(hdr, 16);
    v = 1.0, PUT(&v, 8);
    u = 1, PUT(&u, 4), PUT("a", 1);
    u = 1, PUT(&u, 4), PUT("b", 1);
    double cw[2] = {1, 1}, mean[2] = {1, -1}, sd[2] = {2, 0.5}, W[2] = {0.5, -1}, bias = 0.25;
    PUT(cw, 16), PUT(mean, 16), PUT(sd, 16), PUT(W, 16), PUT(&bias, 8);
    q = n - 24;
    memcpy(b + 16, &q, 8);
    u = irb_crc32(0, b, n);
    PUT(&u, 4);
    put_file(path, b, n);
    irb_classifier_t *c = NULL;
    irb_error err = {0};
    CHECK(irb_classifier_load(path, &c, &err) == IRB_OK, "hand model: %s", err.message);
    if (!c)
        return;
    float x[4] = {3, -1, 1, 0}; /* z = 0.5*(3-1)/2 - 1*(-1+1)/0.5 + 0.25 = 0.75; z2 = 0 - 2 + 0.25 = -1.75 */
    double p[4];
    CHECK(irb_classifier_predict(c, x, 2, 2, p, &err) == IRB_OK, "predict");
    double s1 = 1 / (1 + exp(-0.75)), s2 = 1 / (1 + exp(1.75));
    CHECK(fabs(p[1] - s1) < 1e-12 && fabs(p[0] - (1 - s1)) < 1e-12, "row 0: %g vs %g", p[1], s1);
    CHECK(fabs(p[3] - s2) < 1e-12, "row 1: %g vs %g", p[3], s2);
    CHECK(irb_classifier_predict(c, x, 1, 3, p, &err) == IRB_MISMATCH, "dim refused");
    irb_classifier_free(c);
}

static void test_group_kfold(void)
{
    /* groups of sizes 5,4,3,3,2,1,1,1 over 20 rows, interleaved */
    int groups[20] = {7, 3, 3, 9, 7, 1, 3, 7, 9, 2, 7, 3, 9, 1, 7, 2, 5, 6, 8, 1};
    int fold[20];
    irb_error err = {0};
    CHECK(irb_group_kfold(groups, 20, 3, fold, &err) == IRB_OK, "kfold: %s", err.message);
    int split = 0, size[3] = {0};
    for (int i = 0; i < 20; i++) {
        size[fold[i]]++;
        for (int j = 0; j < 20; j++)
            split += groups[i] == groups[j] && fold[i] != fold[j];
    }
    CHECK(split == 0, "a group was split across folds");
    /* by hand, largest group first into the lightest fold (ties: lowest fold; equal sizes: first
     * seen): 7(5)->f0 [5,0,0]; 3(4)->f1 [5,4,0]; 9(3)->f2 [5,4,3]; 1(3)->f2 [5,4,6]; 2(2)->f1 [5,6,6];
     * 5(1)->f0 [6,6,6]; 6(1)->f0 [7,6,6]; 8(1)->f1 [7,7,6]. */
    CHECK(size[0] == 7 && size[1] == 7 && size[2] == 6, "sizes %d %d %d", size[0], size[1], size[2]);
    CHECK(fold[0] == 0 && fold[1] == 1 && fold[3] == 2 && fold[5] == 2 && fold[9] == 1 && fold[16] == 0 &&
              fold[17] == 0 && fold[18] == 1,
          "assignment");
    int two[4] = {1, 1, 2, 2};
    CHECK(irb_group_kfold(two, 4, 3, fold, &err) == IRB_INVALID_ARG, "fewer groups than folds");
}

/* Choosing C: a nearly separable low-dimensional problem wants a large C, pure-noise labels on
 * many features want the smallest C (predicting the prior). */
static void test_choose_C(void)
{
    enum { N = 400, D1 = 2, N2 = 80, D2 = 100 };
    static float x1[N * D1], x2[N2 * D2];
    static int y1[N], y2[N2], g2[N2];
    for (int i = 0; i < N; i++) {
        x1[i * D1] = (float)nrand(), x1[i * D1 + 1] = (float)nrand();
        y1[i] = x1[i * D1] + 0.05 * nrand() > 0;
    }
    for (int i = 0; i < N2; i++) {
        for (int j = 0; j < D2; j++)
            x2[i * D2 + j] = (float)nrand();
        y2[i] = urand() < 0.5;
        g2[i] = i / 2; /* pairs as groups */
    }
    const char *names[] = {"no", "yes"};
    irb_classifier_t *c = NULL;
    irb_train_report r;
    irb_error err = {0};
    irb_train_opts o = {.C = 0, .cv_folds = 5};
    CHECK(irb_logreg_train(x1, N, D1, y1, 2, names, &o, &c, &r, &err) == IRB_OK, "cv 1: %s", err.message);
    CHECK(r.C >= 10, "separable problem chose C = %g", r.C);
    CHECK(r.grid_n == 13 && fabs(r.grid[0] - 1e-4) < 1e-12 && fabs(r.grid[12] - 100) < 1e-9, "default grid");
    int best = 0;
    for (int k = 0; k < r.grid_n; k++)
        best = r.cv_logloss[k] < r.cv_logloss[best] ? k : best;
    CHECK(r.grid[best] == r.C, "chosen C is the argmin");
    irb_classifier_free(c);
    o.groups = g2;
    CHECK(irb_logreg_train(x2, N2, D2, y2, 2, names, &o, &c, &r, &err) == IRB_OK, "cv 2: %s", err.message);
    CHECK(r.C <= 1e-3, "noise problem chose C = %g", r.C);
    irb_classifier_free(c);
    /* the path stops 2 values past the pooled minimum (cv_patience); fitting every C chooses
     * the same and gives bitwise the same losses where both fitted (folds in lock step) */
    irb_train_report all;
    o.cv_patience = -1;
    CHECK(irb_logreg_train(x2, N2, D2, y2, 2, names, &o, &c, &all, &err) == IRB_OK, "cv all: %s", err.message);
    irb_classifier_free(c);
    int nan_from = r.grid_n, fitted_same = 1;
    for (int k = 0; k < r.grid_n; k++) {
        if (isnan(r.cv_logloss[k]) && nan_from == r.grid_n)
            nan_from = k;
        fitted_same &= isnan(r.cv_logloss[k]) ? k >= nan_from : k < nan_from && r.cv_logloss[k] == all.cv_logloss[k];
        CHECK(!isnan(all.cv_logloss[k]), "cv_patience -1: C %g fitted", all.grid[k]);
    }
    CHECK(fitted_same && all.C == r.C, "early stop: same losses and C (%g, every C: %g)", r.C, all.C);
    CHECK(nan_from < r.grid_n && r.grid[nan_from - 3] == r.C, "stopped 2 past the minimum (first NaN at %d)", nan_from);
}

static void test_deterministic(const char *dir)
{
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/det1.irbis", dir);
    snprintf(p2, sizeof p2, "%s/det2.irbis", dir);
    uint64_t seed = rng_state;
    irb_classifier_t *a = small_model(3, 6);
    rng_state = seed;
    irb_classifier_t *b = small_model(3, 6);
    irb_error err = {0};
    irb_classifier_save(a, p1, &err);
    irb_classifier_save(b, p2, &err);
    size_t n1, n2;
    unsigned char *b1 = test_slurp(p1, &n1), *b2 = test_slurp(p2, &n2);
    CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1), "same input, different bytes");
    free(b1), free(b2);
    irb_classifier_free(a);
    irb_classifier_free(b);
}

static void test_bad_args(void)
{
    float x[4] = {1, 2, 3, 4};
    int y[2] = {0, 0}, y3[2] = {0, 5};
    const char *names[] = {"a", "b"};
    irb_classifier_t *c = NULL;
    irb_error err = {0};
    CHECK(irb_logreg_train(x, 2, 2, y, 2, names, NULL, &c, NULL, &err) == IRB_INVALID_ARG &&
              strstr(err.message, "class 1"),
          "empty class: %s", err.message);
    CHECK(irb_logreg_train(x, 2, 2, y3, 2, names, NULL, &c, NULL, &err) == IRB_INVALID_ARG, "label range");
    x[1] = NAN;
    int y2[2] = {0, 1};
    CHECK(irb_logreg_train(x, 2, 2, y2, 2, names, NULL, &c, NULL, &err) == IRB_INVALID_ARG, "NaN refused");
    CHECK(c == NULL, "no object on failure");
}

/* Runs op(ctx) with the k-th allocation from then on failing, k = 1, 2, ... below max, until it
 * succeeds; each failure must be IRB_NOMEM (CHECKed, naming what). Returns how many were. */
static int nomem_runs(const char *what, long max, irb_status (*op)(void *ctx, irb_error *err), void *ctx)
{
    int nomem = 0;
    for (long k = 1; k < max; k++) {
        irb_error err = {0};
        irb_alloc_fail_after(k);
        irb_status s = op(ctx, &err);
        irb_alloc_fail_after(0);
        if (s == IRB_OK)
            break;
        nomem += s == IRB_NOMEM;
        if (s != IRB_NOMEM) {
            CHECK(0, "%s: allocation %ld failing gave %d: %s", what, k, s, err.message);
            break;
        }
    }
    return nomem;
}

static irb_status load_op(void *path, irb_error *err)
{
    irb_classifier_t *c = NULL;
    irb_status s = irb_classifier_load(path, &c, err);
    irb_classifier_free(c);
    return s;
}

typedef struct save_args {
    const irb_classifier_t *m;
    const char *path;
} save_args;

static irb_status save_op(void *job, irb_error *err)
{
    const save_args *j = job;
    return irb_classifier_save(j->m, j->path, err);
}

enum { TN = 40, TD = 3 };
typedef struct train_args {
    float x[TN * TD];
    int y[TN];
    irb_train_opts o;
} train_args;

static irb_status train_op(void *job, irb_error *err)
{
    train_args *j = job;
    const char *names[] = {"a", "b", "c"};
    irb_classifier_t *c = NULL;
    irb_status s = irb_logreg_train(j->x, TN, TD, j->y, 3, names, &j->o, &c, NULL, err);
    irb_classifier_free(c);
    return s;
}

/* Every allocation failure while loading, saving or training a classifier reports IRB_NOMEM and
 * leaks nothing. */
static void test_alloc_failures(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/m.irbis", dir);
    int nomem = nomem_runs("load", 200, load_op, path);
    CHECK(nomem > 3, "allocation failures exercised: %d", nomem);
    /* saving (regression: a failed allocation in the directory sync was reported as an i/o error) */
    irb_classifier_t *m = NULL;
    irb_error e0 = {0};
    irb_classifier_load(path, &m, &e0);
    snprintf(path, sizeof path, "%s/inj.irbis", dir);
    save_args sj = {m, path};
    nomem = m ? nomem_runs("save", 50, save_op, &sj) : 0;
    CHECK(nomem >= 2, "save: %d NOMEM", nomem);
    irb_classifier_free(m);
    /* training with cross-validation */
    double grid[2] = {0.1, 1};
    train_args tj = {.o = {.C = 0, .cv_folds = 2, .grid = grid, .grid_n = 2, .balanced = 1}};
    for (int i = 0; i < TN * TD; i++)
        tj.x[i] = (float)nrand();
    for (int i = 0; i < TN; i++)
        tj.y[i] = i % 3;
    nomem = nomem_runs("train", 200, train_op, &tj);
    CHECK(nomem > 10, "train allocation failures exercised: %d", nomem);
}

/* A point of cluster c: 4 along axis c plus unit noise in every one of D axes. */
static void cluster_point(float *x, int D, int c)
{
    for (int j = 0; j < D; j++)
        x[j] = (float)(nrand() + (j == c ? 4 : 0));
}

/* Trained on clusters 0..2, the novelty model flags most points of an unseen cluster (axis 5)
 * and few new points of the seen ones; its threshold is the quantile of its held-out scores,
 * and a score is 1 - the largest cosine to a training point (checked by brute force here). */
static void test_novelty_synthetic(void)
{
    enum { N = 90, D = 8, Q = 100 };
    float x[N * D], seen[Q * D], unseen[Q * D];
    double held[N], sc[Q], su[Q];
    for (int i = 0; i < N; i++) /* clusters in blocks: the round-robin folds hold each of them */
        cluster_point(x + i * D, D, i / (N / 3));
    for (int i = 0; i < Q; i++)
        cluster_point(seen + i * D, D, i % 3), cluster_point(unseen + i * D, D, 5);
    irb_novelty *nv = NULL;
    irb_error err = {0};
    CHECK(irb_novelty_fit(x, N, D, NULL, 3, 0.95, 0, held, &nv, &err) == IRB_OK, "fit: %s", err.message);
    if (!nv)
        return;
    double sorted[N];
    memcpy(sorted, held, sizeof held);
    for (int i = 1; i < N; i++) /* insertion sort, then numpy's linear interpolation */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1], sorted[j - 1] = t;
        }
    double h = 0.95 * (N - 1), want = sorted[(int)h] + (h - floor(h)) * (sorted[(int)h + 1] - sorted[(int)h]);
    CHECK(fabs(nv->threshold - want) < 1e-12, "threshold %g = the 0.95 quantile of the held-out scores %g",
          nv->threshold, want);
    CHECK(irb_novelty_score(nv, seen, Q, D, sc, &err) == IRB_OK &&
              irb_novelty_score(nv, unseen, Q, D, su, &err) == IRB_OK,
          "score: %s", err.message);
    double worst = 0;
    for (int i = 0; i < Q; i++) {
        double best = -2, nx = 0;
        for (int j = 0; j < D; j++)
            nx += (double)unseen[i * D + j] * unseen[i * D + j];
        for (int t = 0; t < N; t++) {
            double dot = 0, nt = 0;
            for (int j = 0; j < D; j++)
                dot += (double)unseen[i * D + j] * x[t * D + j], nt += (double)x[t * D + j] * x[t * D + j];
            best = fmax(best, dot / sqrt(nx * nt));
        }
        worst = fmax(worst, fabs(su[i] - (1 - best)));
    }
    CHECK(worst < 1e-6, "scores = 1 - the largest cosine to a training point (max error %g)", worst);
    int fs = 0, fu = 0;
    for (int i = 0; i < Q; i++)
        fs += sc[i] > nv->threshold, fu += su[i] > nv->threshold;
    printf("novelty: %d of %d unseen, %d of %d seen flagged (threshold %g)\n", fu, Q, fs, Q, nv->threshold);
    CHECK(fu >= 90 && fs <= 15, "flagged novel: %d of %d unseen, %d of %d seen (threshold %g)", fu, Q, fs, Q,
          nv->threshold);
    float zero[D] = {0};
    CHECK(irb_novelty_score(nv, zero, 1, D, sc, &err) == IRB_OK && sc[0] == 1, "a zero row scores 1");
    CHECK(irb_novelty_score(nv, zero, 1, D - 1, sc, &err) == IRB_MISMATCH, "a row of another width is refused");
    irb_novelty_free(nv);
}

/* 1 - the largest cosine between q and the rows of x whose fold is not skip (every row when
 * fold is NULL), in long double, one pair at a time; 1 for a zero q or no row. */
static double brute_distance(const float *q, const float *x, int n, int D, const int *fold, int skip)
{
    long double nq = 0, best = -2;
    int any = 0;
    for (int j = 0; j < D; j++)
        nq += (long double)q[j] * q[j];
    for (int t = 0; t < n; t++) {
        if (fold && fold[t] == skip)
            continue;
        long double dot = 0, nt = 0;
        for (int j = 0; j < D; j++)
            dot += (long double)q[j] * x[t * D + j], nt += (long double)x[t * D + j] * x[t * D + j];
        long double c = dot / sqrtl(nq * nt);
        best = c > best ? c : best, any = 1;
    }
    return nq > 0 && any ? (double)(1 - best) : 1;
}

/* The blocked scoring (src/learn/novelty.c): features not a multiple of its lanes and queries
 * not a multiple of its block, training rows over several tiles, give the brute-force distances; a score is the same
 * bits whatever rows are scored with it (one at a time, all at once, split unevenly), and the vector and the portable
 * loops agree bit for bit; held-out scores leave out exactly the row's own fold. */
static void test_novelty_blocks(void)
{
    enum { N = 150, D = 1301, Q = 21, F = 4 }; /* N: two tiles of 64 training rows and part of a third */
    static float x[N * D], qs[Q * D];
    for (int i = 0; i < N; i++)
        cluster_point(x + i * D, D, i % 5);
    for (int i = 0; i < Q; i++)
        cluster_point(qs + i * D, D, i % 7);
    memset(qs + 3 * D, 0, D * sizeof(float)); /* a zero query scores 1 */
    irb_novelty *nv = NULL;
    irb_error err = {0};
    double held[N];
    int groups[N], fold[N];
    for (int i = 0; i < N; i++)
        groups[i] = i / 3;
    CHECK(irb_novelty_fit(x, N, D, groups, F, 0.9, 0, held, &nv, &err) == IRB_OK, "fit: %s", err.message);
    CHECK(irb_group_kfold(groups, N, F, fold, &err) == IRB_OK, "folds: %s", err.message);
    if (!nv)
        return;
    double worst = 0;
    for (int i = 0; i < N; i++)
        worst = fmax(worst, fabs(held[i] - brute_distance(x + i * D, x, N, D, fold, fold[i])));
    CHECK(worst < 1e-7,
          "held-out scores = brute force over the other folds (max error %g; the rows are stored as floats)", worst);
    double all[Q], one[Q], split[Q], portable[Q], avx2[Q];
    CHECK(irb_novelty_score(nv, qs, Q, D, all, &err) == IRB_OK, "score: %s", err.message);
    worst = 0;
    for (int i = 0; i < Q; i++)
        worst = fmax(worst, fabs(all[i] - brute_distance(qs + i * D, x, N, D, NULL, 0)));
    CHECK(worst < 1e-7, "scores = brute force (max error %g)", worst);
    CHECK(all[3] == 1, "a zero query scores 1 (%g)", all[3]);
    for (int i = 0; i < Q; i++)
        irb_novelty_score(nv, qs + i * D, 1, D, one + i, &err);
    irb_novelty_score(nv, qs, 5, D, split, &err);
    irb_novelty_score(nv, qs + 5 * D, Q - 5, D, split + 5, &err);
    int was = irb__simd(0);
    CHECK(irb_cpu_simd() == IRB_SIMD_NONE, "irb__simd(0) selects the portable builds");
    irb_novelty_score(nv, qs, Q, D, portable, &err);
    irb__simd(was);
    int top = irb_cpu_simd(), cap = irb__simd_cap(IRB_SIMD_AVX2); /* an AVX2 machine's build */
    irb_novelty_score(nv, qs, Q, D, avx2, &err);
    irb__simd_cap(cap);
    CHECK(!memcmp(all, one, sizeof all) && !memcmp(all, split, sizeof all),
          "the same bits scored all at once, one at a time and split 5 + 16");
    CHECK(!memcmp(all, portable, sizeof all), "the vector and the portable loops give the same bits");
    CHECK(top < IRB_SIMD_AVX2 || !memcmp(all, avx2, sizeof all), "the AVX2 build gives the same bits");
    irb_novelty_free(nv);
}

/* The file's bytes with the body length and CRC made consistent after an edit. */
static void reseal(uint8_t *b, size_t n)
{
    uint64_t body = n - 28;
    for (int i = 0; i < 8; i++)
        b[16 + i] = (uint8_t)(body >> (8 * i));
    uint32_t crc = irb_crc32(0, b, n - 4);
    for (int i = 0; i < 4; i++)
        b[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static uint8_t *slurp_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = malloc(1 << 20);
    *n = f ? fread(b, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    return b;
}

/* A one-part pipeline over small_model(3, D), with or without the 'uncertain' section. */
static irb_pipeline *small_pipeline(int D, int with)
{
    irb_pipeline *p = irb_pipeline_new();
    irb_pipeline_part *q = &p->parts[0];
    q->clf = small_model(3, D);
    p->n_parts = 1, p->n_classes = 3;
    p->classes = irb_calloc(3, sizeof *p->classes);
    for (int k = 0; k < 3; k++)
        p->classes[k] = irb_strdup(irb_classifier_class_name(q->clf, k));
    p->model_name = irb_strdup("m.onnx"), p->row = irb_strdup("RN2");
    q->weight = 1, q->n_inputs = 1, q->cut = 2, q->pool = 1, q->layer = irb_strdup("");
    q->preprocessing[0] = irb_strdup("");
    if (with) {
        float x[30 * 8];
        for (int i = 0; i < 30; i++)
            cluster_point(x + i * D, D, i % 3);
        irb_error err = {0};
        p->min_confidence = 0.625;
        irb_novelty_fit(x, 30, D, NULL, 3, 0.9, 0, NULL, &p->novelty, &err);
    }
    return p;
}

static irb_status parse_bytes(const uint8_t *b, size_t n, irb_pipeline **p, irb_error *err)
{
    irb_error_clear(err);
    return irb_pipeline_parse(b, n, "edited.irbis", p, err);
}

/* Round trip of the 'uncertain' section; a pipeline without it writes none (the format of
 * earlier files) and loads with neither; an unknown section is skipped; damage is refused. */
static void test_pipeline_sections(const char *dir)
{
    enum { D = 6 };
    char path[4096], old[4096];
    snprintf(path, sizeof path, "%s/novelty.irbis", dir);
    snprintf(old, sizeof old, "%s/plain.irbis", dir);
    irb_pipeline *p = small_pipeline(D, 1), *plain = small_pipeline(D, 0), *r = NULL;
    irb_error err = {0};
    CHECK(p->novelty && irb_pipeline_save(p, path, &err) == IRB_OK, "save with a novelty model: %s", err.message);
    CHECK(irb_pipeline_save(plain, old, &err) == IRB_OK, "save without: %s", err.message);
    CHECK(irb_pipeline_load(path, &r, &err) == IRB_OK, "load: %s", err.message);
    if (r && p->novelty) {
        const irb_novelty *a = p->novelty, *b = r->novelty;
        CHECK(b && b->part == 0 && b->dim == D && b->n == 30 && b->quantile == 0.9 && b->threshold == a->threshold &&
                  !memcmp(a->rows, b->rows, 30 * D * sizeof(float)) && r->min_confidence == 0.625,
              "the section reads back as written");
    }
    irb_pipeline_free(r), r = NULL;
    size_t n_new, n_old;
    uint8_t *b = slurp_file(path, &n_new), *o = slurp_file(old, &n_old);
    CHECK(n_new == n_old + 13 + 8 + 8 + 4 + 4 + 16 + 4 + 8 + 30 * D * 4, "the section's bytes: %zu - %zu", n_new,
          n_old);
    CHECK(irb_pipeline_load(old, &r, &err) == IRB_OK && !r->novelty && r->min_confidence == 0,
          "a pipeline without the section loads with neither: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    /* an unknown section after it: skipped */
    static const uint8_t extra[] = {6, 0, 0, 0, 'f', 'u', 't', 'u', 'r', 'e', 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3};
    memmove(b + n_new - 4 + sizeof extra, b + n_new - 4, 4);
    memcpy(b + n_new - 4, extra, sizeof extra);
    reseal(b, n_new + sizeof extra);
    CHECK(parse_bytes(b, n_new + sizeof extra, &r, &err) == IRB_OK && r->novelty && r->novelty->n == 30,
          "an unknown section is skipped: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    /* the section cut short (its length says more than is there) */
    size_t cut = n_new - 4 - 40;
    memmove(b + cut, b + n_new + sizeof extra - 4, 4);
    reseal(b, cut + 4);
    CHECK(parse_bytes(b, cut + 4, &r, &err) == IRB_CORRUPT && strstr(err.message, "edited.irbis"),
          "a truncated section: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    /* a stored row that is not of norm 1 */
    free(b);
    b = slurp_file(path, &n_new);
    float two = 2;
    memcpy(b + n_new - 4 - 4 * D, &two, 4);
    reseal(b, n_new);
    CHECK(parse_bytes(b, n_new, &r, &err) == IRB_CORRUPT && strstr(err.message, "norm"), "a row not of norm 1: %s",
          err.message);
    irb_pipeline_free(r), r = NULL;
    /* a novelty model of a part that is not there is not saved */
    p->novelty->part = 1;
    CHECK(irb_pipeline_save(p, path, &err) == IRB_CORRUPT, "a novelty model of part 2 of 1 is refused: %s",
          err.message);
    free(b), free(o);
    irb_pipeline_free(p);
    irb_pipeline_free(plain);
}

/* Section 'precision': an int8 pipeline's tables round-trip byte for byte; an fp32 pipeline writes
 * none (files as before); a pipeline written before the section (checked in) loads as fp32;
 * int8 without a table for an input size is refused; a damaged table names its offset. */
static void test_pipeline_precision(const char *dir)
{
    enum { D = 6 };
    static const char table[] = "irbis-calib 1\nimages 3\n-1.5 2.25 /conv/Conv_output_0\n0 6 /relu 6/Relu_output_0\n";
    char path[4096], plain_path[4096], old[4096];
    snprintf(path, sizeof path, "%s/int8.irbis", dir);
    snprintf(plain_path, sizeof plain_path, "%s/fp32.irbis", dir);
    irb_pipeline *p = small_pipeline(D, 0), *plain = small_pipeline(D, 0), *r = NULL;
    irb_calib_t *cal = NULL;
    irb_error err = {0};
    p->parts[0].sizes[0] = plain->parts[0].sizes[0] = 448;
    CHECK(irb_calib_parse(table, strlen(table), "t", &cal, &err) == IRB_OK, "table: %s", err.message);
    p->precision = IRB_PRECISION_INT8;
    CHECK(irb_pipeline_save(p, path, &err) == IRB_CORRUPT && strstr(err.message, "input size 448"),
          "int8 without a table for its size is not saved: %s", err.message);
    CHECK(irb_pipeline_set_calib(p, 224, cal, &err) == IRB_OK && irb_pipeline_set_calib(p, 448, cal, &err) == IRB_OK &&
              irb_pipeline_set_calib(p, 448, cal, &err) == IRB_OK && p->n_calib == 2,
          "two tables (one replaced)");
    CHECK(irb_pipeline_save(p, path, &err) == IRB_OK && irb_pipeline_save(plain, plain_path, &err) == IRB_OK,
          "saved: %s", err.message);
    CHECK(irb_pipeline_load(path, &r, &err) == IRB_OK, "load: %s", err.message);
    if (r) {
        char *text = NULL;
        size_t len = 0;
        const irb_calib_t *c448 = irb_pipeline_calib(r, 448);
        CHECK(r->precision == IRB_PRECISION_INT8 && r->n_calib == 2 && irb_pipeline_calib(r, 224) && c448 &&
                  !irb_pipeline_calib(r, 576),
              "precision and tables read back");
        CHECK(c448 && irb_calib_to_text(c448, &text, &len, &err) == IRB_OK && len == strlen(table) &&
                  !memcmp(text, table, len),
              "the table byte for byte: %s", text ? text : "");
        irb_calib_text_free(text);
    }
    irb_pipeline_free(r), r = NULL;
    size_t n8, n32;
    uint8_t *b = slurp_file(path, &n8), *o = slurp_file(plain_path, &n32);
    size_t section = 4 + 9 + 8 + 4 + 4 + 2 * (4 + 4 + strlen(table));
    CHECK(n8 == n32 + section, "the section's bytes: %zu - %zu, expected %zu", n8, n32, section);
    CHECK(irb_pipeline_load(plain_path, &r, &err) == IRB_OK && r->precision == IRB_PRECISION_FP32 && !r->n_calib,
          "fp32: no section, no tables: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    /* a damaged table: 'images' misspelt in the last table */
    uint8_t *at = NULL;
    for (size_t i = n8 - 4 - strlen(table); i + 6 < n8 && !at; i++)
        if (!memcmp(b + i, "images", 6))
            at = b + i;
    if (at)
        at[0] = 'I';
    reseal(b, n8);
    CHECK(parse_bytes(b, n8, &r, &err) == IRB_CORRUPT && strstr(err.message, "calibration table") &&
              strstr(err.message, "offset"),
          "a damaged table is refused at its offset: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    /* files written before the section: a pipeline (with 'uncertain') and a version-1 classifier */
    const char *src = getenv("IRBIS_SRC");
    snprintf(old, sizeof old, "%s/tests/fuzz/corpus/fuzz_classifier/pipeline_uncertain.irbis", src ? src : ".");
    CHECK(irb_pipeline_load(old, &r, &err) == IRB_OK && r->version == 2 && r->precision == IRB_PRECISION_FP32 &&
              !r->n_calib && r->novelty,
          "an older version-2 pipeline loads as fp32: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    snprintf(old, sizeof old, "%s/tests/fuzz/corpus/fuzz_classifier/binary.irbis", src ? src : ".");
    CHECK(irb_pipeline_load(old, &r, &err) == IRB_OK && r->version == 1 && r->precision == IRB_PRECISION_FP32,
          "a version-1 classifier loads as an fp32 pipeline: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    p->calib_size[0] = 448; /* two tables for one size */
    CHECK(irb_pipeline_save(p, path, &err) == IRB_CORRUPT && strstr(err.message, "two calibration tables"),
          "two tables for one input size are refused: %s", err.message);
    free(b), free(o);
    irb_calib_free(cal);
    irb_pipeline_free(p);
    irb_pipeline_free(plain);
}

/* Section 'map-mean': the marks round-trip; a pipeline without marks writes none (files as
 * before, which load unmarked); a mark on a motion part, a count that is not the parts' or a
 * value other than 0/1 is refused, naming the file. */
static void test_pipeline_map_mean(const char *dir)
{
    enum { D = 6 };
    char path[4096], plain_path[4096];
    snprintf(path, sizeof path, "%s/map_mean.irbis", dir);
    snprintf(plain_path, sizeof plain_path, "%s/unmarked.irbis", dir);
    irb_pipeline *p = small_pipeline(D, 0), *r = NULL;
    irb_error err = {0};
    CHECK(irb_pipeline_save(p, plain_path, &err) == IRB_OK, "saved unmarked: %s", err.message);
    p->parts[0].map_mean = 1;
    CHECK(irb_pipeline_save(p, path, &err) == IRB_OK, "saved marked: %s", err.message);
    CHECK(irb_pipeline_load(path, &r, &err) == IRB_OK && r->parts[0].map_mean == 1, "the mark reads back: %s",
          err.message);
    irb_pipeline_free(r), r = NULL;
    CHECK(irb_pipeline_load(plain_path, &r, &err) == IRB_OK && r->parts[0].map_mean == 0,
          "unmarked: read back unmarked: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    size_t n, n0;
    uint8_t *b = slurp_file(path, &n), *o = slurp_file(plain_path, &n0);
    size_t section = 4 + 8 + 8 + 4 + 4; /* name, length, part count, one flag */
    CHECK(n == n0 + section && !memcmp(b + 24, o + 24, n0 - 28),
          "the section's bytes (%zu - %zu) after the "
          "body, which is the unmarked file's",
          n, n0);
    uint8_t *flag = b + n - 8, *count = b + n - 12;
    flag[0] = 2;
    reseal(b, n);
    CHECK(parse_bytes(b, n, &r, &err) == IRB_CORRUPT && strstr(err.message, "edited.irbis") &&
              strstr(err.message, "map-mean 2"),
          "a mark of 2 is refused: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    flag[0] = 1, count[0] = 2;
    reseal(b, n);
    CHECK(parse_bytes(b, n, &r, &err) == IRB_CORRUPT && strstr(err.message, "map-mean for 2 parts"),
          "a count other than the parts' is refused: %s", err.message);
    irb_pipeline_free(r), r = NULL;
    p->parts[0].kind = IRB_PART_MOTION;
    CHECK(irb_pipeline_save(p, path, &err) == IRB_CORRUPT && strstr(err.message, "motion"),
          "a mark on a motion part is not saved: %s", err.message);
    free(b), free(o);
    irb_pipeline_free(p);
}

int main(void)
{
    const char *dir = test_tmpdir("learn_classifier");
    test_crc();
    test_file(dir);
    test_provenance(dir);
    test_predict_hand(dir);
    test_group_kfold();
    test_choose_C();
    test_deterministic(dir);
    test_bad_args();
    test_alloc_failures(dir);
    test_novelty_synthetic();
    test_novelty_blocks();
    test_pipeline_sections(dir);
    test_pipeline_precision(dir);
    test_pipeline_map_mean(dir);
    return CHECK_DONE();
}

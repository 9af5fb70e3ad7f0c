/* Feature sets: writer/reader round trip, corrupt-file errors, sha256 known answers.
 * Also a helper for tests/py/test_features.py:
 *   test_learn_features --write BASE RAW N D   stream RAW (N*D float32) into feature set BASE
 *   test_learn_features --read BASE RAW        load BASE, write its matrix to RAW, print rows */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/sha256.h"
#include "irbis/learn.h"

static void put_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}

static int write_set(const char *base, size_t n, int d, const float *x)
{
    irb_error err = {0};
    irb_featwriter_t *w = NULL;
    const char *extra[] = {"camera", "timestamp", NULL};
    if (irb_featwriter_open(base, d, extra, &w, &err) != IRB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    irb_featwriter_set_meta_str(w, "model", "models/m \"v2\".onnx");
    irb_featwriter_set_meta(w, "cut", "7");
    irb_featwriter_set_meta(w, "preprocessing", "{\"resize\": 256, \"crop\": 224}");
    for (size_t i = 0; i < n; i++) {
        char p[64], cam[16];
        snprintf(p, sizeof p, i % 5 == 0 ? "dir, with comma/img%zu.jpg" : "dir/img%zu.jpg", i);
        snprintf(cam, sizeof cam, "cam%zu", i % 3);
        const char *ev[] = {cam, "2020-01-01T00:00:00"};
        if (irb_featwriter_add(w, p, (int)(i % 2), ev, x + i * (size_t)d, &err) != IRB_OK) {
            fprintf(stderr, "%s\n", err.message);
            irb_featwriter_free(w);
            return 1;
        }
    }
    if (irb_featwriter_close(w, &err) != IRB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    return 0;
}

static int helper(int argc, char **argv)
{
    irb_error err = {0};
    if (!strcmp(argv[1], "--write") && argc == 6) {
        size_t n = strtoul(argv[4], NULL, 10), len;
        int d = atoi(argv[5]);
        float *x = test_slurp(argv[3], &len);
        if (!x || len != n * d * sizeof(float))
            return 2;
        int rc = write_set(argv[2], n, d, x);
        free(x);
        return rc;
    }
    if (!strcmp(argv[1], "--read") && argc == 4) {
        irb_features *fs = NULL;
        if (irb_features_load(argv[2], &fs, &err) != IRB_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        FILE *f = fopen(argv[3], "wb");
        fwrite(fs->x, sizeof(float), fs->n * fs->dim, f);
        fclose(f);
        for (size_t i = 0; i < fs->n; i++)
            printf("%s\t%d\n", fs->path[i], fs->flipped[i]);
        irb_features_free(fs);
        return 0;
    }
    return 2;
}

static void test_roundtrip(const char *dir)
{
    char base[4200];
    snprintf(base, sizeof base, "%s/rt", dir);
    enum { N = 23, D = 5 };
    float x[N * D];
    for (int i = 0; i < N * D; i++)
        x[i] = (float)i * 0.25f - 3.0f;
    CHECK(write_set(base, N, D, x) == 0, "write");
    irb_error err = {0};
    irb_features *fs = NULL;
    CHECK(irb_features_load(base, &fs, &err) == IRB_OK, "load: %s", err.message);
    if (!fs)
        return;
    CHECK(fs->n == N && fs->dim == D, "shape %zu x %d", fs->n, fs->dim);
    CHECK(memcmp(fs->x, x, sizeof x) == 0, "matrix differs");
    CHECK(!strcmp(fs->path[5], "dir, with comma/img5.jpg"), "path 5 '%s'", fs->path[5]);
    CHECK(fs->flipped[3] == 1 && fs->flipped[4] == 0, "flipped");
    char *const *cam = irb_features_column(fs, "camera");
    CHECK(cam && !strcmp(cam[4], "cam1"), "camera column");
    CHECK(irb_features_column(fs, "nope") == NULL, "missing column");
    const char *m = irb_features_meta(fs, "model");
    CHECK(m && !strcmp(m, "models/m \"v2\".onnx"), "model meta '%s'", m ? m : "(null)");
    m = irb_features_meta(fs, "cut");
    CHECK(m && !strcmp(m, "7"), "cut meta");
    m = irb_features_meta(fs, "preprocessing");
    CHECK(m && strstr(m, "\"crop\": 224"), "preprocessing meta");
    m = irb_features_meta(fs, "rows");
    CHECK(m && !strcmp(m, "23"), "rows meta");
    irb_features_free(fs);
}

/* The index without the values, then chosen rows read from the .npy: equal to the full load's;
 * an index out of range, and a file replaced by one of another shape, are refused. */
static void test_index_rows(const char *dir)
{
    char base[4200], npy[4300];
    snprintf(base, sizeof base, "%s/ix", dir);
    snprintf(npy, sizeof npy, "%s.npy", base);
    enum { N = 23, D = 5 };
    float x[N * D], got[4 * D];
    for (int i = 0; i < N * D; i++)
        x[i] = (float)i * 0.5f - 7.0f;
    CHECK(write_set(base, N, D, x) == 0, "write");
    irb_error err = {0};
    irb_features *fs = NULL;
    CHECK(irb_features_load_index(base, &fs, &err) == IRB_OK, "load index: %s", err.message);
    if (!fs)
        return;
    CHECK(fs->x == NULL && fs->n == N && fs->dim == D && !strcmp(fs->path[5], "dir, with comma/img5.jpg"),
          "the index: shape and paths, no values");
    const size_t rows[4] = {22, 3, 4, 0}; /* 3, 4 consecutive: read in one go */
    CHECK(irb_features_read_rows(base, fs, rows, 4, got, &err) == IRB_OK, "read rows: %s", err.message);
    int same = 1;
    for (int k = 0; k < 4; k++)
        same &= !memcmp(got + k * D, x + rows[k] * D, D * sizeof(float));
    CHECK(same, "rows 22, 3, 4, 0 equal the written ones");
    const size_t bad[1] = {N};
    CHECK(irb_features_read_rows(base, fs, bad, 1, got, &err) == IRB_INVALID_ARG && strstr(err.message, "row 23"),
          "row out of range: %s", err.message);
    CHECK(write_set(base, N - 1, D, x) == 0, "rewrite smaller");
    CHECK(irb_features_read_rows(base, fs, rows, 1, got, &err) == IRB_MISMATCH && strstr(err.message, "ix.npy"),
          "the file changed shape: %s", err.message);
    irb_features_free(fs);
    FILE *f = fopen(npy, "r+b"); /* data cut short: the index refuses it as the full load does */
    if (f) {
        CHECK(ftruncate(fileno(f), 128 + 3 * D * 4) == 0, "truncate");
        fclose(f);
    }
    CHECK(irb_features_load_index(base, &fs, &err) == IRB_CORRUPT && !fs, "short data: %s", err.message);
}

static irb_status load_status(const char *base, irb_error *err)
{
    irb_features *fs = NULL;
    irb_error_clear(err);
    irb_status s = irb_features_load(base, &fs, err);
    irb_features_free(fs);
    return s;
}

static void test_errors(const char *dir)
{
    char base[4200], p[4300];
    snprintf(base, sizeof base, "%s/bad", dir);
    float x[12] = {0};
    write_set(base, 3, 4, x);
    irb_error err = {0};
    CHECK(load_status(base, &err) == IRB_OK, "baseline: %s", err.message);
    snprintf(p, sizeof p, "%s.npy", base);
    size_t n;
    char *npy = test_slurp(p, &n);
    /* wrong dtype */
    char *bad = malloc(n);
    memcpy(bad, npy, n);
    char *d = strstr(bad + 10, "<f4");
    d[1] = 'f', d[2] = '8';
    put_file(p, bad, n);
    CHECK(load_status(base, &err) == IRB_CORRUPT && strstr(err.message, ".npy") && strstr(err.message, "dtype"),
          "dtype: %s", err.message);
    /* short data */
    put_file(p, npy, n - 4);
    CHECK(load_status(base, &err) == IRB_CORRUPT && strstr(err.message, "bad.npy"), "short: %s", err.message);
    /* not npy */
    put_file(p, "hello", 5);
    CHECK(load_status(base, &err) == IRB_CORRUPT && strstr(err.message, "magic"), "magic: %s", err.message);
    put_file(p, npy, n);
    /* csv with a row missing */
    snprintf(p, sizeof p, "%s.csv", base);
    size_t cn;
    char *csv = test_slurp(p, &cn);
    char *last = csv + cn - 2;
    while (*last != '\n')
        last--;
    put_file(p, csv, (size_t)(last - csv + 1));
    CHECK(load_status(base, &err) == IRB_MISMATCH && strstr(err.message, "bad.csv") && strstr(err.message, "bad.npy"),
          "csv short: %s", err.message);
    put_file(p, "row,path\n0,a\n", 13);
    CHECK(load_status(base, &err) == IRB_CORRUPT && strstr(err.message, "flipped"), "csv header: %s", err.message);
    put_file(p, csv, cn);
    free(csv);
    /* json */
    snprintf(p, sizeof p, "%s.json", base);
    const char *j1 = "{\"format\": \"irbis-features\", \"version\": 1, \"dim\": 4";
    put_file(p, j1, strlen(j1));
    CHECK(load_status(base, &err) == IRB_CORRUPT && strstr(err.message, "bad.json"), "json trunc: %s", err.message);
    const char *j2 = "{\"format\": \"irbis-features\", \"version\": 2}";
    put_file(p, j2, strlen(j2));
    CHECK(load_status(base, &err) == IRB_UNSUPPORTED, "json version: %s", err.message);
    const char *j3 = "{\"format\": \"irbis-features\", \"version\": 1, \"dim\": 5}";
    put_file(p, j3, strlen(j3));
    CHECK(load_status(base, &err) == IRB_MISMATCH && strstr(err.message, "dim"), "json dim: %s", err.message);
    remove(p);
    CHECK(load_status(base, &err) == IRB_NOT_FOUND && strstr(err.message, "bad.json"), "missing: %s", err.message);
    free(bad);
    free(npy);
    /* the writer refuses reserved metadata and non-JSON */
    irb_featwriter_t *w = NULL;
    CHECK(irb_featwriter_open(base, 2, NULL, &w, &err) == IRB_OK, "open");
    CHECK(irb_featwriter_set_meta(w, "dim", "3") == IRB_INVALID_ARG, "reserved key");
    CHECK(irb_featwriter_set_meta(w, "x", "{\"a\":") == IRB_INVALID_ARG, "bad json");
    CHECK(irb_featwriter_set_meta(w, "x", "[1, 2.5e3, null]") == IRB_OK, "good json");
    irb_featwriter_free(w);
}

static void sha256_known(const char *dir, const char *path_tag)
{
    char hex[65], p[4200];
    irb_sha256_buffer("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "%s abc: %s", path_tag,
          hex);
    irb_sha256_buffer("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "%s empty: %s", path_tag,
          hex);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    snprintf(p, sizeof p, "%s/sha.txt", dir);
    put_file(p, m, strlen(m));
    irb_error err = {0};
    CHECK(irb_sha256_file(p, hex, &err) == IRB_OK, "file");
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "%s 448 bits: %s", path_tag,
          hex);
    /* FIPS 180-2's long message: a million 'a' (many whole blocks straight from the buffer) */
    char *a = irb_malloc(1000000);
    memset(a, 'a', 1000000);
    irb_sha256_buffer(a, 1000000, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "%s million a: %s",
          path_tag, hex);
    /* 896-bit two-block message of FIPS 180-2 */
    const char *m2 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmn"
        "opqrstnopqrstu";
    irb_sha256_buffer(m2, strlen(m2), hex);
    CHECK(!strcmp(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"), "%s 896 bits: %s", path_tag,
          hex);
    irb_free(a);
}

static void test_sha256(const char *dir)
{
    char hex[65], p[4200];
    int had = irb_sha256_use_ni(0);
    sha256_known(dir, "portable");
    /* the SHA-extension blocks (where the CPU has them) against the portable ones, every length
     * 0..300 and a few large ones, from random bytes at odd offsets */
    if (irb_sha256_has_ni()) {
        irb_sha256_use_ni(1);
        sha256_known(dir, "sha-ni");
        enum { N = 70001 };
        unsigned char *buf = irb_malloc(N + 1);
        uint32_t x = 12345;
        for (int i = 0; i <= N; i++)
            buf[i] = (unsigned char)((x = x * 1664525u + 1013904223u) >> 24);
        int bad = 0;
        for (int len = 0; len <= 300 || len == 4095 || len == 65536 || len == N; len = len < 300     ? len + 1
                                                                                       : len < 4095  ? 4095
                                                                                       : len < 65536 ? 65536
                                                                                                     : N) {
            char h1[65], h2[65];
            irb_sha256_use_ni(0);
            irb_sha256_buffer(buf + 1, (size_t)len, h1);
            irb_sha256_use_ni(1);
            irb_sha256_buffer(buf + 1, (size_t)len, h2);
            bad += strcmp(h1, h2) != 0;
            if (len == N)
                break;
        }
        CHECK(bad == 0, "sha-ni and portable differ on %d lengths", bad);
        irb_free(buf);
    } else {
        printf("no SHA extensions on this CPU: the portable code only\n");
    }
    irb_sha256_use_ni(had);
    irb_error err = {0};
    snprintf(p, sizeof p, "%s/missing.bin", dir);
    CHECK(irb_sha256_file(p, hex, &err) == IRB_NOT_FOUND && strstr(err.message, "missing.bin"), "missing");
}

/* Every allocation failure while writing or loading reports IRB_NOMEM, leaves no temporary
 * files and leaks nothing (the sanitizer build checks the leaks). */
static void test_alloc_failures(const char *dir)
{
    char base[4200];
    snprintf(base, sizeof base, "%s/rt", dir);
    int nomem = 0, other = 0;
    for (long k = 1; k < 400; k++) {
        irb_features *fs = NULL;
        irb_error err = {0};
        irb_alloc_fail_after(k);
        irb_status s = irb_features_load(base, &fs, &err);
        irb_alloc_fail_after(0);
        irb_features_free(fs);
        if (s == IRB_OK)
            break;
        nomem += s == IRB_NOMEM;
        other += s != IRB_NOMEM;
    }
    CHECK(nomem > 10 && other == 0, "load: %d NOMEM, %d other", nomem, other);
    snprintf(base, sizeof base, "%s/inj", dir);
    float row[3] = {1, 2, 3};
    nomem = other = 0;
    for (long k = 1; k < 200; k++) {
        irb_featwriter_t *w = NULL;
        irb_error err = {0};
        const char *extra[] = {"camera", NULL}, *ev[] = {"c1"};
        irb_alloc_fail_after(k);
        irb_status s = irb_featwriter_open(base, 3, extra, &w, &err);
        if (s == IRB_OK)
            s = irb_featwriter_set_meta(w, "layer", "\"pool\"");
        for (int i = 0; s == IRB_OK && i < 3; i++)
            s = irb_featwriter_add(w, "a.jpg", i & 1, ev, row, &err);
        if (s == IRB_OK)
            s = irb_featwriter_close(w, &err);
        else
            irb_featwriter_free(w);
        irb_alloc_fail_after(0);
        if (s == IRB_OK)
            break;
        nomem += s == IRB_NOMEM;
        other += s != IRB_NOMEM;
        if (s != IRB_NOMEM)
            fprintf(stderr, "allocation %ld: status %d: %s\n", k, s, err.message);
    }
    CHECK(nomem > 5 && other == 0, "write: %d NOMEM, %d other", nomem, other);
    char tmpname[4300];
    snprintf(tmpname, sizeof tmpname, "%s.npy.tmp%ld", base, (long)getpid());
    struct stat st;
    CHECK(stat(tmpname, &st) != 0, "temporary file left behind");
}

/* Random byte damage to each of the three files: loading returns a status (never crashes; the
 * sanitizer build checks memory), and damage that changes the matrix bytes is never silent. */
static void test_mutations(const char *dir)
{
    static const char *const suf[] = {".npy", ".csv", ".json"};
    char base[4200], p[4300];
    snprintf(base, sizeof base, "%s/mut", dir);
    float x[6 * 3];
    for (int i = 0; i < 18; i++)
        x[i] = (float)i;
    write_set(base, 6, 3, x);
    uint32_t r = 12345;
    int crashes_avoided = 0, silent_npy = 0;
    for (int f = 0; f < 3; f++) {
        snprintf(p, sizeof p, "%s%s", base, suf[f]);
        size_t n = 0;
        char *orig = test_slurp(p, &n);
        if (!orig || n == 0) {
            CHECK(0, "cannot read %s", p);
            return;
        }
        char *m = malloc(n);
        for (int t = 0; t < 300; t++) {
            memcpy(m, orig, n);
            size_t len = n;
            for (int k = 0; k < 1 + t % 4; k++) {
                r = r * 1103515245u + 12345u;
                size_t at = (r >> 8) % n;
                r = r * 1103515245u + 12345u;
                if ((r >> 16) % 5 == 0)
                    len = at; /* truncate */
                else
                    m[at] = (char)(r >> 20);
            }
            put_file(p, m, len);
            irb_features *fs = NULL;
            irb_error err = {0};
            irb_status s = irb_features_load(base, &fs, &err);
            crashes_avoided++;
            CHECK(s == IRB_OK || err.message[0], "status %d without a message", s);
            /* the npy payload carries no checksum: a flipped data byte loads; a header change must not
             * silently change the shape */
            if (s == IRB_OK && f == 0 && (fs->n != 6 || fs->dim != 3))
                silent_npy++;
            irb_features_free(fs);
        }
        put_file(p, orig, n);
        free(m);
        free(orig);
    }
    CHECK(silent_npy == 0, "%d header mutations changed the shape silently", silent_npy);
    CHECK(crashes_avoided == 900, "mutations run");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return helper(argc, argv);
    const char *dir = test_tmpdir("learn_features");
    test_index_rows(dir);
    test_roundtrip(dir);
    test_errors(dir);
    test_sha256(dir);
    test_alloc_failures(dir);
    test_mutations(dir);
    return CHECK_DONE();
}

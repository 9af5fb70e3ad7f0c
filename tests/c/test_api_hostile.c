/* The public API under hostile calls, header by header: NULL for every pointer the header does not
 * call optional, zero and negative counts and sizes, counts whose product overflows size_t, widths
 * that do not fit, out-of-range indexes and enum values, empty strings, folders, FIFOs and missing
 * files where a file is wanted, handles from a failed create, frees of NULL, calls out of order.
 * Each fallible call must return the status its header gives, with a message, and every call must
 * keep quiet: stdout and stderr are redirected around it and must stay empty (the library never
 * prints). A crash, a sanitizer report or a hang (alarm) is a bug here. IRBIS_LOUD=1 leaves the
 * streams alone (to read a sanitizer's report). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <irbis.h>
#include <limits.h>
#include <signal.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- keeping the library quiet ------------------------------------------------------------- */

static FILE *q_file;
static int q_out = -1, q_err = -1, q_loud;
static const char *q_call = "";

/* A call that hangs (a FIFO opened for reading waits for a writer) or crashes is named, then the
 * test ends. */
static void on_signal(int sig)
{
    int fd = q_err >= 0 ? q_err : 2;
    const char *a = sig == SIGALRM ? "hung in: " : "crashed in: ";
    if (write(fd, a, strlen(a)) < 0 || write(fd, q_call, strlen(q_call)) < 0 || write(fd, "\n", 1) < 0)
        _exit(3);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void quiet_begin(const char *call)
{
    q_call = call;
    alarm(5);
    fflush(stdout);
    fflush(stderr);
    if (q_loud || (!q_file && !(q_file = tmpfile())))
        return;
    if (ftruncate(fileno(q_file), 0) != 0 || lseek(fileno(q_file), 0, SEEK_SET) != 0)
        return;
    q_out = dup(1), q_err = dup(2);
    dup2(fileno(q_file), 1);
    dup2(fileno(q_file), 2);
}

/* Bytes written to stdout/stderr since quiet_begin. */
static long quiet_end(void)
{
    alarm(0);
    fflush(stdout);
    fflush(stderr);
    if (q_out < 0)
        return 0;
    dup2(q_out, 1), dup2(q_err, 2);
    close(q_out), close(q_err);
    q_out = q_err = -1;
    struct stat st;
    return fstat(fileno(q_file), &st) == 0 ? (long)st.st_size : 0;
}

/* call (with err = ERR) returns want, sets it in the error record with a message, prints nothing. */
#define ERR (&e_)
#define EXPECT(want, call)                                                                                             \
    do {                                                                                                               \
        irb_error e_;                                                                                                  \
        irb_error_clear(&e_);                                                                                          \
        quiet_begin(#call);                                                                                            \
        irb_status s_ = (call);                                                                                        \
        long p_ = quiet_end();                                                                                         \
        CHECK(s_ == (want) && e_.status == (want) && e_.message[0] && !p_,                                             \
              "%s: status %d (want %d), message '%s', %ld bytes printed", #call, (int)s_, (int)(want), e_.message,     \
              p_);                                                                                                     \
    } while (0)

/* The same for a call whose message is on a handle: rec is evaluated after the call. */
#define EXPECT_ON(want, call, rec)                                                                                     \
    do {                                                                                                               \
        quiet_begin(#call);                                                                                            \
        irb_status s_ = (call);                                                                                        \
        long p_ = quiet_end();                                                                                         \
        const irb_error *r_ = (rec);                                                                                   \
        CHECK(s_ == (want) && r_ && r_->status == (want) && r_->message[0] && !p_,                                     \
              "%s: status %d (want %d), message '%s', %ld bytes printed", #call, (int)s_, (int)(want),                 \
              r_ ? r_->message : "(no record)", p_);                                                                   \
    } while (0)

/* A call that must succeed, quietly. */
#define EXPECT_OK(call)                                                                                                \
    do {                                                                                                               \
        irb_error e_;                                                                                                  \
        irb_error_clear(&e_);                                                                                          \
        quiet_begin(#call);                                                                                            \
        irb_status s_ = (call);                                                                                        \
        long p_ = quiet_end();                                                                                         \
        CHECK(s_ == IRB_OK && !p_, "%s: status %d, message '%s', %ld bytes printed", #call, (int)s_, e_.message, p_);  \
    } while (0)

/* A call with no error record at all: only the status. */
#define EXPECT_S(want, call)                                                                                           \
    do {                                                                                                               \
        quiet_begin(#call);                                                                                            \
        irb_status s_ = (call);                                                                                        \
        long p_ = quiet_end();                                                                                         \
        CHECK(s_ == (want) && !p_, "%s: status %d (want %d), %ld bytes printed", #call, (int)s_, (int)(want), p_);     \
    } while (0)

/* A condition on the result of a call that cannot fail (a getter, a void call), quietly. */
#define QUIET(cond)                                                                                                    \
    do {                                                                                                               \
        quiet_begin(#cond);                                                                                            \
        int c_ = (cond) ? 1 : 0;                                                                                       \
        long p_ = quiet_end();                                                                                         \
        CHECK(c_ && !p_, "%s (%ld bytes printed)", #cond, p_);                                                         \
    } while (0)

/* ---- fixtures -------------------------------------------------------------------------------- */

static char g_dir[2048], g_csv[4096], g_sub[4096], g_fifo[4096], g_missing[4096], g_jpeg[4096], g_model[4096];

static const char *tmp(const char *name)
{
    static char buf[8][4096];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 4096, "%s/%.1000s", g_dir, name);
    return b;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void fixtures(void)
{
    snprintf(g_dir, sizeof g_dir, "%.2000s", test_tmpdir("api_hostile"));
    nftw(g_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS); /* an earlier run's outputs: a fresh start */
    snprintf(g_dir, sizeof g_dir, "%.2000s", test_tmpdir("api_hostile"));
    snprintf(g_csv, sizeof g_csv, "%s/t.csv", g_dir);
    snprintf(g_sub, sizeof g_sub, "%s/adir", g_dir);
    snprintf(g_fifo, sizeof g_fifo, "%s/fifo", g_dir);
    snprintf(g_missing, sizeof g_missing, "%s/no/such/file", g_dir);
    snprintf(g_jpeg, sizeof g_jpeg, "%s",
             test_shared("data/camera-traps/wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG"));
    snprintf(g_model, sizeof g_model, "%s", test_shared("models/mobilenet_v2/mobilenet_v2_1.0_224.onnx"));
    FILE *f = fopen(g_csv, "w");
    if (f) {
        fputs("path,label\na.jpg,x\n", f);
        fclose(f);
    }
    mkdir(g_sub, 0777);
    unlink(g_fifo);
    CHECK(mkfifo(g_fifo, 0600) == 0, "make a FIFO");
}

/* One field of an options struct and a bad value for it: options are made bad a field at a time. */
typedef struct field_case {
    size_t off;
    char type; /* 'i': int or enum, 'd': double, 'l': long long */
    double v;
} field_case;
#define FIELD_I(T, f, v)                                                                                               \
    {                                                                                                                  \
        offsetof(T, f), 'i', (double)(v)                                                                               \
    }
#define FIELD_D(T, f, v)                                                                                               \
    {                                                                                                                  \
        offsetof(T, f), 'd', (double)(v)                                                                               \
    }
#define FIELD_L(T, f, v)                                                                                               \
    {                                                                                                                  \
        offsetof(T, f), 'l', (double)(v)                                                                               \
    }
#define COUNT(a) (sizeof(a) / sizeof *(a))

static void field_set(void *s, const field_case *c)
{
    char *p = (char *)s + c->off;
    int i = (int)c->v;
    long long l = (long long)c->v;
    if (c->type == 'd')
        memcpy(p, &c->v, sizeof c->v);
    else if (c->type == 'l')
        memcpy(p, &l, sizeof l);
    else
        memcpy(p, &i, sizeof i);
}

/* Training rows: 4 x 2, two classes. */
static const float X4[8] = {0, 0, 0, 1, 1, 0, 1, 1};
static const int Y4[4] = {0, 0, 1, 1};
static const char *const NAMES2[2] = {"a", "b"};

static irb_classifier_t *tiny_classifier(void)
{
    irb_classifier_t *clf = NULL;
    irb_error err;
    if (irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, NULL, &clf, NULL, &err) != IRB_OK)
        fprintf(stderr, "training the tiny classifier failed: %s\n", err.message);
    return clf;
}

/* ---- irbis/core.h ---------------------------------------------------------------------------- */

static void test_core(void)
{
    QUIET(!strcmp(irb_status_name((irb_status)-1), "unknown status"));
    QUIET(!strcmp(irb_status_name(IRB_STATUS_COUNT), "unknown status"));
    QUIET(!strcmp(irb_status_name((irb_status)INT_MAX), "unknown status"));
    QUIET((irb_error_clear(NULL), 1));
    QUIET(!strcmp(irb_version(), IRB_VERSION_STRING));
}

/* ---- irbis/files.h --------------------------------------------------------------------------- */

static void test_files(void)
{
    char hex[65];
    EXPECT(IRB_INVALID_ARG, irb_sha256_file(NULL, hex, ERR));
    EXPECT(IRB_INVALID_ARG, irb_sha256_file(g_csv, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_sha256_file("", hex, ERR));
    EXPECT(IRB_NOT_FOUND, irb_sha256_file(g_missing, hex, ERR));
    EXPECT(IRB_IO, irb_sha256_file(g_sub, hex, ERR));
    EXPECT(IRB_IO, irb_sha256_file(g_fifo, hex, ERR));
    /* the buffer form cannot fail: NULL data is no bytes (size 0) or nothing written */
    memset(hex, 'x', sizeof hex);
    QUIET((irb_sha256_buffer(NULL, 0, hex),
           !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")));
    QUIET((irb_sha256_buffer(NULL, 5, hex), hex[0] == '\0'));
    QUIET((irb_sha256_buffer("abc", 3, NULL), 1));
    QUIET(irb_crc32(0, NULL, 0) == 0);
    QUIET(irb_crc32(7, NULL, 100) == 7);
    QUIET(irb_crc32(0, "123456789", 9) == 0xcbf43926u);

    irb_table *t = (irb_table *)1;
    EXPECT(IRB_INVALID_ARG, irb_table_load(NULL, &t, ERR));
    CHECK(t == NULL, "a failed irb_table_load leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_table_load(g_csv, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_table_load("", &t, ERR));
    EXPECT(IRB_NOT_FOUND, irb_table_load(g_missing, &t, ERR));
    EXPECT(IRB_IO, irb_table_load(g_sub, &t, ERR));
    EXPECT(IRB_CORRUPT, irb_table_load(g_fifo, &t, ERR)); /* no writer: read as empty, at once */
    QUIET(irb_table_column(NULL, "path") == -1);
    QUIET((irb_table_free(NULL), 1));
    QUIET((irb_csv_put(NULL, NULL), 1));

    irb_strmap *m = (irb_strmap *)1;
    int64_t v = 0;
    EXPECT(IRB_INVALID_ARG, irb_strmap_new(4, NULL, ERR));
    EXPECT(IRB_NOMEM, irb_strmap_new(SIZE_MAX, &m, ERR));
    CHECK(m == NULL, "a failed irb_strmap_new leaves *out NULL");
    EXPECT(IRB_NOMEM, irb_strmap_new(SIZE_MAX / 3, &m, ERR));
    QUIET(irb_strmap_get(NULL, "a", 1, &v) == 0);
    QUIET(irb_strmap_count(NULL) == 0);
    QUIET(irb_strmap_hash(NULL, 0) == 1469598103934665603ull);
    QUIET(irb_strmap_hash(NULL, 5) == 1469598103934665603ull);
    QUIET((irb_strmap_free(NULL), 1));
    if (irb_strmap_new(0, &m, NULL) == IRB_OK) {
        EXPECT(IRB_INVALID_ARG, irb_strmap_add(m, NULL, 3, 1, &v, ERR));
        EXPECT(IRB_INVALID_ARG, irb_strmap_set(m, NULL, 3, 1, ERR));
        QUIET(irb_strmap_get(m, NULL, 3, &v) == 0);
        EXPECT_OK(irb_strmap_add(m, "", 0, 5, NULL, ERR));
        QUIET(irb_strmap_get(m, "", 0, &v) && v == 5);
        irb_strmap_free(m);
    }

    irb_atomic_file af = {0};
    EXPECT(IRB_INVALID_ARG, irb_atomic_open(NULL, tmp("af1"), ERR));
    EXPECT(IRB_INVALID_ARG, irb_atomic_open(&af, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_atomic_open(&af, "", ERR));
    EXPECT(IRB_INVALID_ARG, irb_atomic_open_as(&af, tmp("af1"), NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_atomic_open_as(&af, tmp("af1"), "", ERR));
    EXPECT(IRB_IO, irb_atomic_open(&af, g_missing, ERR));
    EXPECT(IRB_IO, irb_atomic_open(&af, g_sub, ERR));
    EXPECT(IRB_INVALID_ARG, irb_atomic_sync(NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_atomic_close(NULL, ERR));
    irb_atomic_file zero = {0};
    EXPECT(IRB_INVALID_ARG, irb_atomic_sync(&zero, ERR));
    EXPECT(IRB_INVALID_ARG, irb_atomic_close(&zero, ERR));
    QUIET((irb_atomic_abort(NULL), irb_atomic_abort(&zero), 1));
    /* closed twice: the second finds a released record */
    if (irb_atomic_open(&af, tmp("af2"), NULL) == IRB_OK) {
        fputs("x", af.f);
        EXPECT_OK(irb_atomic_close(&af, ERR));
        EXPECT(IRB_INVALID_ARG, irb_atomic_close(&af, ERR));
        QUIET((irb_atomic_abort(&af), 1));
    }
}

/* ---- irbis/image.h --------------------------------------------------------------------------- */

/* Images that lie about themselves: no pixels, sizes 0 or negative, channels outside 1..4, sizes
 * whose product overflows. Every pixel call refuses them (or leaves them alone). */
static void test_bad_images(void)
{
    static uint8_t px[4 * 4 * 3];
    const irb_image bad[] = {
        {4, 4, 3, NULL},     {0, 4, 3, px},  {4, 0, 3, px},
        {-4, 4, 3, px},      {4, -4, 3, px}, {4, 4, 0, px},
        {4, 4, -3, px},      {4, 4, 5, px},  {INT_MAX, INT_MAX, 4, px},
        {INT_MIN, 1, 3, px},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        irb_image src = bad[i], dst = {0};
        EXPECT(IRB_INVALID_ARG, irb_resize(&src, 0, 0, 0, 0, 2, 2, IRB_FILTER_BILINEAR, &dst, ERR));
        CHECK(dst.data == NULL, "image %zu: resize output empty", i);
        EXPECT(IRB_INVALID_ARG, irb_image_crop(&src, 0, 0, 1, 1, &dst, ERR));
        EXPECT(IRB_INVALID_ARG, irb_image_orient(&src, 6, &dst, ERR));
        EXPECT(IRB_INVALID_ARG, irb_image_orient(&src, 1, &dst, ERR));
        uint8_t before[sizeof px];
        memcpy(before, px, sizeof px);
        QUIET((irb_image_flip(&src), !memcmp(before, px, sizeof px)));
        float out[8] = {7, 7, 7, 7, 7, 7, 7, 7};
        const float mean[3] = {0, 0, 0}, scale[3] = {1, 1, 1};
        QUIET((irb_image_to_chw(&src, mean, scale, out), out[0] == 7 && out[7] == 7));
        int top = -1, bottom = -1;
        QUIET((irb_detect_info_strips(&src, &top, &bottom), top == 0 && bottom == 0));
        irb_image_release(&dst);
    }
}

static void test_image(void)
{
    static uint8_t px[16 * 16 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7);
    irb_image img = {16, 16, 3, px}, dst = {0};
    QUIET((irb_image_release(NULL), 1));
    irb_image zero = {0};
    QUIET((irb_image_release(&zero), 1));

    /* resize */
    EXPECT(IRB_INVALID_ARG, irb_resize(NULL, 0, 0, 0, 0, 2, 2, IRB_FILTER_BILINEAR, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 0, 0, 0, 0, 2, 2, IRB_FILTER_BILINEAR, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 0, 0, 0, 0, 0, 2, IRB_FILTER_BILINEAR, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 0, 0, 0, 0, 2, -2, IRB_FILTER_BILINEAR, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 0, 0, 0, 0, 2, 2, (irb_filter)7, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 0, 0, 0, 0, 2, 2, (irb_filter)-1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 0, 0, 17, 16, 2, 2, IRB_FILTER_BOX, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, -1, 0, 8, 8, 2, 2, IRB_FILTER_BOX, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 8, 8, 8, 8, 2, 2, IRB_FILTER_BOX, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, NAN, 0, 8, 8, 2, 2, IRB_FILTER_BOX, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_resize(&img, 0, 0, INFINITY, 8, 2, 2, IRB_FILTER_BOX, &dst, ERR));
    EXPECT(IRB_TOO_LARGE, irb_resize(&img, 0, 0, 0, 0, INT_MAX, INT_MAX, IRB_FILTER_BOX, &dst, ERR));
    EXPECT(IRB_TOO_LARGE, irb_resize(&img, 0, 0, 0, 0, 1, (1 << 20) + 1, IRB_FILTER_BOX, &dst, ERR));
    CHECK(dst.data == NULL, "failed resizes leave dst empty");

    /* crop */
    EXPECT(IRB_INVALID_ARG, irb_image_crop(NULL, 0, 0, 1, 1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, 0, 0, 1, 1, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, -1, 0, 1, 1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, 0, 0, 0, 1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, 0, 0, 1, -1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, 8, 8, 9, 1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, INT_MAX, 0, 2, 1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, 0, INT_MAX, 1, INT_MAX, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_crop(&img, 1, 0, INT_MAX, 1, &dst, ERR));

    /* orient: an orientation outside 1..8 copies */
    EXPECT(IRB_INVALID_ARG, irb_image_orient(NULL, 1, &dst, ERR));
    EXPECT(IRB_INVALID_ARG, irb_image_orient(&img, 1, NULL, ERR));
    EXPECT_OK(irb_image_orient(&img, INT_MIN, &dst, ERR));
    CHECK(dst.data && dst.width == 16 && !memcmp(dst.data, px, sizeof px), "orientation INT_MIN copies");
    irb_image_release(&dst);
    EXPECT_OK(irb_image_orient(&img, 9, &dst, ERR));
    CHECK(dst.data && !memcmp(dst.data, px, sizeof px), "orientation 9 copies");
    irb_image_release(&dst);

    QUIET((irb_image_flip(NULL), irb_image_flip(&zero), 1));
    int top = -1, bottom = -1;
    QUIET((irb_detect_info_strips(NULL, &top, &bottom), top == 0 && bottom == 0));
    QUIET((irb_detect_info_strips(&img, NULL, NULL), 1));
    test_bad_images();

    /* preprocessing descriptions */
    char buf[512];
    irb_preproc pp = irb_preproc_default(224), got;
    QUIET((irb_preproc_to_json(NULL, buf, sizeof buf), buf[0] == '\0'));
    QUIET((irb_preproc_to_json(&pp, NULL, 100), irb_preproc_to_json(&pp, buf, 0), 1));
    QUIET((irb_preproc_to_json(&pp, buf, 5), strlen(buf) == 4));
    irb_preproc junk = pp;
    junk.mode = (irb_resize_mode)99, junk.strips = (irb_strip_mode)-3, junk.filter = (irb_filter)42;
    junk.crop_fraction = NAN, junk.size = -5;
    QUIET((irb_preproc_to_json(&junk, buf, sizeof buf), buf[0] == '{'));
    EXPECT(IRB_INVALID_ARG, irb_preproc_from_json(NULL, &got, ERR));
    EXPECT(IRB_INVALID_ARG, irb_preproc_from_json("{}", NULL, ERR));
    static const struct {
        irb_status want;
        const char *json;
    } bad_json[] = {
        {IRB_CORRUPT, ""},
        {IRB_CORRUPT, "{\"size\": "},
        {IRB_CORRUPT, "[1, 2]"},
        {IRB_CORRUPT, "{\"size\": -5}"},
        {IRB_CORRUPT, "{\"size\": 0}"},
        {IRB_CORRUPT, "{\"size\": 1e300}"},
        {IRB_CORRUPT, "{\"size\": 224, \"crop_fraction\": 7}"},
        {IRB_CORRUPT, "{\"size\": 224, \"strips\": \"fixed\", \"strip_top\": 0.9}"},
        {IRB_UNSUPPORTED, "{\"size\": 224, \"resize\": \"sideways\"}"},
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++)
        EXPECT(bad_json[i].want, irb_preproc_from_json(bad_json[i].json, &got, ERR));

    /* the decoder */
    EXPECT_S(IRB_INVALID_ARG, irb_decoder_new(NULL));
    QUIET((irb_decoder_free(NULL), 1));
    QUIET(irb_decoder_error(NULL) && irb_decoder_error(NULL)->message[0]);
    QUIET(irb_decoder_info(NULL) != NULL);
    irb_image im = {0};
    irb_image_info info;
    EXPECT_S(IRB_INVALID_ARG, irb_decode_file(NULL, g_jpeg, NULL, &im));
    EXPECT_S(IRB_INVALID_ARG, irb_decode_memory(NULL, "x", 1, "x", NULL, &im));
    EXPECT_S(IRB_INVALID_ARG, irb_read_header(NULL, g_jpeg, NULL, &info));
    EXPECT_S(IRB_INVALID_ARG, irb_read_header_memory(NULL, "x", 1, "x", NULL, &info));
    float *x = malloc(sizeof(float) * 2 * 3 * 224 * 224);
    EXPECT_S(IRB_INVALID_ARG, irb_preprocess_file(NULL, g_jpeg, &pp, x, NULL));
    EXPECT_S(IRB_INVALID_ARG, irb_preprocess_image(NULL, g_jpeg, &pp, &im, NULL));
    irb_decoder_t *dec = NULL;
    CHECK(irb_decoder_new(&dec) == IRB_OK && x, "a decoder");
    if (!dec || !x) {
        free(x);
        return;
    }
#define DEC_ERR irb_decoder_error(dec)
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_file(dec, NULL, NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_file(dec, g_jpeg, NULL, NULL), DEC_ERR);
    EXPECT_ON(IRB_NOT_FOUND, irb_decode_file(dec, "", NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_NOT_FOUND, irb_decode_file(dec, g_missing, NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_IO, irb_decode_file(dec, g_sub, NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_IO, irb_decode_file(dec, g_fifo, NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_UNSUPPORTED, irb_decode_file(dec, g_csv, NULL, &im), DEC_ERR);
    CHECK(im.data == NULL, "failed decodes leave the image empty");
    irb_decode_opts bad_opts = {.target = -5};
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_file(dec, g_jpeg, &bad_opts, &im), DEC_ERR);
    bad_opts = (irb_decode_opts){.target_width = -1};
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_file(dec, g_jpeg, &bad_opts, &im), DEC_ERR);
    bad_opts = (irb_decode_opts){.max_pixels = -1};
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_file(dec, g_jpeg, &bad_opts, &im), DEC_ERR);
    bad_opts = (irb_decode_opts){.max_pixels = 100};
    EXPECT_ON(IRB_TOO_LARGE, irb_decode_file(dec, g_jpeg, &bad_opts, &im), DEC_ERR);
    CHECK(im.data == NULL, "failed decodes leave the image empty");
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_memory(dec, NULL, 10, "x", NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_memory(dec, NULL, 0, NULL, NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_CORRUPT, irb_decode_memory(dec, "\xff\xd8\xff", 3, NULL, NULL, &im), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_decode_memory(dec, "x", 1, "x", NULL, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_read_header(dec, NULL, NULL, &info), DEC_ERR);
    EXPECT_ON(IRB_IO, irb_read_header(dec, g_fifo, NULL, &info), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_read_header_memory(dec, NULL, 4, "x", NULL, &info), DEC_ERR);
    EXPECT_ON(IRB_CORRUPT, irb_read_header_memory(dec, "", 0, "x", NULL, &info), DEC_ERR);

    /* preprocessing */
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, NULL, &pp, x, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, NULL, x, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &pp, NULL, NULL), DEC_ERR);
    EXPECT_ON(IRB_IO, irb_preprocess_file(dec, g_fifo, &pp, x, NULL), DEC_ERR);
    irb_preproc bp;
    bp = pp, bp.size = 0;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.size = -224;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.size = INT_MAX;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.mode = (irb_resize_mode)9;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.filter = (irb_filter)9;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.strips = (irb_strip_mode)9;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.crop_fraction = 1.5;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.crop_fraction = -0.5;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.crop_fraction = NAN;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.mode = IRB_RESIZE_SHORT_CROP, bp.short_side = -1;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.strips = IRB_STRIPS_FIXED, bp.strip_top = 0.6;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.strips = IRB_STRIPS_FIXED, bp.strip_bottom = NAN;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.flip = 3;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.flip = -1;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.max_pixels = -1;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    bp = pp, bp.decode_size = -1;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_file(dec, g_jpeg, &bp, x, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_image(dec, g_jpeg, &pp, NULL, NULL), DEC_ERR);
    bp = pp, bp.size = -3;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_image(dec, g_jpeg, &bp, &im, NULL), DEC_ERR);
    CHECK(im.data == NULL, "failed preprocess_image leaves the image empty");
    float *outs[2] = {x, NULL};
    irb_preproc pps[2] = {pp, pp};
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, g_jpeg, NULL, 1, outs, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, g_jpeg, pps, 1, NULL, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, g_jpeg, pps, 2, outs, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, g_jpeg, pps, 0, outs, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, g_jpeg, pps, -1, outs, NULL), DEC_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, NULL, pps, 1, outs, NULL), DEC_ERR);
    pps[1].max_pixels = 5000000;
    outs[1] = x;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, g_jpeg, pps, 2, outs, NULL), DEC_ERR);
    pps[1] = pp, pps[1].size = 0;
    EXPECT_ON(IRB_INVALID_ARG, irb_preprocess_multi(dec, g_jpeg, pps, 2, outs, NULL), DEC_ERR);
    /* and the decoder still works */
    EXPECT_OK(irb_preprocess_file(dec, g_jpeg, &pp, x, &info));
    CHECK(info.width == 2048 && info.height == 1536, "the JPEG after the hostile calls: %dx%d", info.width,
          info.height);
#undef DEC_ERR
    irb_decoder_free(dec);
    free(x);
}

/* ---- irbis/nn.h ------------------------------------------------------------------------------ */

static void test_calib(void)
{
    irb_calib_t *c = (irb_calib_t *)1;
    char *text = (char *)1;
    size_t len = 1;
    float lo = 7, hi = 7;
    EXPECT(IRB_INVALID_ARG, irb_calib_new(NULL, ERR));
    QUIET((irb_calib_free(NULL), irb_calib_text_free(NULL), 1));
    QUIET(irb_calib_tensors(NULL) == 0 && irb_calib_images(NULL) == 0);
    QUIET(irb_calib_range(NULL, "x", &lo, &hi) == 0 && lo == 7);
    EXPECT(IRB_INVALID_ARG, irb_calib_to_text(NULL, &text, &len, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calib_parse(NULL, 5, "x", &c, ERR));
    CHECK(c == NULL, "a failed irb_calib_parse leaves *out NULL");
    EXPECT(IRB_CORRUPT, irb_calib_parse(NULL, 0, "x", &c, ERR));
    EXPECT(IRB_CORRUPT, irb_calib_parse("", 0, NULL, &c, ERR));
    EXPECT(IRB_CORRUPT, irb_calib_parse("irbis-calib 1\nnan 1 x\n", 22, "x", &c, ERR));
    EXPECT(IRB_CORRUPT, irb_calib_parse("irbis-calib 1\n2 1 x\n", 20, "x", &c, ERR));
    EXPECT(IRB_CORRUPT, irb_calib_parse("irbis-calib 1\n0 1\n", 18, "x", &c, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calib_parse("irbis-calib 1\n", 14, "x", NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calib_save(NULL, tmp("c.calib"), ERR));
    EXPECT(IRB_INVALID_ARG, irb_calib_load(NULL, &c, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calib_load(tmp("c.calib"), NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_calib_load(g_missing, &c, ERR));
    EXPECT(IRB_NOT_FOUND, irb_calib_load("", &c, ERR));
    EXPECT(IRB_IO, irb_calib_load(g_sub, &c, ERR));
    EXPECT(IRB_IO, irb_calib_load(g_fifo, &c, ERR));
    EXPECT(IRB_CORRUPT, irb_calib_load(g_csv, &c, ERR));
    irb_calib_t *cal = NULL;
    EXPECT_OK(irb_calib_new(&cal, ERR));
    if (!cal)
        return;
    QUIET(irb_calib_range(cal, NULL, &lo, &hi) == 0 && irb_calib_range(cal, "", NULL, NULL) == 0);
    EXPECT(IRB_INVALID_ARG, irb_calib_to_text(cal, NULL, &len, ERR));
    EXPECT_OK(irb_calib_to_text(cal, &text, NULL, ERR));
    irb_calib_text_free(text);
    EXPECT(IRB_INVALID_ARG, irb_calib_save(cal, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calib_save(cal, "", ERR));
    EXPECT(IRB_IO, irb_calib_save(cal, g_sub, ERR));
    EXPECT(IRB_IO, irb_calib_save(cal, g_missing, ERR));
    irb_calib_free(cal);
}

static void test_nn(irb_model_t *m)
{
    irb_model_t *bad = (irb_model_t *)1;
    irb_net_t *net = (irb_net_t *)1;
    EXPECT(IRB_INVALID_ARG, irb_model_load(NULL, NULL, &bad, ERR));
    CHECK(bad == NULL, "a failed irb_model_load leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_model_load(g_model, NULL, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_model_load("", NULL, &bad, ERR));
    EXPECT(IRB_NOT_FOUND, irb_model_load(g_missing, NULL, &bad, ERR));
    EXPECT(IRB_IO, irb_model_load(g_sub, NULL, &bad, ERR));
    EXPECT(IRB_IO, irb_model_load(g_fifo, NULL, &bad, ERR));
    EXPECT(IRB_CORRUPT, irb_model_load(g_csv, NULL, &bad, ERR));
    irb_model_opts mo = {.sha256 = "not a digest"};
    EXPECT(IRB_INVALID_ARG, irb_model_load(g_csv, &mo, &bad, ERR));
    mo = (irb_model_opts){.sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX"};
    EXPECT(IRB_INVALID_ARG, irb_model_load(g_csv, &mo, &bad, ERR));
    mo = (irb_model_opts){.sha256 = ""}; /* "": none */
    EXPECT(IRB_CORRUPT, irb_model_load(g_csv, &mo, &bad, ERR));
    EXPECT(IRB_CORRUPT, irb_model_load_buffer(NULL, 0, NULL, NULL, &bad, ERR));
    EXPECT(IRB_CORRUPT, irb_model_load_buffer("garbage", 7, NULL, NULL, &bad, ERR));
    EXPECT(IRB_INVALID_ARG, irb_model_load_buffer("garbage", 7, "x", NULL, NULL, ERR));
    QUIET((irb_model_free(NULL), 1));
    QUIET(irb_model_info_get(NULL) == NULL && irb_model_preprocess(NULL) == NULL);
    QUIET(irb_model_metadata(NULL, "k") == NULL);
    QUIET(!strcmp(irb_precision_name((irb_precision)-1), "?") && !strcmp(irb_precision_name((irb_precision)3), "?"));

    /* nets from no model (a failed load) and from bad options */
    EXPECT(IRB_INVALID_ARG, irb_net_new(NULL, NULL, &net, ERR));
    CHECK(net == NULL, "a failed irb_net_new leaves *out NULL");
    QUIET((irb_net_free(NULL), 1));
    int c = 1, h = 1, w = 1;
    QUIET((irb_net_input_shape(NULL, &c, &h, &w), c == 0 && h == 0 && w == 0));
    QUIET(irb_net_output_size(NULL) == 0 && irb_net_output_name(NULL) == NULL && irb_net_engine(NULL) == NULL);
    QUIET(irb_net_slots(NULL) == 0);
    QUIET(irb_net_error(NULL) != NULL && irb_net_error(NULL)->message[0]);
    float in1 = 0, out1 = 0;
    EXPECT_S(IRB_INVALID_ARG, irb_net_run(NULL, &in1, 1, &out1));
    EXPECT(IRB_INVALID_ARG, irb_net_run_slot(NULL, 0, &in1, &out1, ERR));
    if (!m)
        return;
    QUIET(irb_model_metadata(m, NULL) == NULL && irb_model_metadata(m, "") == NULL);
    EXPECT(IRB_INVALID_ARG, irb_net_new(m, NULL, NULL, ERR));
    irb_net_opts o;
    static const field_case bad_net[] = {
        FIELD_I(irb_net_opts, cut, -1),        FIELD_I(irb_net_opts, cut, INT_MAX),
        FIELD_I(irb_net_opts, pool, 5),        FIELD_I(irb_net_opts, engine, 5),
        FIELD_I(irb_net_opts, precision, -1),  FIELD_I(irb_net_opts, precision, IRB_PRECISION_INT8), /* no table */
        FIELD_I(irb_net_opts, threads, -1),    FIELD_I(irb_net_opts, max_batch, -1),
        FIELD_I(irb_net_opts, input_size, -1), FIELD_I(irb_net_opts, input_size, IRB_NET_MAX_INPUT_SIZE + 1),
    };
    for (size_t i = 0; i < COUNT(bad_net); i++) {
        o = (irb_net_opts){0}, field_set(&o, &bad_net[i]);
        EXPECT(IRB_INVALID_ARG, irb_net_new(m, &o, &net, ERR));
    }
    o = (irb_net_opts){.layer = "no such tensor"};
    EXPECT(IRB_NOT_FOUND, irb_net_new(m, &o, &net, ERR));
    CHECK(net == NULL, "failed irb_net_new calls leave *out NULL");

    /* a real net, run badly */
    o = (irb_net_opts){.cut = 2, .pool = IRB_POOL_AVG, .max_batch = 2, .threads = 1, .engine = IRB_ENGINE_ONEDNN};
    if (irb_net_new(m, &o, &net, NULL) != IRB_OK) {
        o.engine = IRB_ENGINE_REFERENCE;
        CHECK(irb_net_new(m, &o, &net, NULL) == IRB_OK, "a net of the model");
    }
    if (!net)
        return;
    size_t dim = irb_net_output_size(net);
    float *in = calloc(3 * 224 * 224 * 2, sizeof(float)), *out = calloc(dim * 2, sizeof(float));
    EXPECT_ON(IRB_INVALID_ARG, irb_net_run(net, NULL, 1, out), irb_net_error(net));
    EXPECT_ON(IRB_INVALID_ARG, irb_net_run(net, in, 1, NULL), irb_net_error(net));
    EXPECT_ON(IRB_INVALID_ARG, irb_net_run(net, in, 0, out), irb_net_error(net));
    EXPECT_ON(IRB_INVALID_ARG, irb_net_run(net, in, -1, out), irb_net_error(net));
    EXPECT_ON(IRB_INVALID_ARG, irb_net_run(net, in, 3, out), irb_net_error(net));
    EXPECT_ON(IRB_INVALID_ARG, irb_net_run(net, in, INT_MIN, out), irb_net_error(net));
    int slots = irb_net_slots(net);
    EXPECT(IRB_INVALID_ARG, irb_net_run_slot(net, -1, in, out, ERR));
    EXPECT(IRB_INVALID_ARG, irb_net_run_slot(net, slots, in, out, ERR));
    EXPECT(IRB_INVALID_ARG, irb_net_run_slot(net, 0, NULL, out, ERR));
    EXPECT(IRB_INVALID_ARG, irb_net_run_slot(net, 0, in, NULL, ERR));
    EXPECT_OK(irb_net_run(net, in, 2, out));
    CHECK(!memcmp(out, out + dim, dim * sizeof(float)), "the net still runs: two equal rows");
    free(in), free(out);
    irb_net_free(net);
}

/* ---- irbis/learn.h --------------------------------------------------------------------------- */

static void test_featwriter(const char *base)
{
    irb_featwriter_t *w = (irb_featwriter_t *)1;
    const char *extra[] = {"camera", NULL};
    EXPECT(IRB_INVALID_ARG, irb_featwriter_open(NULL, 2, NULL, &w, ERR));
    CHECK(w == NULL, "a failed irb_featwriter_open leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_featwriter_open("", 2, NULL, &w, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featwriter_open(base, 0, NULL, &w, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featwriter_open(base, -2, NULL, &w, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featwriter_open(base, 2, NULL, NULL, ERR));
    EXPECT(IRB_IO, irb_featwriter_open(g_missing, 2, NULL, &w, ERR));
    const char *bad_extra[] = {"", NULL};
    EXPECT(IRB_INVALID_ARG, irb_featwriter_open(base, 2, bad_extra, &w, ERR));
    const char *dup_extra[] = {"path", NULL};
    EXPECT(IRB_INVALID_ARG, irb_featwriter_open(base, 2, dup_extra, &w, ERR));
    float row[2] = {1, 2};
    EXPECT(IRB_INVALID_ARG, irb_featwriter_add(NULL, "a.jpg", 0, NULL, row, ERR));
    EXPECT_S(IRB_INVALID_ARG, irb_featwriter_set_meta(NULL, "k", "1"));
    EXPECT_S(IRB_INVALID_ARG, irb_featwriter_set_meta_str(NULL, "k", "v"));
    QUIET(irb_featwriter_rows(NULL) == 0 && irb_featwriter_error(NULL) == NULL);
    EXPECT(IRB_INVALID_ARG, irb_featwriter_close(NULL, ERR));
    QUIET((irb_featwriter_free(NULL), 1));

    w = NULL;
    EXPECT_OK(irb_featwriter_open(base, 2, extra, &w, ERR));
    if (!w)
        return;
#define W_ERR irb_featwriter_error(w)
    EXPECT(IRB_INVALID_ARG, irb_featwriter_add(w, NULL, 0, NULL, row, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featwriter_add(w, "a.jpg", 0, NULL, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featwriter_add(w, "a.jpg", 2, NULL, row, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featwriter_add(w, "a.jpg", -1, NULL, row, ERR));
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta(w, NULL, "1"), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta(w, "k", NULL), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta(w, "k", "{\"a\":"), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta(w, "k", ""), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta(w, "k", "1 2"), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta(w, "dim", "3"), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta_str(w, NULL, "v"), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta_str(w, "rows", "v"), W_ERR);
    EXPECT_ON(IRB_INVALID_ARG, irb_featwriter_set_meta_str(w, "k", NULL), W_ERR);
#undef W_ERR
    CHECK(irb_featwriter_rows(w) == 0, "no row was added by the bad calls");
    EXPECT(IRB_INVALID_ARG, irb_featwriter_add(w, "a.jpg", 0, NULL, row, ERR)); /* one extra column */
    /* the good rows: a NULL extra value is "" */
    const char *vals[] = {NULL};
    for (int i = 0; i < 4; i++) {
        float r[2] = {X4[2 * i], X4[2 * i + 1]};
        char p[16];
        snprintf(p, sizeof p, "c%d/%d.jpg", i % 2, i);
        EXPECT_OK(irb_featwriter_add(w, p, 0, vals, r, ERR));
    }
    EXPECT_OK(irb_featwriter_set_meta_str(w, "model", "m.onnx"));
    EXPECT_OK(irb_featwriter_close(w, ERR));
}

static void test_features(const char *base)
{
    irb_features *fs = (irb_features *)1;
    EXPECT(IRB_INVALID_ARG, irb_features_load(NULL, &fs, ERR));
    CHECK(fs == NULL, "a failed irb_features_load leaves *out NULL");
    EXPECT(IRB_NOT_FOUND, irb_features_load("", &fs, ERR));
    EXPECT(IRB_NOT_FOUND, irb_features_load(g_missing, &fs, ERR));
    EXPECT(IRB_NOT_FOUND, irb_features_load(g_sub, &fs, ERR));
    unlink(tmp("ff.npy"));
    CHECK(mkfifo(tmp("ff.npy"), 0600) == 0, "a FIFO as a feature set's .npy");
    EXPECT(IRB_CORRUPT, irb_features_load(tmp("ff"), &fs, ERR)); /* no writer: read as empty, at once */
    EXPECT(IRB_INVALID_ARG, irb_features_load_index(NULL, &fs, ERR));
    QUIET((irb_features_free(NULL), 1));
    QUIET(irb_features_column(NULL, "camera") == NULL && irb_features_meta(NULL, "model") == NULL);
    size_t rows[2] = {0, 3};
    float out[4];
    EXPECT(IRB_INVALID_ARG, irb_features_read_rows(base, NULL, rows, 2, out, ERR));
    if (irb_features_load_index(base, &fs, NULL) != IRB_OK) {
        CHECK(0, "load the index of %s", base);
        return;
    }
    QUIET(irb_features_column(fs, NULL) == NULL && irb_features_meta(fs, NULL) == NULL);
    QUIET(irb_features_column(fs, "camera") != NULL && !strcmp(irb_features_meta(fs, "model"), "m.onnx"));
    EXPECT(IRB_INVALID_ARG, irb_features_read_rows(NULL, fs, rows, 2, out, ERR));
    EXPECT(IRB_INVALID_ARG, irb_features_read_rows(base, fs, NULL, 2, out, ERR));
    EXPECT(IRB_INVALID_ARG, irb_features_read_rows(base, fs, rows, 2, NULL, ERR));
    size_t far[1] = {4};
    EXPECT(IRB_INVALID_ARG, irb_features_read_rows(base, fs, far, 1, out, ERR));
    size_t huge[1] = {SIZE_MAX};
    EXPECT(IRB_INVALID_ARG, irb_features_read_rows(base, fs, huge, 1, out, ERR));
    EXPECT(IRB_INVALID_ARG, irb_features_read_rows(base, fs, rows, SIZE_MAX, out, ERR));
    EXPECT(IRB_NOT_FOUND, irb_features_read_rows(g_missing, fs, rows, 2, out, ERR));
    EXPECT(IRB_NOT_FOUND, irb_features_read_rows(tmp("other"), fs, rows, 2, out, ERR));
    EXPECT_OK(irb_features_read_rows(base, fs, rows, 0, NULL, ERR));
    EXPECT_OK(irb_features_read_rows(base, fs, rows, 2, out, ERR));
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 1 && out[3] == 1, "rows 0 and 3");
    irb_features_free(fs);
}

static void test_train(void)
{
    irb_classifier_t *c = (irb_classifier_t *)1;
    int fold[4];
    const int groups[4] = {1, 1, 2, 3};
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(NULL, 4, 2, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(groups, 4, 2, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(groups, 4, 1, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(groups, 4, -2, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(groups, 4, INT_MIN, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(groups, 4, 4, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(groups, 0, 2, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_group_kfold(groups, 4, INT_MAX, fold, ERR));
    EXPECT(IRB_NOMEM, irb_group_kfold(groups, SIZE_MAX, 2, fold, ERR)); /* refused before a row is read */

    const char *const null_name[2] = {"a", NULL};
    const int ybad[4] = {0, 0, 1, 2};
    const float xnan[8] = {0, 0, 0, 1, 1, INFINITY, 1, 1};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(NULL, 4, 2, Y4, 2, NAMES2, NULL, &c, NULL, ERR));
    CHECK(c == NULL, "a failed irb_logreg_train leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, NULL, 2, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NULL, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, null_name, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 0, 2, Y4, 2, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 0, Y4, 2, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, -2, Y4, 2, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 1, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, -2, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, ybad, 2, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(xnan, 4, 2, Y4, 2, NAMES2, NULL, &c, NULL, ERR));
    EXPECT(IRB_TOO_LARGE, irb_logreg_train(X4, SIZE_MAX, 2, Y4, 2, NAMES2, NULL, &c, NULL, ERR));
    const char *const same[2] = {"a", "a"};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, same, NULL, &c, NULL, ERR));
    irb_train_opts o;
    const double neg_grid[2] = {-1, 1}, nan_w[2] = {NAN, 1}, neg_w[2] = {-1, 1};
    o = (irb_train_opts){.C = 1, .balanced = 1, .class_weight = neg_w};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, &o, &c, NULL, ERR));
    o = (irb_train_opts){.C = 1, .class_weight = neg_w};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, &o, &c, NULL, ERR));
    o = (irb_train_opts){.C = 1, .class_weight = nan_w};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, &o, &c, NULL, ERR));
    o = (irb_train_opts){.C = 0, .grid = neg_grid, .grid_n = 2, .cv_folds = 2};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, &o, &c, NULL, ERR));
    o = (irb_train_opts){.C = 0, .grid = neg_grid + 1, .grid_n = -1, .cv_folds = 2};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, &o, &c, NULL, ERR));
    o = (irb_train_opts){.C = 0, .grid = neg_grid + 1, .grid_n = IRB_CV_GRID_MAX + 1, .cv_folds = 2};
    EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, &o, &c, NULL, ERR));
    static const field_case bad_train[] = {
        FIELD_D(irb_train_opts, C, -1),        FIELD_D(irb_train_opts, C, NAN),
        FIELD_I(irb_train_opts, cv_folds, 9),  FIELD_I(irb_train_opts, threads, -1),
        FIELD_I(irb_train_opts, max_iter, -1), FIELD_D(irb_train_opts, tol, NAN),
        FIELD_D(irb_train_opts, tol, -1),      FIELD_D(irb_train_opts, cv_tol, -1),
    };
    for (size_t i = 0; i < COUNT(bad_train); i++) {
        o = (irb_train_opts){.C = bad_train[i].off == offsetof(irb_train_opts, cv_folds) ? 0 : 1};
        field_set(&o, &bad_train[i]);
        EXPECT(IRB_INVALID_ARG, irb_logreg_train(X4, 4, 2, Y4, 2, NAMES2, &o, &c, NULL, ERR));
    }
    CHECK(c == NULL, "failed trainings leave *out NULL");
}

static void test_classifier(irb_classifier_t *clf, const char *base)
{
    QUIET(irb_classifier_class_name(clf, -1) == NULL && irb_classifier_class_name(clf, 2) == NULL);
    QUIET(irb_classifier_class_name(clf, INT_MIN) == NULL && irb_classifier_class_name(clf, INT_MAX) == NULL);
    QUIET(irb_classifier_meta(NULL, "model") == NULL && irb_classifier_meta(clf, NULL) == NULL);
    EXPECT_S(IRB_INVALID_ARG, irb_classifier_set_meta(NULL, "k", "v"));
    EXPECT_S(IRB_INVALID_ARG, irb_classifier_set_meta(clf, NULL, "v"));
    EXPECT_S(IRB_INVALID_ARG, irb_classifier_set_meta(clf, "k", NULL));
    EXPECT_S(IRB_INVALID_ARG, irb_classifier_set_provenance(NULL, NULL));
    EXPECT_S(IRB_INVALID_ARG, irb_classifier_set_provenance(clf, NULL));

    /* predict: the rows argument, the width and the buffers */
    double prob[8];
    EXPECT(IRB_INVALID_ARG, irb_classifier_predict(NULL, X4, 4, 2, prob, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_predict(clf, NULL, 4, 2, prob, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_predict(clf, X4, 4, 2, NULL, ERR));
    EXPECT(IRB_MISMATCH, irb_classifier_predict(clf, X4, 4, 3, prob, ERR));
    EXPECT(IRB_MISMATCH, irb_classifier_predict(clf, X4, 4, -2, prob, ERR));
    EXPECT(IRB_MISMATCH, irb_classifier_predict(clf, X4, 4, 0, prob, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_predict(clf, X4, SIZE_MAX, 2, prob, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_predict(clf, X4, SIZE_MAX / 2 + 1, 2, prob, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_predict(clf, X4, SIZE_MAX / sizeof(double) / 2 + 1, 2, prob, ERR));
    EXPECT_OK(irb_classifier_predict(clf, NULL, 0, 2, NULL, ERR));
    EXPECT_OK(irb_classifier_predict(clf, X4, 4, 2, prob, ERR));
    CHECK(prob[0] > 0.5 && prob[7] > 0.5, "the tiny classifier separates its rows (%g %g)", prob[0], prob[7]);

    /* files */
    irb_classifier_t *c2 = (irb_classifier_t *)1;
    EXPECT(IRB_INVALID_ARG, irb_classifier_save(NULL, tmp("c.irbis"), ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_save(clf, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_save(clf, "", ERR));
    EXPECT(IRB_IO, irb_classifier_save(clf, g_sub, ERR));
    EXPECT(IRB_IO, irb_classifier_save(clf, g_missing, ERR));
    EXPECT(IRB_NOT_FOUND, irb_classifier_load("", &c2, ERR));
    CHECK(c2 == NULL, "a failed irb_classifier_load leaves *out NULL");
    EXPECT(IRB_NOT_FOUND, irb_classifier_load(g_missing, &c2, ERR));
    EXPECT(IRB_IO, irb_classifier_load(g_sub, &c2, ERR));
    EXPECT(IRB_IO, irb_classifier_load(g_fifo, &c2, ERR));
    EXPECT(IRB_CORRUPT, irb_classifier_load(g_csv, &c2, ERR));
    EXPECT(IRB_CORRUPT, irb_classifier_parse(NULL, 0, NULL, &c2, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classifier_parse(NULL, 4, "x", &c2, ERR));

    /* a classifier against a feature set */
    irb_features *fs = NULL;
    if (irb_features_load(base, &fs, NULL) == IRB_OK) {
        EXPECT_OK(irb_classifier_check_features(clf, fs, ERR));
        EXPECT_S(IRB_OK, irb_classifier_set_provenance(clf, fs));
        QUIET(!strcmp(irb_classifier_meta(clf, "model"), "m.onnx"));
        fs->dim = 3; /* a feature set of another width */
        EXPECT(IRB_MISMATCH, irb_classifier_check_features(clf, fs, ERR));
        fs->dim = 2;
    }
    irb_features_free(fs);
}

/* ---- irbis/pipeline.h ------------------------------------------------------------------------ */

static void test_pipeline(irb_classifier_t *clf)
{
    irb_novelty *nv = (irb_novelty *)1;
    double held[4], score[4];
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(NULL, 4, 2, NULL, 2, 0.9, 0, NULL, &nv, ERR));
    CHECK(nv == NULL, "a failed irb_novelty_fit leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 0, NULL, 2, 0.9, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, -2, NULL, 2, 0.9, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 1, 2, NULL, 2, 0.9, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 2, NULL, 1, 0.9, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 2, NULL, 5, 0.9, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 2, NULL, 2, 0, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 2, NULL, 2, 1.5, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 2, NULL, 2, NAN, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 2, NULL, 2, 0.9, -1, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, SIZE_MAX, 2, NULL, 2, 0.9, 0, NULL, &nv, ERR));
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, SIZE_MAX / 2 + 1, 2, NULL, 2, 0.9, 0, NULL, &nv, ERR));
    const int one_group[4] = {1, 1, 1, 1};
    EXPECT(IRB_INVALID_ARG, irb_novelty_fit(X4, 4, 2, one_group, 2, 0.9, 0, NULL, &nv, ERR));
    QUIET((irb_novelty_free(NULL), 1));
    EXPECT(IRB_INVALID_ARG, irb_novelty_score(NULL, X4, 4, 2, score, ERR));
    nv = NULL;
    EXPECT_OK(irb_novelty_fit(X4, 4, 2, NULL, 2, 0.9, 0, held, &nv, ERR));
    if (nv) {
        EXPECT(IRB_INVALID_ARG, irb_novelty_score(nv, NULL, 4, 2, score, ERR));
        EXPECT(IRB_INVALID_ARG, irb_novelty_score(nv, X4, 4, 2, NULL, ERR));
        EXPECT(IRB_MISMATCH, irb_novelty_score(nv, X4, 4, 3, score, ERR));
        EXPECT(IRB_MISMATCH, irb_novelty_score(nv, X4, 4, -1, score, ERR));
        EXPECT(IRB_INVALID_ARG, irb_novelty_score(nv, X4, SIZE_MAX, 2, score, ERR));
        EXPECT(IRB_INVALID_ARG, irb_novelty_score(nv, X4, SIZE_MAX / 2 + 1, 2, score, ERR));
        EXPECT_OK(irb_novelty_score(nv, X4, 0, 2, score, ERR));
        EXPECT_OK(irb_novelty_score(nv, X4, 4, 2, score, ERR));
        CHECK(fabs(score[0] - 1) < 1e-6 || score[0] >= 0, "a score");
        irb_novelty_free(nv);
    }

    irb_pipeline *p = NULL;
    QUIET((irb_pipeline_free(NULL), 1));
    QUIET(irb_pipeline_calib(NULL, 224) == NULL);
    irb_calib_t *cal = NULL;
    irb_calib_new(&cal, NULL);
    EXPECT(IRB_INVALID_ARG, irb_pipeline_set_calib(NULL, 224, cal, ERR));
    EXPECT(IRB_INVALID_ARG, irb_pipeline_save(NULL, tmp("p.irbis"), ERR));
    EXPECT(IRB_INVALID_ARG, irb_pipeline_load(NULL, &p, ERR));
    EXPECT(IRB_INVALID_ARG, irb_pipeline_load(g_csv, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_pipeline_load("", &p, ERR));
    EXPECT(IRB_NOT_FOUND, irb_pipeline_load(g_missing, &p, ERR));
    EXPECT(IRB_IO, irb_pipeline_load(g_sub, &p, ERR));
    EXPECT(IRB_IO, irb_pipeline_load(g_fifo, &p, ERR));
    EXPECT(IRB_CORRUPT, irb_pipeline_load(g_csv, &p, ERR));
    EXPECT(IRB_CORRUPT, irb_pipeline_parse(NULL, 0, NULL, &p, ERR));
    EXPECT(IRB_INVALID_ARG, irb_pipeline_parse(NULL, 3, "x", &p, ERR));
    CHECK(p == NULL, "failed pipeline loads leave *out NULL");

    p = irb_pipeline_new();
    CHECK(p != NULL, "irb_pipeline_new");
    if (!p) {
        irb_calib_free(cal);
        return;
    }
    QUIET(irb_pipeline_calib(p, -1) == NULL && irb_pipeline_calib(p, 0) == NULL);
    EXPECT(IRB_INVALID_ARG, irb_pipeline_set_calib(p, 224, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_pipeline_set_calib(p, -1, cal, ERR));
    EXPECT(IRB_INVALID_ARG, irb_pipeline_set_calib(p, IRB_NET_MAX_INPUT_SIZE + 1, cal, ERR));
    for (int k = 0; k < IRB_PIPELINE_MAX_CALIB; k++)
        EXPECT_OK(irb_pipeline_set_calib(p, 32 + k, cal, ERR));
    EXPECT_OK(irb_pipeline_set_calib(p, 32, cal, ERR)); /* replaces */
    EXPECT(IRB_INVALID_ARG, irb_pipeline_set_calib(p, 999, cal, ERR));
    CHECK(p->n_calib == IRB_PIPELINE_MAX_CALIB, "the tables kept: %d", p->n_calib);
    irb_calib_free(cal);

    /* an empty pipeline, and parts that lie about themselves, are refused by save (as a file
     * holding them would be by load) */
    EXPECT(IRB_CORRUPT, irb_pipeline_save(p, tmp("p.irbis"), ERR));
    p->n_classes = 2;
    p->classes = calloc(2, sizeof *p->classes);
    p->classes[0] = strdup("a"), p->classes[1] = strdup("b");
    p->n_parts = -1;
    EXPECT(IRB_CORRUPT, irb_pipeline_save(p, tmp("p.irbis"), ERR));
    p->n_parts = IRB_PIPELINE_MAX_PARTS + 1;
    EXPECT(IRB_CORRUPT, irb_pipeline_save(p, tmp("p.irbis"), ERR));
    p->n_parts = 1;
    p->parts[0].weight = 1;
    p->parts[0].n_inputs = 1;
    EXPECT(IRB_CORRUPT, irb_pipeline_save(p, tmp("p.irbis"), ERR)); /* no classifier */
    p->parts[0].n_inputs = IRB_PIPELINE_MAX_INPUTS + 1;
    EXPECT(IRB_CORRUPT, irb_pipeline_save(p, tmp("p.irbis"), ERR));
    p->parts[0].n_inputs = 1;
    (void)clf;

    /* combine with a pipeline that lies: nothing is read past its arrays */
    double out[4] = {7, 7, 7, 7};
    const double probs[4] = {0.25, 0.75, 0.5, 0.5};
    const double *parts[1] = {probs};
    p->n_parts = IRB_PIPELINE_MAX_PARTS + 5;
    QUIET((irb_pipeline_combine(p, parts, 2, out), 1));
    p->n_parts = -3;
    QUIET((irb_pipeline_combine(p, parts, 2, out), 1));
    p->n_parts = 1, p->n_classes = -2;
    QUIET((irb_pipeline_combine(p, parts, 2, out), out[0] == 7 || out[0] == 0));
    p->n_classes = 2;
    QUIET((irb_pipeline_combine(p, parts, SIZE_MAX, out), 1));
    irb_pipeline_free(p);
}

/* ---- irbis/scan.h ---------------------------------------------------------------------------- */

static void test_scan(void)
{
    irb_scan_t *s = (irb_scan_t *)1;
    irb_scan_row row;
    QUIET(!strcmp(irb_scan_status_name((irb_scan_status)-1), "error"));
    EXPECT(IRB_INVALID_ARG, irb_scan_open(NULL, NULL, &s, ERR));
    CHECK(s == NULL, "a failed irb_scan_open leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_scan_open(g_dir, NULL, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_scan_open("", NULL, &s, ERR));
    EXPECT(IRB_NOT_FOUND, irb_scan_open(g_missing, NULL, &s, ERR));
    EXPECT(IRB_IO, irb_scan_open(g_csv, NULL, &s, ERR));
    EXPECT(IRB_IO, irb_scan_open(g_fifo, NULL, &s, ERR));
    irb_scan_opts so = {.camera_depth = -1};
    EXPECT(IRB_INVALID_ARG, irb_scan_open(g_dir, &so, &s, ERR));
    so = (irb_scan_opts){.max_pixels = -1};
    EXPECT(IRB_INVALID_ARG, irb_scan_open(g_dir, &so, &s, ERR));
    EXPECT_S(IRB_INVALID_ARG, irb_scan_next(NULL, &row));
    QUIET(irb_scan_error(NULL) && irb_scan_error(NULL)->message[0]);
    QUIET((irb_scan_close(NULL), 1));
    char cam[8] = "xyz";
    QUIET((irb_scan_camera("a/b/c.jpg", -5, cam, sizeof cam), !strcmp(cam, "a/b")));
    QUIET((irb_scan_camera("a/b/c.jpg", INT_MAX, cam, sizeof cam), !strcmp(cam, "a/b")));
    QUIET((irb_scan_camera("a/b/c.jpg", 1, cam, 0), 1));
    QUIET((irb_scan_camera("abcdefghij/c.jpg", 0, cam, 4), !strcmp(cam, "abc")));
    irb_scan_row garbage = {0};
    garbage.status = (irb_scan_status)77;
    FILE *f = tmpfile();
    QUIET((irb_scan_write_csv_row(f, &garbage), 1));
    if (f)
        fclose(f);
    s = NULL;
    EXPECT_OK(irb_scan_open(g_dir, NULL, &s, ERR));
    if (s) {
        EXPECT_ON(IRB_INVALID_ARG, irb_scan_next(s, NULL), irb_scan_error(s));
        int rows = 0;
        irb_status st;
        quiet_begin("irb_scan_next");
        while ((st = irb_scan_next(s, &row)) == IRB_OK)
            rows++;
        long printed = quiet_end();
        CHECK(st == IRB_NOT_FOUND && rows >= 2 && !printed, "the walk after the bad calls: %d rows, status %d", rows,
              (int)st);
        /* after the end, the walk stays over */
        EXPECT_S(IRB_NOT_FOUND, irb_scan_next(s, &row));
        irb_scan_close(s);
    }
}

/* ---- irbis/survey.h -------------------------------------------------------------------------- */

static void test_survey(void)
{
    irb_time t = {0};
    char buf[64];
    EXPECT(IRB_INVALID_ARG, irb_time_parse(NULL, &t, ERR));
    EXPECT(IRB_INVALID_ARG, irb_time_parse("2012-11-24T16:59:05", NULL, ERR));
    static const struct {
        irb_status want;
        const char *text;
    } bad_times[] = {
        {IRB_NOT_FOUND, ""},
        {IRB_NOT_FOUND, "    "},
        {IRB_NOT_FOUND, "0000:00:00 00:00:00"},
        {IRB_CORRUPT, "2012-13-24T16:59:05"},
        {IRB_CORRUPT, "2012-02-30T16:59:05"},
        {IRB_CORRUPT, "99999999999999999999-01-01T00:00:00"},
        {IRB_CORRUPT, "2012-11-24T16:59:05."},
        {IRB_CORRUPT, "9999-12-31T23:59:60"},
        {IRB_UNSUPPORTED, "2012-11-24T16:59:05Z"},
    };
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++)
        EXPECT(bad_times[i].want, irb_time_parse(bad_times[i].text, &t, ERR));
    /* formatting cannot fail: any time, any buffer */
    irb_time ext[] = {{INT64_MAX, 0}, {INT64_MIN, 0}, {0, NAN}, {0, -0.5}, {0, 1.5}, {-1, 0.999999999}, {0, INFINITY}};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        QUIET(irb_time_format(ext[i], buf, sizeof buf) == buf && strlen(buf) < sizeof buf);
        QUIET((irb_time_format(ext[i], buf, 5), strlen(buf) <= 4));
        QUIET((irb_time_format(ext[i], NULL, 0), 1));
        QUIET((irb_time_format(ext[i], buf, 0), 1));
        QUIET((irb_time_diff(ext[i], ext[(i + 1) % 7]), 1));
    }

    /* sequences */
    irb_seq_item items[2] = {{.path = "a", .camera = "c", .has_time = 1}, {.path = NULL, .camera = "c"}};
    irb_sequences seq = {0};
    irb_seq_opts so = {.gap = -1};
    EXPECT(IRB_INVALID_ARG, irb_sequences_assign(NULL, 2, NULL, &seq, ERR));
    EXPECT(IRB_INVALID_ARG, irb_sequences_assign(items, 2, NULL, &seq, ERR)); /* a NULL path */
    items[1].path = "b";
    EXPECT(IRB_INVALID_ARG, irb_sequences_assign(items, 2, NULL, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_sequences_assign(items, 2, &so, &seq, ERR));
    so.gap = NAN;
    EXPECT(IRB_INVALID_ARG, irb_sequences_assign(items, 2, &so, &seq, ERR));
    EXPECT(IRB_INVALID_ARG, irb_sequences_assign(items, SIZE_MAX, NULL, &seq, ERR));
    CHECK(seq.n_images == 0 && seq.image_seq == NULL, "failed assignments leave *out zeroed");
    EXPECT_OK(irb_sequences_assign(items, 0, NULL, &seq, ERR));
    irb_sequences_release(&seq);
    QUIET((irb_sequences_release(&seq), irb_sequences_release(NULL), 1));

    irb_seq_stream bs;
    int starts = 7;
    EXPECT(IRB_INVALID_ARG, irb_seq_stream_init(NULL, 60, ERR));
    EXPECT(IRB_INVALID_ARG, irb_seq_stream_init(&bs, -1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_seq_stream_init(&bs, NAN, ERR));
    EXPECT(IRB_INVALID_ARG, irb_seq_stream_next(NULL, "c", 0, t, &starts, ERR));
    EXPECT_OK(irb_seq_stream_init(&bs, 60, ERR));
    EXPECT(IRB_INVALID_ARG, irb_seq_stream_next(&bs, "c", 0, t, NULL, ERR));
    EXPECT_OK(irb_seq_stream_next(&bs, NULL, 0, t, &starts, ERR));
    CHECK(starts == 1, "the first image starts a sequence");
    irb_time weird = {INT64_MIN, NAN};
    EXPECT_OK(irb_seq_stream_next(&bs, "c", 1, weird, &starts, ERR));
    weird.seconds = INT64_MAX;
    EXPECT_OK(irb_seq_stream_next(&bs, "c", 1, weird, &starts, ERR));
    CHECK(starts == 1, "a time 2^63 s later starts a sequence");
    QUIET(irb_seq_stream_name(NULL) != NULL && irb_seq_stream_name(&bs) != NULL);
    irb_seq_stream_release(&bs);
    QUIET((irb_seq_stream_release(&bs), irb_seq_stream_release(NULL), 1));

    /* ensembling */
    QUIET(irb_ensemble_parse(NULL) == -1 && irb_ensemble_parse("") == -1);
    QUIET(!strcmp(irb_ensemble_name((irb_ensemble)-1), "?") && !strcmp(irb_ensemble_name((irb_ensemble)9), "?"));
    QUIET(irb_argmax(NULL, 0) == -1 && irb_argmax(NULL, 3) == -1);
    const double nanv[3] = {NAN, 1, 2};
    QUIET(irb_argmax(nanv, 3) == 2);
    irb_seq_item it2[2] = {{.path = "a", .camera = "c"}, {.path = "b", .camera = "c"}};
    if (irb_sequences_assign(it2, 2, NULL, &seq, NULL) == IRB_OK) {
        const double probs[4] = {0.2, 0.8, 0.6, 0.4}, negp[4] = {-0.2, 1.2, 0.6, 0.4}, nanp[4] = {NAN, 1, 0.5, 0.5};
        double sp[4];
        int sl[2];
        EXPECT(IRB_INVALID_ARG, irb_ensemble_sequences(NULL, probs, 2, IRB_ENSEMBLE_MEAN, sp, sl, NULL, NULL, ERR));
        EXPECT(IRB_INVALID_ARG, irb_ensemble_sequences(&seq, NULL, 2, IRB_ENSEMBLE_MEAN, sp, sl, NULL, NULL, ERR));
        EXPECT(IRB_INVALID_ARG, irb_ensemble_sequences(&seq, probs, 0, IRB_ENSEMBLE_MEAN, sp, sl, NULL, NULL, ERR));
        EXPECT(IRB_INVALID_ARG, irb_ensemble_sequences(&seq, probs, 2, (irb_ensemble)9, sp, sl, NULL, NULL, ERR));
        EXPECT(IRB_INVALID_ARG, irb_ensemble_sequences(&seq, probs, 2, (irb_ensemble)-1, sp, sl, NULL, NULL, ERR));
        EXPECT(IRB_INVALID_ARG, irb_ensemble_sequences(&seq, negp, 2, IRB_ENSEMBLE_MEAN, sp, sl, NULL, NULL, ERR));
        EXPECT(IRB_INVALID_ARG, irb_ensemble_sequences(&seq, nanp, 2, IRB_ENSEMBLE_MAX, sp, sl, NULL, NULL, ERR));
        EXPECT(IRB_INVALID_ARG,
               irb_ensemble_sequences(&seq, probs, SIZE_MAX / 2, IRB_ENSEMBLE_MEAN, sp, sl, NULL, NULL, ERR));
        EXPECT_OK(irb_ensemble_sequences(&seq, probs, 2, IRB_ENSEMBLE_GEOMEAN, NULL, NULL, NULL, NULL, ERR));
        irb_sequences_release(&seq);
    }

    /* folds */
    QUIET(irb_fold_unit_parse(NULL) == -1 && !strcmp(irb_fold_unit_name((irb_fold_unit)-1), "?"));
    irb_fold_item fi[4] = {
        {.path = "a", .label = 0}, {.path = "b", .label = 1}, {.path = "c", .label = 7}, {.path = "d", .label = -5}};
    int fold[4];
    irb_fold_opts fo = irb_fold_opts_default();
    fo.k = 2;
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(NULL, 4, &fo, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, NULL, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, &fo, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 0, &fo, fold, ERR));
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, SIZE_MAX, &fo, fold, ERR));
    fo.k = 1;
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, &fo, fold, ERR));
    fo.k = 5;
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, &fo, fold, ERR));
    fo.k = INT_MIN;
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, &fo, fold, ERR));
    fo.k = 2, fo.unit = (irb_fold_unit)9;
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, &fo, fold, ERR));
    fo.unit = (irb_fold_unit)-1;
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, &fo, fold, ERR));
    fo.unit = IRB_FOLD_BLOCK;
    fi[2].path = NULL;
    EXPECT(IRB_INVALID_ARG, irb_folds_assign(fi, 4, &fo, fold, ERR));
    fi[2].path = "c";
    /* labels out of range are "unknown" for stratification, not indexes */
    fo.unit = IRB_FOLD_SEQUENCE, fo.stratify = 1;
    fi[2].label = INT_MAX, fi[3].label = INT_MIN;
    EXPECT_OK(irb_folds_assign(fi, 4, &fo, fold, ERR));
}

/* ---- irbis/eval.h ---------------------------------------------------------------------------- */

static void test_eval(void)
{
    const int truth[4] = {0, 1, 1, 0}, pred[4] = {0, 1, 0, 0}, badv[4] = {0, 1, 2, -1};
    const double score[4] = {0.1, 0.9, 0.4, 0.3}, nans[4] = {0.1, NAN, 0.4, 0.3};
    irb_metrics m = {0};
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(NULL, pred, 4, 2, &m, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(truth, NULL, 4, 2, &m, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(truth, pred, 4, 2, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(truth, pred, 4, 0, &m, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(badv, pred, 4, 2, &m, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(truth, badv, 4, 2, &m, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(truth, pred, 4, SIZE_MAX, &m, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(truth, pred, 4, (size_t)1 << 33, &m, ERR));
    EXPECT(IRB_INVALID_ARG, irb_metrics_compute(truth, pred, SIZE_MAX, 2, &m, ERR));
    CHECK(m.precision == NULL, "failed metrics leave *out empty");
    EXPECT_OK(irb_metrics_compute(NULL, NULL, 0, 2, &m, ERR));
    irb_metrics_release(&m);
    QUIET((irb_metrics_release(&m), irb_metrics_release(NULL), 1)); /* twice: the first zeroed it */
    double pr = 7, rc = 7;
    QUIET((irb_precision_recall_at(NULL, NULL, 4, 0.5, &pr, &rc), pr == 0 && rc == 0));
    QUIET((irb_precision_recall_at(score, truth, 4, 0.5, NULL, NULL), 1));

    irb_roc roc = {0};
    EXPECT(IRB_INVALID_ARG, irb_roc_compute(score, truth, 0, 1, &roc, ERR));
    EXPECT(IRB_INVALID_ARG, irb_roc_compute(NULL, truth, 4, 1, &roc, ERR));
    EXPECT(IRB_INVALID_ARG, irb_roc_compute(score, NULL, 4, 1, &roc, ERR));
    EXPECT(IRB_INVALID_ARG, irb_roc_compute(score, truth, 4, 1, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_roc_compute(nans, truth, 4, 1, &roc, ERR));
    EXPECT(IRB_INVALID_ARG, irb_roc_compute(score, truth, SIZE_MAX, 1, &roc, ERR));
    QUIET((irb_roc_release(NULL), 1));

    /* files */
    irb_predictions pd = {0};
    irb_labels lb = {0};
    EXPECT(IRB_INVALID_ARG, irb_predictions_read(NULL, &pd, ERR));
    EXPECT(IRB_INVALID_ARG, irb_predictions_read(g_csv, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_predictions_read("", &pd, ERR));
    EXPECT(IRB_NOT_FOUND, irb_predictions_read(g_missing, &pd, ERR));
    EXPECT(IRB_IO, irb_predictions_read(g_sub, &pd, ERR));
    EXPECT(IRB_CORRUPT, irb_predictions_read(g_fifo, &pd, ERR));
    EXPECT(IRB_NOT_FOUND, irb_predictions_read(g_csv, &pd, ERR)); /* no p_ column */
    QUIET((irb_predictions_release(NULL), 1));
    EXPECT(IRB_INVALID_ARG, irb_labels_read(NULL, NULL, &lb, ERR));
    EXPECT(IRB_INVALID_ARG, irb_labels_read(g_csv, NULL, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_labels_read("", NULL, &lb, ERR));
    EXPECT(IRB_NOT_FOUND, irb_labels_read(g_missing, NULL, &lb, ERR));
    EXPECT(IRB_IO, irb_labels_read(g_sub, NULL, &lb, ERR));
    EXPECT(IRB_CORRUPT, irb_labels_read(g_fifo, NULL, &lb, ERR));
    {
        irb_labels_opts lo = {.path_column = "nope", .label_column = "", .blank_label = ""};
        irb_table *t0 = NULL;
        EXPECT(IRB_NOT_FOUND, irb_labels_read(g_csv, &lo, &lb, ERR));
        EXPECT(IRB_INVALID_ARG, irb_labels_table_load(NULL, &lo, &t0, ERR));
        EXPECT(IRB_INVALID_ARG, irb_labels_table_load(g_csv, &lo, NULL, ERR));
    }
    QUIET((irb_labels_release(NULL), irb_joined_release(NULL), irb_evaluation_release(NULL), 1));
    EXPECT(IRB_INVALID_ARG, irb_labels_from_table(NULL, NULL, NULL, NULL, NULL, &lb, ERR));
    irb_table *t = NULL;
    if (irb_table_load(g_csv, &t, NULL) == IRB_OK) {
        EXPECT(IRB_INVALID_ARG, irb_labels_from_table(t, NULL, NULL, NULL, NULL, NULL, ERR));
        EXPECT(IRB_NOT_FOUND, irb_labels_from_table(t, "nope", NULL, NULL, NULL, &lb, ERR));
        EXPECT(IRB_NOT_FOUND, irb_labels_from_table(t, NULL, "", NULL, NULL, &lb, ERR));
        EXPECT_OK(irb_labels_from_table(t, NULL, NULL, "", NULL, &lb, ERR));
    }
    irb_table_free(t);

    /* matching */
    const char *q[2] = {"a.jpg", NULL};
    long match[2];
    EXPECT(IRB_INVALID_ARG, irb_labels_match(NULL, q, 1, match, ERR));
    EXPECT(IRB_INVALID_ARG, irb_labels_match(&lb, NULL, 1, match, ERR));
    EXPECT(IRB_INVALID_ARG, irb_labels_match(&lb, q, 1, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_labels_match(&lb, q, 2, match, ERR)); /* a NULL path */
    EXPECT(IRB_INVALID_ARG, irb_labels_match(&lb, q, SIZE_MAX, match, ERR));
    EXPECT_OK(irb_labels_match(&lb, q, 1, match, ERR));
    CHECK(match[0] == 0, "a.jpg matches its label");
    long ex = 7;
    QUIET(irb_labels_unmatched(NULL, match, 1, &ex) == 0 && ex == -1);
    QUIET(irb_labels_unmatched(&lb, NULL, 1, &ex) == lb.n);
    QUIET(irb_labels_case_twin(&lb, -1, q, 1) == -1 && irb_labels_case_twin(&lb, 99, q, 1) == -1);
    QUIET(irb_labels_case_twin(NULL, 0, q, 1) == -1 && irb_labels_case_twin(&lb, 0, NULL, 1) == -1);
    QUIET(irb_labels_case_twin(&lb, 0, q + 1, 1) == -1);
    size_t a = 7, b = 7;
    const char *looks[3] = {"Snow leopard", NULL, "snow_leopard"};
    QUIET(irb_labels_lookalike(NULL, 3, &a, &b) == 0);
    QUIET(irb_labels_lookalike(looks, 3, &a, &b) == 1 && a == 0 && b == 2);
    irb_joined j = {0};
    EXPECT(IRB_INVALID_ARG, irb_join_labels(NULL, &lb, &j, ERR));
    EXPECT(IRB_INVALID_ARG, irb_join_labels(&pd, NULL, &j, ERR));
    EXPECT(IRB_INVALID_ARG, irb_join_labels(&pd, &lb, NULL, ERR));
    irb_labels_release(&lb);

    /* an evaluation */
    const double probs[8] = {0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.7, 0.3};
    const char *const cls[2] = {"a", "b"}, *const nullcls[2] = {"a", NULL};
    irb_evaluation ev = {0};
    EXPECT(IRB_INVALID_ARG, irb_evaluate(NULL, truth, 4, 2, cls, 1, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, NULL, 4, 2, cls, 1, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, 2, NULL, 1, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, 2, nullcls, 1, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, 2, cls, 1, 0.5, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, 0, cls, 0, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, 2, cls, -1, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, 2, cls, 2, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, 2, cls, 1, NAN, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, badv, 4, 2, cls, 1, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, SIZE_MAX, 2, cls, 1, 0.5, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_evaluate(probs, truth, 4, SIZE_MAX / 2, cls, 1, 0.5, &ev, ERR));
    CHECK(ev.classes == NULL, "failed evaluations leave *out empty");
    EXPECT_OK(irb_evaluate(probs, truth, 4, 2, cls, 1, 0.5, &ev, ERR));

    /* writers */
    EXPECT(IRB_INVALID_ARG, irb_write_metrics_json(NULL, &ev, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_metrics_json(tmp("m.json"), NULL, NULL, ERR));
    EXPECT(IRB_IO, irb_write_metrics_json(g_sub, &ev, NULL, ERR));
    EXPECT(IRB_IO, irb_write_metrics_json(g_missing, &ev, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_metrics_csv(NULL, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_metrics_csv(tmp("m.csv"), NULL, ERR));
    EXPECT(IRB_IO, irb_write_metrics_csv(g_sub, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_confusion_csv(NULL, &ev, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_confusion_csv(tmp("c.csv"), NULL, ERR));
    EXPECT(IRB_IO, irb_write_confusion_csv(g_sub, &ev, ERR));
    const irb_roc *curves[2] = {&ev.roc, NULL};
    const char *names[2] = {"image", NULL};
    EXPECT(IRB_INVALID_ARG, irb_write_roc_csv(NULL, curves, names, 1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_roc_csv(tmp("r.csv"), NULL, names, 1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_roc_csv(tmp("r.csv"), curves, NULL, 1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_roc_csv(tmp("r.csv"), curves, names, 2, ERR));
    EXPECT(IRB_IO, irb_write_roc_csv(g_sub, curves, names, 1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_roc_svg(NULL, curves, names, 1, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_roc_svg(tmp("r.svg"), NULL, names, 1, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_roc_svg(tmp("r.svg"), curves, NULL, 1, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_write_roc_svg(tmp("r.svg"), curves, names, 2, NULL, ERR));
    EXPECT(IRB_IO, irb_write_roc_svg(g_sub, curves, names, 1, NULL, ERR));
    EXPECT_OK(irb_write_roc_svg(tmp("r.svg"), curves, names, 1, NULL, ERR));
    irb_evaluation_release(&ev);
    QUIET((irb_evaluation_release(&ev), 1));
}

/* ---- irbis/features.h ------------------------------------------------------------------------ */

static void on_row(void *ctx, size_t index, int flipped, const float *row, size_t dim, const irb_error *e)
{
    (void)index, (void)flipped, (void)row, (void)dim, (void)e;
    ++*(int *)ctx;
}

static void on_feat(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim, const irb_error *e)
{
    (void)index, (void)input, (void)flipped, (void)row, (void)dim, (void)e;
    ++*(int *)ctx;
}

static void test_features_h(irb_model_t *m)
{
    irb_extract_opts eo = {.pp = irb_preproc_default(8), .threads = 1, .batch = 2};
    QUIET(irb_extract_dim(NULL, NULL) == 0 && irb_extract_dim(NULL, &eo) == 3 * 8 * 8);
    irb_extract_opts neg = eo;
    neg.pp.size = -5;
    QUIET(irb_extract_dim(NULL, &neg) == 0);
    neg.pp.size = INT_MAX;
    QUIET(irb_extract_dim(NULL, &neg) == (size_t)3 * INT_MAX * INT_MAX);
    const char *paths[3] = {g_jpeg, g_csv, NULL};
    int rows = 0;
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, NULL, 2, &eo, on_row, &rows, ERR));
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, NULL, on_row, &rows, ERR));
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, &eo, NULL, &rows, ERR));
    irb_extract_opts bo;
    bo = eo, bo.flip = 3;
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, &bo, on_row, &rows, ERR));
    bo = eo, bo.threads = -1;
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, &bo, on_row, &rows, ERR));
    bo = eo, bo.batch = -1;
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, &bo, on_row, &rows, ERR));
    bo = eo, bo.pp.size = 0;
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, &bo, on_row, &rows, ERR));
    bo = eo, bo.pp.size = -8;
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, &bo, on_row, &rows, ERR));
    bo = eo, bo.pp.mode = (irb_resize_mode)7;
    EXPECT(IRB_INVALID_ARG, irb_extract(NULL, paths, 2, &bo, on_row, &rows, ERR));
    CHECK(rows == 0, "no row from refused runs");
    /* a NULL path is a bad image of the run, not a crash; so is a folder or a FIFO */
    const char *odd[4] = {g_jpeg, NULL, g_sub, g_fifo};
    EXPECT_OK(irb_extract(NULL, odd, 4, &eo, on_row, &rows, ERR));
    CHECK(rows == 4, "four calls for four paths: %d", rows);
    EXPECT_OK(irb_extract(NULL, NULL, 0, &eo, on_row, &rows, ERR));
    CHECK(rows == 4, "no call for no path");

    irb_featurizer *f = (irb_featurizer *)1;
    irb_feat_input in = {.net = NULL, .pp = irb_preproc_default(8), .all = 1};
    irb_featurizer_opts fo = {.threads = 1, .batch = 2};
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(NULL, 1, &fo, &f, ERR));
    CHECK(f == NULL, "a failed irb_featurizer_new leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&in, 0, &fo, &f, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&in, -1, &fo, &f, ERR));
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&in, 1, &fo, NULL, ERR));
    irb_feat_input bi;
    bi = in, bi.flip = 7;
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&bi, 1, &fo, &f, ERR));
    bi = in, bi.pp.size = 0;
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&bi, 1, &fo, &f, ERR));
    bi = in, bi.pp.size = INT_MAX;
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&bi, 1, &fo, &f, ERR));
    irb_featurizer_opts bfo = {.threads = -1};
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&in, 1, &bfo, &f, ERR));
    bfo = (irb_featurizer_opts){.batch = -1};
    EXPECT(IRB_INVALID_ARG, irb_featurizer_new(&in, 1, &bfo, &f, ERR));
    QUIET((irb_featurizer_free(NULL), 1));
    EXPECT(IRB_INVALID_ARG, irb_featurizer_run(NULL, paths, 2, NULL, on_feat, &rows, ERR));
    f = NULL;
    EXPECT_OK(irb_featurizer_new(&in, 1, &fo, &f, ERR));
    if (f) {
        EXPECT(IRB_INVALID_ARG, irb_featurizer_run(f, NULL, 2, NULL, on_feat, &rows, ERR));
        EXPECT(IRB_INVALID_ARG, irb_featurizer_run(f, paths, 2, NULL, NULL, &rows, ERR));
        rows = 0;
        EXPECT_OK(irb_featurizer_run(f, odd, 4, NULL, on_feat, &rows, ERR));
        CHECK(rows == 4, "four calls for four paths: %d", rows);
        irb_featurizer_free(f);
    }

    /* calibration from files */
    irb_calib_t *cal = NULL;
    irb_calib_new(&cal, NULL);
    irb_net_opts no = {.cut = 2, .pool = IRB_POOL_AVG, .threads = 1};
    irb_preproc pp = irb_preproc_default(224);
    EXPECT(IRB_INVALID_ARG, irb_calibrate_files(NULL, &no, &pp, paths, 1, 1, cal, NULL, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calibrate_files(m, &no, &pp, paths, 1, 1, NULL, NULL, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calibrate_files(m, &no, &pp, NULL, 1, 1, cal, NULL, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calibrate_files(m, &no, NULL, paths, 1, 1, cal, NULL, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calibrate_files(m, &no, &pp, paths, 0, 1, cal, NULL, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_calibrate_files(m, &no, &pp, paths, 1, 0, cal, NULL, NULL, ERR));
    const char *bad_paths[2] = {g_csv, NULL};
    EXPECT(IRB_CORRUPT, irb_calibrate_files(m, &no, &pp, bad_paths, 2, 2, cal, NULL, NULL, ERR));
    irb_calib_free(cal);
}

/* ---- irbis/experiment.h ---------------------------------------------------------------------- */

static void test_experiment(void)
{
    irb_experiment_result r;
    irb_experiment_opts o = {.images = g_dir, .labels = g_csv, .model = g_model, .out_dir = tmp("exp")};
    EXPECT(IRB_INVALID_ARG, irb_experiment_check(NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_experiment_run(NULL, &r, ERR));
    EXPECT(IRB_INVALID_ARG, irb_experiment_run(&o, NULL, ERR));
    irb_experiment_opts b;
    b = o, b.rows = "RN1,NOPE";
    EXPECT(IRB_INVALID_ARG, irb_experiment_check(&b, ERR));
    b = o, b.save = "NOPE";
    EXPECT(IRB_INVALID_ARG, irb_experiment_check(&b, ERR));
    /* options out of range: refused before any work */
    static const field_case bad_exp[] = {
        FIELD_I(irb_experiment_opts, task, 9),
        FIELD_I(irb_experiment_opts, crop, 9),
        FIELD_I(irb_experiment_opts, combine, -1),
        FIELD_I(irb_experiment_opts, resize, 9),
        FIELD_I(irb_experiment_opts, folds, 1),
        FIELD_I(irb_experiment_opts, folds, -2),
        FIELD_I(irb_experiment_opts, unit, 7),
        FIELD_I(irb_experiment_opts, unit, -2),
        FIELD_D(irb_experiment_opts, C, -1),
        FIELD_D(irb_experiment_opts, C, NAN),
        FIELD_D(irb_experiment_opts, gap, NAN),
        FIELD_I(irb_experiment_opts, sizes[0], -224),
        FIELD_I(irb_experiment_opts, sizes[0], IRB_NET_MAX_INPUT_SIZE + 1),
        FIELD_D(irb_experiment_opts, crop_fraction, 2),
        FIELD_I(irb_experiment_opts, raw_size, -1),
        FIELD_I(irb_experiment_opts, threads, -1),
        FIELD_I(irb_experiment_opts, batch, -1),
        FIELD_I(irb_experiment_opts, engine, 9),
        FIELD_I(irb_experiment_opts, precision, 9),
        FIELD_I(irb_experiment_opts, camera_depth, -1),
        FIELD_D(irb_experiment_opts, cache_every, NAN),
    };
    for (size_t i = 0; i < COUNT(bad_exp); i++) {
        b = o, field_set(&b, &bad_exp[i]);
        EXPECT(IRB_INVALID_ARG, irb_experiment_check(&b, ERR));
        EXPECT(IRB_INVALID_ARG, irb_experiment_run(&b, &r, ERR));
    }
    b = o, b.images = NULL;
    EXPECT(IRB_INVALID_ARG, irb_experiment_run(&b, &r, ERR));
    b = o, b.labels = NULL;
    EXPECT(IRB_INVALID_ARG, irb_experiment_run(&b, &r, ERR));
    b = o, b.model = NULL;
    EXPECT(IRB_INVALID_ARG, irb_experiment_run(&b, &r, ERR));
    b = o, b.out_dir = NULL;
    EXPECT(IRB_INVALID_ARG, irb_experiment_run(&b, &r, ERR));
    b = o, b.out_dir = "";
    EXPECT(IRB_IO, irb_experiment_run(&b, &r, ERR));
    b = o, b.labels = g_missing;
    EXPECT(IRB_NOT_FOUND, irb_experiment_run(&b, &r, ERR));
    b = o, b.labels = g_fifo;
    EXPECT(IRB_CORRUPT, irb_experiment_run(&b, &r, ERR));
}

/* ---- irbis/classify.h and irbis/review.h without a run ---------------------------------------- */

static void test_classify_args(void)
{
    irb_classify_summary sum;
    irb_classify_opts o;
    QUIET(irb_sort_mode_parse(NULL) == -1 && irb_sort_mode_parse("") == -1);
    QUIET((irb_classify_opts_default(NULL), 1));
    irb_classify_opts_default(&o);
    char survey[4096];
    snprintf(survey, sizeof survey, "%s", tmp("survey"));
    mkdir(survey, 0777);
    if (symlink(g_jpeg, tmp("survey/a.jpg")) != 0 && errno != EEXIST)
        CHECK(0, "link an image into the survey");
    o.model_path = g_model, o.classifier_path = tmp("c.irbis"), o.survey_dir = survey, o.out_dir = tmp("out");
    EXPECT(IRB_INVALID_ARG, irb_classify_run(NULL, &sum, ERR));
    EXPECT_OK(irb_camtrapdp_check(NULL, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_camtrapdp_check(g_missing, NULL, ERR));
    EXPECT(IRB_NOT_FOUND, irb_camtrapdp_check("", NULL, ERR));
    EXPECT(IRB_IO, irb_camtrapdp_check(g_sub, NULL, ERR));
    EXPECT(IRB_CORRUPT, irb_camtrapdp_check(g_fifo, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_camtrapdp_check(g_csv, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_camtrapdp_check(NULL, "", ERR));
    EXPECT(IRB_INVALID_ARG, irb_camtrapdp_check(NULL, "+25:00", ERR));
    EXPECT(IRB_INVALID_ARG, irb_camtrapdp_check(NULL, "+05:00:00", ERR));
    irb_classify_opts b;
    b = o, b.model_path = NULL;
    EXPECT(IRB_INVALID_ARG, irb_classify_run(&b, &sum, ERR));
    b = o, b.classifier_path = NULL;
    EXPECT(IRB_INVALID_ARG, irb_classify_run(&b, &sum, ERR));
    b = o, b.survey_dir = NULL;
    EXPECT(IRB_INVALID_ARG, irb_classify_run(&b, &sum, ERR));
    b = o, b.out_dir = NULL;
    EXPECT(IRB_INVALID_ARG, irb_classify_run(&b, &sum, ERR));
    b = o, b.out_dir = "";
    EXPECT(IRB_INVALID_ARG, irb_classify_run(&b, &sum, ERR));
    b = o, b.survey_dir = "";
    EXPECT(IRB_NOT_FOUND, irb_classify_run(&b, &sum, ERR));
    static const field_case bad_cls[] = {
        FIELD_D(irb_classify_opts, sequence_gap, -1),
        FIELD_D(irb_classify_opts, sequence_gap, NAN),
        FIELD_I(irb_classify_opts, camera_depth, -1),
        FIELD_D(irb_classify_opts, threshold, NAN),
        FIELD_D(irb_classify_opts, threshold, 1.5),
        FIELD_D(irb_classify_opts, min_confidence, 2),
        FIELD_D(irb_classify_opts, min_confidence, NAN),
        FIELD_D(irb_classify_opts, novelty_threshold, NAN),
        FIELD_I(irb_classify_opts, precision, 9),
        FIELD_I(irb_classify_opts, threads, -1),
        FIELD_I(irb_classify_opts, batch, -1),
        FIELD_I(irb_classify_opts, sort, 9),
        FIELD_I(irb_classify_opts, report_sequences, -1),
        FIELD_I(irb_classify_opts, max_sequence_images, -1),
        FIELD_L(irb_classify_opts, limit, -1),
        FIELD_D(irb_classify_opts, progress_interval, NAN),
    };
    for (size_t i = 0; i < COUNT(bad_cls); i++) {
        b = o, field_set(&b, &bad_cls[i]);
        EXPECT(IRB_INVALID_ARG, irb_classify_run(&b, &sum, ERR));
    }
    b = o, b.utc_offset = "noon";
    EXPECT(IRB_INVALID_ARG, irb_classify_run(&b, &sum, ERR));
    b = o, b.survey_dir = g_missing;
    EXPECT(IRB_NOT_FOUND, irb_classify_run(&b, &sum, ERR));
    b = o, b.model_path = g_missing;
    EXPECT(IRB_NOT_FOUND, irb_classify_run(&b, &sum, ERR));
    b = o, b.classifier_path = g_missing;
    EXPECT(IRB_NOT_FOUND, irb_classify_run(&b, &sum, ERR));
    b = o, b.out_dir = g_csv;
    EXPECT(IRB_IO, irb_classify_run(&b, &sum, ERR));

    irb_export_opts eo = {.out_dir = g_sub};
    EXPECT(IRB_INVALID_ARG, irb_export(NULL, &sum, ERR));
    eo.out_dir = NULL;
    EXPECT(IRB_INVALID_ARG, irb_export(&eo, &sum, ERR));
    eo.out_dir = "";
    EXPECT(IRB_NOT_FOUND, irb_export(&eo, &sum, ERR));
    eo.out_dir = g_missing;
    EXPECT(IRB_NOT_FOUND, irb_export(&eo, &sum, ERR));
    eo.out_dir = g_sub;
    EXPECT(IRB_NOT_FOUND, irb_export(&eo, &sum, ERR));
    eo.out_dir = g_csv;
    EXPECT(IRB_NOT_FOUND, irb_export(&eo, &sum, ERR));

    irb_classify_worker_t *w = (irb_classify_worker_t *)1;
    EXPECT(IRB_INVALID_ARG, irb_classify_worker_new(NULL, &w, ERR));
    CHECK(w == NULL, "a failed irb_classify_worker_new leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_classify_worker_new(&o, NULL, ERR));
    b = o, b.model_path = g_missing;
    EXPECT(IRB_NOT_FOUND, irb_classify_worker_new(&b, &w, ERR));
    QUIET((irb_classify_worker_free(NULL), 1));
    QUIET(irb_classify_worker_classes(NULL) == 0 && irb_classify_worker_values(NULL) == 0);
    QUIET(irb_classify_worker_neighbours(NULL) == 0 && irb_classify_worker_key(NULL) == NULL);
    EXPECT(IRB_INVALID_ARG, irb_classify_worker_run(NULL, NULL, NULL, NULL, 0, NULL, NULL, ERR));
    irb_classify_dist dist = {0};
    EXPECT(IRB_INVALID_ARG, irb_classify_run_dist(&o, NULL, &sum, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classify_run_dist(NULL, &dist, &sum, ERR));
    EXPECT(IRB_INVALID_ARG, irb_classify_run_dist(&o, &dist, &sum, ERR));

    irb_review_t *rv = (irb_review_t *)1;
    const char *const *names = (const char *const *)1;
    char *json = (char *)1;
    int fd = 7;
    long long n = 7;
    EXPECT(IRB_INVALID_ARG, irb_review_open(NULL, &rv, ERR));
    CHECK(rv == NULL, "a failed irb_review_open leaves *out NULL");
    EXPECT(IRB_INVALID_ARG, irb_review_open(g_sub, NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_open("", &rv, ERR));
    EXPECT(IRB_NOT_FOUND, irb_review_open(g_missing, &rv, ERR));
    EXPECT(IRB_NOT_FOUND, irb_review_open(g_sub, &rv, ERR));
    EXPECT(IRB_NOT_FOUND, irb_review_open(g_csv, &rv, ERR));
    QUIET((irb_review_close(NULL), irb_free_string(NULL), 1));
    QUIET(irb_review_classes(NULL, &names) == 0 && names == NULL);
    QUIET(irb_review_classes(NULL, NULL) == 0);
    QUIET(irb_review_survey(NULL) == NULL && irb_review_readonly(NULL) == 0);
    irb_review_query q = {0};
    const char *seqs[1] = {"c#1"}, *labels[1] = {"a"};
    EXPECT(IRB_INVALID_ARG, irb_review_list_json(NULL, &q, &json, ERR));
    CHECK(json == NULL, "a failed irb_review_list_json leaves *json NULL");
    EXPECT(IRB_INVALID_ARG, irb_review_info_json(NULL, &json, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_set(NULL, seqs, labels, 1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_image(NULL, "a.jpg", &fd, ERR));
    CHECK(fd == -1, "a failed irb_review_image gives fd -1");
    EXPECT(IRB_INVALID_ARG, irb_review_thumb(NULL, "a.jpg", &fd, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_export(NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_write_labels(NULL, tmp("l.csv"), &n, ERR));
}

/* ---- irbis/classify.h and irbis/review.h on a real run ---------------------------------------- */

static void on_result(void *user, size_t i, irb_status status, const double *probs, const char (*digest)[65],
                      const irb_error *e)
{
    (void)i, (void)probs, (void)digest, (void)e;
    *(irb_status *)user = status;
}

static void test_run(void)
{
    /* a classifier of the model's 1280 outputs (no provenance: the model's own output, cut 0) */
    enum { D = 1280 };
    float *x = malloc(sizeof(float) * 4 * D);
    for (int i = 0; x && i < 4 * D; i++)
        x[i] = (float)((i * 7919) % 101) / 101.0f + (i / D >= 2 ? 0.5f : 0.0f);
    const char *const names[2] = {"animal", "blank"};
    irb_classifier_t *clf = NULL;
    irb_train_opts to = {.C = 1, .threads = 1};
    if (!x || irb_logreg_train(x, 4, D, Y4, 2, names, &to, &clf, NULL, NULL) != IRB_OK ||
        irb_classifier_save(clf, tmp("c1000.irbis"), NULL) != IRB_OK) {
        CHECK(0, "a classifier of %d features", D);
        free(x), irb_classifier_free(clf);
        return;
    }
    free(x), irb_classifier_free(clf);
    irb_classify_opts o;
    irb_classify_opts_default(&o);
    o.model_path = g_model, o.classifier_path = tmp("c1000.irbis"), o.survey_dir = tmp("survey");
    o.out_dir = tmp("run"), o.threads = 1, o.restart = 1;
    irb_classify_summary sum;
    EXPECT_OK(irb_classify_run(&o, &sum, ERR));
    CHECK(sum.classified == 1, "one image classified: %lld", sum.classified);

    /* the worker */
    irb_classify_worker_t *w = NULL;
    irb_status got = IRB_INTERNAL;
    EXPECT_OK(irb_classify_worker_new(&o, &w, ERR));
    if (w) {
        const char *none[1] = {NULL}, *missing[1] = {"no such.jpg"};
        EXPECT(IRB_INVALID_ARG, irb_classify_worker_run(w, none, NULL, NULL, 1, on_result, &got, ERR));
        EXPECT(IRB_INVALID_ARG, irb_classify_worker_run(w, missing, NULL, NULL, 1, NULL, &got, ERR));
        EXPECT_OK(irb_classify_worker_run(w, NULL, NULL, NULL, 0, NULL, NULL, ERR));
        EXPECT_OK(irb_classify_worker_run(w, missing, NULL, NULL, 1, on_result, &got, ERR));
        CHECK(got == IRB_NOT_FOUND, "a missing image is its own failure: %d", (int)got);
        QUIET(irb_classify_worker_classes(w) == 2 && irb_classify_worker_key(w) != NULL);
        irb_classify_worker_free(w);
    }

    /* the review of the run */
    irb_review_t *rv = NULL, *rv2 = (irb_review_t *)1;
    EXPECT_OK(irb_review_open(o.out_dir, &rv, ERR));
    if (!rv)
        return;
    EXPECT(IRB_BUSY, irb_review_open(o.out_dir, &rv2, ERR));
    CHECK(rv2 == NULL, "a busy irb_review_open leaves *out NULL");
    EXPECT(IRB_BUSY, irb_classify_run(&o, &sum, ERR));
    irb_export_opts eo = {.out_dir = o.out_dir};
    EXPECT(IRB_BUSY, irb_export(&eo, &sum, ERR));
    char *json = NULL;
    int fd = 7;
    long long n = 0;
    const char *const *cls = NULL;
    QUIET(irb_review_classes(rv, NULL) == 2 && irb_review_classes(rv, &cls) == 2 && !strcmp(cls[1], "blank"));
    EXPECT(IRB_INVALID_ARG, irb_review_list_json(rv, NULL, NULL, ERR));
    EXPECT_OK(irb_review_list_json(rv, NULL, &json, ERR));
    CHECK(json && strstr(json, "\"total\": 1"), "the page of a NULL query: %s", json ? json : "(none)");
    irb_free_string(json);
    irb_review_query q = {.queue = "sideways"};
    EXPECT(IRB_INVALID_ARG, irb_review_list_json(rv, &q, &json, ERR));
    q = (irb_review_query){.queue = "class", .cls = "no such class"};
    EXPECT(IRB_INVALID_ARG, irb_review_list_json(rv, &q, &json, ERR));
    q = (irb_review_query){.offset = INT_MIN, .limit = INT_MIN, .reviewed = INT_MAX};
    EXPECT_OK(irb_review_list_json(rv, &q, &json, ERR));
    irb_free_string(json);
    q = (irb_review_query){.offset = INT_MAX, .limit = INT_MAX};
    EXPECT_OK(irb_review_list_json(rv, &q, &json, ERR));
    irb_free_string(json);
    EXPECT(IRB_INVALID_ARG, irb_review_info_json(rv, NULL, ERR));
    const char *seqs[2] = {NULL, NULL}, *labels[2] = {"animal", NULL};
    EXPECT(IRB_INVALID_ARG, irb_review_set(rv, seqs, labels, 1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_set(rv, seqs, labels, -1, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_set(rv, NULL, labels, 1, ERR));
    seqs[0] = "no such sequence";
    EXPECT(IRB_INVALID_ARG, irb_review_set(rv, seqs, labels, 1, ERR));
    EXPECT_OK(irb_review_set(rv, seqs, labels, 0, ERR));
    const char *bad_rel[] = {NULL, "", "/etc/passwd", "../t.csv", "./a.jpg", "a.jpg/", "no such.jpg"};
    for (size_t i = 0; i < sizeof bad_rel / sizeof *bad_rel; i++) {
        EXPECT(IRB_NOT_FOUND, irb_review_image(rv, bad_rel[i], &fd, ERR));
        CHECK(fd == -1, "no file for a refused path");
        EXPECT(IRB_NOT_FOUND, irb_review_thumb(rv, bad_rel[i], &fd, ERR));
    }
    EXPECT(IRB_INVALID_ARG, irb_review_image(rv, "a.jpg", NULL, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_thumb(rv, "a.jpg", NULL, ERR));
    EXPECT_OK(irb_review_image(rv, "a.jpg", &fd, ERR));
    if (fd >= 0)
        close(fd);
    EXPECT(IRB_INVALID_ARG, irb_review_write_labels(rv, NULL, &n, ERR));
    EXPECT(IRB_INVALID_ARG, irb_review_write_labels(rv, "", &n, ERR));
    EXPECT(IRB_IO, irb_review_write_labels(rv, g_sub, &n, ERR));
    EXPECT_OK(irb_review_write_labels(rv, tmp("labels.csv"), NULL, ERR));
    irb_review_close(rv);
}

/* ---- running the groups ---------------------------------------------------------------------- */

static irb_model_t *g_m;
static char g_base[4096];

static void group_nn(void) { test_nn(g_m); }
static void group_features(void)
{
    test_featwriter(g_base);
    test_features(g_base);
}
static void group_classifier(void)
{
    irb_classifier_t *clf = tiny_classifier();
    CHECK(clf != NULL, "a tiny classifier");
    if (clf) {
        test_classifier(clf, g_base);
        test_pipeline(clf);
        irb_classifier_save(clf, tmp("c.irbis"), NULL);
    }
    irb_classifier_free(clf);
}
static void group_extract(void) { test_features_h(g_m); }

/* Each group runs in a child process, so that a crash or a hang in one is reported (with the call)
 * and the others still run. */
static void run_group(const char *name, void (*fn)(void))
{
    int c[2] = {0, 0}, fd[2], st = 0;
    fflush(stdout), fflush(stderr);
    if (pipe(fd) != 0) {
        CHECK(0, "a pipe for group %s", name);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        check_passed = check_failed = 0;
        fn();
        c[0] = check_passed, c[1] = check_failed;
        exit(write(fd[1], c, sizeof c) == (ssize_t)sizeof c ? 0 : 1); /* exit: a leak check runs */
    }
    close(fd[1]);
    ssize_t got = pid > 0 ? read(fd[0], c, sizeof c) : -1;
    close(fd[0]);
    if (pid > 0)
        waitpid(pid, &st, 0);
    if (got != (ssize_t)sizeof c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        check_failed++;
        fprintf(stderr, "group %s: ended by signal %d / status %d\n", name, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return;
    }
    check_passed += c[0], check_failed += c[1];
}

int main(void)
{
    q_loud = getenv("IRBIS_LOUD") != NULL;
    const int sigs[] = {SIGALRM, SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], on_signal);
    fixtures();
    irb_error err;
    CHECK(irb_model_load(g_model, NULL, &g_m, &err) == IRB_OK, "load %s: %s", g_model, err.message);
    snprintf(g_base, sizeof g_base, "%s", tmp("feat"));
    run_group("core.h", test_core);
    run_group("files.h", test_files);
    run_group("image.h", test_image);
    run_group("nn.h calibration", test_calib);
    run_group("nn.h", group_nn);
    run_group("learn.h features", group_features);
    run_group("learn.h training", test_train);
    run_group("learn.h and pipeline.h", group_classifier);
    run_group("scan.h", test_scan);
    run_group("survey.h", test_survey);
    run_group("eval.h", test_eval);
    run_group("features.h", group_extract);
    run_group("experiment.h", test_experiment);
    run_group("classify.h and review.h", test_classify_args);
    run_group("a classify run and its review", test_run);
    irb_model_free(g_m);
    if (q_file)
        fclose(q_file);
    return CHECK_DONE();
}

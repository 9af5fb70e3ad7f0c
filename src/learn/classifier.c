/* Classifier objects, prediction, provenance checks and the .irbis file (docs/classifier.md). */
#include "learn/classifier.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "learn/durable.h"

static const char clf_magic[8] = {'I', 'R', 'B', 'I', 'S', 'C', 'L', 'F'};
enum { ENVELOPE = 24 }; /* magic, version, flags, body length */

static const char *const provenance_keys[] = {"model", "model_sha256", "layer", "cut", "pool", "precision",
                                              "preprocessing"};
static const char *const checked_keys[] = {"model_sha256", "layer", "cut", "pool", "preprocessing"};

/* ---- object --------------------------------------------------------------------------------- */

irb_classifier_t *irb_classifier_alloc(int K, int D)
{
    irb_classifier_t *c = irb_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->K = K;
    c->D = D;
    c->M = K == 2 ? 1 : K;
    c->C = 1.0;
    c->class_name = irb_calloc((size_t)K, sizeof *c->class_name);
    c->class_weight = irb_malloc_array((size_t)K, sizeof(double));
    c->mean = irb_calloc((size_t)D, sizeof(double));
    c->std = irb_malloc_array((size_t)D, sizeof(double));
    c->W = irb_calloc((size_t)c->M * (size_t)D, sizeof(double));
    c->b = irb_calloc((size_t)c->M, sizeof(double));
    if (!c->class_name || !c->class_weight || !c->mean || !c->std || !c->W || !c->b) {
        irb_classifier_free(c);
        return NULL;
    }
    for (int k = 0; k < K; k++)
        c->class_weight[k] = 1.0;
    for (int j = 0; j < D; j++)
        c->std[j] = 1.0;
    return c;
}

void irb_classifier_free(irb_classifier_t *c)
{
    if (!c)
        return;
    for (int k = 0; c->class_name && k < c->K; k++)
        irb_free(c->class_name[k]);
    irb_free(c->class_name);
    irb_free(c->class_weight);
    irb_free(c->mean);
    irb_free(c->std);
    irb_free(c->W);
    irb_free(c->b);
    for (int i = 0; i < c->n_meta; i++) {
        irb_free(c->meta_key[i]);
        irb_free(c->meta_val[i]);
    }
    irb_free(c->meta_key);
    irb_free(c->meta_val);
    irb_free(c);
}

int irb_classifier_classes(const irb_classifier_t *c) { return c->K; }
const char *irb_classifier_class_name(const irb_classifier_t *c, int k)
{
    return k >= 0 && k < c->K ? c->class_name[k] : NULL;
}
int irb_classifier_dim(const irb_classifier_t *c) { return c->D; }
double irb_classifier_C(const irb_classifier_t *c) { return c->C; }

int irb_classifier_params(const irb_classifier_t *c, const double **w, const double **b, const double **mean,
                          const double **std, const double **cw)
{
    if (w) *w = c->W;
    if (b) *b = c->b;
    if (mean) *mean = c->mean;
    if (std) *std = c->std;
    if (cw) *cw = c->class_weight;
    return c->M;
}

irb_status irb_classifier_set_meta(irb_classifier_t *c, const char *key, const char *value)
{
    if (!c || !key || !value)
        return IRB_INVALID_ARG;
    char *v = irb_strdup(value);
    if (!v)
        return IRB_NOMEM;
    for (int i = 0; i < c->n_meta; i++)
        if (!strcmp(c->meta_key[i], key)) {
            irb_free(c->meta_val[i]);
            c->meta_val[i] = v;
            return IRB_OK;
        }
    char *k = irb_strdup(key);
    char **nk = irb_realloc_array(c->meta_key, (size_t)c->n_meta + 1, sizeof *nk);
    if (nk) c->meta_key = nk;
    char **nv = nk ? irb_realloc_array(c->meta_val, (size_t)c->n_meta + 1, sizeof *nv) : NULL;
    if (nv) c->meta_val = nv;
    if (!k || !nv) {
        irb_free(k);
        irb_free(v);
        return IRB_NOMEM;
    }
    c->meta_key[c->n_meta] = k;
    c->meta_val[c->n_meta++] = v;
    return IRB_OK;
}

const char *irb_classifier_meta(const irb_classifier_t *c, const char *key)
{
    for (int i = 0; c && i < c->n_meta; i++)
        if (!strcmp(c->meta_key[i], key))
            return c->meta_val[i];
    return NULL;
}

irb_status irb_classifier_set_provenance(irb_classifier_t *c, const irb_features *fs)
{
    for (size_t i = 0; i < sizeof provenance_keys / sizeof *provenance_keys; i++) {
        const char *v = irb_features_meta(fs, provenance_keys[i]);
        if (v)
            IRB_TRY(irb_classifier_set_meta(c, provenance_keys[i], v));
    }
    return IRB_OK;
}

irb_status irb_classifier_check_features(const irb_classifier_t *c, const irb_features *fs, irb_error *err)
{
    if (fs->dim != c->D)
        return irb_fail(err, IRB_MISMATCH, "feature dim: classifier expects %d, features have %d", c->D, fs->dim);
    for (size_t i = 0; i < sizeof checked_keys / sizeof *checked_keys; i++) {
        const char *a = irb_classifier_meta(c, checked_keys[i]), *b = irb_features_meta(fs, checked_keys[i]);
        if (a && b && strcmp(a, b))
            return irb_fail(err, IRB_MISMATCH, "%s: classifier was trained on '%s', features have '%s'",
                            checked_keys[i], a, b);
        if (!a != !b)
            irb_warn(err, "%s: recorded only by the %s ('%s'), not checked", checked_keys[i],
                     a ? "classifier" : "features", a ? a : b);
    }
    return IRB_OK;
}

/* ---- prediction ----------------------------------------------------------------------------- */

enum { PREDICT_BLOCK = 256 };

static void probs_from_logits(const irb_classifier_t *c, const double *L, size_t rows, double *prob)
{
    for (size_t i = 0; i < rows; i++) {
        double *p = prob + i * (size_t)c->K;
        const double *z = L + i * (size_t)c->M;
        if (c->M == 1) {
            double s = z[0] >= 0 ? 1.0 / (1.0 + exp(-z[0])) : exp(z[0]) / (1.0 + exp(z[0]));
            p[0] = 1.0 - s;
            p[1] = s;
            continue;
        }
        double mx = z[0], sum = 0;
        for (int k = 1; k < c->K; k++)
            mx = z[k] > mx ? z[k] : mx;
        for (int k = 0; k < c->K; k++)
            sum += (p[k] = exp(z[k] - mx));
        for (int k = 0; k < c->K; k++)
            p[k] /= sum;
    }
}

irb_status irb_classifier_predict(const irb_classifier_t *c, const float *x, size_t n, int dim, double *prob,
                                  irb_error *err)
{
    if (!c || (n && (!x || !prob)))
        return irb_fail(err, IRB_INVALID_ARG, "classifier_predict: NULL argument");
    if (dim != c->D)
        return irb_fail(err, IRB_MISMATCH, "feature dim: classifier expects %d, rows have %d", c->D, dim);
    size_t D = (size_t)c->D, M = (size_t)c->M;
    double *Z = irb_malloc_array(PREDICT_BLOCK * D, sizeof(double));
    double *L = irb_malloc_array(PREDICT_BLOCK * M, sizeof(double));
    if (!Z || !L) {
        irb_free(Z);
        irb_free(L);
        return irb_fail(err, IRB_NOMEM, "classifier_predict: out of memory");
    }
    for (size_t i0 = 0; i0 < n; i0 += PREDICT_BLOCK) {
        size_t rows = n - i0 < PREDICT_BLOCK ? n - i0 : PREDICT_BLOCK;
        for (size_t i = 0; i < rows; i++) {
            const float *r = x + (i0 + i) * D;
            for (size_t j = 0; j < D; j++)
                Z[i * D + j] = ((double)r[j] - c->mean[j]) / c->std[j];
            for (size_t m = 0; m < M; m++)
                L[i * M + m] = c->b[m];
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)M, (int)D, 1.0, Z, (int)D, c->W,
                    (int)D, 1.0, L, (int)M);
        probs_from_logits(c, L, rows, prob + i0 * (size_t)c->K);
    }
    irb_free(Z);
    irb_free(L);
    return IRB_OK;
}

/* ---- CRC-32 --------------------------------------------------------------------------------- */

uint32_t irb_crc32(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* ---- writing -------------------------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    int nomem;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    if (b->nomem)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = irb_realloc(b->p, cap);
        if (!q) {
            b->nomem = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64s(buf *b, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        put_u64(b, u);
    }
}

static void put_str(buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void serialise(const irb_classifier_t *c, buf *b)
{
    put(b, clf_magic, 8);
    put_u32(b, IRB_CLF_VERSION);
    put_u32(b, 0);
    put_u64(b, 0); /* body length, patched below */
    put_u32(b, (uint32_t)c->K);
    put_u32(b, (uint32_t)c->D);
    put_u32(b, (uint32_t)c->M);
    put_u32(b, (uint32_t)c->n_meta);
    put_f64s(b, &c->C, 1);
    for (int k = 0; k < c->K; k++)
        put_str(b, c->class_name[k]);
    put_f64s(b, c->class_weight, (size_t)c->K);
    put_f64s(b, c->mean, (size_t)c->D);
    put_f64s(b, c->std, (size_t)c->D);
    put_f64s(b, c->W, (size_t)c->M * (size_t)c->D);
    put_f64s(b, c->b, (size_t)c->M);
    for (int i = 0; i < c->n_meta; i++) {
        put_str(b, c->meta_key[i]);
        put_str(b, c->meta_val[i]);
    }
    if (b->nomem)
        return;
    uint64_t body = b->len - ENVELOPE;
    for (int i = 0; i < 8; i++)
        b->p[16 + i] = (uint8_t)(body >> (8 * i));
    put_u32(b, irb_crc32(0, b->p, b->len));
}

irb_status irb_classifier_save(const irb_classifier_t *c, const char *path, irb_error *err)
{
    if (!c || !path)
        return irb_fail(err, IRB_INVALID_ARG, "classifier_save: NULL argument");
    buf b = {0};
    serialise(c, &b);
    if (b.nomem) {
        irb_free(b.p);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    }
    size_t n = strlen(path) + 32;
    char *tmp = irb_malloc(n);
    irb_status s = IRB_OK;
    if (!tmp) {
        irb_free(b.p);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = irb_fail(err, IRB_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int bad = fwrite(b.p, 1, b.len, f) != b.len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        s = irb_fail(err, IRB_IO, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
    } else if (irb_sync_parent_dir(path) != 0) {
        s = irb_fail(err, errno == ENOMEM ? IRB_NOMEM : IRB_IO, "%s: cannot sync its directory: %s", path,
                     strerror(errno));
    }
cleanup:
    irb_free(tmp);
    irb_free(b.p);
    return s;
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    const char *name;
    irb_error *err;
} rd;

static irb_status need(rd *r, size_t n, const char *what)
{
    if (r->len - r->off < n)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: truncated %s", r->name, r->off, what);
    return IRB_OK;
}

static irb_status get_u32(rd *r, uint32_t *v, const char *what)
{
    IRB_TRY(need(r, 4, what));
    const uint8_t *p = r->p + r->off;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->off += 4;
    return IRB_OK;
}

static irb_status get_f64s(rd *r, double *v, size_t n, const char *what)
{
    if (n > (r->len - r->off) / 8)
        return need(r, SIZE_MAX, what);
    for (size_t i = 0; i < n; i++) {
        uint32_t lo = 0, hi = 0;
        get_u32(r, &lo, what);
        get_u32(r, &hi, what);
        uint64_t u = (uint64_t)hi << 32 | lo;
        memcpy(&v[i], &u, 8);
        if (!isfinite(v[i]))
            return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: %s is not finite", r->name, r->off - 8, what);
    }
    return IRB_OK;
}

static irb_status get_str(rd *r, char **s, const char *what)
{
    uint32_t n;
    IRB_TRY(get_u32(r, &n, what));
    IRB_TRY(need(r, n, what));
    if (memchr(r->p + r->off, 0, n))
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: NUL byte inside %s", r->name, r->off, what);
    if (!(*s = irb_malloc((size_t)n + 1)))
        return irb_fail(r->err, IRB_NOMEM, "%s: out of memory", r->name);
    memcpy(*s, r->p + r->off, n);
    (*s)[n] = '\0';
    r->off += n;
    return IRB_OK;
}

static irb_status check_envelope(rd *r)
{
    if (r->len < 8 || memcmp(r->p, clf_magic, 8) != 0)
        return irb_fail(r->err, IRB_CORRUPT, "%s: not an irbis classifier (bad magic)", r->name);
    if (r->len < ENVELOPE + 4)
        return irb_fail(r->err, IRB_CORRUPT, "%s: truncated (%zu bytes)", r->name, r->len);
    uint64_t body = 0;
    for (int i = 0; i < 8; i++)
        body |= (uint64_t)r->p[16 + i] << (8 * i);
    if (body != r->len - ENVELOPE - 4)
        return irb_fail(r->err, IRB_CORRUPT, "%s: body length %llu but file holds %zu (truncated or padded)", r->name,
                        (unsigned long long)body, r->len - ENVELOPE - 4);
    const uint8_t *t = r->p + r->len - 4;
    uint32_t want = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    uint32_t got = irb_crc32(0, r->p, r->len - 4);
    if (want != got)
        return irb_fail(r->err, IRB_CORRUPT, "%s: checksum mismatch (stored %08x, computed %08x)", r->name, want, got);
    uint32_t version;
    r->off = 8;
    get_u32(r, &version, "version");
    if (version == 0)
        return irb_fail(r->err, IRB_CORRUPT, "%s: format version 0", r->name);
    if (version > IRB_CLF_VERSION)
        return irb_fail(r->err, IRB_UNSUPPORTED, "%s: format version %u, this irbis reads up to %d", r->name, version,
                        IRB_CLF_VERSION);
    r->off = ENVELOPE;
    r->len -= 4; /* the body ends before the checksum */
    return IRB_OK;
}

static irb_status parse_body(rd *r, irb_classifier_t **out)
{
    uint32_t K, D, M, nm;
    IRB_TRY(get_u32(r, &K, "class count"));
    IRB_TRY(get_u32(r, &D, "dim"));
    IRB_TRY(get_u32(r, &M, "output count"));
    IRB_TRY(get_u32(r, &nm, "metadata count"));
    if (K < 2 || K > IRB_CLF_MAX_CLASSES || D < 1 || D > IRB_CLF_MAX_DIM || M != (K == 2 ? 1u : K) ||
        nm > (1u << 16))
        return irb_fail(r->err, IRB_CORRUPT, "%s: bad sizes: classes %u, dim %u, outputs %u, metadata %u", r->name, K,
                        D, M, nm);
    /* every stored double needs 8 bytes: refuse before allocating for sizes the file cannot hold */
    if (((uint64_t)M * D + 2ull * D + K + M) > (r->len - r->off) / 8)
        return irb_fail(r->err, IRB_CORRUPT, "%s: sizes (classes %u, dim %u) exceed the file", r->name, K, D);
    irb_classifier_t *c = irb_classifier_alloc((int)K, (int)D);
    if (!c)
        return irb_fail(r->err, IRB_NOMEM, "%s: out of memory", r->name);
    irb_status s;
    if ((s = get_f64s(r, &c->C, 1, "C")) != IRB_OK)
        goto fail;
    for (uint32_t k = 0; k < K; k++)
        if ((s = get_str(r, &c->class_name[k], "class name")) != IRB_OK)
            goto fail;
    if ((s = get_f64s(r, c->class_weight, K, "class weight")) != IRB_OK ||
        (s = get_f64s(r, c->mean, D, "mean")) != IRB_OK || (s = get_f64s(r, c->std, D, "std")) != IRB_OK ||
        (s = get_f64s(r, c->W, (size_t)M * D, "weights")) != IRB_OK ||
        (s = get_f64s(r, c->b, M, "intercepts")) != IRB_OK)
        goto fail;
    for (uint32_t j = 0; j < D; j++)
        if (!(c->std[j] > 0)) {
            s = irb_fail(r->err, IRB_CORRUPT, "%s: std[%u] = %g is not positive", r->name, j, c->std[j]);
            goto fail;
        }
    for (uint32_t i = 0; i < nm; i++) {
        char *k = NULL, *v = NULL;
        if ((s = get_str(r, &k, "metadata key")) == IRB_OK && (s = get_str(r, &v, "metadata value")) == IRB_OK &&
            (s = irb_classifier_set_meta(c, k, v)) != IRB_OK)
            s = irb_fail(r->err, s, "%s: out of memory", r->name);
        irb_free(k);
        irb_free(v);
        if (s != IRB_OK)
            goto fail;
    }
    if (r->off != r->len) {
        s = irb_fail(r->err, IRB_CORRUPT, "%s: %zu unexpected bytes after the metadata", r->name, r->len - r->off);
        goto fail;
    }
    *out = c;
    return IRB_OK;
fail:
    irb_classifier_free(c);
    return s;
}

irb_status irb_classifier_parse(const void *data, size_t size, const char *name, irb_classifier_t **out,
                                irb_error *err)
{
    *out = NULL;
    rd r = {data, size, 0, name ? name : "(classifier)", err};
    if (!data && size)
        return irb_fail(err, IRB_INVALID_ARG, "classifier_parse: NULL data");
    IRB_TRY(check_envelope(&r));
    return parse_body(&r, out);
}

irb_status irb_classifier_load(const char *path, irb_classifier_t **out, irb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return irb_fail(err, errno == ENOENT ? IRB_NOT_FOUND : IRB_IO, "%s: cannot open: %s", path, strerror(errno));
    irb_status s = IRB_OK;
    uint8_t *data = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || size > (1L << 34)) {
        s = irb_fail(err, size < 0 ? IRB_IO : IRB_TOO_LARGE, "%s: unreadable or too large", path);
        goto cleanup;
    }
    if (!(data = irb_malloc(size ? (size_t)size : 1))) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    rewind(f);
    if (fread(data, 1, (size_t)size, f) != (size_t)size) {
        s = irb_fail(err, IRB_IO, "%s: read failed", path);
        goto cleanup;
    }
    s = irb_classifier_parse(data, (size_t)size, path, out, err);
cleanup:
    irb_free(data);
    fclose(f);
    return s;
}

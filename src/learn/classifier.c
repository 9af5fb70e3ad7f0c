/* Classifier objects, prediction, provenance checks and the .irbis file (docs/classifier.md). */
#include "learn/classifier.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "learn/binio.h"

static const char *const provenance_keys[] = {"model", "model_sha256", "layer",        "cut",
                                              "pool",  "precision",    "preprocessing"};
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

int irb_classifier_classes(const irb_classifier_t *c) { return c ? c->K : 0; }
const char *irb_classifier_class_name(const irb_classifier_t *c, int k)
{
    return c && k >= 0 && k < c->K ? c->class_name[k] : NULL;
}
int irb_classifier_dim(const irb_classifier_t *c) { return c ? c->D : 0; }
double irb_classifier_C(const irb_classifier_t *c) { return c ? c->C : 0; }

int irb_classifier_params(const irb_classifier_t *c, const double **w, const double **b, const double **mean,
                          const double **std, const double **cw)
{
    if (w)
        *w = c ? c->W : NULL;
    if (b)
        *b = c ? c->b : NULL;
    if (mean)
        *mean = c ? c->mean : NULL;
    if (std)
        *std = c ? c->std : NULL;
    if (cw)
        *cw = c ? c->class_weight : NULL;
    return c ? c->M : 0;
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
    if (nk)
        c->meta_key = nk;
    char **nv = nk ? irb_realloc_array(c->meta_val, (size_t)c->n_meta + 1, sizeof *nv) : NULL;
    if (nv)
        c->meta_val = nv;
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
    for (int i = 0; c && key && i < c->n_meta; i++)
        if (!strcmp(c->meta_key[i], key))
            return c->meta_val[i];
    return NULL;
}

irb_status irb_classifier_set_provenance(irb_classifier_t *c, const irb_features *fs)
{
    if (!c || !fs)
        return IRB_INVALID_ARG;
    for (size_t i = 0; i < sizeof provenance_keys / sizeof *provenance_keys; i++) {
        const char *v = irb_features_meta(fs, provenance_keys[i]);
        if (v)
            IRB_TRY(irb_classifier_set_meta(c, provenance_keys[i], v));
    }
    return IRB_OK;
}

/* Two recorded values are the same: equal strings, or JSON objects/arrays (preprocessing) equal
 * but for the whitespace between tokens (a feature .json re-saved by another tool). */
static int same_value(const char *a, const char *b)
{
    if (!strcmp(a, b))
        return 1;
    if ((*a != '{' && *a != '[') || *a != *b)
        return 0;
    int in_a = 0, in_b = 0; /* inside a string literal */
    for (;;) {
        while (!in_a && (*a == ' ' || *a == '\n' || *a == '\t' || *a == '\r'))
            a++;
        while (!in_b && (*b == ' ' || *b == '\n' || *b == '\t' || *b == '\r'))
            b++;
        if (*a != *b)
            return 0;
        if (!*a)
            return 1;
        if (*a == '\\' && in_a) { /* an escaped character: compare it as is */
            if (*++a != *++b)
                return 0;
            if (!*a)
                return 1;
        } else if (*a == '"') {
            in_a = !in_a, in_b = !in_b;
        }
        a++, b++;
    }
}

irb_status irb_classifier_check_features(const irb_classifier_t *c, const irb_features *fs, irb_error *err)
{
    if (!c || !fs)
        return irb_fail(err, IRB_INVALID_ARG, "irb_classifier_check_features: NULL %s", c ? "fs" : "clf");
    if (fs->dim != c->D)
        return irb_fail(err, IRB_MISMATCH, "feature dim: classifier expects %d, features have %d", c->D, fs->dim);
    for (size_t i = 0; i < sizeof checked_keys / sizeof *checked_keys; i++) {
        const char *a = irb_classifier_meta(c, checked_keys[i]), *b = irb_features_meta(fs, checked_keys[i]);
        if (a && b && !same_value(a, b))
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
    IRB_TRY(irb_check_rows(n, (size_t)dim, sizeof(float), "classifier_predict", err));
    IRB_TRY(irb_check_rows(n, (size_t)c->K, sizeof(double), "classifier_predict", err));
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
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)M, (int)D, 1.0, Z, (int)D, c->W, (int)D,
                    1.0, L, (int)M);
        probs_from_logits(c, L, rows, prob + i0 * (size_t)c->K);
    }
    irb_free(Z);
    irb_free(L);
    return IRB_OK;
}

/* ---- writing -------------------------------------------------------------------------------- */

void irb_classifier_serialise(const irb_classifier_t *c, irb_wbuf *b)
{
    irb_envelope_begin(b, IRB_CLF_VERSION);
    irb_wbuf_u32(b, (uint32_t)c->K);
    irb_wbuf_u32(b, (uint32_t)c->D);
    irb_wbuf_u32(b, (uint32_t)c->M);
    irb_wbuf_u32(b, (uint32_t)c->n_meta);
    irb_wbuf_f64s(b, &c->C, 1);
    for (int k = 0; k < c->K; k++)
        irb_wbuf_str(b, c->class_name[k]);
    irb_wbuf_f64s(b, c->class_weight, (size_t)c->K);
    irb_wbuf_f64s(b, c->mean, (size_t)c->D);
    irb_wbuf_f64s(b, c->std, (size_t)c->D);
    irb_wbuf_f64s(b, c->W, (size_t)c->M * (size_t)c->D);
    irb_wbuf_f64s(b, c->b, (size_t)c->M);
    for (int i = 0; i < c->n_meta; i++) {
        irb_wbuf_str(b, c->meta_key[i]);
        irb_wbuf_str(b, c->meta_val[i]);
    }
    irb_envelope_end(b);
}

irb_status irb_classifier_save(const irb_classifier_t *c, const char *path, irb_error *err)
{
    if (!c || !path)
        return irb_fail(err, IRB_INVALID_ARG, "classifier_save: NULL argument");
    irb_wbuf b = {0};
    irb_classifier_serialise(c, &b);
    irb_status s = irb_wbuf_save(&b, path, err);
    irb_free(b.p);
    return s;
}

/* ---- reading -------------------------------------------------------------------------------- */

irb_status irb_classifier_parse_body(irb_rbuf *r, irb_classifier_t **out)
{
    uint32_t K, D, M, nm;
    IRB_TRY(irb_rbuf_u32(r, &K, "class count"));
    IRB_TRY(irb_rbuf_u32(r, &D, "dim"));
    IRB_TRY(irb_rbuf_u32(r, &M, "output count"));
    IRB_TRY(irb_rbuf_u32(r, &nm, "metadata count"));
    if (K < 2 || K > IRB_CLF_MAX_CLASSES || D < 1 || D > IRB_CLF_MAX_DIM || M != (K == 2 ? 1u : K) || nm > (1u << 16))
        return irb_fail(r->err, IRB_CORRUPT, "%s: bad sizes: classes %u, dim %u, outputs %u, metadata %u", r->name, K,
                        D, M, nm);
    /* every stored double needs 8 bytes: refuse before allocating for sizes the file cannot hold */
    if (((uint64_t)M * D + 2ull * D + K + M) > (r->len - r->off) / 8)
        return irb_fail(r->err, IRB_CORRUPT, "%s: sizes (classes %u, dim %u) exceed the file", r->name, K, D);
    irb_classifier_t *c = irb_classifier_alloc((int)K, (int)D);
    if (!c)
        return irb_fail(r->err, IRB_NOMEM, "%s: out of memory", r->name);
    irb_status s;
    if ((s = irb_rbuf_f64s(r, &c->C, 1, "C")) != IRB_OK)
        goto fail;
    for (uint32_t k = 0; k < K; k++)
        if ((s = irb_rbuf_str(r, &c->class_name[k], "class name")) != IRB_OK)
            goto fail;
    if ((s = irb_rbuf_f64s(r, c->class_weight, K, "class weight")) != IRB_OK ||
        (s = irb_rbuf_f64s(r, c->mean, D, "mean")) != IRB_OK || (s = irb_rbuf_f64s(r, c->std, D, "std")) != IRB_OK ||
        (s = irb_rbuf_f64s(r, c->W, (size_t)M * D, "weights")) != IRB_OK ||
        (s = irb_rbuf_f64s(r, c->b, M, "intercepts")) != IRB_OK)
        goto fail;
    for (uint32_t j = 0; j < D; j++)
        if (!(c->std[j] > 0)) {
            s = irb_fail(r->err, IRB_CORRUPT, "%s: std[%u] = %g is not positive", r->name, j, c->std[j]);
            goto fail;
        }
    for (uint32_t i = 0; i < nm; i++) {
        char *k = NULL, *v = NULL;
        if ((s = irb_rbuf_str(r, &k, "metadata key")) == IRB_OK &&
            (s = irb_rbuf_str(r, &v, "metadata value")) == IRB_OK && (s = irb_classifier_set_meta(c, k, v)) != IRB_OK)
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

irb_status irb_classifier_parse(const void *data, size_t size, const char *name, irb_classifier_t **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_classifier_parse: NULL out");
    *out = NULL;
    irb_rbuf r = {data, size, 0, name ? name : "(classifier)", err};
    if (!data && size)
        return irb_fail(err, IRB_INVALID_ARG, "classifier_parse: NULL data");
    uint32_t version;
    IRB_TRY(irb_envelope_check(&r, IRB_PIPELINE_VERSION, &version));
    if (version != IRB_CLF_VERSION)
        return irb_fail(err, IRB_UNSUPPORTED,
                        "%s: a pipeline (format version %u), not a single classifier: it classifies images "
                        "(irbis classify --pipeline; in C, irb_pipeline_load), not a feature set",
                        r.name, version);
    return irb_classifier_parse_body(&r, out);
}

irb_status irb_classifier_load(const char *path, irb_classifier_t **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_classifier_load: NULL out");
    *out = NULL;
    if (!path)
        return irb_fail(err, IRB_INVALID_ARG, "irb_classifier_load: NULL path");
    void *data = NULL;
    size_t size = 0;
    IRB_TRY(irb_read_file(path, IRB_IRBIS_MAX_BYTES, &data, &size, err));
    irb_status s = irb_classifier_parse(data, size, path, out, err);
    irb_free(data);
    return s;
}

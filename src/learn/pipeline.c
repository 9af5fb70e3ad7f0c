/* Pipeline files (include/irbis/pipeline.h, docs/pipeline.md): format version 2 of the .irbis
 * envelope, holding the parts' classifiers as embedded version-1 classifier files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "irbis/files.h"
#include "irbis/pipeline.h"
#include "learn/binio.h"
#include "learn/classifier.h"

static const char kind_tag[] = "irbis-pipeline";

irb_pipeline *irb_pipeline_new(void)
{
    irb_pipeline *p = irb_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->positive = -1;
    p->threshold = 0.5;
    p->gap = 60;
    p->cv_accuracy = -1;
    p->version = IRB_PIPELINE_VERSION;
    return p;
}

void irb_pipeline_free(irb_pipeline *p)
{
    if (!p)
        return;
    irb_free(p->model_name);
    irb_free(p->row);
    for (int k = 0; p->classes && k < p->n_classes; k++)
        irb_free(p->classes[k]);
    irb_free(p->classes);
    for (int i = 0; i < p->n_parts; i++) {
        irb_pipeline_part *q = &p->parts[i];
        irb_free(q->layer);
        for (int j = 0; j < IRB_PIPELINE_MAX_INPUTS; j++)
            irb_free(q->preprocessing[j]);
        irb_classifier_free(q->clf);
    }
    irb_novelty_free(p->novelty);
    for (int i = 0; i < p->n_calib; i++)
        irb_calib_free(p->calib[i]);
    irb_free(p);
}

const irb_calib_t *irb_pipeline_calib(const irb_pipeline *p, int size)
{
    for (int i = 0; p && i < p->n_calib; i++)
        if (p->calib_size[i] == size)
            return p->calib[i];
    return NULL;
}

irb_status irb_pipeline_set_calib(irb_pipeline *p, int size, const irb_calib_t *cal, irb_error *err)
{
    if (!p || !cal || size < 0 || size > IRB_NET_MAX_INPUT_SIZE)
        return irb_fail(err, IRB_INVALID_ARG, "pipeline_set_calib: NULL argument or input size %d outside 0..%d", size,
                        IRB_NET_MAX_INPUT_SIZE);
    int i = 0;
    while (i < p->n_calib && p->calib_size[i] != size)
        i++;
    if (i == IRB_PIPELINE_MAX_CALIB)
        return irb_fail(err, IRB_INVALID_ARG, "a pipeline holds at most %d calibration tables", IRB_PIPELINE_MAX_CALIB);
    char *text = NULL;
    size_t len = 0;
    irb_calib_t *copy = NULL;
    IRB_TRY(irb_calib_to_text(cal, &text, &len, err));
    irb_status s = irb_calib_parse(text, len, "calibration table", &copy, err);
    irb_calib_text_free(text);
    IRB_TRY(s);
    if (i < p->n_calib)
        irb_calib_free(p->calib[i]);
    else
        p->n_calib++;
    p->calib[i] = copy, p->calib_size[i] = size;
    return IRB_OK;
}

void irb_pipeline_combine(const irb_pipeline *p, const double *const *part_probs, size_t n, double *out)
{
    size_t nk;
    if (!p || !out || p->n_parts < 0 || p->n_parts > IRB_PIPELINE_MAX_PARTS || p->n_classes < 0 ||
        irb_check_rows(n, (size_t)p->n_classes, sizeof *out, "combine", NULL) != IRB_OK)
        return;
    nk = n * (size_t)p->n_classes;
    memset(out, 0, nk * sizeof *out);
    for (int k = 0; part_probs && k < p->n_parts; k++)
        for (size_t j = 0; part_probs[k] && j < nk; j++)
            out[j] += p->parts[k].weight * part_probs[k][j];
}

/* An INT8 pipeline has a table for every input size its parts run (docs/int8.md). */
static irb_status check_precision(const irb_pipeline *p, const char *name, irb_error *err)
{
    if (p->precision != IRB_PRECISION_FP32 && p->precision != IRB_PRECISION_BF16 && p->precision != IRB_PRECISION_INT8)
        return irb_fail(err, IRB_CORRUPT, "%s: precision %d", name, (int)p->precision);
    if (p->n_calib < 0 || p->n_calib > IRB_PIPELINE_MAX_CALIB || (p->precision != IRB_PRECISION_INT8 && p->n_calib))
        return irb_fail(err, IRB_CORRUPT, "%s: %d calibration tables with precision %d", name, p->n_calib,
                        (int)p->precision);
    for (int i = 0; i < p->n_calib; i++) {
        if (!p->calib[i] || p->calib_size[i] < 0)
            return irb_fail(err, IRB_CORRUPT, "%s: calibration table %d missing", name, i + 1);
        for (int j = 0; j < i; j++)
            if (p->calib_size[i] == p->calib_size[j])
                return irb_fail(err, IRB_CORRUPT, "%s: two calibration tables for input size %d", name,
                                p->calib_size[i]);
    }
    for (int k = 0; p->precision == IRB_PRECISION_INT8 && k < p->n_parts; k++)
        for (int j = 0; j < p->parts[k].n_inputs; j++)
            if (!irb_pipeline_calib(p, p->parts[k].sizes[j]))
                return irb_fail(err, IRB_CORRUPT, "%s: int8 without a calibration table for input size %d (part %d)",
                                name, p->parts[k].sizes[j], k + 1);
    return IRB_OK;
}

/* ---- checks shared by save and load ----------------------------------------------------------- */

static irb_status check(const irb_pipeline *p, const char *name, irb_error *err)
{
    if (p->n_classes < 2 || !p->classes)
        return irb_fail(err, IRB_CORRUPT, "%s: a pipeline needs at least 2 classes (has %d)", name, p->n_classes);
    if (p->n_parts < 1 || p->n_parts > IRB_PIPELINE_MAX_PARTS)
        return irb_fail(err, IRB_CORRUPT, "%s: %d parts (1 to %d)", name, p->n_parts, IRB_PIPELINE_MAX_PARTS);
    if (p->positive < -1 || p->positive >= p->n_classes)
        return irb_fail(err, IRB_CORRUPT, "%s: positive class %d of %d", name, p->positive, p->n_classes);
    if (!(p->threshold >= 0 && p->threshold <= 1) || !(p->gap >= 0))
        return irb_fail(err, IRB_CORRUPT, "%s: threshold %g or sequence gap %g out of range", name, p->threshold,
                        p->gap);
    double wsum = 0;
    for (int i = 0; i < p->n_parts; i++) {
        const irb_pipeline_part *q = &p->parts[i];
        if ((q->kind != IRB_PART_APPEARANCE && q->kind != IRB_PART_MOTION) || !(q->weight > 0 && q->weight <= 1) ||
            q->n_inputs < 1 || q->n_inputs > IRB_PIPELINE_MAX_INPUTS ||
            (q->kind == IRB_PART_APPEARANCE && q->n_inputs != 1) || !q->clf)
            return irb_fail(err, IRB_CORRUPT, "%s: part %d: bad kind, weight, inputs or classifier", name, i + 1);
        if (irb_classifier_classes(q->clf) != p->n_classes)
            return irb_fail(err, IRB_CORRUPT, "%s: part %d's classifier has %d classes, the pipeline %d", name, i + 1,
                            irb_classifier_classes(q->clf), p->n_classes);
        for (int k = 0; k < p->n_classes; k++)
            if (strcmp(irb_classifier_class_name(q->clf, k), p->classes[k]) != 0)
                return irb_fail(err, IRB_CORRUPT, "%s: part %d's class %d is '%s', the pipeline's '%s'", name, i + 1,
                                k + 1, irb_classifier_class_name(q->clf, k), p->classes[k]);
        if ((q->map_mean != 0 && q->map_mean != 1) || (q->map_mean && q->kind != IRB_PART_APPEARANCE))
            return irb_fail(err, IRB_CORRUPT, "%s: part %d: map-mean %d on a %s part", name, i + 1, q->map_mean,
                            q->kind == IRB_PART_APPEARANCE ? "appearance" : "motion");
        wsum += q->weight;
    }
    if (fabs(wsum - 1) > 1e-9)
        return irb_fail(err, IRB_CORRUPT, "%s: the parts' weights sum to %.12g, not 1", name, wsum);
    if (!(p->min_confidence >= 0 && p->min_confidence <= 1))
        return irb_fail(err, IRB_CORRUPT, "%s: min-confidence %g not in [0, 1]", name, p->min_confidence);
    const irb_novelty *nv = p->novelty;
    if (nv && (nv->part < 0 || nv->part >= p->n_parts || p->parts[nv->part].kind != IRB_PART_APPEARANCE ||
               nv->dim != irb_classifier_dim(p->parts[nv->part].clf) || nv->n < 1 || !nv->rows ||
               !(nv->quantile > 0 && nv->quantile <= 1) || !(nv->threshold >= 0 && nv->threshold <= 2)))
        return irb_fail(err, IRB_CORRUPT,
                        "%s: the novelty model (part %d, %d features, %zu rows, threshold %g) does "
                        "not fit the pipeline's parts",
                        name, nv->part + 1, nv->dim, nv->n, nv->threshold);
    return check_precision(p, name, err);
}

/* ---- writing ---------------------------------------------------------------------------------- */

static void put_part(irb_wbuf *b, const irb_pipeline_part *q)
{
    irb_wbuf_u32(b, (uint32_t)q->kind);
    irb_wbuf_f64s(b, &q->weight, 1);
    irb_wbuf_u32(b, (uint32_t)q->cut);
    irb_wbuf_str(b, q->layer);
    irb_wbuf_u32(b, (uint32_t)q->pool);
    irb_wbuf_u32(b, (uint32_t)q->mirror);
    irb_wbuf_u32(b, (uint32_t)q->n_inputs);
    for (int j = 0; j < q->n_inputs; j++) {
        irb_wbuf_u32(b, (uint32_t)q->sizes[j]);
        irb_wbuf_str(b, q->preprocessing[j]);
    }
    irb_wbuf c = {0};
    irb_classifier_serialise(q->clf, &c);
    if (c.nomem)
        b->nomem = 1;
    irb_wbuf_u64(b, c.len);
    irb_wbuf_put(b, c.p, c.len);
    irb_free(c.p);
}

/* Optional sections after the parts: str name, u64 length L, L bytes. A reader skips the names it
 * does not know, so a section can be added without a new version. */
static void put_section(irb_wbuf *b, const char *name, const irb_wbuf *body)
{
    if (body->nomem)
        b->nomem = 1;
    irb_wbuf_str(b, name);
    irb_wbuf_u64(b, body->len);
    irb_wbuf_put(b, body->p, body->len);
}

/* Section "uncertain": the default min-confidence and the novelty model (docs/pipeline.md). */
static void put_uncertain(irb_wbuf *b, const irb_pipeline *p)
{
    if (p->min_confidence <= 0 && !p->novelty)
        return;
    irb_wbuf c = {0};
    const irb_novelty *nv = p->novelty;
    irb_wbuf_f64s(&c, &p->min_confidence, 1);
    irb_wbuf_u32(&c, nv ? 1 : 0);
    if (nv) {
        double qt[2] = {nv->quantile, nv->threshold};
        irb_wbuf_u32(&c, (uint32_t)nv->part);
        irb_wbuf_f64s(&c, qt, 2);
        irb_wbuf_u32(&c, (uint32_t)nv->dim);
        irb_wbuf_u64(&c, nv->n);
        irb_wbuf_f32s(&c, nv->rows, nv->n * (size_t)nv->dim);
    }
    put_section(b, "uncertain", &c);
    irb_free(c.p);
}

/* Section "precision" (written unless FP32, so fp32 files are as before): the features'
 * precision and the calibration tables in their text form, one per input size. */
static irb_status put_precision(irb_wbuf *b, const irb_pipeline *p, irb_error *err)
{
    if (p->precision == IRB_PRECISION_FP32)
        return IRB_OK;
    irb_wbuf c = {0};
    irb_wbuf_u32(&c, (uint32_t)p->precision);
    irb_wbuf_u32(&c, (uint32_t)p->n_calib);
    irb_status s = IRB_OK;
    for (int i = 0; s == IRB_OK && i < p->n_calib; i++) {
        char *text = NULL;
        size_t len = 0;
        s = irb_calib_to_text(p->calib[i], &text, &len, err);
        if (s == IRB_OK) {
            irb_wbuf_u32(&c, (uint32_t)p->calib_size[i]);
            irb_wbuf_str(&c, text);
        }
        irb_calib_text_free(text);
    }
    if (s == IRB_OK)
        put_section(b, "precision", &c);
    irb_free(c.p);
    return s;
}

/* Section "map-mean" (written when a part is marked: bf16 / int8 pipelines from the experiment's
 * RN2+A@M row): a u32 per part, 1 when its rows are the spatial mean of the map taken after the
 * net. Builds before it skip the section and pool in the net. */
static void put_map_mean(irb_wbuf *b, const irb_pipeline *p)
{
    int any = 0;
    for (int i = 0; i < p->n_parts; i++)
        any |= p->parts[i].map_mean;
    if (!any)
        return;
    irb_wbuf c = {0};
    irb_wbuf_u32(&c, (uint32_t)p->n_parts);
    for (int i = 0; i < p->n_parts; i++)
        irb_wbuf_u32(&c, (uint32_t)p->parts[i].map_mean);
    put_section(b, "map-mean", &c);
    irb_free(c.p);
}

irb_status irb_pipeline_save(const irb_pipeline *p, const char *path, irb_error *err)
{
    if (!p || !path)
        return irb_fail(err, IRB_INVALID_ARG, "pipeline_save: NULL argument");
    IRB_TRY(check(p, path, err));
    irb_wbuf b = {0};
    irb_envelope_begin(&b, IRB_PIPELINE_VERSION);
    irb_wbuf_str(&b, kind_tag);
    irb_wbuf_str(&b, p->model_name);
    irb_wbuf_str(&b, p->model_sha256);
    irb_wbuf_str(&b, p->row);
    irb_wbuf_u32(&b, (uint32_t)p->n_classes);
    for (int k = 0; k < p->n_classes; k++)
        irb_wbuf_str(&b, p->classes[k]);
    irb_wbuf_u32(&b, (uint32_t)(p->positive + 1));
    double nums[4] = {p->threshold, p->gap, (double)p->ensemble, isfinite(p->cv_accuracy) ? p->cv_accuracy : -1};
    irb_wbuf_f64s(&b, nums, 4);
    irb_wbuf_u32(&b, (uint32_t)p->n_parts);
    for (int i = 0; i < p->n_parts; i++)
        put_part(&b, &p->parts[i]);
    put_uncertain(&b, p);
    irb_status s = put_precision(&b, p, err);
    put_map_mean(&b, p);
    irb_envelope_end(&b);
    if (s == IRB_OK)
        s = irb_wbuf_save(&b, path, err);
    irb_free(b.p);
    return s;
}

/* ---- reading ---------------------------------------------------------------------------------- */

static irb_status get_part(irb_rbuf *r, irb_pipeline_part *q)
{
    uint32_t kind, cut, pool, mirror, n_in;
    IRB_TRY(irb_rbuf_u32(r, &kind, "part kind"));
    IRB_TRY(irb_rbuf_f64s(r, &q->weight, 1, "part weight"));
    IRB_TRY(irb_rbuf_u32(r, &cut, "cut"));
    IRB_TRY(irb_rbuf_str(r, &q->layer, "layer"));
    IRB_TRY(irb_rbuf_u32(r, &pool, "pool"));
    IRB_TRY(irb_rbuf_u32(r, &mirror, "mirror"));
    IRB_TRY(irb_rbuf_u32(r, &n_in, "input count"));
    if (kind > IRB_PART_MOTION || cut > 1024 || pool > 1 || mirror > 1 || n_in < 1 || n_in > IRB_PIPELINE_MAX_INPUTS)
        return irb_fail(r->err, IRB_CORRUPT,
                        "%s: offset %zu: bad part (kind %u, cut %u, pool %u, mirror %u, %u inputs)", r->name, r->off,
                        kind, cut, pool, mirror, n_in);
    q->kind = (irb_part_kind)kind, q->cut = (int)cut, q->pool = (int)pool, q->mirror = (int)mirror;
    q->n_inputs = (int)n_in;
    for (uint32_t j = 0; j < n_in; j++) {
        uint32_t size;
        IRB_TRY(irb_rbuf_u32(r, &size, "input size"));
        if (size > 16384)
            return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: input size %u", r->name, r->off - 4, size);
        q->sizes[j] = (int)size;
        IRB_TRY(irb_rbuf_str(r, &q->preprocessing[j], "preprocessing"));
    }
    uint64_t len;
    IRB_TRY(irb_rbuf_u64(r, &len, "classifier length"));
    IRB_TRY(irb_rbuf_need(r, len, "classifier"));
    irb_rbuf c = {r->p + r->off, (size_t)len, 0, r->name, r->err};
    uint32_t version;
    IRB_TRY(irb_envelope_check(&c, IRB_CLF_VERSION, &version));
    IRB_TRY(irb_classifier_parse_body(&c, &q->clf));
    r->off += (size_t)len;
    return IRB_OK;
}

static irb_status get_novelty(irb_rbuf *r, irb_pipeline *p)
{
    uint32_t part, dim;
    uint64_t n;
    double qt[2];
    IRB_TRY(irb_rbuf_u32(r, &part, "novelty part"));
    IRB_TRY(irb_rbuf_f64s(r, qt, 2, "novelty quantile and threshold"));
    IRB_TRY(irb_rbuf_u32(r, &dim, "novelty features"));
    IRB_TRY(irb_rbuf_u64(r, &n, "novelty rows"));
    if (part >= (uint32_t)p->n_parts || dim < 1 || n < 1 || n > (r->len - r->off) / 4 / dim)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: novelty model of part %u, %llu rows of %u features",
                        r->name, r->off, part + 1, (unsigned long long)n, dim);
    irb_novelty *nv = irb_calloc(1, sizeof *nv);
    if (!nv || !(nv->rows = irb_malloc_array((size_t)n, (size_t)dim * sizeof(float)))) {
        irb_free(nv);
        return irb_fail(r->err, IRB_NOMEM, "%s: out of memory", r->name);
    }
    p->novelty = nv;
    nv->part = (int)part, nv->dim = (int)dim, nv->n = (size_t)n, nv->quantile = qt[0], nv->threshold = qt[1];
    size_t off = r->off;
    IRB_TRY(irb_rbuf_f32s(r, nv->rows, (size_t)n * dim, "novelty rows"));
    for (size_t i = 0; i < (size_t)n; i++) { /* normalised rows keep every score in [0, 2] */
        double ss = 0;
        for (uint32_t j = 0; j < dim; j++)
            ss += (double)nv->rows[i * dim + j] * nv->rows[i * dim + j];
        if (ss != 0 && fabs(ss - 1) > 1e-4)
            return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: novelty row %zu has norm %g, not 1", r->name,
                            off + i * dim * 4, i + 1, sqrt(ss));
    }
    return IRB_OK;
}

static irb_status get_uncertain(irb_rbuf *r, irb_pipeline *p)
{
    uint32_t has;
    IRB_TRY(irb_rbuf_f64s(r, &p->min_confidence, 1, "min-confidence"));
    IRB_TRY(irb_rbuf_u32(r, &has, "novelty present"));
    if (has > 1)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: novelty present %u", r->name, r->off - 4, has);
    return has ? get_novelty(r, p) : IRB_OK;
}

static irb_status get_precision(irb_rbuf *r, irb_pipeline *p)
{
    uint32_t prec, n;
    IRB_TRY(irb_rbuf_u32(r, &prec, "precision"));
    IRB_TRY(irb_rbuf_u32(r, &n, "calibration table count"));
    if (prec < IRB_PRECISION_BF16 || prec > IRB_PRECISION_INT8 || n > IRB_PIPELINE_MAX_CALIB)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: precision %u with %u calibration tables", r->name,
                        r->off - 8, prec, n);
    p->precision = (irb_precision)prec;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t size;
        char *text = NULL, name[128];
        IRB_TRY(irb_rbuf_u32(r, &size, "calibration input size"));
        if (size > 16384)
            return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: calibration input size %u", r->name, r->off - 4,
                            size);
        size_t off = r->off;
        IRB_TRY(irb_rbuf_str(r, &text, "calibration table"));
        snprintf(name, sizeof name, "%.60s: offset %zu: calibration table", r->name, off);
        irb_status s = irb_calib_parse(text, strlen(text), name, &p->calib[i], r->err);
        irb_free(text);
        IRB_TRY(s); /* IRB_CORRUPT naming the table's offset and line */
        p->calib_size[i] = (int)size;
        p->n_calib = (int)i + 1;
    }
    return IRB_OK;
}

static irb_status get_map_mean(irb_rbuf *r, irb_pipeline *p)
{
    uint32_t n;
    IRB_TRY(irb_rbuf_u32(r, &n, "map-mean part count"));
    if (n != (uint32_t)p->n_parts)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: map-mean for %u parts, the pipeline has %d", r->name,
                        r->off - 4, n, p->n_parts);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        IRB_TRY(irb_rbuf_u32(r, &v, "map-mean"));
        if (v > 1 || (v && p->parts[i].kind != IRB_PART_APPEARANCE))
            return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: map-mean %u for part %u (%s)", r->name, r->off - 4, v,
                            i + 1, p->parts[i].kind == IRB_PART_APPEARANCE ? "appearance" : "motion");
        p->parts[i].map_mean = (int)v;
    }
    return IRB_OK;
}

/* Reads a known section (name, the bytes r->off .. r->off + len) in full, once. */
static irb_status get_known(irb_rbuf *r, size_t len, const char *name, irb_status (*get)(irb_rbuf *, irb_pipeline *),
                            int *seen, irb_pipeline *p)
{
    irb_rbuf c = {r->p, r->off + len, r->off, r->name, r->err}; /* offsets stay the file's */
    if ((*seen)++)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: a second '%s' section", r->name, r->off, name);
    IRB_TRY(get(&c, p));
    if (c.off != c.len)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: %zu unexpected bytes in the '%s' section", r->name, c.off,
                        c.len - c.off, name);
    return IRB_OK;
}

/* The optional sections up to the body's end; each known one is read in full, others skipped. */
static irb_status get_sections(irb_rbuf *r, irb_pipeline *p)
{
    int seen = 0, seen_precision = 0, seen_map_mean = 0;
    while (r->off < r->len) {
        char *name = NULL;
        uint64_t len;
        IRB_TRY(irb_rbuf_str(r, &name, "section name"));
        irb_status s = irb_rbuf_u64(r, &len, "section length");
        if (s == IRB_OK)
            s = irb_rbuf_need(r, len, "section");
        if (s == IRB_OK && !strcmp(name, "uncertain"))
            s = get_known(r, (size_t)len, name, get_uncertain, &seen, p);
        else if (s == IRB_OK && !strcmp(name, "precision"))
            s = get_known(r, (size_t)len, name, get_precision, &seen_precision, p);
        else if (s == IRB_OK && !strcmp(name, "map-mean"))
            s = get_known(r, (size_t)len, name, get_map_mean, &seen_map_mean, p);
        irb_free(name);
        IRB_TRY(s);
        r->off += (size_t)len;
    }
    return IRB_OK;
}

static irb_status parse_v2(irb_rbuf *r, irb_pipeline *p)
{
    char *tag = NULL, *sha = NULL;
    irb_status s = irb_rbuf_str(r, &tag, "kind");
    if (s == IRB_OK && strcmp(tag, kind_tag) != 0)
        s = irb_fail(r->err, IRB_CORRUPT, "%s: not a pipeline (kind '%s')", r->name, tag);
    irb_free(tag);
    IRB_TRY(s);
    IRB_TRY(irb_rbuf_str(r, &p->model_name, "model name"));
    IRB_TRY(irb_rbuf_str(r, &sha, "model sha256"));
    s = strlen(sha) == 0 || strlen(sha) == 64 ? IRB_OK
                                              : irb_fail(r->err, IRB_CORRUPT, "%s: model sha256 '%.80s'", r->name, sha);
    snprintf(p->model_sha256, sizeof p->model_sha256, "%s", sha);
    irb_free(sha);
    IRB_TRY(s);
    IRB_TRY(irb_rbuf_str(r, &p->row, "row"));
    uint32_t K, pos, np;
    IRB_TRY(irb_rbuf_u32(r, &K, "class count"));
    if (K < 2 || K > IRB_CLF_MAX_CLASSES || K > (r->len - r->off) / 4)
        return irb_fail(r->err, IRB_CORRUPT, "%s: %u classes", r->name, K);
    if (!(p->classes = irb_calloc(K, sizeof *p->classes)))
        return irb_fail(r->err, IRB_NOMEM, "%s: out of memory", r->name);
    p->n_classes = (int)K;
    for (uint32_t k = 0; k < K; k++)
        IRB_TRY(irb_rbuf_str(r, &p->classes[k], "class name"));
    IRB_TRY(irb_rbuf_u32(r, &pos, "positive class"));
    double nums[4];
    IRB_TRY(irb_rbuf_f64s(r, nums, 4, "decision rule"));
    if (pos > K) /* before the subtraction: (int)0x80000000 - 1 overflows (fuzz_classifier) */
        return irb_fail(r->err, IRB_CORRUPT, "%s: positive class %u of %u", r->name, pos, K);
    p->positive = (int)pos - 1;
    p->threshold = nums[0], p->gap = nums[1], p->ensemble = nums[2] != 0, p->cv_accuracy = nums[3];
    IRB_TRY(irb_rbuf_u32(r, &np, "part count"));
    if (np < 1 || np > IRB_PIPELINE_MAX_PARTS)
        return irb_fail(r->err, IRB_CORRUPT, "%s: %u parts (1 to %d)", r->name, np, IRB_PIPELINE_MAX_PARTS);
    for (uint32_t i = 0; i < np; i++) {
        p->n_parts = (int)i + 1;
        IRB_TRY(get_part(r, &p->parts[i]));
    }
    IRB_TRY(get_sections(r, p));
    return check(p, r->name, r->err);
}

static char *dup_or_empty(const char *s) { return irb_strdup(s ? s : ""); }

/* A version-1 classifier as a one-part pipeline, from its provenance. */
static irb_status from_classifier(irb_pipeline *p, irb_classifier_t *clf, irb_error *err)
{
    irb_pipeline_part *q = &p->parts[0];
    q->clf = clf;
    p->n_parts = 1;
    p->version = 1;
    q->kind = IRB_PART_APPEARANCE;
    q->weight = 1;
    q->n_inputs = 1;
    const char *cut = irb_classifier_meta(clf, "cut"), *pool = irb_classifier_meta(clf, "pool");
    q->cut = cut ? atoi(cut) : 0;
    q->pool = pool && (!strcmp(pool, "avg") || !strcmp(pool, "1") || !strcmp(pool, "yes"));
    const char *sha = irb_classifier_meta(clf, "model_sha256");
    snprintf(p->model_sha256, sizeof p->model_sha256, "%s", sha && strlen(sha) == 64 ? sha : "");
    p->n_classes = irb_classifier_classes(clf);
    q->layer = dup_or_empty(irb_classifier_meta(clf, "layer"));
    q->preprocessing[0] = dup_or_empty(irb_classifier_meta(clf, "preprocessing"));
    p->model_name = dup_or_empty(irb_classifier_meta(clf, "model"));
    p->row = irb_strdup("classifier");
    p->classes = irb_calloc((size_t)p->n_classes, sizeof *p->classes);
    if (!q->layer || !q->preprocessing[0] || !p->model_name || !p->row || !p->classes)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    for (int k = 0; k < p->n_classes; k++)
        if (!(p->classes[k] = irb_strdup(irb_classifier_class_name(clf, k))))
            return irb_fail(err, IRB_NOMEM, "out of memory");
    return IRB_OK;
}

irb_status irb_pipeline_parse(const void *data, size_t size, const char *name, irb_pipeline **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_pipeline_parse: NULL out");
    *out = NULL;
    name = name ? name : "(pipeline)";
    if (!data && size)
        return irb_fail(err, IRB_INVALID_ARG, "pipeline_parse: NULL data");
    irb_rbuf r = {data, size, 0, name, err};
    uint32_t version;
    IRB_TRY(irb_envelope_check(&r, IRB_PIPELINE_VERSION, &version));
    irb_pipeline *p = irb_pipeline_new();
    if (!p)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", name);
    irb_status s;
    if (version == IRB_CLF_VERSION) {
        irb_classifier_t *clf = NULL;
        s = irb_classifier_parse_body(&r, &clf);
        if (s == IRB_OK)
            s = from_classifier(p, clf, err);
    } else {
        s = parse_v2(&r, p);
    }
    if (s != IRB_OK) {
        irb_pipeline_free(p);
        return s;
    }
    irb_sha256_buffer(data, size, p->file_sha256);
    *out = p;
    return IRB_OK;
}

irb_status irb_pipeline_load(const char *path, irb_pipeline **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_pipeline_load: NULL out");
    *out = NULL;
    if (!path)
        return irb_fail(err, IRB_INVALID_ARG, "irb_pipeline_load: NULL path");
    void *data = NULL;
    size_t size = 0;
    IRB_TRY(irb_read_file(path, IRB_IRBIS_MAX_BYTES, &data, &size, err));
    irb_status s = irb_pipeline_parse(data, size, path, out, err);
    irb_free(data);
    return s;
}

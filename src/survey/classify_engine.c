/* The real scanner (irb_scan_*) and engine (one decoder per worker -> irb_preprocess_file,
 * irb_net_run, irb_classifier_predict) behind irb_classify_run. The net is configured from the
 * classifier's provenance (layer/cut/pool), and a classifier trained on another model's
 * features is refused (model_sha256, feature size). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "irbis/image.h"
#include "irbis/learn.h"
#include "irbis/nn.h"
#include "irbis/scan.h"
#include "survey/classify_internal.h"

typedef struct irb_cls_real {
    const irb_classify_opts *o;
    irb_classifier_t *clf;
    char model_sha[65], clf_sha[65];
    char classified_by[512];
    const char **classes;
    int nc;
    /* built by make_engine */
    irb_model_t *model;
    irb_net_t *net;
    irb_decoder_t **dec;
    int workers;
    irb_preproc pp;
    float *feats;
    size_t feat_dim;
} engine_ctx;

/* ---- scanner ------------------------------------------------------------------------------ */

static irb_status scan_next(void *ctx, irb_cls_row *row, irb_error *err)
{
    irb_scan_t *scan = ctx;
    irb_scan_row r;
    irb_status s = irb_scan_next(scan, &r);
    if (s == IRB_NOT_FOUND)
        return s;
    if (s != IRB_OK) {
        irb_error_copy(err, irb_scan_error(scan));
        return s;
    }
    memset(row, 0, sizeof *row);
    row->path = r.path;
    row->camera = r.camera;
    row->timestamp = r.timestamp;
    row->width = r.width, row->height = r.height;
    if (r.status == IRB_ROW_ERROR) {
        row->status = r.error != IRB_OK ? r.error : IRB_CORRUPT;
        row->message = r.message;
    }
    return IRB_OK;
}

static void scan_close(void *ctx)
{
    irb_scan_close(ctx);
}

irb_status irb_cls_scanner_open(const irb_classify_opts *o, irb_cls_scanner *sc, irb_error *err)
{
    irb_scan_t *scan = NULL;
    irb_scan_opts so = {.camera_depth = o->camera_depth};
    IRB_TRY(irb_scan_open(o->survey_dir, &so, &scan, err));
    sc->ctx = scan, sc->next = scan_next, sc->close = scan_close;
    return IRB_OK;
}

static irb_status make_scanner(void *user, irb_cls_scanner *sc, irb_error *err)
{
    engine_ctx *c = user;
    return irb_cls_scanner_open(c->o, sc, err);
}

/* ---- engine ------------------------------------------------------------------------------- */

static irb_status prepare(void *ctx, int worker, const char *path, float *input, irb_error *err)
{
    engine_ctx *c = ctx;
    irb_status s = irb_preprocess_file(c->dec[worker], path, &c->pp, input, NULL);
    if (s != IRB_OK)
        irb_error_copy(err, irb_decoder_error(c->dec[worker]));
    return s;
}

static irb_status score(void *ctx, const float *inputs, int n, double *probs, irb_error *err)
{
    engine_ctx *c = ctx;
    if (irb_net_run(c->net, inputs, n, c->feats) != IRB_OK) {
        irb_error_copy(err, irb_net_error(c->net));
        return err ? err->status : IRB_INTERNAL;
    }
    return irb_classifier_predict(c->clf, c->feats, (size_t)n, (int)c->feat_dim, probs, err);
}

static void engine_release(void *ctx)
{
    engine_ctx *c = ctx;
    for (int i = 0; c->dec && i < c->workers; i++)
        irb_decoder_free(c->dec[i]);
    irb_free(c->dec);
    c->dec = NULL;
    irb_net_free(c->net);
    c->net = NULL;
    irb_model_free(c->model);
    c->model = NULL;
    irb_free(c->feats);
    c->feats = NULL;
}

/* input_size: the size the classifier's features were computed at (irbis featurize --size), or 0 */
static irb_status configure_net(engine_ctx *c, int input_size, irb_error *err)
{
    const irb_classify_opts *o = c->o;
    irb_net_opts no = {.threads = o->threads, .max_batch = o->batch, .input_size = input_size};
    const char *layer = irb_classifier_meta(c->clf, "layer"), *cut = irb_classifier_meta(c->clf, "cut");
    const char *pool = irb_classifier_meta(c->clf, "pool");
    if (layer && *layer)
        no.layer = layer;
    else if (cut && *cut)
        no.cut = atoi(cut);
    else {
        /* no provenance: the model's "features" output when it has one */
        const irb_model_info *mi = irb_model_info_get(c->model);
        for (int i = 0; i < mi->n_outputs; i++)
            if (!strcmp(mi->outputs[i].name, "features"))
                no.layer = "features";
    }
    no.pool = pool && (!strcmp(pool, "avg") || !strcmp(pool, "1") || !strcmp(pool, "yes")) ? IRB_POOL_AVG
                                                                                          : IRB_POOL_NONE;
    irb_status s = irb_net_new(c->model, &no, &c->net, err);
    if (s != IRB_OK) {
        char msg[IRB_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return irb_fail(err, s, "%s with %s: %s", o->model_path, o->classifier_path, msg);
    }
    c->feat_dim = irb_net_output_size(c->net);
    if ((int)c->feat_dim != irb_classifier_dim(c->clf))
        return irb_fail(err, IRB_MISMATCH, "%s: the classifier expects %d features, %s gives %zu at '%s'",
                        o->classifier_path, irb_classifier_dim(c->clf), o->model_path, c->feat_dim,
                        irb_net_output_name(c->net));
    return IRB_OK;
}

static irb_status make_engine(void *user, irb_cls_engine *e, irb_error *err)
{
    engine_ctx *c = user;
    const irb_classify_opts *o = c->o;
    /* prepare images exactly as the classifier's training images were (featurize records it, and
     * the net runs at its size); a classifier without the record gets the model's default */
    const char *ppj = irb_classifier_meta(c->clf, "preprocessing");
    int recorded = ppj && *ppj;
    irb_status s = recorded ? irb_preproc_from_json(ppj, &c->pp, err) : IRB_OK;
    if (s == IRB_OK)
        s = irb_model_load(o->model_path, NULL, &c->model, err);
    if (s == IRB_OK)
        s = configure_net(c, recorded ? c->pp.size : 0, err);
    c->workers = o->threads > 0 ? o->threads : irb_cpu_count();
    if (s == IRB_OK && (!(c->dec = irb_calloc((size_t)c->workers, sizeof *c->dec)) ||
                        !(c->feats = irb_malloc_array((size_t)o->batch, sizeof(float) * c->feat_dim))))
        s = irb_fail(err, IRB_NOMEM, "out of memory");
    for (int i = 0; s == IRB_OK && i < c->workers; i++)
        s = irb_decoder_new(&c->dec[i]) == IRB_OK ? IRB_OK : irb_fail(err, IRB_NOMEM, "cannot create a decoder");
    if (s != IRB_OK) {
        engine_release(c);
        return s;
    }
    int ch, h, w;
    irb_net_input_shape(c->net, &ch, &h, &w);
    if (!recorded) {
        const irb_preprocess *mp = irb_model_preprocess(c->model);
        c->pp = irb_preproc_default(h);
        for (int k = 0; k < 3; k++)
            c->pp.mean[k] = mp->mean[k], c->pp.scale[k] = mp->std[k];
    }
    e->ctx = c;
    e->workers = c->workers;
    e->n_classes = c->nc;
    e->classes = c->classes;
    e->input_floats = (size_t)ch * (size_t)h * (size_t)w;
    e->classified_by = c->classified_by;
    e->prepare = prepare, e->score = score, e->free = engine_release;
    return IRB_OK;
}

/* ---- the run ------------------------------------------------------------------------------ */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

irb_status irb_cls_real_new(const irb_classify_opts *o, irb_cls_real **out, irb_error *err)
{
    *out = NULL;
    if (!o || !o->model_path || !o->classifier_path)
        return irb_fail(err, IRB_INVALID_ARG, "classify needs a model and a classifier");
    engine_ctx *c = irb_calloc(1, sizeof *c);
    if (!c)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    c->o = o;
    irb_status s = irb_classifier_load(o->classifier_path, &c->clf, err);
    if (s == IRB_OK)
        s = irb_sha256_file(o->model_path, c->model_sha, err);
    if (s == IRB_OK)
        s = irb_sha256_file(o->classifier_path, c->clf_sha, err);
    const char *want = s == IRB_OK ? irb_classifier_meta(c->clf, "model_sha256") : NULL;
    if (s == IRB_OK && want && *want && strcmp(want, c->model_sha) != 0)
        s = irb_fail(err, IRB_MISMATCH,
                     "%s was trained on features of a model with sha256 %s, but %s has sha256 %s",
                     o->classifier_path, want, o->model_path, c->model_sha);
    if (s == IRB_OK)
        c->nc = irb_classifier_classes(c->clf);
    if (s == IRB_OK && !(c->classes = irb_calloc((size_t)(c->nc > 0 ? c->nc : 1), sizeof *c->classes)))
        s = irb_fail(err, IRB_NOMEM, "out of memory");
    for (int k = 0; s == IRB_OK && k < c->nc; k++)
        c->classes[k] = irb_classifier_class_name(c->clf, k);
    snprintf(c->classified_by, sizeof c->classified_by, "irbis %s (%s + %s)", irb_version(),
             base_name(o->model_path), base_name(o->classifier_path));
    if (s != IRB_OK) {
        irb_cls_real_free(c);
        return s;
    }
    *out = c;
    return IRB_OK;
}

void irb_cls_real_free(irb_cls_real *c)
{
    if (!c)
        return;
    engine_release(c);
    irb_free(c->classes);
    irb_classifier_free(c->clf);
    irb_free(c);
}

void irb_cls_real_ids(const irb_cls_real *c, irb_cls_sources *src)
{
    src->model_id = c->model_sha;
    src->classifier_id = c->clf_sha;
    src->n_classes = c->nc;
    src->classes = c->classes;
    src->classified_by = c->classified_by;
}

irb_status irb_cls_real_scanner(void *user, irb_cls_scanner *scanner, irb_error *err)
{
    return make_scanner(user, scanner, err);
}

irb_status irb_cls_real_engine(void *user, irb_cls_engine *engine, irb_error *err)
{
    return make_engine(user, engine, err);
}

irb_status irb_classify_run(const irb_classify_opts *o, irb_classify_summary *sum, irb_error *err)
{
    if (o && o->pipeline_path)
        return irb_classify_pipeline_run(o, sum, err);
    irb_cls_real *c = NULL;
    IRB_TRY(irb_cls_real_new(o, &c, err));
    irb_cls_sources src = {.make_scanner = make_scanner, .make_engine = make_engine, .user = c};
    irb_cls_real_ids(c, &src);
    irb_status s = irb_classify_run_sources(o, &src, sum, err);
    irb_cls_real_free(c);
    return s;
}

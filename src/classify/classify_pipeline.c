/* The engine of `irbis classify --pipeline` (docs/pipeline.md): a pipeline's parts run on a
 * batch through the one featurizer (irb_extract for appearance parts, with mirrors; the motion
 * statistics of features/motion.c for motion parts, with each image's neighbours in shooting
 * order), their classifiers applied and the parts' probabilities combined. An appearance part
 * whose input is a motion input's (same size and preprocessing) and whose features are the
 * spatial mean of that input's map takes them from the motion net's pass: one CNN pass per
 * image, size and mirror (in fp32, and at bf16 / int8 for the parts trained on that mean). */
#include <libgen.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "core/error.h"
#include "features/features.h"
#include "irbis/image.h"
#include "irbis/learn.h"
#include "irbis/nn.h"
#include "irbis/pipeline.h"
#include "classify/classify_internal.h"

typedef struct pipe_input {
    irb_net_t *net; /* NULL for an appearance input served by a motion input's pass */
    irb_extract_opts eo;
    int channels;          /* motion, or served appearance: channels of the map */
    motion_stream *motion; /* motion: the statistics of the maps streamed in neighbour order */
    int pool_part;         /* motion: the appearance part whose rows are this map's spatial
                            * mean (its mirrors included), or -1 */
    int served;            /* appearance: its rows come from a motion input's pass */
} pipe_input;

/* The batch with its neighbours as one list in shooting order (each path once), and each
 * entry's previous / next entry of the same camera. */
typedef struct motion_list {
    const char *path[3 * IRB_CLS_RUN_MAX];
    long prev[3 * IRB_CLS_RUN_MAX], next[3 * IRB_CLS_RUN_MAX];
    long want_k[3 * IRB_CLS_RUN_MAX]; /* entry -> the batch image it is, or -1 (a neighbour only) */
    size_t list[3 * IRB_CLS_RUN_MAX]; /* 0, 1, 2, ...: the featurizer's order is the list's */
    unsigned char mark[3 * IRB_CLS_RUN_MAX];
    size_t n;
} motion_list;

/* A list entry's rows as the featurizer handed them out, kept for the next batch. In shooting
 * order the next batch's first image is this batch's last image's next neighbour (so that one is
 * run here in full, mirrors included) and its previous neighbour is this batch's last image:
 * their rows are replayed there instead of decoded and run again. The same bits: an image's rows
 * do not depend on the images run with it (each runs alone on a net's slot). */
typedef struct kept_row {
    int input, flipped;
    size_t at, dim; /* its floats: data[at, at + dim) */
} kept_row;

typedef struct kept_entry {
    char *path; /* owned; NULL: none */
    int full;   /* it was marked: every input's rows and mirrors, not only the maps of every entry */
    int ok;     /* every row came, without a failure or warning (else it is not replayed) */
    int n;
    kept_row row[2 * IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS];
    float *data;
    size_t used;
} kept_entry;

struct irb_cls_real {
    const irb_classify_opts *o;
    const char *file; /* the pipeline (or version-1 classifier) file */
    irb_pipeline *p;
    char model_path[4096];
    irb_model_t *model; /* loaded (and its sha256 checked) when the run is set up; freed once its nets are built */
    char model_sha[65], pipe_sha[80]; /* pipe_sha: "+fp32"... appended when run at another precision */
    irb_precision precision;          /* the run's: o->precision, else the pipeline's */
    char classified_by[512];
    pipe_input in[IRB_PIPELINE_MAX_PARTS][IRB_PIPELINE_MAX_INPUTS];
    int batch;
    irb_featurizer *fz; /* every input of every part, one pass per batch */
    irb_feat_input fin[IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS]; /* its inputs */
    int n_fin;
    int fin_part[IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS],
        fin_input[IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS];
    motion_list *l;
    /* per-batch scratch */
    float *feat[IRB_PIPELINE_MAX_PARTS]; /* part k's rows: batch x its width */
    size_t width[IRB_PIPELINE_MAX_PARTS];
    double *part_probs[IRB_PIPELINE_MAX_PARTS];
    double *tmp;     /* batch x 2 x classes */
    double *novelty; /* batch: each image's novelty score (NaN: none) */
    float *nov_rows; /* batch x the novelty part's width: the rows it scores, contiguous */
    irb_status *st;
    irb_error *errs;
    int motion_part, motion_input; /* the motion stream being fed (its callback) */
    /* rows kept across batches: the last batch's last two list entries (kept), this batch's
     * being recorded (rec: list entries rec_from, rec_from + 1), each data of kept_cap floats */
    kept_entry kept[2], rec[2];
    size_t kept_cap, rec_from;
    int n_rec;
    size_t skip;       /* list entries replayed: the featurizer's image 0 is list entry skip */
    long long decoded; /* images the featurizer has read and decoded in this engine's runs */
};
typedef struct irb_cls_real pipe_engine;

/* ---- building ------------------------------------------------------------------------------ */

static int file_exists(const char *p) { return p && *p && access(p, R_OK) == 0; }

/* The backbone: --model, else the path the pipeline recorded, else its file name beside the
 * pipeline file. Its sha256 must be the pipeline's. It is loaded here, once: the load hashes
 * the bytes it parses. */
static irb_status find_model(pipe_engine *c, irb_error *err)
{
    const irb_classify_opts *o = c->o;
    const irb_pipeline *p = c->p;
    if (o->model_path) {
        snprintf(c->model_path, sizeof c->model_path, "%s", o->model_path);
    } else if (file_exists(p->model_name)) {
        snprintf(c->model_path, sizeof c->model_path, "%s", p->model_name);
    } else {
        char *a = irb_strdup(c->file), *b = irb_strdup(p->model_name);
        if (!a || !b) {
            irb_free(a), irb_free(b);
            return irb_fail(err, IRB_NOMEM, "out of memory");
        }
        snprintf(c->model_path, sizeof c->model_path, "%s/%s", dirname(a), basename(b));
        irb_free(a), irb_free(b);
        if (!file_exists(c->model_path))
            return irb_fail(err, IRB_NOT_FOUND,
                            "%s: its model %s is not there (nor %s): give the ONNX file with --model", c->file,
                            p->model_name, c->model_path);
    }
    irb_model_opts mo = {.sha256 = p->model_sha256};
    irb_status s = irb_model_load(c->model_path, &mo, &c->model, err);
    if (s == IRB_MISMATCH) { /* "<model> has sha256 X, not Y" */
        char msg[IRB_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return irb_fail(err, s, "%s was trained on the model with sha256 %s, but %s", c->file, p->model_sha256, msg);
    }
    if (s == IRB_OK)
        snprintf(c->model_sha, sizeof c->model_sha, "%s", irb_model_info_get(c->model)->sha256);
    return s;
}

/* Input j of part q: its preprocessing as recorded (the model's own for a classifier file). */
static irb_status input_preproc(const pipe_engine *c, const irb_model_t *model, const irb_pipeline_part *q, int j,
                                pipe_input *in, irb_error *err)
{
    const irb_preprocess *mp = irb_model_preprocess(model);
    const char *ppj = q->preprocessing[j];
    if (ppj && *ppj) {
        IRB_TRY(irb_preproc_from_json(ppj, &in->eo.pp, err));
    } else {
        in->eo.pp = irb_preproc_default(q->sizes[j] > 0 ? q->sizes[j] : mp->input_size > 0 ? mp->input_size : 224);
        in->eo.pp.scales = IRB_DCT_ANY; /* a file without a description is from before the fast scales */
        for (int k = 0; k < 3; k++)
            in->eo.pp.mean[k] = mp->mean[k], in->eo.pp.scale[k] = mp->std[k];
    }
    in->eo.threads = c->o->threads;
    in->eo.batch = c->batch;
    in->eo.flip = q->kind == IRB_PART_APPEARANCE && q->mirror;
    in->pool_part = -1;
    in->served = 0;
    return IRB_OK;
}

/* Whether appearance part q's row is the spatial mean of the map at cut `map`. */
static int pools_map(const irb_model_info *mi, const irb_pipeline_part *q, int map)
{
    return !(q->layer && *q->layer) && irb_cut_pools_map(mi, q->cut, q->pool, map);
}

static int same_preproc(const irb_preproc *a, const irb_preproc *b)
{
    char ja[512], jb[512];
    irb_preproc_to_json(a, ja, sizeof ja);
    irb_preproc_to_json(b, jb, sizeof jb);
    return !strcmp(ja, jb) && a->full_decode == b->full_decode && a->max_pixels == b->max_pixels;
}

/* Each appearance part whose input a motion input shares (size and preprocessing) and whose row
 * is the spatial mean of that input's map is served by the motion net's pass: the map's mean is
 * its row, and the motion net runs its mirrors too. In fp32 every such part (the net's own
 * pooling, which the experiment trained on, equals the mean to float rounding); at bf16 / int8
 * the parts the pipeline marks map_mean (trained on that mean, as the experiment now makes them
 * at these precisions): the net's pooling may round otherwise there, so an unmarked part (saved
 * before) keeps its own net. */
static void plan_shared(pipe_engine *c, const irb_model_info *mi)
{
    const irb_pipeline *p = c->p;
    for (int a = 0; a < p->n_parts; a++) {
        const irb_pipeline_part *qa = &p->parts[a];
        pipe_input *ia = &c->in[a][0];
        if (c->precision != IRB_PRECISION_FP32 && !qa->map_mean)
            continue;
        for (int m = 0; qa->kind == IRB_PART_APPEARANCE && qa->n_inputs == 1 && !ia->served && m < p->n_parts; m++) {
            const irb_pipeline_part *qm = &p->parts[m];
            if (qm->kind != IRB_PART_MOTION || (qm->layer && *qm->layer) || !pools_map(mi, qa, qm->cut))
                continue;
            for (int j = 0; j < qm->n_inputs && !ia->served; j++) {
                pipe_input *im = &c->in[m][j];
                if (im->pool_part < 0 && same_preproc(&im->eo.pp, &ia->eo.pp)) {
                    im->pool_part = a;
                    im->eo.flip = ia->eo.flip;
                    ia->served = 1;
                    ia->channels = (int)mi->cuts[qm->cut - 1].tensor.dims[1];
                }
            }
        }
    }
}

/* 1 when the part's net can take channels-last tensors (irb_net_opts.channels_last): its rows
 * do not depend on the layout (a pooled cut, a global pool's output, a rank-2 cut), or they are
 * motion maps, read as H x W x C. A classifier on a map's values flattened in NCHW order keeps
 * NCHW. */
static int takes_channels_last(const irb_model_t *model, const irb_pipeline_part *q)
{
    if (q->kind == IRB_PART_MOTION || q->pool)
        return 1;
    const irb_model_info *mi = irb_model_info_get(model);
    if ((q->layer && *q->layer) || q->cut < 1 || q->cut > mi->n_cuts)
        return 0;
    const irb_cut_info *cut = &mi->cuts[q->cut - 1];
    return cut->tensor.rank != 4 || (cut->op && !strcmp(cut->op, "GlobalAveragePool"));
}

static irb_status build_input(pipe_engine *c, const irb_model_t *model, const irb_pipeline_part *q, int j,
                              pipe_input *in, irb_error *err)
{
    const irb_classify_opts *o = c->o;
    if (in->served) {
        if (in->channels != irb_classifier_dim(q->clf))
            return irb_fail(err, IRB_MISMATCH, "%s: part classifier expects %d features, %s gives %d at cut %d",
                            c->file, irb_classifier_dim(q->clf), c->model_path, in->channels, q->cut);
        return IRB_OK;
    }
    irb_net_opts no = {.threads = o->threads,
                       .max_batch = c->batch * 2,
                       .input_size = in->eo.pp.size,
                       .pool = q->pool ? IRB_POOL_AVG : IRB_POOL_NONE,
                       .precision = c->precision,
                       .calib = c->precision == IRB_PRECISION_INT8 ? irb_pipeline_calib(c->p, q->sizes[j]) : NULL,
                       /* tensors as the engine computes them: no reorders (docs/engine.md) */
                       .channels_last = takes_channels_last(model, q)};
    if (q->layer && *q->layer)
        no.layer = q->layer;
    else
        no.cut = q->cut;
    if (!no.layer && !no.cut) { /* a classifier without provenance: the model's "features" output if any */
        const irb_model_info *mi = irb_model_info_get(model);
        for (int i = 0; i < mi->n_outputs; i++)
            if (!strcmp(mi->outputs[i].name, "features"))
                no.layer = "features";
    }
    irb_status s = irb_net_new(model, &no, &in->net, err);
    if (s != IRB_OK) {
        char msg[IRB_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return irb_fail(err, s, "%s with %s: %s", c->model_path, c->file, msg);
    }
    size_t dim = irb_net_output_size(in->net);
    if (q->kind == IRB_PART_MOTION) {
        const irb_model_info *mi = irb_model_info_get(model);
        if (q->cut < 1 || q->cut > mi->n_cuts || mi->cuts[q->cut - 1].tensor.rank != 4)
            return irb_fail(err, IRB_MISMATCH, "%s: the motion part's cut %d of %s is not a spatial map", c->file,
                            q->cut, c->model_path);
        in->channels = (int)mi->cuts[q->cut - 1].tensor.dims[1];
        dim = MOTION_DIM;
    }
    if (q->kind == IRB_PART_MOTION)
        IRB_TRY(motion_stream_new(irb_net_output_size(in->net), in->channels, irb_net_channels_last(in->net),
                                  &in->motion, err));
    if (q->kind == IRB_PART_APPEARANCE && (int)dim != irb_classifier_dim(q->clf))
        return irb_fail(err, IRB_MISMATCH, "%s: part classifier expects %d features, %s gives %zu at cut %d", c->file,
                        irb_classifier_dim(q->clf), c->model_path, dim, q->cut);
    if (q->kind == IRB_PART_MOTION && MOTION_DIM * q->n_inputs != irb_classifier_dim(q->clf))
        return irb_fail(err, IRB_MISMATCH, "%s: the motion classifier expects %d features, not %d", c->file,
                        irb_classifier_dim(q->clf), MOTION_DIM * q->n_inputs);
    return IRB_OK;
}

static void pipe_release(void *ctx)
{
    pipe_engine *c = ctx;
    irb_featurizer_free(c->fz), c->fz = NULL;
    for (int k = 0; k < IRB_PIPELINE_MAX_PARTS; k++) {
        for (int j = 0; j < IRB_PIPELINE_MAX_INPUTS; j++) {
            irb_net_free(c->in[k][j].net), c->in[k][j].net = NULL;
            motion_stream_free(c->in[k][j].motion), c->in[k][j].motion = NULL;
        }
        irb_free(c->part_probs[k]), c->part_probs[k] = NULL;
        irb_free(c->feat[k]), c->feat[k] = NULL;
    }
    for (int t = 0; t < 2; t++) {
        irb_free(c->kept[t].path), irb_free(c->kept[t].data), irb_free(c->rec[t].data);
        memset(&c->kept[t], 0, sizeof c->kept[t]), memset(&c->rec[t], 0, sizeof c->rec[t]);
    }
    irb_free(c->l), c->l = NULL;
    irb_free(c->tmp), c->tmp = NULL;
    irb_free(c->novelty), c->novelty = NULL;
    irb_free(c->nov_rows), c->nov_rows = NULL;
}

/* ---- running a batch ----------------------------------------------------------------------- */

static void image_failed(pipe_engine *c, size_t i, const irb_error *e)
{
    if (c->st[i] != IRB_OK)
        return; /* the first cause is kept */
    c->st[i] = e && e->status != IRB_OK ? e->status : IRB_CORRUPT;
    if (e)
        irb_error_copy(&c->errs[i], e);
}

/* Motion part rows: column j of the image's row of the part. */
static void on_motion(void *ctx, size_t i, int flipped, const float *row, size_t dim, const irb_error *e)
{
    pipe_engine *c = ctx;
    (void)flipped;
    if (!row || dim != MOTION_DIM) {
        image_failed(c, i, e);
        return;
    }
    memcpy(c->feat[c->motion_part] + i * c->width[c->motion_part] + (size_t)c->motion_input * MOTION_DIM, row,
           MOTION_DIM * sizeof(float));
}

/* A row of part k for batch image `index` (flipped: its mirror's) into the part's features:
 * the row itself, or with pool = 1 its spatial mean (a C x H x W map, H x W x C with pool = 2,
 * whose mean is the part's row, from the motion input that serves it). A neighbour that is not
 * in the batch is skipped; a failed image is recorded. */
static void part_row(pipe_engine *c, int k, size_t index, int flipped, const float *row, size_t dim, int pool,
                     const irb_error *e)
{
    long i = c->l->want_k[index];
    if (i < 0)
        return;
    if (!row) {
        image_failed(c, (size_t)i, e);
        return;
    }
    if (e && e->warning && c->st[i] == IRB_OK && !c->errs[i].warning)
        irb_error_copy(&c->errs[i], e); /* a damaged file decoded in part: its result keeps the warning */
    size_t width = pool ? (size_t)c->in[k][0].channels : dim, positions = dim / width;
    float *out = c->feat[k] + (size_t)i * c->width[k] + (size_t)flipped * width;
    if (pool == 2)
        irb_map_mean_hwc(row, width, positions, out);
    else if (pool)
        irb_map_mean(row, width, positions, out);
    else
        memcpy(out, row, dim * sizeof(float));
}

/* Every row of list entry `index`: an appearance part's row (and mirror) into its features, a
 * motion input's map into its stream (and its mean into the appearance part it serves). */
static void take_row(pipe_engine *c, size_t index, int input, int flipped, const float *row, size_t dim,
                     const irb_error *e)
{
    int k = c->fin_part[input], j = c->fin_input[input];
    pipe_input *in = &c->in[k][j];
    if (!in->motion) {
        part_row(c, k, index, flipped, row, dim, 0, e);
        return;
    }
    if (in->pool_part >= 0)
        part_row(c, in->pool_part, index, flipped, row, dim, irb_net_channels_last(in->net) ? 2 : 1, e);
    if (!flipped) {
        c->motion_part = k, c->motion_input = j;
        motion_stream_feed(in->motion, index, row, dim, e);
    }
}

/* Keeps a row of list entry `index` when the entry is one of the batch's last two (rec). */
static void record_row(pipe_engine *c, size_t index, int input, int flipped, const float *row, size_t dim,
                       const irb_error *e)
{
    if (index < c->rec_from || index - c->rec_from >= (size_t)c->n_rec)
        return;
    kept_entry *k = &c->rec[index - c->rec_from];
    if (!k->ok)
        return;
    if (!row || (e && (e->status != IRB_OK || e->warning)) || k->n == (int)(sizeof k->row / sizeof k->row[0]) ||
        dim > c->kept_cap - k->used) {
        k->ok = 0;
        return;
    }
    memcpy(k->data + k->used, row, dim * sizeof(float));
    k->row[k->n++] = (kept_row){input, flipped, k->used, dim};
    k->used += dim;
}

/* The featurizer's rows: its image `index` is list entry skip + index. */
static void on_row(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim, const irb_error *e)
{
    pipe_engine *c = ctx;
    index += c->skip;
    record_row(c, index, input, flipped, row, dim, e);
    take_row(c, index, input, flipped, row, dim, e);
}

/* Starts recording the list's last two entries; a marked one (a batch image, or the last
 * image's next neighbour) is recorded with all its rows. */
static void rec_begin(pipe_engine *c)
{
    const motion_list *l = c->l;
    c->n_rec = !c->kept_cap ? 0 : l->n < 2 ? (int)l->n : 2;
    c->rec_from = l->n - (size_t)c->n_rec;
    for (int t = 0; t < c->n_rec; t++) {
        kept_entry *k = &c->rec[t];
        k->n = 0, k->used = 0, k->ok = 1;
        k->full = l->mark[c->rec_from + (size_t)t];
    }
}

/* After a batch: what it recorded is what the next batch may replay. After a failed batch
 * (ok = 0) nothing is kept. */
static void rec_keep(pipe_engine *c, int ok)
{
    const motion_list *l = c->l;
    for (int t = 0; t < 2; t++) {
        kept_entry was = c->kept[t];
        irb_free(was.path);
        c->kept[t] = c->rec[t];
        c->kept[t].path = ok && t < c->n_rec ? irb_strdup(l->path[c->rec_from + (size_t)t]) : NULL;
        c->rec[t] = (kept_entry){.data = was.data};
    }
}

/* Replays the kept rows of the list's first entries (at most two: this batch's first image's
 * previous neighbour and the first image itself), each while it was kept whole enough for its
 * role here (a batch image needs every row, a neighbour only its maps); c->skip: how many. */
static void replay_kept(pipe_engine *c)
{
    const motion_list *l = c->l;
    c->skip = 0;
    while (c->skip < l->n && c->skip < 2) {
        const kept_entry *k = NULL;
        for (int t = 0; t < 2 && !k; t++)
            if (c->kept[t].path && c->kept[t].ok && (c->kept[t].full || !l->mark[c->skip]) &&
                !strcmp(c->kept[t].path, l->path[c->skip]))
                k = &c->kept[t];
        if (!k)
            return;
        for (int r = 0; r < k->n; r++) {
            const kept_row *kr = &k->row[r];
            record_row(c, c->skip, kr->input, kr->flipped, k->data + kr->at, kr->dim, NULL);
            take_row(c, c->skip, kr->input, kr->flipped, k->data + kr->at, kr->dim, NULL);
        }
        c->skip++;
    }
}

static long list_add(motion_list *l, const char *path)
{
    for (size_t i = l->n; i-- > 0;)
        if (!strcmp(l->path[i], path))
            return (long)i;
    l->path[l->n] = path;
    l->prev[l->n] = l->next[l->n] = -1;
    l->want_k[l->n] = -1;
    l->list[l->n] = l->n;
    l->mark[l->n] = 0;
    return (long)l->n++;
}

/* The list; the last image's next neighbour is marked too (run with its mirrors): it is the
 * next batch's first image, which replays its rows (rec_keep). */
static void build_list(motion_list *l, const irb_cls_item *items, int n)
{
    l->n = 0;
    long x = -1;
    for (int i = 0; i < n; i++) {
        long p = items[i].prev ? list_add(l, items[i].prev) : -1;
        long s = list_add(l, items[i].path);
        x = items[i].next ? list_add(l, items[i].next) : -1;
        l->want_k[s] = i;
        l->mark[s] = 1;
        l->prev[s] = p;
        l->next[s] = x;
    }
    if (x >= 0)
        l->mark[x] = 1;
}

/* The novelty score of each image of the batch from its own row (not its mirror's) of part k,
 * the novelty model's; NaN for an image that failed. The images that did not fail are scored
 * in one call (a score does not depend on which rows are scored together: src/learn/novelty.c). */
static irb_status score_novelty(pipe_engine *c, int k, int n, size_t dim, irb_error *err)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (c->st[i] == IRB_OK)
            memcpy(c->nov_rows + (size_t)m++ * dim, c->feat[k] + (size_t)i * c->width[k], dim * sizeof(float));
    IRB_TRY(irb_novelty_score(c->p->novelty, c->nov_rows, (size_t)m, (int)dim, c->novelty, err));
    for (int i = n; i-- > 0;) /* spread the m scores out, from the end (the j-th scored image is at i >= j) */
        c->novelty[i] = c->st[i] == IRB_OK ? c->novelty[--m] : NAN;
    return IRB_OK;
}

/* Part k's probabilities from its rows: an appearance part's mean over image and mirror. */
static irb_status predict_part(pipe_engine *c, int k, int n, irb_error *err)
{
    const irb_pipeline_part *q = &c->p->parts[k];
    int K = c->p->n_classes;
    if (q->kind == IRB_PART_MOTION)
        return irb_classifier_predict(q->clf, c->feat[k], (size_t)n, (int)c->width[k], c->part_probs[k], err);
    int rows = 1 + c->in[k][0].eo.flip;
    size_t dim = c->width[k] / (size_t)rows;
    IRB_TRY(irb_classifier_predict(q->clf, c->feat[k], (size_t)n * (size_t)rows, (int)dim, c->tmp, err));
    if (c->p->novelty && c->p->novelty->part == k)
        IRB_TRY(score_novelty(c, k, n, dim, err));
    for (int i = 0; i < n; i++)
        for (int m = 0; m < K; m++) {
            double v = c->tmp[((size_t)i * rows) * K + m];
            if (rows == 2)
                v = (v + c->tmp[((size_t)i * 2 + 1) * K + m]) / 2;
            c->part_probs[k][(size_t)i * K + m] = v;
        }
    return IRB_OK;
}

static irb_status pipe_run(void *ctx, const irb_cls_item *items, int n, double *probs, irb_status *st, irb_error *errs,
                           irb_error *err)
{
    pipe_engine *c = ctx;
    motion_list *l = c->l;
    c->st = st, c->errs = errs;
    for (int i = 0; i < n; i++) {
        st[i] = IRB_OK;
        irb_error_clear(&errs[i]);
    }
    build_list(l, items, n);
    for (int k = 0; k < c->p->n_parts; k++) {
        memset(c->feat[k], 0, (size_t)n * c->width[k] * sizeof(float));
        for (int j = 0; j < c->p->parts[k].n_inputs; j++)
            if (c->in[k][j].motion)
                motion_stream_begin(c->in[k][j].motion, l->prev, l->next, l->want_k, l->list, on_motion, c);
    }
    rec_begin(c);
    replay_kept(c);
    irb_status s = irb_featurizer_run(c->fz, l->path + c->skip, l->n - c->skip, l->mark + c->skip, on_row, c, err);
    rec_keep(c, s == IRB_OK);
    IRB_TRY(s);
    c->decoded += (long long)(l->n - c->skip);
    for (int k = 0; k < c->p->n_parts; k++)
        for (int j = 0; j < c->p->parts[k].n_inputs; j++)
            if (c->in[k][j].motion) {
                c->motion_part = k, c->motion_input = j;
                motion_stream_end(c->in[k][j].motion);
            }
    for (int k = 0; k < c->p->n_parts; k++)
        IRB_TRY(predict_part(c, k, n, err));
    irb_pipeline_combine(c->p, (const double *const *)c->part_probs, (size_t)n, probs);
    return IRB_OK;
}

/* One featurizer over every input of every part, and each part's row buffer. */
static irb_status make_featurizer(pipe_engine *c, irb_error *err)
{
    irb_feat_input *fin = c->fin;
    int K = c->p->n_classes;
    c->n_fin = 0;
    for (int k = 0; k < c->p->n_parts; k++) {
        const irb_pipeline_part *q = &c->p->parts[k];
        const pipe_input *first = &c->in[k][0];
        size_t row = first->served ? (size_t)first->channels : first->net ? irb_net_output_size(first->net) : 0;
        c->width[k] =
            q->kind == IRB_PART_MOTION ? (size_t)MOTION_DIM * (size_t)q->n_inputs : row * (size_t)(1 + q->mirror);
        if (!(c->feat[k] = irb_malloc_large(IRB_CLS_RUN_MAX, c->width[k] * sizeof(float))) ||
            !(c->part_probs[k] = irb_malloc_array(IRB_CLS_RUN_MAX, (size_t)K * sizeof(double))))
            return irb_fail(err, IRB_NOMEM, "out of memory");
        for (int j = 0; j < q->n_inputs; j++) {
            const pipe_input *in = &c->in[k][j];
            if (in->served)
                continue; /* its rows come from the motion input's pass */
            fin[c->n_fin] = (irb_feat_input){.net = in->net,
                                             .pp = in->eo.pp,
                                             .flip = in->eo.flip,
                                             .all = q->kind == IRB_PART_MOTION,
                                             .mirror_marked = 1};
            c->fin_part[c->n_fin] = k, c->fin_input[c->n_fin] = j;
            c->n_fin++;
        }
    }
    c->kept_cap = 0; /* rows are kept across batches for motion parts' neighbours only */
    for (int j = 0; irb_cls_real_neighbours(c) && j < c->n_fin; j++)
        c->kept_cap += irb_net_output_size(fin[j].net) * (size_t)(1 + (fin[j].flip == 1));
    for (int t = 0; c->kept_cap && t < 2; t++)
        if (!(c->kept[t].data = irb_malloc_large(c->kept_cap, sizeof(float))) ||
            !(c->rec[t].data = irb_malloc_large(c->kept_cap, sizeof(float))))
            return irb_fail(err, IRB_NOMEM, "out of memory");
    if (!(c->l = irb_malloc(sizeof *c->l)) ||
        !(c->tmp = irb_malloc_array(2 * IRB_CLS_RUN_MAX, (size_t)K * sizeof(double))) ||
        !(c->novelty = irb_malloc_array(IRB_CLS_RUN_MAX, sizeof(double))) ||
        (c->p->novelty &&
         !(c->nov_rows = irb_malloc_array(IRB_CLS_RUN_MAX, (size_t)c->p->novelty->dim * sizeof(float)))))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    irb_featurizer_opts fo = {.threads = c->o->threads, .batch = c->batch};
    return irb_featurizer_new(fin, c->n_fin, &fo, &c->fz, err);
}

/* Every input's net, built on the run's threads at once: compiling one (its primitives, its packed
 * weights) is single-threaded, and a pipeline of three sizes spent 0.2 s on its three in a row.
 * The nets share nothing but the model, which they only read. The first failure, in input order,
 * is the one reported. */
typedef struct build_job {
    pipe_engine *c;
    const irb_model_t *model;
    int n, k[IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS], j[IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS];
    irb_status s[IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS];
    irb_error err[IRB_PIPELINE_MAX_PARTS * IRB_PIPELINE_MAX_INPUTS];
    atomic_int next;
} build_job;

static void build_worker(void *ctx, int ith, int nth)
{
    (void)ith, (void)nth;
    build_job *b = ctx;
    for (int i; (i = atomic_fetch_add(&b->next, 1)) < b->n;)
        b->s[i] =
            build_input(b->c, b->model, &b->c->p->parts[b->k[i]], b->j[i], &b->c->in[b->k[i]][b->j[i]], &b->err[i]);
}

static irb_status build_inputs(pipe_engine *c, const irb_model_t *model, irb_error *err)
{
    build_job *b = irb_calloc(1, sizeof *b);
    if (!b)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    b->c = c, b->model = model;
    for (int k = 0; k < c->p->n_parts; k++)
        for (int j = 0; j < c->p->parts[k].n_inputs; j++)
            b->k[b->n] = k, b->j[b->n++] = j;
    atomic_init(&b->next, 0);
    int nets = 0;
    for (int i = 0; i < b->n; i++)
        nets += !c->in[b->k[i]][b->j[i]].served;
    int threads = c->o->threads > 0 ? c->o->threads : irb_cpu_count();
    irb_pool *pool = nets > 1 && threads > 1 ? irb_pool_new(threads < nets ? threads : nets) : NULL;
    irb_pool_run(pool, build_worker, b); /* without a pool (one thread, or none to start): in a row */
    irb_pool_free(pool);
    irb_status s = IRB_OK;
    for (int i = 0; i < b->n && s == IRB_OK; i++)
        if ((s = b->s[i]) != IRB_OK)
            irb_error_copy(err, &b->err[i]);
    irb_free(b);
    return s;
}

static irb_status make_engine(void *user, irb_cls_engine *e, irb_error *err)
{
    pipe_engine *c = user;
    irb_model_t *model = c->model;
    c->model = NULL;
    irb_model_opts mo = {.sha256 = c->model_sha}; /* a second engine: the same model as the first */
    irb_status s = model ? IRB_OK : irb_model_load(c->model_path, &mo, &model, err);
    int motion = 0;
    for (int k = 0; s == IRB_OK && k < c->p->n_parts; k++) {
        const irb_pipeline_part *q = &c->p->parts[k];
        motion |= q->kind == IRB_PART_MOTION;
        for (int j = 0; s == IRB_OK && j < q->n_inputs; j++)
            s = input_preproc(c, model, q, j, &c->in[k][j], err);
    }
    if (s == IRB_OK) {
        plan_shared(c, irb_model_info_get(model));
        s = build_inputs(c, model, err);
    }
    irb_model_free(model);
    if (s == IRB_OK)
        s = make_featurizer(c, err);
    if (s != IRB_OK) {
        pipe_release(c);
        return s;
    }
    memset(e, 0, sizeof *e);
    e->ctx = c;
    e->n_classes = c->p->n_classes;
    e->classes = (const char *const *)c->p->classes;
    e->classified_by = c->classified_by;
    e->run = pipe_run;
    e->neighbours = motion;
    c->decoded = 0;
    e->decoded = &c->decoded;
    e->novelty = c->p->novelty ? c->novelty : NULL;
    e->free = pipe_release;
    return IRB_OK;
}

/* ---- the sources of a run ------------------------------------------------------------------ */

irb_status irb_cls_real_scanner(void *user, irb_cls_scanner *sc, irb_error *err)
{
    pipe_engine *c = user;
    return irb_cls_scanner_open(c->o, sc, err);
}

irb_status irb_cls_real_engine(void *user, irb_cls_engine *engine, irb_error *err)
{
    return make_engine(user, engine, err);
}

/* The run's precision; a run at another one than the pipeline's is another classifier for the
 * store (its results are not mixed with the pipeline's own on resume). */
static irb_status run_precision(pipe_engine *c, irb_error *err)
{
    const irb_pipeline *p = c->p;
    c->precision = c->o->precision >= 0 ? (irb_precision)c->o->precision : p->precision;
    if (c->precision != p->precision) {
        size_t l = strlen(c->pipe_sha);
        snprintf(c->pipe_sha + l, sizeof c->pipe_sha - l, "+%s", irb_precision_name(c->precision));
    }
    if (c->precision == IRB_PRECISION_INT8 && p->version == 1) /* its size reads 0: say what the file is */
        return irb_fail(err, IRB_INVALID_ARG,
                        "%s is a classifier of irbis train FEATURES, which has no int8 calibration table: int8 "
                        "needs a pipeline trained with --precision int8 (irbis train --images); use --precision "
                        "fp32 or bf16 with this file",
                        c->file);
    for (int k = 0; c->precision == IRB_PRECISION_INT8 && k < p->n_parts; k++)
        for (int j = 0; j < p->parts[k].n_inputs; j++)
            if (!irb_pipeline_calib(p, p->parts[k].sizes[j])) /* docs/int8.md: tables are made at training */
                return irb_fail(err, IRB_INVALID_ARG,
                                "%s has no int8 calibration table for input size %d: train it "
                                "with --precision int8 (it was trained at %s)",
                                c->file, p->parts[k].sizes[j], irb_precision_name(p->precision));
    return IRB_OK;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

irb_status irb_cls_real_new(const irb_classify_opts *o, irb_cls_real **out, irb_error *err)
{
    *out = NULL;
    const char *file = o ? (o->pipeline_path ? o->pipeline_path : o->classifier_path) : NULL;
    if (!file)
        return irb_fail(err, IRB_INVALID_ARG, "classify needs a pipeline or a classifier");
    if (!o->pipeline_path && !o->model_path)
        return irb_fail(err, IRB_INVALID_ARG, "classify needs a model and a classifier");
    pipe_engine *c = irb_calloc(1, sizeof *c);
    if (!c)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    c->o = o;
    c->file = file;
    c->batch = o->batch > 0 ? o->batch : 16;
    irb_status s = irb_pipeline_load(file, &c->p, err);
    if (s == IRB_OK) /* the file is read once: the load hashes the bytes it parses */
        snprintf(c->pipe_sha, sizeof c->pipe_sha, "%s", c->p->file_sha256);
    if (s == IRB_OK)
        s = find_model(c, err);
    if (s == IRB_OK)
        s = run_precision(c, err);
    if (s == IRB_OK && c->p->version == 1) /* a classifier file: named as before pipelines */
        snprintf(c->classified_by, sizeof c->classified_by, "irbis %s (%.160s + %.160s)", irb_version(),
                 base_name(c->model_path), base_name(file));
    else if (s == IRB_OK)
        snprintf(c->classified_by, sizeof c->classified_by, "irbis %s (%.160s + %.160s, %.40s%s%s)", irb_version(),
                 base_name(c->model_path), base_name(file), c->p->row, c->precision ? ", " : "",
                 c->precision ? irb_precision_name(c->precision) : "");
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
    pipe_release(c);
    irb_model_free(c->model);
    irb_pipeline_free(c->p);
    irb_free(c);
}

void irb_cls_real_ids(const irb_cls_real *c, irb_cls_sources *src)
{
    src->model_id = c->model_sha;
    src->classifier_id = c->pipe_sha;
    src->n_classes = c->p->n_classes;
    src->classes = (const char *const *)c->p->classes;
    src->classified_by = c->classified_by;
    src->file_precision = irb_precision_name(c->p->precision);
    src->has_novelty = c->p->novelty != NULL;
    src->neighbours = irb_cls_real_neighbours(c);
}

void irb_cls_real_resolve(const irb_cls_real *c, irb_classify_opts *o)
{
    if (o->min_confidence < 0)
        o->min_confidence = c->p->min_confidence;
    if (o->novelty_threshold < 0)
        o->novelty_threshold = c->p->novelty ? c->p->novelty->threshold : 0;
}

int irb_cls_real_neighbours(const irb_cls_real *c)
{
    for (int k = 0; k < c->p->n_parts; k++)
        if (c->p->parts[k].kind == IRB_PART_MOTION)
            return 1;
    return 0;
}

irb_status irb_classify_run(const irb_classify_opts *o, irb_classify_summary *sum, irb_error *err)
{
    irb_cls_real *c = NULL;
    IRB_TRY(irb_cls_real_new(o, &c, err));
    irb_cls_sources src = {.make_scanner = irb_cls_real_scanner, .make_engine = irb_cls_real_engine, .user = c};
    irb_cls_real_ids(c, &src);
    irb_classify_opts resolved = *o; /* the pipeline's defaults where o leaves them (negative) */
    irb_cls_real_resolve(c, &resolved);
    irb_status s = irb_classify_run_sources(&resolved, &src, sum, err);
    irb_cls_real_free(c);
    return s;
}

int irb_cls_real_inputs(void *engine_ctx, const irb_feat_input **inputs)
{
    const pipe_engine *c = engine_ctx;
    *inputs = c->fin;
    return c->n_fin;
}

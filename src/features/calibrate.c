/* Calibration from image files (docs/int8.md): the fp32 net, recording, over a spread sample of
 * the images, decoded and preprocessed as the int8 runs will be. The images go through the one
 * featurizer without a net (its rows are the preprocessed tensors, decoded on its threads), and
 * each decoded image is run here, one per run: a file that fails must not reach the net (the
 * featurizer's nets would run its slot as zeros, and zeros would be recorded). */
#include "core/alloc.h"
#include "core/error.h"
#include "irbis/features.h"

typedef struct record_ctx {
    irb_net_t *net;
    const size_t *at; /* sample -> index into the caller's paths */
    float *y;
    irb_calib_fn fn;
    void *ctx;
    irb_status s;
    irb_error *err;
} record_ctx;

static void on_image(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim, const irb_error *e)
{
    record_ctx *r = ctx;
    (void)input, (void)flipped, (void)dim;
    if (r->s != IRB_OK)
        return;
    if (r->fn && (!row || (e && e->warning)))
        r->fn(r->ctx, r->at[index], e);
    if (row && irb_net_run(r->net, row, 1, r->y) != IRB_OK) {
        irb_error_copy(r->err, irb_net_error(r->net));
        r->s = irb_net_error(r->net)->status;
    }
}

/* Runs k images evenly spread over paths[0..n) (every camera and time of day, not the first
 * folder) through net, in order. */
static irb_status record(irb_net_t *net, const irb_preproc *pp, const char *const *paths, size_t n, size_t k,
                         irb_calib_fn fn, void *ctx, irb_error *err)
{
    size_t *at = irb_malloc_array(k, sizeof *at);
    const char **sample = irb_malloc_array(k, sizeof *sample);
    float *y = irb_malloc_array(irb_net_output_size(net), sizeof *y);
    irb_featurizer *f = NULL;
    irb_feat_input in = {.net = NULL, .pp = *pp, .flip = 0, .all = 1};
    irb_featurizer_opts fo = {.threads = 0, .batch = 16};
    irb_status s = at && sample && y ? IRB_OK : irb_fail(err, IRB_NOMEM, "out of memory");
    for (size_t i = 0; s == IRB_OK && i < k; i++)
        sample[i] = paths[at[i] = i * n / k];
    if (s == IRB_OK)
        s = irb_featurizer_new(&in, 1, &fo, &f, err);
    record_ctx r = {net, at, y, fn, ctx, IRB_OK, err};
    if (s == IRB_OK)
        s = irb_featurizer_run(f, sample, k, NULL, on_image, &r, err);
    if (s == IRB_OK)
        s = r.s;
    irb_featurizer_free(f);
    irb_free(at), irb_free(sample), irb_free(y);
    return s;
}

irb_status irb_calibrate_files(const irb_model_t *m, const irb_net_opts *no, const irb_preproc *pp,
                               const char *const *paths, size_t n, size_t count, irb_calib_t *cal, irb_calib_fn fn,
                               void *ctx, irb_error *err)
{
    if (!m || !no || !pp || (!paths && n) || !cal)
        return irb_fail(err, IRB_INVALID_ARG, "calibrate_files: NULL argument");
    size_t k = n < count ? n : count;
    if (k == 0)
        return irb_fail(err, IRB_INVALID_ARG, "calibration needs at least one image");
    irb_net_opts ro = *no;
    ro.record = cal;
    ro.precision = IRB_PRECISION_FP32;
    ro.engine = IRB_ENGINE_AUTO;
    ro.calib = NULL;
    ro.max_batch = 1;
    ro.channels_last = 0; /* its rows are the CHW tensors irb_preprocess_file writes */
    irb_net_t *net = NULL;
    IRB_TRY(irb_net_new(m, &ro, &net, err));
    long before = irb_calib_images(cal);
    irb_preproc p = *pp;
    p.flip = 0;
    irb_status s = record(net, &p, paths, n, k, fn, ctx, err);
    if (s == IRB_OK && irb_calib_images(cal) == before)
        s = irb_fail(err, IRB_CORRUPT, "calibration: none of the %zu images could be read", k);
    irb_net_free(net);
    return s;
}

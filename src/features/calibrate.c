/* Calibration from image files (docs/int8.md): the fp32 net, recording, over a spread sample of
 * the images, decoded and preprocessed as the int8 runs will be. One image per run: a file that
 * fails must not reach the net (irb_extract would run its slot as zeros, and zeros would be
 * recorded). */
#include "core/alloc.h"
#include "core/error.h"
#include "irbis/features.h"

static irb_status record(irb_net_t *net, irb_decoder_t *dec, const irb_preproc *pp, const char *const *paths, size_t n,
                         size_t k, irb_calib_fn fn, void *ctx, irb_error *err)
{
    int c, h, w;
    irb_net_input_shape(net, &c, &h, &w);
    float *x = irb_malloc_array((size_t)c * h * w, sizeof *x);
    float *y = irb_malloc_array(irb_net_output_size(net), sizeof *y);
    irb_status s = x && y ? IRB_OK : irb_fail(err, IRB_NOMEM, "out of memory");
    for (size_t i = 0; s == IRB_OK && i < k; i++) {
        size_t at = i * n / k; /* evenly spread: every camera and time of day, not the first folder */
        irb_status d = irb_preprocess_file(dec, paths[at], pp, x, NULL);
        const irb_error *e = irb_decoder_error(dec);
        if (fn && (d != IRB_OK || e->warning))
            fn(ctx, at, e);
        if (d == IRB_OK && irb_net_run(net, x, 1, y) != IRB_OK) {
            irb_error_copy(err, irb_net_error(net));
            s = irb_net_error(net)->status;
        }
    }
    irb_free(x);
    irb_free(y);
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
    irb_net_t *net = NULL;
    irb_decoder_t *dec = NULL;
    IRB_TRY(irb_net_new(m, &ro, &net, err));
    long before = irb_calib_images(cal);
    irb_preproc p = *pp;
    p.flip = 0;
    irb_status s = irb_decoder_new(&dec) == IRB_OK ? IRB_OK : irb_fail(err, IRB_NOMEM, "out of memory");
    if (s == IRB_OK)
        s = record(net, dec, &p, paths, n, k, fn, ctx, err);
    if (s == IRB_OK && irb_calib_images(cal) == before)
        s = irb_fail(err, IRB_CORRUPT, "calibration: none of the %zu images could be read", k);
    irb_decoder_free(dec);
    irb_net_free(net);
    return s;
}

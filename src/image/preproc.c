/* File -> network input in one call. All geometry is worked out in full-scale (oriented) pixel
 * coordinates first; the JPEG is then decoded at the smallest DCT scale that keeps the final
 * crop at least N x N, and the crop box is mapped onto the decoded pixels, so the resampling
 * kernel is the same as PIL's full-size resize followed by a crop. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "image/internal.h"

typedef struct {
    double x0, y0, x1, y1;
} box;

irb_preproc irb_preproc_default(int n)
{
    irb_preproc pp = {.size = n,
                      .mode = IRB_RESIZE_CROP_FRACTION,
                      .crop_fraction = 0.875,
                      .short_side = n * 8 / 7,
                      .filter = IRB_FILTER_BILINEAR,
                      .scales = IRB_DCT_FAST};
    for (int c = 0; c < 3; c++) {
        pp.mean[c] = 128.0f;
        pp.scale[c] = 128.0f;
    }
    return pp;
}

/* Python's round(): ties to even (the default floating-point rounding mode). */
static double round_even(double v) { return nearbyint(v); }

/* The source box of the N x N output inside the W x H image with rows [top, H - bottom) kept. */
static box region(int W, int H, int top, int bottom, const irb_preproc *pp)
{
    int N = pp->size;
    double hc = H - top - bottom;
    box b = {0, top, W, top + hc};
    if (pp->mode == IRB_RESIZE_CROP_FRACTION) {
        double f = pp->crop_fraction > 0 && pp->crop_fraction <= 1 ? pp->crop_fraction : 1.0;
        int cw = (int)round_even(W * f), ch = (int)round_even(hc * f);
        cw = cw < 1 ? 1 : cw;
        ch = ch < 1 ? 1 : ch;
        int left = (W - cw) / 2, up = ((int)hc - ch) / 2;
        b = (box){left, top + up, left + cw, top + up + ch};
    } else if (pp->mode == IRB_RESIZE_SHORT_CROP) {
        /* PIL: resize to (max(N, round(W*s)), max(N, round(hc*s))), then crop N x N centred */
        double S = pp->short_side > 0 ? pp->short_side : N, s = S / (W < hc ? W : hc);
        double rw = fmax(N, round_even(W * s)), rh = fmax(N, round_even(hc * s));
        /* in doubles: an image 300000 x 1 at short side 8192 is 2.5e9 wide here, beyond int */
        double left = floor((rw - N) / 2), up = floor((rh - N) / 2);
        double sx = W / rw, sy = hc / rh;
        b = (box){left * sx, top + up * sy, (left + N) * sx, top + (up + N) * sy};
    }
    return b;
}

irb_status irb__preproc_check(const irb_preproc *pp, const char *name, irb_status bad, irb_error *err)
{
    if (pp->size <= 0 || pp->size > 16384)
        return irb_fail(err, bad, "%s: output size %d out of range", name, pp->size);
    if (pp->decode_size < 0 || pp->decode_size > 16384)
        return irb_fail(err, bad, "%s: decode size %d out of range", name, pp->decode_size);
    if (pp->flip < 0 || pp->flip > 2)
        return irb_fail(err, bad, "%s: flip must be 0, 1 or 2 (got %d)", name, pp->flip);
    if (pp->channels_last < 0 || pp->channels_last > 1)
        return irb_fail(err, bad, "%s: channels_last must be 0 or 1 (got %d)", name, pp->channels_last);
    if ((unsigned)pp->mode > IRB_RESIZE_SQUASH || (unsigned)pp->filter > IRB_FILTER_BOX ||
        (unsigned)pp->strips > IRB_STRIPS_AUTO)
        return irb_fail(err, bad, "%s: resize mode %d, filter %d or strips %d is not one irbis has", name,
                        (int)pp->mode, (int)pp->filter, (int)pp->strips);
    if (pp->mode == IRB_RESIZE_CROP_FRACTION && !(pp->crop_fraction >= 0 && pp->crop_fraction <= 1))
        return irb_fail(err, bad, "%s: crop fraction %g outside [0, 1] (0: the whole frame)", name, pp->crop_fraction);
    if (pp->mode == IRB_RESIZE_SHORT_CROP && (pp->short_side < 0 || pp->short_side > 16384))
        return irb_fail(err, bad, "%s: short side %d out of range (0: the output size)", name, pp->short_side);
    if (pp->strips == IRB_STRIPS_FIXED &&
        !(pp->strip_top >= 0 && pp->strip_top < 0.5 && pp->strip_bottom >= 0 && pp->strip_bottom < 0.5))
        return irb_fail(err, bad, "%s: strip fractions %g/%g outside [0, 0.5)", name, pp->strip_top, pp->strip_bottom);
    if (pp->max_pixels < 0)
        return irb_fail(err, bad, "%s: a negative pixel limit (%lld)", name, pp->max_pixels);
    if ((unsigned)pp->scales > IRB_DCT_FAST)
        return irb_fail(err, bad, "%s: DCT scales %d is not one irbis has", name, (int)pp->scales);
    return IRB_OK;
}

static void strips_fixed(const irb_preproc *pp, int H, int *t, int *b)
{
    *t = (int)round_even(H * pp->strip_top);
    *b = (int)round_even(H * pp->strip_bottom);
}

/* Detects strips on a decode of about 256 rows (kept in *small) and scales them to full rows,
 * rounding outwards. */
static irb_status strips_auto(irb_decoder_t *dec, const char *path, const irb_decode_opts *o, int H, irb_image *small,
                              int *t, int *b)
{
    irb_decode_opts d = *o;
    d.target_height = H < 256 ? H : 256;
    IRB_TRY(irb_decode_memory(dec, dec->file, dec->file_len, path, &d, small));
    int st, sb;
    irb_detect_info_strips(small, &st, &sb);
    *t = (int)ceil((double)st * H / small->height);
    *b = (int)ceil((double)sb * H / small->height);
    return IRB_OK;
}

static int covers(const irb_image *img, int tw, int th) { return img->width >= tw && img->height >= th; }

/* The decodes one image's preprocessings share: the small strip-detection decode, and one
 * decode per DCT scale (two preprocessings whose targets pick the same scale get the same
 * pixels, so each gets exactly what a call of its own would have). */
#define MAX_DECODES 8
typedef struct {
    irb_image small;     /* IRB_STRIPS_AUTO's decode of about 256 rows, when made */
    irb_error small_err; /* its decode's warning */
    int small_top, small_bottom, small_num, small_den;
    irb_image img[MAX_DECODES];
    int num[MAX_DECODES], den[MAX_DECODES];
    irb_error err[MAX_DECODES];
    int n;
} decodes;

static void decodes_release(decodes *d)
{
    irb_image_release(&d->small);
    for (int i = 0; i < d->n; i++)
        irb_image_release(&d->img[i]);
}

/* The DCT scale a decode with o picks for the loaded file (PNG: 1/1). */
static void decode_scale(const irb_decoder_t *dec, const irb_decode_opts *o, int *num, int *den)
{
    *num = *den = 1;
    if (dec->info.format == IRB_FORMAT_JPEG)
        irb__jpeg_scale(dec->info.stored_width, dec->info.stored_height, dec->info.orientation, o, num, den);
}

/* The decoded image pp resizes from: the strip-detection decode when it covers the target (as
 * a call of its own would reuse it), else the decode at the target's DCT scale (made once). */
static irb_status source(irb_decoder_t *dec, const char *path, const irb_preproc *pp, irb_decode_opts o, int tw, int th,
                         decodes *d, const irb_image **src)
{
    if (pp->strips == IRB_STRIPS_AUTO && d->small.data && !pp->full_decode && covers(&d->small, tw, th)) {
        dec->err = d->small_err;
        dec->info.scale_num = d->small_num, dec->info.scale_denom = d->small_den;
        *src = &d->small;
        return IRB_OK;
    }
    o.target_width = pp->full_decode ? 0 : tw;
    o.target_height = pp->full_decode ? 0 : th;
    int num, den;
    decode_scale(dec, &o, &num, &den);
    for (int i = 0; i < d->n; i++)
        if (d->num[i] == num && d->den[i] == den) {
            dec->err = d->err[i];
            dec->info.scale_num = num, dec->info.scale_denom = den;
            *src = &d->img[i];
            return IRB_OK;
        }
    if (d->n == MAX_DECODES)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "%s: more than %d decodes of one image", path, MAX_DECODES);
    IRB_TRY(irb_decode_memory(dec, dec->file, dec->file_len, path, &o, &d->img[d->n]));
    d->num[d->n] = num, d->den[d->n] = den, d->err[d->n] = dec->err;
    *src = &d->img[d->n++];
    return IRB_OK;
}

/* One preprocessing of the loaded file (W x H, oriented) into out. */
static irb_status run_one(irb_decoder_t *dec, const char *path, const irb_preproc *pp, const irb_decode_opts *o,
                          decodes *d, irb_image *out)
{
    int W = dec->info.width, H = dec->info.height, t = 0, b = 0;
    if (pp->strips == IRB_STRIPS_FIXED) {
        strips_fixed(pp, H, &t, &b);
    } else if (pp->strips == IRB_STRIPS_AUTO) {
        if (!d->small.data) {
            IRB_TRY(strips_auto(dec, path, o, H, &d->small, &d->small_top, &d->small_bottom));
            d->small_err = dec->err;
            d->small_num = dec->info.scale_num, d->small_den = dec->info.scale_denom;
        }
        t = d->small_top, b = d->small_bottom;
    }
    if (t + b > H - 2)
        t = b = 0;
    box r = region(W, H, t, b, pp);
    /* the decode's target: this output's, or decode_size's (the same geometry at that size) */
    irb_preproc at = *pp;
    at.size = pp->decode_size > pp->size ? pp->decode_size : pp->size;
    box rd = at.size == pp->size ? r : region(W, H, t, b, &at);
    /* the decode's target; beyond the image it means full scale (and beyond int for a sliver) */
    int tw = (int)fmin(ceil(at.size * W / (rd.x1 - rd.x0)), 2.0 * W + at.size),
        th = (int)fmin(ceil(at.size * H / (rd.y1 - rd.y0)), 2.0 * H + at.size);
    const irb_image *img = NULL;
    IRB_TRY(source(dec, path, pp, *o, tw, th, d, &img));
    double sx = (double)img->width / W, sy = (double)img->height / H;
    box s = {r.x0 * sx, r.y0 * sy, fmin(r.x1 * sx, img->width), fmin(r.y1 * sy, img->height)};
    irb_error keep = dec->err; /* a decode warning survives the resize */
    /* crop-fraction: kernels clamped to the crop, like PIL's crop().resize() */
    IRB_TRY(irb__resize_clamped(img, s.x0, s.y0, s.x1, s.y1, pp->mode == IRB_RESIZE_CROP_FRACTION, pp->size, pp->size,
                                pp->filter, out, &dec->err));
    dec->err = keep;
    if (pp->flip == 1)
        irb_image_flip(out);
    dec->info.crop_top = t;
    dec->info.crop_bottom = b;
    return IRB_OK;
}

/* Loads path once and runs each preprocessing on it: outs[j] (images) or chw[j] (tensors). */
static irb_status run(irb_decoder_t *dec, const char *path, const irb_preproc *pps, int n, irb_image *outs,
                      float *const *chw, irb_image_info *info)
{
    irb_decode_opts o = {.max_pixels = pps[0].max_pixels, .scales = pps[0].scales};
    for (int j = 0; j < n; j++) {
        IRB_TRY(irb__preproc_check(&pps[j], path, IRB_INVALID_ARG, &dec->err));
        if (pps[j].max_pixels != pps[0].max_pixels || pps[j].scales != pps[0].scales)
            return irb_fail(&dec->err, IRB_INVALID_ARG, "%s: preprocessings with different pixel limits or DCT scales",
                            path);
    }
    IRB_TRY(irb__load_file(dec, path));
    IRB_TRY(irb_read_header_memory(dec, dec->file, dec->file_len, path, &o, NULL));
    decodes d = {0};
    irb_status s = IRB_OK;
    irb_error warning = {0};
    for (int j = 0; j < n && s == IRB_OK; j++) {
        irb_image one = {0}, *img = outs ? &outs[j] : &one;
        if ((s = run_one(dec, path, &pps[j], &o, &d, img)) == IRB_OK && chw)
            (pps[j].channels_last ? irb__image_to_hwc : irb__image_to_chw)(
                img, pps[j].mean, pps[j].scale, chw[j],
                pps[j].flip == 2 ? chw[j] + (size_t)3 * img->width * img->height : NULL);
        irb_image_release(&one);
        if (s == IRB_OK && dec->err.warning && !warning.warning)
            warning = dec->err;
    }
    decodes_release(&d);
    if (s != IRB_OK)
        return s;
    if (warning.warning)
        dec->err = warning;
    if (info)
        *info = dec->info;
    return IRB_OK;
}

irb_status irb_preprocess_image(irb_decoder_t *dec, const char *path, const irb_preproc *pp, irb_image *img,
                                irb_image_info *info)
{
    if (!dec)
        return IRB_INVALID_ARG;
    irb_error_clear(&dec->err);
    if (!path || !pp || !img)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "preprocess: NULL argument");
    if (pp->flip == 2)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "%s: flip 2 (a tensor and its mirror) needs tensor outputs", path);
    memset(img, 0, sizeof *img);
    irb_status s = run(dec, path, pp, 1, img, NULL, info);
    if (s != IRB_OK)
        irb_image_release(img);
    return s;
}

irb_status irb_preprocess_file(irb_decoder_t *dec, const char *path, const irb_preproc *pp, float *out,
                               irb_image_info *info)
{
    return irb_preprocess_multi(dec, path, pp, 1, &out, info);
}

irb_status irb_preprocess_multi(irb_decoder_t *dec, const char *path, const irb_preproc *pps, int n, float *const *outs,
                                irb_image_info *info)
{
    if (!dec)
        return IRB_INVALID_ARG;
    irb_error_clear(&dec->err);
    if (!path || !pps || n < 1 || !outs)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "preprocess: NULL argument");
    for (int j = 0; j < n; j++)
        if (!outs[j])
            return irb_fail(&dec->err, IRB_INVALID_ARG, "preprocess: NULL output");
    return run(dec, path, pps, n, NULL, outs, info);
}

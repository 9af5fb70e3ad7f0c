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
    irb_preproc pp = {.size = n, .mode = IRB_RESIZE_CROP_FRACTION, .crop_fraction = 0.875,
                      .filter = IRB_FILTER_BILINEAR};
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
        int left = ((int)rw - N) / 2, up = ((int)rh - N) / 2;
        double sx = W / rw, sy = hc / rh;
        b = (box){left * sx, top + up * sy, (left + N) * sx, top + (up + N) * sy};
    }
    return b;
}

static irb_status strips_fixed(irb_decoder_t *dec, const char *path, const irb_preproc *pp, int H, int *t, int *b)
{
    if (!(pp->strip_top >= 0 && pp->strip_top < 0.5 && pp->strip_bottom >= 0 && pp->strip_bottom < 0.5))
        return irb_fail(&dec->err, IRB_INVALID_ARG, "%s: strip fractions %g/%g outside [0, 0.5)", path,
                        pp->strip_top, pp->strip_bottom);
    *t = (int)round_even(H * pp->strip_top);
    *b = (int)round_even(H * pp->strip_bottom);
    return IRB_OK;
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

static irb_status run(irb_decoder_t *dec, const char *path, const irb_preproc *pp, irb_image *out,
                      irb_image_info *info)
{
    if (pp->size <= 0 || pp->size > 16384)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "%s: output size %d out of range", path, pp->size);
    irb_decode_opts o = {.max_pixels = pp->max_pixels};
    IRB_TRY(irb__load_file(dec, path));
    IRB_TRY(irb_read_header_memory(dec, dec->file, dec->file_len, path, &o, NULL));
    int W = dec->info.width, H = dec->info.height, t = 0, b = 0;
    irb_image img = {0};
    if (pp->strips == IRB_STRIPS_FIXED)
        IRB_TRY(strips_fixed(dec, path, pp, H, &t, &b));
    else if (pp->strips == IRB_STRIPS_AUTO)
        IRB_TRY(strips_auto(dec, path, &o, H, &img, &t, &b));
    if (t + b > H - 2)
        t = b = 0;
    box r = region(W, H, t, b, pp);
    int tw = (int)ceil(pp->size * W / (r.x1 - r.x0)), th = (int)ceil(pp->size * H / (r.y1 - r.y0));
    if (!img.data || pp->full_decode || !covers(&img, tw, th)) {
        irb_image_release(&img);
        o.target_width = pp->full_decode ? 0 : tw;
        o.target_height = pp->full_decode ? 0 : th;
        IRB_TRY(irb_decode_memory(dec, dec->file, dec->file_len, path, &o, &img));
    }
    double sx = (double)img.width / W, sy = (double)img.height / H;
    box s = {r.x0 * sx, r.y0 * sy, fmin(r.x1 * sx, img.width), fmin(r.y1 * sy, img.height)};
    irb_error keep = dec->err; /* a decode warning survives the resize */
    /* crop-fraction: kernels clamped to the crop, like PIL's crop().resize() */
    irb_status st = irb__resize_clamped(&img, s.x0, s.y0, s.x1, s.y1, pp->mode == IRB_RESIZE_CROP_FRACTION,
                                        pp->size, pp->size, pp->filter, out, &dec->err);
    irb_image_release(&img);
    if (st != IRB_OK)
        return st;
    dec->err = keep;
    if (pp->flip)
        irb_image_flip(out);
    dec->info.crop_top = t;
    dec->info.crop_bottom = b;
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
    memset(img, 0, sizeof *img);
    irb_status s = run(dec, path, pp, img, info);
    if (s != IRB_OK)
        irb_image_release(img);
    return s;
}

irb_status irb_preprocess_file(irb_decoder_t *dec, const char *path, const irb_preproc *pp, float *out,
                               irb_image_info *info)
{
    if (dec && !out)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "preprocess: NULL output");
    irb_image img = {0};
    IRB_TRY(irb_preprocess_image(dec, path, pp, &img, info));
    irb_image_to_chw(&img, pp->mean, pp->scale, out);
    irb_image_release(&img);
    return IRB_OK;
}

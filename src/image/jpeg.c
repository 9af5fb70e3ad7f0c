/* JPEG pixels through TurboJPEG, decoded in the DCT domain at the smallest scale that still
 * covers the requested size. CMYK/YCCK files are decoded as CMYK and converted to RGB the way
 * PIL does (Adobe files store inverted CMYK). */
#include <string.h>

#include <turbojpeg.h>

#include "core/error.h"
#include "image/internal.h"

static int scaled(int dim, tjscalingfactor f) { return (int)(((long long)dim * f.num + f.denom - 1) / f.denom); }

static int covers(int w, int h, tjscalingfactor f, int tw, int th, int tshort)
{
    int sw = scaled(w, f), sh = scaled(h, f);
    return sw >= tw && sh >= th && (sw < sh ? sw : sh) >= tshort;
}

/* The smallest factor <= 1 whose result covers the target (targets in stored orientation); with
 * IRB_DCT_FAST, of the factors 1/n only (libjpeg-turbo's SIMD ones). */
static tjscalingfactor choose_scale(int w, int h, int tw, int th, int tshort, irb_dct_scales scales)
{
    tjscalingfactor best = {1, 1};
    if (tw <= 0 && th <= 0 && tshort <= 0)
        return best; /* no target: full scale */
    int n = 0;
    tjscalingfactor *f = tjGetScalingFactors(&n);
    for (int i = 0; f && i < n; i++) {
        if (f[i].num > f[i].denom || f[i].num <= 0 || (scales == IRB_DCT_FAST && f[i].num != 1))
            continue;
        if (covers(w, h, f[i], tw, th, tshort) && (long long)f[i].num * best.denom < (long long)best.num * f[i].denom)
            best = f[i];
    }
    return best;
}

void irb__jpeg_scale(int w, int h, int orientation, const irb_decode_opts *opts, int *num, int *denom)
{
    int swap = orientation >= 5 && !opts->keep_orientation;
    int tw = swap ? opts->target_height : opts->target_width, th = swap ? opts->target_width : opts->target_height;
    tjscalingfactor f = choose_scale(w, h, tw, th, opts->target, opts->scales);
    *num = f.num;
    *denom = f.denom;
}

/* PIL's CMYK -> RGB: r = (255 - k) - (c * (255 - k)) / 255, rounded like MULDIV255. */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, size_t npix, int inverted)
{
    for (size_t i = 0; i < npix; i++, in += 4, out += 3) {
        int k = inverted ? in[3] : 255 - in[3]; /* k here is 255 - K */
        for (int c = 0; c < 3; c++) {
            int v = inverted ? 255 - in[c] : in[c];
            int t = v * k + 128;
            int r = k - (((t >> 8) + t) >> 8);
            out[c] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
        }
    }
}

/* Reports TurboJPEG's error, then drops the handle: after libjpeg bails out of a header or a
 * decode, the handle keeps that failed state, and reusing it failed every later file with the
 * old message or a garbage size. The next file starts a fresh handle. */
static irb_status tj_error(irb_decoder_t *dec, const char *name, const char *what)
{
    const char *msg = tjGetErrorStr2(dec->tj);
    irb_status s = IRB_CORRUPT;
    if (msg && (strstr(msg, "nsupported") || strstr(msg, "not supported")))
        s = IRB_UNSUPPORTED;
    s = irb_fail(&dec->err, s, "%s: %s: %s", name, what, msg ? msg : "unknown TurboJPEG error");
    tjDestroy(dec->tj);
    dec->tj = NULL;
    return s;
}

irb_status irb__jpeg_decode(irb_decoder_t *dec, const uint8_t *p, size_t n, const char *name, const irb_jpeg_header *h,
                            const irb_decode_opts *opts, irb_image *img)
{
    (void)h;
    if (!dec->tj && !(dec->tj = tjInitDecompress()))
        return irb_fail(&dec->err, IRB_INTERNAL, "%s: cannot start TurboJPEG: %s", name, tjGetErrorStr2(NULL));
    int w = 0, hgt = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(dec->tj, p, (unsigned long)n, &w, &hgt, &subsamp, &cs) != 0)
        return tj_error(dec, name, "cannot read the JPEG header");
    if (w != dec->info.stored_width || hgt != dec->info.stored_height)
        return irb_fail(&dec->err, IRB_CORRUPT, "%s: the JPEG header says %dx%d, the decoder read %dx%d", name,
                        dec->info.stored_width, dec->info.stored_height, w, hgt);
    tjscalingfactor f;
    irb__jpeg_scale(w, hgt, dec->info.orientation, opts, &f.num, &f.denom);
    int sw = scaled(w, f), sh = scaled(hgt, f);
    dec->info.scale_num = f.num;
    dec->info.scale_denom = f.denom;
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    IRB_TRY(irb__image_alloc(img, sw, sh, 3, name, &dec->err));
    uint8_t *dst = img->data;
    if (cmyk) {
        if (!irb__scratch(dec, (size_t)sw * (size_t)sh * 4, name))
            return IRB_NOMEM;
        dst = dec->scratch;
    }
    int r = tjDecompress2(dec->tj, p, (unsigned long)n, dst, sw, 0, sh, cmyk ? TJPF_CMYK : TJPF_RGB, 0);
    if (r != 0) {
        if (tjGetErrorCode(dec->tj) != TJERR_WARNING)
            return tj_error(dec, name, "cannot decode the JPEG");
        irb_warn(&dec->err, "%s: damaged JPEG, decoded what was readable (%s)", name, tjGetErrorStr2(dec->tj));
    }
    if (cmyk)
        cmyk_to_rgb(dec->scratch, img->data, (size_t)sw * (size_t)sh, h->adobe);
    return IRB_OK;
}

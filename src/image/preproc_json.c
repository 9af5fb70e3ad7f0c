/* The preprocessing description recorded in feature sets and classifiers (docs/features.md):
 * one JSON object, written by featurize and read back by classify so a classifier is always
 * applied to images prepared exactly as its training images were. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "image/internal.h"
#include "irbis/image.h"

static const char *const mode_names[] = {"center-fraction", "crop", "squash"};
static const char *const strip_names[] = {"none", "fixed", "auto"};

/* A number as JSON: "null" for NaN and infinities (which "%g" writes as nan/inf, not JSON). */
static const char *num(char *b, size_t n, double v)
{
    if (isfinite(v))
        snprintf(b, n, "%.6g", v);
    else
        snprintf(b, n, "null");
    return b;
}

void irb_preproc_to_json(const irb_preproc *pp, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    if (!pp)
        return;
    char v[9][32];
    int mode = (unsigned)pp->mode < 3 ? (int)pp->mode : -1, strips = (unsigned)pp->strips < 3 ? (int)pp->strips : -1;
    snprintf(buf, size,
             "{\"size\":%d,\"resize\":\"%s\",\"crop_fraction\":%s,\"short_side\":%d,\"filter\":\"%s\","
             "\"mean\":[%s,%s,%s],\"std\":[%s,%s,%s],\"strips\":\"%s\",\"strip_top\":%s,\"strip_bottom\":%s}",
             pp->size, mode < 0 ? "unknown" : mode_names[mode],
             num(v[0], 32, pp->mode == IRB_RESIZE_CROP_FRACTION ? pp->crop_fraction : 1.0), pp->short_side,
             pp->filter == IRB_FILTER_BOX ? "box" : "bilinear", num(v[1], 32, pp->mean[0]), num(v[2], 32, pp->mean[1]),
             num(v[3], 32, pp->mean[2]), num(v[4], 32, pp->scale[0]), num(v[5], 32, pp->scale[1]),
             num(v[6], 32, pp->scale[2]), strips < 0 ? "unknown" : strip_names[strips], num(v[7], 32, pp->strip_top),
             num(v[8], 32, pp->strip_bottom));
    size_t n = strlen(buf);
    if (pp->decode_size > pp->size && n > 0 && n + 1 < size) /* only then: older descriptions stay as they were */
        snprintf(buf + n - 1, size - (n - 1), ",\"decode_size\":%d}", pp->decode_size);
    n = strlen(buf);
    if (pp->scales == IRB_DCT_FAST && n > 0 && n + 1 < size) /* likewise: without it, every scale (older files) */
        snprintf(buf + n - 1, size - (n - 1), ",\"dct_scales\":\"fast\"}");
}

/* The members of one description object (a well-formed JSON object, checked first). */
typedef struct {
    const char *json, *end;
} ppdesc;

static const char *member(const ppdesc *d, const char *key) { return irb_json_member(d->json, d->end, key); }

/* Member key as a number into *v; 1 if present and a number, 0 (v untouched) otherwise. */
static int number(const ppdesc *d, const char *key, double *v)
{
    const char *m = member(d, key);
    return m && irb_json_number(m, d->end, v);
}

/* Index of member key's string value in names[n], or -1. */
static int name_of(const ppdesc *d, const char *key, const char *const *names, int n)
{
    const char *m = member(d, key);
    for (int i = 0; m && i < n; i++)
        if (irb_json_string_is(m, d->end, names[i]))
            return i;
    return -1;
}

/* Member key as an array of exactly three numbers. */
static int read_triple(const ppdesc *d, const char *key, float out[3])
{
    const char *v = member(d, key);
    if (!v || *v != '[')
        return 0;
    v++;
    for (int k = 0; k < 3; k++) {
        double x;
        if (!(v = irb_json_number(v, d->end, &x)))
            return 0;
        out[k] = (float)x;
        v = irb_json_ws(v, d->end);
        if (v >= d->end || *v != (k < 2 ? ',' : ']'))
            return 0;
        v++;
    }
    return 1;
}

irb_status irb_preproc_from_json(const char *json, irb_preproc *pp, irb_error *err)
{
    if (!json || !pp)
        return irb_fail(err, IRB_INVALID_ARG, "no preprocessing description");
    ppdesc d = {json, json + strlen(json)};
    const char *after = irb_json_skip(json, d.end);
    if (*irb_json_ws(json, d.end) != '{' || !after || irb_json_ws(after, d.end) != d.end)
        return irb_fail(err, IRB_CORRUPT, "preprocessing description is not one JSON object: %.200s", json);
    double size = 0, v;
    if (!number(&d, "size", &size) || !(size >= 1 && size <= 4096) || size != (int)size)
        return irb_fail(err, IRB_CORRUPT, "preprocessing description without a valid size: %.200s", json);
    irb_preproc p = irb_preproc_default((int)size);
    int mode = name_of(&d, "resize", mode_names, 3);
    if (mode < 0 && member(&d, "resize")) /* missing: the default's */
        return irb_fail(err, IRB_UNSUPPORTED, "preprocessing description: unknown resize mode in %.200s", json);
    if (mode >= 0)
        p.mode = (irb_resize_mode)mode;
    if (number(&d, "crop_fraction", &v))
        p.crop_fraction = v;
    p.short_side = 0; /* older records: 0, meaning N */
    if (number(&d, "short_side", &v)) {
        if (!(v >= 0 && v <= 8192) || v != (int)v) /* irbis featurize --short-side: 8..8192 */
            return irb_fail(err, IRB_CORRUPT, "preprocessing description: bad short_side in %.200s", json);
        p.short_side = (int)v;
    }
    p.filter = name_of(&d, "filter", (const char *const[]){"box"}, 1) == 0 ? IRB_FILTER_BOX : IRB_FILTER_BILINEAR;
    if ((member(&d, "mean") && !read_triple(&d, "mean", p.mean)) ||
        (member(&d, "std") && !read_triple(&d, "std", p.scale)))
        return irb_fail(err, IRB_CORRUPT, "preprocessing description: bad mean/std in %.200s", json);
    for (int k = 0; k < 3; k++)
        if (!isfinite(p.mean[k]) || !(p.scale[k] > 0) || !isfinite(p.scale[k]))
            return irb_fail(err, IRB_CORRUPT, "preprocessing description: bad mean/std in %.200s", json);
    int strips = name_of(&d, "strips", strip_names, 3);
    if (strips >= 0)
        p.strips = (irb_strip_mode)strips;
    if (number(&d, "strip_top", &v))
        p.strip_top = v;
    if (number(&d, "strip_bottom", &v))
        p.strip_bottom = v;
    if (number(&d, "decode_size", &v)) {
        if (!(v >= 1 && v <= 4096) || v != (int)v)
            return irb_fail(err, IRB_CORRUPT, "preprocessing description: bad decode_size in %.200s", json);
        p.decode_size = (int)v;
    }
    /* descriptions older than the member decoded at the smallest covering scale of all */
    p.scales = IRB_DCT_ANY;
    if (member(&d, "dct_scales")) {
        int sc = name_of(&d, "dct_scales", (const char *const[]){"any", "fast"}, 2);
        if (sc < 0)
            return irb_fail(err, IRB_UNSUPPORTED, "preprocessing description: unknown dct_scales in %.200s", json);
        p.scales = (irb_dct_scales)sc;
    }
    IRB_TRY(irb__preproc_check(&p, "preprocessing description", IRB_CORRUPT, err));
    *pp = p;
    return IRB_OK;
}

/* The preprocessing description recorded in feature sets and classifiers (docs/features.md):
 * one JSON object, written by featurize and read back by classify so a classifier is always
 * applied to images prepared exactly as its training images were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "irbis/image.h"

static const char *const mode_names[] = {"center-fraction", "crop", "squash"};
static const char *const strip_names[] = {"none", "fixed", "auto"};

void irb_preproc_to_json(const irb_preproc *pp, char *buf, size_t size)
{
    snprintf(buf, size,
             "{\"size\":%d,\"resize\":\"%s\",\"crop_fraction\":%.6g,\"short_side\":%d,\"filter\":\"%s\","
             "\"mean\":[%.6g,%.6g,%.6g],\"std\":[%.6g,%.6g,%.6g],\"strips\":\"%s\",\"strip_top\":%.6g,"
             "\"strip_bottom\":%.6g}",
             pp->size, mode_names[pp->mode], pp->mode == IRB_RESIZE_CROP_FRACTION ? pp->crop_fraction : 1.0,
             pp->short_side, pp->filter == IRB_FILTER_BOX ? "box" : "bilinear", pp->mean[0], pp->mean[1],
             pp->mean[2], pp->scale[0], pp->scale[1], pp->scale[2], strip_names[pp->strips], pp->strip_top,
             pp->strip_bottom);
}

/* The text right after "key": in json, or NULL. */
static const char *value_of(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    return p;
}

static int string_is(const char *v, const char *name)
{
    size_t n = strlen(name);
    return v && v[0] == '"' && !strncmp(v + 1, name, n) && v[n + 1] == '"';
}

static int read_triple(const char *v, float out[3])
{
    if (!v || *v != '[')
        return 0;
    char *end;
    for (int k = 0; k < 3; k++) {
        out[k] = strtof(v + 1, &end);
        if (end == v + 1)
            return 0;
        v = end;
        while (*v == ' ')
            v++;
        if (*v != (k < 2 ? ',' : ']'))
            return 0;
    }
    return 1;
}

irb_status irb_preproc_from_json(const char *json, irb_preproc *pp, irb_error *err)
{
    if (!json || !pp)
        return irb_fail(err, IRB_INVALID_ARG, "no preprocessing description");
    const char *v = value_of(json, "size");
    long size = v ? strtol(v, NULL, 10) : 0;
    if (size <= 0 || size > 4096)
        return irb_fail(err, IRB_CORRUPT, "preprocessing description without a valid size: %.200s", json);
    irb_preproc p = irb_preproc_default((int)size);
    int mode = -1;
    v = value_of(json, "resize");
    for (int m = 0; m < 3; m++)
        if (string_is(v, mode_names[m]))
            mode = m;
    if (mode < 0)
        return irb_fail(err, IRB_UNSUPPORTED, "preprocessing description: unknown resize mode in %.200s", json);
    p.mode = (irb_resize_mode)mode;
    if ((v = value_of(json, "crop_fraction")))
        p.crop_fraction = strtod(v, NULL);
    if ((v = value_of(json, "short_side")))
        p.short_side = (int)strtol(v, NULL, 10);
    v = value_of(json, "filter");
    p.filter = string_is(v, "box") ? IRB_FILTER_BOX : IRB_FILTER_BILINEAR;
    if (!read_triple(value_of(json, "mean"), p.mean) || !read_triple(value_of(json, "std"), p.scale))
        return irb_fail(err, IRB_CORRUPT, "preprocessing description: bad mean/std in %.200s", json);
    v = value_of(json, "strips");
    for (int s = 0; s < 3; s++)
        if (string_is(v, strip_names[s]))
            p.strips = (irb_strip_mode)s;
    if ((v = value_of(json, "strip_top")))
        p.strip_top = strtod(v, NULL);
    if ((v = value_of(json, "strip_bottom")))
        p.strip_bottom = strtod(v, NULL);
    *pp = p;
    return IRB_OK;
}

/* int8 calibration tables: per tensor name, the range of the values seen on sample images
 * (docs/int8.md). Recording goes through a net made with irb_net_opts.record (net.c); this file
 * holds the table, its text form and the merge of one observed tensor into it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/calib.h"

#define CALIB_MAGIC       "irbis-calib 1"
#define CALIB_MAX_TENSORS 100000

struct irb_calib_t {
    char **names;
    float *min, *max;
    int n, cap;
    long images;
};

irb_status irb_calib_new(irb_calib_t **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "calib_new: out is NULL");
    if (!(*out = irb_calloc(1, sizeof **out)))
        return irb_fail(err, IRB_NOMEM, "out of memory for a calibration table");
    return IRB_OK;
}

void irb_calib_free(irb_calib_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        irb_free(c->names[i]);
    irb_free(c->names);
    irb_free(c->min);
    irb_free(c->max);
    irb_free(c);
}

int irb_calib_tensors(const irb_calib_t *c) { return c ? c->n : 0; }
long irb_calib_images(const irb_calib_t *c) { return c ? c->images : 0; }

int irb_calib_find(const irb_calib_t *c, const char *name)
{
    for (int i = 0; c && name && i < c->n; i++)
        if (!strcmp(c->names[i], name))
            return i;
    return -1;
}

int irb_calib_range(const irb_calib_t *c, const char *name, float *min, float *max)
{
    int i = irb_calib_find(c, name);
    if (i < 0)
        return 0;
    if (min)
        *min = c->min[i];
    if (max)
        *max = c->max[i];
    return 1;
}

int irb_calib_entry(irb_calib_t *c, const char *name)
{
    int i = irb_calib_find(c, name);
    if (i >= 0)
        return i;
    if (!name || !*name || strpbrk(name, "\n\r"))
        return -1; /* a name the text form cannot hold is not recorded (its layer runs fp32) */
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        char **nn = irb_realloc_array(c->names, (size_t)cap, sizeof *nn);
        if (!nn)
            return -2;
        c->names = nn;
        float *a = irb_realloc_array(c->min, (size_t)cap, sizeof *a);
        if (!a)
            return -2;
        c->min = a;
        float *b = irb_realloc_array(c->max, (size_t)cap, sizeof *b);
        if (!b)
            return -2;
        c->max = b;
        c->cap = cap;
    }
    if (!(c->names[c->n] = irb_strdup(name)))
        return -2;
    c->min[c->n] = INFINITY;
    c->max[c->n] = -INFINITY;
    return c->n++;
}

void irb_calib_observe(irb_calib_t *c, int entry, const float *x, size_t n)
{
    float lo = c->min[entry], hi = c->max[entry];
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (v < lo) /* NaN compares false and is left out */
            lo = v;
        if (v > hi)
            hi = v;
    }
    c->min[entry] = lo;
    c->max[entry] = hi;
}

void irb_calib_add_images(irb_calib_t *c, long n) { c->images += n; }

irb_status irb_calib_value_ranges(const irb_graph *g, const irb_calib_t *c, float **out, irb_error *err)
{
    float *r = irb_malloc_array(2 * (size_t)g->n_values + 2, sizeof *r);
    if (!r)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    for (int v = 0; v < g->n_values; v++)
        if (!irb_calib_range(c, g->values[v].name, &r[2 * v], &r[2 * v + 1]))
            r[2 * v] = r[2 * v + 1] = NAN;
    *out = r;
    return IRB_OK;
}

/* ---- text form */

irb_status irb_calib_to_text(const irb_calib_t *c, char **text, size_t *len, irb_error *err)
{
    if (!c || !text)
        return irb_fail(err, IRB_INVALID_ARG, "calib_to_text: NULL argument");
    *text = NULL;
    size_t cap = 64;
    for (int i = 0; i < c->n; i++)
        cap += strlen(c->names[i]) + 40;
    char *t = irb_malloc(cap);
    if (!t)
        return irb_fail(err, IRB_NOMEM, "out of memory writing a calibration table");
    size_t k = (size_t)snprintf(t, cap, CALIB_MAGIC "\nimages %ld\n", c->images);
    for (int i = 0; i < c->n; i++) {
        if (!(c->min[i] <= c->max[i]))
            continue; /* never observed */
        k += (size_t)snprintf(t + k, cap - k, "%.9g %.9g %s\n", c->min[i], c->max[i], c->names[i]);
    }
    *text = t;
    if (len)
        *len = k;
    return IRB_OK;
}

void irb_calib_text_free(char *text) { irb_free(text); }

static irb_status parse_line(irb_calib_t *c, const char *line, size_t n, const char *name, int ln, irb_error *err)
{
    char buf[64];
    const char *sp1 = memchr(line, ' ', n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp2 || sp2 + 1 >= line + n)
        return irb_fail(err, IRB_CORRUPT, "%s: line %d: expected 'min max name'", name, ln);
    float v[2];
    const char *at[3] = {line, sp1 + 1, sp2};
    for (int j = 0; j < 2; j++) {
        size_t w = (size_t)(at[j + 1] - at[j]) - (j == 0);
        if (w == 0 || w >= sizeof buf)
            return irb_fail(err, IRB_CORRUPT, "%s: line %d: bad number", name, ln);
        memcpy(buf, at[j], w);
        buf[w] = 0;
        char *end;
        errno = 0;
        v[j] = strtof(buf, &end);
        if (*end || errno || !isfinite(v[j]))
            return irb_fail(err, IRB_CORRUPT, "%s: line %d: bad number '%s'", name, ln, buf);
    }
    if (v[0] > v[1])
        return irb_fail(err, IRB_CORRUPT, "%s: line %d: min %g above max %g", name, ln, v[0], v[1]);
    size_t nl = (size_t)(line + n - (sp2 + 1));
    char *tn = irb_malloc(nl + 1);
    if (!tn)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", name);
    memcpy(tn, sp2 + 1, nl);
    tn[nl] = 0;
    int e = memchr(tn, 0, nl) ? -1 : irb_calib_find(c, tn) >= 0 ? -3 : irb_calib_entry(c, tn);
    irb_free(tn);
    if (e == -2)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", name);
    if (e < 0)
        return irb_fail(err, IRB_CORRUPT, "%s: line %d: %s tensor name", name, ln, e == -3 ? "repeated" : "bad");
    c->min[e] = v[0];
    c->max[e] = v[1];
    return IRB_OK;
}

static irb_status parse_body(irb_calib_t *c, const char *text, size_t len, const char *name, irb_error *err)
{
    size_t off = 0;
    for (int ln = 1; off < len; ln++) {
        const char *line = text + off, *nl = memchr(line, '\n', len - off);
        if (!nl)
            return irb_fail(err, IRB_CORRUPT, "%s: line %d does not end", name, ln);
        size_t n = (size_t)(nl - line);
        off += n + 1;
        if (ln == 1) {
            if (n != strlen(CALIB_MAGIC) || memcmp(line, CALIB_MAGIC, n))
                return irb_fail(err, IRB_CORRUPT, "%s: not an irbis calibration table (no '" CALIB_MAGIC "')", name);
        } else if (ln == 2) {
            char buf[32], *end;
            if (n < 8 || n - 7 >= sizeof buf || memcmp(line, "images ", 7))
                return irb_fail(err, IRB_CORRUPT, "%s: line 2: expected 'images N'", name);
            memcpy(buf, line + 7, n - 7);
            buf[n - 7] = 0;
            errno = 0;
            c->images = strtol(buf, &end, 10);
            if (*end || errno || c->images < 0)
                return irb_fail(err, IRB_CORRUPT, "%s: line 2: bad image count '%s'", name, buf);
        } else if (c->n >= CALIB_MAX_TENSORS) {
            return irb_fail(err, IRB_CORRUPT, "%s: more than %d tensors", name, CALIB_MAX_TENSORS);
        } else {
            IRB_TRY(parse_line(c, line, n, name, ln, err));
        }
    }
    if (!c->images && !c->n && len == 0)
        return irb_fail(err, IRB_CORRUPT, "%s: empty calibration table", name);
    return IRB_OK;
}

irb_status irb_calib_parse(const char *text, size_t len, const char *name, irb_calib_t **out, irb_error *err)
{
    if (out)
        *out = NULL;
    if (!out || (!text && len))
        return irb_fail(err, IRB_INVALID_ARG, "calib_parse: NULL argument");
    name = name ? name : "(calibration)";
    irb_calib_t *c = NULL;
    IRB_TRY(irb_calib_new(&c, err));
    irb_status s = parse_body(c, text, len, name, err);
    if (s != IRB_OK) {
        irb_calib_free(c);
        return s;
    }
    *out = c;
    return IRB_OK;
}

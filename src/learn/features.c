/* Feature-set reader: base.npy + base.csv + base.json, cross-checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/csv.h"
#include "core/error.h"
#include "irbis/learn.h"
#include "core/json.h"
#include "learn/npy.h"

void irb_features_free(irb_features *fs)
{
    if (!fs)
        return;
    irb_free(fs->x);
    for (size_t i = 0; fs->path && i < fs->n; i++)
        irb_free(fs->path[i]);
    irb_free(fs->path);
    irb_free(fs->flipped);
    for (int j = 0; j < fs->n_extra; j++) {
        for (size_t i = 0; fs->extra && fs->extra[j] && i < fs->n; i++)
            irb_free(fs->extra[j][i]);
        if (fs->extra)
            irb_free(fs->extra[j]);
        if (fs->extra_name)
            irb_free(fs->extra_name[j]);
    }
    irb_free(fs->extra);
    irb_free(fs->extra_name);
    for (int i = 0; i < fs->n_meta; i++) {
        irb_free(fs->meta_key[i]);
        irb_free(fs->meta_json[i]);
        irb_free(fs->meta_text[i]);
    }
    irb_free(fs->meta_key);
    irb_free(fs->meta_json);
    irb_free(fs->meta_text);
    irb_free(fs);
}

char *const *irb_features_column(const irb_features *fs, const char *name)
{
    for (int j = 0; fs && name && j < fs->n_extra; j++)
        if (!strcmp(fs->extra_name[j], name))
            return fs->extra[j];
    return NULL;
}

const char *irb_features_meta(const irb_features *fs, const char *key)
{
    for (int i = 0; fs && key && i < fs->n_meta; i++)
        if (!strcmp(fs->meta_key[i], key))
            return fs->meta_text[i];
    return NULL;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static irb_status csv_header(irb_csv_reader *r, irb_features *fs, const char *path, irb_error *err)
{
    IRB_TRY(irb_csv_read_header(r, err));
    if (r->nheader < 3 || strcmp(r->header[0], "row") || strcmp(r->header[1], "path") ||
        strcmp(r->header[2], "flipped"))
        return irb_fail(err, IRB_CORRUPT, "%s: header must start with row,path,flipped", path);
    fs->n_extra = r->nheader - 3;
    if (!fs->n_extra)
        return IRB_OK;
    fs->extra_name = irb_calloc((size_t)fs->n_extra, sizeof *fs->extra_name);
    fs->extra = irb_calloc((size_t)fs->n_extra, sizeof *fs->extra);
    if (!fs->extra_name || !fs->extra)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    for (int j = 0; j < fs->n_extra; j++) {
        if (!(fs->extra_name[j] = irb_strdup(r->header[3 + j])))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
        if (!(fs->extra[j] = irb_calloc(fs->n ? fs->n : 1, sizeof **fs->extra)))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    }
    return IRB_OK;
}

static irb_status csv_row(irb_csv_reader *r, irb_features *fs, size_t i, const char *path, irb_error *err)
{
    char *end;
    const char *row = irb_csv_field(r, 0);
    errno = 0;
    unsigned long long v = strtoull(row, &end, 10);
    if (errno || end == row || *end || v != i)
        return irb_fail(err, IRB_CORRUPT, "%s:%ld: row number '%s', expected %zu", path, r->line, row, i);
    const char *fl = irb_csv_field(r, 2);
    if (strcmp(fl, "0") && strcmp(fl, "1"))
        return irb_fail(err, IRB_CORRUPT, "%s:%ld: flipped must be 0 or 1, got '%s'", path, r->line, fl);
    if (r->nfields != 3 + fs->n_extra)
        return irb_fail(err, IRB_CORRUPT, "%s:%ld: %d fields, header has %d", path, r->line, r->nfields,
                        3 + fs->n_extra);
    fs->flipped[i] = (uint8_t)(fl[0] == '1');
    if (!(fs->path[i] = irb_strdup(irb_csv_field(r, 1))))
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    for (int j = 0; j < fs->n_extra; j++)
        if (!(fs->extra[j][i] = irb_strdup(irb_csv_field(r, 3 + j))))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    return IRB_OK;
}

static irb_status load_csv(const char *path, const char *npy_path, irb_features *fs, irb_error *err)
{
    FILE *f;
    IRB_TRY(irb_open_read(path, "CSV file", &f, NULL, err));
    irb_csv_reader r;
    irb_csv_init(&r, f, path);
    size_t n = fs->n ? fs->n : 1;
    irb_status s = IRB_OK;
    fs->path = irb_calloc(n, sizeof *fs->path);
    fs->flipped = irb_calloc(n, 1);
    if (!fs->path || !fs->flipped) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    if ((s = csv_header(&r, fs, path, err)) != IRB_OK)
        goto cleanup;
    size_t i = 0;
    while ((s = irb_csv_next(&r, err)) == IRB_OK) {
        if (i >= fs->n) {
            s = irb_fail(err, IRB_MISMATCH, "%s has more than the %zu rows of %s", path, fs->n, npy_path);
            goto cleanup;
        }
        if ((s = csv_row(&r, fs, i, path, err)) != IRB_OK)
            goto cleanup;
        i++;
    }
    if (s != IRB_NOT_FOUND)
        goto cleanup;
    s = IRB_OK;
    if (i != fs->n)
        s = irb_fail(err, IRB_MISMATCH, "%s has %zu rows, %s has %zu", path, i, npy_path, fs->n);
cleanup:
    irb_csv_release(&r);
    fclose(f);
    return s;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static irb_status meta_push(irb_features *fs, char *key, const char *v0, const char *v1, const char *path,
                            irb_error *err)
{
    size_t m = (size_t)fs->n_meta + 1;
    char **k = irb_realloc_array(fs->meta_key, m, sizeof *k);
    if (k)
        fs->meta_key = k;
    char **j = k ? irb_realloc_array(fs->meta_json, m, sizeof *j) : NULL;
    if (j)
        fs->meta_json = j;
    char **t = j ? irb_realloc_array(fs->meta_text, m, sizeof *t) : NULL;
    if (t)
        fs->meta_text = t;
    char *json = t ? irb_malloc((size_t)(v1 - v0) + 1) : NULL;
    char *text = NULL;
    int nomem = 0;
    if (json) {
        memcpy(json, v0, (size_t)(v1 - v0));
        json[v1 - v0] = '\0';
        const char *next;
        text = *v0 == '"' ? irb_json_string(v0, v1, &next, &nomem) : irb_strdup(json);
    }
    if (!text) {
        irb_free(key);
        irb_free(json);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    }
    fs->meta_key[fs->n_meta] = key;
    fs->meta_json[fs->n_meta] = json;
    fs->meta_text[fs->n_meta++] = text;
    return IRB_OK;
}

static irb_status parse_json(const char *buf, size_t len, const char *path, irb_features *fs, irb_error *err)
{
    const char *p = irb_json_ws(buf, buf + len), *end = buf + len;
    if (p >= end || *p != '{')
        return irb_fail(err, IRB_CORRUPT, "%s: metadata must be a JSON object", path);
    p = irb_json_ws(p + 1, end);
    if (p < end && *p == '}')
        return irb_fail(err, IRB_CORRUPT, "%s: empty metadata, expected \"format\": \"irbis-features\"", path);
    for (;;) {
        int nomem;
        const char *next;
        char *key = irb_json_string(p, end, &next, &nomem);
        if (!key)
            return irb_fail(err, nomem ? IRB_NOMEM : IRB_CORRUPT, "%s: offset %ld: expected a key string", path,
                            (long)(p - buf));
        p = irb_json_ws(next, end);
        if (p >= end || *p != ':') {
            irb_free(key);
            return irb_fail(err, IRB_CORRUPT, "%s: offset %ld: expected ':'", path, (long)(p - buf));
        }
        const char *v0 = irb_json_ws(p + 1, end), *v1 = irb_json_skip(v0, end);
        if (!v1) {
            irb_free(key);
            return irb_fail(err, IRB_CORRUPT, "%s: offset %ld: malformed JSON value", path, (long)(v0 - buf));
        }
        IRB_TRY(meta_push(fs, key, v0, v1, path, err));
        p = irb_json_ws(v1, end);
        if (p < end && *p == '}')
            break;
        if (p >= end || *p != ',')
            return irb_fail(err, IRB_CORRUPT, "%s: offset %ld: expected ',' or '}'", path, (long)(p - buf));
        p = irb_json_ws(p + 1, end);
    }
    if (irb_json_ws(p + 1, end) != end)
        return irb_fail(err, IRB_CORRUPT, "%s: trailing data after the JSON object", path);
    return IRB_OK;
}

static irb_status check_json(const char *path, const char *npy_path, irb_features *fs, irb_error *err)
{
    const char *fmt = irb_features_meta(fs, "format");
    if (!fmt || strcmp(fmt, "irbis-features"))
        return irb_fail(err, IRB_CORRUPT, "%s: \"format\" is '%s', expected 'irbis-features'", path,
                        fmt ? fmt : "(missing)");
    const char *ver = irb_features_meta(fs, "version");
    char *e;
    long v = ver ? strtol(ver, &e, 10) : 0;
    if (!ver || *e || v < 1)
        return irb_fail(err, IRB_CORRUPT, "%s: bad \"version\" '%s'", path, ver ? ver : "(missing)");
    if (v > 1)
        return irb_fail(err, IRB_UNSUPPORTED, "%s: feature format version %ld, this irbis reads version 1", path, v);
    const char *dim = irb_features_meta(fs, "dim");
    if (dim && strtol(dim, &e, 10) != fs->dim)
        return irb_fail(err, IRB_MISMATCH, "%s says dim %s, %s has %d columns", path, dim, npy_path, fs->dim);
    const char *rows = irb_features_meta(fs, "rows");
    if (rows && strtoull(rows, &e, 10) != fs->n)
        return irb_fail(err, IRB_MISMATCH, "%s says rows %s, %s has %zu rows", path, rows, npy_path, fs->n);
    return IRB_OK;
}

static irb_status load_json(const char *path, const char *npy_path, irb_features *fs, irb_error *err)
{
    FILE *f;
    IRB_TRY(irb_open_read(path, "file", &f, NULL, err));
    char *buf = NULL;
    irb_status s = IRB_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || size > (16L << 20)) {
        s = irb_fail(err, size < 0 ? IRB_IO : IRB_TOO_LARGE, "%s: unreadable or larger than 16 MiB", path);
        goto cleanup;
    }
    if (!(buf = irb_malloc((size_t)size + 1))) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    rewind(f);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        s = irb_fail(err, IRB_IO, "%s: read failed", path);
        goto cleanup;
    }
    buf[size] = '\0';
    if ((s = parse_json(buf, (size_t)size, path, fs, err)) == IRB_OK)
        s = check_json(path, npy_path, fs, err);
cleanup:
    irb_free(buf);
    fclose(f);
    return s;
}

static irb_status load(const char *base, int with_x, irb_features **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "features_load: NULL out");
    *out = NULL;
    if (!base)
        return irb_fail(err, IRB_INVALID_ARG, "features_load: NULL base path");
    irb_features *fs = irb_calloc(1, sizeof *fs);
    char *npy = irb_strconcat(base, ".npy"), *csv = irb_strconcat(base, ".csv"), *json = irb_strconcat(base, ".json");
    irb_status s;
    if (!fs || !npy || !csv || !json) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", base);
        goto cleanup;
    }
    s = with_x ? irb_npy_read(npy, &fs->n, &fs->dim, &fs->x, err) : irb_npy_read_header(npy, &fs->n, &fs->dim, err);
    if (s != IRB_OK)
        goto cleanup;
    if ((s = load_json(json, npy, fs, err)) != IRB_OK)
        goto cleanup;
    if ((s = load_csv(csv, npy, fs, err)) != IRB_OK)
        goto cleanup;
    *out = fs;
    fs = NULL;
cleanup:
    irb_features_free(fs);
    irb_free(npy);
    irb_free(csv);
    irb_free(json);
    return s;
}

irb_status irb_features_load(const char *base, irb_features **out, irb_error *err) { return load(base, 1, out, err); }

irb_status irb_features_load_index(const char *base, irb_features **out, irb_error *err)
{
    return load(base, 0, out, err);
}

irb_status irb_features_read_rows(const char *base, const irb_features *fs, const size_t *rows, size_t n, float *out,
                                  irb_error *err)
{
    if (!base || !fs || (n && (!rows || !out)))
        return irb_fail(err, IRB_INVALID_ARG, "features_read_rows: NULL argument");
    IRB_TRY(irb_check_rows(n, fs->dim > 0 ? (size_t)fs->dim : 0, sizeof *out, base, err));
    char *npy = irb_strconcat(base, ".npy");
    if (!npy)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", base);
    irb_status s = irb_npy_read_rows(npy, fs->n, fs->dim, rows, n, out, err);
    irb_free(npy);
    return s;
}

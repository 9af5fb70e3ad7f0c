/* Streaming feature-set writer: base.npy (rows streamed, N patched at close), base.csv,
 * base.json; all three are atomic files (core/file.h) under the temporary names
 * base<suffix>.tmp<PID>, synced at close and only then renamed into place, the .json last. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/text.h"
#include "irbis/learn.h"
#include "core/file.h"
#include "core/json.h"
#include "learn/npy.h"

enum { F_NPY, F_CSV, F_JSON, F_COUNT };
static const char *const suffix[F_COUNT] = {".npy", ".csv", ".json"};

struct irb_featwriter {
    irb_error err;
    int dim;
    size_t rows;
    int n_extra;
    char **extra;
    int n_meta;
    char **meta_key, **meta_val;
    irb_atomic_file af[F_COUNT]; /* the .json's is opened at close */
    char *final[F_COUNT];
};

/* The temporary of base<suffix> is base<suffix>.tmp<PID>: two runs writing one base do not
 * share it, and a later run knows a killed one's (remove_stale_tmp). */
static irb_status open_tmp(irb_featwriter_t *w, int i, irb_error *err)
{
    char suf[32];
    snprintf(suf, sizeof suf, ".tmp%ld", (long)getpid());
    return irb_atomic_open_as(&w->af[i], w->final[i], suf, err);
}

void irb_featwriter_free(irb_featwriter_t *w)
{
    if (!w)
        return;
    for (int i = 0; i < F_COUNT; i++) {
        irb_atomic_abort(&w->af[i]);
        irb_free(w->final[i]);
    }
    for (int i = 0; i < w->n_extra; i++)
        irb_free(w->extra[i]);
    irb_free(w->extra);
    for (int i = 0; i < w->n_meta; i++) {
        irb_free(w->meta_key[i]);
        irb_free(w->meta_val[i]);
    }
    irb_free(w->meta_key);
    irb_free(w->meta_val);
    irb_free(w);
}

/* Removes BASE<suffix>.tmp<PID> files left by a writer that was killed (its process is gone);
 * a live writer's files (another run on the same base) are left alone. */
static void remove_stale_tmp(const char *base)
{
    const char *slash = strrchr(base, '/');
    const char *name = slash ? slash + 1 : base;
    size_t dl = slash ? (size_t)(slash - base) + 1 : 0, nl = strlen(name);
    char *path = irb_malloc(dl + 2 + 256 + 2); /* dir/ + a d_name (at most 255 bytes) */
    if (!path)
        return;
    memcpy(path, dl ? base : "./", dl ? dl : 2);
    dl = dl ? dl : 2;
    path[dl] = '\0';
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        for (int i = 0; i < F_COUNT; i++) {
            size_t sl = strlen(suffix[i]);
            if (strncmp(e->d_name, name, nl) || strncmp(e->d_name + nl, suffix[i], sl) ||
                strncmp(e->d_name + nl + sl, ".tmp", 4))
                continue;
            const char *digits = e->d_name + nl + sl + 4;
            long pid = atol(digits);
            if (*digits && strspn(digits, "0123456789") == strlen(digits) && pid > 0 && kill((pid_t)pid, 0) != 0 &&
                errno == ESRCH) {
                snprintf(path + dl, 258, "%s", e->d_name);
                remove(path);
                path[dl] = '\0';
            }
        }
    }
    if (d)
        closedir(d);
    irb_free(path);
}

static irb_status open_files(irb_featwriter_t *w, const char *base, irb_error *err)
{
    remove_stale_tmp(base);
    for (int i = 0; i < F_COUNT; i++) {
        if (!(w->final[i] = irb_strconcat(base, suffix[i])))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", base);
        if (i != F_JSON) /* the .json is written in one go at close */
            IRB_TRY(open_tmp(w, i, err));
    }
    return IRB_OK;
}

irb_status irb_featwriter_open(const char *base, int dim, const char *const *extra, irb_featwriter_t **out,
                               irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_featwriter_open: NULL out");
    *out = NULL;
    if (!base || !*base || dim <= 0)
        return irb_fail(err, IRB_INVALID_ARG, "featwriter: need a base path and dim > 0 (got %d)", dim);
    irb_featwriter_t *w = irb_calloc(1, sizeof *w);
    if (!w)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", base);
    w->dim = dim;
    irb_status s = IRB_OK;
    int n = 0;
    while (extra && extra[n])
        n++;
    if (n && !(w->extra = irb_calloc((size_t)n, sizeof *w->extra))) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", base);
        goto cleanup;
    }
    for (; w->n_extra < n; w->n_extra++) {
        const char *name = extra[w->n_extra];
        if (!strcmp(name, "row") || !strcmp(name, "path") || !strcmp(name, "flipped") || !*name) {
            s = irb_fail(err, IRB_INVALID_ARG, "%s: extra column name '%s' is empty or reserved", base, name);
            goto cleanup;
        }
        if (!(w->extra[w->n_extra] = irb_strdup(name))) {
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", base);
            goto cleanup;
        }
    }
    if ((s = open_files(w, base, err)) != IRB_OK)
        goto cleanup;
    if ((s = irb_npy_write_header(w->af[F_NPY].f, 0, dim, w->af[F_NPY].tmp, err)) != IRB_OK)
        goto cleanup;
    FILE *csv = w->af[F_CSV].f;
    fputs("row,path,flipped", csv);
    for (int i = 0; i < w->n_extra; i++) {
        fputc(',', csv);
        irb_csv_put(csv, w->extra[i]);
    }
    fputc('\n', csv);
    *out = w;
    return IRB_OK;
cleanup:
    irb_featwriter_free(w);
    return s;
}

irb_status irb_featwriter_add(irb_featwriter_t *w, const char *path, int flipped, const char *const *extra_values,
                              const float *row, irb_error *err)
{
    if (!w || !path || !row)
        return irb_fail(err, IRB_INVALID_ARG, "featwriter_add: NULL writer, path or row");
    if (w->n_extra && !extra_values)
        return irb_fail(err, IRB_INVALID_ARG, "%s: row %zu needs %d extra values", w->final[F_CSV], w->rows,
                        w->n_extra);
    IRB_TRY(irb_npy_write_rows(w->af[F_NPY].f, row, 1, w->dim, w->af[F_NPY].tmp, err));
    FILE *f = w->af[F_CSV].f;
    fprintf(f, "%zu,", w->rows);
    irb_csv_put(f, path);
    fprintf(f, ",%d", flipped ? 1 : 0);
    for (int i = 0; i < w->n_extra; i++) {
        fputc(',', f);
        irb_csv_put(f, extra_values[i]);
    }
    fputc('\n', f);
    if (ferror(f))
        return irb_fail(err, IRB_IO, "%s: write failed: %s", w->af[F_CSV].tmp, strerror(errno));
    w->rows++;
    return IRB_OK;
}

size_t irb_featwriter_rows(const irb_featwriter_t *w) { return w ? w->rows : 0; }

const irb_error *irb_featwriter_error(const irb_featwriter_t *w) { return w ? &w->err : NULL; }

irb_status irb_featwriter_set_meta(irb_featwriter_t *w, const char *key, const char *json)
{
    if (!w || !key || !json)
        return w ? irb_fail(&w->err, IRB_INVALID_ARG, "featwriter_set_meta: NULL key or value") : IRB_INVALID_ARG;
    static const char *const reserved[] = {"format", "version", "dim", "rows"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(key, reserved[i]))
            return irb_fail(&w->err, IRB_INVALID_ARG, "%s: metadata key '%s' is written by irbis", w->final[F_JSON],
                            key);
    const char *end = json + strlen(json);
    const char *after = irb_json_skip(json, end);
    if (!after || irb_json_ws(after, end) != end)
        return irb_fail(&w->err, IRB_INVALID_ARG, "%s: metadata '%s': not one JSON value: %.80s", w->final[F_JSON], key,
                        json);
    char *v = irb_strdup(json);
    if (!v)
        return irb_fail(&w->err, IRB_NOMEM, "%s: out of memory", w->final[F_JSON]);
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta_key[i], key)) {
            irb_free(w->meta_val[i]);
            w->meta_val[i] = v;
            return IRB_OK;
        }
    char *k = irb_strdup(key);
    char **nk = irb_realloc_array(w->meta_key, (size_t)w->n_meta + 1, sizeof *nk);
    if (nk)
        w->meta_key = nk;
    char **nv = nk ? irb_realloc_array(w->meta_val, (size_t)w->n_meta + 1, sizeof *nv) : NULL;
    if (nv)
        w->meta_val = nv;
    if (!k || !nk || !nv) {
        irb_free(k);
        irb_free(v);
        return irb_fail(&w->err, IRB_NOMEM, "%s: out of memory", w->final[F_JSON]);
    }
    w->meta_key[w->n_meta] = k;
    w->meta_val[w->n_meta++] = v;
    return IRB_OK;
}

irb_status irb_featwriter_set_meta_str(irb_featwriter_t *w, const char *key, const char *value)
{
    if (!w || !value)
        return w ? irb_fail(&w->err, IRB_INVALID_ARG, "featwriter_set_meta_str: NULL value") : IRB_INVALID_ARG;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return irb_fail(&w->err, IRB_NOMEM, "%s: out of memory", w->final[F_JSON]);
    irb_json_put(m, value);
    fclose(m);
    irb_status s = irb_featwriter_set_meta(w, key, buf);
    free(buf); /* open_memstream's buffer comes from libc malloc */
    return s;
}

static irb_status write_json(irb_featwriter_t *w, irb_error *err)
{
    IRB_TRY(open_tmp(w, F_JSON, err));
    FILE *f = w->af[F_JSON].f;
    fprintf(f, "{\n  \"format\": \"irbis-features\",\n  \"version\": 1,\n  \"dim\": %d,\n  \"rows\": %zu", w->dim,
            w->rows);
    for (int i = 0; i < w->n_meta; i++) {
        fputs(",\n  ", f);
        irb_json_put(f, w->meta_key[i]);
        fprintf(f, ": %s", w->meta_val[i]);
    }
    fputs("\n}\n", f);
    return IRB_OK;
}

irb_status irb_featwriter_close(irb_featwriter_t *w, irb_error *err)
{
    if (!w)
        return irb_fail(err, IRB_INVALID_ARG, "featwriter_close: NULL writer");
    irb_status s;
    if ((s = irb_npy_patch_rows(w->af[F_NPY].f, w->rows, w->dim, w->af[F_NPY].tmp, err)) != IRB_OK)
        goto cleanup;
    if ((s = write_json(w, err)) != IRB_OK)
        goto cleanup;
    for (int i = 0; i < F_COUNT; i++) /* all three durable before any is renamed */
        if ((s = irb_atomic_sync(&w->af[i], err)) != IRB_OK)
            goto cleanup;
    /* The .json goes last: a reader that sees it sees a complete set. */
    for (int i = 0; i < F_COUNT; i++)
        if ((s = irb_atomic_close(&w->af[i], err)) != IRB_OK)
            goto cleanup;
cleanup:
    irb_featwriter_free(w);
    return s;
}

/* Whole-file CSV tables (labels files) for callers that only see the public API. */
#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/csv.h"
#include "core/error.h"
#include "irbis/files.h"

void irb_table_free(irb_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrow; i++) {
        for (int j = 0; t->cell[i] && j < t->ncol; j++)
            irb_free(t->cell[i][j]);
        irb_free(t->cell[i]);
    }
    irb_free(t->cell);
    for (int j = 0; j < t->ncol; j++)
        irb_free(t->name[j]);
    irb_free(t->name);
    irb_free(t);
}

int irb_table_column(const irb_table *t, const char *name) { return t ? irb_header_find(t->name, t->ncol, name) : -1; }

static irb_status add_row(irb_table *t, const irb_csv_reader *r, size_t *cap, irb_error *err)
{
    if (t->nrow == *cap) {
        size_t nc = *cap ? 2 * *cap : 256;
        char ***c = irb_realloc_array(t->cell, nc, sizeof *c);
        if (!c)
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", r->path);
        t->cell = c;
        *cap = nc;
    }
    char **row = irb_calloc((size_t)t->ncol, sizeof *row);
    if (!row)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", r->path);
    t->cell[t->nrow++] = row;
    for (int j = 0; j < t->ncol; j++)
        if (!(row[j] = irb_strdup(irb_csv_field(r, j))))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", r->path);
    return IRB_OK;
}

irb_status irb_table_load(const char *path, irb_table **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_table_load: NULL out");
    *out = NULL;
    if (!path)
        return irb_fail(err, IRB_INVALID_ARG, "irb_table_load: NULL path");
    FILE *f;
    IRB_TRY(irb_open_read(path, "CSV file", &f, NULL, err));
    irb_csv_reader r;
    irb_csv_init(&r, f, path);
    irb_table *t = irb_calloc(1, sizeof *t);
    size_t cap = 0;
    irb_status s;
    if (!t) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    if ((s = irb_csv_read_header(&r, err)) != IRB_OK)
        goto cleanup;
    t->name = r.header; /* take the header copy over from the reader */
    t->ncol = r.nheader;
    r.header = NULL;
    r.nheader = 0;
    while ((s = irb_csv_next(&r, err)) == IRB_OK)
        if ((s = add_row(t, &r, &cap, err)) != IRB_OK)
            goto cleanup;
    if (s == IRB_NOT_FOUND)
        s = IRB_OK;
cleanup:
    irb_csv_release(&r);
    fclose(f);
    if (s == IRB_OK)
        *out = t;
    else
        irb_table_free(t);
    return s;
}

/* The predictions file `irbis evaluate` reads: path, p_<class>..., sequence, seq_p_<class>...
 * (labels and matching their paths: labels.c). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/csv.h"
#include "core/error.h"
#include "eval/eval_internal.h"
#include "irbis/eval.h"

static void free_strings(char **v, size_t n)
{
    if (v)
        for (size_t i = 0; i < n; i++)
            irb_free(v[i]);
    irb_free(v);
}

void irb_predictions_release(irb_predictions *p)
{
    if (!p)
        return;
    free_strings(p->path, p->n);
    free_strings(p->classes, p->n_classes);
    free_strings(p->sequence, p->sequence ? p->n : 0);
    irb_free(p->probs);
    irb_free(p->seq_probs);
    memset(p, 0, sizeof *p);
}

static irb_status open_csv(const char *path, FILE **f, irb_csv_reader *r, irb_error *err)
{
    IRB_TRY(irb_open_read(path, "CSV file", f, NULL, err));
    irb_csv_init(r, *f, path);
    irb_status s = irb_csv_read_header(r, err);
    if (s != IRB_OK) {
        irb_csv_release(r);
        fclose(*f);
    }
    return s;
}

static irb_status parse_prob(const irb_csv_reader *r, int col, double *out, irb_error *err)
{
    const char *t = irb_csv_field(r, col);
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    while (*end == ' ')
        end++;
    /* ERANGE for a value too small for a double is 0 (1e-320: a probability a tool may write) */
    if (!t[0] || *end || (errno == ERANGE && fabs(v) > 1) || isnan(v))
        return irb_fail(err, IRB_CORRUPT, "%s:%ld: column %s: '%s' is not a number", r->path, r->line, r->header[col],
                        t);
    if (!(v >= -1e-6 && v <= 1 + 1e-6)) /* inf, -0.5: not what a probability column holds */
        return irb_fail(err, IRB_CORRUPT, "%s:%ld: column %s: %s is not a probability (0 to 1)", r->path, r->line,
                        r->header[col], t);
    *out = v;
    return IRB_OK;
}

/* Grows the row arrays to hold at least need rows. */
static int grow(irb_predictions *p, size_t *cap, size_t need, int has_seq, int has_seqp)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 256;
    char **path = irb_realloc_array(p->path, c, sizeof *path);
    if (!path)
        return 0;
    p->path = path;
    double *probs = irb_realloc_array(p->probs, c, p->n_classes * sizeof *probs);
    if (!probs)
        return 0;
    p->probs = probs;
    if (has_seq) {
        char **s = irb_realloc_array(p->sequence, c, sizeof *s);
        if (!s)
            return 0;
        p->sequence = s;
    }
    if (has_seqp) {
        double *sp = irb_realloc_array(p->seq_probs, c, p->n_classes * sizeof *sp);
        if (!sp)
            return 0;
        p->seq_probs = sp;
    }
    *cap = c;
    return 1;
}

/* Finds the p_ and seq_p_ columns; *nseqp counts the seq_p_ columns found. */
static irb_status class_columns(const irb_csv_reader *r, irb_predictions *p, int *pc, int *sc, int *nseqp,
                                irb_error *err)
{
    for (int i = 0; i < r->nheader; i++)
        if (strncmp(r->header[i], "p_", 2) == 0 && r->header[i][2]) {
            pc[p->n_classes] = i;
            if (!(p->classes[p->n_classes++] = irb_strdup(r->header[i] + 2)))
                return irb_fail(err, IRB_NOMEM, "%s: out of memory", r->path);
        }
    if (!p->n_classes)
        return irb_fail(err, IRB_NOT_FOUND, "%s: no probability columns (p_<class>) in the header", r->path);
    *nseqp = 0;
    for (size_t c = 0; c < p->n_classes; c++) {
        sc[c] = -1;
        for (int i = 0; i < r->nheader; i++)
            if (strncmp(r->header[i], "seq_p_", 6) == 0 && strcmp(r->header[i] + 6, p->classes[c]) == 0)
                sc[c] = i;
        *nseqp += sc[c] >= 0;
    }
    int any = 0;
    for (int i = 0; i < r->nheader; i++)
        any += strncmp(r->header[i], "seq_p_", 6) == 0;
    if (any && (*nseqp != (int)p->n_classes || any != *nseqp))
        return irb_fail(err, IRB_CORRUPT, "%s: the seq_p_<class> columns (%d) do not match the p_<class> columns (%zu)",
                        r->path, any, p->n_classes);
    return IRB_OK;
}

/* A path listed twice would be scored twice: refused naming both rows (as a labels file's). */
static irb_status no_repeats(const char *file, const irb_predictions *p, irb_error *err)
{
    irb_path_row *ord = irb_paths_sorted(p->path, p->n);
    if (!ord)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", file);
    irb_status st = IRB_OK;
    for (size_t k = 1; k < p->n && st == IRB_OK; k++)
        if (!strcmp(ord[k - 1].path, ord[k].path))
            st = irb_fail(err, IRB_CORRUPT, "%s: '%s' is listed twice (scored rows %zu and %zu below the header)", file,
                          ord[k].path, ord[k - 1].i + 1, ord[k].i + 1);
    irb_free(ord);
    return st;
}

irb_status irb_predictions_read(const char *path, irb_predictions *out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_predictions_read: NULL output");
    memset(out, 0, sizeof *out);
    FILE *f;
    irb_csv_reader r;
    IRB_TRY(open_csv(path, &f, &r, err));
    irb_status st = IRB_OK;
    int *pc = irb_malloc_array((size_t)r.nheader, sizeof *pc), *sc = irb_malloc_array((size_t)r.nheader, sizeof *sc);
    out->classes = irb_calloc((size_t)r.nheader, sizeof *out->classes);
    if (!pc || !sc || !out->classes) {
        st = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    int cpath = irb_csv_column(&r, "path"), cseq = irb_csv_column(&r, "sequence"), nseqp = 0;
    int cstatus = irb_csv_column(&r, "status");
    size_t cap = 0, k;
    if (cpath < 0) {
        st = irb_fail(err, IRB_NOT_FOUND, "%s: no 'path' column in the header", path);
        goto cleanup;
    }
    if ((st = class_columns(&r, out, pc, sc, &nseqp, err)) != IRB_OK)
        goto cleanup;
    k = out->n_classes;
    while ((st = irb_csv_next(&r, err)) == IRB_OK) {
        const char *status = cstatus >= 0 ? irb_csv_field(&r, cstatus) : "";
        if (status[0] && strcmp(status, "ok") != 0) {
            out->n_unscored++;
            continue;
        }
        if (!grow(out, &cap, out->n + 1, cseq >= 0, nseqp > 0)) {
            st = irb_fail(err, IRB_NOMEM, "%s:%ld: out of memory", path, r.line);
            goto cleanup;
        }
        size_t i = out->n;
        const char *p = irb_csv_field(&r, cpath);
        if (!p[0]) {
            st = irb_fail(err, IRB_CORRUPT, "%s:%ld: empty path", path, r.line);
            goto cleanup;
        }
        if (!(out->path[i] = irb_strdup(p)) ||
            (cseq >= 0 && !(out->sequence[i] = irb_strdup(irb_csv_field(&r, cseq))))) {
            irb_free(out->path[i]);
            st = irb_fail(err, IRB_NOMEM, "%s:%ld: out of memory", path, r.line);
            goto cleanup;
        }
        out->n++;
        for (size_t c = 0; c < k && st == IRB_OK; c++) {
            st = parse_prob(&r, pc[c], &out->probs[i * k + c], err);
            if (st == IRB_OK && nseqp)
                st = parse_prob(&r, sc[c], &out->seq_probs[i * k + c], err);
        }
        if (st != IRB_OK)
            goto cleanup;
    }
    if (st == IRB_NOT_FOUND && out->n)
        st = no_repeats(path, out, err);
    else if (st == IRB_NOT_FOUND)
        st = out->n            ? IRB_OK
             : out->n_unscored ? irb_fail(err, IRB_CORRUPT, "%s: no row with status ok (%zu failed or pending)", path,
                                          out->n_unscored)
                               : irb_fail(err, IRB_CORRUPT, "%s: no rows after the header", path);
cleanup:
    irb_free(pc);
    irb_free(sc);
    irb_csv_release(&r);
    fclose(f);
    if (st != IRB_OK)
        irb_predictions_release(out);
    return st;
}

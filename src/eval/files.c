/* The files `irbis evaluate` reads: predictions (path, p_<class>..., sequence, seq_p_<class>...)
 * and labels (path, label), and matching their paths. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/error.h"
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

void irb_labels_release(irb_labels *l)
{
    if (!l)
        return;
    free_strings(l->path, l->n);
    free_strings(l->label, l->n);
    memset(l, 0, sizeof *l);
}

static irb_status open_csv(const char *path, FILE **f, irb_csv_reader *r, irb_error *err)
{
    if (!path)
        return irb_fail(err, IRB_INVALID_ARG, "NULL file name");
    *f = fopen(path, "rb");
    if (!*f)
        return irb_fail(err, IRB_IO, "%s: cannot open: %s", path, strerror(errno));
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
    if (!t[0] || *end || errno == ERANGE || isnan(v))
        return irb_fail(err, IRB_CORRUPT, "%s:%ld: column %s: '%s' is not a number", r->path, r->line,
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
    size_t cap = 0, k;
    if (cpath < 0) {
        st = irb_fail(err, IRB_NOT_FOUND, "%s: no 'path' column in the header", path);
        goto cleanup;
    }
    if ((st = class_columns(&r, out, pc, sc, &nseqp, err)) != IRB_OK)
        goto cleanup;
    k = out->n_classes;
    while ((st = irb_csv_next(&r, err)) == IRB_OK) {
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
    if (st == IRB_NOT_FOUND)
        st = out->n ? IRB_OK : irb_fail(err, IRB_CORRUPT, "%s: no rows after the header", path);
cleanup:
    irb_free(pc);
    irb_free(sc);
    irb_csv_release(&r);
    fclose(f);
    if (st != IRB_OK)
        irb_predictions_release(out);
    return st;
}

irb_status irb_labels_read(const char *path, irb_labels *out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_labels_read: NULL output");
    memset(out, 0, sizeof *out);
    FILE *f;
    irb_csv_reader r;
    IRB_TRY(open_csv(path, &f, &r, err));
    irb_status st;
    int cp = irb_csv_column(&r, "path"), cl = irb_csv_column(&r, "label");
    size_t cap = 0;
    if (cp < 0 || cl < 0) {
        st = irb_fail(err, IRB_NOT_FOUND, "%s: the header needs 'path' and 'label' columns", path);
        goto cleanup;
    }
    while ((st = irb_csv_next(&r, err)) == IRB_OK) {
        if (out->n == cap) {
            size_t c = cap ? cap * 2 : 256;
            char **a = irb_realloc_array(out->path, c, sizeof *a);
            if (a)
                out->path = a;
            char **b = a ? irb_realloc_array(out->label, c, sizeof *b) : NULL;
            if (!b) {
                st = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
                goto cleanup;
            }
            out->label = b;
            cap = c;
        }
        const char *p = irb_csv_field(&r, cp), *l = irb_csv_field(&r, cl);
        if (!p[0]) {
            st = irb_fail(err, IRB_CORRUPT, "%s:%ld: empty path", path, r.line);
            goto cleanup;
        }
        if (!l[0])
            continue; /* an empty label is no label (not a class named ""), as train takes it */
        out->path[out->n] = irb_strdup(p);
        out->label[out->n] = irb_strdup(l);
        out->n++;
        if (!out->path[out->n - 1] || !out->label[out->n - 1]) {
            st = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
            goto cleanup;
        }
    }
    if (st == IRB_NOT_FOUND)
        st = IRB_OK;
cleanup:
    irb_csv_release(&r);
    fclose(f);
    if (st != IRB_OK)
        irb_labels_release(out);
    return st;
}

/* ---- path matching ------------------------------------------------------------------------ */

typedef struct suffix {
    const char *s; /* a suffix of a label path starting at its beginning or right after a '/' */
    size_t row;
    int full;      /* the whole (normalised) path */
} suffix;

static const char *norm(const char *p)
{
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    return p;
}

static int cmp_suffix(const void *pa, const void *pb)
{
    const suffix *a = pa, *b = pb;
    int c = strcmp(a->s, b->s);
    if (c)
        return c;
    if (a->full != b->full)
        return a->full ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* First index of s in the sorted table, or nt. */
static size_t lower(const suffix *t, size_t nt, const char *s)
{
    size_t lo = 0, hi = nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t[mid].s, s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Looks s up; full_only restricts to whole label paths, otherwise to proper suffixes.
 * Returns 1 and *row when found; -1 (with err) when ambiguous; 0 when absent. */
static int lookup(const irb_labels *l, const suffix *t, size_t nt, const char *s, int full_only, const char *q,
                  long *row, irb_error *err)
{
    long found = -1;
    for (size_t i = lower(t, nt, s); i < nt && strcmp(t[i].s, s) == 0; i++) {
        if (t[i].full != full_only)
            continue;
        if (found < 0)
            found = (long)t[i].row;
        else if (strcmp(l->label[found], l->label[t[i].row]) != 0) {
            irb_fail(err, IRB_MISMATCH, "labels: '%s' matches both '%s' (%s) and '%s' (%s)", q, l->path[found],
                     l->label[found], l->path[t[i].row], l->label[t[i].row]);
            return -1;
        }
    }
    *row = found;
    return found >= 0;
}

static int match_one(const irb_labels *l, const suffix *t, size_t nt, const char *q, long *row, irb_error *err)
{
    int r;
    if ((r = lookup(l, t, nt, q, 1, q, row, err)) != 0) /* exact */
        return r;
    if ((r = lookup(l, t, nt, q, 0, q, row, err)) != 0) /* q is a suffix of a label path */
        return r;
    for (const char *s = strchr(q, '/'); s; s = strchr(s + 1, '/')) /* a label path is a suffix of q */
        if (s[1] && (r = lookup(l, t, nt, s + 1, 1, q, row, err)) != 0)
            return r;
    *row = -1;
    return 0;
}

/* One label row matched by images of different paths: a bare file name ("IMG_0001.JPG") takes
 * that name in every camera folder. Allowed (the same label for all), but said. */
static void warn_shared_labels(const irb_labels *l, const char *const *q, size_t n, const long *match,
                               irb_error *err)
{
    long *first = irb_malloc_array(l->n ? l->n : 1, sizeof *first);
    size_t rows = 0;
    long ex_row = -1, ex_a = -1, ex_b = -1;
    for (size_t r = 0; first && r < l->n; r++)
        first[r] = -1;
    for (size_t i = 0; first && i < n; i++) {
        long r = match[i];
        if (r < 0)
            continue;
        if (first[r] < 0)
            first[r] = (long)i;
        else if (first[r] != -2 && strcmp(norm(q[first[r]]), norm(q[i])) != 0) {
            if (ex_row < 0)
                ex_row = r, ex_a = first[r], ex_b = (long)i;
            first[r] = -2; /* counted */
            rows++;
        }
    }
    if (rows)
        irb_warn(err, "labels: %zu label path(s) match images in several folders, e.g. '%s' matches '%s' and '%s' "
                      "(each gets that label; give the folder in the labels file if they differ)",
                 rows, l->path[ex_row], q[ex_a], q[ex_b]);
    irb_free(first);
}

irb_status irb_labels_match(const irb_labels *labels, const char *const *q, size_t n, long *match, irb_error *err)
{
    if (!labels || (n && (!q || !match)))
        return irb_fail(err, IRB_INVALID_ARG, "irb_labels_match: NULL argument");
    size_t nt = 0;
    for (size_t i = 0; i < labels->n; i++) {
        nt++;
        for (const char *s = strchr(norm(labels->path[i]), '/'); s; s = strchr(s + 1, '/'))
            nt += s[1] != 0;
    }
    suffix *t = irb_malloc_array(nt ? nt : 1, sizeof *t);
    if (!t)
        return irb_fail(err, IRB_NOMEM, "labels: out of memory indexing %zu paths", labels->n);
    nt = 0;
    for (size_t i = 0; i < labels->n; i++) {
        const char *p = norm(labels->path[i]);
        t[nt++] = (suffix){p, i, 1};
        for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/'))
            if (s[1])
                t[nt++] = (suffix){s + 1, i, 0};
    }
    qsort(t, nt, sizeof *t, cmp_suffix);
    irb_status st = IRB_OK;
    for (size_t i = 0; i < n; i++)
        if (match_one(labels, t, nt, norm(q[i]), &match[i], err) < 0) {
            st = IRB_MISMATCH;
            break;
        }
    irb_free(t);
    if (st == IRB_OK)
        warn_shared_labels(labels, q, n, match, err);
    return st;
}

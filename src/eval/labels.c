/* Labels files and the one rule that matches their paths to images, used by `irbis train`
 * (feature rows), `irbis evaluate` (prediction rows) and `irbis experiment` / `train --images`
 * (the files under the images folder). The rule is written down in docs/evaluation.md
 * ("Matching labels to images"). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "eval/eval_internal.h"
#include "irbis/eval.h"
#include "irbis/learn.h"

/* ---- paths ----------------------------------------------------------------------------------- */

/* Removes "./" components and repeated '/' in place ("./a//./b" -> "a/b"); a trailing "/." goes
 * too. A backslash is a '/': labels written on Windows (Timelapse, Excel) separate folders with
 * it (CAM01, backslash, IMG_0001.JPG; or a drive letter in front), and no camera puts one in a
 * file name. Case, extensions and ".." stay as they are: paths are otherwise compared byte for
 * byte. */
static void normalise(char *p)
{
    for (char *s = strchr(p, '\\'); s; s = strchr(s + 1, '\\'))
        *s = '/';
    char *w = p;
    const char *r = p;
    while (*r) {
        if ((r == p || r[-1] == '/') && r[0] == '.' && (r[1] == '/' || !r[1])) {
            r += r[1] ? 2 : 1;
            continue;
        }
        if (*r == '/' && w > p && w[-1] == '/') {
            r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

static char *normalised(const char *root, const char *path)
{
    int join = root && *root && path[0] != '/';
    size_t n = (join ? strlen(root) + 1 : 0) + strlen(path) + 1;
    char *s = irb_malloc(n);
    if (!s)
        return NULL;
    if (join)
        snprintf(s, n, "%s/%s", root, path);
    else
        memcpy(s, path, n);
    normalise(s);
    return s;
}

/* ---- reading --------------------------------------------------------------------------------- */

void irb_labels_release(irb_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        if (l->path)
            irb_free(l->path[i]);
        if (l->label)
            irb_free(l->label[i]);
    }
    irb_free(l->path);
    irb_free(l->label);
    irb_free(l->row);
    irb_free(l->source);
    memset(l, 0, sizeof *l);
}

/* A row to sort is its path with its index, so the comparator needs no state. */
static int cmp_by_path(const void *a, const void *b)
{
    const irb_path_row *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

irb_path_row *irb_paths_sorted(char *const *paths, size_t n)
{
    irb_path_row *ord = irb_malloc_array(n ? n : 1, sizeof *ord);
    if (!ord)
        return NULL;
    for (size_t i = 0; i < n; i++)
        ord[i] = (irb_path_row){paths[i], i};
    qsort(ord, n, sizeof *ord, cmp_by_path);
    return ord;
}

/* One path listed twice: with two labels it is refused naming both rows; with the same label
 * the later row is dropped (it is the same image, listed twice). */
static irb_status drop_repeats(irb_labels *l, irb_error *err)
{
    irb_path_row *ord = irb_paths_sorted(l->path, l->n);
    unsigned char *drop = irb_calloc(l->n ? l->n : 1, 1);
    if (!ord || !drop) {
        irb_free(ord), irb_free(drop);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", l->source);
    }
    irb_status st = IRB_OK;
    for (size_t k = 1; k < l->n && st == IRB_OK; k++) {
        size_t a = ord[k - 1].i, b = ord[k].i;
        if (strcmp(l->path[a], l->path[b]) != 0)
            continue;
        if (strcmp(l->label[a], l->label[b]) != 0)
            st =
                irb_fail(err, IRB_CORRUPT, "%s: '%s' has two labels: '%s' and '%s' (rows %zu and %zu below the header)",
                         l->source, l->path[a], l->label[a], l->label[b], l->row[a] + 1, l->row[b] + 1);
        drop[b] = 1;
        ord[k] = ord[k - 1]; /* compare later repeats with the first */
    }
    size_t w = 0;
    for (size_t i = 0; st == IRB_OK && i < l->n; i++) {
        if (drop[i]) {
            irb_free(l->path[i]), irb_free(l->label[i]);
            continue;
        }
        l->path[w] = l->path[i], l->label[w] = l->label[i], l->row[w++] = l->row[i];
    }
    if (st == IRB_OK)
        l->n = w;
    irb_free(ord);
    irb_free(drop);
    return st;
}

/* A label cell without the spaces and tabs around it (a spreadsheet's "empty " is "empty"). */
static char *label_dup(const char *l, size_t *len)
{
    while (*l == ' ' || *l == '\t')
        l++;
    size_t n = strlen(l);
    while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t'))
        n--;
    *len = n;
    char *d = irb_malloc(n + 1);
    if (d) {
        memcpy(d, l, n);
        d[n] = '\0';
    }
    return d;
}

irb_status irb_labels_from_table(const irb_table *t, const char *path_col, const char *label_col, const char *root,
                                 const char *source, irb_labels *out, irb_error *err)
{
    if (!t || !out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_labels_from_table: NULL argument");
    memset(out, 0, sizeof *out);
    source = source ? source : "labels";
    int cp = irb_table_column(t, path_col ? path_col : "path"),
        cl = irb_table_column(t, label_col ? label_col : "label");
    if (cp < 0 || cl < 0) /* the header as read: "path;label" (European Excel), "Path", "label " */
        return irb_labels_no_column(t, source,
                                    cp < 0 ? (path_col ? path_col : "path") : (label_col ? label_col : "label"), err);
    size_t cap = t->nrow ? t->nrow : 1;
    out->path = irb_calloc(cap, sizeof *out->path);
    out->label = irb_calloc(cap, sizeof *out->label);
    out->row = irb_malloc_array(cap, sizeof *out->row);
    out->source = irb_strdup(source);
    irb_status st = out->path && out->label && out->row && out->source ? IRB_OK : IRB_NOMEM;
    for (size_t i = 0; st == IRB_OK && i < t->nrow; i++) {
        const char *p = t->cell[i][cp];
        size_t len;
        char *l = label_dup(t->cell[i][cl], &len);
        if (!l) {
            st = IRB_NOMEM;
            break;
        }
        if (!len) {
            irb_free(l);
            if (!out->n_empty++)
                out->first_empty = i;
            continue; /* an empty label is no label (not a class named ""); counted for a warning */
        }
        if (!p[0]) {
            irb_status e = irb_fail(err, IRB_CORRUPT, "%s: row %zu: label '%s' with an empty path", source, i + 1, l);
            irb_free(l);
            irb_labels_release(out);
            return e;
        }
        out->row[out->n] = i;
        out->path[out->n] = normalised(root, p);
        out->label[out->n] = l;
        out->n++;
        if (!out->path[out->n - 1] || !out->label[out->n - 1])
            st = IRB_NOMEM;
    }
    if (st == IRB_NOMEM)
        st = irb_fail(err, IRB_NOMEM, "%s: out of memory", source);
    if (st == IRB_OK)
        st = drop_repeats(out, err);
    if (st != IRB_OK)
        irb_labels_release(out);
    return st;
}

irb_status irb_labels_read(const char *path, const irb_labels_opts *opts, irb_labels *out, irb_error *err)
{
    if (!path || !out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_labels_read: NULL argument");
    memset(out, 0, sizeof *out);
    irb_table *t = NULL;
    IRB_TRY(irb_labels_table_load(path, opts, &t, err));
    irb_status st = irb_labels_from_table(t, "path", "label", NULL, path, out, err);
    irb_table_free(t);
    return st;
}

/* ---- matching -------------------------------------------------------------------------------- */

typedef struct suffix {
    const char *s; /* a label path (normalised), or one of its tails starting right after a '/' */
    size_t row;
    int full; /* the whole path */
} suffix;

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

typedef struct label_index {
    const irb_labels *l;
    char **norm; /* [l->n] normalised label paths */
    suffix *t;
    size_t nt;
    const char *source;
} label_index;

/* Looks s up among whole label paths (full = 1) or proper tails (full = 0). Returns 1 and *row
 * when found, 0 when absent, -1 (message in err) when two rows with different labels match
 * equally well. q is the image's path as given, for the message. */
static int lookup(const label_index *x, const char *s, int full, const char *q, long *row, irb_error *err)
{
    long found = -1;
    for (size_t i = lower(x->t, x->nt, s); i < x->nt && strcmp(x->t[i].s, s) == 0; i++) {
        if (x->t[i].full != full)
            continue;
        size_t r = x->t[i].row;
        if (found < 0)
            found = (long)r;
        else if (strcmp(x->l->label[found], x->l->label[r]) != 0) {
            irb_fail(err, IRB_MISMATCH, "%s: image '%s' matches both '%s' (%s) and '%s' (%s) equally well", x->source,
                     q, x->l->path[found], x->l->label[found], x->l->path[r], x->l->label[r]);
            return -1;
        }
    }
    *row = found;
    return found >= 0;
}

/* The rule: the same path; else the image's path is a tail of label paths; else the longest
 * label path that is a tail of the image's path. */
static int match_one(const label_index *x, const char *q, const char *shown, long *row, irb_error *err)
{
    int r;
    if ((r = lookup(x, q, 1, shown, row, err)) != 0)
        return r;
    if ((r = lookup(x, q, 0, shown, row, err)) != 0)
        return r;
    for (const char *s = strchr(q, '/'); s; s = strchr(s + 1, '/'))
        if (s[1] && (r = lookup(x, s + 1, 1, shown, row, err)) != 0)
            return r;
    *row = -1;
    return 0;
}

/* One label row matched by images of different paths: a bare file name ("IMG_0001.JPG") takes
 * that name in every camera folder. Allowed (the same label for all), but said. */
static void warn_shared(const label_index *x, const char *const *q, size_t n, const long *match, irb_error *err)
{
    long *first = irb_malloc_array(x->l->n ? x->l->n : 1, sizeof *first);
    size_t rows = 0;
    long ex_row = -1, ex_a = -1, ex_b = -1;
    for (size_t r = 0; first && r < x->l->n; r++)
        first[r] = -1;
    for (size_t i = 0; first && i < n; i++) {
        long r = match[i];
        if (r < 0)
            continue;
        if (first[r] < 0)
            first[r] = (long)i;
        else if (first[r] != -2 && strcmp(q[first[r]], q[i]) != 0) {
            if (ex_row < 0)
                ex_row = r, ex_a = first[r], ex_b = (long)i;
            first[r] = -2; /* counted */
            rows++;
        }
    }
    if (rows)
        irb_warn(err,
                 "%s: %zu label path(s) match images in several folders, e.g. '%s' matches '%s' and '%s' "
                 "(each gets that label; give the folder in the labels file if they differ)",
                 x->source, rows, x->l->path[ex_row], q[ex_a], q[ex_b]);
    irb_free(first);
}

static void index_release(label_index *x)
{
    for (size_t i = 0; x->norm && i < x->l->n; i++)
        irb_free(x->norm[i]);
    irb_free(x->norm);
    irb_free(x->t);
}

static irb_status index_build(const irb_labels *l, label_index *x, irb_error *err)
{
    memset(x, 0, sizeof *x);
    x->l = l;
    x->source = l->source ? l->source : "labels";
    x->norm = irb_calloc(l->n ? l->n : 1, sizeof *x->norm);
    size_t nt = 0;
    for (size_t i = 0; x->norm && i < l->n; i++) {
        if (!(x->norm[i] = normalised(NULL, l->path[i])))
            break;
        nt++;
        for (const char *s = strchr(x->norm[i], '/'); s; s = strchr(s + 1, '/'))
            nt += s[1] != 0;
    }
    x->t = x->norm ? irb_malloc_array(nt ? nt : 1, sizeof *x->t) : NULL;
    if (!x->t || (l->n && !x->norm[l->n - 1])) {
        index_release(x);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory indexing %zu paths", x->source, l->n);
    }
    for (size_t i = 0; i < l->n; i++) {
        const char *p = x->norm[i];
        x->t[x->nt++] = (suffix){p, i, 1};
        for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/'))
            if (s[1])
                x->t[x->nt++] = (suffix){s + 1, i, 0};
    }
    qsort(x->t, x->nt, sizeof *x->t, cmp_suffix);
    return IRB_OK;
}

irb_status irb_labels_match(const irb_labels *labels, const char *const *q, size_t n, long *match, irb_error *err)
{
    if (!labels || (n && (!q || !match)))
        return irb_fail(err, IRB_INVALID_ARG, "irb_labels_match: NULL argument");
    IRB_TRY(irb_check_rows(n, 1, sizeof *match, "irb_labels_match", err));
    for (size_t i = 0; i < n; i++)
        if (!q[i])
            return irb_fail(err, IRB_INVALID_ARG, "irb_labels_match: image %zu has no path", i);
    label_index x;
    IRB_TRY(index_build(labels, &x, err));
    irb_status st = IRB_OK;
    char **nq = irb_calloc(n ? n : 1, sizeof *nq);
    for (size_t i = 0; nq && i < n && st == IRB_OK; i++) {
        if (!(nq[i] = normalised(NULL, q[i])))
            st = irb_fail(err, IRB_NOMEM, "%s: out of memory matching %zu paths", x.source, n);
        else if (match_one(&x, nq[i], q[i], &match[i], err) < 0)
            st = IRB_MISMATCH;
    }
    if (!nq)
        st = irb_fail(err, IRB_NOMEM, "%s: out of memory matching %zu paths", x.source, n);
    if (st == IRB_OK)
        warn_shared(&x, (const char *const *)nq, n, match, err);
    for (size_t i = 0; nq && i < n; i++)
        irb_free(nq[i]);
    irb_free(nq);
    index_release(&x);
    return st;
}

size_t irb_labels_unmatched(const irb_labels *labels, const long *match, size_t n, long *example)
{
    if (example)
        *example = -1;
    if (!labels || !labels->n)
        return 0;
    unsigned char *hit = irb_calloc(labels->n, 1);
    if (!hit)
        return 0;
    for (size_t i = 0; match && i < n; i++) /* no match array: nothing matched */
        if (match[i] >= 0 && (size_t)match[i] < labels->n)
            hit[match[i]] = 1;
    size_t count = 0;
    for (size_t r = 0; r < labels->n; r++)
        if (!hit[r] && count++ == 0 && example)
            *example = (long)r;
    irb_free(hit);
    return count;
}

/* name folded for irb_labels_lookalike: lower case, blanks at the ends dropped, each run of
 * spaces, '_' and '-' one '_' */
static void fold_name(const char *name, char *out, size_t size)
{
    size_t w = 0;
    int sep = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && w + 2 < size; p++) {
        if (*p == ' ' || *p == '_' || *p == '-' || *p == '\t') {
            sep = w > 0;
            continue;
        }
        if (sep)
            out[w++] = '_', sep = 0;
        out[w++] = (char)tolower(*p);
    }
    out[w] = '\0';
}

int irb_labels_lookalike(const char *const *names, size_t n, size_t *a, size_t *b)
{
    if (!names)
        return 0;
    for (size_t i = 0; i < n; i++) /* classes are few: pairs */
        for (size_t j = i + 1; j < n; j++) {
            char x[256], y[256];
            if (!names[i] || !names[j] || !strcmp(names[i], names[j]))
                continue;
            fold_name(names[i], x, sizeof x);
            fold_name(names[j], y, sizeof y);
            if (!strcmp(x, y)) {
                if (a)
                    *a = i;
                if (b)
                    *b = j;
                return 1;
            }
        }
    return 0;
}

/* 1 when a and b (normalised) are equal but for case, or one is a tail of the other after a '/' */
static int tail_nocase(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na < nb) {
        const char *t = a;
        a = b, b = t;
        size_t m = na;
        na = nb, nb = m;
    }
    return !strcasecmp(a + na - nb, b) && (na == nb || a[na - nb - 1] == '/');
}

long irb_labels_case_twin(const irb_labels *l, long row, const char *const *q, size_t n)
{
    if (!l || row < 0 || (size_t)row >= l->n || !q)
        return -1;
    char *want = normalised(NULL, l->path[row]);
    long hit = -1;
    for (size_t i = 0; want && hit < 0 && i < n; i++) {
        char *have = q[i] ? normalised(NULL, q[i]) : NULL;
        if (have && tail_nocase(want, have))
            hit = (long)i;
        irb_free(have);
    }
    irb_free(want);
    return hit;
}

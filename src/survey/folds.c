/* Cross-validation folds that never split a unit (sequence, camera, or block of paths). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/survey.h"

typedef struct fref {
    const irb_fold_item *it;
    const char *key; /* the unit name ("" = a unit of its own) */
    size_t idx;
    int label; /* the item's label as its rank among the known labels (-1: unknown) */
} fref;

typedef struct unit {
    size_t first, count; /* a run [first, first+count) of the sorted refs */
    const char *name;
    int label;          /* majority label, -1 when none known */
    size_t label_total; /* images of that label in the whole data set (stratified order) */
} unit;

static const char *nz(const char *s) { return s ? s : ""; }

static int cmp_key_path(const void *pa, const void *pb)
{
    const fref *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    if ((c = strcmp(a->it->path, b->it->path)))
        return c;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int cmp_size_name(const unit *a, const unit *b)
{
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int cmp_unit_plain(const void *pa, const void *pb) { return cmp_size_name(pa, pb); }

static int cmp_int(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

/* The distinct labels >= 0 of the items, ascending, into known[]; returns their count. Labels are
 * counted by their rank in it, so that a label of 2^31 - 1 costs no more than a label of 1. */
static int known_labels(const irb_fold_item *items, size_t n, int *known)
{
    size_t nk = 0, nl = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].label >= 0)
            known[nk++] = items[i].label;
    qsort(known, nk, sizeof *known, cmp_int);
    for (size_t i = 0; i < nk; i++)
        if (!nl || known[i] != known[nl - 1])
            known[nl++] = known[i];
    return (int)nl;
}

/* rarest label first (unknown label last), then the largest unit first */
static int cmp_unit_strat(const void *pa, const void *pb)
{
    const unit *a = pa, *b = pb;
    if ((a->label < 0) != (b->label < 0))
        return a->label < 0 ? 1 : -1;
    if (a->label_total != b->label_total)
        return a->label_total < b->label_total ? -1 : 1;
    if (a->label != b->label)
        return a->label < b->label ? -1 : 1;
    return cmp_size_name(a, b);
}

int irb_fold_unit_parse(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "sequence") == 0)
        return IRB_FOLD_SEQUENCE;
    if (strcmp(name, "camera") == 0)
        return IRB_FOLD_CAMERA;
    if (strcmp(name, "block") == 0)
        return IRB_FOLD_BLOCK;
    return -1;
}

const char *irb_fold_unit_name(irb_fold_unit u)
{
    switch (u) {
    case IRB_FOLD_SEQUENCE: return "sequence";
    case IRB_FOLD_CAMERA: return "camera";
    case IRB_FOLD_BLOCK: return "block";
    }
    return "?";
}

irb_fold_opts irb_fold_opts_default(void) { return (irb_fold_opts){.k = 5, .unit = IRB_FOLD_SEQUENCE, .stratify = 1}; }

/* Splits the key-sorted refs into units; returns the count. counts[] is scratch of nl+1. */
static size_t make_units(const fref *r, size_t n, unit *u, size_t *counts, int nl)
{
    size_t nu = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        if (r[i].key[0])
            while (j < n && strcmp(r[j].key, r[i].key) == 0)
                j++;
        memset(counts, 0, (size_t)(nl + 1) * sizeof *counts);
        for (size_t t = i; t < j; t++)
            if (r[t].label >= 0)
                counts[r[t].label]++;
        int best = -1;
        for (int l = 0; l < nl; l++)
            if (counts[l] && (best < 0 || counts[l] > counts[best]))
                best = l;
        u[nu++] = (unit){.first = i, .count = j - i, .name = r[i].key[0] ? r[i].key : r[i].it->path, .label = best};
        i = j;
    }
    return nu;
}

static void assign_units(const fref *r, unit *u, size_t nu, const irb_fold_opts *o, int nl, size_t *fold_n,
                         size_t *fold_label, int *fold)
{
    if (o->stratify) {
        /* k rows of nl per-fold label counts, then a scratch row of nl label totals */
        memset(fold_label, 0, sizeof *fold_label * ((size_t)o->k + 1) * (size_t)nl);
        size_t *tot = fold_label + (size_t)o->k * (size_t)nl;
        for (size_t i = 0; i < nu; i++)
            if (u[i].label >= 0)
                tot[u[i].label] += u[i].count;
        for (size_t i = 0; i < nu; i++)
            u[i].label_total = u[i].label >= 0 ? tot[u[i].label] : 0;
        qsort(u, nu, sizeof *u, cmp_unit_strat);
    } else {
        qsort(u, nu, sizeof *u, cmp_unit_plain);
    }
    memset(fold_n, 0, sizeof *fold_n * (size_t)o->k);
    for (size_t i = 0; i < nu; i++) {
        int best = 0;
        for (int f = 1; f < o->k; f++) {
            if (o->stratify && u[i].label >= 0) {
                size_t a = fold_label[(size_t)f * (size_t)nl + (size_t)u[i].label];
                size_t b = fold_label[(size_t)best * (size_t)nl + (size_t)u[i].label];
                if (a != b) {
                    if (a < b)
                        best = f;
                    continue;
                }
            }
            if (fold_n[f] < fold_n[best])
                best = f;
        }
        fold_n[best] += u[i].count;
        if (o->stratify && u[i].label >= 0)
            fold_label[(size_t)best * (size_t)nl + (size_t)u[i].label] += u[i].count;
        for (size_t t = u[i].first; t < u[i].first + u[i].count; t++)
            fold[r[t].idx] = best;
    }
}

irb_status irb_folds_assign(const irb_fold_item *items, size_t n, const irb_fold_opts *opts, int *fold, irb_error *err)
{
    irb_fold_opts o = opts ? *opts : irb_fold_opts_default();
    if ((n && (!items || !fold)))
        return irb_fail(err, IRB_INVALID_ARG, "folds: NULL argument");
    IRB_TRY(irb_check_rows(n, 1, sizeof *items, "folds", err));
    if (o.k < 2)
        return irb_fail(err, IRB_INVALID_ARG, "folds: k must be at least 2, got %d", o.k);
    if (o.unit != IRB_FOLD_SEQUENCE && o.unit != IRB_FOLD_CAMERA && o.unit != IRB_FOLD_BLOCK)
        return irb_fail(err, IRB_INVALID_ARG, "folds: unknown unit %d", (int)o.unit);
    for (size_t i = 0; i < n; i++)
        if (!items[i].path)
            return irb_fail(err, IRB_INVALID_ARG, "folds: image %zu has no path", i);
    if (o.unit == IRB_FOLD_BLOCK)
        o.stratify = 0;
    int *known = irb_malloc_array(n ? n : 1, sizeof *known), nl = known ? known_labels(items, n, known) : 0;
    fref *r = irb_malloc_array(n ? n : 1, sizeof *r);
    unit *u = irb_malloc_array(n ? n : 1, sizeof *u);
    size_t *counts = irb_malloc_array((size_t)nl + 1, sizeof *counts);
    size_t *fold_n = irb_malloc_array((size_t)o.k, sizeof *fold_n);
    size_t *fold_label = irb_malloc_array(((size_t)o.k + 1) * (size_t)nl + 1, sizeof *fold_label);
    irb_status st = IRB_OK;
    if (!known || !r || !u || !counts || !fold_n || !fold_label) {
        st = irb_fail(err, IRB_NOMEM, "folds: out of memory for %zu images", n);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = o.unit == IRB_FOLD_CAMERA     ? nz(items[i].camera)
                          : o.unit == IRB_FOLD_SEQUENCE ? nz(items[i].unit)
                                                        : "";
        /* one unknown camera is one unit, not one unit per image */
        const int *rank =
            items[i].label >= 0 ? bsearch(&items[i].label, known, (size_t)nl, sizeof *known, cmp_int) : NULL;
        r[i] =
            (fref){&items[i], o.unit == IRB_FOLD_CAMERA && !key[0] ? "\x01" : key, i, rank ? (int)(rank - known) : -1};
    }
    qsort(r, n, sizeof *r, cmp_key_path);
    if (o.unit == IRB_FOLD_BLOCK) {
        if (n < (size_t)o.k) {
            st = irb_fail(err, IRB_INVALID_ARG, "folds: %zu images cannot fill %d folds", n, o.k);
            goto cleanup;
        }
        for (size_t t = 0; t < n; t++)
            fold[r[t].idx] = (int)(t * (size_t)o.k / n);
        goto cleanup;
    }
    size_t nu = make_units(r, n, u, counts, nl);
    if (nu < (size_t)o.k) {
        st = irb_fail(err, IRB_INVALID_ARG, "folds: only %zu %s units for %d folds; use fewer folds or another unit",
                      nu, irb_fold_unit_name(o.unit), o.k);
        goto cleanup;
    }
    assign_units(r, u, nu, &o, nl, fold_n, fold_label, fold);
cleanup:
    irb_free(known);
    irb_free(r);
    irb_free(u);
    irb_free(counts);
    irb_free(fold_n);
    irb_free(fold_label);
    return st;
}

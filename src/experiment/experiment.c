/* The reference experiment (docs/experiment.md): L120, RN1, RN2, RN2+A, RN2+A+E, and the
 * motion rows M, RN2+A+M, RN2+A+M+E, evaluated by k-fold cross-validation whose folds never
 * split a sequence (or camera, or block of neighbouring files). Every choice (C, info-strip
 * crop, input size) is made inside the training folds. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/file.h"
#include "core/pool.h"
#include "experiment/experiment_internal.h"
#include "experiment/reduce.h"
#include "irbis/eval.h"
#include "irbis/files.h"
#include "irbis/learn.h"
#include "irbis/pipeline.h"
#include "irbis/scan.h"

/* ---- the labelled images ------------------------------------------------------------------- */

typedef struct exp_data {
    size_t n;
    char **rel, **abs, **camera, **stamp, **seqid;
    int *label; /* class index per image */
    char **classes;
    int n_classes, positive;
    int has_time, has_seq;
    irb_sequences seq;
    int *fold;
    int unit;         /* the outer folds' unit */
    int inner_camera; /* inner folds by camera where a training fold holds two or more
                       * (--group camera, even when the outer folds fell back) */
    int *cam_id;      /* camera index per image (group_images) */
} exp_data;

static void data_release(exp_data *d)
{
    for (size_t i = 0; i < d->n; i++) {
        irb_free(d->rel[i]);
        irb_free(d->abs[i]);
        irb_free(d->camera[i]);
        irb_free(d->stamp[i]);
        irb_free(d->seqid[i]);
    }
    irb_free(d->rel);
    irb_free(d->abs);
    irb_free(d->camera);
    irb_free(d->stamp);
    irb_free(d->seqid);
    irb_free(d->label);
    for (int k = 0; k < d->n_classes; k++)
        irb_free(d->classes[k]);
    irb_free(d->classes);
    irb_sequences_release(&d->seq);
    irb_free(d->fold);
    irb_free(d->cam_id);
    memset(d, 0, sizeof *d);
}

static int class_index(exp_data *d, const char *name)
{
    for (int k = 0; k < d->n_classes; k++)
        if (!strcmp(d->classes[k], name))
            return k;
    return -1;
}

static irb_status add_class(exp_data *d, const char *name, irb_error *err)
{
    char **c = irb_realloc_array(d->classes, (size_t)d->n_classes + 1, sizeof *c);
    if (!c || !(c[d->n_classes] = irb_strdup(name))) {
        if (c)
            d->classes = c;
        return irb_fail(err, IRB_NOMEM, "out of memory");
    }
    d->classes = c;
    d->n_classes++;
    return IRB_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Classes by task; the positive class is the ROC's. */
static irb_status make_classes(const irb_experiment_opts *o, exp_data *d, const char **labels, irb_error *err)
{
    const char *empty = o->task == IRB_TASK_EMPTY && o->positive ? o->positive : "empty";
    if (o->task == IRB_TASK_EMPTY) {
        IRB_TRY(add_class(d, empty, err));
        IRB_TRY(add_class(d, "animal", err));
        d->positive = 1;
        for (size_t i = 0; i < d->n; i++)
            d->label[i] = strcasecmp(labels[i], empty) ? 1 : 0; /* 'Empty' is empty too */
    } else if (o->task == IRB_TASK_POSITIVE) {
        if (!o->positive || !*o->positive)
            return irb_fail(err, IRB_INVALID_ARG, "the positive task needs a positive class");
        IRB_TRY(add_class(d, "other", err));
        IRB_TRY(add_class(d, o->positive, err));
        d->positive = 1;
        for (size_t i = 0; i < d->n; i++)
            d->label[i] = strcasecmp(labels[i], o->positive) ? 0 : 1;
    } else {
        for (size_t i = 0; i < d->n; i++)
            if (class_index(d, labels[i]) < 0)
                IRB_TRY(add_class(d, labels[i], err));
        qsort(d->classes, (size_t)d->n_classes, sizeof *d->classes, cmp_str);
        for (size_t i = 0; i < d->n; i++)
            d->label[i] = class_index(d, labels[i]);
        d->positive = o->positive ? class_index(d, o->positive) : -1;
        size_t a, b;
        if (irb_labels_lookalike((const char *const *)d->classes, (size_t)d->n_classes, &a, &b))
            irb_warn_more(err,
                          "%s: the labels '%s' and '%s' differ only in case, spaces, '_' or '-': they are two "
                          "classes here (write them alike if they are one)",
                          o->labels, d->classes[a], d->classes[b]);
    }
    if (d->n_classes > IRB_EXPERIMENT_MAX_CLASSES)
        return irb_fail(err, IRB_UNSUPPORTED, "%s: %d classes; the experiment handles at most %d", o->labels,
                        d->n_classes, IRB_EXPERIMENT_MAX_CLASSES);
    int seen[2] = {0, 0};
    for (size_t i = 0; i < d->n; i++)
        seen[d->label[i] != 0] = 1;
    if ((!seen[0] || !seen[1]) && o->task == IRB_TASK_EMPTY)
        return irb_fail(err, IRB_INVALID_ARG,
                        "%s: the task 'empty' needs images labelled '%s' and images with other labels; all %zu "
                        "labelled images are %s",
                        o->labels, empty, d->n, seen[0] ? "empty" : "not empty (is the empty class named otherwise?)");
    if (!seen[0] || !seen[1] || d->n_classes < 2)
        return irb_fail(err, IRB_INVALID_ARG, "%s: the task needs at least two classes present in the labels",
                        o->labels);
    return IRB_OK;
}

static char *join_path(const char *root, const char *rel)
{
    if (rel[0] == '/' || !root || !*root)
        return irb_strdup(rel);
    size_t n = strlen(root) + strlen(rel) + 2;
    char *p = irb_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", root, rel);
    return p;
}

/* Cameras and times the labels lack, as classify's scan takes them: the folder of the image
 * (camera_depth) and its EXIF DateTimeOriginal (read from the header; "" when it has none or
 * cannot be read, and the decode later says why). */
static irb_status scan_missing(const irb_experiment_opts *o, exp_data *d, irb_error *err)
{
    irb_decoder_t *dec = NULL;
    for (size_t i = 0; i < d->n; i++) {
        char buf[1024];
        if (!d->camera[i][0]) {
            irb_scan_camera(d->rel[i], o->camera_depth, buf, sizeof buf);
            char *c = irb_strdup(buf);
            if (!c)
                return irb_decoder_free(dec), irb_fail(err, IRB_NOMEM, "out of memory reading %s", o->labels);
            irb_free(d->camera[i]);
            d->camera[i] = c;
        }
        if (d->stamp[i][0] || (!dec && irb_decoder_new(&dec) != IRB_OK))
            continue;
        irb_image_info info;
        if (irb_read_header(dec, d->abs[i], NULL, &info) == IRB_OK && info.datetime[0]) {
            char *t = irb_strdup(info.datetime);
            if (!t)
                return irb_decoder_free(dec), irb_fail(err, IRB_NOMEM, "out of memory reading %s", o->labels);
            irb_free(d->stamp[i]);
            d->stamp[i] = t;
        }
    }
    irb_decoder_free(dec);
    return IRB_OK;
}

/* The files under the images folder that are not still images (irbis/scan.h, IRB_ROW_SKIPPED:
 * videos, notes), sorted by path: labelled, they are left out and said, not failed images. */
typedef struct not_still {
    char *path;
    int video;
} not_still;

typedef struct not_stills {
    not_still *f;
    size_t n, cap, labelled, labelled_videos;
    const char *example; /* the first labelled one */
} not_stills;

static int cmp_not_still(const void *a, const void *b)
{
    return strcmp(((const not_still *)a)->path, ((const not_still *)b)->path);
}

static int add_not_still(not_stills *ns, const irb_scan_row *row)
{
    if (ns->n == ns->cap) {
        not_still *p = irb_realloc_array(ns->f, ns->cap ? 2 * ns->cap : 16, sizeof *p);
        if (!p)
            return 0;
        ns->f = p, ns->cap = ns->cap ? 2 * ns->cap : 16;
    }
    ns->f[ns->n] = (not_still){irb_strdup(row->path), row->video};
    return ns->f[ns->n].path && ++ns->n;
}

static void not_stills_free(not_stills *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        irb_free(ns->f[i].path);
    irb_free(ns->f);
}

/* 1 when rel is one of ns's, counting it as labelled. */
static int labelled_not_still(not_stills *ns, const char *rel)
{
    not_still key = {(char *)rel, 0};
    const not_still *hit = ns->n ? bsearch(&key, ns->f, ns->n, sizeof *ns->f, cmp_not_still) : NULL;
    if (!hit)
        return 0;
    if (!ns->labelled++)
        ns->example = hit->path;
    ns->labelled_videos += hit->video != 0;
    return 1;
}

/* The files under the images folder (relative paths, sorted byte-wise), listed without reading
 * their images: the candidates the labels are matched to (those that are not still images into
 * ns). */
static irb_status list_images(const irb_experiment_opts *o, char ***out, size_t *n, not_stills *ns, irb_error *err)
{
    irb_scan_opts so = {.names_only = 1};
    irb_scan_t *scan = NULL;
    irb_scan_row row;
    size_t cap = 0;
    *out = NULL, *n = 0;
    /* a missing folder is said (its IRB_NOT_FOUND is not the end of a scan: "0 labelled images") */
    IRB_TRY(irb_scan_open(o->images && *o->images ? o->images : ".", &so, &scan, err));
    irb_status s = IRB_OK;
    while (s == IRB_OK && (s = irb_scan_next(scan, &row)) == IRB_OK) {
        if (row.status == IRB_ROW_ERROR)
            continue; /* an unreadable folder: its labelled images are reported as unmatched */
        if (row.status == IRB_ROW_SKIPPED && !add_not_still(ns, &row))
            break;
        if (*n == cap) {
            char **p = irb_realloc_array(*out, cap ? 2 * cap : 256, sizeof *p);
            if (!p)
                break;
            *out = p, cap = cap ? 2 * cap : 256;
        }
        if (!((*out)[*n] = irb_strdup(row.path)))
            break;
        (*n)++;
    }
    if (s == IRB_OK)
        s = irb_fail(err, IRB_NOMEM, "out of memory listing %s", o->images);
    else if (s == IRB_NOT_FOUND)
        s = IRB_OK;
    else if (scan)
        irb_error_copy(err, irb_scan_error(scan));
    irb_scan_close(scan);
    if (s == IRB_OK && *n > 1)
        qsort(*out, *n, sizeof **out, cmp_str);
    if (s == IRB_OK && ns->n > 1)
        qsort(ns->f, ns->n, sizeof *ns->f, cmp_not_still);
    return s;
}

/* Keeps only the images for which ok[i] is set (decoded in every feature set; not a copy of
 * another, find_copies, with no feature sets yet). */
static void keep_ok(exp_data *d, const uint8_t *ok, featmat *mats, int n_mats, float *strip_top, float *strip_bottom)
{
    size_t w = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (ok[i] && strip_top && strip_bottom) {
            strip_top[w] = strip_top[i];
            strip_bottom[w] = strip_bottom[i];
        }
        if (!ok[i]) {
            irb_free(d->rel[i]);
            irb_free(d->abs[i]);
            irb_free(d->camera[i]);
            irb_free(d->stamp[i]);
            irb_free(d->seqid[i]);
            continue;
        }
        d->rel[w] = d->rel[i];
        d->abs[w] = d->abs[i];
        d->camera[w] = d->camera[i];
        d->stamp[w] = d->stamp[i];
        d->seqid[w] = d->seqid[i];
        d->label[w] = d->label[i];
        for (int m = 0; m < n_mats; m++) {
            featmat *f = &mats[m];
            if (!f->x)
                continue;
            memmove(f->x + w * f->dim, f->x + i * f->dim, f->dim * sizeof(float));
            if (f->xf)
                memmove(f->xf + w * f->dim, f->xf + i * f->dim, f->dim * sizeof(float));
        }
        w++;
    }
    d->n = w; /* the matrices keep their n (it sizes their failure list); rows past w are unused */
}

/* ---- copies of one picture ------------------------------------------------------------------- */

typedef struct copy_key {
    long long size;
    char hex[65]; /* the content's SHA-256, "" when not read */
    size_t i;     /* the image, in path order */
} copy_key;

static int cmp_copy(const void *a, const void *b)
{
    const copy_key *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    int c = strcmp(x->hex, y->hex);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Labelled images that are byte-identical copies of another (a card copied twice, a picture kept
 * in a species folder and in its camera's, links to one file) are left out but the first in path
 * order: copies on both sides of a fold would inflate the accuracy estimate and choose C and the
 * crop on pictures the model has seen, and they would set the novelty threshold at zero (every
 * image's nearest other is its copy), making every new picture novel. Copies with different
 * labels all go. Only files of equal size are read (SHA-256). ok[i] cleared for those left out. */
static irb_status find_copies(const irb_experiment_opts *o, const exp_data *d, const char *const *labels, uint8_t *ok,
                              irb_error *err)
{
    copy_key *k = irb_calloc(d->n ? d->n : 1, sizeof *k);
    if (!k)
        return irb_fail(err, IRB_NOMEM, "out of memory reading %s", o->labels);
    for (size_t i = 0; i < d->n; i++) {
        struct stat sb;
        k[i].i = i;
        k[i].size = stat(d->abs[i], &sb) == 0 ? (long long)sb.st_size : -1 - (long long)i; /* unread: unique */
    }
    qsort(k, d->n, sizeof *k, cmp_copy);
    for (size_t a = 0; a + 1 < d->n; a++) /* the contents of files that share a size */
        for (size_t b = a; b <= a + 1; b++)
            if (k[a].size == k[a + 1].size && !k[b].hex[0] && irb_sha256_file(d->abs[k[b].i], k[b].hex, NULL) != IRB_OK)
                snprintf(k[b].hex, sizeof k[b].hex, "unread %zu", k[b].i);
    qsort(k, d->n, sizeof *k, cmp_copy);
    size_t copies = 0, clash = 0, ex_copy = 0, ex_of = 0, ex_clash = 0, ex_with = 0;
    for (size_t a = 0, b; a < d->n; a = b) {
        int differ = 0;
        for (b = a + 1; b < d->n && k[b].size == k[a].size && k[a].hex[0] && !strcmp(k[b].hex, k[a].hex); b++)
            differ |= strcasecmp(labels[k[b].i], labels[k[a].i]) != 0;
        for (size_t c = a + 1; c < b; c++) {
            ok[k[c].i] = 0;
            if (!differ && !copies++)
                ex_copy = k[c].i, ex_of = k[a].i;
        }
        if (differ) {
            ok[k[a].i] = 0;
            for (size_t c = a + 1; !clash && c < b; c++) /* the first group's pair that differs, to name */
                if (strcasecmp(labels[k[c].i], labels[k[a].i])) {
                    ex_clash = k[a].i, ex_with = k[c].i;
                    break;
                }
            clash += b - a;
        }
    }
    if (copies)
        irb_warn_more(err,
                      "%zu labelled image(s) are copies of another labelled image (the same bytes) and are left out, "
                      "so that no picture is on both sides of a fold (e.g. %s, a copy of %s)",
                      copies, d->rel[ex_copy], d->rel[ex_of]);
    if (clash)
        irb_warn_more(err,
                      "%zu labelled image(s) are copies of one picture under different labels and are left out "
                      "(e.g. %s labelled '%s' and %s labelled '%s')",
                      clash, d->rel[ex_clash], labels[ex_clash], d->rel[ex_with], labels[ex_with]);
    irb_free(k);
    return IRB_OK;
}

/* The labelled images: the files under --images that the labels match (irb_labels_match, the
 * rule train and evaluate use), in path order, with the labels' camera, timestamp and sequence
 * columns. Label rows that match no file are counted and said in a warning. */
static irb_status load_labels(const irb_experiment_opts *o, exp_data *d, irb_error *err)
{
    irb_table *t = NULL;
    irb_labels lab = {0};
    char **files = NULL;
    size_t nf = 0, m = 0;
    long *match = NULL;
    const char **labels = NULL;
    not_stills ns = {0};
    IRB_TRY(irb_labels_table_load(o->labels, &o->labels_opts, &t, err));
    int cc = irb_table_column(t, "camera"), ct = irb_table_column(t, "timestamp");
    int cs = irb_table_column(t, "sequence");
    irb_status s = irb_labels_from_table(t, "path", "label", NULL, o->labels, &lab, err);
    if (s == IRB_OK)
        s = list_images(o, &files, &nf, &ns, err);
    if (s == IRB_OK && !(match = irb_malloc_array(nf ? nf : 1, sizeof *match)))
        s = irb_fail(err, IRB_NOMEM, "out of memory reading %s", o->labels);
    if (s == IRB_OK)
        s = irb_labels_match(&lab, (const char *const *)files, nf, match, err);
    if (s != IRB_OK)
        goto cleanup;
    if (lab.n_empty)
        irb_warn_more(err, "%s: %zu row(s) with an empty label skipped (the first: row %zu)", o->labels, lab.n_empty,
                      lab.first_empty + 1);
    long ex;
    size_t unmatched = irb_labels_unmatched(&lab, match, nf, &ex);
    char twin[320] = ""; /* a file the example would match but for case */
    long tw = unmatched ? irb_labels_case_twin(&lab, ex, (const char *const *)files, nf) : -1;
    if (tw >= 0)
        snprintf(twin, sizeof twin, "; the file '%.280s' differs only in case", files[tw]);
    if (unmatched) {
        irb_warn_more(err, "%s: %zu label row(s) match no file under %s, e.g. '%s' (row %zu%s)", o->labels, unmatched,
                      o->images, lab.path[ex], lab.row[ex] + 1, twin);
    }
    for (size_t i = 0; i < nf; i++)
        if (match[i] >= 0 && labelled_not_still(&ns, files[i]))
            match[i] = -1;
    if (ns.labelled)
        irb_warn_more(err,
                      "%zu labelled file(s) under %s are not still images (%zu videos) and were left out, e.g. '%s'",
                      ns.labelled, o->images, ns.labelled_videos, ns.example);
    for (size_t i = 0; i < nf; i++)
        m += match[i] >= 0;
    if (o->limit && m > o->limit)
        m = o->limit;
    d->rel = irb_calloc(m + 1, sizeof *d->rel);
    d->abs = irb_calloc(m + 1, sizeof *d->abs);
    d->camera = irb_calloc(m + 1, sizeof *d->camera);
    d->stamp = irb_calloc(m + 1, sizeof *d->stamp);
    d->seqid = irb_calloc(m + 1, sizeof *d->seqid);
    d->label = irb_calloc(m + 1, sizeof *d->label);
    labels = irb_calloc(m + 1, sizeof *labels);
    if (!d->rel || !d->abs || !d->camera || !d->stamp || !d->seqid || !d->label || !labels) {
        s = irb_fail(err, IRB_NOMEM, "out of memory reading %s", o->labels);
        goto cleanup;
    }
    for (size_t f = 0; f < nf && d->n < m; f++) {
        if (match[f] < 0)
            continue;
        size_t i = d->n++;
        char **row = t->cell[lab.row[match[f]]];
        d->rel[i] = files[f];
        files[f] = NULL;
        d->abs[i] = join_path(o->images, d->rel[i]);
        d->camera[i] = irb_strdup(cc >= 0 ? row[cc] : "");
        d->stamp[i] = irb_strdup(ct >= 0 ? row[ct] : "");
        d->seqid[i] = irb_strdup(cs >= 0 ? row[cs] : "");
        labels[i] = lab.label[match[f]];
        if (!d->abs[i] || !d->camera[i] || !d->stamp[i] || !d->seqid[i]) {
            s = irb_fail(err, IRB_NOMEM, "out of memory reading %s", o->labels);
            goto cleanup;
        }
    }
    uint8_t *ok = irb_malloc(d->n ? d->n : 1);
    if (ok)
        memset(ok, 1, d->n);
    s = ok ? find_copies(o, d, labels, ok, err) : irb_fail(err, IRB_NOMEM, "out of memory reading %s", o->labels);
    for (size_t i = 0, w = 0; s == IRB_OK && i < d->n; i++) /* the labels beside the images keep_ok keeps */
        if (ok[i])
            labels[w++] = labels[i];
    if (s == IRB_OK)
        keep_ok(d, ok, NULL, 0, NULL, NULL);
    irb_free(ok);
    m = d->n;
    if (s == IRB_OK)
        s = scan_missing(o, d, err);
    for (size_t i = 0; s == IRB_OK && i < m; i++) {
        d->has_time |= d->stamp[i][0] != 0;
        d->has_seq |= d->seqid[i][0] != 0;
    }
    if (s == IRB_OK && m < 10 && unmatched) /* the warning it overwrites is the cause */
        s = irb_fail(err, IRB_INVALID_ARG,
                     "%s: %zu labelled images under %s (the experiment needs at least 10): %zu of its %zu label "
                     "row(s) match no file there, e.g. '%s' (row %zu; case counts, docs/evaluation.md%s)",
                     o->labels, m, o->images, unmatched, lab.n, lab.path[ex], lab.row[ex] + 1, twin);
    else if (s == IRB_OK && m < 10)
        s = irb_fail(err, IRB_INVALID_ARG, "%s: %zu labelled images under %s; the experiment needs at least 10",
                     o->labels, m, o->images);
    if (s == IRB_OK)
        s = make_classes(o, d, labels, err);
cleanup:
    for (size_t f = 0; f < nf; f++)
        irb_free(files[f]);
    irb_free(files);
    irb_free(match);
    irb_free(labels);
    not_stills_free(&ns);
    irb_labels_release(&lab);
    irb_table_free(t);
    return s;
}

static irb_status group_images(const irb_experiment_opts *o, exp_data *d, irb_error *err)
{
    irb_seq_item *items = irb_calloc(d->n, sizeof *items);
    irb_fold_item *fi = irb_calloc(d->n, sizeof *fi);
    d->fold = irb_calloc(d->n, sizeof *d->fold);
    irb_status s = IRB_OK;
    if (!items || !fi || !d->fold) {
        s = irb_fail(err, IRB_NOMEM, "out of memory grouping images");
        goto cleanup;
    }
    size_t bad_time = 0, first_bad = 0;
    for (size_t i = 0; i < d->n; i++) {
        items[i].path = d->rel[i];
        items[i].camera = d->camera[i];
        items[i].sequence = d->seqid[i];
        items[i].has_time = d->stamp[i][0] && irb_time_parse(d->stamp[i], &items[i].time, NULL) == IRB_OK;
        if (d->stamp[i][0] && !items[i].has_time && !bad_time++)
            first_bad = i;
    }
    if (bad_time) /* a label column's: EXIF times are parsed when read */
        irb_warn_more(err, "%zu image(s) have a timestamp that is not a time, taken as untimed (e.g. '%s' for %s)",
                      bad_time, d->stamp[first_bad], d->rel[first_bad]);
    irb_seq_opts so = irb_seq_opts_default();
    if (o->gap > 0)
        so.gap = o->gap;
    if ((s = irb_sequences_assign(items, d->n, &so, &d->seq, err)) != IRB_OK)
        goto cleanup;
    irb_fold_opts fo = irb_fold_opts_default();
    fo.k = o->folds > 0 ? o->folds : 5;
    fo.unit = o->unit >= 0 ? (irb_fold_unit)o->unit : (d->has_time || d->has_seq ? IRB_FOLD_SEQUENCE : IRB_FOLD_BLOCK);
    int n_cameras = 0;
    if (!(d->cam_id = irb_calloc(d->n ? d->n : 1, sizeof *d->cam_id))) {
        s = irb_fail(err, IRB_NOMEM, "out of memory grouping images");
        goto cleanup;
    }
    irb_strmap *cams = NULL; /* camera -> its number, in order of first image */
    if ((s = irb_strmap_new(16, &cams, err)) != IRB_OK)
        goto cleanup;
    for (size_t i = 0; s == IRB_OK && i < d->n; i++) {
        int64_t q = 0;
        if ((s = irb_strmap_add(cams, d->camera[i], strlen(d->camera[i]), n_cameras, &q, err)) == IRB_OK)
            n_cameras += q == n_cameras, d->cam_id[i] = (int)q;
    }
    irb_strmap_free(cams);
    if (s != IRB_OK)
        goto cleanup;
    /* training a pipeline (--save) on fewer cameras than folds: the estimate's folds fall back
     * to the default unit, sequences, or contiguous blocks without times or sequence ids (one
     * image per "sequence" would put a burst's frames on both sides); the inner folds that make
     * the choices group by camera where they can */
    d->inner_camera = fo.unit == IRB_FOLD_CAMERA;
    if (fo.unit == IRB_FOLD_CAMERA && n_cameras < fo.k && o->save) {
        fo.unit = d->has_time || d->has_seq ? IRB_FOLD_SEQUENCE : IRB_FOLD_BLOCK;
        irb_warn_more(err, "--group camera: %d camera(s) for %d folds; the accuracy estimate's folds are over %s",
                      n_cameras, fo.k, fo.unit == IRB_FOLD_SEQUENCE ? "sequences" : "contiguous blocks of images");
    }
    d->unit = (int)fo.unit;
    for (size_t i = 0; i < d->n; i++) {
        fi[i].path = d->rel[i];
        fi[i].camera = d->camera[i];
        fi[i].unit = d->seq.ids[d->seq.image_seq[i]];
        fi[i].label = d->label[i];
    }
    s = irb_folds_assign(fi, d->n, &fo, d->fold, err);
cleanup:
    irb_free(items);
    irb_free(fi);
    return s;
}

/* ---- features ------------------------------------------------------------------------------- */

#define N_VARIANTS (2 * IRB_EXPERIMENT_MAX_SIZES)
/* features: mats[MAT(fixed, kind, variant)]; fixed 1: the cropped variants at the fixed crop */
#define MAT(fixed, kind, v) (((fixed)*N_KINDS + (kind)) * N_VARIANTS + (v))
#define N_MATS              (2 * N_KINDS * N_VARIANTS)
enum { KIND_RAW, KIND_CUT1, KIND_CUT2, KIND_MOTION, N_KINDS, KIND_NONE = -1 };

/* ---- the rows -------------------------------------------------------------------------------- */

/* One row of the experiment (docs/experiment.md). A row is trained by cross-validation on one
 * kind of features, or made of rows above it: the mean of their out-of-fold probabilities. E
 * (ensemble) rows then average the probabilities over each sequence. Saved as a pipeline
 * (--save), a row is its trained rows as parts, weighted as the means weigh them. A new row is
 * one entry of this table. */
typedef struct exp_row_def {
    const char *name, *what;
    int kind;            /* KIND_*: the features it is trained on; KIND_NONE: made of rows */
    int augment;         /* trained on originals + mirrors, predicts the mean over both */
    const char *from[2]; /* the rows it is the mean of (NULL: unused) */
    int ensemble;        /* averaged over each sequence */
    int deployable;      /* may be saved as a pipeline */
    int fixed_crop;      /* with the strips cropped, the motion rows' one fixed crop (per fold)
                          * instead of each frame's own: its pipeline part then shares the
                          * motion part's input, so classify runs one CNN pass for both */
    int internal;        /* a part of other rows: computed for them, shown only when asked */
} exp_row_def;

static const exp_row_def row_defs[] = {
    {"L120", "logistic regression on raw pixels", KIND_RAW, 0, {NULL}, 0, 0, 0, 0},
    {"RN1", "CNN cut 1 (one layer before the output)", KIND_CUT1, 0, {NULL}, 0, 1, 0, 0},
    {"RN2", "CNN cut 2 (two layers before the output)", KIND_CUT2, 0, {NULL}, 0, 1, 0, 0},
    {"RN2+A", "cut 2 + horizontal-flip augmentation", KIND_CUT2, 1, {NULL}, 0, 1, 0, 0},
    {"RN2+A+E", "cut 2 + flips + mean over each sequence", KIND_NONE, 0, {"RN2+A"}, 1, 1, 0, 0},
    {"M", "motion: change from the camera's previous and next frames", KIND_MOTION, 0, {NULL}, 0, 1, 0, 0},
    {"RN2+A@M", "RN2+A on the motion rows' fixed strip crop", KIND_CUT2, 1, {NULL}, 0, 0, 1, 1},
    {"RN2+A+M", "mean of RN2+A@M's and M's probabilities", KIND_NONE, 0, {"RN2+A@M", "M"}, 0, 1, 0, 0},
    {"RN2+A+M+E", "RN2+A+M + mean over each sequence", KIND_NONE, 0, {"RN2+A+M"}, 1, 1, 0, 0},
};
#define N_ROWS ((int)(sizeof row_defs / sizeof row_defs[0]))
_Static_assert(N_ROWS <= IRB_EXPERIMENT_MAX_ROWS + 1, "more rows than irb_experiment_result holds");

/* The index of the row called name (len bytes; (size_t)-1: NUL-terminated), or -1. */
static int row_index_n(const char *name, size_t len)
{
    if (len == (size_t)-1)
        len = strlen(name);
    for (int r = 0; r < N_ROWS; r++)
        if (strlen(row_defs[r].name) == len && !strncmp(name, row_defs[r].name, len))
            return r;
    return -1;
}

static int row_index(const char *name) { return row_index_n(name, (size_t)-1); }

/* The rows row r is the mean of: *n of them into from[]. */
static int row_from(int r, int from[2])
{
    int n = 0;
    for (int k = 0; k < 2; k++)
        if (row_defs[r].from[k])
            from[n++] = row_index(row_defs[r].from[k]);
    return n;
}

/* "L120,RN1,..." (every row, or the deployable ones) into buf. */
static const char *row_list(int deployable, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int r = 0; r < N_ROWS && len < size; r++)
        if (!deployable || row_defs[r].deployable) {
            int w = snprintf(buf + len, size - len, "%s%s", len ? "," : "", row_defs[r].name);
            len += w > 0 ? (size_t)w : 0;
        }
    return buf;
}

/* The CNN rows' features at one fixed strip crop (the crop of some outer folds' training images). */
typedef struct crop_set {
    double top, bottom;
    featmat mats[N_KINDS * N_VARIANTS];
} crop_set;

typedef struct exp_ctx {
    const irb_experiment_opts *o;
    exp_data d;
    irb_model_t *model;
    char model_sha[65];
    char cache_dir[4096];
    /* features: mats[MAT(fixed, kind, variant)], kind 0 raw pixels, 1 cut 1, 2 cut 2, 3 motion;
     * variant = 2 * size index + crop (0 none, 1 strips: each frame's own, or with fixed = 1
     * the fixed crop of all the images); raw pixels have no size (index 0 only) */
    featmat mats[N_MATS];
    featmat motion;                  /* the motion variants' features side by side (row M),
                                      * every labelled image a neighbour (the final fit) */
    featmat *motion_fold;            /* [k]: the same for outer fold f, where a training
                                      * image's neighbours are training images and a test
                                      * image's test images (as in a deployment) */
    float *strip_top, *strip_bottom; /* per image: detected info strips (motion crop) */
    int motion_variants[N_VARIANTS], n_motion;
    motion_plan plan;                 /* neighbours in shooting order */
    double motion_top, motion_bottom; /* the motion rows' fixed strip crop (fractions) */
    double all_top, all_bottom;       /* the fixed crop of all the images (mats, the final fit) */
    crop_set *crops;                  /* fixed-crop rows: the other crops of the outer folds */
    int n_crops;
    int *fold_crop;                                          /* per outer fold: its crop in crops, -1: all_top/bottom */
    int variants[2];                                         /* which crop variants are used */
    int sizes[IRB_EXPERIMENT_MAX_SIZES], n_sizes;            /* CNN input sizes, the model's when none given */
    irb_calib_t *calib[IRB_EXPERIMENT_MAX_SIZES];            /* INT8: the table of each input size */
    unsigned long long calib_hash[IRB_EXPERIMENT_MAX_SIZES]; /* of its text: in the cache keys */
    int want[N_ROWS];                                        /* rows asked for */
    int need[N_ROWS];                                        /* rows computed: those, and the ones they are made of */
    int need_kind[N_KINDS];                                  /* features needed by a computed row */
    int flip_kind[N_KINDS];                                  /* ... with their mirrors (an augmented row) */
    int need_fixed[N_KINDS];                                 /* the same for the fixed-crop rows */
    int flip_fixed[N_KINDS];
    int map_mean; /* bf16 / int8: the fixed-crop rows' features are the
                   * spatial mean of the motion map, taken after the net as
                   * classify's shared pass takes it (the net's own pooling
                   * may round otherwise at these precisions), at every
                   * variant: so they are never the other rows' */
} exp_ctx;

static irb_preproc cnn_preproc(const exp_ctx *c, int strips, int size)
{
    const irb_preprocess *mp = irb_model_preprocess(c->model);
    irb_preproc pp = irb_preproc_default(size);
    pp.mode = c->o->resize;
    if (c->o->crop_fraction > 0)
        pp.crop_fraction = c->o->crop_fraction;
    for (int k = 0; k < 3; k++) {
        pp.mean[k] = mp->mean[k];
        pp.scale[k] = mp->std[k];
    }
    pp.strips = strips ? IRB_STRIPS_AUTO : IRB_STRIPS_NONE;
    /* several sizes: every size resamples the decode the largest one picks (docs/pipeline.md,
     * "Decoding once"), so a pipeline's classify decodes each image once, as featurized here */
    for (int k = 0; !c->o->decode_each && k < c->n_sizes; k++)
        if (c->sizes[k] > size && c->sizes[k] > pp.decode_size)
            pp.decode_size = c->sizes[k];
    return pp;
}

/* cached features made with detected strips name the detector's revision: features cached by
 * an older detector are not reused (2: rows off the bar's solid background end it) */
#define STRIPS_KEY " strips-detector=2"

/* The cut whose spatial map the motion features compare: cut 2 if it is a map (ResNet-50's last
 * block), else the first map below it (MobileNetV2's cut 3, which cut 2 pools); 0 if none. */
static int motion_cut(const irb_model_info *mi)
{
    for (int k = 2; k <= mi->n_cuts; k++) {
        const irb_tensor_info *t = &mi->cuts[k - 1].tensor;
        if (t->rank == 4 && t->dims[2] * t->dims[3] > 1)
            return k;
    }
    return 0;
}

/* The map whose spatial mean a fixed-crop row's features at `cut` are (c->map_mean: bf16 /
 * int8), the motion rows' map when the cut pools it; 0: the net's own features. */
static int mean_map_cut(const exp_ctx *c, int cut)
{
    const irb_model_info *mi = irb_model_info_get(c->model);
    int map = motion_cut(mi);
    if (!c->map_mean || !map || cut < 1 || cut > mi->n_cuts)
        return 0;
    return irb_cut_pools_map(mi, cut, mi->cuts[cut - 1].tensor.rank == 4, map) ? map : 0;
}

/* The table of input size k recorded from up to 64 of the images, or the one an earlier run
 * recorded from the same images (file stamps), model, size and preprocessing: the feature
 * cache's folder keeps it (featcache_calib_path), so a re-run records nothing. "calib v1" names
 * the recorder (min/max through the whole fp32 net): a change to it must change the name. */
static irb_status recorded_calib(exp_ctx *c, int k, irb_error *err)
{
    irb_net_opts no = {.threads = c->o->threads, .input_size = c->sizes[k]};
    irb_preproc pp = cnn_preproc(c, c->variants[1], c->sizes[k]);
    const char *const *paths = (const char *const *)c->d.abs;
    char desc[1024], ppd[512], file[4200];
    irb_preproc_to_json(&pp, ppd, sizeof ppd);
    snprintf(desc, sizeof desc, "calib v1 model=%s size=%d count=64 %s%s", c->model_sha, c->sizes[k], ppd,
             c->variants[1] ? STRIPS_KEY : "");
    IRB_TRY(featcache_calib_path(c->cache_dir, desc, paths, c->d.n, file, sizeof file, err));
    if (irb_calib_load(file, &c->calib[k], NULL) == IRB_OK)
        return IRB_OK;
    IRB_TRY(irb_calib_new(&c->calib[k], err));
    irb_status s = irb_calibrate_files(c->model, &no, &pp, paths, c->d.n, 64, c->calib[k], NULL, NULL, err);
    if (s == IRB_OK)
        irb_calib_save(c->calib[k], file, NULL); /* a cache that cannot be written costs time later */
    return s;
}

/* int8 (docs/int8.md): one calibration table per input size, shared by every feature kind, crop
 * and mirror at that size and saved in the pipeline, so a pipeline runs the tables its features
 * were made with. The file given for the size, else recorded from up to 64 of the experiment's
 * images (spread over them; labels are not used) preprocessed as that size's features (info
 * strips cropped when the experiment crops them), through the whole net. */
static irb_status size_calib(exp_ctx *c, int k, irb_error *err)
{
    const irb_experiment_opts *o = c->o;
    if (c->calib[k])
        return IRB_OK;
    irb_status s = o->calib[k] ? irb_calib_load(o->calib[k], &c->calib[k], err) : recorded_calib(c, k, err);
    char *text = NULL;
    size_t len = 0;
    if (s == IRB_OK)
        s = irb_calib_to_text(c->calib[k], &text, &len, err);
    unsigned long long h = 14695981039346656037ull; /* FNV-1a: cached features name their table */
    for (size_t i = 0; s == IRB_OK && i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    irb_calib_text_free(text);
    c->calib_hash[k] = h;
    if (s != IRB_OK)
        irb_calib_free(c->calib[k]), c->calib[k] = NULL;
    return s;
}

/* The features of kind at variant (fixed: a fixed-crop row's, its cropped variants at
 * c->motion_top/bottom; at bf16 / int8 the motion map's spatial mean, mean_map_cut). */
static irb_status features_for(exp_ctx *c, int kind, int variant, int flip, int fixed, featmat *out, irb_error *err)
{
    int strips = variant & 1, size = c->sizes[variant / 2];
    int motion = kind == KIND_MOTION, cut = kind;
    const irb_experiment_opts *o = c->o;
    featcache_req rq = {0};
    rq.cache_dir = c->cache_dir;
    rq.checkpoint_seconds = o->cache_every == 0 ? 300 : o->cache_every;
    rq.eo.threads = o->threads;
    rq.eo.batch = o->batch > 0 ? o->batch : 16;
    rq.eo.flip = flip;
    rq.progress = o->progress;
    rq.progress_ctx = o->progress_ctx;
    char head[900], key[1024], key_other[1024], ppd[512], stage[64];
    irb_net_t *net = NULL;
    if (cut == 0) {
        int n = o->raw_size > 0 ? o->raw_size : 120;
        rq.eo.pp = irb_preproc_default(n);
        rq.eo.pp.mode = IRB_RESIZE_SQUASH;
        for (int k = 0; k < 3; k++) {
            rq.eo.pp.mean[k] = 0;
            rq.eo.pp.scale[k] = 255;
        }
        rq.eo.pp.strips = strips ? IRB_STRIPS_AUTO : IRB_STRIPS_NONE;
        irb_preproc_to_json(&rq.eo.pp, ppd, sizeof ppd);
        snprintf(head, sizeof head, "v1 raw %s", ppd);
        snprintf(stage, sizeof stage, "raw %dx%d pixels%s", n, n, strips ? ", strips cropped" : "");
    } else {
        rq.eo.pp = cnn_preproc(c, strips, size);
        if ((motion || fixed) && strips) {
            /* one crop for every frame: a frame and its neighbours must line up */
            rq.eo.pp.strips = IRB_STRIPS_FIXED;
            rq.eo.pp.strip_top = c->motion_top;
            rq.eo.pp.strip_bottom = c->motion_bottom;
        }
        const irb_model_info *mi = irb_model_info_get(c->model);
        if (motion && !(cut = motion_cut(mi)))
            return irb_fail(err, IRB_UNSUPPORTED, "%s: the motion rows need a spatial map at cut 2 or below", o->model);
        if (cut > mi->n_cuts)
            return irb_fail(err, IRB_INVALID_ARG, "%s has only %d cut points", o->model, mi->n_cuts);
        int map = fixed && !motion ? mean_map_cut(c, cut) : 0;
        irb_net_opts no = {0};
        no.cut = map ? map : cut;
        no.pool = mi->cuts[cut - 1].tensor.rank == 4 && !motion && !map ? IRB_POOL_AVG : IRB_POOL_NONE;
        no.engine = o->engine;
        no.precision = o->precision;
        no.threads = o->threads;
        no.max_batch = rq.eo.batch * (flip ? 2 : 1);
        no.input_size = size;
        char calib_key[32] = "";
        if (o->precision == IRB_PRECISION_INT8) {
            IRB_TRY(size_calib(c, variant / 2, err));
            no.calib = c->calib[variant / 2];
            snprintf(calib_key, sizeof calib_key, " calib=%016llx", c->calib_hash[variant / 2]);
        }
        IRB_TRY(irb_net_new(c->model, &no, &net, err));
        irb_preproc_to_json(&rq.eo.pp, ppd, sizeof ppd);
        /* map-mean rows: the map's cut, "mean=1", so never the net-pooled rows of another key;
         * bf16: "out=f32" since bf16 maps are written in f32 by their conv (docs/engine.md,
         * "Precision"), so rows cached from the rounded maps before are not taken for them */
        snprintf(head, sizeof head, "v1 %smodel=%s cut=%d pool=%d%s precision=%d%s%s %s", motion ? "motion=1 " : "",
                 c->model_sha, no.cut, (int)no.pool, map ? " mean=1" : "", (int)o->precision,
                 o->precision == IRB_PRECISION_BF16 ? " out=f32" : "", calib_key, ppd);
        snprintf(stage, sizeof stage, "%s %d%s at %d%s%s", motion ? "motion: CNN cut" : "CNN cut", no.cut,
                 map ? " mean" : "", size, flip ? " + flips" : "",
                 !strips ? ""
                 : fixed ? ", fixed crop"
                         : ", strips cropped");
        if (map)
            rq.mean_channels = (int)mi->cuts[map - 1].tensor.dims[1];
        if (motion) {
            c->plan.channels = (int)mi->cuts[cut - 1].tensor.dims[1];
            rq.motion = &c->plan;
        }
    }
    snprintf(key, sizeof key, "%s flip=%d%s", head, flip, strips ? STRIPS_KEY : "");
    snprintf(key_other, sizeof key_other, "%s flip=%d%s", head, !flip, strips ? STRIPS_KEY : "");
    rq.key = key;
    rq.other_key = motion ? NULL : key_other;
    rq.net = net;
    rq.stage = stage;
    irb_status s = featcache_get(&rq, (const char *const *)c->d.abs, c->d.n, out, err);
    irb_net_free(net);
    return s;
}

/* ---- cross-validation ------------------------------------------------------------------------ */

typedef struct row_spec {
    int kind;                  /* KIND_* */
    featmat *mats[N_VARIANTS]; /* the variants (crop x size) to choose between */
    int vid[N_VARIANTS];       /* their variant numbers (2 * size index + crop) */
    int n_mats;
    int mean;     /* average one classifier per variant instead of choosing one */
    int augment;  /* train on originals + mirrors, predict as the mean over both */
    int fixed;    /* the cropped variants at the fixed crop (each fold at its own) */
    int map_mean; /* a fixed-crop row's features are the motion map's mean (exp_ctx) */
} row_spec;

static const double c_grid[] = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};

typedef struct fold_fit {
    irb_classifier_t *clf;
    int variant;
    double C;
    int reduced; /* more features than rows: trained on the exact reduction red */
    irb_reduce red;
    int n_local; /* classes present in the training fold (rare classes may be absent) */
    int local_to_global[IRB_EXPERIMENT_MAX_CLASSES];
} fold_fit;

/* Renumbers the training labels y[0..n) to the classes present, filling the map; returns the
 * number of classes present. */
static int localise_classes(int *y, size_t n, int K, int *local_to_global, const char **names, char *const *classes)
{
    int g2l[IRB_EXPERIMENT_MAX_CLASSES];
    for (int k = 0; k < K; k++)
        g2l[k] = -1;
    for (size_t i = 0; i < n; i++)
        g2l[y[i]] = 0;
    int nl = 0;
    for (int k = 0; k < K; k++)
        if (g2l[k] == 0) {
            local_to_global[nl] = k;
            names[nl] = classes[k];
            g2l[k] = nl++;
        }
    for (size_t i = 0; i < n; i++)
        y[i] = g2l[y[i]];
    return nl;
}

static void fold_fit_release(fold_fit *f)
{
    irb_classifier_free(f->clf);
    irb_reduce_release(&f->red);
    memset(f, 0, sizeof *f);
}

/* Gathers the training rows of fold f (and their mirrors) with inner CV groups: contiguous
 * chunks for block folds; whole cameras for camera folds when the training fold holds two
 * cameras or more (*inner_folds: 3, or 2 with two cameras), else whole sequences. */
static irb_status gather_train(const exp_ctx *c, const featmat *m, int f, int augment, float **x, int **y, int **groups,
                               size_t *n_out, int *inner_folds, irb_error *err)
{
    const exp_data *d = &c->d;
    size_t n = 0;
    int cam0 = -1, cam1 = -1, cam2 = -1;
    for (size_t i = 0; i < d->n; i++) {
        if (d->fold[i] == f)
            continue;
        n++;
        int q = d->cam_id[i];
        if (cam0 < 0 || q == cam0)
            cam0 = q;
        else if (cam1 < 0 || q == cam1)
            cam1 = q;
        else
            cam2 = q;
    }
    int by_camera = d->inner_camera && cam1 >= 0;
    *inner_folds = by_camera && cam2 < 0 ? 2 : 3;
    size_t rows = n * (augment ? 2 : 1);
    *x = irb_malloc_array(rows, m->dim * sizeof(float));
    *y = irb_malloc_array(rows, sizeof **y);
    *groups = irb_malloc_array(rows, sizeof **groups);
    if (!*x || !*y || !*groups)
        return irb_fail(err, IRB_NOMEM, "out of memory for %zu training rows", rows);
    size_t r = 0, k = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->fold[i] == f)
            continue;
        int g = d->unit == IRB_FOLD_BLOCK ? (int)(k * 5 / n) : by_camera ? d->cam_id[i] : (int)d->seq.image_seq[i];
        k++;
        for (int a = 0; a <= augment; a++, r++) {
            memcpy(*x + r * m->dim, (a ? m->xf : m->x) + i * m->dim, m->dim * sizeof(float));
            (*y)[r] = d->label[i];
            (*groups)[r] = g;
        }
    }
    *n_out = rows;
    return IRB_OK;
}

static double min_cv_loss(const irb_train_report *rep)
{
    double best = INFINITY;
    for (int g = 0; g < rep->grid_n; g++)
        if (rep->cv_logloss[g] < best)
            best = rep->cv_logloss[g];
    return best;
}

static irb_status fit_fold(exp_ctx *c, const row_spec *rs, int f, fold_fit *fit, double *seconds, irb_error *err)
{
    const irb_experiment_opts *o = c->o;
    int nv = rs->n_mats > 1 ? rs->n_mats : 0;
    double best = INFINITY;
    irb_status s = IRB_OK;
    for (int v = 0; v < (nv ? nv : 1) && s == IRB_OK; v++) {
        float *x = NULL, *z = NULL;
        int *y = NULL, *groups = NULL;
        size_t n = 0, dim = rs->mats[v]->dim;
        fold_fit cand = {0};
        cand.variant = v;
        int inner_folds = 3;
        s = gather_train(c, rs->mats[v], f, rs->augment, &x, &y, &groups, &n, &inner_folds, err);
        if (s == IRB_OK && dim > n) {
            cand.reduced = 1;
            s = irb_reduce_fit(x, n, dim, &cand.red, &z, err);
            x = NULL; /* taken over by the reduction */
            dim = cand.red.r;
        }
        irb_train_opts to = {0};
        to.C = o->C > 0 && !nv ? o->C : 0;
        to.grid = o->C > 0 ? &o->C : c_grid;
        to.grid_n = o->C > 0 ? 1 : (int)(sizeof c_grid / sizeof c_grid[0]);
        to.cv_folds = inner_folds;
        /* a looser stop than a single fit's default: the grid search needs the held-out loss to
         * a few digits, not the weights to seven */
        to.tol = 1e-5;
        to.max_iter = 2000;
        if (cand.reduced) {
            /* raw pixels: d >> n makes the data separable and large-C fits ill-conditioned, so
             * L120 gets a coarser search (decades, 3 inner folds) and capped L-BFGS runs */
            static const double raw_grid[] = {1e-4, 1e-3, 1e-2, 1e-1};
            if (o->C <= 0) {
                to.grid = raw_grid;
                to.grid_n = (int)(sizeof raw_grid / sizeof raw_grid[0]);
            }
            to.tol = 1e-4;
            to.max_iter = 200;
        }
        to.groups = groups;
        to.no_standardize = cand.reduced;
        to.threads = o->threads; /* the inner folds' fits run on these */
        irb_train_report rep;
        const char *names[IRB_EXPERIMENT_MAX_CLASSES];
        if (s == IRB_OK) {
            cand.n_local = localise_classes(y, n, c->d.n_classes, cand.local_to_global, names, c->d.classes);
            if (cand.n_local < 2)
                s = irb_fail(err, IRB_INVALID_ARG, "training fold %d holds a single class (%s): use fewer folds", f + 1,
                             names[0]);
        }
        if (s == IRB_OK)
            s = irb_logreg_train(cand.reduced ? z : x, n, (int)dim, y, cand.n_local, names, &to, &cand.clf, &rep, err);
        irb_free(x);
        irb_free(z);
        irb_free(y);
        irb_free(groups);
        if (s != IRB_OK) {
            fold_fit_release(&cand);
            break;
        }
        *seconds += rep.seconds;
        cand.C = rep.C;
        double loss = nv ? min_cv_loss(&rep) : 0;
        if (!fit->clf || loss < best) {
            fold_fit_release(fit);
            *fit = cand;
            best = loss;
        } else {
            fold_fit_release(&cand);
        }
    }
    return s;
}

/* Probabilities of the test rows idx[0..nt) of m (mirrored when a = 1) under fit. */
static irb_status predict_rows(const fold_fit *fit, const featmat *m, const size_t *idx, size_t nt, int a, float *xt,
                               float *zt, double *out, irb_error *err)
{
    size_t dim = m->dim;
    for (size_t j = 0; j < nt; j++)
        memcpy(xt + j * dim, (a ? m->xf : m->x) + idx[j] * dim, dim * sizeof(float));
    if (!fit->reduced)
        return irb_classifier_predict(fit->clf, xt, nt, (int)dim, out, err);
    IRB_TRY(irb_reduce_apply(&fit->red, xt, nt, zt, err));
    return irb_classifier_predict(fit->clf, zt, nt, (int)fit->red.r, out, err);
}

/* The lowest and highest per-fold accuracy of the out-of-fold probabilities (n x K). */
static void fold_range(const exp_data *d, int k, const double *probs, double *lo, double *hi)
{
    int K = d->n_classes;
    *lo = INFINITY, *hi = -INFINITY;
    for (int f = 0; f < k; f++) {
        size_t nt = 0, right = 0;
        for (size_t i = 0; i < d->n; i++) {
            if (d->fold[i] != f)
                continue;
            const double *p = probs + i * K;
            int best = 0;
            for (int q = 1; q < K; q++)
                if (p[q] > p[best])
                    best = q;
            right += best == d->label[i];
            nt++;
        }
        double acc = nt ? (double)right / (double)nt : 0;
        *lo = fmin(*lo, acc), *hi = fmax(*hi, acc);
    }
}

/* Member mb of a row: with --combine mean one classifier per variant, else the whole spec (its
 * fit chooses the variant). */
static row_spec member_spec(const row_spec *rs, int mb)
{
    row_spec one = *rs;
    if (rs->mean) {
        one.mats[0] = rs->mats[mb];
        one.vid[0] = rs->vid[mb];
        one.n_mats = 1;
    }
    return one;
}

/* Out-of-fold probabilities of one row into probs (n x K). */
static irb_status cross_validate(exp_ctx *c, const row_spec *rs, double *probs, irb_experiment_row *row, irb_error *err)
{
    const exp_data *d = &c->d;
    int k = c->o->folds > 0 ? c->o->folds : 5, K = d->n_classes;
    size_t dim = rs->mats[0]->dim;
    double *tmp = irb_malloc_array(d->n, (size_t)K * sizeof(double));
    float *xt = irb_malloc_array(d->n, dim * sizeof(float));
    float *zt = irb_malloc_array(d->n, d->n * 2 * sizeof(float)); /* reduced rows: r <= training rows */
    size_t *idx = irb_malloc_array(d->n, sizeof *idx);
    irb_status s = (!tmp || !xt || !zt || !idx) ? irb_fail(err, IRB_NOMEM, "out of memory for the test folds") : IRB_OK;
    row->fold_acc_min = INFINITY;
    row->fold_acc_max = -INFINITY;
    double logc = 0;
    for (int f = 0; f < k && s == IRB_OK; f++) {
        if (c->o->progress)
            c->o->progress(c->o->progress_ctx, row->name, (size_t)f, (size_t)k);
        size_t nt = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->fold[i] == f)
                idx[nt++] = i;
        /* choose: one classifier on the variant the inner CV prefers; mean: one per variant,
         * each with its own inner-CV C, their probabilities averaged */
        int members = rs->mean ? rs->n_mats : 1, cropped = 0;
        double share = (rs->augment ? 2.0 : 1.0) * members;
        for (int mb = 0; mb < members && s == IRB_OK; mb++) {
            row_spec one = member_spec(rs, mb);
            if (rs->kind == KIND_MOTION)
                one.mats[0] = &c->motion_fold[f];
            for (int v = 0; rs->fixed && c->fold_crop && c->fold_crop[f] >= 0 && v < one.n_mats; v++)
                if (one.vid[v] & 1) /* the fold's own fixed crop */
                    one.mats[v] = &c->crops[c->fold_crop[f]].mats[rs->kind * N_VARIANTS + one.vid[v]];
            fold_fit fit = {0};
            s = fit_fold(c, &one, f, &fit, &row->train_seconds, err);
            if (s != IRB_OK) {
                fold_fit_release(&fit);
                break;
            }
            const featmat *m = one.mats[fit.variant];
            int vid = one.vid[fit.variant];
            cropped |= vid & 1;
            if (!rs->mean && rs->kind != KIND_RAW)
                row->size_folds[vid / 2]++;
            logc += log10(fit.C) / members;
            for (int a = 0; a <= rs->augment && s == IRB_OK; a++) {
                s = predict_rows(&fit, m, idx, nt, a, xt, zt, tmp, err);
                for (size_t j = 0; s == IRB_OK && j < nt; j++)
                    for (int q = 0; q < K; q++) {
                        double p = 0; /* a class absent from the training fold gets probability 0 */
                        for (int l = 0; l < fit.n_local; l++)
                            if (fit.local_to_global[l] == q)
                                p = tmp[j * fit.n_local + l] / share;
                        probs[idx[j] * K + q] = a || mb ? probs[idx[j] * K + q] + p : p;
                    }
            }
            fold_fit_release(&fit);
        }
        row->crop_auto_folds += cropped; /* mean: any of the averaged classifiers cropped */
    }
    if (s == IRB_OK)
        fold_range(d, k, probs, &row->fold_acc_min, &row->fold_acc_max);
    row->mean_log10_C = logc / k;
    irb_free(tmp);
    irb_free(xt);
    irb_free(zt);
    irb_free(idx);
    return s;
}

/* ---- evaluation and outputs ------------------------------------------------------------------ */

static double seq_accuracy(const exp_data *d, const double *seq_probs)
{
    int K = d->n_classes;
    size_t right = 0;
    int *count = irb_calloc((size_t)K, sizeof *count);
    if (!count)
        return NAN;
    for (size_t s = 0; s < d->seq.n_sequences; s++) {
        memset(count, 0, (size_t)K * sizeof *count);
        for (size_t m = d->seq.start[s]; m < d->seq.start[s + 1]; m++)
            count[d->label[d->seq.member[m]]]++;
        int truth = 0, pred = 0;
        for (int q = 1; q < K; q++) {
            if (count[q] > count[truth])
                truth = q;
            if (seq_probs[s * K + q] > seq_probs[s * K + pred])
                pred = q;
        }
        right += truth == pred;
    }
    irb_free(count);
    return d->seq.n_sequences ? (double)right / (double)d->seq.n_sequences : NAN;
}

static irb_status write_predictions(const exp_ctx *c, const char *name, const double *probs, irb_error *err)
{
    const exp_data *d = &c->d;
    char path[4300], fname[64];
    snprintf(fname, sizeof fname, "%s", name);
    for (char *p = fname; *p; p++)
        if (*p == '+')
            *p = '_';
    snprintf(path, sizeof path, "%s/predictions_%s.csv", c->o->out_dir, fname);
    irb_atomic_file af;
    IRB_TRY(irb_atomic_open(&af, path, err));
    FILE *f = af.f;
    fprintf(f, "path,label,fold,sequence");
    for (int q = 0; q < d->n_classes; q++)
        fputc(',', f), irb_csv_put_prefixed(f, "p_", d->classes[q]);
    fputc('\n', f);
    for (size_t i = 0; i < d->n; i++) {
        irb_csv_put(f, d->rel[i]);
        fputc(',', f), irb_csv_put(f, d->classes[d->label[i]]);
        fprintf(f, ",%d,", d->fold[i]);
        irb_csv_put(f, d->seq.ids[d->seq.image_seq[i]]);
        for (int q = 0; q < d->n_classes; q++)
            fprintf(f, ",%.6f", probs[i * d->n_classes + q]);
        fputc('\n', f);
    }
    return irb_atomic_close(&af, err);
}

static irb_status evaluate_row(exp_ctx *c, irb_experiment_row *row, const double *probs, irb_roc *roc, irb_error *err)
{
    const exp_data *d = &c->d;
    irb_evaluation ev;
    int pos = d->positive >= 0 ? d->positive : 0;
    IRB_TRY(irb_evaluate(probs, d->label, d->n, (size_t)d->n_classes, (const char *const *)d->classes, pos, 0.5, &ev,
                         NULL));
    row->accuracy = ev.metrics.accuracy;
    row->balanced_accuracy = ev.metrics.balanced_accuracy;
    row->auc = d->positive >= 0 ? ev.roc.auc : NAN;
    *roc = ev.roc; /* keep the curve: take ownership before release */
    memset(&ev.roc, 0, sizeof ev.roc);
    irb_evaluation_release(&ev);
    return write_predictions(c, row->name, probs, err);
}

/* ---- the driver ------------------------------------------------------------------------------ */

static irb_status parse_rows(const char *rows, int *want, irb_error *err);

/* The rows to run (want[]) from --rows and the row to save; an unknown or undeployable name is
 * refused. */
/* The options' ranges: a value outside them (a negative count, NaN, an enum from elsewhere) is
 * refused, not taken as the default that 0 means. */
static irb_status check_values(const irb_experiment_opts *o, irb_error *err)
{
    if ((unsigned)o->task > IRB_TASK_POSITIVE || (unsigned)o->crop > IRB_CROP_CHOOSE ||
        (unsigned)o->combine > IRB_COMBINE_MEAN || (unsigned)o->resize > IRB_RESIZE_SQUASH ||
        (unsigned)o->engine > IRB_ENGINE_ONEDNN || (unsigned)o->precision > IRB_PRECISION_INT8 || o->unit < -1 ||
        o->unit > IRB_FOLD_BLOCK)
        return irb_fail(err, IRB_INVALID_ARG,
                        "experiment: task %d, crop %d, combine %d, resize %d, engine %d, precision %d or unit %d is "
                        "not one irbis has",
                        (int)o->task, (int)o->crop, (int)o->combine, (int)o->resize, (int)o->engine, (int)o->precision,
                        o->unit);
    if (o->folds < 0 || o->folds == 1 || o->threads < 0 || o->batch < 0 || o->raw_size < 0 || o->camera_depth < 0)
        return irb_fail(err, IRB_INVALID_ARG,
                        "experiment: folds %d (0 or >= 2), threads %d, batch %d, raw size %d and camera depth %d must "
                        "be >= 0",
                        o->folds, o->threads, o->batch, o->raw_size, o->camera_depth);
    if (!(o->C >= 0 && isfinite(o->C)) || isnan(o->gap) || isnan(o->cache_every) ||
        !(o->crop_fraction >= 0 && o->crop_fraction <= 1))
        return irb_fail(err, IRB_INVALID_ARG,
                        "experiment: C %g (>= 0), gap %g, cache interval %g or crop fraction %g "
                        "(0..1) out of range",
                        o->C, o->gap, o->cache_every, o->crop_fraction);
    for (int k = 0; k < IRB_EXPERIMENT_MAX_SIZES; k++)
        if (o->sizes[k] < 0 || o->sizes[k] > IRB_NET_MAX_INPUT_SIZE)
            return irb_fail(err, IRB_INVALID_ARG, "experiment: input size %d outside 0..%d", o->sizes[k],
                            IRB_NET_MAX_INPUT_SIZE);
    return IRB_OK;
}

static irb_status check_rows(const irb_experiment_opts *o, int *want, irb_error *err)
{
    if (!o)
        return irb_fail(err, IRB_INVALID_ARG, "experiment: no options");
    IRB_TRY(check_values(o, err));
    IRB_TRY(parse_rows(o->rows, want, err));
    if (o->save && strcmp(o->save, "best") != 0) {
        int r = row_index(o->save);
        char names[256];
        if (r < 0 || !row_defs[r].deployable)
            return irb_fail(err, IRB_INVALID_ARG, "%s: not a row that can be deployed (%s or best)", o->save,
                            row_list(1, names, sizeof names));
        want[r] = 1;
    }
    return IRB_OK;
}

irb_status irb_experiment_check(const irb_experiment_opts *o, irb_error *err)
{
    int want[N_ROWS];
    return check_rows(o, want, err);
}

/* want[r] = 1 for each row named in rows (comma-separated; NULL or "": every row); an unknown
 * name is refused. */
static irb_status parse_rows(const char *rows, int *want, irb_error *err)
{
    int n = 0;
    for (int r = 0; r < N_ROWS; r++)
        want[r] = (!rows || !*rows) && !row_defs[r].internal;
    for (const char *p = rows; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int r = row_index_n(p, len);
        char names[256];
        if (r < 0)
            return irb_fail(err, IRB_INVALID_ARG, "unknown row '%.*s' (the rows: %s)", (int)len, p,
                            row_list(0, names, sizeof names));
        want[r] = 1;
        p += len + (e ? 1 : 0);
    }
    for (int r = 0; r < N_ROWS; r++)
        n += want[r];
    if (n > IRB_EXPERIMENT_MAX_ROWS)
        return irb_fail(err, IRB_INVALID_ARG, "at most %d rows at once (%d asked)", IRB_EXPERIMENT_MAX_ROWS, n);
    return IRB_OK;
}

/* ---- motion: neighbours in shooting order ----------------------------------------------------- */

/* An image to put in shooting order: its keys with its index, so the comparator needs no
 * state (the sort is thread-safe). */
typedef struct {
    const char *camera, *rel;
    irb_time t;
    int has; /* a time */
    size_t i;
} shot;

/* camera, then the images with a time by time, then path (the path order of one camera's
 * numbered files is its shooting order) */
static int cmp_shots(const void *a, const void *b)
{
    const shot *x = a, *y = b;
    int k = strcmp(x->camera, y->camera);
    if (k)
        return k;
    if (x->has != y->has)
        return x->has ? -1 : 1;
    if (x->has) {
        double dt = irb_time_diff(y->t, x->t); /* x's time - y's time */
        if (dt != 0)
            return dt > 0 ? 1 : -1; /* earlier first (this was reversed: frames shot in the same
                                     * second then took a wrong neighbour) */
    }
    return strcmp(x->rel, y->rel);
}

/* c->plan for outer fold f: each image's previous and next image of the same camera in shooting
 * order among the images on its side of the fold (training images link to training images, test
 * images to test images, skipping the other side's); f < 0: among all the images. */
static irb_status neighbour_plan(exp_ctx *c, int f, irb_error *err)
{
    const exp_data *d = &c->d;
    size_t n = d->n;
    irb_free((void *)c->plan.prev);
    irb_free((void *)c->plan.next);
    irb_free((void *)c->plan.order);
    memset(&c->plan, 0, sizeof c->plan);
    long *prev = irb_malloc_array(n ? n : 1, sizeof *prev), *next = irb_malloc_array(n ? n : 1, sizeof *next);
    size_t *order = irb_malloc_array(n ? n : 1, sizeof *order);
    shot *shots = irb_calloc(n ? n : 1, sizeof *shots);
    irb_status s = IRB_OK;
    if (!prev || !next || !order || !shots) {
        s = irb_fail(err, IRB_NOMEM, "out of memory ordering the images by time");
        irb_free(prev);
        irb_free(next);
        irb_free(order);
    } else {
        for (size_t i = 0; i < n; i++) {
            prev[i] = next[i] = -1;
            shot *h = &shots[i];
            *h = (shot){.camera = d->camera[i], .rel = d->rel[i], .i = i};
            h->has = d->stamp[i][0] && irb_time_parse(d->stamp[i], &h->t, NULL) == IRB_OK;
        }
        qsort(shots, n, sizeof *shots, cmp_shots);
        for (size_t k = 0; k < n; k++)
            order[k] = shots[k].i;
        long last[2] = {-1, -1}; /* the last image seen on each side, in the current camera */
        for (size_t k = 0; k < n; k++) {
            size_t i = order[k];
            if (k > 0 && strcmp(d->camera[order[k - 1]], d->camera[i]) != 0)
                last[0] = last[1] = -1;
            int side = f >= 0 && d->fold[i] == f;
            if (last[side] >= 0) {
                prev[i] = last[side];
                next[last[side]] = (long)i;
            }
            last[side] = (long)i;
        }
        /* the order the maps are streamed in must keep neighbours adjacent (motion_extract):
         * the training side first, then the test side, each in shooting order */
        size_t w = 0, *tmp = irb_malloc_array(n ? n : 1, sizeof *tmp);
        for (int side = 0; tmp && side < 2; side++)
            for (size_t k = 0; k < n; k++)
                if ((f >= 0 && d->fold[order[k]] == f) == side)
                    tmp[w++] = order[k];
        if (tmp)
            memcpy(order, tmp, n * sizeof *order);
        else
            s = irb_fail(err, IRB_NOMEM, "out of memory ordering the images by time");
        irb_free(tmp);
        c->plan.prev = prev;
        c->plan.next = next;
        c->plan.order = order;
    }
    irb_free(shots);
    return s;
}

typedef struct {
    const exp_data *d;
    irb_decoder_t **dec;
    float *top, *bottom; /* per image: detected strip rows / height (-1: not decoded) */
} strip_job;

static void detect_part(void *ctx, int ith, int nth)
{
    strip_job *j = ctx;
    irb_preproc pp = irb_preproc_default(8);
    pp.mode = IRB_RESIZE_SQUASH;
    pp.strips = IRB_STRIPS_AUTO;
    for (size_t i = (size_t)ith; i < j->d->n; i += (size_t)nth) {
        irb_image img = {0};
        irb_image_info info;
        j->top[i] = j->bottom[i] = -1;
        if (irb_preprocess_image(j->dec[ith], j->d->abs[i], &pp, &img, &info) == IRB_OK && info.height > 0) {
            j->top[i] = (float)info.crop_top / (float)info.height;
            j->bottom[i] = (float)info.crop_bottom / (float)info.height;
        }
        irb_image_release(&img);
    }
}

/* The 95th percentile of the decoded images' values (-1: not decoded), 0 if none decoded. */
static double p95(float *v, size_t n)
{
    irb_sort_floats(v, n);
    size_t first = 0;
    while (first < n && v[first] < 0)
        first++;
    /* the lower of the two values around the 95th percentile: a whole number of rows */
    return first < n ? v[first + (size_t)(0.95 * (double)(n - 1 - first))] : 0;
}

/* The p95 of v over the images on the training side of outer fold f (f < 0: all). */
static double crop_p95(const exp_ctx *c, const float *v, int f)
{
    const exp_data *d = &c->d;
    float *tmp = irb_malloc_array(d->n + 1, sizeof *tmp);
    if (!tmp)
        return 0;
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++)
        if (f < 0 || d->fold[i] != f)
            tmp[m++] = v[i];
    double r = p95(tmp, m);
    irb_free(tmp);
    return r;
}

/* The motion rows compare a frame with its neighbours, so all must be cropped alike: the info
 * strips detected image by image (irb_detect_info_strips), then one crop for all, the 95th
 * percentile of each side's detected height. */
static irb_status motion_strips(exp_ctx *c, irb_error *err)
{
    const exp_data *d = &c->d;
    int workers = c->o->threads > 0 ? c->o->threads : irb_cpu_count();
    irb_pool *pool = irb_pool_new(workers);
    strip_job j = {d, NULL, irb_malloc_array(d->n + 1, sizeof(float)), irb_malloc_array(d->n + 1, sizeof(float))};
    workers = pool ? irb_pool_size(pool) : 0;
    j.dec = irb_calloc((size_t)workers + 1, sizeof *j.dec);
    irb_status s = pool && j.dec && j.top && j.bottom ? IRB_OK : irb_fail(err, IRB_NOMEM, "out of memory");
    for (int k = 0; s == IRB_OK && k < workers; k++)
        s = irb_decoder_new(&j.dec[k]) == IRB_OK ? IRB_OK : irb_fail(err, IRB_NOMEM, "cannot create a decoder");
    if (s == IRB_OK) {
        if (c->o->progress)
            c->o->progress(c->o->progress_ctx, "motion: info strips", 0, d->n);
        irb_pool_run(pool, detect_part, &j);
        c->strip_top = j.top, c->strip_bottom = j.bottom;
        j.top = j.bottom = NULL;
        if (c->o->progress)
            c->o->progress(c->o->progress_ctx, "motion: info strips", d->n, d->n);
    }
    for (int k = 0; j.dec && k < workers; k++)
        irb_decoder_free(j.dec[k]);
    irb_free(j.dec);
    irb_free(j.top);
    irb_free(j.bottom);
    irb_pool_free(pool);
    return s;
}

static irb_status load_features(exp_ctx *c, uint8_t *ok, irb_error *err)
{
    const int *need = c->need_kind, *flip = c->flip_kind, *fixed = c->need_fixed;
    /* motion: the strips cropped unless they are kept (--crop none): the burned-in clock and
     * burst counter change from frame to frame, and that is not motion */
    int motion_crop = c->o->crop != IRB_CROP_NONE, any_fixed = 0;
    for (int k = KIND_CUT1; k <= KIND_CUT2; k++)
        any_fixed |= fixed[k];
    if (need[KIND_MOTION])
        IRB_TRY(neighbour_plan(c, -1, err));
    if ((need[KIND_MOTION] || any_fixed) && motion_crop) {
        IRB_TRY(motion_strips(c, err));
        c->all_top = c->motion_top = crop_p95(c, c->strip_top, -1);
        c->all_bottom = c->motion_bottom = crop_p95(c, c->strip_bottom, -1);
    }
    for (int v = 0; v < 2 * c->n_sizes; v++) {
        if (!c->variants[v & 1])
            continue;
        for (int k = KIND_RAW; k <= KIND_CUT2; k++) {
            if (k == KIND_RAW && v >= 2) /* raw pixels: one size */
                continue;
            /* uncropped, the fixed-crop rows' features are the others' (not the map's mean) */
            int own = fixed[k] && ((v & 1) || c->map_mean), shared = fixed[k] && !own;
            if (need[k] || shared)
                IRB_TRY(
                    features_for(c, k, v, flip[k] | (shared ? c->flip_fixed[k] : 0), 0, &c->mats[MAT(0, k, v)], err));
            if (own)
                IRB_TRY(features_for(c, k, v, c->flip_fixed[k], 1, &c->mats[MAT(1, k, v)], err));
        }
        if (need[KIND_MOTION] && (v & 1) == motion_crop) {
            IRB_TRY(features_for(c, KIND_MOTION, v, 0, 0, &c->mats[MAT(0, KIND_MOTION, v)], err));
            c->motion_variants[c->n_motion++] = v;
        }
    }
    const featmat *all = c->mats;
    for (size_t i = 0; i < c->d.n; i++) {
        ok[i] = 1;
        for (int m = 0; m < N_MATS; m++)
            if (all[m].ok && !all[m].ok[i])
                ok[i] = 0;
    }
    return IRB_OK;
}

static irb_status write_failed(const exp_ctx *c, const uint8_t *ok, size_t n_all, char **rel, irb_error *err)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/failed.csv", c->o->out_dir);
    irb_atomic_file af;
    IRB_TRY(irb_atomic_open(&af, path, err));
    FILE *f = af.f;
    fprintf(f, "path,message\n");
    for (size_t i = 0; i < n_all; i++) {
        if (ok[i])
            continue;
        const char *why = "could not be decoded";
        const featmat *all = c->mats;
        for (int m = 0; m < N_MATS; m++)
            if (all[m].why && all[m].why[i])
                why = all[m].why[i];
        irb_csv_put(f, rel[i]);
        fputc(',', f);
        irb_csv_put(f, why);
        fputc('\n', f);
    }
    return irb_atomic_close(&af, err);
}

/* row->sizes: "576" when every fold chose one size, else "224:2 576:3"; "mean 224/576" when
 * the classifiers of every size are averaged */
static void sizes_chosen(const exp_ctx *c, irb_experiment_row *row, int mean)
{
    size_t len = 0;
    int used = 0;
    if (mean) {
        len = (size_t)snprintf(row->sizes, sizeof row->sizes, "%s", c->n_sizes > 1 ? "mean " : "");
        for (int k = 0; k < c->n_sizes && len < sizeof row->sizes; k++) {
            int w = snprintf(row->sizes + len, sizeof row->sizes - len, "%s%d", k ? "/" : "", c->sizes[k]);
            len += w > 0 ? (size_t)w : 0;
        }
        return;
    }
    for (int k = 0; k < c->n_sizes; k++)
        used += row->size_folds[k] > 0;
    row->sizes[0] = 0;
    for (int k = 0; k < c->n_sizes && len < sizeof row->sizes; k++) {
        if (!row->size_folds[k])
            continue;
        int w = used > 1 ? snprintf(row->sizes + len, sizeof row->sizes - len, "%s%d:%d", len ? " " : "", c->sizes[k],
                                    row->size_folds[k])
                         : snprintf(row->sizes + len, sizeof row->sizes - len, "%d", c->sizes[k]);
        len += w > 0 ? (size_t)w : 0;
    }
}

/* dst: the motion variants' features side by side (MOTION_DIM per variant), computed with the
 * neighbours and the strip crop of c->plan and c->motion_top/bottom. An image whose motion row
 * failed (its other features did not) gets zeros. */
static irb_status motion_matrix(exp_ctx *c, featmat *dst, double *seconds, size_t *computed, irb_error *err)
{
    memset(dst, 0, sizeof *dst);
    dst->n = c->d.n;
    dst->dim = (size_t)MOTION_DIM * (size_t)c->n_motion;
    dst->x = irb_calloc(dst->n ? dst->n : 1, dst->dim * sizeof(float));
    if (!dst->x)
        return irb_fail(err, IRB_NOMEM, "out of memory for the motion features");
    for (int k = 0; k < c->n_motion; k++) {
        featmat src;
        IRB_TRY(features_for(c, KIND_MOTION, c->motion_variants[k], 0, 0, &src, err));
        for (size_t i = 0; i < dst->n; i++)
            if (src.ok[i])
                memcpy(dst->x + i * dst->dim + (size_t)k * MOTION_DIM, src.x + i * MOTION_DIM,
                       MOTION_DIM * sizeof(float));
        *seconds += src.seconds;
        *computed += src.computed;
        featmat_release(&src);
    }
    return IRB_OK;
}

/* The motion features of every outer fold (c->motion_fold), then of all the images (c->motion,
 * for the final fit): a fold's training images see training neighbours only, its test images
 * test neighbours only, and the strip crop is the training images' (what a pipeline trained on
 * them and deployed on a survey of the test images computes). Images whose neighbours do not
 * change come from the cache. */
static irb_status motion_features(exp_ctx *c, irb_error *err)
{
    int k = c->o->folds > 0 ? c->o->folds : 5, crop = c->o->crop != IRB_CROP_NONE;
    if (!(c->motion_fold = irb_calloc((size_t)k, sizeof *c->motion_fold)))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    double seconds = 0;
    size_t computed = 0;
    for (int f = 0; f <= k; f++) {
        int fold = f < k ? f : -1; /* all the images last: the pipeline's crop stays set */
        IRB_TRY(neighbour_plan(c, fold, err));
        if (crop) {
            c->motion_top = crop_p95(c, c->strip_top, fold);
            c->motion_bottom = crop_p95(c, c->strip_bottom, fold);
        }
        IRB_TRY(motion_matrix(c, fold >= 0 ? &c->motion_fold[fold] : &c->motion, &seconds, &computed, err));
    }
    c->motion.seconds = seconds, c->motion.computed = computed;
    return IRB_OK;
}

/* The fixed-crop rows' cropped variants of every outer fold at the fold's fixed crop (its
 * training images' 95th percentile, as its motion rows): c->mats where that is all the images'
 * crop, else a crop_set, one per distinct crop (the cache holds one feature set per crop). */
static irb_status fold_crop_features(exp_ctx *c, irb_error *err)
{
    int k = c->o->folds > 0 ? c->o->folds : 5;
    if (!(c->fold_crop = irb_malloc_array((size_t)k, sizeof *c->fold_crop)) ||
        !(c->crops = irb_calloc((size_t)k, sizeof *c->crops)))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    irb_status s = IRB_OK;
    for (int f = 0; f < k && s == IRB_OK; f++) {
        double top = crop_p95(c, c->strip_top, f), bottom = crop_p95(c, c->strip_bottom, f);
        c->fold_crop[f] = -1;
        if (top == c->all_top && bottom == c->all_bottom)
            continue;
        for (int q = 0; q < c->n_crops; q++)
            if (c->crops[q].top == top && c->crops[q].bottom == bottom)
                c->fold_crop[f] = q;
        if (c->fold_crop[f] >= 0)
            continue;
        crop_set *cs = &c->crops[c->fold_crop[f] = c->n_crops++];
        cs->top = c->motion_top = top, cs->bottom = c->motion_bottom = bottom;
        for (int v = 1; v < 2 * c->n_sizes && s == IRB_OK; v += 2)
            for (int kind = KIND_CUT1; kind <= KIND_CUT2 && s == IRB_OK; kind++)
                if (c->need_fixed[kind])
                    s = features_for(c, kind, v, c->flip_fixed[kind], 1, &cs->mats[kind * N_VARIANTS + v], err);
    }
    c->motion_top = c->all_top, c->motion_bottom = c->all_bottom; /* the pipeline's crop */
    return s;
}

/* Averages row r's probabilities over each sequence (the E rows). */
static irb_status ensemble_row(exp_ctx *c, double *probs, irb_experiment_row *row, irb_error *err)
{
    exp_data *d = &c->d;
    int K = d->n_classes;
    double *seqp = irb_malloc_array(d->seq.n_sequences, (size_t)K * sizeof(double));
    double *img = irb_malloc_array(d->n, (size_t)K * sizeof(double));
    irb_status s = (!seqp || !img) ? irb_fail(err, IRB_NOMEM, "out of memory")
                                   : irb_ensemble_sequences(&d->seq, probs, (size_t)K, IRB_ENSEMBLE_MEAN, seqp, NULL,
                                                            img, NULL, err);
    if (s == IRB_OK) {
        memcpy(probs, img, d->n * (size_t)K * sizeof(double));
        row->seq_accuracy = seq_accuracy(d, seqp);
    }
    irb_free(seqp);
    irb_free(img);
    return s;
}

/* row->sizes of the M row: the sizes whose maps it compares, "224/576" */
static void motion_sizes(const exp_ctx *c, irb_experiment_row *row)
{
    size_t len = 0;
    row->sizes[0] = 0;
    memset(row->size_folds, 0, sizeof row->size_folds);
    for (int k = 0; k < c->n_motion && len < sizeof row->sizes; k++) {
        int w = snprintf(row->sizes + len, sizeof row->sizes - len, "%s%d", k ? "/" : "",
                         c->sizes[c->motion_variants[k] / 2]);
        len += w > 0 ? (size_t)w : 0;
    }
}

/* The features a trained row chooses between or averages. */
static void row_spec_of(exp_ctx *c, int r, row_spec *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->kind = row_defs[r].kind;
    rs->augment = row_defs[r].augment;
    rs->mean = c->o->combine == IRB_COMBINE_MEAN;
    if (rs->kind == KIND_MOTION) {
        rs->mats[0] = &c->motion;
        rs->vid[0] = c->motion_variants[0];
        rs->n_mats = 1;
        rs->mean = 0;
        return;
    }
    rs->fixed = row_defs[r].fixed_crop && c->variants[1];
    rs->map_mean = row_defs[r].fixed_crop && mean_map_cut(c, rs->kind) > 0;
    for (int v = 0; v < (rs->kind == KIND_RAW ? 2 : 2 * c->n_sizes); v++)
        if (c->variants[v & 1]) {
            int own = row_defs[r].fixed_crop && ((v & 1) || c->map_mean); /* load_features */
            rs->vid[rs->n_mats] = v;
            rs->mats[rs->n_mats++] = &c->mats[MAT(own, rs->kind, v)];
        }
}

/* Row r made of rows above it: the mean of their probabilities, its counts theirs. */
static void mean_row(exp_ctx *c, int r, irb_experiment_row *info, double *const *probs)
{
    size_t nk = c->d.n * (size_t)c->d.n_classes;
    int from[2], n = row_from(r, from);
    irb_experiment_row *row = &info[r];
    *row = info[from[0]];
    row->train_seconds = 0;
    for (int k = 1; k < n; k++) {
        row->features += info[from[k]].features;
        row->feature_seconds += info[from[k]].feature_seconds;
    }
    for (size_t j = 0; j < nk; j++) {
        double sum = 0;
        for (int k = 0; k < n; k++)
            sum += probs[from[k]][j];
        probs[r][j] = sum / n;
    }
}

/* Row r trained by cross-validation on its features. */
static irb_status trained_row(exp_ctx *c, int r, irb_experiment_row *row, double *probs, irb_error *err)
{
    row_spec rs;
    row_spec_of(c, r, &rs);
    int motion = rs.kind == KIND_MOTION;
    row->feature_seconds = motion ? c->motion.seconds : 0;
    for (int v = 0; !motion && v < rs.n_mats; v++)
        row->feature_seconds += rs.mats[v]->seconds;
    row->features = (int)rs.mats[0]->dim;
    irb_status s = cross_validate(c, &rs, probs, row, err);
    if (s == IRB_OK && motion)
        motion_sizes(c, row);
    else if (s == IRB_OK && rs.kind != KIND_RAW)
        sizes_chosen(c, row, rs.mean);
    return s;
}

/* One row's out-of-fold probabilities (n x K), as its entry of row_defs says. */
static irb_status compute_row(exp_ctx *c, int r, irb_experiment_row *info, double *const *probs, irb_error *err)
{
    const exp_row_def *def = &row_defs[r];
    irb_experiment_row *row = &info[r];
    irb_status s = IRB_OK;
    snprintf(row->name, sizeof row->name, "%s", def->name); /* the progress names it */
    if (def->kind == KIND_NONE)
        mean_row(c, r, info, probs);
    else
        s = trained_row(c, r, row, probs[r], err);
    if (s == IRB_OK && def->ensemble)
        s = ensemble_row(c, probs[r], row, err);
    snprintf(row->name, sizeof row->name, "%s", def->name);
    snprintf(row->what, sizeof row->what, "%s", def->what);
    if (s == IRB_OK && (def->kind == KIND_NONE || def->ensemble)) {
        /* the per-fold range of these predictions (a copied one was its first row's) */
        fold_range(&c->d, c->o->folds > 0 ? c->o->folds : 5, probs[r], &row->fold_acc_min, &row->fold_acc_max);
    }
    return s;
}

static irb_status save_pipeline(exp_ctx *c, irb_experiment_result *res, double *const *probs, irb_error *err);

static irb_status run_rows(exp_ctx *c, irb_experiment_result *res, irb_error *err)
{
    exp_data *d = &c->d;
    int K = d->n_classes;
    double *probs[N_ROWS] = {0};
    irb_experiment_row info[N_ROWS];
    irb_roc rocs[N_ROWS];
    memset(rocs, 0, sizeof rocs);
    memset(info, 0, sizeof info);
    irb_status s = c->need_kind[KIND_MOTION] ? motion_features(c, err) : IRB_OK;
    int any_fixed = c->need_fixed[KIND_CUT1] || c->need_fixed[KIND_CUT2];
    if (s == IRB_OK && any_fixed && c->variants[1])
        s = fold_crop_features(c, err);
    for (int r = 0; r < N_ROWS && s == IRB_OK; r++) {
        if (!c->need[r])
            continue;
        info[r].seq_accuracy = NAN;
        if (!(probs[r] = irb_malloc_array(d->n, (size_t)K * sizeof(double)))) {
            s = irb_fail(err, IRB_NOMEM, "out of memory");
            break;
        }
        s = compute_row(c, r, info, probs, err);
        if (s == IRB_OK && c->want[r]) {
            res->rows[res->n_rows] = info[r];
            s = evaluate_row(c, &res->rows[res->n_rows], probs[r], &rocs[res->n_rows], err);
            res->n_rows++;
        }
    }
    if (s == IRB_OK)
        s = irb_experiment_write_outputs(c->o, res, rocs, err);
    if (s == IRB_OK && c->o->save)
        s = save_pipeline(c, res, probs, err);
    for (int r = 0; r < N_ROWS; r++) {
        irb_free(probs[r]);
        irb_roc_release(&rocs[r]);
    }
    return s;
}

/* ---- saving a row as a pipeline ------------------------------------------------------------- */

/* The row to save: o->save by name, or "best": the most accurate deployable row, the first on
 * ties. -1 when none. */
static int save_row(const irb_experiment_opts *o, const irb_experiment_result *res)
{
    if (strcmp(o->save, "best") != 0)
        return row_index(o->save);
    int best = -1;
    double acc = -1;
    for (int i = 0; i < res->n_rows; i++) {
        int r = row_index(res->rows[i].name);
        if (r >= 0 && row_defs[r].deployable && res->rows[i].accuracy > acc)
            best = r, acc = res->rows[i].accuracy;
    }
    return best;
}

static irb_status part_meta(irb_classifier_t *clf, const char *sha, int cut, int pool, const char *ppj)
{
    char num[16];
    snprintf(num, sizeof num, "%d", cut);
    irb_status s = irb_classifier_set_meta(clf, "model_sha256", sha);
    if (s == IRB_OK)
        s = irb_classifier_set_meta(clf, "cut", num);
    if (s == IRB_OK)
        s = irb_classifier_set_meta(clf, "pool", pool ? "avg" : "none");
    if (s == IRB_OK)
        s = irb_classifier_set_meta(clf, "preprocessing", ppj);
    return s;
}

/* The part's inputs: one per appearance classifier (its variant), one per motion size. */
static irb_status part_inputs(exp_ctx *c, irb_pipeline_part *q, int vid, int fixed, irb_error *err)
{
    const irb_model_info *mi = irb_model_info_get(c->model);
    int motion = q->kind == IRB_PART_MOTION;
    q->cut = motion ? motion_cut(mi) : q->cut;
    q->pool = !motion && mi->cuts[q->cut - 1].tensor.rank == 4;
    q->n_inputs = motion ? c->n_motion : 1;
    char ppj[512];
    for (int k = 0; k < q->n_inputs; k++) {
        int v = motion ? c->motion_variants[k] : vid;
        irb_preproc pp = cnn_preproc(c, v & 1, c->sizes[v / 2]);
        if ((motion || fixed) && (v & 1)) {
            pp.strips = IRB_STRIPS_FIXED;
            pp.strip_top = c->motion_top;
            pp.strip_bottom = c->motion_bottom;
        }
        irb_preproc_to_json(&pp, ppj, sizeof ppj);
        q->sizes[k] = c->sizes[v / 2];
        if (!(q->preprocessing[k] = irb_strdup(ppj)))
            return irb_fail(err, IRB_NOMEM, "out of memory");
    }
    if (!(q->layer = irb_strdup("")))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    if (part_meta(q->clf, c->model_sha, q->cut, q->pool, q->preprocessing[0]) != IRB_OK)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    return IRB_OK;
}

/* The novelty model of part `part` (docs/pipeline.md): every labelled image's features (not the
 * mirrors), scored held out over the inner cross-validation's units, thresholded at the 95th
 * percentile: 5 % of images like the training ones are flagged novel. */
#define NOVELTY_QUANTILE 0.95
static irb_status fit_novelty(exp_ctx *c, const featmat *m, int part, irb_pipeline *p, irb_error *err)
{
    float *x = NULL;
    int *y = NULL, *groups = NULL, folds = 3;
    size_t n = 0;
    irb_status s = gather_train(c, m, -1, 0, &x, &y, &groups, &n, &folds, err);
    if (s == IRB_OK)
        s = irb_novelty_fit(x, n, (int)m->dim, groups, folds, NOVELTY_QUANTILE, part, NULL, &p->novelty, err);
    irb_free(x), irb_free(y), irb_free(groups);
    return s;
}

/* The default --min-confidence from a row's out-of-fold probabilities (n x K): the 5th
 * percentile of the top probability of the images the row got right, so that 95 % of the
 * predictions like its right ones stay confident; below it, wrong predictions dominate. 0 when
 * no image was right. */
static double choose_min_confidence(const exp_data *d, const double *probs)
{
    int K = d->n_classes;
    float *top = irb_malloc_array(d->n, sizeof *top);
    size_t m = 0;
    for (size_t i = 0; top && i < d->n; i++) {
        const double *q = probs + i * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            best = q[k] > q[best] ? k : best;
        if (best == d->label[i])
            top[m++] = (float)q[best];
    }
    double v = 0;
    if (m) {
        irb_sort_floats(top, m);
        v = top[(size_t)floor(0.05 * (double)(m - 1))];
    }
    irb_free(top);
    return v;
}

/* Trains row spec rs on every labelled image (fold -1: no image held out) and appends its
 * classifiers to p as parts sharing `weight`. */
static irb_status save_parts(exp_ctx *c, const row_spec *rs, double weight, irb_pipeline *p, irb_error *err)
{
    int members = rs->mean ? rs->n_mats : 1;
    irb_status s = IRB_OK;
    for (int mb = 0; mb < members && s == IRB_OK; mb++) {
        row_spec one = member_spec(rs, mb);
        fold_fit fit = {0};
        double seconds = 0;
        s = fit_fold(c, &one, -1, &fit, &seconds, err);
        if (s == IRB_OK && fit.n_local != c->d.n_classes)
            s = irb_fail(err, IRB_INTERNAL, "the final fit saw %d of %d classes", fit.n_local, c->d.n_classes);
        if (s == IRB_OK && p->n_parts == IRB_PIPELINE_MAX_PARTS)
            s = irb_fail(err, IRB_UNSUPPORTED, "more than %d parts", IRB_PIPELINE_MAX_PARTS);
        irb_pipeline_part *q = &p->parts[p->n_parts];
        if (s == IRB_OK && fit.reduced)
            s = irb_reduce_unfold(&fit.red, fit.clf, &q->clf, err);
        else if (s == IRB_OK)
            q->clf = fit.clf, fit.clf = NULL;
        if (s == IRB_OK) {
            p->n_parts++;
            q->kind = rs->kind == KIND_MOTION ? IRB_PART_MOTION : IRB_PART_APPEARANCE;
            q->weight = weight / members;
            q->mirror = rs->augment;
            q->cut = rs->kind == KIND_CUT1 ? 1 : 2;
            s = part_inputs(c, q, one.vid[fit.variant], rs->fixed, err);
            q->map_mean = rs->map_mean;
        }
        if (s == IRB_OK && !p->novelty && q->kind == IRB_PART_APPEARANCE)
            s = fit_novelty(c, one.mats[fit.variant], p->n_parts - 1, p, err);
        fold_fit_release(&fit);
    }
    return s;
}

/* Row r's trained rows as parts of p, each weighted as the means above it weigh it; p averages
 * over sequences if r or a row it is made of does. */
static irb_status save_row_parts(exp_ctx *c, int r, double weight, irb_pipeline *p, irb_error *err)
{
    p->ensemble |= row_defs[r].ensemble;
    if (row_defs[r].kind != KIND_NONE) {
        row_spec rs;
        row_spec_of(c, r, &rs);
        return save_parts(c, &rs, weight, p, err);
    }
    int from[2], n = row_from(r, from);
    for (int k = 0; k < n; k++)
        IRB_TRY(save_row_parts(c, from[k], weight / n, p, err));
    return IRB_OK;
}

/* Where --save writes the pipeline: --save-to, else DIR/pipeline.irbis. */
static void save_path_of(const irb_experiment_opts *o, char *path, size_t size)
{
    if (o->save_path)
        snprintf(path, size, "%s", o->save_path);
    else
        snprintf(path, size, "%s/pipeline.irbis", o->out_dir);
}

/* The pipeline's file is tried before the features are computed: a folder of that name, or a
 * folder that cannot take the file, used to stop the run only after its hours of work. */
static irb_status check_save_path(const irb_experiment_opts *o, irb_error *err)
{
    char path[4096];
    struct stat st;
    irb_atomic_file af;
    if (!o->save)
        return IRB_OK;
    save_path_of(o, path, sizeof path);
    int found = stat(path, &st) == 0;
    if (found && S_ISDIR(st.st_mode))
        return irb_fail(err, IRB_IO, "%s: a folder, not a pipeline file: name the file to write (e.g. %s.irbis)", path,
                        path);
    if (found && !S_ISREG(st.st_mode)) { /* a FIFO or device: opening it would wait for a reader, then end its read */
        if (access(path, W_OK) != 0)
            return irb_fail(err, IRB_IO, "%s: cannot write: %s", path, strerror(errno));
        return IRB_OK;
    }
    IRB_TRY(irb_atomic_open(&af, path, err));
    irb_atomic_abort(&af);
    return IRB_OK;
}

static irb_status save_pipeline(exp_ctx *c, irb_experiment_result *res, double *const *probs, irb_error *err)
{
    const irb_experiment_opts *o = c->o;
    int r = save_row(o, res);
    if (r < 0)
        return irb_fail(err, IRB_INVALID_ARG, "--save %s: no such deployable row was computed", o->save);
    const exp_data *d = &c->d;
    irb_pipeline *p = irb_pipeline_new();
    char path[4096], model[4096];
    if (!p || !(p->row = irb_strdup(row_defs[r].name)) ||
        !(p->classes = irb_calloc((size_t)d->n_classes, sizeof(char *))))
        return irb_pipeline_free(p), irb_fail(err, IRB_NOMEM, "out of memory");
    irb_status s = IRB_OK;
    p->n_classes = d->n_classes;
    for (int k = 0; k < d->n_classes && s == IRB_OK; k++)
        if (!(p->classes[k] = irb_strdup(d->classes[k])))
            s = irb_fail(err, IRB_NOMEM, "out of memory");
    snprintf(model, sizeof model, "%s", o->model);
    if (realpath(o->model, path))
        snprintf(model, sizeof model, "%s", path);
    if (s == IRB_OK && !(p->model_name = irb_strdup(model)))
        s = irb_fail(err, IRB_NOMEM, "out of memory");
    snprintf(p->model_sha256, sizeof p->model_sha256, "%s", c->model_sha);
    p->positive = o->task == IRB_TASK_SPECIES ? -1 : d->positive;
    p->gap = o->gap > 0 ? o->gap : 60;
    p->precision = o->precision;
    for (int k = 0; k < c->n_sizes && s == IRB_OK; k++)
        if (o->precision == IRB_PRECISION_INT8 && c->calib[k])
            s = irb_pipeline_set_calib(p, c->sizes[k], c->calib[k], err);
    p->min_confidence = probs[r] ? choose_min_confidence(d, probs[r]) : 0;
    for (int i = 0; i < res->n_rows; i++)
        if (!strcmp(res->rows[i].name, row_defs[r].name))
            p->cv_accuracy = res->rows[i].accuracy;
    if (s == IRB_OK)
        s = save_row_parts(c, r, 1.0, p, err);
    save_path_of(o, path, sizeof path);
    if (s == IRB_OK)
        s = irb_pipeline_save(p, path, err);
    if (s == IRB_OK) {
        snprintf(res->saved_row, sizeof res->saved_row, "%s", row_defs[r].name);
        snprintf(res->saved_path, sizeof res->saved_path, "%s", path);
        res->saved_min_confidence = p->min_confidence;
        res->saved_novelty = p->novelty ? p->novelty->threshold : -1;
    }
    irb_pipeline_free(p);
    return s;
}

irb_status irb_experiment_run(const irb_experiment_opts *o, irb_experiment_result *res, irb_error *err)
{
    if (!o || !res || !o->labels || !o->model || !o->out_dir)
        return irb_fail(err, IRB_INVALID_ARG, "experiment: labels, model and output folder are required");
    memset(res, 0, sizeof *res);
    exp_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.map_mean = o->precision != IRB_PRECISION_FP32;
    uint8_t *ok = NULL;
    char **rel_all = NULL;
    size_t n_all = 0;
    IRB_TRY(check_rows(o, c.want, err));
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST)
        return irb_fail(err, IRB_IO, "%s: cannot create the output folder: %s", o->out_dir, strerror(errno));
    IRB_TRY(check_save_path(o, err));
    snprintf(c.cache_dir, sizeof c.cache_dir, "%s", o->cache_dir ? o->cache_dir : "");
    if (!o->cache_dir)
        snprintf(c.cache_dir, sizeof c.cache_dir, "%s/cache", o->out_dir);
    memcpy(c.need, c.want, sizeof c.need);
    /* rows made of other rows' predictions (always rows above them: one pass upwards) */
    for (int r = N_ROWS - 1; r >= 0; r--) {
        int from[2], n = row_from(r, from);
        for (int k = 0; c.need[r] && k < n; k++)
            c.need[from[k]] = 1;
        int kind = row_defs[r].kind;
        if (c.need[r] && kind != KIND_NONE && row_defs[r].fixed_crop && (o->crop != IRB_CROP_NONE || c.map_mean)) {
            c.need_fixed[kind] = 1;
            c.flip_fixed[kind] |= row_defs[r].augment;
        } else if (c.need[r] && kind != KIND_NONE) {
            c.need_kind[kind] = 1;
            c.flip_kind[kind] |= row_defs[r].augment;
        }
    }
    c.variants[0] = o->crop != IRB_CROP_AUTO;
    c.variants[1] = o->crop != IRB_CROP_NONE;
    for (int k = 0; k < IRB_EXPERIMENT_MAX_SIZES && o->sizes[k] > 0; k++)
        c.sizes[c.n_sizes++] = o->sizes[k];

    irb_status s = load_labels(o, &c.d, err);
    if (s == IRB_OK)
        s = irb_model_load(o->model, NULL, &c.model, err);
    if (s == IRB_OK)
        snprintf(c.model_sha, sizeof c.model_sha, "%s", irb_model_info_get(c.model)->sha256);
    if (s == IRB_OK && !c.n_sizes) {
        const irb_preprocess *mp = irb_model_preprocess(c.model);
        c.sizes[c.n_sizes++] = mp->input_size > 0 ? mp->input_size : 224;
    }
    if (s == IRB_OK) {
        ok = irb_calloc(c.d.n, 1);
        rel_all = irb_calloc(c.d.n, sizeof *rel_all);
        if (!ok || !rel_all)
            s = irb_fail(err, IRB_NOMEM, "out of memory");
    }
    if (s == IRB_OK)
        s = load_features(&c, ok, err);
    if (s == IRB_OK) {
        n_all = c.d.n;
        for (size_t i = 0; i < n_all; i++)
            if (!(rel_all[i] = irb_strdup(c.d.rel[i])))
                s = irb_fail(err, IRB_NOMEM, "out of memory");
    }
    if (s == IRB_OK)
        s = write_failed(&c, ok, n_all, rel_all, err);
    if (s == IRB_OK) {
        keep_ok(&c.d, ok, c.mats, N_MATS, c.strip_top, c.strip_bottom);
        res->n_failed = n_all - c.d.n;
        if (c.d.n < 10)
            s = irb_fail(err, IRB_INVALID_ARG,
                         "only %zu of the %zu labelled images could be decoded (%s/failed.csv says why); the "
                         "experiment needs at least 10",
                         c.d.n, n_all, o->out_dir);
        if (s == IRB_OK)
            s = group_images(o, &c.d, err);
    }
    if (s == IRB_OK) {
        res->n_images = c.d.n;
        res->n_sequences = c.d.seq.n_sequences;
        res->n_classes = c.d.n_classes;
        res->folds = o->folds > 0 ? o->folds : 5;
        snprintf(res->unit, sizeof res->unit, "%s", irb_fold_unit_name((irb_fold_unit)c.d.unit));
        snprintf(res->positive, sizeof res->positive, "%s", c.d.positive >= 0 ? c.d.classes[c.d.positive] : "");
        s = run_rows(&c, res, err);
    }
    for (size_t i = 0; rel_all && i < n_all; i++)
        irb_free(rel_all[i]);
    irb_free(rel_all);
    irb_free(ok);
    for (int m = 0; m < N_MATS; m++)
        featmat_release(&c.mats[m]);
    featmat_release(&c.motion);
    for (int f = 0; c.motion_fold && f < (o->folds > 0 ? o->folds : 5); f++)
        featmat_release(&c.motion_fold[f]);
    irb_free(c.motion_fold);
    for (int q = 0; q < c.n_crops; q++)
        for (int m = 0; m < N_KINDS * N_VARIANTS; m++)
            featmat_release(&c.crops[q].mats[m]);
    irb_free(c.crops);
    irb_free(c.fold_crop);
    irb_free(c.strip_top);
    irb_free(c.strip_bottom);
    irb_free((void *)c.plan.prev);
    irb_free((void *)c.plan.next);
    irb_free((void *)c.plan.order);
    for (int k = 0; k < IRB_EXPERIMENT_MAX_SIZES; k++)
        irb_calib_free(c.calib[k]);
    irb_model_free(c.model);
    data_release(&c.d);
    return s;
}

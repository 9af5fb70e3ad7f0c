/* Human labels over a finished classify run (irbis/review.h): the review handle behind
 * `irbis review OUT/`, and irb_reviews_apply, which every output writer run goes through.
 *
 * A person labels sequences; the store keeps the label per image (table reviews, keyed by the
 * path relative to the survey, so it outlives `classify --restart`, which renumbers images and
 * sequences) and an append-only history (review_log). Outputs never read the reviews directly:
 * irb_reviews_apply writes the human label into images.label and sequences.label before the
 * writers run, and puts the machine label back where a review was removed. Design:
 * docs/review.md. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/text.h"
#include "irbis/review.h"
#include "classify/classify_internal.h"

enum { PAGE_DEFAULT = 24, PAGE_MAX = 500 };

typedef struct rseq {
    int64_t id;
    char *name, *camera, *start, *end;
    long long n;
    const double *probs; /* into irb_review_t.probs */
    double top;          /* the largest probability */
    int machine;         /* machine_label of probs and novelty */
    int human;           /* class index, or -1 when not reviewed */
    char time[32];       /* of the latest review of a member */
} rseq;

struct irb_review_t {
    irb_store *st;
    irb_outputs_recalled rec;
    irb_outputs_opts o;
    char *out_dir;
    rseq *seq;
    size_t n_seq;
    rseq **by_name; /* the sequences sorted by name */
    double *probs;
    irb_decoder_t *dec;
    tjhandle enc;
    char survey[PATH_MAX]; /* canonical */
};

/* ---- labels ------------------------------------------------------------------------------- */

static int class_index(const irb_outputs_opts *o, const char *name)
{
    for (int k = 0; name && k < o->n_classes; k++)
        if (!strcmp(o->classes[k], name))
            return k;
    return -1;
}

/* The label classify gave: the decision rule with --min-confidence and the novelty threshold
 * (a novel image or sequence is uncertain), as the outputs have it. */
static int machine_label(const irb_outputs_opts *o, const double *probs, double novelty)
{
    return probs ? irb_cls_label_novel(probs, o->n_classes, o->pos, o->threshold, o->min_confidence, novelty,
                                       o->novelty_threshold)
                 : -1;
}

/* ---- applying reviews to the outputs' labels -------------------------------------------- */

typedef struct relabel {
    int64_t id;
    int from, to;
} relabel;

typedef struct relabels {
    relabel *v;
    size_t n, cap;
    long long unknown;       /* human labels that are no class of this run's classifier */
    char unknown_first[256]; /* the first of them: 'label' on the image or sequence */
} relabels;

static int relabels_push(relabels *r, int64_t id, int from, int to)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        relabel *v = irb_realloc_array(r->v, cap, sizeof *v);
        if (!v)
            return 0;
        r->v = v, r->cap = cap;
    }
    r->v[r->n++] = (relabel){id, from, to};
    return 1;
}

/* An image or sequence with a review, or that had one: its label is the human one, else the
 * machine's; a change is pushed to out. 0 when out of memory. */
static int relabel_one(const irb_outputs_opts *o, relabels *out, int64_t id, const char *name, const char *human_label,
                       const double *probs, double novelty, int label)
{
    int human = class_index(o, human_label);
    if (human < 0 && human_label && out->unknown++ == 0)
        snprintf(out->unknown_first, sizeof out->unknown_first, "'%s' on %s", human_label, name);
    int want = human >= 0 ? human : machine_label(o, probs, novelty);
    return want == -1 || want == label || relabels_push(out, id, label, want);
}

/* The images (seqs = 0) or sequences (seqs = 1) that have or had a review, relabelled into out. */
static irb_status relabel_all(irb_store *st, const irb_outputs_opts *o, int seqs, relabels *out, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(seqs ? irb_store_seqs_begin(st, IRB_SEQS_REVIEWED, o->n_classes, &it, err)
                 : irb_store_images_begin(st, IRB_IMAGES_REVIEWED, o->n_classes, &it, err));
    int ok = 1;
    irb_img_row image;
    irb_seq_row seq;
    if (seqs)
        while (ok && irb_store_seqs_next(it, &seq))
            ok = relabel_one(o, out, seq.id, seq.name, seq.human, seq.probs, seq.novelty, seq.label);
    else
        while (ok && irb_store_images_next(it, &image))
            ok = relabel_one(o, out, image.id, image.path, image.human, image.probs, image.novelty, image.label);
    irb_status end = irb_store_iter_end(it, ok ? err : NULL);
    return ok ? end : irb_fail(err, IRB_NOMEM, "%s: out of memory", irb_store_dir(st));
}

/* Writes the new labels (the sorted/ writer then moves the images: outputs.c). */
static irb_status write_relabels(irb_store *st, const relabels *img, const relabels *seq, irb_error *err)
{
    for (size_t i = 0; i < img->n; i++)
        IRB_TRY(irb_store_set_image_label(st, img->v[i].id, img->v[i].to, err));
    for (size_t i = 0; i < seq->n; i++)
        IRB_TRY(irb_store_set_seq_label(st, seq->v[i].id, seq->v[i].to, err));
    return IRB_OK;
}

irb_status irb_reviews_apply(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    relabels img = {0}, seq = {0};
    IRB_TRY(irb_store_begin(st, err));
    irb_status s = relabel_all(st, o, 0, &img, err);
    if (s == IRB_OK)
        s = relabel_all(st, o, 1, &seq, err);
    if (s == IRB_OK)
        s = write_relabels(st, &img, &seq, err);
    if (s == IRB_OK)
        s = irb_store_commit(st, err);
    if (s != IRB_OK)
        irb_store_rollback(st);
    else if (img.unknown) /* a review made under other classes (a --restart with another pipeline) */
        irb_warn(err,
                 "%lld reviewed image(s) have a human label that is no class of this run (the first: %s): kept in "
                 "the store, not used in the outputs",
                 img.unknown, img.unknown_first);
    irb_free(img.v);
    irb_free(seq.v);
    return s;
}

/* ---- the handle --------------------------------------------------------------------------- */

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp((*(rseq *const *)a)->name, (*(rseq *const *)b)->name);
}

static irb_status load_sequences(irb_review_t *rv, irb_error *err)
{
    irb_store *st = rv->st;
    irb_store_counts c;
    IRB_TRY(irb_store_counts_get(st, &c, err));
    long long n = c.sequences;
    size_t nc = (size_t)rv->o.n_classes;
    rv->seq = irb_calloc(n ? (size_t)n : 1, sizeof *rv->seq);
    rv->by_name = irb_calloc(n ? (size_t)n : 1, sizeof *rv->by_name);
    rv->probs = irb_calloc(n ? (size_t)n * nc : 1, sizeof *rv->probs);
    if (!rv->seq || !rv->by_name || !rv->probs)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory for %lld sequences", rv->out_dir, n);
    irb_store_iter *it;
    IRB_TRY(irb_store_seqs_begin(st, IRB_SEQS_HUMAN, (int)nc, &it, err));
    irb_status s = IRB_OK;
    irb_seq_row q;
    while (s == IRB_OK && rv->n_seq < (size_t)n && irb_store_seqs_next(it, &q)) {
        rseq *r = &rv->seq[rv->n_seq];
        double *p = rv->probs + rv->n_seq * nc;
        if (q.probs)
            memcpy(p, q.probs, sizeof(double) * nc);
        r->id = q.id;
        r->n = q.n;
        r->probs = p;
        for (size_t k = 0; k < nc; k++)
            r->top = p[k] > r->top ? p[k] : r->top;
        r->machine = machine_label(&rv->o, p, q.novelty);
        r->human = class_index(&rv->o, q.human);
        if (q.human_time)
            snprintf(r->time, sizeof r->time, "%s", q.human_time);
        if (!(r->name = irb_strdup(q.name)) || !(r->camera = irb_strdup(q.camera)) ||
            !(r->start = irb_strdup(q.start)) || !(r->end = irb_strdup(q.end)))
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", rv->out_dir);
        rv->by_name[rv->n_seq] = r;
        rv->n_seq++;
    }
    irb_status end = irb_store_iter_end(it, s == IRB_OK ? err : NULL);
    s = s == IRB_OK ? end : s;
    for (size_t i = 0; i < rv->n_seq; i++) /* a name failed to copy: not searchable */
        if (!rv->seq[i].name)
            rv->n_seq = i;
    qsort(rv->by_name, rv->n_seq, sizeof *rv->by_name, by_name_cmp);
    return s;
}

/* The check of every entry point: a handle, and the pointers it must have (fd, json, ...). */
static irb_status need(const irb_review_t *rv, const void *arg, const char *fn, irb_error *err)
{
    if (!rv || !arg)
        return irb_fail(err, IRB_INVALID_ARG, "%s: NULL %s", fn, rv ? "argument" : "review handle");
    return IRB_OK;
}

irb_status irb_review_open(const char *out_dir, irb_review_t **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_review_open: NULL out");
    *out = NULL;
    if (!out_dir || !*out_dir)
        return irb_fail(err, IRB_INVALID_ARG, "review needs the output folder of an irbis classify run");
    if (!irb_store_exists(out_dir))
        return irb_fail(err, IRB_NOT_FOUND, "%s: no irbis.sqlite here: not the output folder of irbis classify",
                        out_dir);
    irb_review_t *rv = irb_calloc(1, sizeof *rv);
    if (!rv || !(rv->out_dir = irb_strdup(out_dir))) {
        irb_free(rv);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", out_dir);
    }
    irb_status s = irb_store_open_reader(out_dir, &rv->st, err);
    if (s == IRB_OK)
        s = irb_outputs_recall(rv->st, &rv->rec, &rv->o, err);
    if (s == IRB_OK && !realpath(rv->o.survey_dir, rv->survey))
        s = irb_fail(err, IRB_NOT_FOUND, "survey folder %s (of the run in %s): %s", rv->o.survey_dir, out_dir,
                     strerror(errno));
    if (s == IRB_OK)
        s = load_sequences(rv, err);
    if (s != IRB_OK) {
        irb_review_close(rv);
        return s;
    }
    *out = rv;
    return IRB_OK;
}

void irb_review_close(irb_review_t *rv)
{
    if (!rv)
        return;
    for (size_t i = 0; i < rv->n_seq; i++) {
        irb_free(rv->seq[i].name);
        irb_free(rv->seq[i].camera);
        irb_free(rv->seq[i].start);
        irb_free(rv->seq[i].end);
    }
    irb_free(rv->seq);
    irb_free(rv->by_name);
    irb_free(rv->probs);
    irb_outputs_recalled_free(&rv->rec);
    irb_store_close(rv->st);
    irb_decoder_free(rv->dec);
    if (rv->enc)
        tjDestroy(rv->enc);
    irb_free(rv->out_dir);
    irb_free(rv);
}

void irb_free_string(char *s) { irb_free(s); }

int irb_review_classes(const irb_review_t *rv, const char *const **names)
{
    if (names)
        *names = rv ? (const char *const *)rv->o.classes : NULL;
    return rv ? rv->o.n_classes : 0;
}

const char *irb_review_survey(const irb_review_t *rv) { return rv ? rv->survey : NULL; }

int irb_review_readonly(const irb_review_t *rv) { return rv && irb_store_readonly(rv->st); }

/* IRB_IO saying that nothing can be stored in a read-only folder: `what` cannot be done. */
static irb_status readonly_fail(const irb_review_t *rv, const char *what, irb_error *err)
{
    return irb_fail(err, IRB_IO, "%s is read-only: %s", rv->out_dir, what);
}

static rseq *find_seq(irb_review_t *rv, const char *name)
{
    size_t lo = 0, hi = rv->n_seq;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rv->by_name[mid]->name, name);
        if (!c)
            return rv->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

typedef struct membuf {
    char *buf;
    size_t len;
    FILE *f;
} membuf;

static irb_status mem_open(membuf *m, irb_error *err)
{
    memset(m, 0, sizeof *m);
    if (!(m->f = open_memstream(&m->buf, &m->len)))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    return IRB_OK;
}

/* Hands the text over as an irb_malloc'd string (the stream's buffer is malloc's). */
static irb_status mem_close(membuf *m, irb_status s, char **out, irb_error *err)
{
    int bad = ferror(m->f);
    fclose(m->f);
    *out = NULL;
    if (s == IRB_OK && (bad || !(*out = irb_malloc(m->len + 1))))
        s = irb_fail(err, IRB_NOMEM, "out of memory");
    if (s == IRB_OK)
        memcpy(*out, m->buf, m->len + 1);
    free(m->buf);
    return s;
}

static const char *effective_name(const irb_review_t *rv, const rseq *r)
{
    const char *n = irb_label_name(&rv->o, r->human >= 0 ? r->human : r->machine);
    return n ? n : "";
}

/* "images": the sequence's image paths as text to show, and "keys": the same percent-encoded, the
 * bytes the page sends back in /img and /thumb requests (a name that is not UTF-8 would come back
 * as U+FFFD). One read of the members. */
static irb_status put_members(irb_review_t *rv, const rseq *r, FILE *f, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_members_begin(rv->st, r->id, rv->o.n_classes, &it, err));
    char **path = NULL;
    size_t n = 0, cap = 0;
    int ok = 1;
    irb_img_row m;
    while (ok && irb_store_images_next(it, &m)) {
        if (n == cap) {
            char **p = irb_realloc_array(path, cap ? 2 * cap : 8, sizeof *p);
            ok = p != NULL;
            path = p ? p : path, cap = p ? (cap ? 2 * cap : 8) : cap;
        }
        if (ok && (ok = (path[n] = irb_strdup(m.path)) != NULL))
            n++;
    }
    irb_status s = irb_store_iter_end(it, ok ? err : NULL);
    if (!ok)
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", irb_store_dir(rv->st));
    for (int keys = 0; s == IRB_OK && keys < 2; keys++) {
        fputs(keys ? ", \"keys\": [" : ", \"images\": [", f);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ", " : "", f);
            (keys ? irb_json_put_pct : irb_json_put)(f, path[i]);
        }
        fputs("]", f);
    }
    for (size_t i = 0; i < n; i++)
        irb_free(path[i]);
    irb_free(path);
    return s;
}

static irb_status put_seq(irb_review_t *rv, const rseq *r, FILE *f, irb_error *err)
{
    irb_json_put_member(f, "{", "name", r->name);
    fputs(", \"key\": ", f); /* the name's bytes, percent-encoded: what the page posts as seq */
    irb_json_put_pct(f, r->name);
    irb_json_put_member(f, ", ", "camera", r->camera);
    irb_json_put_member(f, ", ", "start", r->start);
    irb_json_put_member(f, ", ", "end", r->end);
    fprintf(f, ", \"n\": %lld, \"probs\": [", r->n);
    for (int k = 0; k < rv->o.n_classes; k++)
        fprintf(f, "%s%.6f", k ? ", " : "", r->probs[k]);
    fprintf(f, "], \"top\": %.6f, \"machine\": ", r->top);
    irb_json_put(f, irb_label_name(&rv->o, r->machine));
    fputs(", \"human\": ", f);
    if (r->human >= 0) {
        irb_json_put(f, rv->o.classes[r->human]);
        fputs(", \"time\": ", f);
        irb_json_put(f, r->time);
    } else {
        fputs("null, \"time\": null", f);
    }
    IRB_TRY(put_members(rv, r, f, err));
    fputs("}", f);
    return IRB_OK;
}

typedef struct keyed {
    double key;
    size_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : x->i < y->i ? -1 : x->i > y->i;
}

static int wanted(const irb_review_t *rv, const rseq *r, const irb_review_query *q)
{
    if (q->camera && *q->camera && strcmp(q->camera, r->camera))
        return 0;
    if (q->reviewed && (q->reviewed > 0) != (r->human >= 0))
        return 0;
    return !(q->label && *q->label && strcmp(q->label, effective_name(rv, r)));
}

/* The queue's order key of r (ascending; ties by sequence order). */
static double queue_key(const rseq *r, int queue, int cls, size_t i)
{
    switch (queue) {
    case 1: return -r->probs[cls];
    case 2: return (double)i;
    case 3: {
        int l = r->human >= 0 ? r->human : r->machine;
        return (double)(l + 2) * 2.0 + r->top;
    }
    default: return r->top;
    }
}

static irb_status parse_query(const irb_review_t *rv, const irb_review_query *q, int *queue, int *cls, irb_error *err)
{
    static const char *const names[] = {"uncertain", "class", "camera", "label"};
    *queue = -1;
    for (int i = 0; i < 4; i++)
        if (!q->queue || !*q->queue ? i == 0 : !strcmp(q->queue, names[i]))
            *queue = i;
    if (*queue < 0)
        return irb_fail(err, IRB_INVALID_ARG, "unknown queue '%s' (uncertain, class, camera, label)", q->queue);
    *cls = rv->o.pos;
    for (int k = 0; *cls < 0 && k < rv->o.n_classes; k++)
        if (strcmp(irb_obs_type(rv->o.classes[k]), "blank"))
            *cls = k;
    *cls = *cls < 0 ? 0 : *cls;
    if (q->cls && *q->cls && (*cls = class_index(&rv->o, q->cls)) < 0)
        return irb_fail(err, IRB_INVALID_ARG, "unknown class '%s'", q->cls);
    return IRB_OK;
}

irb_status irb_review_list_json(irb_review_t *rv, const irb_review_query *q, char **json, irb_error *err)
{
    static const irb_review_query none = {0};
    if (json)
        *json = NULL;
    IRB_TRY(need(rv, json, "irb_review_list_json", err));
    q = q ? q : &none;
    int queue, cls;
    IRB_TRY(parse_query(rv, q, &queue, &cls, err));
    keyed *idx = irb_malloc_array(rv->n_seq ? rv->n_seq : 1, sizeof *idx);
    if (!idx)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < rv->n_seq; i++)
        if (wanted(rv, &rv->seq[i], q))
            idx[n++] = (keyed){queue_key(&rv->seq[i], queue, cls, i), i};
    qsort(idx, n, sizeof *idx, keyed_cmp);
    size_t off = q->offset > 0 ? (size_t)q->offset : 0;
    size_t lim = q->limit > 0 ? (size_t)(q->limit < PAGE_MAX ? q->limit : PAGE_MAX) : PAGE_DEFAULT;
    membuf m;
    irb_status s = mem_open(&m, err);
    if (s != IRB_OK) {
        irb_free(idx);
        return s;
    }
    fprintf(m.f, "{\"total\": %zu, \"offset\": %zu, \"sequences\": [", n, off);
    for (size_t j = off; s == IRB_OK && j < n && j < off + lim; j++) {
        fputs(j > off ? ",\n" : "\n", m.f);
        s = put_seq(rv, &rv->seq[idx[j].i], m.f, err);
    }
    fputs("]}\n", m.f);
    irb_free(idx);
    return mem_close(&m, s, json, err);
}

irb_status irb_review_info_json(irb_review_t *rv, char **json, irb_error *err)
{
    if (json)
        *json = NULL;
    IRB_TRY(need(rv, json, "irb_review_info_json", err));
    membuf m;
    IRB_TRY(mem_open(&m, err));
    FILE *f = m.f;
    irb_json_put_member(f, "{", "survey", rv->survey);
    irb_json_put_member(f, ", ", "out", rv->out_dir);
    fputs(", \"classes\": [", f);
    const char *blank = NULL;
    for (int k = 0; k < rv->o.n_classes; k++) {
        fputs(k ? ", " : "", f);
        irb_json_put(f, rv->o.classes[k]);
        if (!blank && !strcmp(irb_obs_type(rv->o.classes[k]), "blank"))
            blank = rv->o.classes[k];
    }
    fputs("], \"blank\": ", f);
    blank ? irb_json_put(f, blank) : (void)fputs("null", f);
    fputs(", \"positive\": ", f);
    rv->o.pos >= 0 ? irb_json_put(f, rv->o.classes[rv->o.pos]) : (void)fputs("null", f);
    size_t reviewed = 0;
    for (size_t i = 0; i < rv->n_seq; i++)
        reviewed += rv->seq[i].human >= 0;
    for (int keys = 0; keys < 2; keys++) { /* names to show; their bytes percent-encoded, to filter by */
        fputs(keys ? "], \"camera_keys\": [" : ", \"cameras\": [", f);
        for (size_t i = 0, first = 1; i < rv->n_seq; i++) {
            if (i && !strcmp(rv->seq[i].camera, rv->seq[i - 1].camera))
                continue; /* sequences are in camera order */
            fputs(first ? "" : ", ", f);
            first = 0;
            (keys ? irb_json_put_pct : irb_json_put)(f, rv->seq[i].camera);
        }
    }
    fprintf(f, "], \"sequences\": %zu, \"reviewed\": %zu, \"readonly\": %s}\n", rv->n_seq, reviewed,
            irb_review_readonly(rv) ? "true" : "false");
    return mem_close(&m, IRB_OK, json, err);
}

/* ---- corrections -------------------------------------------------------------------------- */

static irb_status store_labels(irb_review_t *rv, rseq *const *seqs, const char *const *labels, int n, const char *now,
                               irb_error *err)
{
    for (int i = 0; i < n; i++)
        IRB_TRY(irb_store_review_seq(rv->st, seqs[i]->id, labels[i], now, err));
    return IRB_OK;
}

irb_status irb_review_set(irb_review_t *rv, const char *const *seqs, const char *const *labels, int n, irb_error *err)
{
    IRB_TRY(need(rv, rv, "irb_review_set", err));
    if (n < 0 || (n > 0 && (!seqs || !labels)))
        return irb_fail(err, IRB_INVALID_ARG, "review: no sequences given");
    if (irb_review_readonly(rv))
        return readonly_fail(rv, "labels cannot be saved", err);
    rseq **found = irb_malloc_array(n ? (size_t)n : 1, sizeof *found);
    if (!found)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    irb_status s = IRB_OK;
    for (int i = 0; s == IRB_OK && i < n; i++) {
        if (!seqs[i] || !(found[i] = find_seq(rv, seqs[i])))
            s = irb_fail(err, IRB_INVALID_ARG, "%s: no sequence '%s' in this run", rv->out_dir,
                         seqs[i] ? seqs[i] : "(null)");
        else if (!labels[i] || (labels[i][0] && class_index(&rv->o, labels[i]) < 0))
            s = irb_fail(err, IRB_INVALID_ARG, "%s: '%s' is not one of the run's classes", rv->out_dir,
                         labels[i] ? labels[i] : "(null)");
    }
    char now[32];
    irb_utc_now(now, sizeof now);
    if (s == IRB_OK && (s = irb_store_begin(rv->st, err)) == IRB_OK) {
        s = store_labels(rv, found, labels, n, now, err);
        s = s == IRB_OK ? irb_store_commit(rv->st, err) : s;
        if (s != IRB_OK)
            irb_store_rollback(rv->st);
    }
    for (int i = 0; s == IRB_OK && i < n; i++) {
        found[i]->human = labels[i][0] ? class_index(&rv->o, labels[i]) : -1;
        snprintf(found[i]->time, sizeof found[i]->time, "%s", labels[i][0] ? now : "");
    }
    irb_free(found);
    return s;
}

/* ---- images -------------------------------------------------------------------------------- */

/* A relative path of plain components: not empty, not absolute, no "", "." or ".." part. */
static int plain_relative(const char *rel)
{
    if (!rel || !*rel || *rel == '/')
        return 0;
    for (const char *p = rel;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (!p[n])
            return 1;
        p += n + 1;
    }
}

/* The store id of the classified image rel and its path under the survey. */
static irb_status find_image(irb_review_t *rv, const char *rel, int64_t *id, char **path, irb_error *err)
{
    *path = NULL;
    if (!plain_relative(rel))
        return irb_fail(err, IRB_NOT_FOUND, "not an image of the survey");
    IRB_TRY(irb_store_classified_id(rv->st, rel, id, err));
    if (*id < 0)
        return irb_fail(err, IRB_NOT_FOUND, "not an image of the survey");
    if (!(*path = irb_path_join(rv->survey, rel)))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    return IRB_OK;
}

/* Opens path read-only if it is a regular file that starts as a JPEG or PNG does: a survey file
 * swapped for a link to something else since classify read it is not served. */
static irb_status open_picture(const char *path, int *fd, irb_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    unsigned char m[8] = {0};
    struct stat sb;
    int ok = *fd >= 0 && fstat(*fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
             pread(*fd, m, sizeof m, 0) == (ssize_t)sizeof m &&
             ((m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) || !memcmp(m, "\x89PNG\r\n\x1a\n", 8));
    if (ok)
        return IRB_OK;
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    return irb_fail(err, IRB_NOT_FOUND, "not an image of the survey");
}

irb_status irb_review_image(irb_review_t *rv, const char *rel, int *fd, irb_error *err)
{
    int64_t id;
    char *path = NULL;
    if (fd)
        *fd = -1;
    IRB_TRY(need(rv, fd, "irb_review_image", err));
    IRB_TRY(find_image(rv, rel, &id, &path, err));
    irb_status s = open_picture(path, fd, err);
    irb_free(path);
    return s;
}

/* Makes OUT/thumbs/ID.jpg (dst, in dir) from the survey image src. */
static irb_status make_thumb(irb_review_t *rv, const char *rel, const char *src, const char *dir, const char *dst,
                             irb_error *err)
{
    int sfd = -1; /* the source must pass the same check as a full-size image */
    IRB_TRY(open_picture(src, &sfd, err));
    close(sfd);
    if (!rv->dec && irb_decoder_new(&rv->dec) != IRB_OK)
        return irb_fail(err, IRB_NOMEM, "out of memory");
    if (!rv->enc && !(rv->enc = tjInitCompress()))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    IRB_TRY(irb_mkdirs(dir, err));
    if (!irb_thumb_write(rv->dec, rv->enc, src, dst))
        return irb_fail(err, IRB_CORRUPT, "%s: cannot make a thumbnail", rel);
    return IRB_OK;
}

irb_status irb_review_thumb(irb_review_t *rv, const char *rel, int *fd, irb_error *err)
{
    int64_t id;
    char *src = NULL;
    if (fd)
        *fd = -1;
    IRB_TRY(need(rv, fd, "irb_review_thumb", err));
    IRB_TRY(find_image(rv, rel, &id, &src, err));
    char name[64] = IRB_OUT_THUMBS "/";
    irb_out_thumb_name(id, name + strlen(name), sizeof name - strlen(name));
    char *dst = irb_out_path(rv->st, name, err), *dir = irb_out_path(rv->st, IRB_OUT_THUMBS, err);
    irb_status s = dst && dir ? IRB_OK : IRB_NOMEM;
    const char *serve = dst;
    if (s == IRB_OK && !irb_thumb_ok(dst)) {
        if (irb_review_readonly(rv)) /* none can be made in a read-only folder: the image itself */
            serve = src;
        else
            s = make_thumb(rv, rel, src, dir, dst, err);
    }
    if (s == IRB_OK)
        s = open_picture(serve, fd, err);
    irb_free(src);
    irb_free(dir);
    irb_free(dst);
    return s;
}

/* ---- outputs -------------------------------------------------------------------------------- */

irb_status irb_review_export(irb_review_t *rv, irb_error *err)
{
    IRB_TRY(need(rv, rv, "irb_review_export", err));
    if (irb_review_readonly(rv))
        return readonly_fail(rv, "the outputs cannot be rewritten", err);
    return irb_write_outputs(rv->st, &rv->o, NULL, err);
}

irb_status irb_review_write_labels(irb_review_t *rv, const char *csv_path, long long *n, irb_error *err)
{
    long long dummy;
    n = n ? n : &dummy;
    *n = 0;
    IRB_TRY(need(rv, rv, "irb_review_write_labels", err));
    irb_atomic_file af;
    IRB_TRY(irb_atomic_open(&af, csv_path, err));
    irb_store_iter *it;
    irb_status s = irb_store_reviews_begin(rv->st, &it, err);
    if (s != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    FILE *f = af.f;
    fputs("path,label,time,method\n", f);
    irb_review_row r;
    while (irb_store_reviews_next(it, &r)) {
        const char *cols[4] = {r.path, r.label, r.time, r.method};
        for (int c = 0; c < 4; c++) {
            fputs(c ? "," : "", f);
            irb_csv_put(f, cols[c]);
        }
        fputc('\n', f);
        (*n)++;
    }
    if ((s = irb_store_iter_end(it, err)) != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    return irb_atomic_close(&af, err);
}

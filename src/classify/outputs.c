/* Output writers of `irbis classify` that read the results store: predictions.csv and the sorted
 * folders (the Camtrap DP package is in outputs_ctdp.c). Every file is written under a temporary name and renamed into
 * place, so a killed run never leaves a half-written output under its final name. The HTML
 * report is in outputs_report.c. Formats: docs/classify.md. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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
#include "core/text.h"
#include "classify/classify_internal.h"

/* ---- files ------------------------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT ? -1 : 0;
}

irb_status irb_rmtree(const char *path, irb_error *err)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return IRB_OK;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return irb_fail(err, IRB_IO, "%s: cannot remove: %s", path, strerror(errno));
    return IRB_OK;
}

/* nftw has no context argument: irb_prune_tree's, for its one walk on this thread */
static _Thread_local struct {
    size_t root_len;
    int (*is_ours)(void *ctx, const char *rel);
    void *ctx;
} prune;

static int prune_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (flag == FTW_DP) /* a folder: removed once empty (a user's file keeps it) */
        return rmdir(path) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST ? -1 : 0;
    const char *rel = path + prune.root_len;
    rel += *rel == '/';
    if (flag == FTW_D || flag == FTW_DNR || !prune.is_ours(prune.ctx, rel))
        return 0;
    return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

irb_status irb_prune_tree(const char *root, int (*is_ours)(void *ctx, const char *rel), void *ctx, irb_error *err)
{
    struct stat sb;
    if (lstat(root, &sb) != 0)
        return IRB_OK;
    prune.root_len = strlen(root), prune.is_ours = is_ours, prune.ctx = ctx;
    if (nftw(root, prune_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return irb_fail(err, IRB_IO, "%s: cannot remove: %s", root, strerror(errno));
    return IRB_OK;
}

const char *const irb_out_names[] = {IRB_OUT_PREDICTIONS, IRB_OUT_REPORT, IRB_OUT_MD,     IRB_OUT_CCT,
                                     IRB_OUT_CTDP,        IRB_OUT_SORTED, IRB_OUT_THUMBS, NULL};

void irb_out_thumb_name(int64_t id, char *buf, size_t size) { snprintf(buf, size, "%lld.jpg", (long long)id); }

/* What irb_outputs_prune takes from each folder: a path under sorted/ is LABEL/PATH of an image
 * of the store; a thumbnail is ID.jpg (irb_out_thumb_name), or its temporary. */
static int sorted_ours(void *ctx, const char *rel)
{
    const char *slash = strchr(rel, '/');
    return slash && irb_store_has_path(ctx, slash + 1);
}

static int thumbs_ours(void *ctx, const char *rel)
{
    (void)ctx;
    size_t n = strspn(rel, "0123456789");
    return n > 0 && !strncmp(rel + n, ".jpg", 4) && (!rel[n + 4] || !strcmp(rel + n + 4, ".tmp"));
}

static int ctdp_ours(void *ctx, const char *rel)
{
    (void)ctx;
    return irb_ctdp_owns(rel);
}

irb_status irb_outputs_prune(irb_store *st, irb_error *err)
{
    static const char *const dirs[] = {IRB_OUT_SORTED, IRB_OUT_THUMBS, IRB_OUT_CTDP};
    int (*const ours[])(void *, const char *) = {sorted_ours, thumbs_ours, ctdp_ours};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char *p = irb_out_path(st, dirs[i], err);
        if (!p)
            return IRB_NOMEM;
        irb_status s = irb_prune_tree(p, ours[i], st, err);
        irb_free(p);
        IRB_TRY(s);
    }
    return IRB_OK;
}

char *irb_out_path(irb_store *st, const char *name, irb_error *err)
{
    char *p = irb_path_join(irb_store_dir(st), name);
    if (!p)
        irb_fail(err, IRB_NOMEM, "%s: out of memory", irb_store_dir(st));
    return p;
}

/* ---- text helpers ------------------------------------------------------------------------- */

const char *irb_label_name(const irb_outputs_opts *o, int label)
{
    return label >= 0 && label < o->n_classes ? o->classes[label] : label == IRB_LABEL_UNCERTAIN ? "uncertain" : NULL;
}

int irb_uncertain_on(const irb_outputs_opts *o) { return o->min_confidence > 0 || o->novelty_threshold > 0; }

const char *irb_obs_type(const char *cls)
{
    static const char *const blank[] = {"empty", "blank", "none", "background", "nothing"};
    static const char *const human[] = {"human", "person", "people", "humans"};
    static const char *const vehicle[] = {"vehicle", "car", "truck", "vehicles"};
    for (size_t i = 0; i < sizeof blank / sizeof *blank; i++)
        if (!strcasecmp(cls, blank[i]))
            return "blank";
    for (size_t i = 0; i < sizeof human / sizeof *human; i++)
        if (!strcasecmp(cls, human[i]))
            return "human";
    for (size_t i = 0; i < sizeof vehicle / sizeof *vehicle; i++)
        if (!strcasecmp(cls, vehicle[i]))
            return "vehicle";
    return "animal";
}

/* One entry of a --taxa mapping "CLASS=NAME;CLASS=NAME...": the entry at *p (len bytes), its
 * class part (lc bytes; the whole entry when it has no '='), and *p moved to the next entry
 * (NULL after the last). 0 when there is none left. */
typedef struct taxa_entry {
    const char *at, *name; /* name: after the '=', or NULL */
    size_t len, lc;
} taxa_entry;

static int taxa_next(const char **p, taxa_entry *e)
{
    if (!*p || !**p)
        return 0;
    const char *end = strchr(*p, ';');
    e->at = *p;
    e->len = end ? (size_t)(end - *p) : strlen(*p);
    const char *eq = memchr(*p, '=', e->len);
    e->lc = eq ? (size_t)(eq - *p) : e->len;
    e->name = eq ? eq + 1 : NULL;
    *p = end ? end + 1 : NULL;
    return 1;
}

/* The scientific name the --taxa mapping gives cls, copied into buf; "" when unmapped. */
const char *irb_taxon(const char *taxa, const char *cls, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t lc = strlen(cls);
    taxa_entry e;
    for (const char *p = taxa; taxa_next(&p, &e);)
        if (e.name && e.lc == lc && !strncmp(e.at, cls, lc)) {
            size_t n = e.len - lc - 1;
            if (n >= size)
                n = size - 1;
            memcpy(buf, e.name, n);
            buf[n] = '\0';
            break;
        }
    return buf;
}

irb_status irb_taxa_check(const char *taxa, const char *const *classes, int n_classes, irb_error *err)
{
    taxa_entry e, f;
    for (const char *p = taxa; taxa_next(&p, &e);) {
        int len = (int)e.len, lc = (int)e.lc, k = -1;
        if (!e.name || lc == 0 || e.name == e.at + e.len)
            return irb_fail(err, IRB_INVALID_ARG, "--taxa '%.*s': want CLASS=SCIENTIFIC NAME", len, e.at);
        for (int i = 0; i < n_classes; i++)
            if (strlen(classes[i]) == e.lc && !strncmp(e.at, classes[i], e.lc))
                k = i;
        if (k < 0)
            return irb_fail(err, IRB_INVALID_ARG, "--taxa '%.*s': '%.*s' is not a class of the classifier", len, e.at,
                            lc, e.at);
        for (const char *q = taxa; q != e.at && taxa_next(&q, &f);) /* the same class earlier: which name wins? */
            if (f.lc == e.lc && !strncmp(f.at, e.at, e.lc))
                return irb_fail(err, IRB_INVALID_ARG, "--taxa: class '%.*s' mapped twice", lc, e.at);
    }
    return IRB_OK;
}

/* A class name as a folder name: '/', NUL-ish and leading dots replaced. */
/* A class name as one folder name, injectively ('x/y' and 'x_y' stay apart): '/', '\\' and '%',
 * and a leading '.', are written %XX; the empty name is "%". */
static void safe_name(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; s[i] && o + 4 < size; i++) {
        if (s[i] == '/' || s[i] == '\\' || s[i] == '%' || (i == 0 && s[i] == '.'))
            o += (size_t)snprintf(buf + o, size - o, "%%%02X", (unsigned char)s[i]);
        else
            buf[o++] = s[i];
    }
    buf[o] = '\0';
    if (!o)
        snprintf(buf, size, "%%");
}

/* ---- predictions.csv -------------------------------------------------------------------- */

static void put_probs(FILE *f, const double *p, int nc)
{
    for (int k = 0; k < nc; k++) {
        if (p)
            fprintf(f, ",%.6f", p[k]);
        else
            fputc(',', f);
    }
}

static void put_label(FILE *f, const irb_outputs_opts *o, int has, int label)
{
    fputc(',', f);
    const char *name = irb_label_name(o, label);
    if (has && name)
        irb_csv_put(f, name);
}

/* A novelty score (6 decimals) and its flag; empty without a score. */
static void put_novelty(FILE *f, const irb_outputs_opts *o, double score)
{
    if (isnan(score))
        fputs(",,", f);
    else
        fprintf(f, ",%.6f,%d", score, score > o->novelty_threshold);
}

static void put_prediction(FILE *f, const irb_outputs_opts *o, const irb_img_row *r)
{
    const char *cols[4] = {r->path, r->camera, r->timestamp, r->seq_name ? r->seq_name : ""};
    for (int c = 0; c < 4; c++) {
        if (c)
            fputc(',', f);
        irb_csv_put(f, cols[c]);
    }
    put_probs(f, r->probs, o->n_classes);
    put_label(f, o, r->has_label, r->label);
    put_probs(f, r->seq_probs, o->n_classes);
    put_label(f, o, r->has_seq_label, r->seq_label);
    if (o->novelty_threshold > 0)
        put_novelty(f, o, r->novelty), put_novelty(f, o, r->seq_novelty);
    fputc(',', f);
    fputs(r->state == IRB_IMG_OK ? "ok" : r->state == IRB_IMG_PENDING ? "pending" : r->status, f);
    fputc(',', f);
    irb_csv_put(f, r->message);
    const char *lname = irb_label_name(o, r->label);
    fputs(r->state != IRB_IMG_OK                          ? ",\n"
          : r->human && lname && !strcmp(r->human, lname) ? ",human\n"
                                                          : ",machine\n",
          f);
}

irb_status irb_out_open(irb_store *st, const char *name, irb_atomic_file *af, irb_error *err)
{
    char *path = irb_out_path(st, name, err);
    if (!path)
        return IRB_NOMEM;
    irb_status s = irb_atomic_open(af, path, err);
    irb_free(path);
    return s;
}

irb_status irb_write_predictions(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(irb_out_open(st, IRB_OUT_PREDICTIONS, &af, err));
    FILE *f = af.f;
    fputs("path,camera,timestamp,sequence", f);
    for (int k = 0; k < o->n_classes; k++)
        fputc(',', f), irb_csv_put_prefixed(f, "p_", o->classes[k]);
    fputs(",label", f);
    for (int k = 0; k < o->n_classes; k++)
        fputc(',', f), irb_csv_put_prefixed(f, "seq_p_", o->classes[k]);
    fputs(",seq_label", f);
    int nov = o->novelty_threshold > 0;
    if (nov)
        fputs(",novelty,novel,seq_novelty,seq_novel", f);
    fputs(",status,message,method\n", f);
    irb_store_iter *it;
    irb_status s = irb_store_images_begin(st, IRB_IMAGES_ALL, o->n_classes, &it, err);
    irb_img_row r;
    while (s == IRB_OK && irb_store_images_next(it, &r))
        put_prediction(f, o, &r);
    if (s == IRB_OK)
        s = irb_store_iter_end(it, err);
    if (s != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    return irb_atomic_close(&af, err);
}

/* ---- sorted folders ----------------------------------------------------------------------- */

static irb_status copy_file(const char *src, const char *dst, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(irb_atomic_open(&af, dst, err));
    FILE *in = fopen(src, "rb");
    if (!in) {
        irb_atomic_abort(&af);
        return irb_fail(err, IRB_IO, "%s: cannot open: %s", src, strerror(errno));
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, af.f) != n)
            break;
    int bad = ferror(in);
    fclose(in);
    if (bad) {
        irb_atomic_abort(&af);
        return irb_fail(err, IRB_IO, "%s: read error", src);
    }
    return irb_atomic_close(&af, err);
}

static irb_status place(irb_sort_mode mode, const char *src, const char *dst, irb_error *err)
{
    struct stat sb;
    if (lstat(dst, &sb) == 0)
        return IRB_OK; /* placed by an earlier run (a changed image's entry went first: irb_write_sorted) */
    char *slash = strrchr(dst, '/');
    *slash = '\0';
    irb_status s = irb_mkdirs(dst, err);
    *slash = '/';
    IRB_TRY(s);
    if (mode == IRB_SORT_COPY)
        return copy_file(src, dst, err);
    /* a survey file that is a symlink is linked by its target (link() would link the symlink) */
    int rc = mode == IRB_SORT_HARDLINK ? linkat(AT_FDCWD, src, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) : symlink(src, dst);
    if (rc != 0)
        return irb_fail(err, IRB_IO, "%s: cannot %s to %s: %s", dst,
                        mode == IRB_SORT_HARDLINK ? "hard-link" : "symlink", src, strerror(errno));
    return IRB_OK;
}

/* The folders of sorted/: one per class, "uncertain" and "unknown" (a label no class has). */
typedef struct label_dirs {
    const char *sorted; /* OUT/sorted */
    int n;
    char (*name)[256];
} label_dirs;

/* Removes sorted/<each label's folder but skip>/<rel> where it is (skip < 0: every one). */
static irb_status unplace_except(const label_dirs *d, int skip, const char *rel, irb_error *err)
{
    for (int k = 0; k < d->n; k++) {
        if (k == skip || (skip >= 0 && !strcmp(d->name[k], d->name[skip]))) /* a class named "unknown" */
            continue;
        size_t need = strlen(d->sorted) + strlen(d->name[k]) + strlen(rel) + 3;
        char *dst = irb_malloc(need);
        if (!dst)
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", d->sorted);
        snprintf(dst, need, "%s/%s/%s", d->sorted, d->name[k], rel);
        irb_status s = unlink(dst) == 0 || errno == ENOENT || errno == ENOTDIR || errno == EISDIR
                           ? IRB_OK
                           : irb_fail(err, IRB_IO, "%s: cannot remove: %s", dst, strerror(errno));
        irb_free(dst);
        IRB_TRY(s);
    }
    return IRB_OK;
}

static irb_status unplace_gone(void *ctx, const char *rel, irb_error *err) { return unplace_except(ctx, -1, rel, err); }

/* sorted/<label>/<path> for every classified image. The entries of images that left the survey
 * or changed go first; then each image is placed under its label before it leaves any other
 * label's folder, so a run killed in between leaves it in two folders, never in none (a review
 * that relabels sequences, a sequence that grew with a second card). */
irb_status irb_write_sorted(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    if (o->sort == IRB_SORT_NONE)
        return IRB_OK;
    char root[PATH_MAX];
    if (!realpath(o->survey_dir, root))
        return irb_fail(err, IRB_IO, "%s: %s", o->survey_dir, strerror(errno));
    label_dirs dirs = {.name = irb_calloc((size_t)o->n_classes + 2, sizeof *dirs.name)}, *d = &dirs;
    char *sorted = irb_out_path(st, IRB_OUT_SORTED, err);
    if (!d->name || !sorted) {
        irb_free(d->name), irb_free(sorted);
        return irb_fail(err, IRB_NOMEM, "out of memory");
    }
    d->sorted = sorted;
    for (int k = 0; k < o->n_classes; k++)
        safe_name(o->classes[k], d->name[d->n++], sizeof d->name[0]);
    safe_name("uncertain", d->name[d->n++], sizeof d->name[0]);
    safe_name("unknown", d->name[d->n++], sizeof d->name[0]);
    irb_status s = irb_store_gone_each(st, unplace_gone, d, err);
    irb_store_iter *it = NULL;
    if (s == IRB_OK)
        s = irb_store_images_begin(st, IRB_IMAGES_CLASSIFIED, o->n_classes, &it, err);
    irb_img_row r;
    while (s == IRB_OK && irb_store_images_next(it, &r)) {
        const char *rel = r.path;
        int label = r.has_seq_label ? r.seq_label : r.label;
        const char *lname = irb_label_name(o, label);
        int k = label >= 0 && label < o->n_classes ? label : lname ? o->n_classes : o->n_classes + 1;
        size_t need = strlen(sorted) + strlen(d->name[k]) + strlen(rel) + 3;
        char *dst = irb_malloc(need), *src = irb_path_join(root, rel);
        if (!dst || !src) {
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", sorted);
        } else {
            snprintf(dst, need, "%s/%s/%s", sorted, d->name[k], rel);
            s = place(o->sort, src, dst, err);
            if (s == IRB_OK)
                s = unplace_except(d, k, rel, err);
        }
        irb_free(dst);
        irb_free(src);
    }
    irb_status end = it ? irb_store_iter_end(it, s == IRB_OK ? err : NULL) : IRB_OK;
    s = s == IRB_OK ? end : s;
    if (s == IRB_OK)
        s = irb_store_gone_clear(st, err);
    irb_free(sorted);
    irb_free(d->name);
    return s;
}

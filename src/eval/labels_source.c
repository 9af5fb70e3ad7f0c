/* Where labels come from (docs/evaluation.md, "Where labels come from"): a labels CSV with any
 * column names, a Timelapse 2 export, or a Camtrap DP package (camtrap_labels.c), read into one
 * table whose `path` and `label` columns train, evaluate and the experiment read alike, with blank
 * label cells filled in when asked. The one loader behind every --labels. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/error.h"
#include "eval/eval_internal.h"
#include "irbis/eval.h"
#include "irbis/files.h"
#include "irbis/survey.h"

/* ---- columns ---------------------------------------------------------------------------------- */

/* Timelapse's own columns; the others are the user's data fields (Species, Count, ...). */
static const char *const TIMELAPSE_OWN[] = {"File", "RelativePath", "Folder",    "RootFolder",   "DateTime",
                                            "Date", "Time",         "UTCOffset", "ImageQuality", "DeleteFlag"};

static int named(const char *name, const char *want) { return irb_header_find((char *const *)&name, 1, want) == 0; }

static int timelapse_own(const char *name)
{
    for (size_t i = 0; i < sizeof TIMELAPSE_OWN / sizeof *TIMELAPSE_OWN; i++)
        if (named(name, TIMELAPSE_OWN[i]))
            return 1;
    return 0;
}

/* "'a', 'b', ..." of t's columns (only the user's fields when fields_only), cut to fit size. */
static void list_columns(const irb_table *t, int fields_only, char *buf, size_t size)
{
    size_t n = 0;
    int listed = 0;
    buf[0] = '\0';
    for (int j = 0; j < t->ncol && n < size; j++)
        if (!fields_only || !timelapse_own(t->name[j]))
            n += (size_t)snprintf(buf + n, size - n, "%s'%s'", listed++ ? ", " : "", t->name[j]);
}

irb_status irb_labels_no_column(const irb_table *t, const char *source, const char *name, irb_error *err)
{
    char cols[640];
    list_columns(t, 0, cols, sizeof cols);
    return irb_fail(err, IRB_NOT_FOUND,
                    "%s: no column '%s': its header has %d column(s): %s (columns separated by ',', or ';' or tabs "
                    "throughout)",
                    source, name, t->ncol, cols);
}

/* ---- a Timelapse export ----------------------------------------------------------------------- */

typedef struct source {
    const char *file; /* for messages */
    const irb_labels_opts *o;
    irb_table *t;
    int path, label;                          /* columns (path -1: a Timelapse export's RelativePath/File) */
    int file_col, rel, when, date, hour, del; /* a Timelapse export's columns, or -1 */
    int add_time;                             /* a `timestamp` column is made from Timelapse's times */
    size_t deleted, bad_time, ex_bad_time, ex_deleted;
    char ex_deleted_path[256]; /* the first row left out (DeleteFlag): its RelativePath/File */
} source;

/* s without the blanks around it, into out[size]; "" when it does not fit. */
static void trimmed(const char *s, char *out, size_t size)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= size)
        n = 0;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Timelapse's display date "05-Apr-2021" (its English month names, any case) as "2021-04-05";
 * other text is copied as it is (irb_time_parse then judges it). */
static void iso_date(const char *s, char *out, size_t size)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char m[4] = {0};
    const char *hit = NULL;
    int ok = strlen(s) == 11 && s[2] == '-' && s[6] == '-';
    for (int i = 0; ok && i < 11; i++)
        ok = (i >= 3 && i <= 5) ? isalpha((unsigned char)s[i]) : i == 2 || i == 6 || isdigit((unsigned char)s[i]);
    if (ok) {
        for (int i = 0; i < 3; i++)
            m[i] = (char)tolower((unsigned char)s[3 + i]);
        hit = strstr(months, m);
    }
    if (hit && (hit - months) % 3 == 0)
        snprintf(out, size, "%.4s-%02d-%.2s", s + 7, (int)((hit - months) / 3 + 1), s);
    else
        snprintf(out, size, "%s", s);
}

/* Row r's time as "YYYY-MM-DDTHH:MM:SS" into out[32]: from DateTime, else Date and Time. 0, 1 when
 * the cells are blank (out ""), -1 when they are no date and time (out ""). */
static int timelapse_time(const source *k, char **row, char *out)
{
    char text[80], a[40], b[40];
    out[0] = '\0';
    if (k->when >= 0) {
        trimmed(row[k->when], text, sizeof text);
    } else {
        trimmed(row[k->date], a, sizeof a);
        trimmed(k->hour >= 0 ? row[k->hour] : "", b, sizeof b);
        char date[40];
        iso_date(a, date, sizeof date);
        snprintf(text, sizeof text, "%s%s%s", date, a[0] && b[0] ? " " : "", b);
    }
    if (!text[0])
        return 1;
    irb_time t;
    if (irb_time_parse(text, &t, NULL) != IRB_OK)
        return -1;
    irb_time_format(t, out, 32);
    return 0;
}

/* RelativePath/File ('\' read as '/'; the root's RelativePath is empty). NULL: out of memory. */
static char *timelapse_path(const char *rel, const char *file)
{
    size_t nr = strlen(rel), nf = strlen(file);
    while (nr && (rel[nr - 1] == '\\' || rel[nr - 1] == '/'))
        nr--;
    char *p = irb_malloc(nr + nf + 2);
    if (!p)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < nr; i++)
        p[w++] = rel[i] == '\\' ? '/' : rel[i];
    if (nr)
        p[w++] = '/';
    memcpy(p + w, file, nf + 1);
    return p;
}

/* A DeleteFlag cell that says true as spreadsheets write it: true, 1, yes, y, x (any case). */
static int delete_flag(const char *s)
{
    static const char *const yes[] = {"true", "1", "yes", "y", "x"};
    char v[16];
    trimmed(s, v, sizeof v);
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!strcasecmp(v, yes[i]))
            return 1;
    return 0;
}

/* ---- the columns asked for -------------------------------------------------------------------- */

/* A column the loader reads that the header names twice is refused: which of the two holds the
 * paths, labels or times cannot be known (a spreadsheet's pasted column, a sheet joined twice). */
static irb_status named_once(const source *k, int col, irb_error *err)
{
    const irb_table *t = k->t;
    for (int j = 0; col >= 0 && j < t->ncol; j++)
        if (j != col && named(t->name[j], t->name[col]))
            return irb_fail(err, IRB_INVALID_ARG, "%s: column '%s' is named twice (columns %d and %d): rename one",
                            k->file, t->name[col], (col < j ? col : j) + 1, (col < j ? j : col) + 1);
    return IRB_OK;
}

static irb_status find_columns(source *k, irb_error *err)
{
    const irb_table *t = k->t;
    const char *pc = k->o->path_column, *lc = k->o->label_column;
    k->file_col = irb_table_column(t, "File"), k->rel = irb_table_column(t, "RelativePath");
    k->when = k->date = k->hour = k->del = -1;
    int timelapse = !pc && k->file_col >= 0 && k->rel >= 0 && irb_table_column(t, "path") < 0;
    k->path = timelapse ? -1 : irb_table_column(t, pc ? pc : "path");
    if (!timelapse && k->path < 0)
        return irb_labels_no_column(t, k->file, pc ? pc : "path", err);
    k->label = irb_table_column(t, lc ? lc : "label");
    if (k->label < 0 && timelapse && !lc) {
        char cols[640];
        list_columns(t, 1, cols, sizeof cols);
        return irb_fail(err, IRB_NOT_FOUND,
                        "%s: a Timelapse export (File and RelativePath columns) has no standard label column: name "
                        "the one that holds the labels (--label-column); its data fields: %s",
                        k->file, cols[0] ? cols : "none");
    }
    if (k->label < 0)
        return irb_labels_no_column(t, k->file, lc ? lc : "label", err);
    if (k->label == k->path)
        return irb_fail(err, IRB_INVALID_ARG, "%s: the path and the label are both column '%s'", k->file,
                        t->name[k->label]);
    if (timelapse) {
        k->when = irb_table_column(t, "DateTime");
        k->date = k->when < 0 ? irb_table_column(t, "Date") : -1;
        k->hour = k->date >= 0 ? irb_table_column(t, "Time") : -1;
        k->del = irb_table_column(t, "DeleteFlag");
        k->add_time = (k->when >= 0 || k->date >= 0) && irb_table_column(t, "timestamp") < 0;
    }
    const int read[] = {k->path, k->label, timelapse ? k->file_col : -1, timelapse ? k->rel : -1, k->when, k->date,
                        k->hour, k->del};
    for (size_t i = 0; i < sizeof read / sizeof *read; i++)
        IRB_TRY(named_once(k, read[i], err));
    return IRB_OK;
}

/* ---- the labels table ------------------------------------------------------------------------- */

/* Column j of the source is kept after `path`, `label` (and a made `timestamp`): not the chosen
 * path or label column, nor one named like a column the new table makes. */
static int kept(const source *k, int j)
{
    const char *name = k->t->name[j];
    return j != k->path && j != k->label && !named(name, "path") && !named(name, "label") &&
           !(k->add_time && named(name, "timestamp"));
}

static irb_status new_table(const source *k, int ncol, irb_table **out, irb_error *err)
{
    irb_table *t = irb_calloc(1, sizeof *t);
    if (!t || !(t->name = irb_calloc((size_t)ncol, sizeof *t->name)) ||
        !(t->cell = irb_calloc(k->t->nrow + 1, sizeof *t->cell))) {
        irb_table_free(t);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", k->file);
    }
    t->ncol = ncol;
    *out = t;
    int j = 0;
    const char *made[] = {"path", "label", "timestamp"};
    for (; j < 2 + k->add_time; j++)
        if (!(t->name[j] = irb_strdup(made[j])))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", k->file);
    for (int c = 0; c < k->t->ncol; c++)
        if (kept(k, c) && !(t->name[j++] = irb_strdup(k->t->name[c])))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", k->file);
    return IRB_OK;
}

/* Row i of the source into the new table (its cells moved), or left out (DeleteFlag). */
static irb_status move_row(source *k, size_t i, irb_table *t, irb_error *err)
{
    char **src = k->t->cell[i], stamp[32];
    if (k->del >= 0 && delete_flag(src[k->del])) {
        if (!k->deleted++) {
            k->ex_deleted = i;
            snprintf(k->ex_deleted_path, sizeof k->ex_deleted_path, "%s%s%s", src[k->rel], src[k->rel][0] ? "/" : "",
                     src[k->file_col]);
        }
        return IRB_OK;
    }
    char **row = irb_calloc((size_t)t->ncol, sizeof *row);
    if (!row)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", k->file);
    t->cell[t->nrow++] = row;
    int j = 0;
    if (k->path >= 0)
        row[j++] = src[k->path], src[k->path] = NULL;
    else if (!(row[j++] = timelapse_path(src[k->rel], src[k->file_col])))
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", k->file);
    if (k->add_time && timelapse_time(k, src, stamp) < 0 && !k->bad_time++) /* before the label moves */
        k->ex_bad_time = i;
    row[j++] = src[k->label], src[k->label] = NULL;
    if (k->add_time && !(row[j++] = irb_strdup(stamp)))
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", k->file);
    for (int c = 0; c < k->t->ncol; c++)
        if (kept(k, c))
            row[j++] = src[c], src[c] = NULL;
    return IRB_OK;
}

/* The table as `path`, `label` [, `timestamp`], then the other columns, from k->t (emptied). */
static irb_status rebuild(source *k, irb_table **out, irb_error *err)
{
    int ncol = 2 + k->add_time;
    for (int c = 0; c < k->t->ncol; c++)
        ncol += kept(k, c);
    irb_status s = new_table(k, ncol, out, err);
    for (size_t i = 0; i < k->t->nrow && s == IRB_OK; i++)
        s = move_row(k, i, *out, err);
    if (s != IRB_OK) {
        irb_table_free(*out);
        *out = NULL;
    }
    return s;
}

static int blank(const char *s) { return s[strspn(s, " \t")] == '\0'; }

/* Blank label cells of rows with a path become o->blank_label. */
static irb_status fill_blanks(const source *k, irb_table *t, irb_error *err)
{
    const char *v = k->o->blank_label;
    int cp = irb_table_column(t, "path"), cl = irb_table_column(t, "label");
    if (!v || !v[0] || cp < 0 || cl < 0)
        return IRB_OK;
    for (size_t i = 0; i < t->nrow; i++) {
        char **row = t->cell[i], *d;
        if (!blank(row[cl]) || blank(row[cp]))
            continue;
        if (!(d = irb_strdup(v)))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", k->file);
        irb_free(row[cl]);
        row[cl] = d;
    }
    return IRB_OK;
}

static void say(const source *k, irb_error *err)
{
    if (k->deleted)
        irb_warn_more(err,
                      "%s: %zu row(s) marked DeleteFlag (true, 1, yes, y or x: Timelapse's deleted images) left out, "
                      "e.g. row %zu (%s)",
                      k->file, k->deleted, k->ex_deleted + 1, k->ex_deleted_path);
    if (k->bad_time)
        irb_warn_more(err,
                      "%s: %zu row(s) with a date and time that could not be read (e.g. row %zu); their images' "
                      "EXIF time is used",
                      k->file, k->bad_time, k->ex_bad_time + 1);
}

irb_status irb_labels_table_load(const char *path, const irb_labels_opts *opts, irb_table **out, irb_error *err)
{
    if (!out || !path)
        return irb_fail(err, IRB_INVALID_ARG, "irb_labels_table_load: NULL %s", out ? "path" : "out");
    *out = NULL;
    static const irb_labels_opts defaults = {0};
    source k = {.file = path, .o = opts ? opts : &defaults};
    char dir[4096];
    if (irb_camtrap_package_dir(path, dir, sizeof dir))
        IRB_TRY(irb_camtrap_labels_read(dir, &k.t, err));
    else
        IRB_TRY(irb_table_load(path, &k.t, err));
    irb_status s = find_columns(&k, err);
    if (s == IRB_OK &&
        (k.path < 0 || k.path != irb_table_column(k.t, "path") || k.label != irb_table_column(k.t, "label"))) {
        s = rebuild(&k, out, err);
        irb_table_free(k.t);
    } else if (s == IRB_OK) {
        *out = k.t;
    } else {
        irb_table_free(k.t);
    }
    if (s == IRB_OK)
        s = fill_blanks(&k, *out, err);
    if (s == IRB_OK)
        say(&k, err);
    if (s != IRB_OK) {
        irb_table_free(*out);
        *out = NULL;
    }
    return s;
}

/* Labels from a Camtrap DP package (docs/evaluation.md, "Labels from a Camtrap DP package"):
 * Agouti, Trapper, Wildlife Insights and irbis itself export what people saw in a survey as
 * media.csv (one row per file) and observations.csv (what was seen, on one file or over an
 * event: a deployment's time span). Each media file gets the label of the observations people
 * made of it; the result is a labels table like a CSV's, so train, evaluate and the experiment
 * read a package as they read a labels file (irb_labels_table_load, labels_source.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "eval/eval_internal.h"
#include "irbis/eval.h"
#include "irbis/files.h"
#include "irbis/survey.h"

#define PACKAGE_JSON_MAX (64u << 20)

/* ---- the package's files ---------------------------------------------------------------------- */

int irb_camtrap_package_dir(const char *path, char *dir, size_t size)
{
    struct stat st;
    size_t n = strlen(path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        while (n > 1 && path[n - 1] == '/')
            n--;
        snprintf(dir, size, "%.*s", (int)n, path);
        return 1;
    }
    const char *base = strrchr(path, '/');
    if (strcmp(base ? base + 1 : path, "datapackage.json") != 0)
        return 0;
    if (!base)
        snprintf(dir, size, ".");
    else
        snprintf(dir, size, "%.*s", base == path ? 1 : (int)(base - path), path);
    return 1;
}

/* Where datapackage.json says the resource `name` is (its "path", relative to the package),
 * else DIR/NAME.csv when it lists no such resource. A URL or a multi-file resource is refused. */
static irb_status resource_path(const char *dir, const char *js, size_t n, const char *name, char *out, size_t size,
                                irb_error *err)
{
    const char *end = js + n, *p = irb_json_member(js, end, "resources");
    p = p ? irb_json_ws(p, end) : NULL;
    if (p && p < end && *p == '[') {
        for (p = irb_json_ws(p + 1, end); p && p < end && *p != ']';) {
            const char *nm = irb_json_member(p, end, "name"), *pa = irb_json_member(p, end, "path");
            if (nm && irb_json_string_is(nm, end, name)) {
                pa = pa ? irb_json_ws(pa, end) : NULL;
                int nomem = 0;
                const char *after;
                char *s = pa && pa < end && *pa == '"' ? irb_json_string(pa, end, &after, &nomem) : NULL;
                if (!s)
                    return nomem ? irb_fail(err, IRB_NOMEM, "%s/datapackage.json: out of memory", dir)
                                 : irb_fail(err, IRB_UNSUPPORTED,
                                            "%s/datapackage.json: resource '%s' has no single local path", dir, name);
                irb_status st = IRB_OK;
                if (strstr(s, "://"))
                    st = irb_fail(err, IRB_UNSUPPORTED,
                                  "%s/datapackage.json: resource '%s' is at %s: download it into the package's "
                                  "folder and name it there",
                                  dir, name, s);
                else if (s[0] == '/')
                    snprintf(out, size, "%s", s);
                else
                    snprintf(out, size, "%s/%s", dir, s);
                irb_free(s);
                return st;
            }
            if (!(p = irb_json_skip(p, end)))
                break;
            p = irb_json_ws(p, end);
            if (p < end && *p == ',')
                p = irb_json_ws(p + 1, end);
        }
    }
    snprintf(out, size, "%s/%s.csv", dir, name);
    return IRB_OK;
}

/* The columns a table must have, found by name; IRB_CORRUPT names the file and the column. */
static irb_status columns(const irb_table *t, const char *file, const char *const *names, int *col, int n,
                          irb_error *err)
{
    for (int k = 0; k < n; k++)
        if ((col[k] = irb_table_column(t, names[k])) < 0)
            return irb_fail(err, IRB_CORRUPT, "%s: no column '%s' (a Camtrap DP %s table has it)", file, names[k],
                            strstr(file, "media") ? "media" : "observations");
    return IRB_OK;
}

/* ---- times ------------------------------------------------------------------------------------ */

/* A Camtrap DP datetime ("2020-05-30T04:57:37+02:00", "...Z", "...37.5-0300") as the camera's
 * local time (the text without its zone, for irb_time_parse) and as seconds of UTC (the local time
 * when there is no zone). 0, or -1 when it is no datetime. */
static int package_time(const char *s, char *local, size_t size, double *utc)
{
    size_t n = strlen(s), cut = n;
    long off = 0;
    if (n && (s[n - 1] == 'Z' || s[n - 1] == 'z'))
        cut = n - 1;
    else {
        size_t z = n >= 6 && s[n - 3] == ':' ? n - 6 : n >= 5 ? n - 5 : n;
        int digits = z < n && (s[z] == '+' || s[z] == '-');
        for (size_t i = z + 1; digits && i < n; i++)
            digits = isdigit((unsigned char)s[i]) || (i == n - 3 && s[i] == ':');
        if (digits && z >= 19) {
            long hh = (s[z + 1] - '0') * 10 + (s[z + 2] - '0');
            long mm = (s[n - 2] - '0') * 10 + (s[n - 1] - '0');
            off = (s[z] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
            cut = z;
        }
    }
    if (cut >= size)
        return -1;
    memcpy(local, s, cut);
    local[cut] = '\0';
    irb_time t;
    if (irb_time_parse(local, &t, NULL) != IRB_OK)
        return -1;
    *utc = (double)t.seconds + t.frac - (double)off;
    return 0;
}

/* ---- observations ----------------------------------------------------------------------------- */

enum { M_ID, M_DEP, M_TIME, M_PATH, M_NAME, M_N };
enum { O_DEP, O_MEDIA, O_EVENT, O_START, O_END, O_LEVEL, O_TYPE, O_SCI, O_METHOD, O_N };

/* The label an observation gives: its species for an animal ("animal" without one), "empty" for
 * a blank, "human", "vehicle"; NULL for unknown or unclassified (no label). */
static const char *observed(char **row, const int *oc)
{
    const char *type = row[oc[O_TYPE]];
    if (!strcmp(type, "animal"))
        return row[oc[O_SCI]][0] ? row[oc[O_SCI]] : "animal";
    if (!strcmp(type, "blank"))
        return "empty";
    if (!strcmp(type, "human") || !strcmp(type, "vehicle"))
        return type;
    return NULL;
}

typedef struct media_label {
    const char *label, *other; /* the label; a second, different one (then none is kept) */
    const char *event;         /* the observation's eventID */
    int by_media;              /* from an observation of this file (those win over events') */
} media_label;

static void give(media_label *m, const char *label, const char *event, int by_media)
{
    if (by_media && !m->by_media) /* an observation of the file itself replaces the events' */
        *m = (media_label){.by_media = 1};
    else if (!by_media && m->by_media)
        return;
    if (!m->label) {
        m->label = label;
        m->event = event;
    } else if (strcmp(m->label, label) != 0 && !m->other)
        m->other = label;
}

typedef struct event_obs {
    const char *dep, *label, *event;
    double start, end;
} event_obs;

static int cmp_event(const void *a, const void *b)
{
    const event_obs *x = a, *y = b;
    int c = strcmp(x->dep, y->dep);
    return c ? c : (x->start > y->start) - (x->start < y->start);
}

typedef struct package {
    const char *dir;
    char media_file[4096], obs_file[4096];
    irb_table *media, *obs;
    int mc[M_N], oc[O_N];
    media_label *lab;
    event_obs *ev;
    size_t nev;
    size_t machine, unknown, no_media, bad_time, several, ex_several;
} package;

/* Observations of one file go to that file; observations of an event are kept for spans(). */
static irb_status read_observations(package *k, irb_error *err)
{
    irb_strmap *ids = NULL;
    IRB_TRY(irb_strmap_new(k->media->nrow, &ids, err));
    irb_status s = IRB_OK;
    for (size_t i = 0; i < k->media->nrow && s == IRB_OK; i++) {
        const char *id = k->media->cell[i][k->mc[M_ID]];
        s = irb_strmap_add(ids, id, strlen(id), (int64_t)i, NULL, err);
    }
    if (s == IRB_OK && !(k->ev = irb_calloc(k->obs->nrow + 1, sizeof *k->ev)))
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", k->obs_file);
    for (size_t r = 0; r < k->obs->nrow && s == IRB_OK; r++) {
        char **row = k->obs->cell[r];
        const char *label = observed(row, k->oc), *media = row[k->oc[O_MEDIA]];
        if (!strcmp(row[k->oc[O_METHOD]], "machine")) {
            k->machine++;
            continue;
        }
        if (!label) {
            k->unknown++;
            continue;
        }
        if (media[0] || !strcmp(row[k->oc[O_LEVEL]], "media")) {
            int64_t m;
            if (!irb_strmap_get(ids, media, strlen(media), &m)) {
                k->no_media++;
                continue;
            }
            give(&k->lab[m], label, row[k->oc[O_EVENT]], 1);
            continue;
        }
        char local[64];
        event_obs *e = &k->ev[k->nev];
        if (package_time(row[k->oc[O_START]], local, sizeof local, &e->start) != 0 ||
            package_time(row[k->oc[O_END]], local, sizeof local, &e->end) != 0) {
            k->bad_time++;
            continue;
        }
        e->dep = row[k->oc[O_DEP]];
        e->label = label;
        e->event = row[k->oc[O_EVENT]];
        k->nev++;
    }
    irb_strmap_free(ids);
    return s;
}

/* Each file without an observation of its own gets the labels of its deployment's events whose
 * span [eventStart, eventEnd] holds its time: among the events sorted by start, those from the
 * last that starts by then back to the first that could still last until then. */
static void spans(package *k)
{
    if (!k->nev)
        return;
    qsort(k->ev, k->nev, sizeof *k->ev, cmp_event);
    double longest = 0;
    for (size_t e = 0; e < k->nev; e++)
        longest = k->ev[e].end - k->ev[e].start > longest ? k->ev[e].end - k->ev[e].start : longest;
    for (size_t i = 0; i < k->media->nrow; i++) {
        char **row = k->media->cell[i];
        char local[64];
        double t;
        if (k->lab[i].by_media || package_time(row[k->mc[M_TIME]], local, sizeof local, &t) != 0)
            continue;
        const char *dep = row[k->mc[M_DEP]];
        size_t lo = 0, hi = k->nev; /* past the last event of dep that starts by t */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(k->ev[mid].dep, dep);
            if (c < 0 || (c == 0 && k->ev[mid].start <= t))
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t e = lo; e-- > 0 && !strcmp(k->ev[e].dep, dep) && k->ev[e].start >= t - longest;)
            if (k->ev[e].end >= t)
                give(&k->lab[i], k->ev[e].label, k->ev[e].event, 0);
    }
}

/* ---- the labels table ------------------------------------------------------------------------- */

static const char *const OUT_COLS[] = {"path", "label", "camera", "timestamp", "sequence", "mediaID"};
#define OUT_N 6

static irb_status table_of(package *k, irb_table **out, irb_error *err)
{
    irb_table *t = irb_calloc(1, sizeof *t);
    if (!t || !(t->name = irb_calloc(OUT_N, sizeof *t->name)) ||
        !(t->cell = irb_calloc(k->media->nrow + 1, sizeof *t->cell)))
        return irb_table_free(t), irb_fail(err, IRB_NOMEM, "%s: out of memory", k->media_file);
    t->ncol = OUT_N;
    irb_status s = IRB_OK;
    for (int j = 0; j < OUT_N && s == IRB_OK; j++)
        if (!(t->name[j] = irb_strdup(OUT_COLS[j])))
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", k->media_file);
    for (size_t i = 0; i < k->media->nrow && s == IRB_OK; i++) {
        const media_label *m = &k->lab[i];
        char **row = k->media->cell[i], local[64];
        double utc;
        if (!m->label)
            continue;
        if (m->other) {
            if (!k->several++)
                k->ex_several = i;
            continue;
        }
        const char *path = row[k->mc[M_PATH]];
        if (!path[0] || strstr(path, "://")) /* an address on a server: the file's own name */
            path = row[k->mc[M_NAME]];
        if (!path[0])
            continue;
        if (package_time(row[k->mc[M_TIME]], local, sizeof local, &utc) != 0)
            local[0] = '\0';
        const char *v[OUT_N] = {path, m->label, row[k->mc[M_DEP]], local, m->event ? m->event : "", row[k->mc[M_ID]]};
        char **r = irb_calloc(OUT_N, sizeof *r);
        if (!r) {
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", k->media_file);
            break;
        }
        t->cell[t->nrow++] = r;
        for (int j = 0; j < OUT_N && s == IRB_OK; j++)
            if (!(r[j] = irb_strdup(v[j])))
                s = irb_fail(err, IRB_NOMEM, "%s: out of memory", k->media_file);
    }
    if (s != IRB_OK)
        return irb_table_free(t), s;
    *out = t;
    return IRB_OK;
}

/* What was left out, said in one warning that names the observations' file once. */
static void say(const package *k, irb_error *err)
{
    char text[1024] = "";
    size_t n = 0;
    const size_t count[] = {k->machine, k->unknown, k->no_media, k->bad_time};
    const char *what[] = {"by a machine (classificationMethod machine)", "of an unknown or unclassified type",
                          "naming a mediaID media.csv lacks", "without a readable eventStart/eventEnd"};
    for (int i = 0; i < 4; i++)
        if (count[i] && n < sizeof text)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%zu %s", n ? ", " : "", count[i], what[i]);
    if (n)
        irb_warn_more(err, "%s: observations giving no label: %s", k->obs_file, text);
    if (k->several) {
        const media_label *m = &k->lab[k->ex_several];
        irb_warn_more(err,
                      "%s: %zu file(s) with observations of more than one kind left out, e.g. mediaID %s ('%s', '%s')",
                      k->obs_file, k->several, k->media->cell[k->ex_several][k->mc[M_ID]], m->label, m->other);
    }
}

irb_status irb_camtrap_labels_read(const char *dir, irb_table **out, irb_error *err)
{
    static const char *const MEDIA_NAMES[M_N] = {"mediaID", "deploymentID", "timestamp", "filePath", "fileName"};
    static const char *const OBS_NAMES[O_N] = {"deploymentID",    "mediaID",        "eventID",
                                               "eventStart",      "eventEnd",       "observationLevel",
                                               "observationType", "scientificName", "classificationMethod"};
    package k = {.dir = dir};
    char json[4096 + 32];
    void *js = NULL;
    size_t n = 0;
    snprintf(json, sizeof json, "%s/datapackage.json", dir);
    irb_status s = irb_read_file(json, PACKAGE_JSON_MAX, &js, &n, err);
    if (s == IRB_NOT_FOUND)
        return irb_fail(err, IRB_IO,
                        "%s: a folder, not a CSV file nor a Camtrap DP package (it has no datapackage.json)", dir);
    IRB_TRY(s);
    if (!irb_json_skip(js, (const char *)js + n))
        s = irb_fail(err, IRB_CORRUPT, "%s: not JSON", json);
    if (s == IRB_OK)
        s = resource_path(dir, js, n, "media", k.media_file, sizeof k.media_file, err);
    if (s == IRB_OK)
        s = resource_path(dir, js, n, "observations", k.obs_file, sizeof k.obs_file, err);
    irb_free(js);
    if (s == IRB_OK)
        s = irb_table_load(k.media_file, &k.media, err);
    if (s == IRB_OK)
        s = irb_table_load(k.obs_file, &k.obs, err);
    if (s == IRB_OK)
        s = columns(k.media, k.media_file, MEDIA_NAMES, k.mc, M_N, err);
    if (s == IRB_OK)
        s = columns(k.obs, k.obs_file, OBS_NAMES, k.oc, O_N, err);
    if (s == IRB_OK && !(k.lab = irb_calloc(k.media->nrow + 1, sizeof *k.lab)))
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", k.media_file);
    if (s == IRB_OK)
        s = read_observations(&k, err);
    if (s == IRB_OK) {
        spans(&k);
        s = table_of(&k, out, err);
    }
    if (s == IRB_OK && !(*out)->nrow) {
        s = irb_fail(err, IRB_NOT_FOUND,
                     "%s: no media file has a label from people's observations (%zu media, %zu observations: %zu by "
                     "a machine, %zu unknown or unclassified)",
                     dir, k.media->nrow, k.obs->nrow, k.machine, k.unknown);
        irb_table_free(*out);
        *out = NULL;
    }
    if (s == IRB_OK)
        say(&k, err);
    irb_free(k.lab);
    irb_free(k.ev);
    irb_table_free(k.media);
    irb_table_free(k.obs);
    return s;
}

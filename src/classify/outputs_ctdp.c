/* OUT/camtrap-dp/: the run's results as a TDWG Camtrap DP 1.0.2 package (datapackage.json,
 * deployments.csv, media.csv, observations.csv), every table with all its schema's columns in
 * the schema's order (frictionless-py and the R camtrapdp package read columns by position).
 * Format and the meaning of every field: docs/classify.md. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/text.h"
#include "irbis/survey.h"
#include "classify/classify_internal.h"

#define CTDP        "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/"
#define ROOT_ID     "." /* deploymentID of images at the survey root: no folder can be named "." */
#define NAMES_SHOWN 10

/* ---- table columns (the 1.0.2 table schemas, in order) ---------------------------------- */

static const char *const DEP_COLS[] = {"deploymentID",     "locationID",        "locationName",
                                       "latitude",         "longitude",         "coordinateUncertainty",
                                       "deploymentStart",  "deploymentEnd",     "setupBy",
                                       "cameraID",         "cameraModel",       "cameraDelay",
                                       "cameraHeight",     "cameraDepth",       "cameraTilt",
                                       "cameraHeading",    "detectionDistance", "timestampIssues",
                                       "baitUse",          "featureType",       "habitat",
                                       "deploymentGroups", "deploymentTags",    "deploymentComments"};
enum {
    D_ID,
    D_LOCID,
    D_LOCNAME,
    D_LAT,
    D_LON,
    D_START = 6,
    D_END,
    D_CAMERA = 9,
    D_TSISSUES = 17,
    D_COMMENTS = 23,
    D_N
};

static const char *const MEDIA_COLS[] = {"mediaID",  "deploymentID", "captureMethod", "timestamp",
                                         "filePath", "filePublic",   "fileName",      "fileMediatype",
                                         "exifData", "favorite",     "mediaComments"};
enum { M_ID, M_DEP, M_CAPTURE, M_TIME, M_PATH, M_PUBLIC, M_NAME, M_TYPE, M_COMMENTS = 10, M_N };

static const char *const OBS_COLS[] = {"observationID",
                                       "deploymentID",
                                       "mediaID",
                                       "eventID",
                                       "eventStart",
                                       "eventEnd",
                                       "observationLevel",
                                       "observationType",
                                       "cameraSetupType",
                                       "scientificName",
                                       "count",
                                       "lifeStage",
                                       "sex",
                                       "behavior",
                                       "individualID",
                                       "individualPositionRadius",
                                       "individualPositionAngle",
                                       "individualSpeed",
                                       "bboxX",
                                       "bboxY",
                                       "bboxWidth",
                                       "bboxHeight",
                                       "classificationMethod",
                                       "classifiedBy",
                                       "classificationTimestamp",
                                       "classificationProbability",
                                       "observationTags",
                                       "observationComments"};
enum {
    O_ID,
    O_DEP,
    O_EVENT = 3,
    O_START,
    O_END,
    O_LEVEL,
    O_TYPE,
    O_SCI = 9,
    O_METHOD = 22,
    O_BY,
    O_WHEN,
    O_PROB,
    O_COMMENTS = 27,
    O_N
};

_Static_assert(sizeof DEP_COLS / sizeof *DEP_COLS == D_N, "deployments columns");
_Static_assert(sizeof MEDIA_COLS / sizeof *MEDIA_COLS == M_N, "media columns");
_Static_assert(sizeof OBS_COLS / sizeof *OBS_COLS == O_N, "observations columns");

static void put_header(FILE *f, const char *const *cols, int n)
{
    for (int i = 0; i < n; i++)
        fputs(i ? "," : "", f), fputs(cols[i], f);
    fputc('\n', f);
}

/* One row: vals[i] (NULL = empty) under column i. */
static void put_row(FILE *f, const char *const *vals, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        if (vals[i])
            irb_csv_put_utf8(f, vals[i]);
    }
    fputc('\n', f);
}

/* ---- options: the zone and the deployments file ----------------------------------------- */

static int is_utc_offset(const char *s)
{
    if (!strcmp(s, "Z"))
        return 1;
    int h, m;
    char sign, tail;
    return strlen(s) == 6 && sscanf(s, "%c%2d:%2d%c", &sign, &h, &m, &tail) == 3 && (sign == '+' || sign == '-') &&
           s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && s[4] >= '0' && s[4] <= '9' && s[5] >= '0' &&
           s[5] <= '9' && m <= 59 && h * 60 + m <= (sign == '+' ? 14 * 60 : 12 * 60); /* the world's: -12:00..+14:00 */
}

/* A camera's row of the deployments file; start/end are local "YYYY-MM-DDTHH:MM:SS" or "". */
typedef struct dep_row {
    char *camera, *lat, *lon, *name, *start, *end;
    int used;
} dep_row;

typedef struct dep_file {
    dep_row *rows;
    int n;
} dep_file;

static void dep_file_free(dep_file *d)
{
    for (int i = 0; i < d->n; i++) {
        dep_row *r = &d->rows[i];
        irb_free(r->camera), irb_free(r->lat), irb_free(r->lon), irb_free(r->name), irb_free(r->start);
        irb_free(r->end);
    }
    irb_free(d->rows);
    memset(d, 0, sizeof *d);
}

/* A decimal coordinate ([+-]digits[.digits]) in [-lim, lim], copied without a '+' into *out;
 * strtod alone would take "nan", "inf" and "0x1A". */
static irb_status coord(const char *path, long line, const char *col, const char *v, double lim, char **out,
                        irb_error *err)
{
    const char *p = v + (*v == '+' || *v == '-');
    size_t d = strspn(p, "0123456789");
    size_t f = p[d] == '.' ? strspn(p + d + 1, "0123456789") : 0;
    int ok = d > 0 && (!p[d] || (p[d] == '.' && f > 0 && !p[d + 1 + f]));
    double x = ok ? strtod(v, NULL) : NAN;
    if (!ok || !isfinite(x) || x < -lim || x > lim)
        return irb_fail(err, IRB_INVALID_ARG, "%s:%ld: %s '%s' is not a decimal number in [-%g, %g]", path, line, col,
                        v, lim, lim);
    if (!(*out = irb_strdup(v + (*v == '+'))))
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    return IRB_OK;
}

/* A deployment start/end: "" (from the images), a local time, or a date (the whole day). */
static irb_status period(const char *path, long line, const char *col, const char *v, int end, char **out,
                         irb_error *err)
{
    char buf[40] = "";
    irb_time t;
    if (*v && strlen(v) == 10) {
        snprintf(buf, sizeof buf, "%sT%s", v, end ? "23:59:59" : "00:00:00");
        v = buf;
    }
    if (*v && irb_time_parse(v, &t, NULL) != IRB_OK)
        return irb_fail(err, IRB_INVALID_ARG,
                        "%s:%ld: %s '%s' is not a local date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS; "
                        "the zone is --utc-offset)",
                        path, line, col, v);
    t.frac = 0;
    if (*v)
        irb_time_format(t, buf, sizeof buf);
    if (!(*out = irb_strdup(*v ? buf : "")))
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    return IRB_OK;
}

static const char *camera_key(const char *camera) { return !camera[0] ? ROOT_ID : camera; }

static int dep_find(const dep_file *d, const char *camera)
{
    for (int i = 0; i < d->n; i++)
        if (!strcmp(camera_key(d->rows[i].camera), camera_key(camera)))
            return i;
    return -1;
}

static int col_of(const irb_csv_reader *r, const char *a, const char *b)
{
    int c = irb_csv_column(r, a);
    return c >= 0 ? c : irb_csv_column(r, b);
}

static irb_status dep_row_read(const char *path, irb_csv_reader *r, const int *c, dep_file *d, irb_error *err)
{
    long line = r->line;
    dep_row *x = &d->rows[d->n];
    memset(x, 0, sizeof *x);
    d->n++;
    IRB_TRY(coord(path, line, "latitude", irb_csv_field(r, c[1]), 90, &x->lat, err));
    IRB_TRY(coord(path, line, "longitude", irb_csv_field(r, c[2]), 180, &x->lon, err));
    IRB_TRY(period(path, line, "deploymentStart", c[4] >= 0 ? irb_csv_field(r, c[4]) : "", 0, &x->start, err));
    IRB_TRY(period(path, line, "deploymentEnd", c[5] >= 0 ? irb_csv_field(r, c[5]) : "", 1, &x->end, err));
    x->camera = irb_strdup(irb_csv_field(r, c[0]));
    x->name = irb_strdup(c[3] >= 0 ? irb_csv_field(r, c[3]) : "");
    if (!x->camera || !x->name)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    if (x->start[0] && x->end[0] && strcmp(x->start, x->end) > 0)
        return irb_fail(err, IRB_INVALID_ARG, "%s:%ld: deploymentStart %s is after deploymentEnd %s", path, line,
                        x->start, x->end);
    if (dep_find(d, x->camera) != d->n - 1)
        return irb_fail(err, IRB_INVALID_ARG, "%s:%ld: camera '%s' is listed twice", path, line, x->camera);
    return IRB_OK;
}

/* Reads the --deployments CSV: camera,latitude,longitude[,locationName][,deploymentStart,
 * deploymentEnd] (start/end also as start,end). */
static irb_status dep_file_load(const char *path, dep_file *d, irb_error *err)
{
    memset(d, 0, sizeof *d);
    if (!path)
        return IRB_OK;
    FILE *f;
    IRB_TRY(irb_open_read(path, "CSV file", &f, NULL, err));
    irb_csv_reader r;
    irb_csv_init(&r, f, path);
    irb_status s = irb_csv_read_header(&r, err);
    int c[6] = {irb_csv_column(&r, "camera"),           irb_csv_column(&r, "latitude"),
                irb_csv_column(&r, "longitude"),        irb_csv_column(&r, "locationName"),
                col_of(&r, "deploymentStart", "start"), col_of(&r, "deploymentEnd", "end")};
    if (s == IRB_OK && (c[0] < 0 || c[1] < 0 || c[2] < 0))
        s = irb_fail(err, IRB_INVALID_ARG, "%s: expected the columns camera,latitude,longitude", path);
    int cap = 0;
    while (s == IRB_OK && (s = irb_csv_next(&r, err)) == IRB_OK) {
        if (d->n == cap) {
            dep_row *a = irb_realloc_array(d->rows, (size_t)(cap = cap ? cap * 2 : 16), sizeof *a);
            if (!a) {
                s = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
                break;
            }
            d->rows = a;
        }
        s = dep_row_read(path, &r, c, d, err);
    }
    if (s == IRB_NOT_FOUND)
        s = IRB_OK;
    irb_csv_release(&r);
    fclose(f);
    if (s != IRB_OK)
        dep_file_free(d);
    return s;
}

irb_status irb_camtrapdp_check(const char *deployments, const char *utc_offset, irb_error *err)
{
    if (utc_offset && !is_utc_offset(utc_offset))
        return irb_fail(err, IRB_INVALID_ARG,
                        "--utc-offset '%s' is not a UTC offset: give Z or +HH:MM / -HH:MM from -12:00 to +14:00 (e.g. "
                        "+05:00)",
                        utc_offset);
    dep_file d;
    IRB_TRY(dep_file_load(deployments, &d, err));
    dep_file_free(&d);
    return IRB_OK;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* Local camera time (store text) + offset: Camtrap DP wants a zone designator; fractions are
 * dropped. */
static void ctdp_time(const char *ts, const char *off, char *buf, size_t size)
{
    snprintf(buf, size, "%.19s%s", ts ? ts : "", off);
    if (strlen(buf) >= 11 && buf[10] == ' ')
        buf[10] = 'T';
}

static const char *media_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && !strcasecmp(dot, ".png") ? "image/png" : "image/jpeg";
}

static irb_status open_in(const char *dir, const char *name, irb_atomic_file *af, irb_error *err)
{
    char *p = irb_path_join(dir, name);
    if (!p)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", dir);
    irb_status s = irb_atomic_open(af, p, err);
    irb_free(p);
    return s;
}

void irb_utc_now(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What the package's metadata needs from the tables, and what makes it incomplete. */
typedef struct ctdp_state {
    const irb_outputs_opts *o;
    const char *dir;
    dep_file file;
    char now[32];             /* created, classificationTimestamp */
    char first[40], last[40]; /* earliest start, latest end of the deployments */
    double lat0, lat1, lon0, lon1;
    int n_deployments, n_coords, n_missing, n_badpath;
    long long n_outside;            /* timed images outside their camera's period from the deployments file */
    long long n_notutf8;            /* media paths that are not UTF-8 (written with U+FFFD) */
    char notutf8[160];              /* the first */
    char outside[3][200];           /* the first: "path (time)" */
    char missing[NAMES_SHOWN][128]; /* the first cameras lacking coordinates */
    char badpath[3][160];           /* the first media paths outside the filePath pattern */
} ctdp_state;

/* One table: its schema's columns and the function writing its rows. */
typedef struct ctdp_table {
    const char *file;
    const char *const *cols;
    int n_cols;
    irb_status (*rows)(irb_store *st, FILE *f, ctdp_state *c, irb_error *err);
} ctdp_table;

static irb_status write_table(irb_store *st, ctdp_state *c, const ctdp_table *t, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(open_in(c->dir, t->file, &af, err));
    put_header(af.f, t->cols, t->n_cols);
    irb_status s = t->rows(st, af.f, c, err);
    if (s != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    return irb_atomic_close(&af, err);
}

/* ---- deployments.csv ---------------------------------------------------------------------- */

static void put_deployment(FILE *f, ctdp_state *c, const char *camera, const char *t0, const char *t1,
                           const char *comment)
{
    const char *id = camera_key(camera);
    int k = dep_find(&c->file, camera);
    const dep_row *r = k >= 0 ? &c->file.rows[k] : NULL;
    if (r)
        c->file.rows[k].used = 1;
    char start[48], end[48];
    ctdp_time(r && r->start[0] ? r->start : t0, c->o->utc_offset, start, sizeof start);
    ctdp_time(r && r->end[0] ? r->end : t1, c->o->utc_offset, end, sizeof end);
    const char *v[D_N] = {[D_ID] = id,
                          [D_LOCID] = id,
                          [D_LOCNAME] = r && r->name[0] ? r->name : id,
                          [D_LAT] = r ? r->lat : NULL,
                          [D_LON] = r ? r->lon : NULL,
                          [D_START] = start,
                          [D_END] = end,
                          [D_CAMERA] = id,
                          [D_TSISSUES] = "false",
                          [D_COMMENTS] = comment};
    put_row(f, v, D_N);
    if (!c->first[0] || strcmp(start, c->first) < 0)
        snprintf(c->first, sizeof c->first, "%.*s", (int)sizeof c->first - 1, start);
    if (!c->last[0] || strcmp(end, c->last) > 0)
        snprintf(c->last, sizeof c->last, "%.*s", (int)sizeof c->last - 1, end);
    c->n_deployments++;
    if (!r) {
        if (c->n_missing < NAMES_SHOWN)
            snprintf(c->missing[c->n_missing], sizeof c->missing[0], "%s", id);
        c->n_missing++;
        return;
    }
    double la = atof(r->lat), lo = atof(r->lon);
    if (!c->n_coords++)
        c->lat0 = c->lat1 = la, c->lon0 = c->lon1 = lo;
    c->lat0 = fmin(c->lat0, la), c->lat1 = fmax(c->lat1, la), c->lon0 = fmin(c->lon0, lo), c->lon1 = fmax(c->lon1, lo);
}

/* A camera's deployment: from its classified timed images (period from the deployments file
 * when it gives one, else the first and last image). */
static void deployment_row(FILE *f, ctdp_state *c, const irb_camera_row *r)
{
    int k = dep_find(&c->file, r->camera);
    int full = k >= 0 && c->file.rows[k].start[0] && c->file.rows[k].end[0];
    if (!r->timed && !full)
        return; /* no time to give the deployment a period: its images are untimed */
    char t0[40] = "", t1[40] = "", comment[160];
    irb_time a = {r->tmin, 0}, z = {r->tmax, 0};
    if (r->timed)
        irb_time_format(a, t0, sizeof t0), irb_time_format(z, t1, sizeof t1);
    snprintf(comment, sizeof comment, "%s; %lld timed classified images",
             full ? "period from the deployments file" : "period: first and last classified image", r->timed);
    put_deployment(f, c, r->camera, t0, t1, comment);
}

/* Deployments: one per camera with classified timed images, then the file's cameras that give
 * a full period even without images. */
static irb_status deployment_rows(irb_store *st, FILE *f, ctdp_state *c, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_cameras_begin(st, &it, err));
    irb_camera_row r;
    while (irb_store_cameras_next(it, &r))
        if (r.classified)
            deployment_row(f, c, &r);
    IRB_TRY(irb_store_iter_end(it, err));
    for (int k = 0; k < c->file.n; k++)
        if (!c->file.rows[k].used && c->file.rows[k].start[0] && c->file.rows[k].end[0])
            put_deployment(f, c, c->file.rows[k].camera, "", "", "period from the deployments file; no images");
    return IRB_OK;
}

/* ---- media.csv ---------------------------------------------------------------------------- */

/* 1 if path fits media.filePath's pattern in the 1.0.2 schema, ^(?=^[^./~])(^((?!\.{2}).)*$).*$:
 * no leading '.', '/' or '~', no "..", and no line terminator (ECMAScript's '.' matches none:
 * \n, \r, U+2028, U+2029). Legal file names break it; the run then says so. */
static int file_path_ok(const char *path)
{
    if (!path[0] || strchr("./~", path[0]) || strstr(path, "..") || strpbrk(path, "\n\r"))
        return 0;
    return !strstr(path, "\xe2\x80\xa8") && !strstr(path, "\xe2\x80\xa9");
}

static void media_row(FILE *f, ctdp_state *c, const irb_img_row *r)
{
    int k = dep_find(&c->file, r->camera);
    const dep_row *d = k >= 0 ? &c->file.rows[k] : NULL; /* periods: local "YYYY-MM-DDTHH:MM:SS", as times */
    if (d && d->start[0] && d->end[0] &&
        (strncmp(r->timestamp, d->start, 19) < 0 || strncmp(r->timestamp, d->end, 19) > 0) && c->n_outside++ < 3)
        snprintf(c->outside[c->n_outside - 1], sizeof c->outside[0], "%.150s at %.30s", r->path, r->timestamp);
    if (!irb_utf8_valid(r->path) && !c->n_notutf8++)
        snprintf(c->notutf8, sizeof c->notutf8, "%s", r->path);
    if (!file_path_ok(r->path) && c->n_badpath++ < 3)
        snprintf(c->badpath[c->n_badpath - 1], sizeof c->badpath[0], "%s", r->path);
    char t[48], id[32], comment[600];
    const char *base = strrchr(r->path, '/');
    ctdp_time(r->timestamp, c->o->utc_offset, t, sizeof t);
    snprintf(id, sizeof id, "m%lld", (long long)r->id);
    snprintf(comment, sizeof comment, "eventID %s", r->seq_name ? r->seq_name : "");
    const char *v[M_N] = {[M_ID] = id,
                          [M_DEP] = camera_key(r->camera),
                          [M_TIME] = t,
                          [M_PATH] = r->path,
                          [M_PUBLIC] = "false",
                          [M_NAME] = base ? base + 1 : r->path,
                          [M_TYPE] = media_type(r->path),
                          [M_COMMENTS] = r->seq_name ? comment : NULL};
    put_row(f, v, M_N);
}

/* ---- observations.csv --------------------------------------------------------------------- */

/* One event-level observation per sequence of timed images. */
static void observation_row(FILE *f, ctdp_state *c, const irb_seq_row *q)
{
    const irb_outputs_opts *o = c->o;
    const double *p = q->probs;
    int label = q->label, top = 0;
    const char *cls = irb_label_name(o, label);
    if (!p || !cls)
        return;
    for (int k = 1; k < o->n_classes; k++)
        top = p[k] > p[top] ? k : top;
    int uncertain = label == IRB_LABEL_UNCERTAIN; /* "unknown", with its top class's probability */
    const char *type = uncertain ? "unknown" : irb_obs_type(cls);
    char id[32], t0[48], t1[48], prob[32], taxon[256], comment[600];
    irb_taxon(o->taxa, cls, taxon, sizeof taxon);
    ctdp_time(q->start, o->utc_offset, t0, sizeof t0);
    ctdp_time(q->end, o->utc_offset, t1, sizeof t1);
    snprintf(id, sizeof id, "obs%lld", (long long)q->id);
    snprintf(prob, sizeof prob, "%.4f", p[uncertain ? top : label]);
    double nov = q->novelty;
    const char *human = q->human; /* the sequence's human label */
    int by_human = human && !strcmp(human, cls);
    if (by_human)
        snprintf(comment, sizeof comment, "class %s (human review; the machine's top class %s, p %.4f); %lld images",
                 cls, o->classes[top], p[top], q->n);
    else if (uncertain && o->novelty_threshold > 0 && nov > o->novelty_threshold)
        snprintf(comment, sizeof comment,
                 "novel: unlike the training images (novelty %.4f above %g); top class %s; "
                 "%lld images",
                 nov, o->novelty_threshold, o->classes[top], q->n);
    else if (uncertain)
        snprintf(comment, sizeof comment, "uncertain: top class %s below %g; %lld images", o->classes[top],
                 o->min_confidence, q->n);
    else
        snprintf(comment, sizeof comment, "class %s; %lld images", cls, q->n);
    const char *v[O_N] = {[O_ID] = id,
                          [O_DEP] = camera_key(q->camera),
                          [O_EVENT] = q->name,
                          [O_START] = t0,
                          [O_END] = t1,
                          [O_LEVEL] = "event",
                          [O_TYPE] = type,
                          [O_SCI] = !strcmp(type, "animal") && taxon[0] ? taxon : NULL,
                          [O_METHOD] = by_human ? "human" : "machine",
                          [O_BY] = by_human ? "irbis review (person)" : o->classified_by,
                          [O_WHEN] = by_human ? q->review_time : c->now,
                          [O_PROB] = by_human ? NULL : prob,
                          [O_COMMENTS] = comment};
    put_row(f, v, O_N);
}

/* Media (the classified images that have a time) or observations (the sequences of timed images). */
static irb_status event_rows(irb_store *st, FILE *f, ctdp_state *c, int observations, irb_error *err)
{
    irb_store_iter *it;
    int nc = c->o->n_classes;
    IRB_TRY(observations ? irb_store_seqs_begin(st, IRB_SEQS_EVENTS, nc, &it, err)
                         : irb_store_images_begin(st, IRB_IMAGES_TIMED, nc, &it, err));
    irb_img_row image;
    irb_seq_row seq;
    if (observations)
        while (irb_store_seqs_next(it, &seq))
            observation_row(f, c, &seq);
    else
        while (irb_store_images_next(it, &image))
            media_row(f, c, &image);
    return irb_store_iter_end(it, err);
}

static irb_status media_rows(irb_store *st, FILE *f, ctdp_state *c, irb_error *err)
{
    return event_rows(st, f, c, 0, err);
}

static irb_status observation_rows(irb_store *st, FILE *f, ctdp_state *c, irb_error *err)
{
    return event_rows(st, f, c, 1, err);
}

static const ctdp_table TABLES[] = {
    {"deployments.csv", DEP_COLS, D_N, deployment_rows},
    {"media.csv", MEDIA_COLS, M_N, media_rows},
    {"observations.csv", OBS_COLS, O_N, observation_rows},
};

#define PACKAGE "datapackage.json"

int irb_ctdp_owns(const char *name)
{
    size_t n = strlen(name), t = strlen(".tmp");
    size_t base = n > t && !strcmp(name + n - t, ".tmp") ? n - t : n; /* a temporary of the file */
    if (base == strlen(PACKAGE) && !strncmp(name, PACKAGE, base))
        return 1;
    for (size_t i = 0; i < sizeof TABLES / sizeof *TABLES; i++)
        if (base == strlen(TABLES[i].file) && !strncmp(name, TABLES[i].file, base))
            return 1;
    return 0;
}

/* ---- datapackage.json --------------------------------------------------------------------- */

/* package.taxonomic: the mapped scientific names of the animal classes ([] when none). */
static void write_taxonomic(FILE *f, const irb_outputs_opts *o)
{
    char taxon[256], other[256];
    int first = 1;
    fputs("  \"taxonomic\": [", f);
    for (int k = 0; k < o->n_classes; k++) {
        if (strcmp(irb_obs_type(o->classes[k]), "animal") || !irb_taxon(o->taxa, o->classes[k], taxon, sizeof taxon)[0])
            continue;
        int dup = 0;
        for (int j = 0; j < k; j++)
            dup |= !strcmp(irb_taxon(o->taxa, o->classes[j], other, sizeof other), taxon);
        if (dup)
            continue;
        fputs(first ? "\n    {\"scientificName\": " : ",\n    {\"scientificName\": ", f);
        irb_json_put(f, taxon);
        fputs(", \"vernacularNames\": {\"eng\": ", f);
        irb_json_put(f, o->classes[k]);
        fputs("}}", f);
        first = 0;
    }
    fputs(first ? "],\n" : "\n  ],\n", f);
}

static void write_coverage(FILE *f, const ctdp_state *c)
{
    if (c->n_coords)
        fprintf(f,
                "  \"spatial\": {\"type\": \"Polygon\", \"bbox\": [%.6f, %.6f, %.6f, %.6f], \"coordinates\": "
                "[[[%.6f, %.6f], [%.6f, %.6f], [%.6f, %.6f], [%.6f, %.6f], [%.6f, %.6f]]]},\n",
                c->lon0, c->lat0, c->lon1, c->lat1, c->lon0, c->lat0, c->lon1, c->lat0, c->lon1, c->lat1, c->lon0,
                c->lat1, c->lon0, c->lat0);
    if (c->n_deployments)
        fprintf(f, "  \"temporal\": {\"start\": \"%.10s\", \"end\": \"%.10s\"},\n", c->first, c->last);
}

static void write_irbis(FILE *f, const irb_outputs_opts *o)
{
    fprintf(f, "  \"irbis\": {\"sequenceGap\": %g, \"sequenceGapUnit\": \"s\", \"utcOffset\": ", o->gap);
    irb_json_put(f, o->utc_offset);
    fputs(", \"classifiedBy\": ", f);
    irb_json_put(f, o->classified_by);
    fputs(", \"classes\": [", f);
    for (int k = 0; k < o->n_classes; k++)
        fputs(k ? ", " : "", f), irb_json_put(f, o->classes[k]);
    fputs("], \"positive\": ", f);
    if (o->pos >= 0)
        irb_json_put(f, o->classes[o->pos]), fprintf(f, ", \"threshold\": %g", o->threshold);
    else
        fputs("null", f);
    if (o->min_confidence > 0)
        fprintf(f, ", \"uncertainBelow\": %g", o->min_confidence);
    if (o->novelty_threshold > 0)
        fprintf(f, ", \"novelAbove\": %g", o->novelty_threshold);
    fputs("},\n", f);
}

static irb_status write_package(const ctdp_state *c, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(open_in(c->dir, PACKAGE, &af, err));
    FILE *f = af.f;
    fprintf(f, "{\n  \"profile\": \"" CTDP "camtrap-dp-profile.json\",\n  \"name\": \"irbis-classify\",\n");
    fprintf(f, "  \"created\": \"%s\",\n  \"title\": \"Machine classification of a camera-trap survey\",\n", c->now);
    fprintf(f,
            "  \"description\": \"Labels by irbis (transfer learning: ImageNet CNN features + logistic regression),"
            " averaged over sequences. A sequence (event) is a run of images from one camera with no gap longer"
            " than %g s between consecutive images.\",\n",
            c->o->gap);
    fputs("  \"contributors\": [{\"title\": \"irbis\", \"role\": \"contributor\"}],\n", f);
    fputs("  \"project\": {\"title\": \"Camera-trap survey\", \"samplingDesign\": \"opportunistic\","
          " \"captureMethod\": [\"activityDetection\"], \"individualAnimals\": false,"
          " \"observationLevel\": [\"event\"]},\n",
          f);
    write_coverage(f, c);
    write_taxonomic(f, c->o);
    write_irbis(f, c->o);
    fputs("  \"resources\": [", f);
    static const char *const names[] = {"deployments", "media", "observations"};
    for (int i = 0; i < 3; i++)
        fprintf(f,
                "%s\n    {\"name\": \"%s\", \"path\": \"%s.csv\", \"profile\": \"tabular-data-resource\","
                " \"format\": \"csv\", \"mediatype\": \"text/csv\", \"encoding\": \"utf-8\","
                " \"schema\": \"" CTDP "%s-table-schema.json\"}",
                i ? "," : "", names[i], names[i], names[i]);
    fputs("\n  ]\n}\n", f);
    return irb_atomic_close(&af, err);
}

/* "a, b, c" from the first `shown` of n names (rows of `stride` bytes from names), each inside
 * quote, with ", ..." when n is larger. */
static void join_shown(char *buf, size_t size, const char *names, size_t stride, int n, int shown, const char *quote)
{
    buf[0] = '\0';
    for (int i = 0; i < n && i < shown; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, "%s%s%s%s", i ? ", " : "", quote, names + (size_t)i * stride, quote);
    }
    if (n > shown) {
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, ", ...");
    }
}

/* The warning of a package the schemas would refuse: what is missing and how to complete it. */
static void warn_invalid(const ctdp_state *c, irb_error *err)
{
    if (!c->n_missing && !c->n_badpath && c->n_deployments)
        return;
    if (!c->n_deployments) {
        irb_warn(err,
                 "%s is not a valid Camtrap DP package: no classified image has a time, so there are no "
                 "deployments, media or observations (give the deployment periods in a deployments file)",
                 c->dir);
        return;
    }
    char names[NAMES_SHOWN * 130 + 8], coords[NAMES_SHOWN * 130 + 700] = "", paths[3 * 170 + 8], bad[800] = "";
    char unused[3][128], unused_list[3 * 140 + 8], unmatched[600] = "";
    int n_unused = 0; /* rows of the deployments file that no camera matched (typos?) and give no period */
    for (int k = 0; k < c->file.n; k++) {
        const dep_row *d = &c->file.rows[k];
        if (!d->used && !(d->start[0] && d->end[0]) && n_unused++ < 3)
            snprintf(unused[n_unused - 1], sizeof unused[0], "%s", d->camera);
    }
    join_shown(unused_list, sizeof unused_list, unused[0], sizeof unused[0], n_unused, 3, "'");
    if (n_unused)
        snprintf(unmatched, sizeof unmatched, "; the deployments file's camera(s) %s match no camera of the survey",
                 unused_list);
    join_shown(names, sizeof names, c->missing[0], sizeof c->missing[0], c->n_missing, NAMES_SHOWN, "");
    join_shown(paths, sizeof paths, c->badpath[0], sizeof c->badpath[0], c->n_badpath, 3, "'");
    if (c->n_missing)
        irb_message_format(coords, sizeof coords,
                           "%d camera(s) have no coordinates: %s (give camera,latitude,longitude in a deployments "
                           "file; `irbis export OUT --deployments FILE` completes the package without classifying "
                           "again)%s",
                           c->n_missing, names, unmatched);
    if (c->n_badpath)
        snprintf(bad, sizeof bad,
                 "%d media path(s) break the schema's filePath pattern (no leading '.', '/' or '~', no '..', no "
                 "line break): %s (rename those files or folders in the survey)",
                 c->n_badpath, paths);
    irb_warn(err, "%s is not a valid Camtrap DP package%s: %s%s%s", c->dir, c->n_badpath ? "" : " yet", coords,
             c->n_missing && c->n_badpath ? "; " : "", bad);
}

/* warn_invalid's warning, then what the checker only warns of (images outside their periods). */
static void warn_incomplete(const ctdp_state *c, irb_error *err)
{
    warn_invalid(c, err);
    if (c->n_outside) { /* the checker warns; the package stays valid */
        char list[3 * 210 + 8];
        join_shown(list, sizeof list, c->outside[0], sizeof c->outside[0], c->n_outside > 3 ? 4 : (int)c->n_outside, 3,
                   "");
        irb_warn_more(err,
                      "%s: %lld image(s) lie outside their camera's deployment period from the deployments file: %s "
                      "(is the period or the camera's clock wrong?)",
                      c->dir, c->n_outside, list);
    }
    if (c->n_notutf8) /* the package is UTF-8: such a path is written with U+FFFD and names no file */
        irb_warn_more(err,
                      "%s: %lld media path(s) are not UTF-8, e.g. '%s': written with U+FFFD for those bytes, so their "
                      "filePath names no file (rename them in UTF-8, e.g. convmv -f latin1 -t utf8 -r --notest "
                      "SURVEY, then classify again)",
                      c->dir, c->n_notutf8, c->notutf8);
}

irb_status irb_write_camtrapdp(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    IRB_TRY(irb_camtrapdp_check(NULL, o->utc_offset, err));
    ctdp_state c = {.o = o};
    IRB_TRY(dep_file_load(o->deployments, &c.file, err));
    char *dir = irb_out_path(st, IRB_OUT_CTDP, err);
    irb_status s = dir ? irb_mkdirs(dir, err) : IRB_NOMEM;
    c.dir = dir;
    irb_utc_now(c.now, sizeof c.now);
    for (size_t i = 0; i < sizeof TABLES / sizeof *TABLES && s == IRB_OK; i++)
        s = write_table(st, &c, &TABLES[i], err);
    if (s == IRB_OK)
        s = write_package(&c, err);
    if (s == IRB_OK)
        warn_incomplete(&c, err);
    irb_free(dir);
    dep_file_free(&c.file);
    return s;
}

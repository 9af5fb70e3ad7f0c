/* Output writers of `irbis classify` that read the results store: predictions.csv, the Camtrap DP
 * package and the sorted folders. Every file is written under a temporary name and renamed into
 * place, so a killed run never leaves a half-written output under its final name. The HTML
 * report is in outputs_report.c. Formats: docs/classify.md. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
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
#include "survey/classify_internal.h"

/* ---- files ------------------------------------------------------------------------------ */

irb_status irb_atomic_open(irb_atomic_file *af, const char *path, irb_error *err)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = irb_strdup(path);
    af->tmp = irb_malloc(n + 5);
    if (!af->path || !af->tmp) {
        irb_atomic_abort(af);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, ".tmp", 5);
    if (!(af->f = fopen(af->tmp, "w"))) {
        irb_status s = irb_fail(err, IRB_IO, "%s: cannot create: %s", af->tmp, strerror(errno));
        irb_atomic_abort(af);
        return s;
    }
    return IRB_OK;
}

irb_status irb_atomic_close(irb_atomic_file *af, irb_error *err)
{
    FILE *f = af->f;
    af->f = NULL;
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    bad |= fclose(f) != 0;
    if (bad || rename(af->tmp, af->path) != 0) {
        irb_status s = irb_fail(err, IRB_IO, "%s: cannot write: %s", af->path, strerror(bad ? e : errno));
        irb_atomic_abort(af);
        return s;
    }
    irb_free(af->path);
    irb_free(af->tmp);
    memset(af, 0, sizeof *af);
    return IRB_OK;
}

void irb_atomic_abort(irb_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp)
        unlink(af->tmp);
    irb_free(af->path);
    irb_free(af->tmp);
    memset(af, 0, sizeof *af);
}

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

char *irb_out_path(irb_store *st, const char *name, irb_error *err)
{
    char *p = irb_path_join(irb_store_dir(st), name);
    if (!p)
        irb_fail(err, IRB_NOMEM, "%s: out of memory", irb_store_dir(st));
    return p;
}

irb_status irb_db_fail(irb_store *st, irb_error *err, const char *what)
{
    sqlite3 *db = irb_store_db(st);
    return irb_fail(err, sqlite3_errcode(db) == SQLITE_NOMEM ? IRB_NOMEM : IRB_IO, "%s/irbis.sqlite: %s: %s",
                    irb_store_dir(st), what, sqlite3_errmsg(db));
}

/* ---- text helpers ------------------------------------------------------------------------- */

void irb_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

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

/* The scientific name the --taxa mapping gives cls, copied into buf; "" when unmapped. */
const char *irb_taxon(const char *taxa, const char *cls, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t lc = strlen(cls);
    for (const char *p = taxa; p && *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) == lc && !strncmp(p, cls, lc)) {
            size_t n = len - lc - 1;
            if (n >= size)
                n = size - 1;
            memcpy(buf, eq + 1, n);
            buf[n] = '\0';
            break;
        }
        p = end ? end + 1 : NULL;
    }
    return buf;
}

/* A class name as a folder name: '/', NUL-ish and leading dots replaced. */
static void safe_name(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        buf[i] = (s[i] == '/' || s[i] == '\\' || (i == 0 && s[i] == '.')) ? '_' : s[i];
    buf[i] = '\0';
    if (!i)
        snprintf(buf, size, "_");
}

/* ---- predictions.csv -------------------------------------------------------------------- */

static void put_probs(FILE *f, const void *blob, int bytes, int nc)
{
    const double *p = blob;
    int ok = p && bytes == (int)(sizeof(double) * (size_t)nc);
    for (int k = 0; k < nc; k++) {
        if (ok)
            fprintf(f, ",%.6f", p[k]);
        else
            fputc(',', f);
    }
}

static void put_label(FILE *f, const irb_outputs_opts *o, sqlite3_stmt *q, int col)
{
    fputc(',', f);
    if (sqlite3_column_type(q, col) != SQLITE_NULL) {
        int k = sqlite3_column_int(q, col);
        if (k >= 0 && k < o->n_classes)
            irb_csv_put(f, o->classes[k]);
    }
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
    IRB_TRY(irb_out_open(st, "predictions.csv", &af, err));
    FILE *f = af.f;
    fputs("path,camera,timestamp,sequence", f);
    for (int k = 0; k < o->n_classes; k++)
        fputc(',', f), fputs("p_", f), fputs(o->classes[k], f);
    fputs(",label", f);
    for (int k = 0; k < o->n_classes; k++)
        fputc(',', f), fputs("seq_p_", f), fputs(o->classes[k], f);
    fputs(",seq_label,status,message\n", f);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(irb_store_db(st),
                           "SELECT i.path, i.camera, i.timestamp, s.name, i.probs, i.label, s.probs, s.label,"
                           " i.state, i.status, i.message FROM images i"
                           " LEFT JOIN image_seq m ON m.image_id = i.id LEFT JOIN sequences s ON s.id = m.seq_id"
                           " ORDER BY i.path",
                           -1, &q, NULL) != SQLITE_OK) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "prepare predictions");
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < 4; c++) {
            if (c)
                fputc(',', f);
            irb_csv_put(f, (const char *)sqlite3_column_text(q, c) ? (const char *)sqlite3_column_text(q, c) : "");
        }
        put_probs(f, sqlite3_column_blob(q, 4), sqlite3_column_bytes(q, 4), o->n_classes);
        put_label(f, o, q, 5);
        put_probs(f, sqlite3_column_blob(q, 6), sqlite3_column_bytes(q, 6), o->n_classes);
        put_label(f, o, q, 7);
        int state = sqlite3_column_int(q, 8);
        fputc(',', f);
        fputs(state == IRB_IMG_OK ? "ok" : state == IRB_IMG_PENDING ? "pending" : (const char *)sqlite3_column_text(q, 9),
              f);
        fputc(',', f);
        irb_csv_put(f, (const char *)sqlite3_column_text(q, 10));
        fputc('\n', f);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "read predictions");
    }
    return irb_atomic_close(&af, err);
}

/* ---- Camtrap DP ------------------------------------------------------------------------- */

#define CTDP "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0/"

/* Camera -> coordinates from the --deployments CSV (camera,latitude,longitude[,locationName]). */
typedef struct deployment_info {
    char **camera, **lat, **lon, **name;
    int n;
} deployment_info;

static void deployments_free(deployment_info *d)
{
    for (int i = 0; i < d->n; i++)
        irb_free(d->camera[i]), irb_free(d->lat[i]), irb_free(d->lon[i]), irb_free(d->name[i]);
    irb_free(d->camera), irb_free(d->lat), irb_free(d->lon), irb_free(d->name);
    memset(d, 0, sizeof *d);
}

static irb_status check_coord(const char *path, long line, const char *v, double lim, irb_error *err)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || x < -lim || x > lim)
        return irb_fail(err, IRB_CORRUPT, "%s:%ld: '%s' is not a coordinate in [-%g, %g]", path, line, v, lim, lim);
    return IRB_OK;
}

static irb_status deployments_load(const char *path, deployment_info *d, irb_error *err)
{
    memset(d, 0, sizeof *d);
    if (!path)
        return IRB_OK;
    FILE *f = fopen(path, "r");
    if (!f)
        return irb_fail(err, errno == ENOENT ? IRB_NOT_FOUND : IRB_IO, "%s: cannot open: %s", path, strerror(errno));
    irb_csv_reader r;
    irb_csv_init(&r, f, path);
    irb_status s = irb_csv_read_header(&r, err);
    int cc = irb_csv_column(&r, "camera"), cl = irb_csv_column(&r, "latitude"), co = irb_csv_column(&r, "longitude");
    int cn = irb_csv_column(&r, "locationName");
    if (s == IRB_OK && (cc < 0 || cl < 0 || co < 0))
        s = irb_fail(err, IRB_CORRUPT, "%s: expected the columns camera,latitude,longitude", path);
    int cap = 0;
    while (s == IRB_OK && (s = irb_csv_next(&r, err)) == IRB_OK) {
        if ((s = check_coord(path, r.line, irb_csv_field(&r, cl), 90, err)) != IRB_OK ||
            (s = check_coord(path, r.line, irb_csv_field(&r, co), 180, err)) != IRB_OK)
            break;
        if (d->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **a = irb_realloc_array(d->camera, (size_t)cap, sizeof *a);
            if (a) d->camera = a;
            char **b = irb_realloc_array(d->lat, (size_t)cap, sizeof *b);
            if (b) d->lat = b;
            char **c = irb_realloc_array(d->lon, (size_t)cap, sizeof *c);
            if (c) d->lon = c;
            char **e = irb_realloc_array(d->name, (size_t)cap, sizeof *e);
            if (e) d->name = e;
            if (!a || !b || !c || !e) {
                s = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
                break;
            }
        }
        d->camera[d->n] = irb_strdup(irb_csv_field(&r, cc));
        d->lat[d->n] = irb_strdup(irb_csv_field(&r, cl));
        d->lon[d->n] = irb_strdup(irb_csv_field(&r, co));
        d->name[d->n] = irb_strdup(cn >= 0 ? irb_csv_field(&r, cn) : "");
        d->n++;
        if (!d->camera[d->n - 1] || !d->lat[d->n - 1] || !d->lon[d->n - 1] || !d->name[d->n - 1])
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    }
    if (s == IRB_NOT_FOUND)
        s = IRB_OK;
    irb_csv_release(&r);
    fclose(f);
    if (s != IRB_OK)
        deployments_free(d);
    return s;
}

static int deployment_find(const deployment_info *d, const char *camera)
{
    for (int i = 0; i < d->n; i++)
        if (!strcmp(d->camera[i], camera))
            return i;
    return -1;
}

/* "2012-11-24T16:59:05" + offset: Camtrap DP wants a zone designator; fractions are dropped. */
static void ctdp_time(const char *ts, const char *off, char *buf, size_t size)
{
    snprintf(buf, size, "%.19s%s", ts, off);
    if (strlen(ts) >= 11 && ts[10] == ' ')
        buf[10] = 'T';
}

static const char *media_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && !strcasecmp(dot, ".png") ? "image/png" : "image/jpeg";
}

static irb_status open_in(irb_store *st, const char *dir, const char *name, irb_atomic_file *af, irb_error *err)
{
    char *p = irb_path_join(dir, name);
    if (!p)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", irb_store_dir(st));
    irb_status s = irb_atomic_open(af, p, err);
    irb_free(p);
    return s;
}

typedef struct ctdp_bounds {
    char first[40], last[40];
    double lat0, lat1, lon0, lon1;
    int n_coords, missing_coords;
} ctdp_bounds;

static irb_status write_deployments(irb_store *st, const irb_outputs_opts *o, const char *dir,
                                    const deployment_info *d, ctdp_bounds *b, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(open_in(st, dir, "deployments.csv", &af, err));
    FILE *f = af.f;
    fputs("deploymentID,locationID,locationName,latitude,longitude,deploymentStart,deploymentEnd,cameraID,"
          "timestampIssues,deploymentComments\n",
          f);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(irb_store_db(st),
                           "SELECT camera, min(timestamp), max(timestamp), count(*) FROM images"
                           " WHERE state = 1 AND tsec IS NOT NULL GROUP BY camera ORDER BY camera",
                           -1, &q, NULL) != SQLITE_OK) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "prepare deployments");
    }
    int rc;
    char t0[48], t1[48];
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *cam = (const char *)sqlite3_column_text(q, 0);
        const char *dep = cam[0] ? cam : "unknown";
        const char *a = (const char *)sqlite3_column_text(q, 1), *z = (const char *)sqlite3_column_text(q, 2);
        ctdp_time(a, o->utc_offset, t0, sizeof t0);
        ctdp_time(z, o->utc_offset, t1, sizeof t1);
        if (!b->first[0] || strcmp(a, b->first) < 0)
            snprintf(b->first, sizeof b->first, "%.10s", a);
        if (!b->last[0] || strcmp(z, b->last) > 0)
            snprintf(b->last, sizeof b->last, "%.10s", z);
        int k = deployment_find(d, cam);
        irb_csv_put(f, dep);
        fputc(',', f);
        irb_csv_put(f, dep);
        fputc(',', f);
        irb_csv_put(f, k >= 0 && d->name[k][0] ? d->name[k] : dep);
        if (k >= 0) {
            fprintf(f, ",%s,%s", d->lat[k], d->lon[k]);
            double la = atof(d->lat[k]), lo = atof(d->lon[k]);
            if (!b->n_coords++)
                b->lat0 = b->lat1 = la, b->lon0 = b->lon1 = lo;
            b->lat0 = la < b->lat0 ? la : b->lat0, b->lat1 = la > b->lat1 ? la : b->lat1;
            b->lon0 = lo < b->lon0 ? lo : b->lon0, b->lon1 = lo > b->lon1 ? lo : b->lon1;
        } else {
            fputs(",,", f);
            b->missing_coords++;
        }
        fprintf(f, ",%s,%s,", t0, t1);
        irb_csv_put(f, dep);
        fprintf(f, ",false,");
        fprintf(f, "\"first and last classified image; %lld images\"\n", (long long)sqlite3_column_int64(q, 3));
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "read deployments");
    }
    return irb_atomic_close(&af, err);
}

static irb_status write_media(irb_store *st, const irb_outputs_opts *o, const char *dir, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(open_in(st, dir, "media.csv", &af, err));
    FILE *f = af.f;
    fputs("mediaID,deploymentID,captureMethod,timestamp,filePath,filePublic,fileName,fileMediatype,exifData,"
          "favorite,mediaComments\n",
          f);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(irb_store_db(st),
                           "SELECT i.id, i.camera, i.timestamp, i.path, s.name FROM images i"
                           " LEFT JOIN image_seq m ON m.image_id = i.id LEFT JOIN sequences s ON s.id = m.seq_id"
                           " WHERE i.state = 1 AND i.tsec IS NOT NULL ORDER BY i.path",
                           -1, &q, NULL) != SQLITE_OK) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "prepare media");
    }
    int rc;
    char t[48];
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *cam = (const char *)sqlite3_column_text(q, 1);
        const char *path = (const char *)sqlite3_column_text(q, 3);
        const char *seq = (const char *)sqlite3_column_text(q, 4);
        const char *base = strrchr(path, '/');
        ctdp_time((const char *)sqlite3_column_text(q, 2), o->utc_offset, t, sizeof t);
        fprintf(f, "m%lld,", (long long)sqlite3_column_int64(q, 0));
        irb_csv_put(f, cam[0] ? cam : "unknown");
        fprintf(f, ",,%s,", t);
        irb_csv_put(f, path);
        fputs(",false,", f);
        irb_csv_put(f, base ? base + 1 : path);
        fprintf(f, ",%s,,,", media_type(path));
        if (seq) {
            char c[600];
            snprintf(c, sizeof c, "eventID %s", seq);
            irb_csv_put(f, c);
        }
        fputc('\n', f);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "read media");
    }
    return irb_atomic_close(&af, err);
}

static irb_status write_observations(irb_store *st, const irb_outputs_opts *o, const char *dir, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(open_in(st, dir, "observations.csv", &af, err));
    FILE *f = af.f;
    fputs("observationID,deploymentID,mediaID,eventID,eventStart,eventEnd,observationLevel,observationType,"
          "scientificName,count,classificationMethod,classifiedBy,classificationTimestamp,"
          "classificationProbability,observationComments\n",
          f);
    char now[32];
    time_t tnow = time(NULL);
    struct tm tm;
    gmtime_r(&tnow, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(irb_store_db(st),
                           "SELECT s.id, s.name, s.camera, s.start, s.end, s.n, s.probs, s.label FROM sequences s"
                           " WHERE s.start != '' ORDER BY s.id",
                           -1, &q, NULL) != SQLITE_OK) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "prepare observations");
    }
    int rc;
    char t0[48], t1[48], taxon[256];
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *cam = (const char *)sqlite3_column_text(q, 2);
        const double *p = sqlite3_column_blob(q, 6);
        int label = sqlite3_column_int(q, 7);
        if (!p || label < 0 || label >= o->n_classes)
            continue;
        const char *cls = o->classes[label];
        const char *type = irb_obs_type(cls);
        irb_taxon(o->taxa, cls, taxon, sizeof taxon);
        ctdp_time((const char *)sqlite3_column_text(q, 3), o->utc_offset, t0, sizeof t0);
        ctdp_time((const char *)sqlite3_column_text(q, 4), o->utc_offset, t1, sizeof t1);
        fprintf(f, "obs%lld,", (long long)sqlite3_column_int64(q, 0));
        irb_csv_put(f, cam[0] ? cam : "unknown");
        fputs(",,", f);
        irb_csv_put(f, (const char *)sqlite3_column_text(q, 1));
        fprintf(f, ",%s,%s,event,%s,", t0, t1, type);
        if (!strcmp(type, "animal"))
            irb_csv_put(f, taxon);
        fputs(",,machine,", f);
        irb_csv_put(f, o->classified_by);
        fprintf(f, ",%s,%.4f,", now, p[label]);
        fprintf(f, "\"class %s; %lld images\"\n", cls, (long long)sqlite3_column_int64(q, 5));
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "read observations");
    }
    return irb_atomic_close(&af, err);
}

/* package.taxonomic: the mapped scientific names of the animal classes (omitted when none). */
static void write_taxonomic(FILE *f, const irb_outputs_opts *o)
{
    char taxon[256], other[256];
    int first = 1;
    for (int k = 0; k < o->n_classes; k++) {
        if (strcmp(irb_obs_type(o->classes[k]), "animal") || !irb_taxon(o->taxa, o->classes[k], taxon, sizeof taxon)[0])
            continue;
        int dup = 0;
        for (int j = 0; j < k; j++)
            dup |= !strcmp(irb_taxon(o->taxa, o->classes[j], other, sizeof other), taxon);
        if (dup)
            continue;
        fputs(first ? "  \"taxonomic\": [\n    {\"scientificName\": " : ",\n    {\"scientificName\": ", f);
        irb_json_str(f, taxon);
        fputs(", \"vernacularNames\": {\"eng\": ", f);
        irb_json_str(f, o->classes[k]);
        fputs("}}", f);
        first = 0;
    }
    if (!first)
        fputs("\n  ],\n", f);
}

static irb_status write_package(irb_store *st, const irb_outputs_opts *o, const char *dir, const ctdp_bounds *b,
                                irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(open_in(st, dir, "datapackage.json", &af, err));
    FILE *f = af.f;
    char now[32];
    time_t tnow = time(NULL);
    struct tm tm;
    gmtime_r(&tnow, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\n  \"profile\": \"" CTDP "camtrap-dp-profile.json\",\n  \"name\": \"irbis-classify\",\n");
    fprintf(f, "  \"created\": \"%s\",\n  \"title\": \"Machine classification of a camera-trap survey\",\n", now);
    fprintf(f, "  \"description\": \"Labels by irbis (transfer learning: ImageNet CNN features + logistic regression),"
               " averaged over sequences. A sequence (event) is a run of images from one camera with no gap longer"
               " than %g s between consecutive images.\",\n",
            o->gap);
    fputs("  \"contributors\": [{\"title\": \"irbis\", \"role\": \"contributor\"}],\n", f);
    fputs("  \"project\": {\"title\": \"Camera-trap survey\", \"samplingDesign\": \"opportunistic\","
          " \"captureMethod\": [\"activityDetection\"], \"individualAnimals\": false,"
          " \"observationLevel\": [\"event\"]},\n",
          f);
    if (b->n_coords) {
        fprintf(f, "  \"spatial\": {\"type\": \"Polygon\", \"bbox\": [%.6f, %.6f, %.6f, %.6f], \"coordinates\": "
                   "[[[%.6f, %.6f], [%.6f, %.6f], [%.6f, %.6f], [%.6f, %.6f], [%.6f, %.6f]]]},\n",
                b->lon0, b->lat0, b->lon1, b->lat1, b->lon0, b->lat0, b->lon1, b->lat0, b->lon1, b->lat1, b->lon0,
                b->lat1, b->lon0, b->lat0);
    }
    fprintf(f, "  \"temporal\": {\"start\": \"%s\", \"end\": \"%s\"},\n", b->first[0] ? b->first : "",
            b->last[0] ? b->last : "");
    write_taxonomic(f, o);
    fprintf(f, "  \"irbis\": {\"sequenceGap\": %g, \"sequenceGapUnit\": \"s\", \"classifiedBy\": ", o->gap);
    irb_json_str(f, o->classified_by);
    fputs(", \"classes\": [", f);
    for (int k = 0; k < o->n_classes; k++) {
        fputs(k ? ", " : "", f);
        irb_json_str(f, o->classes[k]);
    }
    fputs("], \"positive\": ", f);
    if (o->pos >= 0)
        irb_json_str(f, o->classes[o->pos]), fprintf(f, ", \"threshold\": %g", o->threshold);
    else
        fputs("null", f);
    fputs("},\n  \"resources\": [", f);
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

irb_status irb_write_camtrapdp(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    deployment_info d;
    IRB_TRY(deployments_load(o->deployments, &d, err));
    char *dir = irb_out_path(st, "camtrap-dp", err);
    irb_status s = dir ? irb_mkdirs(dir, err) : IRB_NOMEM;
    ctdp_bounds b = {0};
    if (s == IRB_OK)
        s = write_deployments(st, o, dir, &d, &b, err);
    if (s == IRB_OK)
        s = write_media(st, o, dir, err);
    if (s == IRB_OK)
        s = write_observations(st, o, dir, err);
    if (s == IRB_OK)
        s = write_package(st, o, dir, &b, err);
    if (s == IRB_OK && b.missing_coords)
        irb_warn(err, "%s: %d camera(s) have no coordinates (give --deployments camera,latitude,longitude); "
                      "their deployments lack the required latitude/longitude",
                 dir, b.missing_coords);
    irb_free(dir);
    deployments_free(&d);
    return s;
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
        return IRB_OK; /* placed by an earlier (interrupted) run: labels do not change on resume */
    char *slash = strrchr(dst, '/');
    *slash = '\0';
    irb_status s = irb_mkdirs(dst, err);
    *slash = '/';
    IRB_TRY(s);
    if (mode == IRB_SORT_COPY)
        return copy_file(src, dst, err);
    int rc = mode == IRB_SORT_HARDLINK ? link(src, dst) : symlink(src, dst);
    if (rc != 0)
        return irb_fail(err, IRB_IO, "%s: cannot %s to %s: %s", dst, mode == IRB_SORT_HARDLINK ? "hard-link" : "symlink",
                        src, strerror(errno));
    return IRB_OK;
}

irb_status irb_write_sorted(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    if (o->sort == IRB_SORT_NONE)
        return IRB_OK;
    char root[PATH_MAX];
    if (!realpath(o->survey_dir, root))
        return irb_fail(err, IRB_IO, "%s: %s", o->survey_dir, strerror(errno));
    char *sorted = irb_out_path(st, "sorted", err);
    if (!sorted)
        return IRB_NOMEM;
    sqlite3_stmt *q = NULL;
    irb_status s = IRB_OK;
    if (sqlite3_prepare_v2(irb_store_db(st),
                           "SELECT i.path, coalesce(s.label, i.label) FROM images i"
                           " LEFT JOIN image_seq m ON m.image_id = i.id LEFT JOIN sequences s ON s.id = m.seq_id"
                           " WHERE i.state = 1 ORDER BY i.path",
                           -1, &q, NULL) != SQLITE_OK) {
        irb_free(sorted);
        return irb_db_fail(st, err, "prepare sorting");
    }
    int rc;
    char name[256];
    while (s == IRB_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *rel = (const char *)sqlite3_column_text(q, 0);
        int label = sqlite3_column_int(q, 1);
        safe_name(label >= 0 && label < o->n_classes ? o->classes[label] : "unknown", name, sizeof name);
        size_t need = strlen(sorted) + strlen(name) + strlen(rel) + 3;
        char *dst = irb_malloc(need), *src = irb_path_join(root, rel);
        if (!dst || !src) {
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", sorted);
        } else {
            snprintf(dst, need, "%s/%s/%s", sorted, name, rel);
            s = place(o->sort, src, dst, err);
        }
        irb_free(dst);
        irb_free(src);
    }
    if (s == IRB_OK && rc != SQLITE_DONE)
        s = irb_db_fail(st, err, "read sorting");
    sqlite3_finalize(q);
    irb_free(sorted);
    return s;
}

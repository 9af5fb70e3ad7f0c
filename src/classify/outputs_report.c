/* OUT/report.html: one self-contained page (inline CSS, no scripts, no external resources) with
 * counts per class and camera, the sequences ranked by the target class's probability with
 * thumbnails (OUT/thumbs/<image id>.jpg, small JPEGs written with TurboJPEG), and the images
 * that failed with their cause. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/text.h"
#include "irbis/image.h"
#include "classify/classify_internal.h"

#define THUMB_W 160         /* thumbnail width (smaller images keep theirs) */
#define FAILED_SHOWN 2000   /* failed images listed in the page (all are in predictions.csv) */

/* ---- thumbnails --------------------------------------------------------------------------- */

/* Writes a thumbnail of any image the decoder reads (JPEG at a reduced DCT scale, PNG, EXIF
 * orientation applied, CMYK converted) to dst: THUMB_W pixels wide, box-filtered, a JPEG of
 * quality 75. 0 when it cannot (unreadable, broken): the report then shows the file name. */
int irb_thumb_write(irb_decoder_t *dec, void *enc, const char *src, const char *dst)
{
    irb_image img = {0}, small = {0};
    unsigned char *out = NULL;
    unsigned long out_size = 0;
    int ok = 0;
    irb_decode_opts o = {.target_width = THUMB_W, .max_pixels = 0};
    if (irb_decode_file(dec, src, &o, &img) != IRB_OK || img.width < 1 || img.height < 1)
        goto done;
    int tw = img.width < THUMB_W ? img.width : THUMB_W;
    int th = (int)((long long)img.height * tw / img.width);
    if (th < 1)
        th = 1;
    if (irb_resize(&img, 0, 0, 0, 0, tw, th, IRB_FILTER_BOX, &small, NULL) != IRB_OK)
        goto done;
    if (tjCompress2(enc, small.data, tw, 0, th, TJPF_RGB, &out, &out_size, TJSAMP_420, 75, 0) != 0)
        goto done;
    irb_atomic_file af;
    irb_error e = {0};
    if (irb_atomic_open(&af, dst, &e) != IRB_OK)
        goto done;
    fwrite(out, 1, out_size, af.f);
    ok = irb_atomic_close(&af, &e) == IRB_OK;
done:
    irb_image_release(&img);
    irb_image_release(&small);
    if (out)
        tjFree(out);
    return ok;
}

/* ---- report sections ---------------------------------------------------------------------- */

static const char CSS[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eee}"
    "td.n{text-align:right}img{height:90px;margin:1px}.miss{display:inline-block;height:90px;width:120px;"
    "background:#ddd;font-size:10px;overflow:hidden}";

typedef struct ranked {
    int64_t id;
    double p;
} ranked;

/* Columns of the counts: the classes, then "uncertain" when the run has a min-confidence. */
static int n_labels(const irb_outputs_opts *o) { return o->n_classes + irb_uncertain_on(o); }
static int label_of(const irb_outputs_opts *o, int k) { return k < o->n_classes ? k : IRB_LABEL_UNCERTAIN; }

static irb_status counts_section(irb_store *st, const irb_outputs_opts *o, FILE *f, irb_error *err)
{
    sqlite3 *db = irb_store_db(st);
    sqlite3_stmt *q = NULL;
    fputs("<h2>Counts per class</h2>\n<table id=\"classes\"><tr><th>class</th><th>images (image label)</th>"
          "<th>sequences (sequence label)</th></tr>\n",
          f);
    if (sqlite3_prepare_v2(db,
                           "SELECT ?1, (SELECT count(*) FROM images WHERE state = 1 AND label = ?1),"
                           " (SELECT count(*) FROM sequences WHERE label = ?1)",
                           -1, &q, NULL) != SQLITE_OK)
        return irb_db_fail(st, err, "prepare report counts");
    for (int k = 0; k < n_labels(o); k++) {
        sqlite3_reset(q);
        sqlite3_bind_int(q, 1, label_of(o, k));
        if (sqlite3_step(q) != SQLITE_ROW) {
            sqlite3_finalize(q);
            return irb_db_fail(st, err, "report counts");
        }
        fputs("<tr><td>", f);
        irb_html_put(f, irb_label_name(o, label_of(o, k)));
        fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td></tr>\n",
                (long long)sqlite3_column_int64(q, 1), (long long)sqlite3_column_int64(q, 2));
    }
    sqlite3_finalize(q);
    fputs("</table>\n<h2>Counts per camera</h2>\n<table id=\"cameras\"><tr><th>camera</th><th>images</th>"
          "<th>failed</th><th>sequences</th>",
          f);
    for (int k = 0; k < n_labels(o); k++) {
        fputs("<th>seq: ", f);
        irb_html_put(f, irb_label_name(o, label_of(o, k)));
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    if (sqlite3_prepare_v2(db,
                           "SELECT camera, count(*), sum(state = 2) FROM images GROUP BY camera ORDER BY camera",
                           -1, &q, NULL) != SQLITE_OK)
        return irb_db_fail(st, err, "prepare report cameras");
    sqlite3_stmt *qs = NULL;
    if (sqlite3_prepare_v2(db, "SELECT label, count(*) FROM sequences WHERE camera = ? GROUP BY label", -1, &qs,
                           NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return irb_db_fail(st, err, "prepare report cameras");
    }
    long long *per = irb_calloc((size_t)n_labels(o), sizeof *per);
    while (per && sqlite3_step(q) == SQLITE_ROW) {
        const char *cam = (const char *)sqlite3_column_text(q, 0);
        memset(per, 0, sizeof *per * (size_t)n_labels(o));
        long long total = 0;
        sqlite3_reset(qs);
        sqlite3_bind_text(qs, 1, cam, -1, SQLITE_STATIC);
        while (sqlite3_step(qs) == SQLITE_ROW) {
            int k = sqlite3_column_int(qs, 0);
            k = k == IRB_LABEL_UNCERTAIN ? o->n_classes : k;
            if (k >= 0 && k < n_labels(o))
                per[k] = sqlite3_column_int64(qs, 1), total += per[k];
        }
        fputs("<tr><td>", f);
        irb_html_put(f, cam[0] ? cam : "(unknown)");
        fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>",
                (long long)sqlite3_column_int64(q, 1), (long long)sqlite3_column_int64(q, 2), total);
        for (int k = 0; k < n_labels(o); k++)
            fprintf(f, "<td class=\"n\">%lld</td>", per[k]);
        fputs("</tr>\n", f);
    }
    sqlite3_finalize(q);
    sqlite3_finalize(qs);
    fputs("</table>\n", f);
    if (!per)
        return irb_fail(err, IRB_NOMEM, "out of memory writing the report");
    irb_free(per);
    return IRB_OK;
}

/* The report_sequences sequences with the highest p(target), streamed with a small sorted array. */
static irb_status top_sequences(irb_store *st, int target, int nc, ranked *top, int cap, int *n, irb_error *err)
{
    sqlite3_stmt *q = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(irb_store_db(st), "SELECT id, probs FROM sequences ORDER BY id", -1, &q, NULL) != SQLITE_OK)
        return irb_db_fail(st, err, "prepare report ranking");
    while (sqlite3_step(q) == SQLITE_ROW) {
        const double *p = sqlite3_column_blob(q, 1);
        if (!p || sqlite3_column_bytes(q, 1) != (int)(sizeof(double) * (size_t)nc))
            continue;
        ranked r = {sqlite3_column_int64(q, 0), p[target]};
        if (*n == cap && r.p <= top[cap - 1].p)
            continue;
        int i = *n < cap ? (*n)++ : cap - 1;
        while (i > 0 && top[i - 1].p < r.p)
            top[i] = top[i - 1], i--;
        top[i] = r;
    }
    sqlite3_finalize(q);
    return IRB_OK;
}

static irb_status sequences_section(irb_store *st, const irb_outputs_opts *o, int target, FILE *f, irb_error *err)
{
    int cap = o->report_sequences > 0 ? o->report_sequences : 50, n = 0;
    ranked *top = irb_calloc((size_t)cap, sizeof *top);
    if (!top)
        return irb_fail(err, IRB_NOMEM, "out of memory writing the report");
    irb_status s = top_sequences(st, target, o->n_classes, top, cap, &n, err);
    char *thumbs = irb_path_join(irb_store_dir(st), "thumbs");
    sqlite3_stmt *qs = NULL, *qm = NULL;
    tjhandle enc = tjInitCompress();
    irb_decoder_t *dec = NULL;
    if (irb_decoder_new(&dec) != IRB_OK)
        dec = NULL;
    if (s == IRB_OK && (!thumbs || !dec || !enc))
        s = irb_fail(err, IRB_NOMEM, "out of memory writing the report");
    if (s == IRB_OK)
        s = irb_mkdirs(thumbs, err);
    if (s == IRB_OK &&
        (sqlite3_prepare_v2(irb_store_db(st), "SELECT name, camera, start, end, n, probs, label FROM sequences WHERE id = ?",
                            -1, &qs, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(irb_store_db(st),
                            "SELECT i.id, i.path FROM image_seq m JOIN images i ON i.id = m.image_id"
                            " WHERE m.seq_id = ? ORDER BY i.tsec, i.tfrac, i.path LIMIT ?",
                            -1, &qm, NULL) != SQLITE_OK))
        s = irb_db_fail(st, err, "prepare report sequences");
    fputs("<h2>Sequences ranked by p(", f);
    irb_html_put(f, o->classes[target]);
    fputs(")</h2>\n<table id=\"sequences\"><tr><th>#</th><th>sequence</th><th>camera</th><th>start</th><th>end</th>"
          "<th>images</th><th>p</th><th>label</th><th>images</th></tr>\n",
          f);
    for (int r = 0; s == IRB_OK && r < n; r++) {
        sqlite3_reset(qs);
        sqlite3_bind_int64(qs, 1, top[r].id);
        if (sqlite3_step(qs) != SQLITE_ROW)
            continue;
        int label = sqlite3_column_int(qs, 6);
        fprintf(f, "<tr><td class=\"n\">%d</td><td>", r + 1);
        irb_html_put(f, (const char *)sqlite3_column_text(qs, 0));
        for (int c = 1; c <= 3; c++) {
            fputs("</td><td>", f);
            irb_html_put(f, (const char *)sqlite3_column_text(qs, c));
        }
        fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%.3f</td><td>", (long long)sqlite3_column_int64(qs, 4),
                top[r].p);
        irb_html_put(f, irb_label_name(o, label) ? irb_label_name(o, label) : "");
        fputs("</td><td>", f);
        sqlite3_reset(qm);
        sqlite3_bind_int64(qm, 1, top[r].id);
        sqlite3_bind_int(qm, 2, o->max_sequence_images > 0 ? o->max_sequence_images : 6);
        while (sqlite3_step(qm) == SQLITE_ROW) {
            long long id = sqlite3_column_int64(qm, 0);
            const char *rel = (const char *)sqlite3_column_text(qm, 1);
            char name[64], *dst = NULL, *src = irb_path_join(o->survey_dir, rel);
            snprintf(name, sizeof name, "%lld.jpg", id);
            dst = irb_path_join(thumbs, name);
            struct stat sb;
            int have = dst && src && (stat(dst, &sb) == 0 || irb_thumb_write(dec, enc, src, dst));
            if (have) {
                fprintf(f, "<img src=\"thumbs/%s\" alt=\"", name);
                irb_html_put(f, rel);
                fputs("\" title=\"", f);
                irb_html_put(f, rel);
                fputs("\">", f);
            } else {
                fputs("<span class=\"miss\">", f);
                irb_html_put(f, rel);
                fputs("</span>", f);
            }
            irb_free(src);
            irb_free(dst);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    sqlite3_finalize(qs);
    sqlite3_finalize(qm);
    irb_decoder_free(dec);
    if (enc)
        tjDestroy(enc);
    irb_free(thumbs);
    irb_free(top);
    return s;
}

static irb_status failed_section(irb_store *st, FILE *f, irb_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(irb_store_db(st),
                           "SELECT path, status, message FROM images WHERE state = 2 ORDER BY path LIMIT ?", -1, &q,
                           NULL) != SQLITE_OK)
        return irb_db_fail(st, err, "prepare report failures");
    sqlite3_bind_int(q, 1, FAILED_SHOWN);
    fputs("<h2>Images that failed</h2>\n<table id=\"failed\"><tr><th>path</th><th>status</th><th>cause</th></tr>\n", f);
    int n = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < 3; c++) {
            fputs(c ? "</td><td>" : "<tr><td>", f);
            irb_html_put(f, (const char *)sqlite3_column_text(q, c));
        }
        fputs("</td></tr>\n", f);
        n++;
    }
    sqlite3_finalize(q);
    fputs("</table>\n", f);
    if (n == FAILED_SHOWN)
        fprintf(f, "<p>Only the first %d are listed; predictions.csv has them all.</p>\n", FAILED_SHOWN);
    return IRB_OK;
}

irb_status irb_write_report(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(irb_out_open(st, "report.html", &af, err));
    irb_status s;
    FILE *f = af.f;
    irb_store_counts c;
    if ((s = irb_store_counts_get(st, &c, err)) != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    int target = o->pos;
    for (int k = 0; target < 0 && k < o->n_classes; k++)
        if (!strcmp(irb_obs_type(o->classes[k]), "animal"))
            target = k;
    if (target < 0)
        target = 0;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>irbis classify report</title>"
               "<style>%s</style></head><body>\n<h1>Survey classification</h1>\n",
            CSS);
    fputs("<table id=\"summary\"><tr><th>classified by</th><td>", f);
    irb_html_put(f, o->classified_by);
    fputs("</td></tr><tr><th>survey</th><td>", f);
    irb_html_put(f, o->survey_dir);
    fprintf(f, "</td></tr><tr><th>sequence gap</th><td>%g s</td></tr>", o->gap);
    if (o->pos >= 0) {
        fputs("<tr><th>positive class</th><td>", f);
        irb_html_put(f, o->classes[o->pos]);
        fprintf(f, " (threshold %g)</td></tr>", o->threshold);
    }
    if (o->min_confidence > 0)
        fprintf(f, "<tr><th>uncertain below</th><td>%g (top probability)</td></tr>", o->min_confidence);
    if (o->novelty_threshold > 0)
        fprintf(f, "<tr><th>uncertain (novel) above</th><td>%g (novelty: distance to the nearest training image)"
                   "</td></tr>", o->novelty_threshold);
    fprintf(f, "<tr><th>images</th><td>%lld</td></tr><tr><th>classified</th><td>%lld</td></tr>"
               "<tr><th>failed</th><td>%lld</td></tr><tr><th>not yet classified</th><td>%lld</td></tr>"
               "<tr><th>sequences</th><td>%lld</td></tr>"
               "<tr><th>classified without a time (not in camtrap-dp/)</th><td id=\"untimed\">%lld</td></tr>",
            c.total, c.ok, c.failed, c.pending, c.sequences, c.untimed);
    sqlite3_stmt *qr = NULL; /* human labels (irbis review, docs/review.md) */
    if (sqlite3_prepare_v2(irb_store_db(st), "SELECT count(*) FROM images i JOIN reviews r ON r.path = i.path"
                           " WHERE i.state = 1", -1, &qr, NULL) == SQLITE_OK && sqlite3_step(qr) == SQLITE_ROW &&
        sqlite3_column_int64(qr, 0) > 0)
        fprintf(f, "<tr><th>labelled by a person (irbis review)</th><td id=\"reviewed\">%lld images</td></tr>",
                (long long)sqlite3_column_int64(qr, 0));
    sqlite3_finalize(qr);
    fputs("</table>\n", f);
    s = counts_section(st, o, f, err);
    if (s == IRB_OK)
        s = sequences_section(st, o, target, f, err);
    if (s == IRB_OK)
        s = failed_section(st, f, err);
    fputs("</body></html>\n", f);
    if (s != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    return irb_atomic_close(&af, err);
}

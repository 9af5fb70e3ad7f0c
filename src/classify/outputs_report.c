/* OUT/report.html: one self-contained page (inline CSS, no scripts, no external resources) with
 * counts per class and camera, the sequences ranked by the target class's probability with
 * thumbnails (OUT/thumbs/<image id>.jpg, small JPEGs written with TurboJPEG), and the images
 * that failed with their cause. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "core/text.h"
#include "irbis/image.h"
#include "classify/classify_internal.h"

#define THUMB_W      160  /* thumbnail width (smaller images keep theirs) */
#define FAILED_SHOWN 2000 /* failed images listed in the page (all are in predictions.csv) */
#define COPIES_SHOWN 10   /* pictures held by several images listed in the page */

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
    af.no_sync = 1; /* made again when missing or empty (thumb_ok): 57 fsyncs were 0.1-0.2 s of a run */
    fwrite(out, 1, out_size, af.f);
    ok = irb_atomic_close(&af, &e) == IRB_OK;
done:
    irb_image_release(&img);
    irb_image_release(&small);
    if (out)
        tjFree(out);
    return ok;
}

int irb_thumb_ok(const char *dst)
{
    struct stat sb;
    return stat(dst, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
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

/* One camera's row: its images, failures, sequences and sequences per label. */
static irb_status camera_row(irb_store *st, const irb_outputs_opts *o, const irb_camera_row *c, long long *per, FILE *f,
                             irb_error *err)
{
    IRB_TRY(irb_store_label_counts(st, c->camera, o->n_classes, NULL, per, err));
    long long total = 0;
    for (int k = 0; k < n_labels(o); k++)
        total += per[k];
    fputs("<tr><td>", f);
    irb_html_put(f, c->camera[0] ? c->camera : "(unknown)");
    fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>", c->images, c->failed,
            total);
    for (int k = 0; k < n_labels(o); k++)
        fprintf(f, "<td class=\"n\">%lld</td>", per[k]);
    fputs("</tr>\n", f);
    return IRB_OK;
}

static irb_status counts_section(irb_store *st, const irb_outputs_opts *o, long long *images, long long *seqs, FILE *f,
                                 irb_error *err)
{
    fputs("<h2>Counts per class</h2>\n<table id=\"classes\"><tr><th>class</th><th>images (image label)</th>"
          "<th>sequences (sequence label)</th></tr>\n",
          f);
    IRB_TRY(irb_store_label_counts(st, NULL, o->n_classes, images, seqs, err));
    for (int k = 0; k < n_labels(o); k++) {
        fputs("<tr><td>", f);
        irb_html_put(f, irb_label_name(o, label_of(o, k)));
        fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td></tr>\n", images[k], seqs[k]);
    }
    fputs("</table>\n<h2>Counts per camera</h2>\n<table id=\"cameras\"><tr><th>camera</th><th>images</th>"
          "<th>failed</th><th>sequences</th>",
          f);
    for (int k = 0; k < n_labels(o); k++) {
        fputs("<th>seq: ", f);
        irb_html_put(f, irb_label_name(o, label_of(o, k)));
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    irb_store_iter *it;
    IRB_TRY(irb_store_cameras_begin(st, &it, err));
    irb_camera_row c;
    irb_status s = IRB_OK;
    while (s == IRB_OK && irb_store_cameras_next(it, &c))
        s = camera_row(st, o, &c, seqs, f, err);
    irb_status end = irb_store_iter_end(it, s == IRB_OK ? err : NULL);
    fputs("</table>\n", f);
    return s == IRB_OK ? end : s;
}

/* The report_sequences sequences with the highest p(target), streamed with a small sorted array. */
static irb_status top_sequences(irb_store *st, int target, int nc, ranked *top, int cap, int *n, irb_error *err)
{
    irb_store_iter *it;
    *n = 0;
    IRB_TRY(irb_store_seqs_begin(st, IRB_SEQS_ALL, nc, &it, err));
    irb_seq_row q;
    while (irb_store_seqs_next(it, &q)) {
        if (!q.probs)
            continue;
        ranked r = {q.id, q.probs[target]};
        if (*n == cap && r.p <= top[cap - 1].p)
            continue;
        int i = *n < cap ? (*n)++ : cap - 1;
        while (i > 0 && top[i - 1].p < r.p)
            top[i] = top[i - 1], i--;
        top[i] = r;
    }
    return irb_store_iter_end(it, err);
}

/* A sequence's first images as thumbnails (OUT/thumbs/<image id>.jpg, made when missing), or
 * their names where a thumbnail cannot be made. */
static irb_status put_thumbs(irb_store *st, const irb_outputs_opts *o, int64_t seq, const char *thumbs,
                             irb_decoder_t *dec, tjhandle enc, FILE *f, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_members_begin(st, seq, o->n_classes, &it, err));
    int max = o->max_sequence_images > 0 ? o->max_sequence_images : 6;
    irb_img_row m;
    for (int i = 0; i < max && irb_store_images_next(it, &m); i++) {
        char name[64], *dst = NULL, *src = irb_path_join(o->survey_dir, m.path);
        irb_out_thumb_name(m.id, name, sizeof name);
        dst = irb_path_join(thumbs, name);
        int have = dst && src && (irb_thumb_ok(dst) || irb_thumb_write(dec, enc, src, dst));
        if (have) {
            fprintf(f, "<img src=\"" IRB_OUT_THUMBS "/%s\" alt=\"", name);
            irb_html_put(f, m.path);
            fputs("\" title=\"", f);
            irb_html_put(f, m.path);
            fputs("\">", f);
        } else {
            fputs("<span class=\"miss\">", f);
            irb_html_put(f, m.path);
            fputs("</span>", f);
        }
        irb_free(src);
        irb_free(dst);
    }
    return irb_store_iter_end(it, err);
}

/* The sequence of rank r (from 1) with probability p, when it is still there. */
static irb_status sequence_row(irb_store *st, const irb_outputs_opts *o, int r, const ranked *top, const char *thumbs,
                               irb_decoder_t *dec, tjhandle enc, FILE *f, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_seq_begin(st, top->id, o->n_classes, &it, err));
    irb_seq_row q;
    irb_status s = IRB_OK;
    if (irb_store_seqs_next(it, &q)) {
        fprintf(f, "<tr><td class=\"n\">%d</td><td>", r);
        irb_html_put(f, q.name);
        const char *cols[3] = {q.camera, q.start, q.end};
        for (int c = 0; c < 3; c++) {
            fputs("</td><td>", f);
            irb_html_put(f, cols[c]);
        }
        fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%.3f</td><td>", q.n, top->p);
        irb_html_put(f, irb_label_name(o, q.label) ? irb_label_name(o, q.label) : "");
        fputs("</td><td>", f);
        s = put_thumbs(st, o, top->id, thumbs, dec, enc, f, err);
        fputs("</td></tr>\n", f);
    }
    irb_status end = irb_store_iter_end(it, s == IRB_OK ? err : NULL);
    return s == IRB_OK ? end : s;
}

/* The thumbnails the ranked sequences show (each one's first images), made before the page is
 * written, on the run's threads: a survey of large frames spends most of its report on decoding
 * them. The store is read here, on the calling thread; the workers only decode and write files.
 * One that fails here fails again when the page is written, and shows the file name. */
typedef struct thumb_job {
    char **src, **dst;
    size_t n;
    atomic_size_t next;
    irb_decoder_t **dec;
    tjhandle *enc;
} thumb_job;

static void thumb_worker(void *ctx, int ith, int nth)
{
    (void)nth;
    thumb_job *j = ctx;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
        if (j->dec[ith] && j->enc[ith] && !irb_thumb_ok(j->dst[i]))
            irb_thumb_write(j->dec[ith], j->enc[ith], j->src[i], j->dst[i]);
}

static irb_status make_thumbs(irb_store *st, const irb_outputs_opts *o, const ranked *top, int n, const char *thumbs,
                              irb_error *err)
{
    int max = o->max_sequence_images > 0 ? o->max_sequence_images : 6;
    size_t cap = (size_t)n * (size_t)max;
    thumb_job j = {.src = irb_calloc(cap + 1, sizeof(char *)), .dst = irb_calloc(cap + 1, sizeof(char *))};
    if (!j.src || !j.dst) {
        irb_free(j.src), irb_free(j.dst);
        return irb_fail(err, IRB_NOMEM, "out of memory writing the report");
    }
    irb_status s = IRB_OK;
    for (int r = 0; s == IRB_OK && r < n; r++) {
        irb_store_iter *it;
        if ((s = irb_store_members_begin(st, top[r].id, o->n_classes, &it, err)) != IRB_OK)
            break;
        irb_img_row m;
        for (int i = 0; i < max && irb_store_images_next(it, &m); i++) {
            char name[64];
            irb_out_thumb_name(m.id, name, sizeof name);
            char *a = irb_path_join(o->survey_dir, m.path), *b = irb_path_join(thumbs, name);
            if (a && b)
                j.src[j.n] = a, j.dst[j.n++] = b;
            else
                irb_free(a), irb_free(b);
        }
        s = irb_store_iter_end(it, err);
    }
    int threads = o->threads > 0 ? o->threads : irb_cpu_count();
    irb_pool *pool = s == IRB_OK && j.n > 1 && threads > 1 ? irb_pool_new(threads < 8 ? threads : 8) : NULL;
    int nw = irb_pool_size(pool);
    j.dec = irb_calloc((size_t)nw, sizeof *j.dec);
    j.enc = irb_calloc((size_t)nw, sizeof *j.enc);
    if (s == IRB_OK && j.dec && j.enc) {
        for (int w = 0; w < nw; w++) {
            if (irb_decoder_new(&j.dec[w]) != IRB_OK)
                j.dec[w] = NULL;
            j.enc[w] = tjInitCompress();
        }
        atomic_init(&j.next, 0);
        irb_pool_run(pool, thumb_worker, &j);
        for (int w = 0; w < nw; w++) {
            irb_decoder_free(j.dec[w]);
            if (j.enc[w])
                tjDestroy(j.enc[w]);
        }
    }
    irb_pool_free(pool);
    for (size_t i = 0; i < j.n; i++)
        irb_free(j.src[i]), irb_free(j.dst[i]);
    irb_free(j.src), irb_free(j.dst), irb_free(j.dec), irb_free(j.enc);
    return s;
}

static irb_status sequences_section(irb_store *st, const irb_outputs_opts *o, int target, FILE *f, irb_error *err)
{
    int cap = o->report_sequences > 0 ? o->report_sequences : 50, n = 0;
    ranked *top = irb_calloc((size_t)cap, sizeof *top);
    if (!top)
        return irb_fail(err, IRB_NOMEM, "out of memory writing the report");
    irb_status s = top_sequences(st, target, o->n_classes, top, cap, &n, err);
    char *thumbs = irb_path_join(irb_store_dir(st), IRB_OUT_THUMBS);
    tjhandle enc = tjInitCompress();
    irb_decoder_t *dec = NULL;
    if (irb_decoder_new(&dec) != IRB_OK)
        dec = NULL;
    if (s == IRB_OK && (!thumbs || !dec || !enc))
        s = irb_fail(err, IRB_NOMEM, "out of memory writing the report");
    if (s == IRB_OK)
        s = irb_mkdirs(thumbs, err);
    if (s == IRB_OK)
        s = make_thumbs(st, o, top, n, thumbs, err);
    fputs("<h2>Sequences ranked by p(", f);
    irb_html_put(f, o->classes[target]);
    fputs(")</h2>\n<table id=\"sequences\"><tr><th>#</th><th>sequence</th><th>camera</th><th>start</th><th>end</th>"
          "<th>images</th><th>p</th><th>label</th><th>images</th></tr>\n",
          f);
    for (int r = 0; s == IRB_OK && r < n; r++)
        s = sequence_row(st, o, r + 1, &top[r], thumbs, dec, enc, f, err);
    fputs("</table>\n", f);
    irb_decoder_free(dec);
    if (enc)
        tjDestroy(enc);
    irb_free(thumbs);
    irb_free(top);
    return s;
}

static irb_status failed_section(irb_store *st, FILE *f, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_images_begin(st, IRB_IMAGES_FAILED, 0, &it, err));
    fputs("<h2>Images that failed</h2>\n<table id=\"failed\"><tr><th>path</th><th>status</th><th>cause</th></tr>\n", f);
    int n = 0;
    irb_img_row r;
    for (; n < FAILED_SHOWN && irb_store_images_next(it, &r); n++) {
        const char *cols[3] = {r.path, r.status, r.message};
        for (int c = 0; c < 3; c++) {
            fputs(c ? "</td><td>" : "<tr><td>", f);
            irb_html_put(f, cols[c]);
        }
        fputs("</td></tr>\n", f);
    }
    IRB_TRY(irb_store_iter_end(it, err));
    fputs("</table>\n", f);
    if (n == FAILED_SHOWN)
        fprintf(f, "<p>Only the first %d are listed; predictions.csv has them all.</p>\n", FAILED_SHOWN);
    return IRB_OK;
}

/* The first COPIES_SHOWN pictures that several classified images hold (a card copied twice),
 * after the summary said how many: two paths of each and its images. */
static irb_status copies_section(irb_store *st, long long groups, FILE *f, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_copies_begin(st, &it, err));
    fputs("<h2>The same picture at several paths</h2>\n<p>Each copy is classified and counted in every output "
          "(a card copied twice into the survey counts its detections twice).</p>\n<table id=\"copies-list\">"
          "<tr><th>path</th><th>same picture</th><th>images</th></tr>\n",
          f);
    irb_copy_row r;
    for (int n = 0; n < COPIES_SHOWN && irb_store_copies_next(it, &r); n++) {
        fputs("<tr><td>", f);
        irb_html_put(f, r.first);
        fputs("</td><td>", f);
        irb_html_put(f, r.last);
        fprintf(f, "</td><td>%lld</td></tr>\n", r.n);
    }
    IRB_TRY(irb_store_iter_end(it, err));
    fputs("</table>\n", f);
    if (groups > COPIES_SHOWN)
        fprintf(f, "<p>Only the first %d of %lld pictures are listed.</p>\n", COPIES_SHOWN, groups);
    return IRB_OK;
}

irb_status irb_write_report(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(irb_out_open(st, IRB_OUT_REPORT, &af, err));
    irb_status s;
    FILE *f = af.f;
    irb_store_counts c;
    irb_classify_summary copies = {0};
    if ((s = irb_store_counts_get(st, &c, err)) != IRB_OK || (s = irb_store_copies_count(st, &copies, err)) != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    int target = o->pos;
    for (int k = 0; target < 0 && k < o->n_classes; k++)
        if (!strcmp(irb_obs_type(o->classes[k]), "animal"))
            target = k;
    if (target < 0)
        target = 0;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>irbis classify report</title>"
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
        fprintf(f,
                "<tr><th>uncertain (novel) above</th><td>%g (novelty: distance to the nearest training image)"
                "</td></tr>",
                o->novelty_threshold);
    fprintf(f,
            "<tr><th>images</th><td>%lld</td></tr><tr><th>classified</th><td>%lld</td></tr>"
            "<tr><th>failed</th><td>%lld</td></tr><tr><th>not yet classified</th><td>%lld</td></tr>"
            "<tr><th>sequences</th><td>%lld</td></tr>"
            "<tr><th>classified without a time (not in camtrap-dp/)</th><td id=\"untimed\">%lld</td></tr>",
            c.total, c.ok, c.failed, c.pending, c.sequences, c.untimed);
    long long reviewed = 0; /* human labels (irbis review, docs/review.md) */
    if ((s = irb_store_count_reviewed(st, &reviewed, err)) != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    if (reviewed > 0)
        fprintf(f, "<tr><th>labelled by a person (irbis review)</th><td id=\"reviewed\">%lld images</td></tr>",
                reviewed);
    if (c.skipped > 0) /* videos, notes, logs: not classified, not failures (irbis scan lists them) */
        fprintf(f,
                "<tr><th>skipped: not still images (irbis scan lists them)</th><td id=\"skipped\">%lld files (%lld "
                "videos)</td></tr>",
                c.skipped, c.skipped_videos);
    if (copies.copies > 0)
        fprintf(f,
                "<tr><th>the same picture as another image (a card copied twice?)</th><td id=\"copies\">%lld images "
                "(%lld pictures)</td></tr>",
                copies.copies, copies.copy_groups);
    fputs("</table>\n", f);
    long long *images = irb_calloc((size_t)o->n_classes + 1, sizeof *images);
    long long *seqs = irb_calloc((size_t)o->n_classes + 1, sizeof *seqs);
    s = images && seqs ? counts_section(st, o, images, seqs, f, err)
                       : irb_fail(err, IRB_NOMEM, "out of memory writing the report");
    irb_free(images);
    irb_free(seqs);
    if (s == IRB_OK)
        s = sequences_section(st, o, target, f, err);
    if (s == IRB_OK && copies.copies > 0)
        s = copies_section(st, copies.copy_groups, f, err);
    if (s == IRB_OK)
        s = failed_section(st, f, err);
    fputs("</body></html>\n", f);
    if (s != IRB_OK) {
        irb_atomic_abort(&af);
        return s;
    }
    return irb_atomic_close(&af, err);
}

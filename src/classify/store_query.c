/* Reading the results store: the cursors the output writers, the review handle and distributed
 * runs read it through (one row struct per kind of row, classify_internal.h), the counts of the
 * report, and the writes of human labels. With store.c, the only code that knows the schema
 * (docs/classify.md). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "classify/store_db.h"

enum { IT_IMAGES, IT_SEQS, IT_CAMERAS, IT_REVIEWS, IT_COPIES };

struct irb_store_iter {
    irb_store *st;
    sqlite3_stmt *q;
    int kind, nc, done;
    const char *what;          /* names the query in a failure */
    double *probs, *seq_probs; /* aligned copies of the rows' probabilities (nc each) */
    irb_status s;
    irb_error e;
};

/* ---- cursors ------------------------------------------------------------------------------ */

static irb_status iter_open(irb_store *st, int kind, int nc, const char *sql, const char *what, irb_store_iter **out,
                            irb_error *err)
{
    *out = NULL;
    irb_store_iter *it = irb_calloc(1, sizeof *it);
    size_t n = nc > 0 ? (size_t)nc : 1;
    if (!it || !(it->probs = irb_malloc_array(n, sizeof(double))) ||
        !(it->seq_probs = irb_malloc_array(n, sizeof(double)))) {
        irb_store_iter_end(it, NULL);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
    }
    it->st = st, it->kind = kind, it->nc = nc, it->what = what;
    if (sqlite3_prepare_v2(st->db, sql, -1, &it->q, NULL) != SQLITE_OK) {
        irb_status s = irb_store_fail(st, err, what);
        irb_store_iter_end(it, NULL);
        return s;
    }
    *out = it;
    return IRB_OK;
}

/* The same with id bound to the query's one parameter. */
static irb_status iter_open_id(irb_store *st, int kind, int nc, const char *sql, const char *what, int64_t id,
                               irb_store_iter **out, irb_error *err)
{
    IRB_TRY(iter_open(st, kind, nc, sql, what, out, err));
    sqlite3_bind_int64((*out)->q, 1, id);
    return IRB_OK;
}

irb_status irb_store_iter_end(irb_store_iter *it, irb_error *err)
{
    if (!it)
        return IRB_OK;
    irb_status s = it->s;
    if (s != IRB_OK)
        irb_error_copy(err, &it->e);
    sqlite3_finalize(it->q);
    irb_free(it->probs);
    irb_free(it->seq_probs);
    irb_free(it);
    return s;
}

/* The next row: 1, or 0 at the end and after a failure (kept for irb_store_iter_end). */
static int step(irb_store_iter *it, int kind)
{
    if (!it || it->done)
        return 0;
    if (it->kind != kind) {
        it->s = irb_fail(&it->e, IRB_INTERNAL, "store cursor %s read as another kind of row", it->what);
        it->done = 1;
        return 0;
    }
    int rc = sqlite3_step(it->q);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE)
        it->s = irb_store_fail(it->st, &it->e, it->what);
    it->done = 1;
    return 0;
}

/* The cursor's next row of `kind`, *row zeroed: its statement, or NULL at the end. */
static sqlite3_stmt *next_row(irb_store_iter *it, int kind, void *row, size_t size)
{
    if (!step(it, kind))
        return NULL;
    memset(row, 0, size);
    return it->q;
}

static const char *text(sqlite3_stmt *q, int c)
{
    const char *t = (const char *)sqlite3_column_text(q, c);
    return t ? t : "";
}

static const char *text_or_null(sqlite3_stmt *q, int c)
{
    return sqlite3_column_type(q, c) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(q, c);
}

static double real_or_nan(sqlite3_stmt *q, int c)
{
    return sqlite3_column_type(q, c) == SQLITE_NULL ? NAN : sqlite3_column_double(q, c);
}

/* Column c's probabilities copied into buf, or NULL unless the blob holds exactly nc doubles. */
static const double *probs_of(sqlite3_stmt *q, int c, int nc, double *buf)
{
    const void *blob = sqlite3_column_blob(q, c);
    if (!blob || nc < 1 || sqlite3_column_bytes(q, c) != (int)(sizeof(double) * (size_t)nc))
        return NULL;
    memcpy(buf, blob, sizeof(double) * (size_t)nc);
    return buf;
}

/* A classified row's probabilities, label and novelty as classify writes them: nc finite values
 * in [0, 1] that sum to 1, a class index or IRB_LABEL_UNCERTAIN, a finite novelty or none. A store
 * edited by hand or damaged fails the cursor naming the row, instead of outputs written from it. */
static int row_ok(irb_store_iter *it, const char *kind, const char *name, const double *p, int label, double novelty)
{
    const char *why = NULL;
    char buf[96];
    double sum = 0;
    for (int k = 0; p && k < it->nc && !why; k++) {
        if (!(p[k] >= 0 && p[k] <= 1)) /* NaN too */
            why = "its probabilities are not numbers in [0, 1]";
        sum += p[k];
    }
    if (!p)
        why = "it has no probabilities (or not one per class)";
    else if (!why && fabs(sum - 1) > 1e-4)
        why = "its probabilities do not sum to 1";
    else if (!why && (label < 0 || label >= it->nc) && label != IRB_LABEL_UNCERTAIN) {
        snprintf(buf, sizeof buf, "its label %d is not a class (0-%d) nor uncertain", label, it->nc - 1);
        why = buf;
    } else if (!why && isinf(novelty))
        why = "its novelty is not a number";
    if (!why)
        return 1;
    it->s = irb_fail(&it->e, IRB_CORRUPT, "%s: %s %s: %s: %s", it->st->dbpath, kind, name, why, IRB_STORE_DAMAGED);
    it->done = 1;
    return 0;
}

/* ---- images --------------------------------------------------------------------------------- */

/* Every image query selects these columns in this order: the image (0-13), its review (14) and
 * its sequence (15-20), NULL where the query does not join them. */
#define IMG_COLS                                                                                                       \
    "SELECT i.id, i.path, i.camera, i.timestamp, i.tsec, i.tfrac, i.width, i.height, i.state, i.status, i.message,"    \
    " i.probs, i.label, i.novelty"
#define NO_REVIEW   ", NULL"
#define REVIEW      ", r.label"
#define NO_SEQ      ", NULL, NULL, NULL, NULL, NULL, NULL"
#define SEQ         ", s.name, s.n, NULL, s.probs, s.label, s.novelty"
#define JOIN_REVIEW " LEFT JOIN reviews r ON r.path = i.path"
#define JOIN_SEQ    " LEFT JOIN image_seq m ON m.image_id = i.id LEFT JOIN sequences s ON s.id = m.seq_id"

static const char *const IMAGE_SQL[] = {
    [IRB_IMAGES_ALL] = IMG_COLS REVIEW SEQ " FROM images i" JOIN_REVIEW JOIN_SEQ " ORDER BY i.path",
    [IRB_IMAGES_CLASSIFIED] = IMG_COLS NO_REVIEW SEQ " FROM images i" JOIN_SEQ " WHERE i.state = 1 ORDER BY i.path",
    /* frame: the place in the sequence in (time, path) order, as the sequences were built; the
     * window sorts only (sequence, time, path, id), not whole rows, and the rows are then read in
     * path order from the path index: 0.9 s instead of 1.4 s on a store of 100,000 images */
    [IRB_IMAGES_FRAMES] =
        IMG_COLS NO_REVIEW ", s.name, s.n, f.frame, s.probs, s.label, s.novelty FROM images i" JOIN_SEQ
                           " LEFT JOIN (SELECT fm.image_id AS id, ROW_NUMBER() OVER (PARTITION BY fm.seq_id ORDER BY"
                           " fi.tsec, fi.tfrac, fi.path) - 1 AS frame FROM image_seq fm JOIN images fi ON fi.id ="
                           " fm.image_id) f ON f.id = i.id WHERE i.state = 1 ORDER BY i.path",
    [IRB_IMAGES_DONE] = IMG_COLS REVIEW NO_SEQ " FROM images i" JOIN_REVIEW " WHERE i.state != 0 ORDER BY i.path",
    [IRB_IMAGES_TIMED] =
        IMG_COLS NO_REVIEW SEQ " FROM images i" JOIN_SEQ " WHERE i.state = 1 AND i.tsec IS NOT NULL ORDER BY i.path",
    [IRB_IMAGES_FAILED] = IMG_COLS NO_REVIEW NO_SEQ " FROM images i WHERE i.state = 2 ORDER BY i.path",
    [IRB_IMAGES_REVIEWED] =
        IMG_COLS REVIEW NO_SEQ " FROM images i" JOIN_REVIEW " WHERE i.state = 1 AND (r.path IS NOT NULL OR i.path IN"
                               " (SELECT path FROM review_log)) ORDER BY i.id",
    [IRB_IMAGES_PENDING] = IMG_COLS NO_REVIEW NO_SEQ " FROM images i WHERE i.state = 0 ORDER BY i.id",
    [IRB_IMAGES_PENDING_SHOTS] = IMG_COLS NO_REVIEW NO_SEQ " FROM shots sh JOIN images i ON i.id = sh.image_id"
                                                           " WHERE i.state = 0 ORDER BY sh.k",
};

/* A sequence holds only timed images or one untimed image, so (untimed last, time, path) is the
 * (time, path) order the sequences were built in. */
static const char MEMBERS_SQL[] = IMG_COLS NO_REVIEW NO_SEQ " FROM image_seq m JOIN images i ON i.id = m.image_id"
                                                            " WHERE m.seq_id = ? ORDER BY i.tsec IS NULL, i.tsec,"
                                                            " i.tfrac, i.path";

irb_status irb_store_images_begin(irb_store *st, irb_img_query q, int n_classes, irb_store_iter **it, irb_error *err)
{
    *it = NULL;
    if ((unsigned)q >= sizeof IMAGE_SQL / sizeof *IMAGE_SQL)
        return irb_fail(err, IRB_INTERNAL, "no image query %d", (int)q);
    return iter_open(st, IT_IMAGES, n_classes, IMAGE_SQL[q], "read images", it, err);
}

irb_status irb_store_members_begin(irb_store *st, int64_t seq, int n_classes, irb_store_iter **it, irb_error *err)
{
    return iter_open_id(st, IT_IMAGES, n_classes, MEMBERS_SQL, "read sequence members", seq, it, err);
}

int irb_store_images_next(irb_store_iter *it, irb_img_row *r)
{
    sqlite3_stmt *q = next_row(it, IT_IMAGES, r, sizeof *r);
    if (!q)
        return 0;
    r->id = sqlite3_column_int64(q, 0);
    r->path = text(q, 1), r->camera = text(q, 2), r->timestamp = text(q, 3);
    r->timed = sqlite3_column_type(q, 4) != SQLITE_NULL;
    r->tsec = sqlite3_column_int64(q, 4), r->tfrac = sqlite3_column_double(q, 5);
    r->has_size = sqlite3_column_type(q, 6) != SQLITE_NULL;
    r->width = sqlite3_column_int(q, 6), r->height = sqlite3_column_int(q, 7);
    r->state = sqlite3_column_int(q, 8);
    r->status = text(q, 9), r->message = text(q, 10);
    r->probs = probs_of(q, 11, it->nc, it->probs);
    r->has_label = sqlite3_column_type(q, 12) != SQLITE_NULL, r->label = sqlite3_column_int(q, 12);
    r->novelty = real_or_nan(q, 13);
    r->human = text_or_null(q, 14);
    r->seq_name = text_or_null(q, 15);
    r->seq_n = sqlite3_column_int64(q, 16);
    r->frame = sqlite3_column_int(q, 17);
    r->seq_probs = probs_of(q, 18, it->nc, it->seq_probs);
    r->has_seq_label = sqlite3_column_type(q, 19) != SQLITE_NULL, r->seq_label = sqlite3_column_int(q, 19);
    r->seq_novelty = real_or_nan(q, 20);
    if (r->state == 1 && !row_ok(it, "image", r->path, r->probs, r->has_label ? r->label : -1, r->novelty))
        return 0;
    return !r->seq_name ||
           row_ok(it, "sequence", r->seq_name, r->seq_probs, r->has_seq_label ? r->seq_label : -1, r->seq_novelty);
}

/* ---- sequences ------------------------------------------------------------------------------ */

#define SEQ_COLS "SELECT s.id, s.name, s.camera, s.start, s.end, s.n, s.probs, s.label, s.novelty"
#define SEQ_REVIEWS                                                                                                    \
    " FROM image_seq hm JOIN images hi ON hi.id = hm.image_id JOIN reviews r ON r.path = hi.path"                      \
    " WHERE hm.seq_id = s.id"
/* A sequence has a human label only while a person has seen every member: frames added to a
 * reviewed burst later (a second card, a longer --gap) were never seen, so the sequence is the
 * machine's again, and the review queue offers it, until it is labelled whole. The check is made
 * once per sequence, outside the subquery over its reviews: inside it, it was made again for each
 * reviewed member, k^2 rows for a sequence of k (1.3 s to read one reviewed sequence of 1,000
 * frames, as a timelapse camera or cattle grazing in front of one make, at every run and export). */
#define SEQ_ALL_REVIEWED                                                                                               \
    " CASE WHEN (SELECT count(*) FROM image_seq am JOIN images ai ON ai.id = am.image_id JOIN reviews ar ON"           \
    " ar.path = ai.path WHERE am.seq_id = s.id) = s.n THEN "
#define SEQ_HUMAN                                                                                                      \
    "," SEQ_ALL_REVIEWED "(SELECT r.label" SEQ_REVIEWS                                                                 \
    " GROUP BY r.label ORDER BY count(*) DESC, r.label LIMIT 1) END," SEQ_ALL_REVIEWED                                 \
    "(SELECT max(r.time)" SEQ_REVIEWS " GROUP BY r.label ORDER BY count(*) DESC, r.label LIMIT 1) END,"                \
    " (SELECT max(r.time)" SEQ_REVIEWS ")"
#define NO_HUMAN ", NULL, NULL, NULL"

static const char *const SEQ_SQL[] = {
    [IRB_SEQS_ALL] = SEQ_COLS NO_HUMAN " FROM sequences s ORDER BY s.id",
    [IRB_SEQS_HUMAN] = SEQ_COLS SEQ_HUMAN " FROM sequences s ORDER BY s.id",
    [IRB_SEQS_EVENTS] = SEQ_COLS SEQ_HUMAN " FROM sequences s WHERE s.start != '' ORDER BY s.id",
    [IRB_SEQS_REVIEWED] = SEQ_COLS SEQ_HUMAN " FROM sequences s WHERE s.id IN (SELECT m.seq_id FROM image_seq m"
                                             " JOIN images i ON i.id = m.image_id JOIN review_log l ON l.path = i.path)"
                                             " ORDER BY s.id",
};

irb_status irb_store_seqs_begin(irb_store *st, irb_seq_query q, int n_classes, irb_store_iter **it, irb_error *err)
{
    *it = NULL;
    if ((unsigned)q >= sizeof SEQ_SQL / sizeof *SEQ_SQL)
        return irb_fail(err, IRB_INTERNAL, "no sequence query %d", (int)q);
    return iter_open(st, IT_SEQS, n_classes, SEQ_SQL[q], "read sequences", it, err);
}

irb_status irb_store_seq_begin(irb_store *st, int64_t id, int n_classes, irb_store_iter **it, irb_error *err)
{
    return iter_open_id(st, IT_SEQS, n_classes, SEQ_COLS NO_HUMAN " FROM sequences s WHERE s.id = ?", "read sequence",
                        id, it, err);
}

int irb_store_seqs_next(irb_store_iter *it, irb_seq_row *r)
{
    sqlite3_stmt *q = next_row(it, IT_SEQS, r, sizeof *r);
    if (!q)
        return 0;
    r->id = sqlite3_column_int64(q, 0);
    r->name = text(q, 1), r->camera = text(q, 2), r->start = text(q, 3), r->end = text(q, 4);
    r->n = sqlite3_column_int64(q, 5);
    r->probs = probs_of(q, 6, it->nc, it->probs);
    r->label = sqlite3_column_int(q, 7);
    r->novelty = real_or_nan(q, 8);
    r->human = text_or_null(q, 9), r->human_time = text_or_null(q, 10), r->review_time = text_or_null(q, 11);
    return row_ok(it, "sequence", r->name, r->probs, r->label, r->novelty);
}

/* ---- cameras and reviews ---------------------------------------------------------------------- */

irb_status irb_store_cameras_begin(irb_store *st, irb_store_iter **it, irb_error *err)
{
    return iter_open(
        st, IT_CAMERAS, 0,
        "SELECT camera, count(*), sum(state = 2), sum(state = 1), count(CASE WHEN state = 1 THEN tsec END),"
        " min(CASE WHEN state = 1 THEN tsec END), max(CASE WHEN state = 1 THEN tsec END)"
        " FROM images GROUP BY camera ORDER BY camera",
        "read cameras", it, err);
}

int irb_store_cameras_next(irb_store_iter *it, irb_camera_row *r)
{
    sqlite3_stmt *q = next_row(it, IT_CAMERAS, r, sizeof *r);
    if (!q)
        return 0;
    r->camera = text(q, 0);
    r->images = sqlite3_column_int64(q, 1), r->failed = sqlite3_column_int64(q, 2);
    r->classified = sqlite3_column_int64(q, 3), r->timed = sqlite3_column_int64(q, 4);
    r->tmin = sqlite3_column_int64(q, 5), r->tmax = sqlite3_column_int64(q, 6);
    return 1;
}

irb_status irb_store_reviews_begin(irb_store *st, irb_store_iter **it, irb_error *err)
{
    return iter_open(st, IT_REVIEWS, 0, "SELECT path, label, time, method FROM reviews ORDER BY path", "read labels",
                     it, err);
}

int irb_store_reviews_next(irb_store_iter *it, irb_review_row *r)
{
    sqlite3_stmt *q = next_row(it, IT_REVIEWS, r, sizeof *r);
    if (!q)
        return 0;
    r->path = text(q, 0), r->label = text(q, 1), r->time = text(q, 2), r->method = text(q, 3);
    return 1;
}

/* The digests held by more than one row are found on the index images_sha alone (its entries
 * are in digest order, with no row read); only those rows are then read. Reading every row in
 * digest order, which is random order on disk, took 0.8 s of a store of 100,000 images (and
 * grew faster than the store, as fewer of its pages stayed cached), this 0.06 s. */
irb_status irb_store_copies_begin(irb_store *st, irb_store_iter **it, irb_error *err)
{
    const char *sql = irb_store_has_column(st, "images", "sha_data") /* not in a read-only earlier store */
                          ? "SELECT min(path), max(path), count(*) FROM images WHERE state = 1 AND sha_data IN"
                            " (SELECT sha_data FROM images WHERE sha_data IS NOT NULL AND sha_data != '' GROUP BY"
                            " sha_data HAVING count(*) > 1) GROUP BY sha_data HAVING count(*) > 1 ORDER BY 1"
                          : "SELECT '', '', 0 WHERE 0";
    return iter_open(st, IT_COPIES, 0, sql, "read copies", it, err);
}

int irb_store_copies_next(irb_store_iter *it, irb_copy_row *r)
{
    sqlite3_stmt *q = next_row(it, IT_COPIES, r, sizeof *r);
    if (!q)
        return 0;
    r->first = text(q, 0), r->last = text(q, 1), r->n = sqlite3_column_int64(q, 2);
    return 1;
}

irb_status irb_store_copies_count(irb_store *st, irb_classify_summary *sum, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_copies_begin(st, &it, err));
    irb_copy_row r;
    sum->copies = sum->copy_groups = 0;
    while (irb_store_copies_next(it, &r)) {
        if (sum->copy_groups++ == 0) {
            snprintf(sum->first_copy[0], sizeof sum->first_copy[0], "%s", r.first);
            snprintf(sum->first_copy[1], sizeof sum->first_copy[1], "%s", r.last);
        }
        sum->copies += r.n;
    }
    return irb_store_iter_end(it, err);
}

/* ---- counts ------------------------------------------------------------------------------------ */

/* Adds the (label, count) rows of sql (camera bound to ?1 when given) into out[0..nc]. */
static irb_status add_label_counts(irb_store *st, const char *sql, const char *camera, int nc, long long *out,
                                   irb_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare counts");
    if (camera)
        sqlite3_bind_text(q, 1, camera, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int k = sqlite3_column_int(q, 0);
        k = k == IRB_LABEL_UNCERTAIN ? nc : k;
        if (sqlite3_column_type(q, 0) != SQLITE_NULL && k >= 0 && k <= nc)
            out[k] += sqlite3_column_int64(q, 1);
    }
    irb_status s = rc == SQLITE_DONE ? IRB_OK : irb_store_fail(st, err, "count labels");
    sqlite3_finalize(q);
    return s;
}

irb_status irb_store_label_counts(irb_store *st, const char *camera, int n_classes, long long *images, long long *seqs,
                                  irb_error *err)
{
    memset(seqs, 0, sizeof *seqs * ((size_t)n_classes + 1));
    if (images) {
        memset(images, 0, sizeof *images * ((size_t)n_classes + 1));
        IRB_TRY(add_label_counts(st, "SELECT label, count(*) FROM images WHERE state = 1 GROUP BY label", NULL,
                                 n_classes, images, err));
    }
    return add_label_counts(st,
                            camera ? "SELECT label, count(*) FROM sequences WHERE camera = ?1 GROUP BY label"
                                   : "SELECT label, count(*) FROM sequences GROUP BY label",
                            camera, n_classes, seqs, err);
}

irb_status irb_store_count_reviewed(irb_store *st, long long *n, irb_error *err)
{
    *n = 0;
    return irb_store_count(st, "SELECT count(*) FROM images i JOIN reviews r ON r.path = i.path WHERE i.state = 1", n,
                           err);
}

irb_status irb_store_gone_each(irb_store *st, irb_status (*fn)(void *ctx, const char *path, irb_error *err), void *ctx,
                               irb_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT path FROM gone ORDER BY path", -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare gone");
    irb_status s = IRB_OK;
    int rc;
    while (s == IRB_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        s = fn(ctx, text(q, 0), err);
    if (s == IRB_OK && rc != SQLITE_DONE)
        s = irb_store_fail(st, err, "read gone");
    sqlite3_finalize(q);
    return s;
}

irb_status irb_store_gone_clear(irb_store *st, irb_error *err)
{
    if (sqlite3_exec(st->db, "DELETE FROM gone", NULL, NULL, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "clear gone");
    return IRB_OK;
}

irb_status irb_store_classified_id(irb_store *st, const char *path, int64_t *id, irb_error *err)
{
    sqlite3_stmt *q = NULL;
    *id = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT id FROM images WHERE path = ? AND state = 1", -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare image");
    sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(q, 0);
    irb_status s = rc == SQLITE_ROW || rc == SQLITE_DONE ? IRB_OK : irb_store_fail(st, err, "read image");
    sqlite3_finalize(q);
    return s;
}

/* ---- human labels --------------------------------------------------------------------------- */

static irb_status set_label(irb_store *st, sqlite3_stmt **q, const char *sql, int64_t id, int label, irb_error *err)
{
    IRB_TRY(irb_store_prepare(st, sql, q, err));
    sqlite3_bind_int(*q, 1, label);
    sqlite3_bind_int64(*q, 2, id);
    return sqlite3_step(*q) == SQLITE_DONE ? IRB_OK : irb_store_fail(st, err, "store human label");
}

irb_status irb_store_set_image_label(irb_store *st, int64_t id, int label, irb_error *err)
{
    return set_label(st, &st->img_label, "UPDATE images SET label = ? WHERE id = ?", id, label, err);
}

irb_status irb_store_set_seq_label(irb_store *st, int64_t id, int label, irb_error *err)
{
    return set_label(st, &st->seq_label, "UPDATE sequences SET label = ? WHERE id = ?", id, label, err);
}

#define MEMBER_PATHS "SELECT i.path FROM image_seq m JOIN images i ON i.id = m.image_id WHERE m.seq_id = ?3"

irb_status irb_store_review_seq(irb_store *st, int64_t seq, const char *label, const char *time, irb_error *err)
{
    /* ?1 label (NULL in the log: removed), ?2 time, ?3 sequence; a statement binds the numbers it
     * does not use harmlessly (its parameter count is the highest number) */
    int put = label && label[0];
    IRB_TRY(put ? irb_store_prepare(st,
                                    "INSERT OR REPLACE INTO reviews(path, label, time, method) SELECT path, ?1, ?2,"
                                    " 'human' FROM (" MEMBER_PATHS ")",
                                    &st->rv_put, err)
                : irb_store_prepare(st, "DELETE FROM reviews WHERE path IN (" MEMBER_PATHS ")", &st->rv_del, err));
    IRB_TRY(irb_store_prepare(st,
                              "INSERT INTO review_log(path, label, time, method) SELECT path, ?1, ?2, 'human'"
                              " FROM (" MEMBER_PATHS ")",
                              &st->rv_log, err));
    sqlite3_stmt *both[2] = {put ? st->rv_put : st->rv_del, st->rv_log};
    for (int j = 0; j < 2; j++) {
        if (put)
            sqlite3_bind_text(both[j], 1, label, -1, SQLITE_STATIC);
        sqlite3_bind_text(both[j], 2, time, -1, SQLITE_STATIC);
        sqlite3_bind_int64(both[j], 3, seq);
        if (sqlite3_step(both[j]) != SQLITE_DONE)
            return irb_store_fail(st, err, "store review");
    }
    return IRB_OK;
}

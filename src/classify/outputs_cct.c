/* OUT/coco-camera-traps.json: the run's labels in the COCO Camera Traps format (the format of
 * the LILA camera-trap datasets and of MegaDetector's training data; docs/classify.md). */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/text.h"
#include "classify/classify_internal.h"

/* Category ids: the class named "empty" is 0 (the format's convention), the others follow in
 * class order from 1 (or from 0 when there is no empty class). */
static int empty_class(const irb_outputs_opts *o)
{
    for (int k = 0; k < o->n_classes; k++)
        if (!strcmp(o->classes[k], "empty"))
            return k;
    return -1;
}

static int category_id(const irb_outputs_opts *o, int empty, int k)
{
    if (k == IRB_LABEL_UNCERTAIN)
        return o->n_classes; /* after the classes' ids 0 .. n_classes - 1 */
    return empty < 0 ? k : k == empty ? 0 : k < empty ? k + 1 : k;
}

static void put_categories(FILE *f, const irb_outputs_opts *o, int empty)
{
    fputs("  \"categories\": [", f);
    for (int i = -1; i < o->n_classes; i++) { /* i = -1: the empty class first */
        int k = i < 0 ? empty : i;
        if (k < 0 || (i >= 0 && k == empty))
            continue;
        fprintf(f, "%s\n    {\"id\": %d, \"name\": ", category_id(o, empty, k) ? "," : "", category_id(o, empty, k));
        irb_json_put(f, o->classes[k]);
        fputc('}', f);
    }
    if (irb_uncertain_on(o))
        fprintf(f, ",\n    {\"id\": %d, \"name\": \"uncertain\"}", category_id(o, empty, IRB_LABEL_UNCERTAIN));
    fputs("\n  ],\n", f);
}

/* "2016-01-18T07:12:33" -> "2016-01-18 07:12:33" (the format's datetime) */
static void put_datetime(FILE *f, const char *ts)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", ts ? ts : "");
    char *t = strchr(buf, 'T');
    if (t)
        *t = ' ';
    irb_json_put(f, buf);
}

irb_status irb_write_cct(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(irb_out_open(st, "coco-camera-traps.json", &af, err));
    FILE *f = af.f;
    fputs("{\n  \"info\": {\"version\": \"1.0\", \"description\": \"irbis classify: one label per classified "
          "image (the image's own label; the sequence's is in predictions.csv)\", \"contributor\": \"irbis\"},\n",
          f);
    int empty = empty_class(o);
    put_categories(f, o, empty);
    /* frame_num: the image's place in its sequence in (time, path) order, as the sequences were built */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(irb_store_db(st),
                           "SELECT i.path, i.camera, i.timestamp, i.width, i.height, s.name, s.n,"
                           " ROW_NUMBER() OVER (PARTITION BY m.seq_id ORDER BY i.tsec, i.tfrac, i.path) - 1,"
                           " i.label, i.probs FROM images i"
                           " LEFT JOIN image_seq m ON m.image_id = i.id LEFT JOIN sequences s ON s.id = m.seq_id"
                           " WHERE i.state = 1 ORDER BY i.path",
                           -1, &q, NULL) != SQLITE_OK) {
        irb_atomic_abort(&af);
        return irb_db_fail(st, err, "prepare coco-camera-traps");
    }
    /* images and annotations are two arrays: the rows are read twice */
    irb_status out = IRB_OK;
    for (int pass = 0; pass < 2 && out == IRB_OK; pass++) {
        fputs(pass ? "  \"annotations\": [" : "  \"images\": [", f);
        int rc, first = 1;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *p = (const char *)sqlite3_column_text(q, 0);
            fputs(first ? "\n    {" : ",\n    {", f);
            first = 0;
            if (!pass) {
                fputs("\"id\": ", f);
                irb_json_put(f, p);
                fputs(", \"file_name\": ", f);
                irb_json_put(f, p);
                fputs(", \"location\": ", f);
                irb_json_put(f, (const char *)sqlite3_column_text(q, 1));
                const char *ts = (const char *)sqlite3_column_text(q, 2);
                if (ts && *ts)
                    fputs(", \"datetime\": ", f), put_datetime(f, ts);
                if (sqlite3_column_type(q, 3) != SQLITE_NULL)
                    fprintf(f, ", \"width\": %d, \"height\": %d", sqlite3_column_int(q, 3), sqlite3_column_int(q, 4));
                if (sqlite3_column_type(q, 5) != SQLITE_NULL) {
                    fputs(", \"seq_id\": ", f);
                    irb_json_put(f, (const char *)sqlite3_column_text(q, 5));
                    fprintf(f, ", \"seq_num_frames\": %d, \"frame_num\": %d", sqlite3_column_int(q, 6),
                            sqlite3_column_int(q, 7));
                }
            } else {
                int k = sqlite3_column_int(q, 8);
                double conf = 0, pk;
                const char *blob = sqlite3_column_blob(q, 9);
                int ok = blob && sqlite3_column_bytes(q, 9) == (int)(sizeof(double) * (size_t)o->n_classes);
                for (int j = 0; ok && j < o->n_classes; j++) { /* p(label); uncertain: the top p */
                    memcpy(&pk, blob + (size_t)j * sizeof pk, sizeof pk);
                    conf = j == k || (k == IRB_LABEL_UNCERTAIN && pk > conf) ? pk : conf;
                }
                fputs("\"id\": ", f);
                irb_json_put(f, p);
                fputs(", \"image_id\": ", f);
                irb_json_put(f, p);
                fprintf(f, ", \"category_id\": %d, \"sequence_level_annotation\": false, \"conf\": %.6f",
                        category_id(o, empty, k), conf);
            }
            fputc('}', f);
        }
        if (rc != SQLITE_DONE)
            out = irb_db_fail(st, err, "read coco-camera-traps");
        fputs(pass ? "\n  ]\n" : "\n  ],\n", f);
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (out != IRB_OK) {
        irb_atomic_abort(&af);
        return out;
    }
    fputs("}\n", f);
    return irb_atomic_close(&af, err);
}

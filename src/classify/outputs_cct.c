/* OUT/coco-camera-traps.json: the run's labels in the COCO Camera Traps format (the format of
 * the LILA camera-trap datasets and of MegaDetector's training data; docs/classify.md). */
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

/* frame_num: the image's place in its sequence in (time, path) order, as the sequences were built */
static void put_image(FILE *f, const irb_img_row *r)
{
    irb_json_put_member(f, "", "id", r->path);
    irb_json_put_member(f, ", ", "file_name", r->path);
    irb_json_put_member(f, ", ", "location", r->camera);
    if (r->timestamp[0])
        fputs(", \"datetime\": ", f), put_datetime(f, r->timestamp);
    if (r->has_size)
        fprintf(f, ", \"width\": %d, \"height\": %d", r->width, r->height);
    if (r->seq_name) {
        irb_json_put_member(f, ", ", "seq_id", r->seq_name);
        fprintf(f, ", \"seq_num_frames\": %d, \"frame_num\": %d", (int)r->seq_n, r->frame);
    }
}

static void put_annotation(FILE *f, const irb_outputs_opts *o, int empty, const irb_img_row *r)
{
    int k = r->label;
    double conf = 0;
    for (int j = 0; r->probs && j < o->n_classes; j++) /* p(label); uncertain: the top p */
        conf = j == k || (k == IRB_LABEL_UNCERTAIN && r->probs[j] > conf) ? r->probs[j] : conf;
    irb_json_put_member(f, "", "id", r->path);
    irb_json_put_member(f, ", ", "image_id", r->path);
    fprintf(f, ", \"category_id\": %d, \"sequence_level_annotation\": false, \"conf\": %.6f", category_id(o, empty, k),
            conf);
}

irb_status irb_write_cct(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    irb_atomic_file af;
    IRB_TRY(irb_out_open(st, IRB_OUT_CCT, &af, err));
    FILE *f = af.f;
    fputs("{\n  \"info\": {\"version\": \"1.0\", \"description\": \"irbis classify: one label per classified "
          "image (the image's own label; the sequence's is in predictions.csv)\", \"contributor\": \"irbis\"},\n",
          f);
    int empty = empty_class(o);
    put_categories(f, o, empty);
    /* images and annotations are two arrays: the rows are read twice, the frame numbers (a
     * sort of every row) only for the images */
    irb_status out = IRB_OK;
    for (int pass = 0; pass < 2 && out == IRB_OK; pass++) {
        fputs(pass ? "  \"annotations\": [" : "  \"images\": [", f);
        irb_store_iter *it;
        out = irb_store_images_begin(st, pass ? IRB_IMAGES_CLASSIFIED : IRB_IMAGES_FRAMES, o->n_classes, &it, err);
        irb_img_row r;
        for (int first = 1; out == IRB_OK && irb_store_images_next(it, &r); first = 0) {
            fputs(first ? "\n    {" : ",\n    {", f);
            if (!pass)
                put_image(f, &r);
            else
                put_annotation(f, o, empty, &r);
            fputc('}', f);
        }
        if (out == IRB_OK)
            out = irb_store_iter_end(it, err);
        fputs(pass ? "\n  ]\n" : "\n  ],\n", f);
    }
    if (out != IRB_OK) {
        irb_atomic_abort(&af);
        return out;
    }
    fputs("}\n", f);
    return irb_atomic_close(&af, err);
}

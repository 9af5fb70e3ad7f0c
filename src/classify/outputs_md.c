/* OUT/megadetector.json: the run's labels in the MegaDetector batch output format 1.6, the
 * interchange format Timelapse and AddaxAI import. irbis classifies whole images, so it follows
 * the convention of SpeciesNet's converter: a non-empty image gets one detection covering the
 * whole image (bbox [0, 0, 1, 1]) with the classifier's probabilities as its classifications.
 * Details: docs/classify.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/text.h"
#include "classify/classify_internal.h"

/* The detection category of a class in MegaDetector's own numbering ("0" is informally reserved
 * for empty): 0 for a blank class (no detection), 1 animal, 2 person, 3 vehicle. */
static int md_category(const char *cls)
{
    const char *t = irb_obs_type(cls);
    return !strcmp(t, "blank") ? 0 : !strcmp(t, "human") ? 2 : !strcmp(t, "vehicle") ? 3 : 1;
}

/* The detection threshold the labels amount to: a detection exists iff the label is not blank. */
static double md_threshold(const irb_outputs_opts *o)
{
    if (o->pos < 0)
        return 0.5;
    return md_category(o->classes[o->pos]) ? o->threshold : 1.0 - o->threshold;
}

static void put_info(FILE *f, const irb_outputs_opts *o)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", &tm);
    fputs("{\n  \"info\": {\"format_version\": \"1.6\", \"detector\": \"none (whole-image classification)\", "
          "\"classifier\": ",
          f);
    irb_json_put(f, o->classified_by);
    fprintf(f,
            ", \"classification_completion_time\": \"%s\",\n    \"detector_metadata\": "
            "{\"typical_detection_threshold\": %.6f, \"conservative_detection_threshold\": %.6f},\n",
            now, md_threshold(o), md_threshold(o));
    fprintf(f, "    \"classifier_metadata\": {\"typical_classification_threshold\": %.6f, \"classes\": [",
            o->pos >= 0 ? o->threshold : 0.5);
    for (int k = 0; k < o->n_classes; k++)
        fputs(k ? ", " : "", f), irb_json_put(f, o->classes[k]);
    fputs("], \"positive_class\": ", f);
    if (o->pos >= 0)
        irb_json_put(f, o->classes[o->pos]);
    else
        fputs("null", f);
    if (o->min_confidence > 0)
        fprintf(f, ", \"uncertain_below\": %g", o->min_confidence);
    if (o->novelty_threshold > 0)
        fprintf(f, ", \"novel_above\": %g", o->novelty_threshold);
    fprintf(f,
            ", \"sequence_gap_seconds\": %g, \"labels\": \"each image's own label (sequence labels are in "
            "predictions.csv); a label a person gave (irbis review) has conf 1 and its class alone\"}},\n",
            o->gap);
    fputs("  \"detection_categories\": {\"1\": \"animal\", \"2\": \"person\", \"3\": \"vehicle\"},\n", f);
    fputs("  \"classification_categories\": {", f);
    for (int k = 0; k < o->n_classes; k++)
        fprintf(f, "%s\"%d\": ", k ? ", " : "", k), irb_json_put(f, o->classes[k]);
    if (irb_uncertain_on(o))
        fprintf(f, ", \"%d\": \"uncertain\"", o->n_classes);
    fputs("},\n", f);
    if (o->taxa && *o->taxa) {
        char taxon[256];
        fputs("  \"classification_category_descriptions\": {", f);
        for (int k = 0; k < o->n_classes; k++) {
            irb_taxon(o->taxa, o->classes[k], taxon, sizeof taxon);
            fprintf(f, "%s\"%d\": ", k ? ", " : "", k), irb_json_put(f, taxon[0] ? taxon : o->classes[k]);
        }
        if (o->min_confidence > 0 && o->novelty_threshold > 0)
            fprintf(f, ", \"%d\": \"uncertain: top probability below %g, or novel (novelty above %g)\"", o->n_classes,
                    o->min_confidence, o->novelty_threshold);
        else if (o->min_confidence > 0)
            fprintf(f, ", \"%d\": \"uncertain: top probability below %g\"", o->n_classes, o->min_confidence);
        else if (o->novelty_threshold > 0)
            fprintf(f, ", \"%d\": \"uncertain: novel (novelty above %g)\"", o->n_classes, o->novelty_threshold);
        fputs("},\n", f);
    }
}

/* The most probable non-blank class, -1 when there is none. */
static int top_nonblank(const irb_outputs_opts *o, const double *p)
{
    int best = -1;
    for (int k = 0; k < o->n_classes; k++)
        if (md_category(o->classes[k]) && (best < 0 || p[k] > p[best]))
            best = k;
    return best;
}

/* One detection over the whole image: conf is the probability of the label's category (the sum
 * over the classes mapping to it); the classifications list the non-blank classes by p. An
 * uncertain image gets the category of its most probable non-blank class and "uncertain" (with
 * the top probability) first among its classifications. */
static void put_detection(FILE *f, const irb_outputs_opts *o, const double *p, int label, int *order)
{
    if (!p) { /* a human label: certain, its class alone */
        fprintf(f,
                "[{\"category\": \"%d\", \"conf\": 1.0, \"bbox\": [0.0, 0.0, 1.0, 1.0], \"classifications\": "
                "[[\"%d\", 1.0]]}]",
                md_category(o->classes[label]), label);
        return;
    }
    int uncertain = label == IRB_LABEL_UNCERTAIN;
    int cat = md_category(o->classes[uncertain ? top_nonblank(o, p) : label]), n = 0;
    double conf = 0, top = 0;
    for (int k = 0; k < o->n_classes; k++) {
        int c = md_category(o->classes[k]);
        conf += c == cat ? p[k] : 0;
        top = p[k] > top ? p[k] : top;
        if (c) {
            int j = n++;
            for (; j > 0 && p[order[j - 1]] < p[k]; j--) /* stable: lower index first on ties */
                order[j] = order[j - 1];
            order[j] = k;
        }
    }
    conf = conf > 1 ? 1 : conf;
    fprintf(f, "[{\"category\": \"%d\", \"conf\": %.6f, \"bbox\": [0.0, 0.0, 1.0, 1.0], \"classifications\": [", cat,
            conf);
    if (uncertain)
        fprintf(f, "[\"%d\", %.6f]%s", o->n_classes, top, n ? ", " : "");
    for (int j = 0; j < n; j++)
        fprintf(f, "%s[\"%d\", %.6f]", j ? ", " : "", order[j], p[order[j]]);
    fputs("]}]", f);
}

/* A failed image (or one whose label or probabilities are unusable): its failure, no detections. */
static void put_failure(FILE *f, const irb_img_row *r)
{
    size_t n = strlen(r->status) + strlen(r->message) + 3;
    char *text = irb_malloc(n);
    if (text)
        snprintf(text, n, "%s: %s", r->status, r->message);
    fputs(", \"failure\": ", f);
    irb_json_put(f, text ? text : "error");
    fputs(", \"detections\": null}", f);
    irb_free(text);
}

static void put_image(FILE *f, const irb_outputs_opts *o, const irb_img_row *r, int *order)
{
    irb_json_put(f, r->path);
    const double *p = r->probs;
    int label = r->label;
    if (r->state != IRB_IMG_OK || !p || !irb_label_name(o, label)) {
        put_failure(f, r);
        return;
    }
    fputs(", \"detections\": ", f);
    if (label >= 0 && r->human && !strcmp(r->human, o->classes[label])) /* a person's label (irbis review) */
        p = NULL;
    if (!p)
        md_category(o->classes[label]) ? put_detection(f, o, NULL, label, order) : (void)fputs("[]", f);
    else if (label == IRB_LABEL_UNCERTAIN ? top_nonblank(o, p) >= 0 : md_category(o->classes[label]) != 0)
        put_detection(f, o, p, label, order);
    else
        fputs("[]", f);
    fputc('}', f);
}

static irb_status put_images(irb_store *st, const irb_outputs_opts *o, FILE *f, int *order, irb_error *err)
{
    irb_store_iter *it;
    IRB_TRY(irb_store_images_begin(st, IRB_IMAGES_DONE, o->n_classes, &it, err));
    fputs("  \"images\": [", f);
    irb_img_row r;
    for (int first = 1; irb_store_images_next(it, &r); first = 0) {
        fputs(first ? "\n    {\"file\": " : ",\n    {\"file\": ", f);
        put_image(f, o, &r, order);
    }
    IRB_TRY(irb_store_iter_end(it, err));
    fputs("\n  ]\n}\n", f);
    return IRB_OK;
}

irb_status irb_write_md(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    int *order = irb_malloc_array((size_t)o->n_classes, sizeof *order);
    if (!order)
        return irb_fail(err, IRB_NOMEM, "%s/megadetector.json: out of memory", irb_store_dir(st));
    irb_atomic_file af;
    irb_status s = irb_out_open(st, IRB_OUT_MD, &af, err);
    if (s == IRB_OK) {
        put_info(af.f, o);
        s = put_images(st, o, af.f, order, err);
        s = s == IRB_OK ? irb_atomic_close(&af, err) : (irb_atomic_abort(&af), s);
    }
    irb_free(order);
    return s;
}

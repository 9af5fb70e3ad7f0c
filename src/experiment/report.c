/* The experiment's outputs: the table (CSV, Markdown), results.json, the ROC curves (CSV, SVG)
 * and an HTML report that opens offline in a browser. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "core/text.h"
#include "experiment/experiment_internal.h"

static const char *task_name(irb_task t)
{
    return t == IRB_TASK_EMPTY ? "empty vs animal" : t == IRB_TASK_SPECIES ? "species" : "positive class vs rest";
}

/* A number as JSON (NaN as null) into buf. */
static const char *jnum(double v, char *buf, size_t n)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, n, "null");
    else
        snprintf(buf, n, "%.6g", v);
    return buf;
}

static const char *pct(double v, char *buf, size_t n)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.1f", 100 * v);
    return buf;
}

/* An AUC as the tables print it; "-" when undefined (no positive class, one class present). */
static const char *auc_text(double v, char *buf, size_t n)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.3f", v);
    return buf;
}

/* OUT/name, replaced atomically (core/file.h). */
static irb_status open_out(const irb_experiment_opts *o, const char *name, irb_atomic_file *af, irb_error *err)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
    return irb_atomic_open(af, path, err);
}

static irb_status write_table_csv(const irb_experiment_opts *o, const irb_experiment_result *r, irb_error *err)
{
    char a[32], b[32], c[32], d[32], e[32], f2[32];
    irb_atomic_file af;
    IRB_TRY(open_out(o, "table.csv", &af, err));
    FILE *f = af.f;
    fprintf(f, "row,features,accuracy,balanced_accuracy,auc,fold_accuracy_min,fold_accuracy_max,"
               "sequence_accuracy,mean_log10_C,crop_auto_folds,input_sizes,train_seconds,feature_seconds\n");
    for (int i = 0; i < r->n_rows; i++) {
        const irb_experiment_row *w = &r->rows[i];
        fprintf(f, "%s,%d,%s,%s,%s,%s,%s,%s,%.3f,%d,%s,%.2f,%.2f\n", w->name, w->features, jnum(w->accuracy, a, 32),
                jnum(w->balanced_accuracy, b, 32), jnum(w->auc, c, 32), jnum(w->fold_acc_min, d, 32),
                jnum(w->fold_acc_max, e, 32), jnum(w->seq_accuracy, f2, 32), w->mean_log10_C, w->crop_auto_folds,
                w->sizes, w->train_seconds, w->feature_seconds);
    }
    return irb_atomic_close(&af, err);
}

static irb_status write_table_md(const irb_experiment_opts *o, const irb_experiment_result *r, irb_error *err)
{
    char a[16], b[16], c[16], d[16], e[16], u[16];
    irb_atomic_file af;
    IRB_TRY(open_out(o, "table.md", &af, err));
    FILE *f = af.f;
    fprintf(f,
            "| row | features | accuracy %% | balanced %% | AUC | folds min-max %% | sequences %% | C | strips cropped "
            "| input size | train s |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->n_rows; i++) {
        const irb_experiment_row *w = &r->rows[i];
        fprintf(f, "| %s | %d | %s | %s | %s | %s-%s | %s | 10^%.1f | %d/%d | %s | %.1f |\n", w->name, w->features,
                pct(w->accuracy, a, 16), pct(w->balanced_accuracy, b, 16), auc_text(w->auc, u, 16),
                pct(w->fold_acc_min, c, 16), pct(w->fold_acc_max, d, 16), pct(w->seq_accuracy, e, 16), w->mean_log10_C,
                w->crop_auto_folds, r->folds, w->sizes[0] ? w->sizes : "-", w->train_seconds);
    }
    return irb_atomic_close(&af, err);
}

static irb_status write_json(const irb_experiment_opts *o, const irb_experiment_result *r, irb_error *err)
{
    char a[32], b[32], c[32], d[32];
    irb_atomic_file af;
    IRB_TRY(open_out(o, "results.json", &af, err));
    FILE *f = af.f;
    fprintf(f, "{\n  \"task\": \"%s\",\n  \"positive\": ", task_name(o->task));
    irb_json_put(f, r->positive); /* a class name: any text */
    fprintf(f,
            ",\n  \"images\": %zu,\n  \"failed\": %zu,\n"
            "  \"sequences\": %zu,\n  \"classes\": %d,\n  \"folds\": %d,\n  \"fold_unit\": \"%s\",\n"
            "  \"C\": %s,\n  \"combine\": \"%s\",\n  \"rows\": [\n",
            r->n_images, r->n_failed, r->n_sequences, r->n_classes, r->folds, r->unit,
            o->C > 0 ? jnum(o->C, d, 32) : "\"chosen by inner cross-validation\"",
            o->combine == IRB_COMBINE_MEAN ? "mean" : "choose");
    for (int i = 0; i < r->n_rows; i++) {
        const irb_experiment_row *w = &r->rows[i];
        fprintf(f,
                "    {\"row\": \"%s\", \"features\": %d, \"accuracy\": %s, \"balanced_accuracy\": %s, "
                "\"auc\": %s, \"sequence_accuracy\": %s, \"mean_log10_C\": %.3f, \"crop_auto_folds\": %d, "
                "\"input_sizes\": \"%s\", \"train_seconds\": %.2f, \"feature_seconds\": %.2f}%s\n",
                w->name, w->features, jnum(w->accuracy, a, 32), jnum(w->balanced_accuracy, b, 32), jnum(w->auc, c, 32),
                jnum(w->seq_accuracy, d, 32), w->mean_log10_C, w->crop_auto_folds, w->sizes, w->train_seconds,
                w->feature_seconds, i + 1 < r->n_rows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return irb_atomic_close(&af, err);
}

/* Copies the SVG file into the page so the report is one self-contained file. */
static void inline_svg(FILE *f, const char *dir)
{
    char path[4300], buf[4096];
    snprintf(path, sizeof path, "%s/roc.svg", dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return;
    size_t n;
    int skipped_decl = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        const char *p = buf;
        if (!skipped_decl && n > 5 && !strncmp(buf, "<?xml", 5)) {
            const char *e = memchr(buf, '>', n);
            if (e) {
                n -= (size_t)(e + 1 - buf);
                p = e + 1;
            }
        }
        skipped_decl = 1;
        fwrite(p, 1, n, f);
    }
    fclose(in);
}

static irb_status write_html(const irb_experiment_opts *o, const irb_experiment_result *r, irb_error *err)
{
    char a[16], b[16], c[16], d[16], e[16], u[16];
    irb_atomic_file af;
    IRB_TRY(open_out(o, "report.html", &af, err));
    FILE *f = af.f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>irbis experiment</title>\n"
          "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
          "table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.3em .6em;text-align:right}"
          "th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:bold;margin:.5em 0}"
          "</style></head><body>\n<h1>irbis: transfer-learning experiment</h1>\n<p>",
          f);
    fprintf(f, "Task: <b>%s</b>", task_name(o->task));
    if (r->positive[0]) {
        fputs(" (positive class <b>", f);
        irb_html_put(f, r->positive);
        fputs("</b>)", f);
    }
    fprintf(f,
            ". Images: %zu (%zu could not be decoded and are listed in failed.csv), sequences: %zu, "
            "classes: %d. Backbone: ",
            r->n_images, r->n_failed, r->n_sequences, r->n_classes);
    irb_html_put(f, o->model);
    fprintf(f,
            ".</p>\n<p>Evaluation: %d-fold cross-validation over <b>%s</b> units, so no %s is split between "
            "training and test. Every image is predicted by the model of the fold that did not see it; the "
            "figures pool those out-of-fold predictions. C%s chosen inside each training fold.</p>\n",
            r->folds, r->unit, r->unit, o->crop == IRB_CROP_CHOOSE ? " and the info-strip crop are" : " is");
    if (o->sizes[0] > 0 && o->sizes[1] > 0)
        fprintf(f, "<p>The CNN rows ran at several input sizes (see the table's last column): %s.</p>\n",
                o->combine == IRB_COMBINE_MEAN ? "one classifier per size, their probabilities averaged"
                                               : "each training fold chose one by inner cross-validation");
    fputs("<table id=\"results\"><caption>Results</caption>\n<tr><th>row</th><th>what</th><th>features</th>"
          "<th>accuracy %</th><th>balanced %</th><th>AUC</th><th>fold range %</th><th>sequences %</th>"
          "<th>log10 C</th><th>strips cropped</th><th>input size</th></tr>\n",
          f);
    for (int i = 0; i < r->n_rows; i++) {
        const irb_experiment_row *w = &r->rows[i];
        fprintf(f,
                "<tr><td>%s</td><td style=\"text-align:left\">%s</td><td>%d</td><td>%s</td><td>%s</td>"
                "<td>%s</td><td>%s&ndash;%s</td><td>%s</td><td>%.1f</td><td>%d/%d</td><td>%s</td></tr>\n",
                w->name, w->what, w->features, pct(w->accuracy, a, 16), pct(w->balanced_accuracy, b, 16),
                auc_text(w->auc, u, 16), pct(w->fold_acc_min, c, 16), pct(w->fold_acc_max, d, 16),
                pct(w->seq_accuracy, e, 16), w->mean_log10_C, w->crop_auto_folds, r->folds,
                w->sizes[0] ? w->sizes : "-");
    }
    fputs("</table>\n<p>Reference system (ResNet-50 on snow-leopard surveys): L120 63.4 %, RN1 83 %, RN2 and "
          "RN2+A 89.5 %, RN2+A+E 90 %.</p>\n<h2>ROC curves</h2>\n",
          f);
    inline_svg(f, o->out_dir);
    fputs("\n<p>Files: table.csv, results.json, predictions_*.csv (out-of-fold probabilities), roc.csv, "
          "failed.csv.</p>\n</body></html>\n",
          f);
    return irb_atomic_close(&af, err);
}

irb_status irb_experiment_write_outputs(const irb_experiment_opts *o, const irb_experiment_result *r,
                                        const irb_roc *rocs, irb_error *err)
{
    const irb_roc *curves[IRB_EXPERIMENT_MAX_ROWS];
    const char *names[IRB_EXPERIMENT_MAX_ROWS];
    size_t nc = 0;
    for (int i = 0; i < r->n_rows; i++) /* the rows whose tables give an AUC: a positive class */
        if (rocs[i].n > 0 && !isnan(rocs[i].auc) && !isnan(r->rows[i].auc)) {
            curves[nc] = &rocs[i];
            names[nc++] = r->rows[i].name;
        }
    char path[4300];
    IRB_TRY(write_table_csv(o, r, err));
    IRB_TRY(write_table_md(o, r, err));
    IRB_TRY(write_json(o, r, err));
    if (nc > 0) {
        snprintf(path, sizeof path, "%s/roc.csv", o->out_dir);
        IRB_TRY(irb_write_roc_csv(path, curves, names, nc, err));
        snprintf(path, sizeof path, "%s/roc.svg", o->out_dir);
        IRB_TRY(irb_write_roc_svg(path, curves, names, nc, "ROC, out-of-fold predictions", err));
    } else { /* no curve: an earlier run's into this folder must not stand for this one's */
        snprintf(path, sizeof path, "%s/roc.csv", o->out_dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/roc.svg", o->out_dir);
        unlink(path);
    }
    return write_html(o, r, err);
}

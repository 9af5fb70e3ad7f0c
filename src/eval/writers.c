/* Metric files: metrics JSON and CSV, confusion matrix CSV, ROC points CSV, ROC figure SVG. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/csv.h"
#include "core/file.h"
#include "core/error.h"
#include "core/text.h"
#include "irbis/eval.h"

/* Every file is replaced atomically (core/file.h): a failed or killed write leaves the old one. */
static irb_status open_out(const char *path, irb_atomic_file *af, irb_error *err)
{
    if (!path)
        return irb_fail(err, IRB_INVALID_ARG, "NULL output file name");
    return irb_atomic_open(af, path, err);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_eval(FILE *f, const irb_evaluation *e)
{
    const irb_metrics *m = &e->metrics;
    fprintf(f, "{\n    \"n\": %zu,\n    \"classes\": [", e->n);
    for (size_t c = 0; c < e->n_classes; c++) {
        fputs(c ? ", " : "", f);
        irb_json_put(f, e->classes[c]);
    }
    fputs("],\n    \"positive\": ", f);
    irb_json_put(f, e->classes[e->positive]);
    fputs(",\n    \"threshold\": ", f);
    json_num(f, e->threshold);
    const char *names[] = {"accuracy", "balanced_accuracy",      "macro_f1",
                           "auc",      "precision_at_threshold", "recall_at_threshold"};
    double vals[] = {m->accuracy, m->balanced_accuracy, m->macro_f1, e->roc.auc, e->precision_at, e->recall_at};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        fprintf(f, ",\n    \"%s\": ", names[i]);
        json_num(f, vals[i]);
    }
    fprintf(f, ",\n    \"n_positive\": %zu,\n    \"n_negative\": %zu,\n    \"per_class\": {", e->roc.n_pos,
            e->roc.n_neg);
    for (size_t c = 0; c < e->n_classes; c++) {
        fputs(c ? ",\n      " : "\n      ", f);
        irb_json_put(f, e->classes[c]);
        fputs(": {\"precision\": ", f);
        json_num(f, m->precision[c]);
        fputs(", \"recall\": ", f);
        json_num(f, m->recall[c]);
        fputs(", \"f1\": ", f);
        json_num(f, m->f1[c]);
        fprintf(f, ", \"support\": %zu}", m->support[c]);
    }
    fputs("\n    },\n    \"confusion\": [", f);
    for (size_t r = 0; r < e->n_classes; r++) {
        fputs(r ? ", [" : "[", f);
        for (size_t c = 0; c < e->n_classes; c++)
            fprintf(f, "%s%zu", c ? ", " : "", m->confusion[r * e->n_classes + c]);
        fputs("]", f);
    }
    fputs("]\n  }", f);
}

irb_status irb_write_metrics_json(const char *path, const irb_evaluation *image, const irb_evaluation *seq,
                                  irb_error *err)
{
    if (!image)
        return irb_fail(err, IRB_INVALID_ARG, "%s: no evaluation to write", path ? path : "metrics.json");
    irb_atomic_file af;
    IRB_TRY(open_out(path, &af, err));
    FILE *f = af.f;
    fputs("{\n  \"image\": ", f);
    json_eval(f, image);
    if (seq) {
        fputs(",\n  \"sequence\": ", f);
        json_eval(f, seq);
    }
    fputs("\n}\n", f);
    return irb_atomic_close(&af, err);
}

/* ---- CSV ---------------------------------------------------------------------------------- */

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else if (isnan(v))
        fputs("nan", f);
    else
        fputs(v > 0 ? "inf" : "-inf", f);
}

irb_status irb_write_metrics_csv(const char *path, const irb_evaluation *e, irb_error *err)
{
    if (!e)
        return irb_fail(err, IRB_INVALID_ARG, "NULL evaluation");
    irb_atomic_file af;
    IRB_TRY(open_out(path, &af, err));
    FILE *f = af.f;
    const irb_metrics *m = &e->metrics;
    fputs("class,precision,recall,f1,support\n", f);
    for (size_t c = 0; c < e->n_classes; c++) {
        irb_csv_put(f, e->classes[c]);
        double v[3] = {m->precision[c], m->recall[c], m->f1[c]};
        for (int j = 0; j < 3; j++) {
            fputc(',', f);
            csv_num(f, v[j]);
        }
        fprintf(f, ",%zu\n", m->support[c]);
    }
    const char *names[] = {"accuracy", "balanced_accuracy", "macro_f1", "auc"};
    double vals[] = {m->accuracy, m->balanced_accuracy, m->macro_f1, e->roc.auc};
    for (int j = 0; j < 4; j++) {
        fprintf(f, "%s,", names[j]);
        csv_num(f, vals[j]);
        fprintf(f, ",,,%zu\n", e->n);
    }
    return irb_atomic_close(&af, err);
}

irb_status irb_write_confusion_csv(const char *path, const irb_evaluation *e, irb_error *err)
{
    if (!e)
        return irb_fail(err, IRB_INVALID_ARG, "NULL evaluation");
    irb_atomic_file af;
    IRB_TRY(open_out(path, &af, err));
    FILE *f = af.f;
    fputs("true\\predicted", f);
    for (size_t c = 0; c < e->n_classes; c++) {
        fputc(',', f);
        irb_csv_put(f, e->classes[c]);
    }
    fputc('\n', f);
    for (size_t r = 0; r < e->n_classes; r++) {
        irb_csv_put(f, e->classes[r]);
        for (size_t c = 0; c < e->n_classes; c++)
            fprintf(f, ",%zu", e->metrics.confusion[r * e->n_classes + c]);
        fputc('\n', f);
    }
    return irb_atomic_close(&af, err);
}

/* Every one of n curves and names is there. */
static irb_status check_curves(const irb_roc *const *curves, const char *const *names, size_t n, irb_error *err)
{
    if (n && (!curves || !names))
        return irb_fail(err, IRB_INVALID_ARG, "NULL curves");
    for (size_t k = 0; k < n; k++)
        if (!curves[k] || !names[k])
            return irb_fail(err, IRB_INVALID_ARG, "ROC curve %zu: NULL curve or name", k);
    return IRB_OK;
}

irb_status irb_write_roc_csv(const char *path, const irb_roc *const *curves, const char *const *names, size_t n_curves,
                             irb_error *err)
{
    IRB_TRY(check_curves(curves, names, n_curves, err));
    irb_atomic_file af;
    IRB_TRY(open_out(path, &af, err));
    FILE *f = af.f;
    fputs("curve,threshold,fpr,tpr\n", f);
    for (size_t k = 0; k < n_curves; k++)
        for (size_t i = 0; i < curves[k]->n; i++) {
            irb_csv_put(f, names[k]);
            const double v[3] = {curves[k]->threshold[i], curves[k]->fpr[i], curves[k]->tpr[i]};
            for (int j = 0; j < 3; j++) {
                fputc(',', f);
                csv_num(f, v[j]);
            }
            fputc('\n', f);
        }
    return irb_atomic_close(&af, err);
}

/* ---- SVG ---------------------------------------------------------------------------------- */

enum { SVG_W = 640, SVG_H = 520, PLOT_X = 80, PLOT_Y = 50, PLOT_S = 400 };

static double px(double fpr) { return PLOT_X + (isfinite(fpr) ? fpr : 0) * PLOT_S; }

static double py(double tpr) { return PLOT_Y + PLOT_S - (isfinite(tpr) ? tpr : 0) * PLOT_S; }

static void svg_axes(FILE *f)
{
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#000\"/>\n", PLOT_X, PLOT_Y,
            PLOT_S, PLOT_S);
    for (int t = 0; t <= 5; t++) {
        double v = t / 5.0;
        fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\"/>\n", px(v),
                PLOT_Y + PLOT_S, px(v), PLOT_Y + PLOT_S + 6);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f</text>\n", px(v), PLOT_Y + PLOT_S + 22, v);
        fprintf(f, "<line class=\"tick\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#000\"/>\n", PLOT_X - 6,
                py(v), PLOT_X, py(v));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", PLOT_X - 10, py(v) + 5, v);
        if (t > 0 && t < 5)
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                    px(v), PLOT_Y, px(v), PLOT_Y + PLOT_S, PLOT_X, py(v), PLOT_X + PLOT_S, py(v));
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">False positive rate</text>\n", PLOT_X + PLOT_S / 2,
            PLOT_Y + PLOT_S + 46);
    fprintf(
        f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">True positive rate</text>\n",
        PLOT_X - 50, PLOT_Y + PLOT_S / 2, PLOT_X - 50, PLOT_Y + PLOT_S / 2);
    fprintf(f,
            "<line class=\"chance\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
            "stroke-dasharray=\"6 4\"/>\n",
            px(0), py(0), px(1), py(1));
}

irb_status irb_write_roc_svg(const char *path, const irb_roc *const *curves, const char *const *names, size_t n_curves,
                             const char *title, irb_error *err)
{
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    IRB_TRY(check_curves(curves, names, n_curves, err));
    irb_atomic_file af;
    IRB_TRY(open_out(path, &af, err));
    FILE *f = af.f;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"16\">", PLOT_X + PLOT_S / 2, PLOT_Y - 18);
    irb_html_put(f, title ? title : "ROC");
    fputs("</text>\n", f);
    svg_axes(f);
    for (size_t k = 0; k < n_curves; k++) {
        const char *col = colors[k % (sizeof colors / sizeof colors[0])];
        fprintf(f, "<path class=\"roc-curve\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", col);
        for (size_t i = 0; i < curves[k]->n; i++)
            fprintf(f, "%s%.2f %.2f", i ? " L" : "M", px(curves[k]->fpr[i]), py(curves[k]->tpr[i]));
        fputs("\"><title>", f);
        irb_html_put(f, names[k]);
        fputs("</title></path>\n", f);
    }
    /* legend: lower right inside the plot, where ROC curves rarely are */
    int lh = 20, ly = PLOT_Y + PLOT_S - 10 - lh * (int)n_curves, lx = PLOT_X + PLOT_S / 2 - 40;
    if (n_curves)
        fprintf(f,
                "<rect class=\"legend\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
                "fill-opacity=\"0.85\" stroke=\"#999\"/>\n",
                lx - 8, ly - 6, PLOT_S / 2 + 40, lh * (int)n_curves + 4);
    for (size_t k = 0; k < n_curves; k++) {
        int y = ly + lh * (int)k + 8;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", lx, y, lx + 24,
                y, colors[k % (sizeof colors / sizeof colors[0])]);
        fprintf(f, "<text class=\"legend-entry\" x=\"%d\" y=\"%d\">", lx + 32, y + 5);
        irb_html_put(f, names[k]);
        if (isfinite(curves[k]->auc))
            fprintf(f, " (AUC %.3f)</text>\n", curves[k]->auc);
        else
            fputs(" (AUC undefined)</text>\n", f);
    }
    fputs("</svg>\n", f);
    return irb_atomic_close(&af, err);
}

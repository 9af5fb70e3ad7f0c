/* irbis evaluate: score a predictions CSV against a labels CSV. */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const char irb_cmd_evaluate_summary[] = "score predictions against labels: accuracy, AUC, ROC figure";

static void usage(FILE *f)
{
    fputs("usage: irbis evaluate PREDICTIONS.csv --labels LABELS.csv [--positive CLASS] [--threshold T] [-o DIR]\n"
          "\n"
          "PREDICTIONS.csv: path, p_<class>... [, sequence, seq_p_<class>...]\n"
          "LABELS.csv:      path, label (paths match exactly or by a suffix after '/'), a Timelapse\n"
          "                 export, or a Camtrap DP package's folder (irbis labels LABELS shows the\n"
          "                 labels read from it)\n" CLI_LABELS_HELP
          "  --positive CLASS  the ROC's positive class (default: the class that is not 'empty' when there\n"
          "                    are two, else the first class other than 'empty'/'blank')\n"
          "  --threshold T     precision/recall of the positive class at score >= T (default 0.5)\n"
          "  -o DIR            write metrics.json, metrics.csv, confusion.csv, roc.csv, roc.svg\n"
          "                    (and metrics_sequence.csv, confusion_sequence.csv) into DIR\n",
          f);
}

typedef struct opts {
    const char *pred, *labels, *positive, *out;
    irb_labels_opts lo;
    double threshold;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {{"labels", required_argument, 0, 'l'},
                                       {"positive", required_argument, 0, 'p'},
                                       {"threshold", required_argument, 0, 't'},
                                       {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       CLI_LABELS_LONGOPTS,
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:p:t:o:h", lo, NULL)) != -1) {
        int lab = cli_labels_opt("evaluate", c, optarg, &o->lo);
        if (lab < 0)
            return CLI_USAGE;
        if (lab)
            continue;
        switch (c) {
        case 'l': o->labels = optarg; break;
        case 'p': o->positive = optarg; break;
        case 'o': o->out = optarg; break;
        case 't':
            if (!cli_double_in("evaluate", "--threshold", optarg, 0, 1, &o->threshold))
                return CLI_USAGE;
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind != argc - 1 || !o->labels) {
        cli_error("evaluate", optind != argc - 1 ? "expected one PREDICTIONS.csv" : "--labels is required");
        usage(stderr);
        return CLI_USAGE;
    }
    o->pred = argv[optind];
    return CLI_OK;
}

static int is_empty_name(const char *s) { return strcmp(s, "empty") == 0 || strcmp(s, "blank") == 0; }

static int pick_positive(const irb_joined *j, const char *name)
{
    if (name) {
        for (size_t c = 0; c < j->n_classes; c++)
            if (strcmp(j->classes[c], name) == 0)
                return (int)c;
        cli_error("evaluate", "--positive %s: not a class (no p_%s column or label)", name, name);
        return -1;
    }
    size_t k = j->n_classes - j->n_extra_classes;
    if (k == 2)
        return is_empty_name(j->classes[1]) ? 0 : 1;
    for (size_t c = 0; c < k; c++)
        if (!is_empty_name(j->classes[c]))
            return (int)c;
    return 0;
}

static void print_eval(const char *level, const irb_evaluation *e)
{
    const irb_metrics *m = &e->metrics;
    printf("%s level (%zu):\n", level, e->n);
    printf("  accuracy           %.4f\n", m->accuracy);
    printf("  balanced accuracy  %.4f\n", m->balanced_accuracy);
    if (e->roc.auc == e->roc.auc)
        printf("  AUC (%s vs rest)  %.4f\n", e->classes[e->positive], e->roc.auc);
    else
        printf("  AUC (%s vs rest)  undefined: only one class in the truth\n", e->classes[e->positive]);
    printf("  precision@%g      %.4f\n", e->threshold, e->precision_at);
    printf("  recall@%g         %.4f\n", e->threshold, e->recall_at);
}

static int write_outputs(const char *dir, const irb_evaluation *img, const irb_evaluation *seq)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cli_error("evaluate", "cannot create %s: %s", dir, strerror(errno));
        return CLI_FATAL;
    }
    char p[4096];
    irb_error err = {0};
    const irb_roc *curves[2] = {&img->roc, seq ? &seq->roc : NULL};
    const char *names[2] = {"image", "sequence"};
#define OUT(name, call)                                                                                                \
    do {                                                                                                               \
        snprintf(p, sizeof p, "%s/%s", dir, name);                                                                     \
        if ((call) != IRB_OK)                                                                                          \
            return cli_fail("evaluate", &err);                                                                         \
    } while (0)
    OUT("metrics.json", irb_write_metrics_json(p, img, seq, &err));
    OUT("metrics.csv", irb_write_metrics_csv(p, img, &err));
    OUT("confusion.csv", irb_write_confusion_csv(p, img, &err));
    OUT("roc.csv", irb_write_roc_csv(p, curves, names, seq ? 2 : 1, &err));
    OUT("roc.svg", irb_write_roc_svg(p, curves, names, seq ? 2 : 1, "ROC", &err));
    if (seq) {
        OUT("metrics_sequence.csv", irb_write_metrics_csv(p, seq, &err));
        OUT("confusion_sequence.csv", irb_write_confusion_csv(p, seq, &err));
    }
#undef OUT
    return CLI_OK;
}

static int run(const opts *o, const irb_joined *j)
{
    int pos = pick_positive(j, o->positive);
    if (pos < 0)
        return CLI_USAGE;
    irb_error err = {0};
    irb_evaluation img = {0}, seq = {0};
    int rc = CLI_OK, has_seq = j->n_seq > 0;
    if (irb_evaluate(j->probs, j->truth, j->n, j->n_classes, (const char *const *)j->classes, pos, o->threshold, &img,
                     &err) != IRB_OK)
        return cli_fail("evaluate", &err);
    print_eval("image", &img);
    if (has_seq) {
        irb_error_clear(&err);
        if (irb_evaluate(j->seq_probs, j->seq_truth, j->n_seq, j->n_classes, (const char *const *)j->classes, pos,
                         o->threshold, &seq, &err) != IRB_OK)
            rc = cli_fail("evaluate", &err);
        else
            print_eval("sequence", &seq);
    }
    if (rc == CLI_OK && o->out)
        rc = write_outputs(o->out, &img, has_seq ? &seq : NULL);
    irb_evaluation_release(&img);
    irb_evaluation_release(&seq);
    return rc;
}

int irb_cmd_evaluate(int argc, char **argv)
{
    opts o = {.threshold = 0.5};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    irb_error err = {0};
    irb_predictions p = {0};
    irb_labels l = {0};
    irb_joined j = {0};
    if (irb_predictions_read(o.pred, &p, &err) != IRB_OK || irb_labels_read(o.labels, &o.lo, &l, &err) != IRB_OK ||
        irb_join_labels(&p, &l, &j, &err) != IRB_OK) {
        rc = cli_fail("evaluate", &err);
        goto done;
    }
    if (j.n == 0) {
        cli_error("evaluate", "no prediction path matches a path in %s", o.labels);
        rc = CLI_FATAL;
        goto done;
    }
    if (err.warning)
        cli_error("evaluate", "warning: %s", err.message);
    if (l.n_empty)
        fprintf(stderr, "irbis evaluate: warning: %s: %zu row(s) with an empty label skipped (the first: row %zu)\n",
                o.labels, l.n_empty, l.first_empty + 1);
    if (p.n_unscored)
        fprintf(stderr,
                "irbis evaluate: warning: %zu row(s) of %s have no probabilities (status not ok: failed or "
                "pending images) and were skipped\n",
                p.n_unscored, o.pred);
    if (j.n_unlabelled)
        fprintf(stderr, "irbis evaluate: warning: %zu of %zu predictions have no label and were skipped\n",
                j.n_unlabelled, p.n);
    if (j.n_labels_unmatched)
        fprintf(stderr, "irbis evaluate: warning: %zu label row(s) of %s match no prediction, e.g. '%s'\n",
                j.n_labels_unmatched, o.labels, j.unmatched_example >= 0 ? l.path[j.unmatched_example] : "");
    if (j.n_extra_classes)
        fprintf(stderr, "irbis evaluate: warning: %zu label(s) have no p_ column; those images count as errors\n",
                j.n_extra_classes);
    printf("%zu labelled images, %zu classes%s\n", j.n, j.n_classes, j.n_seq ? "" : ", no sequence column");
    rc = run(&o, &j);
done:
    irb_joined_release(&j);
    irb_labels_release(&l);
    irb_predictions_release(&p);
    return rc;
}

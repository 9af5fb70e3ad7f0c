/* irbis predict: class probabilities for every row of a feature set. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char irb_cmd_predict_summary[] = "class probabilities for a feature set from a trained classifier";

static const char usage[] =
    "usage: irbis predict MODEL.irbis FEATURES_BASE -o predictions.csv\n"
    "Writes path,flipped,p_<class>...,label per feature row (label = the most probable class).\n"
    "A row whose features are not finite (NaN, infinity) is left out and named on stderr\n"
    "(exit 1).\n"
    "Refuses features whose dim or backbone provenance (model_sha256, layer, cut, pool,\n"
    "preprocessing) differs from the classifier's.\n";

static int write_csv(const char *out, const irb_classifier_t *clf, const irb_features *fs, const double *prob)
{
    FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
    if (!f) {
        cli_error("predict", "%s: cannot create", out);
        return CLI_FATAL;
    }
    int K = irb_classifier_classes(clf);
    fputs("path,flipped", f);
    for (int k = 0; k < K; k++) {
        char name[600];
        snprintf(name, sizeof name, "p_%s", irb_classifier_class_name(clf, k));
        fputc(',', f);
        irb_csv_put(f, name);
    }
    fputs(",label\n", f);
    size_t skipped = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const double *p = prob + i * (size_t)K;
        int arg = 0, finite = 1;
        for (int k = 0; k < K; k++)
            finite &= isfinite(p[k]) != 0;
        if (!finite) { /* NaN or infinite features: no prediction, said, left out of the CSV */
            cli_error("predict", "%s (row %zu): features not finite (NaN or infinity); left out", fs->path[i], i);
            skipped++;
            continue;
        }
        irb_csv_put(f, fs->path[i]);
        fprintf(f, ",%d", fs->flipped[i]);
        for (int k = 0; k < K; k++) {
            fprintf(f, ",%.9g", p[k]);
            arg = p[k] > p[arg] ? k : arg;
        }
        fputc(',', f);
        irb_csv_put(f, irb_classifier_class_name(clf, arg));
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    if (bad) {
        cli_error("predict", "%s: write failed", out);
        return CLI_FATAL;
    }
    return skipped ? CLI_PARTIAL : CLI_OK;
}

int irb_cmd_predict(int argc, char **argv)
{
    static const struct option lo[] = {{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'h')
            return fputs(usage, stdout), CLI_OK;
        else
            return fputs(usage, stderr), CLI_USAGE;
    }
    if (optind + 2 != argc || !out) {
        cli_error("predict", "need MODEL.irbis FEATURES_BASE -o FILE");
        return CLI_USAGE;
    }
    irb_error err = {0};
    irb_classifier_t *clf = NULL;
    irb_features *fs = NULL;
    double *prob = NULL;
    int rc = CLI_OK;
    if (irb_classifier_load(argv[optind], &clf, &err) != IRB_OK ||
        irb_features_load(argv[optind + 1], &fs, &err) != IRB_OK ||
        irb_classifier_check_features(clf, fs, &err) != IRB_OK) {
        rc = cli_fail("predict", &err);
        goto done;
    }
    if (err.warning)
        cli_error("predict", "warning: %s", err.message);
    prob = malloc((fs->n ? fs->n : 1) * (size_t)irb_classifier_classes(clf) * sizeof *prob);
    if (!prob) {
        cli_error("predict", "out of memory");
        rc = CLI_FATAL;
        goto done;
    }
    if (irb_classifier_predict(clf, fs->x, fs->n, fs->dim, prob, &err) != IRB_OK) {
        rc = cli_fail("predict", &err);
        goto done;
    }
    rc = write_csv(out, clf, fs, prob);
done:
    free(prob);
    irb_features_free(fs);
    irb_classifier_free(clf);
    return rc;
}

/* irbis train: labels joined to a feature set by path -> logistic regression -> classifier file.
 * The options and the join are train_job.c's (shared with irbis-mpi train). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "experiment_opts.h"
#include "train_job.h"

const char irb_cmd_train_summary[] = "train a pipeline on labelled images (--images), or a classifier on a feature set";

/* irbis train --images: the experiment's cross-validation of one recipe, then the recipe
 * trained on every labelled image and saved as a pipeline. */
static int train_images(int argc, char **argv)
{
    exp_cli x;
    int rc = experiment_parse(argc, argv, "train", 1, &x);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    irb_experiment_result r;
    irb_error err = {0};
    if (irb_experiment_run(&x.o, &r, &err) != IRB_OK)
        return cli_fail("train", &err);
    if (err.warning) /* the labels' (irb_labels_match): shared names, rows that match no file */
        cli_error("train", "warning: %s", err.message);
    experiment_print_table(&r);
    const irb_experiment_row *w = NULL;
    for (int i = 0; i < r.n_rows; i++)
        if (!strcmp(r.rows[i].name, r.saved_row))
            w = &r.rows[i];
    printf("\n%s: %d-fold cross-validated accuracy %.1f%% (balanced %.1f%%) on %zu images\n", r.saved_row, r.folds,
           w ? 100 * w->accuracy : 0.0, w ? 100 * w->balanced_accuracy : 0.0, r.n_images);
    printf("pipeline: %s (trained on all %zu images); cross-validation outputs: %s/\n", r.saved_path, r.n_images,
           x.o.out_dir);
    experiment_print_uncertain(&r);
    experiment_print_precision(&x.o);
    if (r.n_failed)
        cli_error("train", "%zu image(s) could not be read and were left out; each with its cause in %s/failed.csv",
                  r.n_failed, x.o.out_dir);
    return r.n_failed ? CLI_PARTIAL : CLI_OK;
}

/* ---- --labels OUT/: the human labels of `irbis review` ------------------------------------- */

/* When --labels names the output folder of a classify run (it holds irbis.sqlite), its human
 * labels are written to OUT/review-labels.csv and argv (copied to *av) names that file instead;
 * --images defaults to the run's survey. 0: not such a folder; 1: done; -1: failed (said). */
static int review_labels(int argc, char **argv, char ***av, int *ac, char *csv, size_t size, char *survey, size_t ssize)
{
    int at = -1, eq = 0, images = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--labels") && i + 1 < argc)
            at = i + 1, eq = 0;
        else if (!strncmp(argv[i], "--labels=", 9))
            at = i, eq = 9;
        images |= !strcmp(argv[i], "--images") || !strncmp(argv[i], "--images=", 9);
    }
    const char *dir = at < 0 ? NULL : argv[at] + eq;
    char db[4096];
    snprintf(db, sizeof db, "%s/irbis.sqlite", dir ? dir : "");
    if (!dir || access(db, F_OK) != 0)
        return 0;
    irb_review_t *rv = NULL;
    irb_error err = {0};
    long long n = 0;
    int dl = (int)strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') /* OUT/ names OUT/review-labels.csv, not OUT//... */
        dl--;
    snprintf(csv, size, "%.*s/review-labels.csv", dl, dir);
    if (irb_review_open(dir, &rv, &err) == IRB_OK && irb_review_readonly(rv)) { /* csv cannot be written there */
        cli_error("train",
                  "%s is read-only: its human labels cannot be written to %s; write them elsewhere first "
                  "(irbis review %s --write-labels FILE.csv) and give --labels FILE.csv",
                  dir, csv, dir);
        irb_review_close(rv);
        return -1;
    }
    if (!rv || irb_review_write_labels(rv, csv, &n, &err) != IRB_OK) {
        cli_fail("train", &err);
        irb_review_close(rv);
        return -1;
    }
    snprintf(survey, ssize, "%s", irb_review_survey(rv));
    irb_review_close(rv);
    fprintf(stderr, "irbis train: %lld human labels of %s (irbis review) in %s\n", n, dir, csv);
    if (!(*av = calloc((size_t)argc + 3, sizeof **av))) {
        cli_error("train", "out of memory");
        return -1;
    }
    memcpy(*av, argv, sizeof *argv * (size_t)argc);
    *ac = argc;
    if (eq) { /* --labels=DIR -> --labels=CSV */
        memmove(csv + 9, csv, strlen(csv) + 1 < size - 9 ? strlen(csv) + 1 : size - 9);
        memcpy(csv, "--labels=", 9);
        csv[size - 1] = '\0';
    }
    (*av)[at] = csv;
    if (!images) {
        (*av)[(*ac)++] = "--images";
        (*av)[(*ac)++] = survey;
    }
    return 1;
}

static void usage(FILE *out)
{
    fputs("usage: irbis train --images ROOT --labels LABELS.csv --model M.onnx -o PIPELINE.irbis [options]\n"
          "       irbis train FEATURES_BASE --labels LABELS.csv -o MODEL.irbis [options]\n"
          "  The first, the usual path, trains a pipeline for irbis classify on labelled images (its\n"
          "  options: irbis train --images ROOT --help). The second trains a classifier on a feature set\n"
          "  of irbis featurize, with these options:\n",
          out);
    fputs(train_options, out);
}

int irb_cmd_train(int argc, char **argv)
{
    char csv[4200], survey[4096];
    char **av = NULL;
    int ac = 0, r = review_labels(argc, argv, &av, &ac, csv, sizeof csv, survey, sizeof survey);
    if (r < 0)
        return CLI_FATAL;
    if (r > 0) {
        int rc = train_images(ac, av);
        free(av);
        return rc;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--images") || !strncmp(argv[i], "--images=", 9))
            return train_images(argc, argv);
    train_opts o;
    int rc = train_parse(argc, argv, "train", usage, &o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    train_job j = {0};
    irb_classifier_t *clf = NULL;
    irb_error err = {0};
    if ((rc = train_prepare(&j, &o, "train")) != CLI_OK || (rc = train_load_rows(&j, &o, 0, j.n, "train")) != CLI_OK ||
        (rc = train_merge_copies(&j, NULL, "train")) != CLI_OK)
        goto done;
    irb_train_opts to = {
        .C = o.C, .cv_folds = j.cv, .groups = j.group, .balanced = o.balanced, .max_iter = (int)o.max_iter};
    irb_train_report rep;
    if (irb_logreg_train(j.x, j.n, j.fs->dim, j.y, j.nclass, (const char *const *)j.class_name, &to, &clf, &rep,
                         &err) != IRB_OK) {
        rc = cli_fail("train", &err);
        goto done;
    }
    if (train_provenance(clf, &j, &o)) {
        cli_error("train", "out of memory");
        rc = CLI_FATAL;
        goto done;
    }
    if (irb_classifier_save(clf, o.out, &err) != IRB_OK) {
        rc = cli_fail("train", &err);
        goto done;
    }
    train_summary(&j, &rep, o.out);
done:
    irb_classifier_free(clf);
    train_job_free(&j);
    return rc;
}

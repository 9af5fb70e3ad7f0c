/* irbis train: labels joined to a feature set by path -> logistic regression -> classifier file.
 * The options and the join are train_job.c's (shared with irbis-mpi train). */
#include <string.h>

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
    return r.n_failed ? CLI_PARTIAL : CLI_OK;
}

int irb_cmd_train(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--images") || !strncmp(argv[i], "--images=", 9))
            return train_images(argc, argv);
    train_opts o;
    int rc = train_parse(argc, argv, "train", &o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    train_job j = {0};
    irb_classifier_t *clf = NULL;
    irb_error err = {0};
    if ((rc = train_prepare(&j, &o, "train")) != CLI_OK || (rc = train_load_rows(&j, &o, 0, j.n, "train")) != CLI_OK)
        goto done;
    irb_train_opts to = {.C = o.C, .cv_folds = j.cv, .groups = j.group, .balanced = o.balanced,
                         .max_iter = (int)o.max_iter};
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

/* irbis train: labels joined to a feature set by path -> logistic regression -> classifier file.
 * The options and the join are train_job.c's (shared with irbis-mpi train). */
#include "cli.h"
#include "train_job.h"

const char irb_cmd_train_summary[] = "train a logistic-regression classifier on a feature set and a labels CSV";

int irb_cmd_train(int argc, char **argv)
{
    train_opts o;
    int rc = train_parse(argc, argv, "train", &o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    train_job j = {0};
    irb_classifier_t *clf = NULL;
    irb_error err = {0};
    if ((rc = train_prepare(&j, &o, "train")) != CLI_OK || (rc = train_load_rows(&j, &o, 0, j.n, "train")) != CLI_OK)
        goto done;
    irb_train_opts to = {.C = o.C, .cv_folds = (int)o.cv, .groups = j.group, .balanced = o.balanced,
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

/* irbis-mpi train: data-parallel logistic regression with the options of `irbis train`. Every
 * rank reads the feature set's index (paths, no values) and the labels (shared file system) and
 * joins them with irbis train's own code (tools/irbis/train_job.c), so every rank selects the
 * same rows and groups; it then reads the values of its contiguous block of the rows only. The
 * digests of every rank's rows, gathered, merge the groups of copies of one picture as irbis
 * train does (train_merge_copies), so without --C every rank computes the cross-validation folds
 * of irbis train (irb_group_kfold). It trains with irb_logreg_train given an MPI allreduce: per
 * L-BFGS evaluation one allreduce of the loss and gradient. Rank 0 writes the classifier. */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "train_job.h"
#include "work.h"

static const char *const CMD = "train";

/* train_merge_copies over the digests of every rank's rows, gathered in row order. */
static int merge_copies(train_job *j)
{
    char *mine = malloc((j->x_n ? j->x_n : 1) * TRAIN_DIGEST);
    if (mine)
        train_row_digests(j, mine);
    void *all = NULL;
    size_t total = 0;
    int rc = comm_allgather_bytes(mine, mine ? j->x_n * TRAIN_DIGEST : 0, &all, &total) != 0 || !mine ||
                     total != j->n * TRAIN_DIGEST
                 ? (cli_error(CMD, "out of memory for the digests of %zu rows", j->n), CLI_FATAL)
                 : train_merge_copies(j, all, CMD);
    free(mine), free(all);
    return comm_max_int(rc);
}

static void usage(FILE *out)
{
    fputs("usage: mpirun -np N irbis-mpi train FEATURES_BASE --labels LABELS.csv -o MODEL.irbis [options]\n"
          "  `irbis train FEATURES_BASE` over MPI ranks: each rank reads a share of the feature set's rows;\n"
          "  the loss and gradient are summed over the ranks (MPI_Allreduce), so the classifier is the one\n"
          "  process's up to the rounding of those sums. A pipeline on labelled images (irbis train\n"
          "  --images) is trained by `irbis train` in one process. Options:\n",
          out);
    fputs(train_options, out);
}

int mpi_train(int argc, char **argv)
{
    cli_quiet = comm_rank() != 0; /* every rank parses and joins alike: rank 0 speaks for all */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--images") || !strncmp(argv[i], "--images=", 9)) { /* irbis train's first form */
            cli_error(CMD, "--images: irbis-mpi train trains a classifier on a feature set (irbis-mpi train "
                           "FEATURES_BASE --labels LABELS.csv -o MODEL.irbis); a pipeline on labelled images is "
                           "trained by `irbis train --images` in one process");
            return CLI_USAGE;
        }
    train_opts o;
    parse_silent(1);
    int rc = train_parse(argc, argv, CMD, usage, &o);
    parse_silent(0);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    train_job j = {0};
    irb_classifier_t *clf = NULL;
    irb_error err = {0};
    int *fold = NULL;
    rc = comm_max_int(train_prepare(&j, &o, CMD));
    size_t rank = (size_t)comm_rank(), size = (size_t)comm_size();
    size_t lo = j.n * rank / size, hi = j.n * (rank + 1) / size;
    if (rc == CLI_OK) /* this rank's rows only */
        rc = comm_max_int(train_load_rows(&j, &o, lo, hi - lo, CMD));
    if (rc == CLI_OK) /* copies of one picture: every rank merges their groups alike */
        rc = merge_copies(&j);
    if (rc == CLI_OK && o.C == 0) { /* the folds of irbis train, computed alike on every rank */
        if (!(fold = malloc((j.n ? j.n : 1) * sizeof *fold)))
            rc = (cli_error(CMD, "out of memory"), CLI_FATAL);
        else if (irb_group_kfold(j.group, j.n, j.cv, fold, &err) != IRB_OK)
            rc = cli_fail(CMD, &err);
        rc = comm_max_int(rc);
    }
    if (rc == CLI_OK) {
        irb_train_opts to = {.C = o.C,
                             .cv_folds = j.cv,
                             .balanced = o.balanced,
                             .max_iter = (int)o.max_iter,
                             .folds = fold ? fold + lo : NULL,
                             .allreduce = comm_allreduce_sum};
        irb_train_report rep;
        double t0 = comm_wtime();
        irb_status s = irb_logreg_train(j.x, hi - lo, j.fs->dim, j.y + lo, j.nclass, (const char *const *)j.class_name,
                                        &to, &clf, &rep, &err);
        if (s != IRB_OK) {
            fprintf(stderr, "irbis %s (rank %d): %s\n", CMD, comm_rank(), err.message);
            rc = CLI_FATAL;
        } else if (comm_rank() == 0) {
            rep.seconds = comm_wtime() - t0;
            if (train_provenance(clf, &j, &o))
                rc = (cli_error(CMD, "out of memory"), CLI_FATAL);
            else if (irb_classifier_save(clf, o.out, &err) != IRB_OK)
                rc = cli_fail(CMD, &err);
            else {
                train_summary(&j, &rep, o.out);
                printf("ranks: %zu, %zu rows on rank 0\n", size, hi - lo);
            }
        }
        rc = comm_max_int(rc);
    }
    free(fold);
    irb_classifier_free(clf);
    train_job_free(&j);
    return rc;
}

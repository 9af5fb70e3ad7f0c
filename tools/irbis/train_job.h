/* What `irbis train` and `irbis-mpi train` share: the options, the join of labels to feature rows
 * (classes, --positive/--negative, CV groups), the provenance recorded in the classifier and the
 * summary, so the two cannot drift apart. */
#ifndef IRBIS_TRAIN_JOB_H
#define IRBIS_TRAIN_JOB_H

#include <stdio.h>

#include "cli.h"

typedef struct train_opts {
    const char *features, *labels, *root, *group_col, *classes, *positive, *negative, *out;
    irb_labels_opts lo; /* how --labels is read (--path-column, --label-column, --blank-label) */
    double C, gap;      /* gap < 0: the default */
    long cv, max_iter, camera_depth;
    int group; /* irb_fold_unit, or -1: sequence when timed, else block */
    int balanced;
} train_opts;

typedef struct train_job {
    irb_features *fs;
    irb_table *t;
    irb_labels lab;       /* the labels (irb_labels_from_table) */
    long *match;          /* [fs->n]: the label of each feature row (irb_labels_match), or -1 */
    irb_strmap *class_ix; /* class name -> index (or NULL before the first) */
    char **class_name;    /* nclass */
    int nclass;
    size_t *row; /* n: the feature row of each selected row */
    float *x;    /* selected rows [x_first, x_first + x_n), read by train_load_rows */
    size_t x_first, x_n;
    int *y, *group;
    size_t n, skipped_unlabelled, skipped_class;
    size_t n_groups;         /* distinct CV groups */
    const char *group_what;  /* what the groups are, for the summary */
    const char *group_note;  /* a fallback taken, or NULL */
    int cv;                  /* CV folds to use */
    size_t labels_unmatched; /* label rows that match no feature row */
    const char *unmatched_example;
} train_job;

/* The options of training a classifier on a feature set, one a line, for the usage texts of
 * irbis train and irbis-mpi train (each says its own command line above them). */
extern const char train_options[];

/* Parses train's options (cmd names the command in messages; usage prints the command's usage
 * text). Returns CLI_OK to run, -1 after --help (usage printed to stdout), CLI_USAGE on a bad
 * command line (message and usage printed). */
int train_parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *), train_opts *o);

/* Loads the feature set's index (not its values) and the labels and selects the labelled rows
 * (row, y, group). Returns CLI_OK or CLI_FATAL (message printed). */
int train_prepare(train_job *j, const train_opts *o, const char *cmd);
/* Reads the values of selected rows [first, first + n) into x, and only those. Returns CLI_OK
 * or CLI_FATAL (message printed). */
int train_load_rows(train_job *j, const train_opts *o, size_t first, size_t n, const char *cmd);
void train_job_free(train_job *j);
/* Copies of one picture: rows whose values are the same bytes, found by a digest of each row
 * (SHA-256 of its floats, hex), so that ranks holding parts of the rows find them alike. */
enum { TRAIN_DIGEST = 65 };
/* The digests of the loaded rows [x_first, x_first + x_n) into out ([x_n][TRAIN_DIGEST]). */
void train_row_digests(const train_job *j, char *out);
/* Rows of different CV groups with the same digest (one picture under two paths: a card copied
 * twice) get one group, so no picture sits on both sides of a fold; said in a warning. digests:
 * [n][TRAIN_DIGEST] of every selected row in order (borrowed), or NULL to digest the loaded rows
 * when they are all loaded (x_first 0, x_n n; else nothing is done). The groups are numbered
 * alike whatever the order rows were compared in. Returns CLI_OK or CLI_FATAL (out of memory). */
int train_merge_copies(train_job *j, const char *digests, const char *cmd);

/* Records the features' provenance, flips, row count, inputs and weighting in the classifier.
 * Returns 0, or -1 when out of memory. */
int train_provenance(irb_classifier_t *c, const train_job *j, const train_opts *o);

/* The summary on stdout: rows, classes, the CV table, the fit, the output. */
void train_summary(const train_job *j, const irb_train_report *r, const char *out);

#endif

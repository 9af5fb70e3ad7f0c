/* The options of `irbis experiment`, shared with `irbis train --images` (which runs the same
 * cross-validation on one recipe and saves it as a pipeline). */
#ifndef IRBIS_EXPERIMENT_OPTS_H
#define IRBIS_EXPERIMENT_OPTS_H

#include "cli.h"

typedef struct {
    int tty, quiet;
    char last[192];
} exp_progress;

typedef struct exp_cli {
    irb_experiment_opts o;
    exp_progress ps;
    char out_dir[4096]; /* train: the folder of the cross-validation's outputs */
    char calib[8192];   /* --calib's list, cut at the commas (o.calib points into it) */
} exp_cli;

/* Parses argv into x. train = 1: `irbis train --images` (-o names the pipeline file, --recipe
 * the row; the defaults are the best recipe measured on the shared data). Returns CLI_OK to
 * run, -1 after --help, or CLI_USAGE (the error printed). */
int experiment_parse(int argc, char **argv, const char *cmd, int train, exp_cli *x);
/* The table of rows, as `irbis experiment` prints it. */
void experiment_print_table(const irb_experiment_result *r);
/* The saved pipeline's uncertain rule: its default min-confidence and novelty threshold. */
void experiment_print_uncertain(const irb_experiment_result *r);
/* The saved pipeline's CNN precision, unless fp32 (int8: its tables are stored in it). */
void experiment_print_precision(const irb_experiment_opts *o);

#endif

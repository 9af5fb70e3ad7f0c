/* What `irbis classify` and `irbis-mpi classify` share: the option table and its checks, so the
 * two commands take the same options with the same values and messages (the MPI run must give
 * the single run's outputs). Each command keeps its own usage text. */
#ifndef IRBIS_CLASSIFY_OPTS_H
#define IRBIS_CLASSIFY_OPTS_H

#include <stdio.h>

#include "cli.h"

/* Parses the classify options into o (start from irb_classify_opts_default) and the operand
 * SURVEY_DIR; -q sets *quiet. Checks that an engine (--pipeline, or --model and --classifier),
 * -o and one SURVEY_DIR are given and that --deployments / --utc-offset are valid. Returns
 * CLI_OK, CLI_USAGE (message printed), or -1 after --help (usage(stdout) called). */
int classify_parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *), irb_classify_opts *o, int *quiet);

#endif

/* Shared bits of the irbis CLI. The CLI sees only the public header <irbis.h>.
 *
 * Every subcommand lives in cmd_<name>.c and defines
 *     int irb_cmd_<name>(int argc, char **argv);      argv[0] is the subcommand name
 *     const char irb_cmd_<name>_summary[];            one line for `irbis help`
 * The build generates the command table from the file names. Options are parsed with
 * getopt_long; --help prints the subcommand's usage to stdout and returns 0.
 */
#ifndef IRBIS_CLI_H
#define IRBIS_CLI_H

#include <stdio.h>

#include <irbis.h>

/* Exit statuses, the same for every subcommand (documented in README). */
enum {
    CLI_OK = 0,      /* everything done, no input failed */
    CLI_PARTIAL = 1, /* the run completed but some inputs failed (listed in the output) */
    CLI_USAGE = 2,   /* bad command line */
    CLI_FATAL = 3,   /* could not run: missing model, unwritable output, ... */
};

/* 1: cli_error and cli_fail print nothing (the MPI driver's ranks other than 0, whose messages
 * would repeat rank 0's). */
extern int cli_quiet;

/* "irbis <cmd>: message\n" on stderr. */
/* Process set-up for the tools' main(): stops OpenBLAS's worker threads, which its library
 * constructor starts and which then spin (sched_yield) for their time-out, about 0.1 s of a core,
 * beside the run's own threads. OpenBLAS starts them again for the first BLAS call that splits
 * over threads (training's large fits), so nothing else changes. Does nothing with a BLAS that
 * has no such function. */
void cli_process_setup(void);

void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A per-file failure (or warning) line naming the file once: "path: [warning: ]cause" when msg
 * is "path: cause" or does not name the file, else msg as it is. */
void cli_file_message(const char *cmd, const char *path, const char *msg, int warning);
/* Prints err's message (or its status name) and returns CLI_FATAL. */
int cli_fail(const char *cmd, const irb_error *err);
/* After a run that wrote the survey outputs: what its scan found against the earlier results
 * (changed, retried, dropped images), err's warning (e.g. an incomplete Camtrap DP package) and,
 * when some classified images have no time, how many were left out of camtrap-dp/. sum may be
 * NULL (a review's export). */
void cli_outputs_notes(const char *cmd, const irb_error *err, const irb_classify_summary *sum);
/* The progress line of a run's digests phase (IRB_PHASE_DIGESTS) into line: 1, else 0 (another
 * phase: nothing written). Shared by irbis classify and irbis-mpi classify. */
int cli_digests_line(const irb_progress *p, char *line, size_t size);
/* The summary line's clauses into buf (CLI_CLAUSES_SIZE bytes), "" when there are none: the
 * files that are not still images (sum->skipped: "; skipped 12 files that are not still images
 * (10 videos)") and the images that are the same picture as another (sum->copies: "; 24 images
 * are the same picture as another (12 pictures, e.g. 'A/1.JPG' = 'A copy/1.JPG'): a card copied
 * twice? ..."), with the bytes a terminal would act on shown as '?'. */
#define CLI_CLAUSES_SIZE 1024
const char *cli_summary_clauses(const irb_classify_summary *sum, char *buf, size_t size);
/* The same for a call whose IRB_INVALID_ARG can only come from option values (irb_classify_run:
 * an unknown --positive, --sort hardlink across file systems): CLI_USAGE then. */
int cli_fail_options(const char *cmd, const irb_error *err);
/* Returns from the calling function with x's status unless it is IRB_OK (the CLI's own: the
 * library's IRB_TRY is internal). */
#define CLI_TRY(x)                                                                                                     \
    do {                                                                                                               \
        irb_status cli_s_ = (x);                                                                                       \
        if (cli_s_ != IRB_OK)                                                                                          \
            return cli_s_;                                                                                             \
    } while (0)
/* Parses a positive int / double option value; prints an error and returns 0 on failure. */
int cli_int(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *opt, const char *text, double *out);
/* The same for a finite number in [lo, hi] (hi may be INFINITY: any finite number >= lo). */
int cli_double_in(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out);

/* How --labels is read (irb_labels_opts), the same options in every command that takes --labels:
 * their getopt_long entries, their lines of --help, and their parse (1 when c was one of them,
 * its value stored in o; 0 otherwise; -1, said to stderr as cmd's, for a value that is no value:
 * --blank-label "", the caller then returns CLI_USAGE). */
enum { CLI_OPT_PATH_COLUMN = 0x1001, CLI_OPT_LABEL_COLUMN, CLI_OPT_BLANK_LABEL };
/* clang-format off */
#define CLI_LABELS_LONGOPTS \
    {"path-column", 1, 0, CLI_OPT_PATH_COLUMN}, {"label-column", 1, 0, CLI_OPT_LABEL_COLUMN}, \
    {"blank-label", 1, 0, CLI_OPT_BLANK_LABEL}
/* clang-format on */
#define CLI_LABELS_HELP                                                                                                \
    "  --path-column NAME    the labels' column of image paths (default: path; a Timelapse export:\n"                  \
    "                        RelativePath/File)\n"                                                                     \
    "  --label-column NAME   the labels' column of labels (default: label; a Timelapse export has\n"                   \
    "                        none: name the data field, e.g. --label-column Species)\n"                                \
    "  --blank-label VALUE   a blank label cell is the label VALUE (e.g. empty: a sheet that leaves\n"                 \
    "                        an empty frame's species blank), not a row without a label\n"
int cli_labels_opt(const char *cmd, int c, const char *arg, irb_labels_opts *o);

#endif

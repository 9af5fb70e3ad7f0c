/* What `irbis featurize` and `irbis-mpi featurize` share: the options, the input listing (files,
 * folders in sorted order, --list files), the engine the options describe, and the feature set
 * (its metadata, rows replayed from parts, the closing line), so the two cannot drift apart (the
 * MPI run must produce the single run's bytes and messages). */
#ifndef IRBIS_FEATURIZE_OPTS_H
#define IRBIS_FEATURIZE_OPTS_H

#include <stdio.h>

#include "cli.h"
#include "parts.h"

typedef struct paths {
    char **v;
    size_t n, cap;
} paths;

int paths_add(paths *p, const char *s);
void paths_free(paths *p);
/* The inputs: the --list file's lines (list may be NULL), then each operand (a folder expands
 * to its image files, recursively, sorted). Returns 1, 0 on an unreadable list or no memory
 * (message printed), or -1 when nothing was given (message printed). */
int collect_inputs(paths *p, const char *cmd, const char *list, int n, char **operands);

typedef struct fopts {
    const char *model, *layer, *out, *list, *engine;
    const char *calib; /* --calib TABLE: with --precision int8 */
    long cut, threads, batch, size, short_side, decode_size;
    int flip, pool, pool_set, bf16, int8;
    double crop_fraction;
    irb_resize_mode resize;
} fopts;

/* --resize center|short|squash into *out. The old spellings are accepted: center-fraction
 * (center), and crop, which meant short in featurize/calibrate and center in experiment: it is
 * taken as old_crop, with a note on stderr. 0 (with a message) for anything else. */
int parse_resize(const char *cmd, const char *text, irb_resize_mode old_crop, irb_resize_mode *out);

/* Parses featurize's options (optind is left at the first operand). Returns 1 to run, 0 after
 * --help (usage printed to stdout), -1 on a bad command line (message printed). */
int featurize_parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *), fopts *o);

/* For commands taking some of featurize's options (calibrate): the values before the command
 * line; one option (getopt's c and optarg, with featurize's letters) into o: 1, 0 after a
 * message, -1 when c is none of them; the check that --model and -o were given (0 after a
 * message). */
extern const fopts featurize_defaults;
int featurize_take(const char *cmd, int c, fopts *o);
int featurize_need_model_out(const char *cmd, const fopts *o);

/* The net featurize's options describe (engine, precision with its --calib table, cut, pool,
 * size), batch x2 with --flip. */
irb_status featurize_net(const fopts *o, const irb_model_t *m, int threads, irb_net_t **net, irb_error *err);

/* The preprocessing the options describe for a net of input_size (unless --size), with the
 * model's normalisation. */
irb_preproc featurize_preproc(const fopts *o, const irb_model_t *m, int input_size);

/* The metadata of a feature set (docs/features.md), in featurize's order. */
irb_status featurize_write_meta(irb_featwriter_t *w, const fopts *o, const char *model_sha, const irb_net_t *net,
                                const irb_preproc *pp);

/* The fingerprint of every option that shapes the rows (model sha256, layer, cut, pool,
 * precision, engine, preprocessing, flip), so that partial results of a run with other options
 * are never reused. Returns a malloc'ed string, NULL when out of memory. */
char *featurize_key(const fopts *o, const char *model_sha, const irb_net_t *net, const irb_preproc *pp);

/* The engine of a featurize run: the model, the net and preprocessing the options describe, a
 * featurizer over them, and a buffer for one image's rows as a part holds them. */
typedef struct featurize_engine {
    irb_model_t *model;
    irb_net_t *net;
    irb_preproc pp;
    irb_featurizer *fz;
    size_t dim;   /* floats per feature row */
    int k;        /* rows per image: 2 with --flip (the image, then its mirror) */
    float *rows;  /* k x dim */
    char sha[65]; /* the model's sha256 (featurize_engine_key) */
} featurize_engine;

/* Builds e from o with `threads` decode and CNN workers. CLI_OK, or CLI_FATAL (message printed;
 * featurize_engine_free releases what was built). */
int featurize_engine_new(featurize_engine *e, const fopts *o, int threads, const char *cmd);
/* The model's sha256 into e->sha and featurize_key into *key (malloc'ed). CLI_OK or CLI_FATAL. */
int featurize_engine_key(featurize_engine *e, const fopts *o, char **key, const char *cmd);
void featurize_engine_free(featurize_engine *e);

/* Opens the feature set o->out with its metadata into *w (irb_featwriter_free it, also after a
 * failure). CLI_OK or CLI_FATAL (message printed). */
int featurize_open_set(irb_featwriter_t **w, const fopts *o, const featurize_engine *e, const char *cmd);
/* A part's current row into the feature set as computing it would: a failed image's message
 * (counted in *failed), a warning's, then its k rows. CLI_OK or CLI_FATAL (message printed). */
int featurize_replay_row(irb_featwriter_t *w, const part_reader *rd, const featurize_engine *e, int *failed,
                         const char *cmd);
/* The closing line on stderr: "irbis CMD: N images, F failed, R rows of D floats -> OUT.npy". */
void featurize_summary(const char *cmd, size_t images, int failed, const featurize_engine *e, const char *out);

#endif

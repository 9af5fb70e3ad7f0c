/* What `irbis featurize` and `irbis-mpi featurize` share: the options, the input listing (files,
 * folders in sorted order, --list files) and the metadata written into the feature set, so the
 * two cannot drift apart (the MPI run must produce the single run's bytes). */
#ifndef IRBIS_FEATURIZE_OPTS_H
#define IRBIS_FEATURIZE_OPTS_H

#include <stdio.h>

#include "cli.h"

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

/* The net featurize's options describe (engine, precision with its --calib table, cut, pool,
 * size), batch x2 with --flip. */
irb_status featurize_net(const fopts *o, const irb_model_t *m, int threads, irb_net_t **net, irb_error *err);

/* The preprocessing featurize's options describe for net (its input size unless --size), with
 * the model's normalisation. */
irb_preproc featurize_preproc(const fopts *o, const irb_model_t *m, const irb_net_t *net);

/* The metadata of a feature set (docs/features.md), in featurize's order. */
irb_status featurize_write_meta(irb_featwriter_t *w, const fopts *o, const char *model_sha, const irb_net_t *net,
                                const irb_preproc *pp);

/* The fingerprint of every option that shapes the rows (model sha256, layer, cut, pool,
 * precision, engine, preprocessing, flip), so that partial results of a run with other options
 * are never reused. Returns a malloc'ed string, NULL when out of memory. */
char *featurize_key(const fopts *o, const char *model_sha, const irb_net_t *net, const irb_preproc *pp);

#endif

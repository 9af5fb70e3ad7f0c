/* Shared pieces of the irbis-mpi subcommands: cameras as units of work, threads,
 * messages. */
#ifndef IRBIS_MPI_WORK_H
#define IRBIS_MPI_WORK_H

#include <stddef.h>

#include <irbis.h>

#include "cli.h"

/* A unit of work: a camera, or a piece of a large one (indices into the run's input list, in
 * input order). Ranks take units from the shared counter; each unit is one part file. */
typedef struct camera {
    char *name; /* the camera, or "<camera> @ <first path>" for a later piece */
    size_t *idx;
    size_t n, cap;
    int done; /* its part is complete (from an earlier run) */
} camera;

typedef struct camera_set {
    camera *v;
    size_t n;
    size_t *order; /* work order: most images first (ties: first input first) */
    size_t *of;    /* [inputs]: camera of each input */
} camera_set;

/* How large cameras are split into units, so one camera holding most of a survey does not leave
 * the other ranks idle. A piece may start at input p of a camera when the FNV-1a hash of p's path
 * is 0 modulo `target` (content-defined: the cut points do not move when other images are added
 * or removed, so parts of an earlier run with a subset of the images still match) and no sequence
 * spans the cut (sequences by the library's burst rule, irb_sequences_assign with `gap`, over the
 * camera's inputs; untimed images are sequences of one). */
typedef struct unit_rule {
    size_t target;                             /* mean images per piece; 0: whole cameras */
    const char *(*path)(void *user, size_t i); /* input i's path (borrowed) */
    const double *times;                       /* per input, seconds, NaN: unknown; NULL: none */
    double gap;
} unit_rule;

/* Units of work from IRBIS_MPI_UNIT_IMAGES (default 256; 0: whole cameras). */
size_t unit_target(void);

/* Groups n inputs by camera name (cam(i) returns a name, borrowed), then splits large cameras by
 * rule (NULL: whole cameras). Returns 0 on success. */
int cameras_group(camera_set *cs, size_t n, const char *(*cam)(void *, size_t, char *, size_t), void *user,
                  const unit_rule *rule);
void cameras_free(camera_set *cs);
/* Rank 0 makes the parts folder and asks is_done(user, c) of every camera c; every rank then
 * learns each camera's `done` from one broadcast. Returns CLI_OK or CLI_FATAL (on every rank). */
int cameras_share_done(camera_set *cs, const char *parts, const char *cmd, int (*is_done)(void *user, size_t c),
                       void *user);

/* Test hook (builds with IRBIS_TEST_HOOKS only; a no-op otherwise): IRBIS_MPI_UNITS_FILE=F makes rank 0 write each
 * input as "unit<TAB>path" lines to F, so a test can check that no sequence is split across units. */
void units_dump(const camera_set *cs, const char *const *paths);

/* Threads per rank when --threads is not given: the CPUs of the node shared by its ranks. */
int default_threads(void);

/* "<prefix>: message" on stderr, from rank 0 only (errors every rank would print alike). */
void root_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every rank parses the command line alike; rank 0 speaks for all: on ranks > 0, parse_silent(1)
 * points stdout and stderr at /dev/null (getopt's messages, --help, usage errors) until
 * parse_silent(0). A no-op on rank 0. */
void parse_silent(int on);

/* This rank's share of the work: takes units from the shared counter until none is left and
 * runs do_unit(user, unit) on each one not done by an earlier run, adding its inputs to *images;
 * after each, progress(user, t, *images) (may be NULL) with t the counter's value. Stops at the
 * first status other than CLI_OK and returns it.
 * Test hook (builds with IRBIS_TEST_HOOKS only): IRBIS_MPI_KILL_AFTER_PARTS=k makes the rank
 * SIGKILL itself right after committing its k-th part (a deterministic stand-in for a node dying
 * mid-run). */
int work_units(const camera_set *cs, const char *cmd, int (*do_unit)(void *user, const camera *c),
               void (*progress)(void *user, long t, long long images), void *user, long long *images);

int mpi_featurize(int argc, char **argv);
int mpi_classify(int argc, char **argv);
int mpi_train(int argc, char **argv);

#endif

/* Partial results ("parts"): per unit of work of a distributed run (tools/mpi), per segment of
 * a single `irbis featurize` run; one file per unit under a parts
 * folder, committed durably (an irb_atomic_file: temporary name, fsync, rename, fsync of the
 * folder) so that a killed run restarted with the same options skips every camera whose part
 * is complete.
 *
 * Format (host byte order; all ranks of a run share one architecture):
 *   "IRBPART2"  u32 len + key (a fingerprint of the options that shape the rows)
 *   u32 len + camera   u32 dim (floats per good row)   u64 rows
 *   rows: i32 kind (PART_OK, PART_WARN, PART_FAIL)  i32 status  u32 len + path  u32 len + message
 *         u32 len + digest (the file's irb_image_digest, head then data: 128 hex digits, or ""
 *         when not read)   [dim floats unless PART_FAIL]
 * (IRBPART1, of irbis before digests, had no digest: such a part is not complete, so it is
 * computed again.)
 *   u32 CRC-32 of everything before   "IRBPEND\n"
 * A part without the trailer, with a bad CRC, or with another key or camera is not complete. */
#ifndef IRBIS_MPI_PARTS_H
#define IRBIS_MPI_PARTS_H

#include <stdint.h>
#include <stdio.h>

#include <irbis.h>

enum { PART_OK = 0, PART_WARN = 1, PART_FAIL = 2 };

/* OUT_DIR/<sha256 of camera>.part into buf (>= strlen(dir) + 80). */
void part_path(const char *dir, const char *camera, char *buf, size_t cap);

typedef struct part_writer {
    irb_atomic_file af; /* af.f != NULL while the part is being written */
    uint64_t rows;
    long rows_at;
    int dim;
    int failed;
} part_writer;

/* Opens `path`.tmp.<pid> for writing. Returns IRB_OK or IRB_IO (message in err). */
irb_status part_create(part_writer *w, const char *path, const char *key, const char *camera, int dim, irb_error *err);
/* digest: the file's content digests (head, data) or NULL when not read. */
irb_status part_add(part_writer *w, int kind, irb_status status, const char *path, const char *message,
                    const char (*digest)[65], const float *row, irb_error *err);
/* Writes the trailer, fsyncs and renames into place. Always releases w. */
irb_status part_commit(part_writer *w, irb_error *err);
void part_abort(part_writer *w);

/* 1 when `path` is a complete part with this key, camera, dim and row count (rows < 0: any). */
int part_complete(const char *path, const char *key, const char *camera, int dim, long long rows);

/* 1 when the complete part at `path` (part_complete) still stands for images paths[idx[0]], ...,
 * paths[idx[n - 1]] (idx NULL: paths[0], ..., paths[n - 1]): it holds their rows in that order
 * (exactly those rows, or with `superset` other rows between them) and none of them changed since
 * it was written: the image's inode change time, which no copy sets back, or a link's own (a link
 * pointed at another picture keeps the old target's times), later than the part's modification
 * time. An image is looked up at root/path (root NULL: at path). Else 0: compute it again. */
int part_current(const char *path, const char *root, const char *const *paths, const size_t *idx, size_t n,
                 int superset);

typedef struct part_reader {
    FILE *f;
    int dim;
    uint64_t rows, next;
    char *camera;
    /* the current row, valid until the next part_next */
    int kind;
    irb_status status;
    char *path, *message;
    char digest[2][65]; /* the file's content digests (head, data), both "" when not read */
    float *row;
    size_t path_cap, msg_cap;
} part_reader;

/* Opens a part (already checked with part_complete) for reading rows in order. */
irb_status part_open(part_reader *r, const char *path, irb_error *err);
/* The next row into r->kind/status/path/message/row; IRB_NOT_FOUND after the last. */
irb_status part_next(part_reader *r, irb_error *err);
void part_close(part_reader *r);

/* The parts of a run's units read in input order: a merge moves between units row by row, so
 * one reader is open at a time and each unit's position is remembered. */
typedef struct part_cursor {
    part_reader rd;  /* the reader of unit `open` (rd.f != NULL once a unit was opened) */
    const char *dir; /* borrowed */
    size_t open;
    long *offset;   /* per unit: byte offset of its next row, 0 = not opened yet */
    uint64_t *next; /* per unit: rows read */
} part_cursor;

/* A cursor over `units` parts in dir (borrowed, outlives c). 0, or -1 when out of memory. */
int part_cursor_init(part_cursor *c, const char *dir, size_t units);
/* Makes c->rd read unit u's part (part_path(dir, name)) where the last read of u stopped. */
irb_status part_cursor_seek(part_cursor *c, size_t u, const char *name, irb_error *err);
/* Releases c (zeroed or initialised). */
void part_cursor_free(part_cursor *c);

/* mkdir -p. 0 on success. */
int part_mkdirs(const char *dir);
/* Removes every *.part / *.tmp.* file in dir and dir itself (best effort). */
void part_remove_all(const char *dir);

#endif

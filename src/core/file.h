/* Whole files: reading one, and replacing one durably (temporary name, fsync, rename, fsync of
 * the directory), so a kill or a full disk never leaves a half-written file under its name. */
#ifndef IRB_CORE_FILE_H
#define IRB_CORE_FILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "irbis/files.h"

/* Reads a whole file of at most max_bytes into *buf (irb_malloc'd, one spare byte after the
 * data), *n bytes. IRB_NOT_FOUND / IRB_IO / IRB_TOO_LARGE / IRB_NOMEM name the file;
 * IRB_INVALID_ARG for a NULL path. */
irb_status irb_read_file(const char *path, size_t max_bytes, void **buf, size_t *n, irb_error *err);
/* Reads a regular file in order, a 64 KiB piece at a time: fn(ctx, data, n) for each (data valid
 * for the call). A FIFO, device or folder is refused (IRB_IO) without waiting; IRB_NOT_FOUND /
 * IRB_IO name the file; IRB_INVALID_ARG for a NULL path or fn. */
irb_status irb_read_chunks(const char *path, void (*fn)(void *ctx, const void *data, size_t n), void *ctx,
                           irb_error *err);

/* fopen(path, "rb") for the files irbis reads as streams (CSV, .npy, JSON, checksums), without
 * ever waiting: a FIFO is opened without waiting for a writer and then read as usual (a shell's
 * <(...) reads; one that no program writes to reads as empty, at once: it hung the caller).
 * *st (may be NULL) receives its stat. IRB_NOT_FOUND for a missing file, IRB_IO "a folder, not a
 * <what>" ("file", "CSV file") for a folder, IRB_INVALID_ARG for a NULL path; the message names
 * the file. */
irb_status irb_open_read(const char *path, const char *what, FILE **f, struct stat *st, irb_error *err);

/* irb_atomic_file (irb_atomic_open, _open_as, _sync, _close, _abort) is public: irbis/files.h. */

/* Writes n bytes to PATH atomically (irb_atomic_open + fwrite + irb_atomic_close). */
irb_status irb_atomic_write(const char *path, const void *data, size_t n, irb_error *err);

/* fsyncs the directory holding `path`; returns 0 or -1 with errno set (ENOMEM: no memory). */
int irb_sync_parent_dir(const char *path);

#endif

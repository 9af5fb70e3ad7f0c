/* Whole files: reading one, and replacing one durably (temporary name, fsync, rename, fsync of
 * the directory), so a kill or a full disk never leaves a half-written file under its name. */
#ifndef IRB_CORE_FILE_H
#define IRB_CORE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "irbis/core.h"

/* Reads a whole file of at most max_bytes into *buf (irb_malloc'd, one spare byte after the
 * data), *n bytes. IRB_NOT_FOUND / IRB_IO / IRB_TOO_LARGE / IRB_NOMEM name the file. */
irb_status irb_read_file(const char *path, size_t max_bytes, void **buf, size_t *n, irb_error *err);

/* A file written atomically: irb_atomic_open creates PATH.tmp (a name of 252..255 bytes has no
 * room for the suffix: its tmp name is the name cut so that it fits), the caller writes to f,
 * irb_atomic_close flushes, fsyncs, renames it to PATH and fsyncs the directory. */
typedef struct irb_atomic_file {
    FILE *f;
    char *path, *tmp; /* owned */
} irb_atomic_file;

irb_status irb_atomic_open(irb_atomic_file *af, const char *path, irb_error *err);
/* Always releases af; on a write, sync or rename failure the temporary is removed and PATH is
 * left as it was (IRB_IO naming PATH and the cause). */
irb_status irb_atomic_close(irb_atomic_file *af, irb_error *err);
/* Drops the temporary (af may be zeroed or already released). */
void irb_atomic_abort(irb_atomic_file *af);
/* Writes n bytes to PATH atomically (irb_atomic_open + fwrite + irb_atomic_close). */
irb_status irb_atomic_write(const char *path, const void *data, size_t n, irb_error *err);

/* fsyncs the directory holding `path`; returns 0 or -1 with errno set (ENOMEM: no memory). */
int irb_sync_parent_dir(const char *path);

#endif

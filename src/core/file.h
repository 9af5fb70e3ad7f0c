/* Whole-file reading. */
#ifndef IRB_CORE_FILE_H
#define IRB_CORE_FILE_H

#include <stddef.h>

#include "irbis/core.h"

/* Reads a whole file of at most max_bytes into *buf (irb_malloc'd, one spare byte after the
 * data), *n bytes. IRB_NOT_FOUND / IRB_IO / IRB_TOO_LARGE / IRB_NOMEM name the file. */
irb_status irb_read_file(const char *path, size_t max_bytes, void **buf, size_t *n, irb_error *err);

#endif

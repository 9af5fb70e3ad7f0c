/* Whole-file reading (file.h). */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

irb_status irb_read_file(const char *path, size_t max_bytes, void **buf, size_t *n, irb_error *err)
{
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return irb_fail(err, errno == ENOENT ? IRB_NOT_FOUND : IRB_IO, "%s: %s", path, strerror(errno));
    irb_status s = IRB_OK;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        s = irb_fail(err, IRB_IO, "%s: cannot determine the file size", path);
    } else if ((size_t)len > max_bytes) {
        s = irb_fail(err, IRB_TOO_LARGE, "%s: %ld bytes, above the limit of %zu", path, len, max_bytes);
    } else if (!(*buf = irb_malloc((size_t)len + 1))) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory reading %ld bytes", path, len);
    } else if (fread(*buf, 1, (size_t)len, f) != (size_t)len) {
        s = irb_fail(err, IRB_IO, "%s: read failed", path);
    }
    fclose(f);
    if (s != IRB_OK) {
        irb_free(*buf);
        *buf = NULL;
        return s;
    }
    *n = (size_t)len;
    return IRB_OK;
}

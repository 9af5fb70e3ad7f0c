/* Whole files (file.h): reading, atomic durable replacement. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

irb_status irb_open_read(const char *path, const char *what, FILE **f, struct stat *st, irb_error *err)
{
    *f = NULL;
    if (!path)
        return irb_fail(err, IRB_INVALID_ARG, "NULL file name");
    /* O_NONBLOCK: a FIFO opens at once instead of waiting for a writer; it changes nothing for a
     * regular file, and is cleared again so that reads wait for a writer's data as usual */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return irb_fail(err, errno == ENOENT ? IRB_NOT_FOUND : IRB_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb = {0};
    int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, &sb) != 0 || S_ISDIR(sb.st_mode) || flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
        !(*f = fdopen(fd, "rb"))) {
        int e = S_ISDIR(sb.st_mode) ? EISDIR : errno;
        close(fd);
        if (e == EISDIR)
            return irb_fail(err, IRB_IO, "%s: a folder, not a %s", path, what);
        return irb_fail(err, IRB_IO, "%s: %s", path, strerror(e));
    }
    if (st)
        *st = sb;
    return IRB_OK;
}

/* irb_open_read for a regular file only: bytes a FIFO or device gives cannot be read again. */
static irb_status open_regular(const char *path, FILE **f, struct stat *st, irb_error *err)
{
    IRB_TRY(irb_open_read(path, "file", f, st, err));
    if (S_ISREG(st->st_mode))
        return IRB_OK;
    fclose(*f);
    *f = NULL;
    return irb_fail(err, IRB_IO, "%s: not a regular file (a FIFO, socket or device)", path);
}

irb_status irb_read_chunks(const char *path, void (*fn)(void *ctx, const void *data, size_t n), void *ctx,
                           irb_error *err)
{
    if (!path || !fn)
        return irb_fail(err, IRB_INVALID_ARG, "irb_read_chunks: NULL %s", path ? "function" : "path");
    FILE *f;
    struct stat st;
    IRB_TRY(open_regular(path, &f, &st, err));
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        fn(ctx, buf, got);
    irb_status s = ferror(f) ? irb_fail(err, IRB_IO, "%s: read error: %s", path, strerror(errno)) : IRB_OK;
    fclose(f);
    return s;
}

irb_status irb_read_file(const char *path, size_t max_bytes, void **buf, size_t *n, irb_error *err)
{
    *buf = NULL;
    *n = 0;
    FILE *f;
    struct stat st;
    IRB_TRY(open_regular(path, &f, &st, err));
    irb_status s = IRB_OK;
    long len = st.st_size > LONG_MAX ? -1 : (long)st.st_size;
    if (len < 0) {
        s = irb_fail(err, IRB_IO, "%s: cannot determine the file size", path);
    } else if ((size_t)len > max_bytes) {
        s = irb_fail(err, IRB_TOO_LARGE, "%s: %ld bytes, above the limit of %zu", path, len, max_bytes);
    } else if (!(*buf = irb_malloc_large(1, (size_t)len + 1))) { /* a model: one fault per 2 MiB */
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

/* ---- atomic replacement ------------------------------------------------------------------ */

/* The file is written as NAME<suffix> beside NAME, then renamed. A legal name with no room for
 * the suffix within NAME_MAX has its temporary name cut so that it fits (one run writes at a
 * time, so two long names sharing a prefix never collide). */
irb_status irb_atomic_open_as(irb_atomic_file *af, const char *path, const char *suffix, irb_error *err)
{
    if (!af || !path || !suffix || !*path || !*suffix) /* "": a ".tmp" in the working folder; no suffix: no temporary */
        return irb_fail(err, IRB_INVALID_ARG, "irb_atomic_open: %s %s", af && path && suffix ? "empty" : "NULL",
                        !af               ? "file"
                        : !path || !*path ? "path"
                                          : "suffix");
    memset(af, 0, sizeof *af);
    size_t n = strlen(path), sl = strlen(suffix);
    const char *slash = strrchr(path, '/');
    size_t base = n - (slash ? (size_t)(slash + 1 - path) : 0);
    if (base > NAME_MAX) /* no file can have that name: refused before a cut temporary is made */
        return irb_fail(err, IRB_IO, "%.200s...: cannot create: %s", path, strerror(ENAMETOOLONG));
    if (base + sl > NAME_MAX)
        n -= base + sl - NAME_MAX;
    struct stat sb;
    int there = stat(path, &sb) == 0;
    if (there && S_ISDIR(sb.st_mode)) /* the rename at close would fail: said now */
        return irb_fail(err, IRB_IO, "%s: cannot write: a folder, not a file", path);
    if (there && !S_ISREG(sb.st_mode)) { /* /dev/null, a FIFO */
        if (!(af->path = irb_strdup(path)))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
        if (!(af->f = fopen(path, "wb"))) {
            irb_status s = irb_fail(err, IRB_IO, "%s: cannot write: %s", path, strerror(errno));
            irb_atomic_abort(af);
            return s;
        }
        return IRB_OK;
    }
    af->path = irb_strdup(path);
    af->tmp = irb_malloc(n + sl + 1);
    if (!af->path || !af->tmp) {
        irb_atomic_abort(af);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, suffix, sl + 1);
    if (!(af->f = fopen(af->tmp, "w+b"))) { /* said of the file asked for (its temporary is ours) */
        int e = errno;
        irb_status s = e == ENOENT && slash ? irb_fail(err, IRB_IO, "%s: cannot create: its folder %.*s does not exist",
                                                       path, (int)(slash - path) ? (int)(slash - path) : 1, path)
                                            : irb_fail(err, IRB_IO, "%s: cannot create: %s", path, strerror(e));
        irb_atomic_abort(af);
        return s;
    }
    return IRB_OK;
}

irb_status irb_atomic_open(irb_atomic_file *af, const char *path, irb_error *err)
{
    return irb_atomic_open_as(af, path, ".tmp", err);
}

irb_status irb_atomic_sync(irb_atomic_file *af, irb_error *err)
{
    if (!af || !af->path) /* released by a close or an abort, or never opened */
        return irb_fail(err, IRB_INVALID_ARG, "irb_atomic_sync: %s", af ? "a file not open" : "NULL file");
    FILE *f = af->f;
    if (!f)
        return IRB_OK;
    af->f = NULL;
    int bad = ferror(f) || fflush(f) != 0 || (!af->no_sync && af->tmp && fsync(fileno(f)) != 0);
    int e = errno;
    bad |= fclose(f) != 0;
    if (bad) {
        irb_status s = irb_fail(err, IRB_IO, "%s: cannot write: %s", af->path, strerror(e));
        irb_atomic_abort(af);
        return s;
    }
    return IRB_OK;
}

irb_status irb_atomic_close(irb_atomic_file *af, irb_error *err)
{
    if (!af || !af->path)
        return irb_fail(err, IRB_INVALID_ARG, "irb_atomic_close: %s", af ? "a file not open" : "NULL file");
    IRB_TRY(irb_atomic_sync(af, err));
    if (!af->tmp) { /* a device or FIFO, written as it is */
        irb_free(af->path);
        memset(af, 0, sizeof *af);
        return IRB_OK;
    }
    if (rename(af->tmp, af->path) != 0) {
        irb_status s = irb_fail(err, IRB_IO, "%s: cannot write: %s", af->path, strerror(errno));
        irb_atomic_abort(af);
        return s;
    }
    if (!af->no_sync && irb_sync_parent_dir(af->path) != 0) {
        irb_status s = irb_fail(err, errno == ENOMEM ? IRB_NOMEM : IRB_IO, "%s: cannot sync its directory: %s",
                                af->path, strerror(errno));
        irb_atomic_abort(af);
        return s;
    }
    irb_free(af->path);
    irb_free(af->tmp);
    memset(af, 0, sizeof *af);
    return IRB_OK;
}

void irb_atomic_abort(irb_atomic_file *af)
{
    if (!af)
        return;
    if (af->f)
        fclose(af->f);
    if (af->tmp)
        unlink(af->tmp);
    irb_free(af->path);
    irb_free(af->tmp);
    memset(af, 0, sizeof *af);
}

irb_status irb_atomic_write(const char *path, const void *data, size_t n, irb_error *err)
{
    irb_atomic_file af;
    irb_status s = irb_atomic_open(&af, path, err);
    if (s != IRB_OK)
        return s;
    if (fwrite(data, 1, n, af.f) != n) {
        s = irb_fail(err, IRB_IO, "%s: cannot write: %s", path, strerror(errno));
        irb_atomic_abort(&af);
        return s;
    }
    return irb_atomic_close(&af, err);
}

int irb_sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = irb_strdup(slash ? path : ".");
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    if (slash)
        dir[slash == path ? 1 : slash - path] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    irb_free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    /* some file systems cannot fsync a directory; the data files themselves were synced */
    if (rc != 0 && (errno == EINVAL || errno == EBADF))
        rc = 0;
    close(fd);
    return rc;
}

#include "learn/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

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

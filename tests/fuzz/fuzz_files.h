/* Fuzz targets of the readers that take a file name (labels and predictions CSVs, feature sets,
 * deployments CSVs): the input is written to files in one scratch folder per process
 * (/tmp/irbis-fuzz-XXXXXX, made on first use and removed at exit). */
#ifndef IRBIS_FUZZ_FILES_H
#define IRBIS_FUZZ_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[64];

static void fuzz_dir_remove(void)
{
    static const char *const names[] = {"in.csv",           "set.npy",         "set.csv",
                                        "set.json",         "deployments.csv", "tiny.png",
                                        "datapackage.json", "media.csv",       "observations.csv"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_dir, names[i]);
        unlink(p);
    }
    rmdir(fuzz_dir);
}

/* The scratch folder's path + "/" + name into buf (size >= 128); aborts when no folder can be
 * made (a broken fuzzing host, not a finding). */
static const char *fuzz_path(const char *name, char *buf, size_t size)
{
    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/irbis-fuzz-XXXXXX");
        if (!mkdtemp(fuzz_dir))
            abort();
        atexit(fuzz_dir_remove);
    }
    snprintf(buf, size, "%s/%s", fuzz_dir, name);
    return buf;
}

/* Writes size bytes to the scratch file name; returns its path (in buf) or aborts. */
static const char *fuzz_write(const char *name, const void *data, size_t size, char *buf, size_t bufsize)
{
    fuzz_path(name, buf, bufsize);
    FILE *f = fopen(buf, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return buf;
}

#endif

/* A tiny test harness: CHECK(cond, fmt, ...) records a failure with file:line and continues;
 * CHECK_DONE() prints "N passed, N failed" and returns the exit status. Test helpers for paths
 * to ../shared and a scratch folder come from the environment ctest sets (tests/CMakeLists.txt). */
#ifndef IRB_TEST_CHECK_H
#define IRB_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            check_passed++;                                                                                            \
        } else {                                                                                                       \
            check_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);                                   \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

#define CHECK_DONE()                                                                                                   \
    (printf("%d passed, %d failed\n", check_passed, check_failed), (check_failed || !check_passed) ? 1 : 0)

/* $IRBIS_SHARED/<rel> (default ../shared relative to the source tree). */
static inline const char *test_shared(const char *rel)
{
    static char buf[8][4096];
    static int k;
    const char *root = getenv("IRBIS_SHARED");
    char *b = buf[k++ & 7];
    snprintf(b, 4096, "%s/%s", root ? root : "../shared", rel);
    return b;
}

/* A scratch folder $IRBIS_TMP/<name>/ (created), returned with no trailing slash. */
static inline const char *test_tmpdir(const char *name)
{
    static char buf[4096];
    const char *root = getenv("IRBIS_TMP");
    if (!root)
        root = "/tmp/irbis-test";
    mkdir(root, 0777);
    snprintf(buf, sizeof buf, "%s/%s", root, name);
    mkdir(buf, 0777);
    return buf;
}

/* The whole file at path, NUL-terminated (malloc'ed, caller frees); *n is its size. NULL if it
 * cannot be read. */
static inline void *test_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    *n = 0;
    if (!f)
        return NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    rewind(f);
    if (len >= 0 && (b = malloc((size_t)len + 1)))
        b[ *n = fread(b, 1, (size_t)len, f)] = 0;
    fclose(f);
    return b;
}

#endif

#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static _Thread_local long fail_countdown; /* 0: injection off */

static int inject_failure(void)
{
    if (fail_countdown == 0)
        return 0;
    if (fail_countdown > 1) {
        fail_countdown--;
        return 0;
    }
    return 1; /* stays at 1: every later allocation fails too */
}

void irb_alloc_fail_after(long n) { fail_countdown = n > 0 ? n : 0; }

int irb_mul_size(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return 0;
    *out = a * b;
    return 1;
}

void *irb_malloc(size_t n) { return inject_failure() ? NULL : malloc(n ? n : 1); }

void *irb_calloc(size_t count, size_t size)
{
    size_t n;
    if (!irb_mul_size(count, size, &n) || inject_failure())
        return NULL;
    return calloc(n ? n : 1, 1);
}

void *irb_realloc(void *p, size_t n) { return inject_failure() ? NULL : realloc(p, n ? n : 1); }

void *irb_malloc_array(size_t count, size_t size)
{
    size_t n;
    return irb_mul_size(count, size, &n) ? irb_malloc(n) : NULL;
}

void *irb_realloc_array(void *p, size_t count, size_t size)
{
    size_t n;
    return irb_mul_size(count, size, &n) ? irb_realloc(p, n) : NULL;
}

void *irb_malloc_large(size_t count, size_t size)
{
    enum { HUGE = 2 << 20 };
    size_t n;
    if (!irb_mul_size(count, size, &n))
        return NULL;
    if (n < HUGE)
        return irb_malloc(n);
    void *p = NULL;
    if (inject_failure() || posix_memalign(&p, HUGE, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE); /* advice only: without huge pages the buffer works the same */
#endif
    return p;
}

void irb_free(void *p) { free(p); }

char *irb_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = irb_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *irb_strconcat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *d = irb_malloc(na + nb + 1);
    if (d) {
        memcpy(d, a, na);
        memcpy(d + na, b, nb + 1);
    }
    return d;
}

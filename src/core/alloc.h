/* The allocator wrapper every library allocation goes through, so tests can inject
 * allocation failures (irb_alloc_fail_after) and sizes are overflow-checked in one place. */
#ifndef IRB_CORE_ALLOC_H
#define IRB_CORE_ALLOC_H

#include <stddef.h>

void *irb_malloc(size_t n);
void *irb_calloc(size_t count, size_t size);
void *irb_realloc(void *p, size_t n);
/* count * size, or NULL if it overflows or the allocation fails. */
void *irb_malloc_array(size_t count, size_t size);
void *irb_realloc_array(void *p, size_t count, size_t size);
/* count * size for a large buffer that is written in full and kept (a featurizer's chunks):
 * 2 MiB-aligned and marked for transparent huge pages where the kernel offers them, so filling
 * it takes one page fault per 2 MiB instead of one per 4 KiB. Freed with irb_free. */
void *irb_malloc_large(size_t count, size_t size);
void irb_free(void *p);
char *irb_strdup(const char *s);
/* a followed by b, one irb_malloc'd string (NULL when out of memory): a path with a suffix. */
char *irb_strconcat(const char *a, const char *b);

/* a*b into *out; returns 0 on overflow. */
int irb_mul_size(size_t a, size_t b, size_t *out);

/* Test hook (per thread): the n-th allocation from now on (n >= 1) and every later one fail,
 * until called again with n = 0 (which disables injection). */
void irb_alloc_fail_after(long n);

#endif

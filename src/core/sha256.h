/* SHA-256 internals (the public functions are in irbis/files.h). */
#ifndef IRB_CORE_SHA256_H
#define IRB_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* A SHA-256 computed piecewise: init, update with the bytes in order, final (the 64 lowercase
 * hex digits + NUL of irb_sha256_buffer). */
typedef struct irb_sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} irb_sha256_ctx;
void irb_sha256_init(irb_sha256_ctx *c);
void irb_sha256_update(irb_sha256_ctx *c, const void *data, size_t n);
void irb_sha256_final(irb_sha256_ctx *c, char hex[65]);

/* Which block function runs: 1 the x86 SHA extensions (where the CPU has them), 0 the portable
 * one. Returns the previous setting. For tests that check both against each other; the default
 * is the SHA extensions where present. */
int irb_sha256_use_ni(int on);
/* 1 if this CPU has the SHA extensions (and SSSE3 and SSE4.1, which they need). */
int irb_sha256_has_ni(void);

#endif

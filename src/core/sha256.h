/* SHA-256 internals (the public functions are in irbis/files.h). */
#ifndef IRB_CORE_SHA256_H
#define IRB_CORE_SHA256_H

/* Which block function runs: 1 the x86 SHA extensions (where the CPU has them), 0 the portable
 * one. Returns the previous setting. For tests that check both against each other; the default
 * is the SHA extensions where present. */
int irb_sha256_use_ni(int on);
/* 1 if this CPU has the SHA extensions (and SSSE3 and SSE4.1, which they need). */
int irb_sha256_has_ni(void);

#endif

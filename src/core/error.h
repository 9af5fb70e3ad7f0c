/* Internal error helpers: the function that detects an error writes the message once with
 * irb_fail(); callers forward the status unchanged. */
#ifndef IRB_CORE_ERROR_H
#define IRB_CORE_ERROR_H

#include "irbis/core.h"

/* printf-style checking of a function's format argument f and its first variadic argument a. */
#if defined(__GNUC__)
#define IRB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IRB_PRINTF(f, a)
#endif

/* Set err (may be NULL) to status s with a printf-style message; returns s. */
irb_status irb_fail(irb_error *err, irb_status s, const char *fmt, ...) IRB_PRINTF(3, 4);
/* Record a warning (status stays IRB_OK); an earlier warning's text is kept if one is set. */
void irb_warn(irb_error *err, const char *fmt, ...) IRB_PRINTF(2, 3);
/* Add a warning after an earlier one ("first; second"), or set it when there is none. */
void irb_warn_more(irb_error *err, const char *fmt, ...) IRB_PRINTF(2, 3);
/* Appends text (after fmt) to err's message as it is (a failure or a warning): the way out after
 * the cause, e.g. " (use --restart)". */
void irb_error_append(irb_error *err, const char *fmt, ...) IRB_PRINTF(2, 3);
/* The status as one token for the status column of outputs ("ok", "io", "corrupt", "too_large",
 * "not_found", "nomem", ...; "error" outside the enum): irb_status_name's table. */
const char *irb_status_token(irb_status s);
/* Copy src into dst (both may be NULL). */
void irb_error_copy(irb_error *dst, const irb_error *src);
/* snprintf into dst[cap], except that a longer message keeps its start and its end (where the
 * cause is) around " ... " instead of losing the end. irb_fail and irb_warn format this way. */
void irb_message_format(char *dst, size_t cap, const char *fmt, ...) IRB_PRINTF(3, 4);

/* The check of a caller's table of n rows of `width` elements of `size` bytes (a public call's
 * x[n][width], prob[n][classes]): IRB_INVALID_ARG naming `what` and the sizes when no buffer can
 * hold it (the byte count overflows size_t or passes PTRDIFF_MAX), else IRB_OK. */
irb_status irb_check_rows(size_t n, size_t width, size_t size, const char *what, irb_error *err);

/* Propagate a non-OK status: `IRB_TRY(call);` inside a function returning irb_status. */
#define IRB_TRY(expr)                                                                                                  \
    do {                                                                                                               \
        irb_status irb__s = (expr);                                                                                    \
        if (irb__s != IRB_OK)                                                                                          \
            return irb__s;                                                                                             \
    } while (0)

#endif

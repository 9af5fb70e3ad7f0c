#include "core/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* The one table of the statuses: the name of messages (irb_status_name, as core.h's comments
 * give it) and the token of the outputs' status columns (irb_status_token). */
static const struct {
    const char *name, *token;
} STATUS[IRB_STATUS_COUNT] = {
    [IRB_OK] = {"ok", "ok"},
    [IRB_INVALID_ARG] = {"invalid argument", "invalid"},
    [IRB_IO] = {"i/o error", "io"},
    [IRB_CORRUPT] = {"corrupt input", "corrupt"},
    [IRB_UNSUPPORTED] = {"unsupported", "unsupported"},
    [IRB_NOMEM] = {"out of memory", "nomem"},
    [IRB_TOO_LARGE] = {"too large", "too_large"},
    [IRB_NOT_FOUND] = {"not found", "not_found"},
    [IRB_MISMATCH] = {"mismatch", "mismatch"},
    [IRB_BUSY] = {"busy", "busy"},
    [IRB_INTERNAL] = {"internal error", "internal"},
};

const char *irb_status_name(irb_status s)
{
    return (unsigned)s < IRB_STATUS_COUNT && STATUS[s].name ? STATUS[s].name : "unknown status";
}

const char *irb_status_token(irb_status s)
{
    return (unsigned)s < IRB_STATUS_COUNT && STATUS[s].token ? STATUS[s].token : "error";
}

const char *irb_version(void) { return IRB_VERSION_STRING; }

void irb_error_clear(irb_error *err)
{
    if (!err)
        return;
    err->status = IRB_OK;
    err->warning = 0;
    err->message[0] = '\0';
}

/* A message longer than dst keeps its start and its end (the cause comes last: "PATH: cannot
 * open: Permission denied"), joined by " ... ", cut on UTF-8 character boundaries. */
static void vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(dst, cap, fmt, ap);
    char *full = n >= (int)cap && cap > 64 ? irb_malloc((size_t)n + 1) : NULL;
    if (full) {
        vsnprintf(full, (size_t)n + 1, fmt, again);
        size_t head = cap / 3, tail = cap - head - 6; /* 5 for " ... ", 1 for the NUL */
        while (head > 0 && (full[head] & 0xC0) == 0x80)
            head--;
        const char *end = full + n - tail;
        while (*end && (*end & 0xC0) == 0x80)
            end++;
        snprintf(dst, cap, "%.*s ... %s", (int)head, full, end);
        irb_free(full);
    }
    va_end(again);
}

void irb_message_format(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(dst, cap, fmt, ap);
    va_end(ap);
}

irb_status irb_fail(irb_error *err, irb_status s, const char *fmt, ...)
{
    if (!err)
        return s;
    err->status = s;
    err->warning = 0;
    va_list ap;
    va_start(ap, fmt);
    vformat(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return s;
}

irb_status irb_check_rows(size_t n, size_t width, size_t size, const char *what, irb_error *err)
{
    size_t cells, bytes;
    if (!irb_mul_size(n, width, &cells) || !irb_mul_size(cells, size, &bytes) || bytes > PTRDIFF_MAX)
        return irb_fail(err, IRB_INVALID_ARG, "%s: %zu rows of %zu values are more than memory can hold", what, n,
                        width);
    return IRB_OK;
}

void irb_warn(irb_error *err, const char *fmt, ...)
{
    if (!err || err->warning)
        return;
    err->warning = 1;
    va_list ap;
    va_start(ap, fmt);
    vformat(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

void irb_warn_more(irb_error *err, const char *fmt, ...)
{
    if (!err || (err->status != IRB_OK && !err->warning))
        return;
    char more[IRB_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vformat(more, sizeof more, fmt, ap);
    va_end(ap);
    if (!err->warning) {
        err->status = IRB_OK;
        err->warning = 1;
        snprintf(err->message, sizeof err->message, "%s", more);
        return;
    }
    char prior[IRB_MESSAGE_MAX];
    snprintf(prior, sizeof prior, "%s", err->message);
    irb_message_format(err->message, sizeof err->message, "%s; %s", prior, more);
}

void irb_error_append(irb_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char more[IRB_MESSAGE_MAX], prior[IRB_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vformat(more, sizeof more, fmt, ap);
    va_end(ap);
    snprintf(prior, sizeof prior, "%s", err->message);
    irb_message_format(err->message, sizeof err->message, "%s%s", prior, more);
}

void irb_error_copy(irb_error *dst, const irb_error *src)
{
    if (!dst)
        return;
    if (!src) {
        irb_error_clear(dst);
        return;
    }
    memcpy(dst, src, sizeof *dst);
}

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[IRB_STATUS_COUNT] = {
    [IRB_OK] = "ok",
    [IRB_INVALID_ARG] = "invalid argument",
    [IRB_IO] = "i/o error",
    [IRB_CORRUPT] = "corrupt input",
    [IRB_UNSUPPORTED] = "unsupported",
    [IRB_NOMEM] = "out of memory",
    [IRB_TOO_LARGE] = "too large",
    [IRB_NOT_FOUND] = "not found",
    [IRB_MISMATCH] = "mismatch",
    [IRB_BUSY] = "busy",
    [IRB_INTERNAL] = "internal error",
};

const char *irb_status_name(irb_status s)
{
    if ((unsigned)s >= IRB_STATUS_COUNT)
        return "unknown status";
    return status_names[s];
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

irb_status irb_fail(irb_error *err, irb_status s, const char *fmt, ...)
{
    if (!err)
        return s;
    err->status = s;
    err->warning = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return s;
}

void irb_warn(irb_error *err, const char *fmt, ...)
{
    if (!err || err->warning)
        return;
    err->warning = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
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

/* irbis/core.h: status codes, error records, version. Included by irbis.h. */
#ifndef IRBIS_CORE_H
#define IRBIS_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the library's exported functions: libirbis.so is built with hidden visibility and
 * exports exactly what the irbis headers declare IRB_API. */
#if defined(__GNUC__)
#define IRB_API __attribute__((visibility("default")))
#else
#define IRB_API
#endif

#define IRB_VERSION_MAJOR  0
#define IRB_VERSION_MINOR  1
#define IRB_VERSION_PATCH  0
#define IRB_VERSION_STRING "0.1.0"

/* The one status enum. New values are only ever appended. Each comment starts with the name
 * irb_status_name returns for the value (tests/py/test_status_names.py holds them to it). */
typedef enum irb_status {
    IRB_OK = 0,      /* "ok" */
    IRB_INVALID_ARG, /* "invalid argument": a caller error: bad option, NULL where not allowed,
                      * wrong shape */
    IRB_IO,          /* "i/o error": open/read/write/fsync failed (errno text in the message) */
    IRB_CORRUPT,     /* "corrupt input": the input is malformed: not a JPEG, broken ONNX, bad
                      * checksum */
    IRB_UNSUPPORTED, /* "unsupported": well-formed but not handled: an ONNX op, a pixel format,
                      * bf16 here */
    IRB_NOMEM,       /* "out of memory": an allocation failed */
    IRB_TOO_LARGE,   /* "too large": refused before allocating: dimensions or sizes above a set
                      * limit */
    IRB_NOT_FOUND,   /* "not found": a named thing is missing: file, tensor, class, column */
    IRB_MISMATCH,    /* "mismatch": inputs that must agree do not: model vs classifier, feature
                      * sizes */
    IRB_BUSY,        /* "busy": a resource is held by someone else (another run on the same
                      * output) */
    IRB_INTERNAL,    /* "internal error": a bug in irbis; the message says where */
    IRB_STATUS_COUNT
} irb_status;

/* The status's name as the comments above give it ("ok", "invalid argument", "i/o error", ...),
 * a constant string for messages; "unknown status" for a value outside the enum. Never NULL. */
IRB_API const char *irb_status_name(irb_status s);

/* An error record: the status of the last failing call made with it, and a message that names
 * the file/tensor/offset and the cause. `warning` is set (with status IRB_OK) when the call
 * succeeded but something was off (e.g. truncated JPEG decoded partially); the message then
 * describes the warning. Callers may keep one on the stack, zero-initialised. */
#define IRB_MESSAGE_MAX 1024
typedef struct irb_error {
    irb_status status;
    int warning;
    char message[IRB_MESSAGE_MAX];
} irb_error;

/* Reset an error record to "no error". err may be NULL. */
IRB_API void irb_error_clear(irb_error *err);

/* The library version as "MAJOR.MINOR.PATCH". */
IRB_API const char *irb_version(void);

#ifdef __cplusplus
}
#endif
#endif

/* Little-endian binary writing and bounds-checked reading, and the versioned, checksummed
 * envelope every .irbis file has (docs/classifier.md): shared by classifier and pipeline files. */
#ifndef IRB_LEARN_BINIO_H
#define IRB_LEARN_BINIO_H

#include <stddef.h>
#include <stdint.h>

#include "irbis/core.h"

/* ---- writing: a growable buffer; an allocation failure sets nomem and drops later writes */
typedef struct irb_wbuf {
    uint8_t *p;
    size_t len, cap;
    int nomem;
} irb_wbuf;

void irb_wbuf_put(irb_wbuf *b, const void *data, size_t n);
void irb_wbuf_u32(irb_wbuf *b, uint32_t v);
void irb_wbuf_u64(irb_wbuf *b, uint64_t v);
void irb_wbuf_f64s(irb_wbuf *b, const double *v, size_t n);
void irb_wbuf_f32s(irb_wbuf *b, const float *v, size_t n);
void irb_wbuf_str(irb_wbuf *b, const char *s); /* u32 length + bytes (no NUL); NULL writes "" */

/* The envelope: magic "IRBISCLF", u32 version, u32 flags 0, u64 body length (patched by
 * irb_envelope_end), body, u32 CRC-32 of everything before it. */
void irb_envelope_begin(irb_wbuf *b, uint32_t version);
void irb_envelope_end(irb_wbuf *b);
/* Writes b's bytes to path durably (temporary name, fsync, rename, directory fsync). */
irb_status irb_wbuf_save(const irb_wbuf *b, const char *path, irb_error *err);

/* ---- reading: every get checks the bytes left; messages name the file and the offset ---- */
typedef struct irb_rbuf {
    const uint8_t *p;
    size_t len, off;
    const char *name;
    irb_error *err;
} irb_rbuf;

irb_status irb_rbuf_need(irb_rbuf *r, size_t n, const char *what);
irb_status irb_rbuf_u32(irb_rbuf *r, uint32_t *v, const char *what);
irb_status irb_rbuf_u64(irb_rbuf *r, uint64_t *v, const char *what);
irb_status irb_rbuf_f64s(irb_rbuf *r, double *v, size_t n, const char *what); /* finite values only */
irb_status irb_rbuf_f32s(irb_rbuf *r, float *v, size_t n, const char *what);  /* finite values only */
irb_status irb_rbuf_str(irb_rbuf *r, char **s, const char *what);             /* irb_malloc'd; no NUL inside */

/* Checks magic, length, checksum and version (1 .. max_version) of r's whole buffer; on
 * success *version is the file's, r->off is at the body and r->len at its end. */
irb_status irb_envelope_check(irb_rbuf *r, uint32_t max_version, uint32_t *version);

/* The size limit of .irbis files read (core/file.h's irb_read_file does the reading). */
#define IRB_IRBIS_MAX_BYTES ((size_t)1 << 34)

#endif

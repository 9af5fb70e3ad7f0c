/* Binary writing/reading helpers and the .irbis envelope (binio.h). */
#include "learn/binio.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/learn.h"
#include "core/file.h"

static const char magic[8] = {'I', 'R', 'B', 'I', 'S', 'C', 'L', 'F'};
enum { ENVELOPE = 24 }; /* magic, version, flags, body length */

/* ---- writing -------------------------------------------------------------------------------- */

void irb_wbuf_put(irb_wbuf *b, const void *data, size_t n)
{
    if (b->nomem)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = irb_realloc(b->p, cap);
        if (!q) {
            b->nomem = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void irb_wbuf_u32(irb_wbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    irb_wbuf_put(b, x, 4);
}

void irb_wbuf_u64(irb_wbuf *b, uint64_t v)
{
    irb_wbuf_u32(b, (uint32_t)v);
    irb_wbuf_u32(b, (uint32_t)(v >> 32));
}

void irb_wbuf_f64s(irb_wbuf *b, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        irb_wbuf_u64(b, u);
    }
}

void irb_wbuf_f32s(irb_wbuf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        irb_wbuf_u32(b, u);
    }
}

void irb_wbuf_str(irb_wbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    irb_wbuf_u32(b, (uint32_t)n);
    irb_wbuf_put(b, s ? s : "", n);
}

void irb_envelope_begin(irb_wbuf *b, uint32_t version)
{
    irb_wbuf_put(b, magic, 8);
    irb_wbuf_u32(b, version);
    irb_wbuf_u32(b, 0);
    irb_wbuf_u64(b, 0); /* body length, patched by irb_envelope_end */
}

void irb_envelope_end(irb_wbuf *b)
{
    if (b->nomem)
        return;
    uint64_t body = b->len - ENVELOPE;
    for (int i = 0; i < 8; i++)
        b->p[16 + i] = (uint8_t)(body >> (8 * i));
    irb_wbuf_u32(b, irb_crc32(0, b->p, b->len));
}

irb_status irb_wbuf_save(const irb_wbuf *b, const char *path, irb_error *err)
{
    if (b->nomem)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    return irb_atomic_write(path, b->p, b->len, err);
}

/* ---- reading -------------------------------------------------------------------------------- */

irb_status irb_rbuf_need(irb_rbuf *r, size_t n, const char *what)
{
    if (r->len - r->off < n)
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: truncated %s", r->name, r->off, what);
    return IRB_OK;
}

irb_status irb_rbuf_u32(irb_rbuf *r, uint32_t *v, const char *what)
{
    IRB_TRY(irb_rbuf_need(r, 4, what));
    const uint8_t *p = r->p + r->off;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->off += 4;
    return IRB_OK;
}

irb_status irb_rbuf_u64(irb_rbuf *r, uint64_t *v, const char *what)
{
    uint32_t lo = 0, hi = 0;
    IRB_TRY(irb_rbuf_u32(r, &lo, what));
    IRB_TRY(irb_rbuf_u32(r, &hi, what));
    *v = (uint64_t)hi << 32 | lo;
    return IRB_OK;
}

irb_status irb_rbuf_f64s(irb_rbuf *r, double *v, size_t n, const char *what)
{
    if (n > (r->len - r->off) / 8)
        return irb_rbuf_need(r, SIZE_MAX, what);
    for (size_t i = 0; i < n; i++) {
        uint64_t u = 0;
        irb_rbuf_u64(r, &u, what);
        memcpy(&v[i], &u, 8);
        if (!isfinite(v[i]))
            return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: %s is not finite", r->name, r->off - 8, what);
    }
    return IRB_OK;
}

irb_status irb_rbuf_f32s(irb_rbuf *r, float *v, size_t n, const char *what)
{
    if (n > (r->len - r->off) / 4)
        return irb_rbuf_need(r, SIZE_MAX, what);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        irb_rbuf_u32(r, &u, what);
        memcpy(&v[i], &u, 4);
        if (!isfinite(v[i]))
            return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: %s is not finite", r->name, r->off - 4, what);
    }
    return IRB_OK;
}

irb_status irb_rbuf_str(irb_rbuf *r, char **s, const char *what)
{
    uint32_t n;
    IRB_TRY(irb_rbuf_u32(r, &n, what));
    IRB_TRY(irb_rbuf_need(r, n, what));
    if (memchr(r->p + r->off, 0, n))
        return irb_fail(r->err, IRB_CORRUPT, "%s: offset %zu: NUL byte inside %s", r->name, r->off, what);
    if (!(*s = irb_malloc((size_t)n + 1)))
        return irb_fail(r->err, IRB_NOMEM, "%s: out of memory", r->name);
    memcpy(*s, r->p + r->off, n);
    (*s)[n] = '\0';
    r->off += n;
    return IRB_OK;
}

irb_status irb_envelope_check(irb_rbuf *r, uint32_t max_version, uint32_t *version)
{
    if (r->len < 8 || memcmp(r->p, magic, 8) != 0)
        return irb_fail(r->err, IRB_CORRUPT, "%s: not an irbis classifier or pipeline (bad magic)", r->name);
    if (r->len < ENVELOPE + 4)
        return irb_fail(r->err, IRB_CORRUPT, "%s: truncated (%zu bytes)", r->name, r->len);
    uint64_t body = 0;
    for (int i = 0; i < 8; i++)
        body |= (uint64_t)r->p[16 + i] << (8 * i);
    if (body != r->len - ENVELOPE - 4)
        return irb_fail(r->err, IRB_CORRUPT, "%s: body length %llu but file holds %zu (truncated or padded)", r->name,
                        (unsigned long long)body, r->len - ENVELOPE - 4);
    const uint8_t *t = r->p + r->len - 4;
    uint32_t want = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    uint32_t got = irb_crc32(0, r->p, r->len - 4);
    if (want != got)
        return irb_fail(r->err, IRB_CORRUPT, "%s: checksum mismatch (stored %08x, computed %08x)", r->name, want, got);
    r->off = 8;
    irb_rbuf_u32(r, version, "version");
    if (*version == 0)
        return irb_fail(r->err, IRB_CORRUPT, "%s: format version 0", r->name);
    if (*version > max_version)
        return irb_fail(r->err, IRB_UNSUPPORTED, "%s: format version %u, this irbis reads up to %u", r->name, *version,
                        max_version);
    r->off = ENVELOPE;
    r->len -= 4; /* the body ends before the checksum */
    return IRB_OK;
}

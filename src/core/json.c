/* The JSON tokenizer (json.h). */
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/text.h"

#define JSON_MAX_DEPTH 64

const char *irb_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return 0;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 1;
}

/* Walks the string at p; if out is non-NULL writes the decoded bytes. Returns decoded length or
 * -1 when malformed; *next is set after the closing quote. */
static long string_walk(const char *p, const char *end, char *out, const char **next)
{
    long n = 0;
    if (p >= end || *p != '"')
        return -1;
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *next = p + 1;
            return n;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (out)
                out[n] = (char)c;
            n++;
            continue;
        }
        if (++p >= end)
            return -1;
        char e = *p, ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned u;
            if (!hex4(p + 1, end, &u))
                return -1;
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo;
                if (end - p < 7 || p[1] != '\\' || p[2] != 'u' || !hex4(p + 3, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                return -1;
            }
            char b[4];
            int k = irb_utf8_encode(u, b);
            if (u == 0)
                return -1; /* an embedded NUL would silently truncate the C string */
            for (int i = 0; i < k; i++) {
                if (out)
                    out[n] = b[i];
                n++;
            }
            continue;
        }
        default: return -1;
        }
        if (out)
            out[n] = ch;
        n++;
    }
    return -1;
}

char *irb_json_string(const char *p, const char *end, const char **next, int *nomem)
{
    *nomem = 0;
    long n = string_walk(p, end, NULL, next);
    if (n < 0)
        return NULL;
    char *s = irb_malloc((size_t)n + 1);
    if (!s) {
        *nomem = 1;
        return NULL;
    }
    string_walk(p, end, s, next);
    s[n] = '\0';
    return s;
}

static const char *skip_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
    const char *next;
    p = irb_json_ws(p, end);
    if (p >= end || depth > JSON_MAX_DEPTH)
        return NULL;
    if (*p == '"')
        return string_walk(p, end, NULL, &next) < 0 ? NULL : next;
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        p = irb_json_ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                p = irb_json_ws(p, end);
                if (string_walk(p, end, NULL, &next) < 0)
                    return NULL;
                p = irb_json_ws(next, end);
                if (p >= end || *p != ':')
                    return NULL;
                p++;
            }
            if (!(p = skip_value(p, end, depth + 1)))
                return NULL;
            p = irb_json_ws(p, end);
            if (p >= end)
                return NULL;
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p++;
        }
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0)
            return p + n;
    }
    return skip_number(p, end);
}

const char *irb_json_skip(const char *p, const char *end) { return skip_value(p, end, 0); }

/* ---- lookups ------------------------------------------------------------------------------ */

int irb_json_string_is(const char *p, const char *end, const char *s)
{
    const char *next;
    char buf[256];
    p = irb_json_ws(p, end);
    long n = string_walk(p, end, NULL, &next);
    if (n < 0 || (size_t)n != strlen(s) || (size_t)n >= sizeof buf)
        return 0;
    string_walk(p, end, buf, &next);
    return memcmp(buf, s, (size_t)n) == 0;
}

const char *irb_json_member(const char *p, const char *end, const char *key)
{
    const char *next;
    p = irb_json_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p = irb_json_ws(p + 1, end);
    if (p < end && *p == '}')
        return NULL;
    for (;;) {
        int hit = irb_json_string_is(p, end, key);
        if (string_walk(p, end, NULL, &next) < 0)
            return NULL;
        p = irb_json_ws(next, end);
        if (p >= end || *p != ':')
            return NULL;
        const char *v = irb_json_ws(p + 1, end);
        if (!(p = skip_value(v, end, 1)))
            return NULL;
        if (hit)
            return v;
        p = irb_json_ws(p, end);
        if (p >= end || *p != ',')
            return NULL;
        p = irb_json_ws(p + 1, end);
    }
}

const char *irb_json_number(const char *p, const char *end, double *v)
{
    char buf[64];
    p = irb_json_ws(p, end);
    const char *q = skip_number(p, end);
    if (!q || (size_t)(q - p) >= sizeof buf)
        return NULL;
    memcpy(buf, p, (size_t)(q - p));
    buf[q - p] = '\0';
    *v = strtod(buf, NULL);
    return q;
}

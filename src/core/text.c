/* UTF-8 validation and the escaping of JSON, HTML and CSV text built on it. */
#include "core/text.h"

#include <string.h>

#include "core/alloc.h"

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

int irb_utf8_lead(unsigned char b)
{
    return b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
}

int irb_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int n = irb_utf8_lead(p[0]);
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) || (p[0] == 0xF0 && p[1] < 0x90) ||
        (p[0] == 0xF4 && p[1] >= 0x90))
        return 0; /* overlong, surrogate, above U+10FFFF */
    return n;
}

int irb_utf8_encode(unsigned u, char out[4])
{
    unsigned char *b = (unsigned char *)out;
    if (u < 0x80) {
        b[0] = (unsigned char)u;
        return 1;
    }
    if (u < 0x800) {
        b[0] = (unsigned char)(0xC0 | u >> 6);
        b[1] = (unsigned char)(0x80 | (u & 63));
        return 2;
    }
    if (u < 0x10000) {
        b[0] = (unsigned char)(0xE0 | u >> 12);
        b[1] = (unsigned char)(0x80 | ((u >> 6) & 63));
        b[2] = (unsigned char)(0x80 | (u & 63));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | u >> 18);
    b[1] = (unsigned char)(0x80 | ((u >> 12) & 63));
    b[2] = (unsigned char)(0x80 | ((u >> 6) & 63));
    b[3] = (unsigned char)(0x80 | (u & 63));
    return 4;
}

/* Calls put(f, piece, len) for each valid sequence or ASCII byte, and for each invalid byte
 * with the replacement character. */
static void each_char(FILE *f, const char *s, void (*put)(FILE *, const char *, int))
{
    while (s && *s) {
        int n = irb_utf8_len(s);
        put(f, n ? s : REPLACEMENT, n ? n : 3);
        s += n ? n : 1;
    }
}

static void json_char(FILE *f, const char *c, int n)
{
    unsigned char b = (unsigned char)c[0];
    if (n > 1)
        fwrite(c, 1, (size_t)n, f);
    else if (b == '"' || b == '\\')
        fprintf(f, "\\%c", b);
    else if (b == '\n')
        fputs("\\n", f);
    else if (b == '\t')
        fputs("\\t", f);
    else if (b == '\r')
        fputs("\\r", f);
    else if (b < 0x20 || b == 0x7F)
        fprintf(f, "\\u%04x", b);
    else
        fputc(b, f);
}

void irb_json_put(FILE *f, const char *s)
{
    fputc('"', f);
    each_char(f, s, json_char);
    fputc('"', f);
}

void irb_json_put_member(FILE *f, const char *sep, const char *key, const char *value)
{
    fprintf(f, "%s\"%s\": ", sep, key);
    irb_json_put(f, value);
}

static void html_char(FILE *f, const char *c, int n)
{
    unsigned char b = (unsigned char)c[0];
    if (n > 1)
        fwrite(c, 1, (size_t)n, f);
    else if (b == '<')
        fputs("&lt;", f);
    else if (b == '>')
        fputs("&gt;", f);
    else if (b == '&')
        fputs("&amp;", f);
    else if (b == '"')
        fputs("&quot;", f);
    else if (b >= 0x20 || b == '\t' || b == '\n')
        fputc(b, f);
}

void irb_html_put(FILE *f, const char *s) { each_char(f, s, html_char); }

static void raw_char(FILE *f, const char *c, int n) { fwrite(c, 1, (size_t)n, f); }

static void quoted_char(FILE *f, const char *c, int n)
{
    if (c[0] == '"')
        fputc('"', f);
    fwrite(c, 1, (size_t)n, f);
}

/* The replacement only stands for non-ASCII bytes, so the quoting rule is irb_csv_put's. */
void irb_csv_put_utf8(FILE *f, const char *s)
{
    int quote = s && strpbrk(s, ",\"\r\n");
    if (quote)
        fputc('"', f);
    each_char(f, s, quote ? quoted_char : raw_char);
    if (quote)
        fputc('"', f);
}

char *irb_pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    s = s ? s : "";
    char *u = irb_malloc(3 * strlen(s) + 1), *o = u;
    if (!u)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/._-~", *p))
            *o++ = (char)*p;
        else
            *o++ = '%', *o++ = hex[*p >> 4], *o++ = hex[*p & 15];
    }
    *o = '\0';
    return u;
}

void irb_json_put_pct(FILE *f, const char *s)
{
    char *u = irb_pct_encode(s);
    irb_json_put(f, u ? u : "");
    irb_free(u);
}

int irb_utf8_valid(const char *s)
{
    for (int n; s && *s; s += n)
        if (!(n = irb_utf8_len(s)))
            return 0;
    return 1;
}

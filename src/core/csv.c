#include "core/csv.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/text.h"

void irb_csv_init(irb_csv_reader *r, FILE *f, const char *path)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->path = path ? path : "(csv)";
}

void irb_csv_release(irb_csv_reader *r)
{
    irb_free(r->buf);
    irb_free(r->fields);
    for (int i = 0; i < r->nheader; i++)
        irb_free(r->header[i]);
    irb_free(r->header);
    memset(r, 0, sizeof *r);
}

static int push_char(irb_csv_reader *r, size_t *len, char c)
{
    if (*len + 1 >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        char *b = irb_realloc(r->buf, cap);
        if (!b)
            return 0;
        r->buf = b;
        r->cap = cap;
    }
    r->buf[(*len)++] = c;
    return 1;
}

/* ---- decoding: UTF-8, else Windows-1252 (csv.h) ------------------------------------------ */

/* Windows-1252's 0x80..0x9F as Unicode (0xA0..0xFF are Latin-1's); 0 for the five it leaves
 * undefined. */
static const unsigned short CP1252_C1[32] = {0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                             0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
                                             0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                             0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

enum { REC_NOMEM = -2, REC_NUL = -3, REC_UNDEFINED = -4, REC_MIXED = -5 };

/* Appends byte b read as Windows-1252 to r->out as UTF-8; 0 when Windows-1252 defines no b. */
static int put_cp1252(irb_csv_reader *r, unsigned char b)
{
    unsigned u = b >= 0x80 && b < 0xA0 ? CP1252_C1[b - 0x80] : b;
    if (!u) {
        r->bad_byte = b;
        return 0;
    }
    r->nout += irb_utf8_encode(u, r->out + r->nout);
    return 1;
}

/* The next of r->out, EOF when it is empty. */
static int take(irb_csv_reader *r) { return r->iout < r->nout ? (unsigned char)r->out[r->iout++] : EOF; }

/* The pending bytes and c (EOF: none) are no UTF-8: the file is Windows-1252 from here on (it was
 * ASCII so far), or mixes the two (UTF-8 beyond ASCII came before). Returns the first byte. */
static int to_cp1252(irb_csv_reader *r, int c)
{
    r->bad_line = r->line;
    r->bad_byte = r->npend ? r->pend[0] : c;
    if (r->utf8_line)
        return REC_MIXED;
    r->cp1252 = 1;
    r->nout = r->iout = 0;
    for (int i = 0; i < r->npend; i++)
        if (!put_cp1252(r, r->pend[i]))
            return REC_UNDEFINED;
    r->npend = 0;
    if (c != EOF && !put_cp1252(r, (unsigned char)c))
        return REC_UNDEFINED;
    return take(r);
}

/* The next byte of the file's text as UTF-8 (0..255), EOF, or REC_UNDEFINED / REC_MIXED. */
static int get_byte(irb_csv_reader *r)
{
    if (r->nback) {
        r->nback = 0;
        return r->back;
    }
    if (r->iout < r->nout)
        return take(r);
    r->nout = r->iout = 0;
    for (;;) {
        int c = fgetc(r->f);
        if (c != EOF && r->nread < (long long)sizeof r->head)
            r->head[r->nread] = (unsigned char)c;
        r->nread += c != EOF;
        if (r->cp1252)
            return c == EOF || c < 0x80 ? c : put_cp1252(r, (unsigned char)c) ? take(r) : REC_UNDEFINED;
        if (!r->npend) {
            int n = c == EOF ? 1 : irb_utf8_lead((unsigned char)c);
            if (n == 1)
                return c;
            if (!n)
                return to_cp1252(r, c);
            r->pend[r->npend++] = (unsigned char)c;
            continue;
        }
        if (c == EOF || (c & 0xC0) != 0x80)
            return to_cp1252(r, c);
        r->pend[r->npend++] = (unsigned char)c;
        if (r->npend < irb_utf8_lead(r->pend[0]))
            continue;
        char seq[5] = {0};
        memcpy(seq, r->pend, (size_t)r->npend);
        if (!irb_utf8_len(seq)) /* overlong, a surrogate, above U+10FFFF */
            return to_cp1252(r, EOF);
        if (!r->utf8_line)
            r->utf8_line = r->line;
        memcpy(r->out, seq, (size_t)r->npend);
        r->nout = r->npend;
        r->npend = 0;
        return take(r);
    }
}

static void unget_byte(irb_csv_reader *r, int c)
{
    r->back = c;
    r->nback = 1;
}

/* Reads one record into r->buf as NUL-separated fields; returns field count, 0 at EOF, -1 on
 * unterminated quote, or a REC_ code: REC_NUL on a NUL byte (it would end the field unseen and
 * shift every later column: "a.jpg<NUL>junk,deer" read as label "junk"). */
static int read_record(irb_csv_reader *r, size_t *len)
{
    int c, quoted = 0, nf = 0, any = 0;
    *len = 0;
    while ((c = get_byte(r)) != EOF) {
        any = 1;
        if (c < EOF)
            return c;
        if (c == '\0')
            return REC_NUL;
        if (quoted) {
            if (c == '"') {
                int d = get_byte(r);
                if (d < EOF)
                    return d;
                if (d == '"') {
                    if (!push_char(r, len, '"'))
                        return REC_NOMEM;
                    continue;
                }
                quoted = 0;
                if (d == EOF)
                    break;
                c = d;
            } else {
                if (c == '\n')
                    r->line++;
                if (!push_char(r, len, (char)c))
                    return REC_NOMEM;
                continue;
            }
        }
        if (c == '"') {
            quoted = 1;
        } else if (c == (r->sep ? r->sep : ',')) {
            if (!push_char(r, len, '\0'))
                return REC_NOMEM;
            nf++;
        } else if (c == '\n') {
            break;
        } else if (c == '\r') { /* CRLF, or a lone CR: the line ends of old Mac spreadsheets */
            int d = get_byte(r);
            if (d < EOF)
                return d;
            if (d != '\n' && d != EOF)
                unget_byte(r, d);
            break;
        } else {
            if (!push_char(r, len, (char)c))
                return REC_NOMEM;
        }
    }
    if (quoted)
        return -1;
    if (!any)
        return 0;
    if (!push_char(r, len, '\0'))
        return REC_NOMEM;
    return nf + 1;
}

/* The failure of a record that read_record refused with code nf (below -1). */
static irb_status refuse(irb_csv_reader *r, int nf, irb_error *err)
{
    const unsigned char *h = r->head;
    if (nf == REC_NOMEM)
        return irb_fail(err, IRB_NOMEM, "%s:%ld: out of memory reading CSV", r->path, r->line);
    if (r->nread >= 2 && ((h[0] == 0xFF && h[1] == 0xFE) || (h[0] == 0xFE && h[1] == 0xFF)))
        return irb_fail(err, IRB_CORRUPT,
                        "%s: saved as UTF-16 (Excel's \"Unicode Text\"), which irbis does not read: save it as "
                        "\"CSV UTF-8\" (in Excel: Save As, CSV UTF-8 (Comma delimited))",
                        r->path);
    if (r->nread >= 4 && (!memcmp(h, "PK\x03\x04", 4) || !memcmp(h, "\xD0\xCF\x11\xE0", 4)))
        return irb_fail(err, IRB_CORRUPT,
                        "%s: a spreadsheet workbook (.xlsx or .xls), not a CSV file: save it as CSV (in Excel: "
                        "Save As, CSV UTF-8)",
                        r->path);
    if (nf == REC_NUL)
        return irb_fail(err, IRB_CORRUPT,
                        "%s:%ld: a NUL byte: not a text CSV file (saved as UTF-16, or damaged?): save it as \"CSV "
                        "UTF-8\"",
                        r->path, r->line);
    if (nf == REC_UNDEFINED)
        return irb_fail(err, IRB_CORRUPT,
                        "%s:%ld: byte 0x%02X is a character neither in UTF-8 nor in Windows-1252 (another code "
                        "page?): save the file as \"CSV UTF-8\"",
                        r->path, r->line, (unsigned)r->bad_byte);
    return irb_fail(err, IRB_CORRUPT,
                    "%s:%ld: byte 0x%02X is not UTF-8, yet line %ld is UTF-8 (accented letters as two bytes or a "
                    "byte-order mark): the file mixes two encodings, so some of its names cannot be read as "
                    "written; save it as \"CSV UTF-8\"",
                    r->path, r->bad_line, (unsigned)r->bad_byte, r->utf8_line);
}

/* The warning of a file found to be Windows-1252, once. */
static void say_cp1252(irb_csv_reader *r, irb_error *err)
{
    if (!r->cp1252 || r->warned)
        return;
    r->warned = 1;
    irb_warn_more(err,
                  "%s: not UTF-8 (byte 0x%02X on line %ld): read as Windows-1252, the encoding of Excel's \"CSV "
                  "(Comma delimited)\" on Windows; save it as \"CSV UTF-8\" to be sure every name reads as written",
                  r->path, (unsigned)r->bad_byte, r->bad_line);
}

irb_status irb_csv_next(irb_csv_reader *r, irb_error *err)
{
    size_t len;
    r->nfields = 0;
    for (;;) {
        r->line++;
        int nf = read_record(r, &len);
        if (nf == 0) {
            say_cp1252(r, err);
            return IRB_NOT_FOUND;
        }
        if (nf == -1)
            return irb_fail(err, IRB_CORRUPT, "%s:%ld: unterminated quoted field", r->path, r->line);
        if (nf < -1)
            return refuse(r, nf, err);
        if (nf == 1 && r->buf[0] == '\0')
            continue; /* blank line */
        if (nf > r->fields_cap) {
            char **f = irb_realloc_array(r->fields, (size_t)nf, sizeof *f);
            if (!f)
                return irb_fail(err, IRB_NOMEM, "%s:%ld: out of memory reading CSV", r->path, r->line);
            r->fields = f;
            r->fields_cap = nf;
        }
        char *p = r->buf;
        for (int i = 0; i < nf; i++) {
            r->fields[i] = p;
            p += strlen(p) + 1;
        }
        r->nfields = nf;
        say_cp1252(r, err);
        return IRB_OK;
    }
}

irb_status irb_csv_read_header(irb_csv_reader *r, irb_error *err)
{
    errno = 0;
    irb_status s = irb_csv_next(r, err);
    if (s == IRB_NOT_FOUND && ferror(r->f)) /* a folder opens, and its first read fails */
        return irb_fail(err, IRB_IO, "%s: cannot read: %s", r->path,
                        errno == EISDIR ? "a folder, not a CSV file" : strerror(errno ? errno : EIO));
    if (s == IRB_NOT_FOUND)
        return irb_fail(err, IRB_CORRUPT, "%s: empty file, expected a CSV header", r->path);
    if (s != IRB_OK)
        return s;
    char *one = r->fields[0], *alt = r->nfields == 1 ? strpbrk(one, ";\t") : NULL;
    if (alt) { /* "path;label": the record's separator is the header's */
        r->sep = *alt;
        int nf = 1;
        for (char *p = one; *p; p++)
            if (*p == r->sep)
                *p = '\0', nf++;
        if (nf > r->fields_cap) {
            char **f = irb_realloc_array(r->fields, (size_t)nf, sizeof *f);
            if (!f)
                return irb_fail(err, IRB_NOMEM, "%s: out of memory", r->path);
            r->fields = f, r->fields_cap = nf;
        }
        for (int i = 0; i < nf; i++, one += strlen(one) + 1)
            r->fields[i] = one;
        r->nfields = nf;
    }
    r->header = irb_calloc((size_t)r->nfields, sizeof *r->header);
    if (!r->header)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", r->path);
    r->nheader = r->nfields;
    for (int i = 0; i < r->nfields; i++) {
        const char *h = r->fields[i];
        if (i == 0 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB && (unsigned char)h[2] == 0xBF)
            h += 3; /* UTF-8 byte-order mark */
        if (!(r->header[i] = irb_strdup(h)))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", r->path);
    }
    return IRB_OK;
}

/* a and b equal but for case and blanks around either */
static int loosely_equal(const char *a, const char *b)
{
    while (isspace((unsigned char)*a))
        a++;
    while (isspace((unsigned char)*b))
        b++;
    size_t na = strlen(a), nb = strlen(b);
    while (na && isspace((unsigned char)a[na - 1]))
        na--;
    while (nb && isspace((unsigned char)b[nb - 1]))
        nb--;
    return na == nb && !strncasecmp(a, b, na);
}

int irb_header_find(char *const *names, int n, const char *name)
{
    int found = -1, loose = 0;
    for (int i = 0; names && name && i < n; i++) {
        if (!strcmp(names[i], name))
            return i;
        if (loosely_equal(names[i], name) && !loose++)
            found = i;
    }
    return loose == 1 ? found : -1;
}

int irb_csv_column(const irb_csv_reader *r, const char *name) { return irb_header_find(r->header, r->nheader, name); }

const char *irb_csv_field(const irb_csv_reader *r, int i) { return (i >= 0 && i < r->nfields) ? r->fields[i] : ""; }

void irb_csv_put_prefixed(FILE *f, const char *prefix, const char *s)
{
    if (!s)
        s = "";
    if (!strpbrk(prefix, ",\"\r\n") && !strpbrk(s, ",\"\r\n")) {
        fputs(prefix, f);
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (int part = 0; part < 2; part++)
        for (const char *c = part ? s : prefix; *c; c++) {
            if (*c == '"')
                fputc('"', f);
            fputc(*c, f);
        }
    fputc('"', f);
}

void irb_csv_put(FILE *f, const char *s)
{
    if (f)
        irb_csv_put_prefixed(f, "", s);
}

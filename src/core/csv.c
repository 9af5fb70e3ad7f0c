#include "core/csv.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"

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

/* Reads one record into r->buf as NUL-separated fields; returns field count, 0 at EOF, -1 on
 * unterminated quote, -2 on no memory, -3 on a NUL byte (it would end the field unseen and shift
 * every later column: "a.jpg<NUL>junk,deer" read as label "junk"). */
static int read_record(irb_csv_reader *r, size_t *len)
{
    int c, quoted = 0, nf = 0, any = 0;
    *len = 0;
    while ((c = fgetc(r->f)) != EOF) {
        any = 1;
        if (c == '\0')
            return -3;
        if (quoted) {
            if (c == '"') {
                int d = fgetc(r->f);
                if (d == '"') {
                    if (!push_char(r, len, '"'))
                        return -2;
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
                    return -2;
                continue;
            }
        }
        if (c == '"') {
            quoted = 1;
        } else if (c == (r->sep ? r->sep : ',')) {
            if (!push_char(r, len, '\0'))
                return -2;
            nf++;
        } else if (c == '\n') {
            break;
        } else if (c == '\r') { /* CRLF, or a lone CR: the line ends of old Mac spreadsheets */
            int d = fgetc(r->f);
            if (d != '\n' && d != EOF)
                ungetc(d, r->f);
            break;
        } else {
            if (!push_char(r, len, (char)c))
                return -2;
        }
    }
    if (quoted)
        return -1;
    if (!any)
        return 0;
    if (!push_char(r, len, '\0'))
        return -2;
    return nf + 1;
}

irb_status irb_csv_next(irb_csv_reader *r, irb_error *err)
{
    size_t len;
    r->nfields = 0;
    for (;;) {
        r->line++;
        int nf = read_record(r, &len);
        if (nf == 0)
            return IRB_NOT_FOUND;
        if (nf == -1)
            return irb_fail(err, IRB_CORRUPT, "%s:%ld: unterminated quoted field", r->path, r->line);
        if (nf == -2)
            return irb_fail(err, IRB_NOMEM, "%s:%ld: out of memory reading CSV", r->path, r->line);
        if (nf == -3 && r->line == 1 && len >= 4 &&
            (!memcmp(r->buf, "PK\x03\x04", 4) || !memcmp(r->buf, "\xD0\xCF\x11\xE0", 4)))
            return irb_fail(err, IRB_CORRUPT,
                            "%s: a spreadsheet workbook (.xlsx or .xls), not a CSV file: save it as CSV (in Excel: "
                            "Save As, CSV UTF-8)",
                            r->path);
        if (nf == -3)
            return irb_fail(err, IRB_CORRUPT, "%s:%ld: a NUL byte: not a text CSV file (saved as UTF-16, or damaged?)",
                            r->path, r->line);
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

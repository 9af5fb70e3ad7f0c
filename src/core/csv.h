/* CSV (RFC 4180) reading and writing, shared by every file format irbis reads or writes.
 *
 * Text encoding. The reader returns UTF-8 whatever a spreadsheet saved:
 * - bytes that are valid UTF-8 (with or without a byte-order mark, "CSV UTF-8") are returned as
 *   they are;
 * - a file that is not valid UTF-8 is read as Windows-1252, Excel's "CSV (Comma delimited)" on
 *   Windows in Western Europe and the Americas (Latin-1 but for 0x80-0x9F, which hold the Euro
 *   sign, curly quotes, dashes, Œ Š Ž ...), and transcoded to UTF-8, with a warning (err->warning,
 *   once per file) that names the file and the line of the first byte that is not UTF-8. The five
 *   bytes Windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) are refused (IRB_CORRUPT naming
 *   the line): text holding them is in another code page, and a U+FFFD in its place would match
 *   no file and name no class.
 * The choice is made on the first byte that is not UTF-8, in one pass and without holding the
 * file (a predictions CSV of a million rows is read as it streams). Everything before that byte
 * was then either ASCII, which reads the same in both encodings, so the whole file is read as
 * Windows-1252; or it held UTF-8 beyond ASCII (a byte-order mark, "é" as two bytes): a file of
 * both encodings, refused (IRB_CORRUPT naming both lines), since reading it either way would
 * silently change some of its names. UTF-16 (Excel's "Unicode Text") is refused with a message
 * that says to save as "CSV UTF-8", as are .xlsx/.xls workbooks. */
#ifndef IRB_CORE_CSV_H
#define IRB_CORE_CSV_H

#include <stdio.h>

#include "irbis/core.h"
#include "irbis/files.h"

typedef struct irb_csv_reader {
    FILE *f;          /* borrowed */
    const char *path; /* borrowed, for messages */
    long line;        /* 1-based line number of the record last read */
    char *buf;        /* the record's text, fields point into it */
    size_t cap;
    char **fields;
    int nfields, fields_cap;
    char **header; /* owned copy of the first record, when read with irb_csv_read_header */
    int nheader;
    char sep; /* the field separator: ',' (0 before the header is read), or what the header used */
    /* decoding (see the top of this file) */
    int cp1252;            /* 1 once the file is read as Windows-1252 */
    int warned;            /* the Windows-1252 warning was given */
    long utf8_line;        /* the first line with UTF-8 beyond ASCII, or 0 */
    long bad_line;         /* the line of the first byte that is not UTF-8, or 0 */
    int bad_byte;          /* that byte (for messages) */
    long long nread;       /* bytes read from f */
    unsigned char head[4]; /* the file's first bytes as read (workbook and UTF-16 signatures) */
    unsigned char pend[4]; /* a UTF-8 sequence begun and not yet complete */
    int npend;
    char out[16]; /* decoded bytes not yet returned */
    int nout, iout;
    int back, nback; /* a byte read ahead and put back */
} irb_csv_reader;

void irb_csv_init(irb_csv_reader *r, FILE *f, const char *path);
void irb_csv_release(irb_csv_reader *r);
/* Reads the next record. Returns IRB_OK with r->nfields > 0, IRB_NOT_FOUND at end of file, or
 * IRB_CORRUPT (unterminated quote, a NUL byte, UTF-16, a workbook, a byte Windows-1252 does not
 * define, UTF-8 and Windows-1252 in one file) / IRB_NOMEM with a message in err. The record that
 * shows the file is Windows-1252 sets a warning in err (status IRB_OK), once per file. */
irb_status irb_csv_next(irb_csv_reader *r, irb_error *err);
/* Reads the first record as the header (kept in r->header). A header of one field that holds ';'
 * or a tab and no ',' (a spreadsheet saved in a European locale, or as tab-separated text) sets
 * that as the separator of the records after it. */
irb_status irb_csv_read_header(irb_csv_reader *r, irb_error *err);
/* Index of a header column by name: the exact name, else the one column equal to it but for case
 * and blanks around it ("Path", " label "); -1 when none or several. */
int irb_csv_column(const irb_csv_reader *r, const char *name);
/* The same rule over any list of column names. */
int irb_header_find(char *const *names, int n, const char *name);
/* Field i of the current record, or "" when the record is shorter. */
const char *irb_csv_field(const irb_csv_reader *r, int i);

/* irb_csv_put (irbis/files.h) writes one field. */
/* Writes prefix followed by s as one field (a header "p_<class>"), quoted as irb_csv_put does. */
void irb_csv_put_prefixed(FILE *f, const char *prefix, const char *s);

#endif

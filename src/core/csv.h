/* CSV (RFC 4180) reading and writing, shared by every file format irbis reads or writes. */
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
} irb_csv_reader;

void irb_csv_init(irb_csv_reader *r, FILE *f, const char *path);
void irb_csv_release(irb_csv_reader *r);
/* Reads the next record. Returns IRB_OK with r->nfields > 0, IRB_NOT_FOUND at end of file, or
 * IRB_CORRUPT (unterminated quote) / IRB_NOMEM with a message in err. */
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

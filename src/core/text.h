/* Writing text into formats that must be valid UTF-8 (JSON, HTML/XML, Camtrap DP CSV) from
 * strings that need not be: file names are bytes. An invalid UTF-8 byte is written as U+FFFD. */
#ifndef IRB_CORE_TEXT_H
#define IRB_CORE_TEXT_H

#include <stdio.h>

/* Length (1..4) of the valid UTF-8 sequence at p (not at its NUL), or 0 if p starts an invalid
 * one (bad lead byte, bad continuation, overlong, surrogate, above U+10FFFF). */
int irb_utf8_len(const char *p);
/* Length (1..4) of the sequence a UTF-8 lead byte b starts, 0 when b starts none (a continuation
 * byte, 0xC0, 0xC1, 0xF5..0xFF). irb_utf8_len checks the bytes after it. */
int irb_utf8_lead(unsigned char b);
/* Code point u (below 0x110000) as UTF-8 into out; returns its length (1..4). */
int irb_utf8_encode(unsigned u, char out[4]);
/* 1 when s (NULL: "") is valid UTF-8 throughout. */
int irb_utf8_valid(const char *s);
/* A JSON string literal of s (NULL: ""), with its quotes. */
void irb_json_put(FILE *f, const char *s);
/* One member of a JSON object: sep (e.g. "{" or ", "), the quoted key (a plain name, written as
 * it is), ": " and value as irb_json_put writes it. */
void irb_json_put_member(FILE *f, const char *sep, const char *key, const char *value);
/* s as HTML/XML text or attribute value (<>&" escaped; C0 controls other than tab and newline,
 * which XML forbids, dropped). NULL writes nothing. */
void irb_html_put(FILE *f, const char *s);
/* One CSV field as irb_csv_put writes it, invalid UTF-8 bytes written as U+FFFD. */
void irb_csv_put_utf8(FILE *f, const char *s);
/* s percent-encoded: every byte but A-Z a-z 0-9 - . _ ~ / as %XX, in a new string (irb_free);
 * NULL when out of memory. Bytes, not characters: a name that is not UTF-8 goes into a URL (or a
 * JSON string, which could not carry it) and back unchanged. */
char *irb_pct_encode(const char *s);
/* irb_json_put of irb_pct_encode(s) ("" when out of memory). */
void irb_json_put_pct(FILE *f, const char *s);

#endif

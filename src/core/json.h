/* Reading JSON (RFC 8259) in place: a validating tokenizer over [p, end) that skips values,
 * decodes strings and numbers and finds an object's members by name, for the JSON records irbis
 * reads back (feature-set metadata, preprocessing descriptions). Writing JSON: irb_json_put
 * (core/text.h). Nothing here allocates except irb_json_string. */
#ifndef IRB_CORE_JSON_H
#define IRB_CORE_JSON_H

#include <stdio.h>

/* Skips whitespace. */
const char *irb_json_ws(const char *p, const char *end);
/* Returns the end of the JSON value starting at p (after whitespace), or NULL if malformed. */
const char *irb_json_skip(const char *p, const char *end);
/* Decodes the JSON string starting at p ('"'); returns an irb_malloc'd UTF-8 string or NULL
 * (malformed or out of memory; *nomem tells which). *next gets the position after it. */
char *irb_json_string(const char *p, const char *end, const char **next, int *nomem);

/* The value of member `key` of the object at p (after whitespace): the first member of that
 * name at the object's top level, never a key or string inside a value. NULL when p is not an
 * object, the object is malformed before the member, or it has no such member. */
const char *irb_json_member(const char *p, const char *end, const char *key);
/* The JSON number at p (after whitespace) into *v; returns the position after it, or NULL (not a
 * number: *v untouched). */
const char *irb_json_number(const char *p, const char *end, double *v);
/* 1 if the value at p (after whitespace) is the JSON string s (escapes decoded), else 0. */
int irb_json_string_is(const char *p, const char *end, const char *s);

#endif

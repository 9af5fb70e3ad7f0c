/* Just enough JSON for feature-set metadata: a flat object whose values are any JSON. */
#ifndef IRB_LEARN_JSON_H
#define IRB_LEARN_JSON_H

#include <stdio.h>

/* Skips whitespace. */
const char *irb_json_ws(const char *p, const char *end);
/* Returns the end of the JSON value starting at p (after whitespace), or NULL if malformed. */
const char *irb_json_skip(const char *p, const char *end);
/* Decodes the JSON string starting at p ('"'); returns an irb_malloc'd UTF-8 string or NULL
 * (malformed or out of memory; *nomem tells which). *next gets the position after it. */
char *irb_json_string(const char *p, const char *end, const char **next, int *nomem);

#endif

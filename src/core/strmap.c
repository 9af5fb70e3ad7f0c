/* The one string map (irbis/files.h): open addressing with linear probing over a power-of-two
 * table at most half full, keys copied with their length (so they may hold NUL bytes), FNV-1a
 * hashes. Every string -> value table of the library and the tools is one of these. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/files.h"

struct irb_strmap {
    size_t cap, n; /* slots (a power of two, or 0), keys */
    char **key;    /* owned copies (len bytes + a NUL), NULL: an empty slot */
    size_t *len;
    int64_t *val;
};

uint64_t irb_strmap_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; key && i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return h;
}

static size_t slot_of(const irb_strmap *m, const char *key, size_t len)
{
    size_t i = (size_t)irb_strmap_hash(key, len) & (m->cap - 1);
    while (m->key[i] && !(m->len[i] == len && !memcmp(m->key[i], key, len)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* Moves the keys into a table of cap slots; 0 when out of memory (m unchanged). */
static int rehash(irb_strmap *m, size_t cap)
{
    irb_strmap g = {.cap = cap, .n = m->n};
    g.key = irb_calloc(cap, sizeof *g.key);
    g.len = irb_malloc_array(cap, sizeof *g.len);
    g.val = irb_malloc_array(cap, sizeof *g.val);
    if (!g.key || !g.len || !g.val) {
        irb_free(g.key), irb_free(g.len), irb_free(g.val);
        return 0;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->key[i]) {
            size_t j = slot_of(&g, m->key[i], m->len[i]);
            g.key[j] = m->key[i], g.len[j] = m->len[i], g.val[j] = m->val[i];
        }
    irb_free(m->key), irb_free(m->len), irb_free(m->val);
    *m = g;
    return 1;
}

irb_status irb_strmap_new(size_t expected, irb_strmap **out, irb_error *err)
{
    if (!out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_strmap_new: NULL out");
    *out = NULL;
    irb_strmap *m = irb_calloc(1, sizeof *m);
    size_t cap = 16;
    while (cap / 2 < expected && cap < ((size_t)1 << (sizeof(size_t) * 8 - 2)))
        cap *= 2;
    if (!m || !rehash(m, cap)) {
        irb_free(m);
        return irb_fail(err, IRB_NOMEM, "out of memory for a table of %zu names", expected);
    }
    *out = m;
    return IRB_OK;
}

void irb_strmap_free(irb_strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        irb_free(m->key[i]);
    irb_free(m->key), irb_free(m->len), irb_free(m->val);
    irb_free(m);
}

size_t irb_strmap_count(const irb_strmap *m) { return m ? m->n : 0; }

int irb_strmap_get(const irb_strmap *m, const char *key, size_t len, int64_t *value)
{
    if (!m || !key)
        return 0;
    size_t i = slot_of(m, key, len);
    if (!m->key[i])
        return 0;
    if (value)
        *value = m->val[i];
    return 1;
}

/* The slot of key, added with value when it is not there (*added = 1). */
static irb_status find_or_add(irb_strmap *m, const char *key, size_t len, int64_t value, size_t *slot, int *added,
                              irb_error *err)
{
    size_t i = slot_of(m, key, len);
    *added = !m->key[i];
    if (*added) {
        if (2 * (m->n + 1) > m->cap) {
            if (!rehash(m, 2 * m->cap))
                return irb_fail(err, IRB_NOMEM, "out of memory for a table of %zu names", m->n + 1);
            i = slot_of(m, key, len);
        }
        char *k = len < (size_t)-1 ? irb_malloc(len + 1) : NULL;
        if (!k)
            return irb_fail(err, IRB_NOMEM, "out of memory for a name of %zu bytes", len);
        memcpy(k, key, len);
        k[len] = '\0';
        m->key[i] = k, m->len[i] = len, m->val[i] = value;
        m->n++;
    }
    *slot = i;
    return IRB_OK;
}

irb_status irb_strmap_add(irb_strmap *m, const char *key, size_t len, int64_t value, int64_t *stored, irb_error *err)
{
    if (!m || !key)
        return irb_fail(err, IRB_INVALID_ARG, "irb_strmap_add: NULL %s", m ? "key" : "map");
    size_t i;
    int added;
    IRB_TRY(find_or_add(m, key, len, value, &i, &added, err));
    if (stored)
        *stored = m->val[i];
    return IRB_OK;
}

irb_status irb_strmap_set(irb_strmap *m, const char *key, size_t len, int64_t value, irb_error *err)
{
    if (!m || !key)
        return irb_fail(err, IRB_INVALID_ARG, "irb_strmap_set: NULL %s", m ? "key" : "map");
    size_t i;
    int added;
    IRB_TRY(find_or_add(m, key, len, value, &i, &added, err));
    m->val[i] = value;
    return IRB_OK;
}

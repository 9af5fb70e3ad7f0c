/* Fuzz target: the feature-set reader (docs/features.md): BASE.json, BASE.csv and BASE.npy.
 * Input: the three files in that order, separated by the line "\n--8<--\n" (a file whose part
 * is missing is not there). Loaded whole (irb_features_load) and as an index
 * (irb_features_load_index, then irb_features_read_rows). Whatever the bytes: a status with a
 * message, never a crash, an out-of-bounds read or a leak; both loads agree, and the rows read
 * one by one (in order and reversed) are the rows loaded whole. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "irbis/learn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SEP[] = "\n--8<--\n";

static const uint8_t *find_sep(const uint8_t *p, const uint8_t *end)
{
    size_t n = sizeof SEP - 1;
    for (; (size_t)(end - p) >= n; p++)
        if (!memcmp(p, SEP, n))
            return p;
    return NULL;
}

/* Writes the parts as BASE.json, BASE.csv, BASE.npy (removing those the input lacks); base
 * receives BASE. */
static void write_parts(const uint8_t *data, size_t size, char *base, size_t base_size)
{
    static const char *const names[3] = {"set.json", "set.csv", "set.npy"};
    const uint8_t *p = data, *end = data + size;
    char path[128];
    for (int k = 0; k < 3; k++) {
        if (!p) {
            unlink(fuzz_path(names[k], path, sizeof path));
            continue;
        }
        const uint8_t *s = k < 2 ? find_sep(p, end) : NULL, *e = s ? s : end;
        fuzz_write(names[k], p, (size_t)(e - p), path, sizeof path);
        p = s ? s + sizeof SEP - 1 : NULL;
    }
    fuzz_path("set", base, base_size);
}

/* A failure must say why. FUZZ_VERBOSE=1 prints each message (to see what a seed reaches). */
static void failed_with_message(irb_status s, const irb_error *err)
{
    if (s != IRB_OK && getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "status %d: %s\n", (int)s, err->message);
    if (s != IRB_OK && !err->message[0])
        abort();
}

/* The index agrees with the whole load, and its rows read back equal the loaded values. */
static void check_index(const char *base, const irb_features *fs, const irb_features *ix)
{
    if (ix->x || ix->n != fs->n || ix->dim != fs->dim || ix->n_extra != fs->n_extra || ix->n_meta != fs->n_meta)
        abort();
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(ix->path[i], fs->path[i]) || ix->flipped[i] != fs->flipped[i])
            abort();
    size_t n = fs->n, d = (size_t)fs->dim;
    size_t *rows = malloc((n + 1) * sizeof *rows);
    float *out = malloc((n * d > 0 ? n * d : 1) * sizeof *out);
    irb_error err = {0};
    if (!rows || !out)
        goto done;
    for (int reversed = 0; reversed < 2; reversed++) {
        for (size_t i = 0; i < n; i++)
            rows[i] = reversed ? n - 1 - i : i;
        if (irb_features_read_rows(base, ix, rows, n, out, &err) != IRB_OK)
            abort();
        for (size_t i = 0; i < n; i++)
            if (memcmp(out + i * d, fs->x + rows[i] * d, d * sizeof *out))
                abort();
    }
    rows[0] = n; /* one past the end */
    if (irb_features_read_rows(base, ix, rows, 1, out, &err) != IRB_INVALID_ARG || !err.message[0])
        abort();
done:
    free(rows);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char base[128];
    write_parts(data, size, base, sizeof base);
    irb_features *fs = NULL, *ix = NULL;
    irb_error err = {0}, err2 = {0};
    irb_status s = irb_features_load(base, &fs, &err);
    failed_with_message(s, &err);
    irb_status s2 = irb_features_load_index(base, &ix, &err2);
    failed_with_message(s2, &err2);
    if (s == IRB_OK) {
        if (s2 != IRB_OK)
            abort(); /* the index load checks less than the whole load */
        check_index(base, fs, ix);
        for (int j = 0; j < fs->n_extra; j++)
            if (irb_features_column(fs, fs->extra_name[j]) == NULL)
                abort();
        for (int i = 0; i < fs->n_meta; i++)
            if (irb_features_meta(fs, fs->meta_key[i]) == NULL)
                abort();
    }
    irb_features_free(fs);
    irb_features_free(ix);
    return 0;
}

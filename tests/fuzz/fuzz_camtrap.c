/* Fuzz target: a Camtrap DP package read as labels (irb_labels_table_load). The input is the
 * package's three files joined by NUL bytes: datapackage.json, media.csv, observations.csv
 * (a missing part is an empty file). Whatever the bytes: a status with a message, never a
 * crash, an out-of-bounds read or a leak; a table read has its six columns and a label on every
 * row, and irb_labels_from_table takes it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "irbis/eval.h"
#include "irbis/files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const part[] = {"datapackage.json", "media.csv", "observations.csv"};
    char path[128];
    const uint8_t *p = data, *end = data + size;
    for (int k = 0; k < 3; k++) {
        const uint8_t *nul = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
        const uint8_t *stop = nul ? nul : end;
        fuzz_write(part[k], p, (size_t)(stop - p), path, sizeof path);
        p = nul ? nul + 1 : end;
    }
    fuzz_path("", path, sizeof path); /* the scratch folder is the package */
    irb_table *t = NULL;
    irb_error err = {0};
    irb_status s = irb_labels_table_load(path, NULL, &t, &err);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "status %d: %s\n", (int)s, err.message);
    if (s != IRB_OK && !err.message[0])
        abort();
    if (s == IRB_OK) {
        int label = irb_table_column(t, "label");
        if (!t || t->ncol != 6 || label < 0 || !t->nrow)
            abort();
        for (size_t i = 0; i < t->nrow; i++)
            if (!t->cell[i][label][0])
                abort();
        irb_labels l = {0};
        irb_error_clear(&err);
        s = irb_labels_from_table(t, NULL, NULL, NULL, path, &l, &err);
        if (s != IRB_OK && !err.message[0])
            abort();
        irb_labels_release(&l);
    }
    irb_table_free(t);
    return 0;
}

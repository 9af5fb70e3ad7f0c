/* irbis/files.h: checksums (SHA-256, CRC-32) and CSV tables, for the data files the other
 * headers read and write (feature sets record their model's SHA-256, classifier files end in a
 * CRC-32, labels are CSV). Included by irbis.h and irbis/learn.h.
 *
 * Example (a file's SHA-256, a labels table, a CRC-32):
 *
 *   irb_error err = {0};
 *   char hex[65];
 *   if (irb_sha256_file("mobilenet_v2.onnx", hex, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   printf("sha256 %s\n", hex);
 *   irb_table *t = NULL;
 *   if (irb_table_load("labels.csv", &t, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   int label = irb_table_column(t, "label");
 *   printf("%zu rows, first label %s\n", t->nrow, label >= 0 && t->nrow ? t->cell[0][label] : "-");
 *   irb_table_free(t);
 *   printf("crc32 %08x\n", (unsigned)irb_crc32(0, "123456789", 9));   // cbf43926
 */
#ifndef IRBIS_FILES_H
#define IRBIS_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SHA-256 ------------------------------------------------------------------------------ */

/* SHA-256 of a file's bytes as 64 lowercase hex digits + NUL into hex[65]. path borrowed.
 * Returns IRB_OK, IRB_NOT_FOUND / IRB_IO (message names the file). */
IRB_API irb_status irb_sha256_file(const char *path, char hex[65], irb_error *err);
/* SHA-256 of a memory buffer, same output format. */
IRB_API void irb_sha256_buffer(const void *data, size_t n, char hex[65]);

/* ---- CSV tables --------------------------------------------------------------------------- */

/* A whole CSV file (RFC 4180, first record = header) in memory, e.g. a labels file. */
typedef struct irb_table {
    int ncol;
    char **name;      /* ncol header names (a UTF-8 BOM is dropped) */
    size_t nrow;
    char ***cell;     /* cell[i][j]: row i, column j ("" when the row is short) */
} irb_table;

/* Loads path into *out (owned; irb_table_free). IRB_NOT_FOUND/IRB_IO/IRB_CORRUPT name the file. */
IRB_API irb_status irb_table_load(const char *path, irb_table **out, irb_error *err);
/* Index of column `name`, or -1. */
IRB_API int irb_table_column(const irb_table *t, const char *name);
IRB_API void irb_table_free(irb_table *t);

/* ---- CRC-32 ------------------------------------------------------------------------------- */

/* CRC-32 (IEEE 802.3, as zlib's crc32) of a buffer, continuing from crc (start with 0). */
IRB_API uint32_t irb_crc32(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif

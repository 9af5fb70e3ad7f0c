/* irbis/files.h: checksums (SHA-256, CRC-32) and CSV tables, for the data files the other
 * headers read and write (feature sets record their model's SHA-256, classifier files end in a
 * CRC-32, labels are CSV), and the string map their rows are matched by (paths, class names,
 * cameras). Included by irbis.h and irbis/learn.h.
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
#include <stdio.h>

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SHA-256 ------------------------------------------------------------------------------ */

/* SHA-256 of a file's bytes as 64 lowercase hex digits + NUL into hex[65]. path borrowed.
 * Returns IRB_OK, IRB_NOT_FOUND / IRB_IO (message names the file; IRB_IO also for a folder, FIFO,
 * socket or device: bytes that cannot be read again have no checksum), IRB_INVALID_ARG for a NULL
 * path or hex. */
IRB_API irb_status irb_sha256_file(const char *path, char hex[65], irb_error *err);
/* SHA-256 of a memory buffer, same output format. NULL data with n > 0 writes "" (no digest);
 * a NULL hex is left alone. */
IRB_API void irb_sha256_buffer(const void *data, size_t n, char hex[65]);

/* ---- CSV tables --------------------------------------------------------------------------- */

/* A whole CSV file (RFC 4180, first record = header) in memory, e.g. a labels file. */
typedef struct irb_table {
    int ncol;
    char **name; /* ncol header names (a UTF-8 BOM is dropped) */
    size_t nrow;
    char ***cell; /* cell[i][j]: row i, column j ("" when the row is short) */
} irb_table;

/* Loads path into *out (owned; irb_table_free). IRB_NOT_FOUND/IRB_IO/IRB_CORRUPT name the file;
 * IRB_INVALID_ARG for a NULL path or out. Fields are separated by ',', or by ';' or a tab when the
 * header is one field holding it and no ',' (a spreadsheet saved in a European locale, tab-separated
 * text); lines end in LF, CRLF or a lone CR. Cells are UTF-8: a file that is not valid UTF-8 is
 * read as Windows-1252 (Excel's "CSV (Comma delimited)" on Windows) and transcoded, with a warning
 * in err (status IRB_OK) naming the file and line; UTF-16, bytes Windows-1252 does not define and
 * files mixing UTF-8 with other bytes are IRB_CORRUPT. */
IRB_API irb_status irb_table_load(const char *path, irb_table **out, irb_error *err);
/* Index of column `name`: the exact name, else the one column equal to it but for case and blanks
 * around it ("Path", "label "); -1 when none or several (also when t or name is NULL). */
IRB_API int irb_table_column(const irb_table *t, const char *name);
IRB_API void irb_table_free(irb_table *t);

/* Writes s (NULL: "") to f as one CSV field (RFC 4180): in quotes, with its quotes doubled, when
 * it holds a comma, a quote, CR or LF; as it is otherwise. Does nothing when f is NULL. */
IRB_API void irb_csv_put(FILE *f, const char *s);

/* ---- CRC-32 ------------------------------------------------------------------------------- */

/* CRC-32 (IEEE 802.3, as zlib's crc32) of a buffer, continuing from crc (start with 0). NULL data
 * adds nothing: crc is returned as it is. */
IRB_API uint32_t irb_crc32(uint32_t crc, const void *data, size_t n);

/* ---- string map ---------------------------------------------------------------------------- */

/* A hash table from byte strings to int64 values (a class name -> its index, a path -> its row,
 * a camera -> its number). Keys are copied with their length, so they may hold NUL bytes (give
 * strlen(s) for a C string); lookups cost O(1) on average and the table grows as needed. */
typedef struct irb_strmap irb_strmap;

/* A new empty map sized for `expected` keys (it grows past them) into *out (irb_strmap_free).
 * IRB_NOMEM when out of memory, IRB_INVALID_ARG when out is NULL. */
IRB_API irb_status irb_strmap_new(size_t expected, irb_strmap **out, irb_error *err);
/* Frees m and its copies of the keys; m may be NULL. */
IRB_API void irb_strmap_free(irb_strmap *m);
/* Adds key (len bytes, copied) -> value unless key is there; *stored (may be NULL) receives the
 * value now under key: value, or the one it already had. IRB_NOMEM leaves m as it was.
 * IRB_INVALID_ARG when m or key is NULL (here and in irb_strmap_set). */
IRB_API irb_status irb_strmap_add(irb_strmap *m, const char *key, size_t len, int64_t value, int64_t *stored,
                                  irb_error *err);
/* Puts key (len bytes, copied) -> value, replacing the value key had. IRB_NOMEM leaves m as it was. */
IRB_API irb_status irb_strmap_set(irb_strmap *m, const char *key, size_t len, int64_t value, irb_error *err);
/* 1 with *value (may be NULL) set when key (len bytes) is in m, else 0 (also for a NULL m or key).
 * key is borrowed. */
IRB_API int irb_strmap_get(const irb_strmap *m, const char *key, size_t len, int64_t *value);
/* The number of keys in m (0 for NULL). */
IRB_API size_t irb_strmap_count(const irb_strmap *m);
/* The hash the map places key by, the same on every machine (irbis-mpi cuts cameras into units
 * of work by it): 64-bit FNV-1a of the len bytes, started from 1469598103934665603 (one digit
 * short of the published offset basis, as irbis has always hashed). A NULL key hashes as no bytes. */
IRB_API uint64_t irb_strmap_hash(const char *key, size_t len);

/* ---- files replaced atomically ------------------------------------------------------------ */

/* A file written under a temporary name beside PATH, then flushed, fsynced, renamed to PATH and
 * its folder fsynced, so that a kill or a full disk never leaves a half-written file under PATH
 * (PATH keeps its old content until the rename). Fill it through f: it is opened for update
 * ("w+b"), so the writer may patch a header or read back what it wrote. */
typedef struct irb_atomic_file {
    FILE *f;
    char *path, *tmp; /* owned: PATH and the temporary name */
    int no_sync;      /* set after opening for a file that can be made again (a thumbnail): flushed
                       * and renamed without the two fsyncs; a kill still never leaves it half
                       * written, a power cut may leave it empty */
} irb_atomic_file;

/* Creates PATH.tmp (a name of 252..255 bytes has no room for the suffix: its temporary is the
 * name cut so that it fits). path is copied. IRB_NOMEM / IRB_IO naming the file. A PATH that is
 * there and is neither a regular file nor a folder (a device such as /dev/null or /dev/stdout, a
 * FIFO; links followed) is written as it is, opened "wb", with no temporary, rename or fsync (tmp
 * is then NULL): renaming over /dev/null replaced the device with a file, for every program on a
 * machine where irbis ran as root. A PATH that is a folder is IRB_IO; an empty PATH (or suffix
 * below) IRB_INVALID_ARG. */
IRB_API irb_status irb_atomic_open(irb_atomic_file *af, const char *path, irb_error *err);
/* The same with the temporary PATH<suffix> (cut likewise), e.g. ".tmp<PID>" where two runs may
 * write the same PATH at once. */
IRB_API irb_status irb_atomic_open_as(irb_atomic_file *af, const char *path, const char *suffix, irb_error *err);
/* Flushes, fsyncs and closes f (af->f becomes NULL): the data is durable under the temporary
 * name, not yet under PATH; for a set of files that are all renamed only once all are written.
 * On a failure the temporary is removed and af released (IRB_IO naming PATH and the cause).
 * IRB_INVALID_ARG for a record that is not open (zeroed, or released by a close or an abort), here
 * and in irb_atomic_close. */
IRB_API irb_status irb_atomic_sync(irb_atomic_file *af, irb_error *err);
/* irb_atomic_sync unless done, then renames the temporary to PATH and fsyncs the folder. Always
 * releases af; on a failure the temporary is removed and PATH left as it was (IRB_IO naming
 * PATH and the cause). */
IRB_API irb_status irb_atomic_close(irb_atomic_file *af, irb_error *err);
/* Drops the temporary (af may be zeroed or already released). */
IRB_API void irb_atomic_abort(irb_atomic_file *af);

#ifdef __cplusplus
}
#endif
#endif

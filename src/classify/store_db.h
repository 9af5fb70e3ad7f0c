/* The results store's handle, shared by store.c (opening, the run's writes, sequences, shooting
 * order) and store_query.c (the cursors the writers read and the review writes): the only files
 * that know SQL or include sqlite3.h (tests/py/test_store_sql.py). */
#ifndef IRB_CLASSIFY_STORE_DB_H
#define IRB_CLASSIFY_STORE_DB_H

#include <sqlite3.h>

#include "classify/classify_internal.h"

/* The end of every message about a row that classify cannot have written. */
#define IRB_STORE_DAMAGED                                                                                              \
    "the store was edited or is damaged (irbis classify --restart redoes the survey and keeps the reviews)"

struct irb_store {
    sqlite3 *db;
    char *dir, *dbpath;
    int lock_fd, dir_fd; /* the run's flocks: OUT/.lock and OUT (a reader's: OUT, shared) */
    int readonly;        /* opened by irb_store_open_reader in a folder it may not write */
    sqlite3_stmt *add, *keep, *find, *find_path, *pending, *undigested, *unknown, *digest, *result, *failed;
    sqlite3_stmt *shot_pending, *shot_prev, *shot_next;
    sqlite3_stmt *novelty, *skip;
    sqlite3_stmt *img_label, *seq_label, *rv_put, *rv_del, *rv_log; /* store_query.c */
    int64_t *ids;
    char **paths;
    int cap, n;
};

/* The failure of the last call on st->db as an irb_status with "DB: what: sqlite's message". */
irb_status irb_store_fail(irb_store *st, irb_error *err, const char *what);
/* The one integer sql's first row gives (a count) into *out. */
irb_status irb_store_count(irb_store *st, const char *sql, long long *out, irb_error *err);
/* Prepares sql into *stmt once (later calls reset it and clear its bindings). */
irb_status irb_store_prepare(irb_store *st, const char *sql, sqlite3_stmt **stmt, irb_error *err);
/* 1 when column col of table can be read ("1": the table exists). */
int irb_store_has_column(irb_store *st, const char *table, const char *col);

#endif

/* Shared inside src/eval: paths sorted with their row indices (labels.c), for finding a path
 * listed twice in a labels file and in a predictions file; the Camtrap DP reader
 * (camtrap_labels.c) and the missing-column message (labels_source.c) that irb_labels_table_load
 * and irb_labels_from_table share. */
#ifndef IRB_EVAL_INTERNAL_H
#define IRB_EVAL_INTERNAL_H

#include <stddef.h>

#include "irbis/core.h"

struct irb_table;

typedef struct irb_path_row {
    const char *path;
    size_t i;
} irb_path_row;

/* paths[0..n) with their indices, sorted by path then index (stable for equal paths); NULL when
 * out of memory. Free with irb_free. */
irb_path_row *irb_paths_sorted(char *const *paths, size_t n);

/* 1 with dir[size] set when path is a Camtrap DP package: a folder (holding datapackage.json or
 * not: the reader says which is missing), or a file named datapackage.json. */
int irb_camtrap_package_dir(const char *path, char *dir, size_t size);
/* The labels table of the package in dir (irb_labels_table_load's rule; irbis/eval.h). */
irb_status irb_camtrap_labels_read(const char *dir, struct irb_table **out, irb_error *err);

/* IRB_NOT_FOUND: "SOURCE: no column 'NAME': its header has N column(s): 'a', 'b', ...". */
irb_status irb_labels_no_column(const struct irb_table *t, const char *source, const char *name, irb_error *err);

#endif

/* Shared inside src/eval: paths sorted with their row indices (labels.c), for finding a path
 * listed twice in a labels file and in a predictions file. */
#ifndef IRB_EVAL_INTERNAL_H
#define IRB_EVAL_INTERNAL_H

#include <stddef.h>

typedef struct irb_path_row {
    const char *path;
    size_t i;
} irb_path_row;

/* paths[0..n) with their indices, sorted by path then index (stable for equal paths); NULL when
 * out of memory. Free with irb_free. */
irb_path_row *irb_paths_sorted(char *const *paths, size_t n);

#endif

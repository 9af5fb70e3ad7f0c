/* NumPy .npy v1.0 files of little-endian float32 matrices (N, D), C order. */
#ifndef IRB_LEARN_NPY_H
#define IRB_LEARN_NPY_H

#include <stdio.h>

#include "irbis/core.h"

/* Header size the writer always uses, so the row count can be patched in place. */
#define IRB_NPY_HEADER 128

irb_status irb_npy_write_header(FILE *f, size_t rows, int dim, const char *path, irb_error *err);
irb_status irb_npy_write_rows(FILE *f, const float *x, size_t rows, int dim, const char *path, irb_error *err);
/* Rewrites the header at offset 0 with the final row count; leaves f positioned at the end. */
irb_status irb_npy_patch_rows(FILE *f, size_t rows, int dim, const char *path, irb_error *err);
/* The shape of a '<f4' (N, D) .npy, its header and data size checked. */
irb_status irb_npy_read_header(const char *path, size_t *rows, int *dim, irb_error *err);
/* Rows idx[0..n) of that .npy (which must still be (rows, dim)) into out, n x dim; runs of
 * consecutive rows are read in one go. */
irb_status irb_npy_read_rows(const char *path, size_t rows, int dim, const size_t *idx, size_t n, float *out,
                             irb_error *err);
/* Reads a whole .npy of '<f4' (N, D), C order. *x is irb_malloc'd (NULL when N*D = 0). */
irb_status irb_npy_read(const char *path, size_t *rows, int *dim, float **x, irb_error *err);

#endif

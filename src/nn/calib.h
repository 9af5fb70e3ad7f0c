/* Internals of int8 calibration tables (src/nn/calib.c): recording into a table. */
#ifndef IRB_NN_CALIB_H
#define IRB_NN_CALIB_H

#include <stddef.h>

#include "core/error.h"
#include "irbis/nn.h"
#include "nn/ir.h"

/* Index of tensor `name` in c, or -1. */
int irb_calib_find(const irb_calib_t *c, const char *name);
/* Index of tensor `name`, added with an empty range if new; -1 for a name the text form cannot
 * hold (empty, or with a line break), -2 when out of memory. */
int irb_calib_entry(irb_calib_t *c, const char *name);
/* Widens entry's range with n values (NaN left out). */
void irb_calib_observe(irb_calib_t *c, int entry, const float *x, size_t n);
void irb_calib_add_images(irb_calib_t *c, long n);
/* Per value v of g, (*out)[2v] = min and [2v+1] = max from c by name, NaN for values c lacks
 * (irb_exec_opts.range); *out is irb_malloc'd. */
irb_status irb_calib_value_ranges(const irb_graph *g, const irb_calib_t *c, float **out, irb_error *err);

#endif

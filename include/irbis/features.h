/* irbis/features.h: batched feature extraction over image files (the featurizer: decode on
 * worker threads, preprocess, run the CNN in batches) and int8 calibration from image files.
 * Included by irbis.h. */
#ifndef IRBIS_FEATURES_H
#define IRBIS_FEATURES_H

#include "irbis/core.h"
#include "irbis/image.h"
#include "irbis/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- feature extraction ------------------------------------------------------------------ */

typedef struct irb_extract_opts {
    irb_preproc pp; /* preprocessing of each image (pp.flip is ignored: see flip) */
    int flip;       /* 1: also emit the horizontally mirrored image's row (flipped = 1);
                     * 2: emit only the mirrored image's row (its original is known already) */
    int threads;    /* decoding workers (0: all CPUs) */
    int batch;      /* images per net run (0: 16); with flip the net sees 2 x batch rows */
} irb_extract_opts;

/* Called once per output row, in input order (original before flipped; with flip = 2 only the
 * flipped). On a failed image it
 * is called once with row = NULL and e describing the failure (file and cause); a decoded image
 * with a warning (e.g. truncated JPEG) gets rows and e->warning set. Pointers are valid for the
 * call only. */
typedef void (*irb_extract_fn)(void *ctx, size_t index, int flipped, const float *row, size_t dim, const irb_error *e);

/* The length of one row: irb_net_output_size(net), or with net = NULL the preprocessed pixels
 * themselves (3 * pp.size^2, "raw pixel" features such as L120); 0 when both are NULL or pp.size
 * is not positive. */
IRB_API size_t irb_extract_dim(const irb_net_t *net, const irb_extract_opts *o);

/* irb_featurizer with one input (all images): decodes paths[0..n) on worker threads (one decoder
 * each), runs them through net in batches
 * (net may be NULL: raw pixels), and hands every row to fn. Bad images never stop the run.
 * net must have been created with max_batch >= batch (x2 with flip). Returns IRB_OK unless the
 * run itself failed (no memory, the net failed): then err says why. Options are checked first,
 * as irb_featurizer_new checks them (paths may be NULL when n is 0). */
IRB_API irb_status irb_extract(irb_net_t *net, const char *const *paths, size_t n, const irb_extract_opts *o,
                               irb_extract_fn fn, void *ctx, irb_error *err);

/* ---- int8 calibration from images (docs/int8.md) ------------------------------------------ */

/* Called for each image that fails (row-less) or decodes with a warning: index into paths. */
typedef void (*irb_calib_fn)(void *ctx, size_t index, const irb_error *e);

/* Records into cal the activation ranges of the fp32 net that `no` describes (cut, pool,
 * input_size; precision and engine are ignored) over min(n, count) of paths, evenly spread,
 * preprocessed as pp (no flip). Bad images are handed to fn (may be NULL) and skipped; none
 * readable is IRB_CORRUPT. The model and paths are borrowed for the call. */
IRB_API irb_status irb_calibrate_files(const irb_model_t *m, const irb_net_opts *no, const irb_preproc *pp,
                                       const char *const *paths, size_t n, size_t count, irb_calib_t *cal,
                                       irb_calib_fn fn, void *ctx, irb_error *err);

/* ---- the featurizer: several inputs of each image at once ----------------------------------- */

/* One input of a featurizer: a preprocessing and the net that turns it into rows. */
typedef struct irb_feat_input {
    irb_net_t *net;    /* borrowed (must outlive the featurizer); NULL: the preprocessed pixels are
                        * the row. Created with max_batch >= batch, x2 with flip = 1 */
    irb_preproc pp;    /* pp.flip is ignored: see flip */
    int flip;          /* 0: the image's row; 1: the image's and its mirror's; 2: the mirror's only */
    int all;           /* 1: every image; 0: only the images marked in irb_featurizer_run's mark */
    int mirror_marked; /* with all = 1 and flip = 1: mirrors for the marked images only (the
                        * others get their own row alone), e.g. a pipeline's shared pass, whose
                        * maps serve every image's neighbours and whose mirrors only the batch */
} irb_feat_input;

typedef struct irb_featurizer_opts {
    int threads; /* decoding workers (0: all CPUs) */
    int batch;   /* images per net run (0: 16; fewer when a batch of large inputs would
                  * hold more than 32 Mi floats) */
} irb_featurizer_opts;
typedef struct irb_featurizer irb_featurizer;

/* Rows of input `input` for image `index`: as irb_extract_fn. Per chunk of images, input by
 * input, in image order (original before mirror). */
typedef void (*irb_feat_fn)(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim,
                            const irb_error *e);

/* A featurizer over inputs[0..n) (copied; the nets are borrowed), with its buffers, decoders and
 * threads made once. Free with irb_featurizer_free. IRB_INVALID_ARG for a preprocessing that
 * irb_preprocess_file would refuse, a flip outside 0..2 or negative threads or batch: once here,
 * rather than for every image of the run. */
IRB_API irb_status irb_featurizer_new(const irb_feat_input *inputs, int n, const irb_featurizer_opts *o,
                                      irb_featurizer **out, irb_error *err);
/* Reads and decodes each of paths[0..n) once for all the inputs that want it (mark[i] != 0 or
 * input.all; mark may be NULL: all), runs the nets while the next images decode (nets with
 * per-image slots, irb_net_slots, share one queue with the decoding), and hands every row to fn. A bad image gets fn
 * once per input with row = NULL; it never stops the run. Returns IRB_OK unless the run itself failed (a net failed):
 * then err says why. */
IRB_API irb_status irb_featurizer_run(irb_featurizer *f, const char *const *paths, size_t n, const unsigned char *mark,
                                      irb_feat_fn fn, void *ctx, irb_error *err);
IRB_API void irb_featurizer_free(irb_featurizer *f);

#ifdef __cplusplus
}
#endif
#endif

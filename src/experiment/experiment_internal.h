/* Internals of the experiment: the on-disk feature cache and the report writers. */
#ifndef IRB_EXPERIMENT_EXPERIMENT_INTERNAL_H
#define IRB_EXPERIMENT_EXPERIMENT_INTERNAL_H

#include "irbis/eval.h"
#include "irbis/experiment.h"
#include "features/features.h"

/* Features of n images for one (model, cut, preprocessing, flip) description. */
typedef struct featmat {
    size_t n, dim;
    float *x;        /* n x dim, the images as they are */
    float *xf;       /* n x dim, the mirrored images (NULL without flip) */
    uint8_t *ok;     /* n: 1 when image i decoded */
    char **why;      /* n: the failure message of image i (NULL when ok) */
    size_t computed; /* images that were not in the cache */
    double seconds;  /* time spent computing them */
} featmat;

typedef struct featcache_req {
    const char *cache_dir;
    const char *key; /* the full description; the cache file is named by its hash */
    irb_net_t *net;  /* NULL: raw pixels */
    irb_extract_opts eo;
    void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *progress_ctx;
    const char *stage;         /* progress label */
    double checkpoint_seconds; /* write the cache this often while computing (<= 0: at the end) */
    const char *other_key;     /* the key of the same features with the other flip setting: an
                                * unflipped request takes that set's unflipped rows, one with
                                * flips takes its rows and computes only the mirrors (NULL: none) */
    const motion_plan *motion; /* motion features (rows of MOTION_DIM) from the net's map: an
                                * image's cached row is valid while it and its neighbours are */
    int mean_channels;         /* > 0: the net's output is a map of this many channels and each
                                * row is its spatial mean (irb_map_mean, as classify's shared
                                * pass takes it); the key must say so */
} featcache_req;

irb_status featcache_get(const featcache_req *rq, const char *const *paths, size_t n, featmat *out, irb_error *err);
void featmat_release(featmat *m);

/* The cache file of the int8 calibration table recorded for desc (model, input size,
 * preprocessing, sample count, recorder) over paths[0..n): cache_dir/calib-<hash>.calib, the
 * hash covering desc and each path with its file stamp (size, mtime). Creates cache_dir. */
irb_status featcache_calib_path(const char *cache_dir, const char *desc, const char *const *paths, size_t n, char *out,
                                size_t size, irb_error *err);

/* Writes table.csv, table.md, results.json, roc.csv, roc.svg and report.html (report.c).
 * rocs[r] is row r's ROC curve (empty when AUC is undefined). */
irb_status irb_experiment_write_outputs(const irb_experiment_opts *o, const irb_experiment_result *res,
                                        const irb_roc *rocs, irb_error *err);

#endif

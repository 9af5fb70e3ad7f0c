/* Internals of the experiment: the on-disk feature cache and the report writers. */
#ifndef IRB_EVAL_EXPERIMENT_INTERNAL_H
#define IRB_EVAL_EXPERIMENT_INTERNAL_H

#include "irbis/eval.h"
#include "irbis/experiment.h"

/* Features of n images for one (model, cut, preprocessing, flip) description. */
typedef struct featmat {
    size_t n, dim;
    float *x;          /* n x dim, the images as they are */
    float *xf;         /* n x dim, the mirrored images (NULL without flip) */
    uint8_t *ok;       /* n: 1 when image i decoded */
    char **why;        /* n: the failure message of image i (NULL when ok) */
    size_t computed;   /* images that were not in the cache */
    double seconds;    /* time spent computing them */
} featmat;

/* Motion features (motion.c): the images' neighbours in shooting order. */
#define MOTION_DIM 7
typedef struct motion_plan {
    const long *prev, *next;   /* per image: the previous / next image of the same camera (-1 none) */
    const size_t *order;       /* the images in neighbour order (camera, time, path) */
    int channels;              /* of the net's output map (C of C x H x W) */
} motion_plan;

/* Ascending sort, and numpy's default (linear) percentile q in [0, 1] of sorted v[0..n), n > 0. */
void irb_sort_floats(float *v, size_t n);
float irb_percentile_sorted(const float *v, size_t n, double q);

/* out = the MOTION_DIM statistics of image map's change from prev / next (either may be NULL).
 * Maps are C x H x W (positions = H * W); acc (positions doubles) and m (positions floats) are
 * scratch. */
void motion_stats(const float *map, const float *prev, const float *next, int channels, size_t positions,
                  double *acc, float *m, float out[MOTION_DIM]);

/* Runs net (its output a spatial map) over the images want[0..n_want) (in neighbour order) and
 * their neighbours, and calls fn(ctx, k, 0, row, MOTION_DIM, e) for want[k] (row NULL when the
 * image failed; a neighbour that failed is left out). */
irb_status motion_extract(irb_net_t *net, const irb_extract_opts *eo, const char *const *paths, size_t n_all,
                          const long *prev, const long *next, int channels, const size_t *want, size_t n_want,
                          irb_extract_fn fn, void *ctx, irb_error *err);

typedef struct featcache_req {
    const char *cache_dir;
    const char *key;            /* the full description; the cache file is named by its hash */
    irb_net_t *net;             /* NULL: raw pixels */
    irb_extract_opts eo;
    void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *progress_ctx;
    const char *stage;          /* progress label */
    double checkpoint_seconds;  /* write the cache this often while computing (<= 0: at the end) */
    const char *other_key;      /* the key of the same features with the other flip setting: an
                                 * unflipped request takes that set's unflipped rows, one with
                                 * flips takes its rows and computes only the mirrors (NULL: none) */
    const motion_plan *motion;  /* motion features (rows of MOTION_DIM) from the net's map: an
                                 * image's cached row is valid while it and its neighbours are */
} featcache_req;

irb_status featcache_get(const featcache_req *rq, const char *const *paths, size_t n, featmat *out,
                         irb_error *err);
void featmat_release(featmat *m);

/* Writes table.csv, table.md, results.json, roc.csv, roc.svg and report.html (report.c).
 * rocs[r] is row r's ROC curve (empty when AUC is undefined). */
irb_status irb_experiment_write_outputs(const irb_experiment_opts *o, const irb_experiment_result *res,
                                        const irb_roc *rocs, irb_error *err);

#endif

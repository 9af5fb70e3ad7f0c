/* The featurizer floor (src/features/): decode -> preprocess -> CNN -> rows (extract.c, the
 * public irb_extract), and the motion statistics of a frame against its camera's neighbours
 * (motion.c). Used by the experiment, classify and featurize. Depends on core, image, nn. */
#ifndef IRB_FEATURES_FEATURES_H
#define IRB_FEATURES_FEATURES_H

#include <stddef.h>

#include "irbis/features.h"

/* Motion features (features/motion.c): the images' neighbours in shooting order. */
#define MOTION_DIM 7
typedef struct motion_plan {
    const long *prev, *next; /* per image: the previous / next image of the same camera (-1 none) */
    const size_t *order;     /* the images in neighbour order (camera, time, path) */
    int channels;            /* of the net's output map (C of C x H x W) */
} motion_plan;

/* Ascending sort, and numpy's default (linear) percentile q in [0, 1] of sorted v[0..n), n > 0. */
void irb_sort_floats(float *v, size_t n);
float irb_percentile_sorted(const float *v, size_t n, double q);

/* out = the MOTION_DIM statistics of image map's change from prev / next (either may be NULL).
 * Maps are C x H x W (positions = H * W); acc (positions doubles), m (positions floats) and
 * dist (2 x positions floats) are scratch. The same as motion_dist to each neighbour, then
 * motion_from_dist. */
void motion_stats(const float *map, const float *prev, const float *next, int channels, size_t positions, double *acc,
                  float *m, float *dist, float out[MOTION_DIM]);
/* dist[p] = the Euclidean distance over the C channels between maps a and b at position p
 * (summed in double in channel order: the same bits with a and b swapped); acc is scratch. */
void motion_dist(const float *a, const float *b, int channels, size_t positions, double *acc, float *dist);
/* The same for H x W x C maps (channels last): each position's sum in channel order, so the same
 * bits as motion_dist of the maps transposed to C x H x W. */
void motion_dist_hwc(const float *a, const float *b, int channels, size_t positions, float *dist);
/* The statistics from the distances to the previous and next neighbour (either NULL: none). */
void motion_from_dist(const float *dprev, const float *dnext, size_t positions, float *m, float out[MOTION_DIM]);

/* Runs net (its output a spatial map) over the images want[0..n_want) (in neighbour order) and
 * their neighbours, and calls fn(ctx, k, 0, row, MOTION_DIM, e) for want[k] (row NULL when the
 * image failed; a neighbour that failed is left out). */
irb_status motion_extract(irb_net_t *net, const irb_extract_opts *eo, const char *const *paths, size_t n_all,
                          const long *prev, const long *next, int channels, const size_t *want, size_t n_want,
                          irb_extract_fn fn, void *ctx, irb_error *err);

/* The motion statistics streamed (maps C x H x W, or H x W x C with channels_last): maps fed in
 * neighbour order (list[k] is the image index of the k-th map fed; an image's neighbours are
 * adjacent to it in that order), and for each image with want_k[image] >= 0, fn(ctx,
 * want_k[image], 0, row, MOTION_DIM, e) once its next map has come (row NULL when its map is
 * missing). begin resets for a new list; end finishes the last. */
typedef struct motion_stream motion_stream;
irb_status motion_stream_new(size_t dim, int channels, int channels_last, motion_stream **out, irb_error *err);
void motion_stream_begin(motion_stream *r, const long *prev, const long *next, const long *want_k, const size_t *list,
                         irb_extract_fn fn, void *ctx);
void motion_stream_feed(motion_stream *r, size_t k, const float *row, size_t dim, const irb_error *e);
void motion_stream_end(motion_stream *r);
void motion_stream_free(motion_stream *r);

/* The spatial mean of a C x H x W map (positions = H * W) into out[0..channels): summed in
 * double, in position order (features/mapmean.c). classify's shared pass and the experiment's
 * bf16 / int8 RN2+A@M rows take an appearance row from a map this way. */
void irb_map_mean(const float *map, size_t channels, size_t positions, float *out);
/* The same of an H x W x C map (channels last): the same bits as irb_map_mean of the map
 * transposed to C x H x W. */
void irb_map_mean_hwc(const float *map, size_t channels, size_t positions, float *out);
/* 1 when the features at `cut` (pooled when pool) are the spatial mean of the map at cut `map`:
 * the same cut, pooled, or a cut that is the global average pooling of it (MobileNetV2's cut 2
 * of cut 3). */
int irb_cut_pools_map(const irb_model_info *mi, int cut, int pool, int map);

#endif

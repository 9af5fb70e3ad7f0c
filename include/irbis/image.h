/* irbis/image.h: decoding camera-trap images and turning them into network input.
 *
 * Overview
 *   - A decoder (irb_decoder_t) holds a TurboJPEG handle and scratch buffers; make one per worker
 *     thread and reuse it for every image that thread decodes. It is not thread-safe.
 *   - irb_decode_file / irb_decode_memory decode JPEG (baseline, progressive, grayscale,
 *     CMYK/YCCK) and PNG (gray, palette, 16-bit, alpha dropped) into 8-bit RGB, with the EXIF
 *     orientation applied. Given a target size, JPEGs are decoded in the DCT domain at the smallest
 *     scale 1/8..8/8 whose result still covers the target, which is much faster than a full decode.
 *   - irb_read_header reads only the header and the metadata (no pixel decode): for scanning.
 *   - irb_resize resamples like PIL (separable, antialiased: BILINEAR = triangle, BOX), and
 *     irb_preprocess_file goes file -> cropped/resized/normalised NCHW float32 in one call.
 *   - Camera traps burn a text bar into the top/bottom rows; irb_detect_info_strips finds it.
 *
 * Example (the MobileNetV2 input for one file; see irbis.h for running the CNN on it):
 *
 *   irb_decoder_t *dec = NULL;
 *   if (irb_decoder_new(&dec) != IRB_OK)             // one per thread, reused for every image
 *       return 1;
 *   irb_preproc pp = irb_preproc_default(224);       // crop 87.5 %, bilinear, (x-128)/128
 *   float *x = malloc(sizeof(float) * 3 * 224 * 224);
 *   irb_image_info info;
 *   int rc = 1;
 *   if (!x || irb_preprocess_file(dec, "cam1/IMG_0001.JPG", &pp, x, &info) != IRB_OK) {
 *       fprintf(stderr, "%s\n", x ? irb_decoder_error(dec)->message : "out of memory");
 *   } else {
 *       if (irb_decoder_error(dec)->warning)
 *           fprintf(stderr, "warning: %s\n", irb_decoder_error(dec)->message);
 *       printf("%dx%d image decoded at scale %d/%d\n", info.width, info.height, info.scale_num,
 *              info.scale_denom);
 *       rc = 0;
 *   }
 *   free(x);
 *   irb_decoder_free(dec);
 *   return rc;
 */
#ifndef IRBIS_IMAGE_H
#define IRBIS_IMAGE_H

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ---------------------------------------------------------------------------- */

/* An 8-bit interleaved image; `data` holds height rows of width*channels bytes, no padding.
 * Images returned by irbis own their buffer: release it with irb_image_release. The pixel calls
 * below refuse an image without data, with a side <= 0, channels outside 1..4 or more bytes than
 * one buffer can hold (IRB_INVALID_ARG; the void ones leave it and their outputs alone). */
typedef struct irb_image {
    int width, height, channels; /* channels is 3 (RGB) for decoded images */
    uint8_t *data;
} irb_image;

/* Frees img->data and zeroes *img. img may be NULL; releasing a zeroed image is a no-op. */
IRB_API void irb_image_release(irb_image *img);

/* Default pixel limit (width * height as stored) above which decoding is refused. */
#define IRB_DEFAULT_MAX_PIXELS 100000000LL
/* The largest file the decoder reads whole (512 MiB: a 100-megapixel JPEG at the highest quality
 * is a tenth of it). A larger one is IRB_TOO_LARGE before anything is read: a damaged card's
 * file of gigabytes would otherwise be read into memory, once per thread and again for its
 * thumbnail. */
#define IRB_MAX_FILE_BYTES (512LL << 20)

typedef enum irb_format { IRB_FORMAT_UNKNOWN = 0, IRB_FORMAT_JPEG, IRB_FORMAT_PNG } irb_format;

/* What is known about an image: filled by every decode, header read and preprocess call. */
typedef struct irb_image_info {
    irb_format format;
    int stored_width, stored_height;      /* as stored in the file, before orientation */
    int width, height;                    /* full-scale size after EXIF orientation */
    int components;                       /* colour components in the file (1 gray, 3, 4 CMYK) */
    int orientation;                      /* EXIF orientation 1..8 (1 when absent or invalid) */
    int scale_num, scale_denom;           /* DCT scale used by the last decode (1/1 for PNG) */
    int crop_top, crop_bottom;            /* info-strip rows cropped (full-scale, oriented rows) */
    char datetime[40];                    /* DateTimeOriginal (+ .SubSec) as ISO 8601, or "" */
    char make[64], model[64], serial[64]; /* EXIF Make, Model, body serial number, or "" */
} irb_image_info;

/* ---- the decoder ------------------------------------------------------------------------ */

typedef struct irb_decoder irb_decoder_t;

/* The DCT scales a JPEG decode may pick from. IRB_DCT_ANY: every scale libjpeg-turbo has (1/8,
 * 2/8, ..., 8/8). IRB_DCT_FAST: 1/8, 1/4, 1/2 and 1/1 only, the scales libjpeg-turbo decodes with
 * SIMD code: its 3/8, 5/8, 6/8 and 7/8 decodes run plain C and take longer than the next of
 * those (a 1920 x 1080 frame: 7/8 10.3 ms, 1/1 4.8 ms; docs/images.md), so the smallest covering
 * scale among all is often the slowest choice. */
typedef enum irb_dct_scales {
    IRB_DCT_ANY = 0,
    IRB_DCT_FAST,
} irb_dct_scales;

/* Options for a decode. A zeroed struct (or NULL) means: full scale, default pixel limit,
 * apply orientation. */
typedef struct irb_decode_opts {
    /* DCT-scaled decoding (JPEG only). With target > 0 the smallest scale whose result has
     * min(width, height) >= target is used. With target_width/target_height > 0 the smallest
     * scale whose (oriented) result is at least that wide and that tall. 0 everywhere: 1/1. */
    int target;
    int target_width, target_height;
    long long max_pixels;  /* 0: IRB_DEFAULT_MAX_PIXELS; refused with IRB_TOO_LARGE above it */
    int keep_orientation;  /* 1: do not apply the EXIF orientation */
    irb_dct_scales scales; /* which DCT scales a target may pick (IRB_DCT_ANY: every one) */
} irb_decode_opts;         /* a negative target or max_pixels is IRB_INVALID_ARG */

/* Creates a decoder into *out. Returns IRB_NOMEM (or IRB_INTERNAL if TurboJPEG fails to start). */
IRB_API irb_status irb_decoder_new(irb_decoder_t **out);
/* Frees the decoder and its scratch buffers; dec may be NULL. */
IRB_API void irb_decoder_free(irb_decoder_t *dec);
/* The error record of the last call made with dec; owned by dec, valid until the next call.
 * Returns a static "no decoder" record when dec is NULL. */
IRB_API const irb_error *irb_decoder_error(const irb_decoder_t *dec);
/* The info of the image last decoded/read with dec (owned by dec; valid until the next call). */
IRB_API const irb_image_info *irb_decoder_info(const irb_decoder_t *dec);

/* Decodes the file at `path` into *img (which must be zeroed or released; on success the caller
 * owns img->data). opts may be NULL. On failure *img stays empty. */
IRB_API irb_status irb_decode_file(irb_decoder_t *dec, const char *path, const irb_decode_opts *opts, irb_image *img);
/* The same from memory: `data` (size bytes) is borrowed for the call; `name` is used in
 * messages (may be NULL). */
IRB_API irb_status irb_decode_memory(irb_decoder_t *dec, const void *data, size_t size, const char *name,
                                     const irb_decode_opts *opts, irb_image *img);
/* Reads only the header and metadata of `path` (no pixel decode) into *info (and the decoder's
 * info). Checks the pixel limit of opts (may be NULL). */
IRB_API irb_status irb_read_header(irb_decoder_t *dec, const char *path, const irb_decode_opts *opts,
                                   irb_image_info *info);
/* The same for an image in memory. */
IRB_API irb_status irb_read_header_memory(irb_decoder_t *dec, const void *data, size_t size, const char *name,
                                          const irb_decode_opts *opts, irb_image_info *info);

/* The content of an image file, read whole in one pass (no decoder needed): into head the SHA-256
 * (64 lowercase hex digits + NUL) of its metadata, a JPEG's APPn and COM segments before its
 * first SOS (EXIF, XMP, thumbnails, comments; not APP14, whose colour transform the decode reads),
 * and into data the SHA-256 of every other byte (the tables and the compressed picture; the whole
 * file when it is not a JPEG: head is then the digest of no bytes). Two files with both digests
 * equal hold the same bytes; with data equal, the same picture (an EXIF time put right, say).
 * IRB_NOT_FOUND / IRB_IO name the file. */
IRB_API irb_status irb_image_digest(const char *path, char head[65], char data[65], irb_error *err);
/* irb_image_digest of n files at once on `threads` threads (<= 0: the online CPUs; 1: the calling
 * thread only), each thread reading every nth file: paths[i] (borrowed for the call) is relative to
 * root, or a path as given when root is NULL. digests[i][0] receives file i's head, digests[i][1]
 * its data, both "" when the file cannot be read or its path cannot be made (out of memory): no
 * failure, its content is unknown. Without threads to be had, the calling thread reads them all.
 * IRB_INVALID_ARG for a NULL paths, paths[i] or digests with n > 0. */
IRB_API irb_status irb_image_digests(const char *root, const char *const *paths, size_t n, int threads,
                                     char (*digests)[2][65], irb_error *err);

/* ---- pixel operations (no decoder needed) ------------------------------------------------ */

typedef enum irb_filter {
    IRB_FILTER_BILINEAR = 0, /* PIL's BILINEAR: triangle, support 1 scaled by the downscale factor */
    IRB_FILTER_BOX,          /* PIL's BOX: support 1/2 scaled by the downscale factor */
} irb_filter;

/* Resamples the region (x0, y0)-(x1, y1) of src (in pixel units, fractional allowed; pass all 0
 * for the whole image) to out_w x out_h into *dst (zeroed or released; caller owns the result).
 * Same arithmetic as PIL's Image.resize(size, filter, box) on 8-bit images (fixed point, 22
 * fractional bits, horizontal pass then vertical). src->channels may be 1..4.
 * Returns IRB_INVALID_ARG for an empty or out-of-range box or an unknown filter, IRB_TOO_LARGE for
 * an output above IRB_DEFAULT_MAX_PIXELS (or 2^20 on a side), IRB_NOMEM. err may be NULL. */
IRB_API irb_status irb_resize(const irb_image *src, double x0, double y0, double x1, double y1, int out_w, int out_h,
                              irb_filter filter, irb_image *dst, irb_error *err);
/* Copies the w x h rectangle at (x, y) of src into *dst (caller owns). IRB_INVALID_ARG if it
 * does not lie inside src. */
IRB_API irb_status irb_image_crop(const irb_image *src, int x, int y, int w, int h, irb_image *dst, irb_error *err);
/* Mirrors img left-right in place. */
IRB_API void irb_image_flip(irb_image *img);
/* Applies EXIF orientation 1..8 (the transform that makes the stored image upright) into *dst;
 * src is left as is. Orientation 1 (or an invalid value) copies. */
IRB_API irb_status irb_image_orient(const irb_image *src, int orientation, irb_image *dst, irb_error *err);
/* Writes img (3 channels) as planar float32 CHW to out (3 * width * height floats, borrowed):
 * out[c][y][x] = (pixel - mean[c]) / scale[c]. Does nothing when img, its data or out is NULL. */
IRB_API void irb_image_to_chw(const irb_image *img, const float mean[3], const float scale[3], float *out);

/* ---- info strips ------------------------------------------------------------------------ */

/* Finds the text bars camera traps burn into the top and bottom rows: a band of rows at an
 * edge that are nearly uniform (a solid bar) or dark/light with high-contrast text, clearly
 * different from the picture next to them. Writes the number of rows to crop at the top and at
 * the bottom (0 when there is no bar) in img's own rows. Never more than 20 % of the height
 * per side. */
IRB_API void irb_detect_info_strips(const irb_image *img, int *top, int *bottom);

/* ---- preprocessing: file -> network input ------------------------------------------------ */

/* The resize modes, named alike in every command (--resize center|short|squash) and document
 * (docs/images.md: the preprocessing vocabulary). */
typedef enum irb_resize_mode {
    IRB_RESIZE_CROP_FRACTION = 0, /* "center": centre crop `crop_fraction` of each side, then resize
                                   * to N x N */
    IRB_RESIZE_SHORT_CROP,        /* "short": short side to `short_side`, then centre crop N x N
                                   * (the peer) */
    IRB_RESIZE_SQUASH,            /* "squash": the whole image to N x N, aspect ratio not kept */
} irb_resize_mode;

typedef enum irb_strip_mode {
    IRB_STRIPS_NONE = 0, /* keep every row */
    IRB_STRIPS_FIXED,    /* crop strip_top / strip_bottom (fractions of the height) */
    IRB_STRIPS_AUTO,     /* irb_detect_info_strips on a small decode */
} irb_strip_mode;

typedef struct irb_preproc {
    int size; /* N: the output is 3 x N x N */
    irb_resize_mode mode;
    int short_side;       /* IRB_RESIZE_SHORT_CROP: S (default N * 8 / 7: 256 for 224); 0 means N */
    double crop_fraction; /* IRB_RESIZE_CROP_FRACTION: f in (0, 1] (e.g. 0.875); 0 means 1 */
    irb_filter filter;
    float mean[3], scale[3]; /* out = (pixel - mean[c]) / scale[c]; scale 0 is treated as 1 */
    int flip;                /* 1: mirror left-right; 2 (tensor outputs only): the tensor, then
                              * its mirror right after it (2 x 3 x N x N floats) */
    irb_strip_mode strips;
    double strip_top, strip_bottom; /* IRB_STRIPS_FIXED: fractions of the height in [0, 0.5) */
    int decode_size;                /* > size: decode at the DCT scale this preprocessing at size
                                     * decode_size picks (a multi-size pipeline's largest input: one
                                     * decode serves every size); 0 (or <= size): the scale size picks */
    int full_decode;                /* 1: never use DCT scaling (slow; for comparisons) */
    irb_dct_scales scales;          /* the DCT scales the decode picks from (irb_preproc_default:
                                     * IRB_DCT_FAST; records without "dct_scales": IRB_DCT_ANY) */
    long long max_pixels;           /* 0: IRB_DEFAULT_MAX_PIXELS */
    int channels_last;              /* tensor outputs: 0 planar, 3 x N x N (CHW); 1 interleaved, N x N x 3
                                     * (HWC), for a net made with irb_net_opts.channels_last. How the
                                     * tensor is laid out, not what it holds: not in the JSON */
} irb_preproc; /* values outside these ranges (sizes up to 16384; negative short_side, decode_size or
                * max_pixels; fractions of the mode in use) are IRB_INVALID_ARG before the file is read */

/* The MobileNetV2 reference preprocessing at size n: centre crop 0.875, bilinear to n x n,
 * (x - 128) / 128, no flip, no strip crop; for the short mode, short side n * 8 / 7. */
IRB_API irb_preproc irb_preproc_default(int n);

/* The preprocessing as one JSON object (size, resize, crop_fraction, short_side, filter, mean, std,
 * strips, strip_top, strip_bottom; decode_size when above size, dct_scales when IRB_DCT_FAST), as
 * feature sets and classifiers record it (docs/features.md). Written into buf (truncated to size;
 * 512 bytes hold any). */
IRB_API void irb_preproc_to_json(const irb_preproc *pp, char *buf, size_t size);
/* Parses such a description (fields missing from older files keep irb_preproc_default's values,
 * but for dct_scales: a description without it is IRB_DCT_ANY, as files before it decoded).
 * IRB_CORRUPT / IRB_UNSUPPORTED with the text in the message when it cannot be used (also a value
 * irb_preprocess_file would refuse, such as a crop fraction of 7). */
IRB_API irb_status irb_preproc_from_json(const char *json, irb_preproc *pp, irb_error *err);

/* Decodes `path` at the DCT scale the final size allows, crops info strips, applies the resize
 * mode, flip, and normalisation, and writes 3 * size * size floats (CHW) to out (borrowed).
 * info (may be NULL) receives the image info including crop_top/crop_bottom and the DCT scale.
 * The status and message are also on the decoder (irb_decoder_error). */
IRB_API irb_status irb_preprocess_file(irb_decoder_t *dec, const char *path, const irb_preproc *pp, float *out,
                                       irb_image_info *info);
/* The file read and decoded once for several preprocessings (e.g. the input sizes of a
 * pipeline): outs[j] receives 3 * pps[j].size^2 floats (twice that with flip = 2), exactly what
 * irb_preprocess_file with pps[j] writes (a decode is shared where both would pick the same DCT
 * scale). The pixel limit must be the same in all. A warning of any of them is on the decoder. */
IRB_API irb_status irb_preprocess_multi(irb_decoder_t *dec, const char *path, const irb_preproc *pps, int n,
                                        float *const *outs, irb_image_info *info);
/* The same, stopping before normalisation: *img (caller owns) is the size x size RGB image. */
IRB_API irb_status irb_preprocess_image(irb_decoder_t *dec, const char *path, const irb_preproc *pp, irb_image *img,
                                        irb_image_info *info);

#ifdef __cplusplus
}
#endif
#endif

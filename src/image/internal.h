/* Internals of src/image shared between its files: the decoder object, the JPEG marker walk,
 * EXIF parsing and the per-format decoders. */
#ifndef IRB_IMAGE_INTERNAL_H
#define IRB_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "irbis/image.h"

struct irb_decoder {
    irb_error err;
    irb_image_info info;
    void *tj;      /* tjhandle, created lazily */
    uint8_t *file; /* the whole file of the current image (reused) */
    size_t file_cap, file_len;
    uint8_t *scratch; /* CMYK pixels / pre-orientation pixels (reused) */
    size_t scratch_cap;
};

/* Reads the whole file at path into dec->file / dec->file_len (message set on failure). */
irb_status irb__load_file(irb_decoder_t *dec, const char *path);

/* Grows dec->scratch to at least n bytes; 0 on allocation failure (message set). */
int irb__scratch(irb_decoder_t *dec, size_t n, const char *name);

/* ---- JPEG marker walk (jpeg_markers.c) */
typedef struct irb_jpeg_header {
    int width, height, components, precision, sof; /* sof: marker (0xC0..0xCF) or 0 if none */
    const uint8_t *exif;                           /* APP1 payload starting with "Exif\0\0", or NULL */
    size_t exif_len;
    int adobe, adobe_transform; /* an APP14 "Adobe" segment (CMYK stored inverted) */
    int complete;               /* 1 if SOS was reached inside the buffer */
} irb_jpeg_header;

/* Walks the markers from SOI to SOS. Returns IRB_OK (h->complete says whether SOS was seen;
 * 0 means the buffer ended inside the header), IRB_UNSUPPORTED when the data is not a JPEG,
 * IRB_CORRUPT for a malformed segment (message names `name` and the offset). */
irb_status irb__jpeg_markers(const uint8_t *p, size_t n, const char *name, irb_jpeg_header *h, irb_error *err);

/* ---- EXIF (exif.c): fills info->orientation, datetime, make, model, serial from an APP1
 * payload ("Exif\0\0" + TIFF). Problems become warnings on err, never failures. */
void irb__exif_parse(const uint8_t *tiff, size_t n, const char *name, irb_image_info *info, irb_error *err);
/* The same for a PNG's eXIf chunk, if one comes before the image data in p[0..n) (png.c). */
void irb__png_exif(const uint8_t *p, size_t n, const char *name, irb_image_info *info, irb_error *err);

/* ---- format decoders; `opts` is never NULL, img is empty on entry. info has the header
 * fields filled by the caller's header pass. */
irb_status irb__jpeg_decode(irb_decoder_t *dec, const uint8_t *p, size_t n, const char *name, const irb_jpeg_header *h,
                            const irb_decode_opts *opts, irb_image *img);
/* The DCT scale num/denom a decode of a w x h JPEG (stored orientation; EXIF orientation
 * `orientation`) with opts picks: the rule of irb__jpeg_decode. */
void irb__jpeg_scale(int w, int h, int orientation, const irb_decode_opts *opts, int *num, int *denom);
irb_status irb__png_header(const uint8_t *p, size_t n, const char *name, irb_image_info *info, irb_error *err);
irb_status irb__png_decode(irb_decoder_t *dec, const uint8_t *p, size_t n, const char *name, irb_image *img);

/* irb_resize with clamp = 1: kernels limited to [floor(x0), ceil(x1)) x [floor(y0), ceil(y1)),
 * i.e. PIL's crop(box).resize() for a whole-pixel box. */
irb_status irb__resize_clamped(const irb_image *src, double x0, double y0, double x1, double y1, int clamp, int out_w,
                               int out_h, irb_filter filter, irb_image *dst, irb_error *err);
/* irb_image_to_chw, and with mirror (may be NULL) the same tensor mirrored left-right there. */
void irb__image_to_chw(const irb_image *img, const float mean[3], const float scale[3], float *out, float *mirror);
/* The same tensor interleaved, H x W x 3 (channels last: irb_preproc.channels_last); the same
 * values as irb__image_to_chw, only their order differs. */
void irb__image_to_hwc(const irb_image *img, const float mean[3], const float scale[3], float *out, float *mirror);

/* Format sniffing on the first bytes. */
irb_format irb__sniff(const uint8_t *p, size_t n);
/* 1 when p[0..n) begins as a video container does: ISO BMFF with a movie brand (MP4, MOV, 3GP;
 * not HEIF/AVIF), QuickTime atoms, RIFF AVI, Matroska/WebM, MPEG program or elementary stream,
 * ASF (WMV), FLV, MPEG transport stream (TS, M2TS: needs IRB_VIDEO_SNIFF_BYTES). Compares a few
 * magic bytes only; p may be NULL (0). */
#define IRB_VIDEO_SNIFF_BYTES 200
int irb__video_sniff(const uint8_t *p, size_t n);

/* The checks of a preprocessing's values (size, modes, flip, fractions, sizes, pixel limit) that
 * every use makes: `bad` (IRB_INVALID_ARG for a caller's struct, IRB_CORRUPT for a file's) with
 * name and the field in err otherwise. */
irb_status irb__preproc_check(const irb_preproc *pp, const char *name, irb_status bad, irb_error *err);

/* 1 when img describes pixels that can be walked: data, width and height > 0, 1..4 channels, and
 * width * height * channels bytes that one object can hold. The public pixel calls refuse (or leave
 * alone) any other image. */
int irb__image_ok(const irb_image *img);

/* Allocates a w x h x c image (zeroed buffer not guaranteed). */
irb_status irb__image_alloc(irb_image *img, int w, int h, int c, const char *name, irb_error *err);

#endif

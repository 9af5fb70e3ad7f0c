/* irbis/scan.h: walking a survey folder, one metadata row per file, streamed.
 *
 * The walk is depth-first with each folder's entries sorted by byte value (strcmp), so the
 * order is the same on every machine. Hidden entries (names starting with '.') are skipped;
 * symbolic links to folders are not followed. Only the headers of images are read (size and
 * EXIF, no pixel decode); of a file that is not one, its first few hundred bytes (is it a video?). Memory is bounded by
 * the open folder stack, not the survey size.
 *
 * Example (one line per file of a survey folder):
 *
 *   irb_scan_t *scan = NULL;
 *   irb_scan_row row;
 *   irb_error err = {0};
 *   if (irb_scan_open("survey", NULL, &scan, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   while (irb_scan_next(scan, &row) == IRB_OK)
 *       printf("%s,%s,%s,%s\n", row.path, row.camera, row.timestamp, irb_scan_status_name(row.status));
 *   int rc = irb_scan_error(scan)->status == IRB_OK ? 0 : 1;   // IRB_NOT_FOUND ended the walk
 *   irb_scan_close(scan);
 *   return rc;
 */
#ifndef IRBIS_SCAN_H
#define IRBIS_SCAN_H

#include <stdio.h>

#include "irbis/core.h"
#include "irbis/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct irb_scan irb_scan_t;

typedef struct irb_scan_opts {
    /* 0: a file's camera is its parent folder relative to the root ("" for files in the root).
     * k > 0: the first k folder components of its relative path (camtrapR's Station/Species/
     * layout needs k = 1). */
    int camera_depth;
    long long max_pixels; /* 0: IRB_DEFAULT_MAX_PIXELS; larger images become error rows */
    int names_only;       /* 1: list files without reading their images (rows have path and camera
                           * only, status ok; unreadable folders are still error rows; a file
                           * whose name claims no image is still skipped when its first bytes
                           * are neither JPEG nor PNG: IRB_ROW_SKIPPED below) */
} irb_scan_opts;

/* IRB_ROW_SKIPPED: a file that is not a still image (a camera's video clip, a log, a field
 * team's notes): its content is neither JPEG nor PNG and its name does not claim an image (its
 * extension is none of jpg, jpeg, jpe, jfif, png, tif, tiff, bmp, gif, webp, heic, heif, dng, cr2,
 * nef, arw, in any case). Not a failure: nothing irbis could read is missing. A file that claims to
 * be an image and cannot be read (damaged, truncated, a format irbis does not read) is an error. */
typedef enum irb_scan_status { IRB_ROW_OK = 0, IRB_ROW_WARNING, IRB_ROW_ERROR, IRB_ROW_SKIPPED } irb_scan_status;

/* One file. All strings are owned by the scan and valid until the next irb_scan_next/close. */
typedef struct irb_scan_row {
    const char *path; /* relative to the root, '/'-separated */
    const char *camera;
    const char *timestamp; /* ISO 8601 from EXIF DateTimeOriginal, or "" */
    int width, height;     /* upright size (EXIF orientation applied); 0 when unknown */
    irb_scan_status status;
    const char *message;        /* "" for ok rows; the warning or error otherwise */
    irb_status error;           /* the decoder status for error rows (IRB_OK otherwise) */
    const irb_image_info *info; /* everything read from the header (owned by the scan) */
    long long size, mtime_ns;   /* the file's size and modification time (of a link's target);
                                 * 0 when it cannot be stat'ed: what a resume compares */
    int video;                  /* skipped rows: 1 when the file is a video (its container's magic
                                 * bytes, or a video extension such as .mp4, .avi, .mov) */
} irb_scan_row;

/* The short name of a row status: "ok", "warning", "error", "skipped". */
IRB_API const char *irb_scan_status_name(irb_scan_status s);

/* Starts a walk of `root` (copied). opts may be NULL. Fails with IRB_NOT_FOUND / IRB_IO when
 * root is not a readable folder (message in err, which may be NULL); IRB_INVALID_ARG for a negative
 * camera_depth or max_pixels. */
IRB_API irb_status irb_scan_open(const char *root, const irb_scan_opts *opts, irb_scan_t **out, irb_error *err);
/* The camera irb_scan gives a file at rel_path (relative to the survey root, '/'-separated) with
 * irb_scan_opts.camera_depth = depth, into buf (truncated to size): its folder, or the first
 * depth folder components ("" for a file in the root). A NULL rel_path gives ""; a NULL buf (or
 * size 0) is left alone. */
IRB_API void irb_scan_camera(const char *rel_path, int depth, char *buf, size_t size);

/* The next file into *row: IRB_OK, or IRB_NOT_FOUND when the walk is over. Problems with single
 * files or folders (unreadable, a damaged image) are rows with status IRB_ROW_ERROR, and files
 * that are not still images rows with IRB_ROW_SKIPPED (message: "PATH: a video (irbis classifies
 * still images)" or "PATH: not an image"), not failures;
 * only running out of memory fails (IRB_NOMEM, message in irb_scan_error), and a NULL scan or row
 * (IRB_INVALID_ARG). */
IRB_API irb_status irb_scan_next(irb_scan_t *scan, irb_scan_row *row);
/* The error record of the scan (owned by it). */
IRB_API const irb_error *irb_scan_error(const irb_scan_t *scan);
/* The CSV form of the rows (RFC 4180): the header line
 * "path,camera,timestamp,width,height,status,message" and one line per row. f is borrowed. Both
 * do nothing when f or row is NULL. */
IRB_API void irb_scan_write_csv_header(FILE *f);
IRB_API void irb_scan_write_csv_row(FILE *f, const irb_scan_row *row);

/* Ends the walk and frees everything; scan may be NULL. */
IRB_API void irb_scan_close(irb_scan_t *scan);

#ifdef __cplusplus
}
#endif
#endif

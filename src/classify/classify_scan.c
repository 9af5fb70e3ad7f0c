/* The real scanner behind irb_classify_run: the survey's files through irb_scan_* (header
 * reads only). The engine is classify_pipeline.c's. */
#include <string.h>

#include "core/error.h"
#include "irbis/scan.h"
#include "classify/classify_internal.h"

/* ---- scanner ------------------------------------------------------------------------------ */

static irb_status scan_next(void *ctx, irb_cls_row *row, irb_error *err)
{
    irb_scan_t *scan = ctx;
    irb_scan_row r;
    irb_status s = irb_scan_next(scan, &r);
    if (s == IRB_NOT_FOUND)
        return s;
    if (s != IRB_OK) {
        irb_error_copy(err, irb_scan_error(scan));
        return s;
    }
    memset(row, 0, sizeof *row);
    row->path = r.path;
    row->camera = r.camera;
    row->timestamp = r.timestamp;
    row->width = r.width, row->height = r.height;
    row->size = r.size, row->mtime_ns = r.mtime_ns;
    row->skipped = r.status == IRB_ROW_SKIPPED;
    row->video = r.video;
    if (r.status == IRB_ROW_ERROR) {
        row->status = r.error != IRB_OK ? r.error : IRB_CORRUPT;
        row->message = r.message;
    }
    return IRB_OK;
}

static void scan_close(void *ctx) { irb_scan_close(ctx); }

irb_status irb_cls_scanner_open(const irb_classify_opts *o, irb_cls_scanner *sc, irb_error *err)
{
    irb_scan_t *scan = NULL;
    irb_scan_opts so = {.camera_depth = o->camera_depth};
    IRB_TRY(irb_scan_open(o->survey_dir, &so, &scan, err));
    sc->ctx = scan, sc->next = scan_next, sc->close = scan_close;
    return IRB_OK;
}

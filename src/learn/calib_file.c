/* int8 calibration tables as files: the text form of src/nn/calib.c, written durably. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "irbis/nn.h"
#include "learn/binio.h"

#define CALIB_MAX_BYTES ((size_t)64 << 20)

irb_status irb_calib_save(const irb_calib_t *c, const char *path, irb_error *err)
{
    if (!c || !path)
        return irb_fail(err, IRB_INVALID_ARG, "calib_save: NULL argument");
    char *t = NULL;
    size_t len = 0;
    IRB_TRY(irb_calib_to_text(c, &t, &len, err));
    irb_wbuf b = {(uint8_t *)t, len, len, 0};
    irb_status s = irb_wbuf_save(&b, path, err);
    irb_calib_text_free(t);
    return s;
}

irb_status irb_calib_load(const char *path, irb_calib_t **out, irb_error *err)
{
    if (!path || !out)
        return irb_fail(err, IRB_INVALID_ARG, "calib_load: NULL argument");
    *out = NULL;
    void *data = NULL;
    size_t n = 0;
    IRB_TRY(irb_read_file(path, CALIB_MAX_BYTES, &data, &n, err));
    irb_status s = irb_calib_parse(data, n, path, out, err);
    irb_free(data);
    return s;
}

/* A bounds-checked walk over JPEG marker segments, from SOI up to the first SOS: enough to
 * know the size, the component count, the EXIF block and the Adobe (inverted CMYK) flag
 * without decoding anything. */
#include <string.h>

#include "core/error.h"
#include "image/internal.h"

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

static int is_sof(int m)
{
    /* C4 = DHT, C8 = JPG extension, CC = DAC are not frame headers */
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static irb_status segment(const uint8_t *s, size_t len, int m, size_t off, const char *name, irb_jpeg_header *h,
                          irb_error *err)
{
    if (is_sof(m) && !h->sof) {
        if (len < 6)
            return irb_fail(err, IRB_CORRUPT, "%s: JPEG frame header at offset %zu is %zu bytes, too short", name, off,
                            len);
        h->sof = m;
        h->precision = s[0];
        h->height = (int)be16(s + 1);
        h->width = (int)be16(s + 3);
        h->components = s[5];
    } else if (m == 0xE1 && !h->exif && len >= 6 && !memcmp(s, "Exif\0\0", 6)) {
        h->exif = s;
        h->exif_len = len;
    } else if (m == 0xEE && len >= 12 && !memcmp(s, "Adobe", 5)) {
        h->adobe = 1;
        h->adobe_transform = s[11];
    }
    return IRB_OK;
}

irb_status irb__jpeg_markers(const uint8_t *p, size_t n, const char *name, irb_jpeg_header *h, irb_error *err)
{
    memset(h, 0, sizeof *h);
    if (n < 3 || p[0] != 0xFF || p[1] != 0xD8)
        return irb_fail(err, IRB_UNSUPPORTED, "%s: not a JPEG (no start-of-image marker)", name);
    size_t i = 2;
    while (i < n) {
        if (p[i] != 0xFF) {
            /* garbage between segments: libjpeg skips it with a warning; so do we */
            i++;
            continue;
        }
        while (i < n && p[i] == 0xFF)
            i++;
        if (i >= n)
            break;
        int m = p[i++];
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8))
            continue; /* stand-alone markers */
        if (m == 0xD9)
            return irb_fail(err, IRB_CORRUPT, "%s: JPEG ends (EOI at offset %zu) before any image data", name, i - 2);
        if (i + 2 > n)
            break;
        size_t len = be16(p + i);
        if (len < 2)
            return irb_fail(err, IRB_CORRUPT, "%s: JPEG segment 0x%02X at offset %zu has length %zu", name, m, i - 2,
                            len);
        if (m == 0xDA) {
            h->complete = 1;
            break;
        }
        if (i + len > n)
            break; /* the segment runs past the buffer: the caller may read more */
        IRB_TRY(segment(p + i + 2, len - 2, m, i - 2, name, h, err));
        i += len;
    }
    if (h->complete && !h->sof)
        return irb_fail(err, IRB_CORRUPT, "%s: JPEG image data without a frame header", name);
    return IRB_OK;
}

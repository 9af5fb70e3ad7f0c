/* EXIF metadata through libexif: orientation, capture time, camera make/model/serial.
 * libexif is told to leave the data alone (no "follow the specification" fix-ups) and to log
 * into us; anything it reports as corrupt becomes one warning naming the file. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libexif/exif-data.h>
#include <libexif/exif-log.h>
#include <libexif/exif-mem.h>
#include <libexif/exif-utils.h>

#include "core/alloc.h"
#include "core/error.h"
#include "image/internal.h"

typedef struct {
    int corrupt;
    char first[200];
} exif_log_sink;

static void on_log(ExifLog *log, ExifLogCode code, const char *domain, const char *fmt, va_list ap, void *data)
{
    (void)log;
    (void)domain;
    exif_log_sink *s = data;
    if (code != EXIF_LOG_CODE_CORRUPT_DATA && code != EXIF_LOG_CODE_NO_MEMORY)
        return;
    if (!s->corrupt++)
        vsnprintf(s->first, sizeof s->first, fmt, ap);
}

static void *mem_alloc(ExifLong n) { return irb_calloc(n ? n : 1, 1); }
static void *mem_realloc(void *p, ExifLong n) { return irb_realloc(p, n ? n : 1); }
static void mem_free(void *p) { irb_free(p); }

/* An ASCII tag as a trimmed C string (printable characters only). */
static void get_ascii(ExifData *d, ExifIfd ifd, ExifTag tag, char *out, size_t cap)
{
    out[0] = '\0';
    ExifEntry *e = exif_content_get_entry(d->ifd[ifd], tag);
    if (!e || !e->data || e->format != EXIF_FORMAT_ASCII)
        return;
    size_t n = 0;
    for (size_t i = 0; i < e->size && e->data[i] && n + 1 < cap; i++)
        out[n++] = isprint(e->data[i]) ? (char)e->data[i] : '?';
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* "YYYY:MM:DD HH:MM:SS" (+ subseconds) -> "YYYY-MM-DDTHH:MM:SS[.fff]"; "" when malformed or
 * blank (cameras write "0000:00:00 00:00:00" or spaces when the clock was never set). */
static void iso_time(const char *exif, const char *subsec, char *out, size_t cap)
{
    out[0] = '\0';
    if (strlen(exif) < 19 || !digits(exif, 4) || exif[4] != ':' || !digits(exif + 5, 2) || exif[7] != ':' ||
        !digits(exif + 8, 2) || (exif[10] != ' ' && exif[10] != 'T') || !digits(exif + 11, 2) || exif[13] != ':' ||
        !digits(exif + 14, 2) || exif[16] != ':' || !digits(exif + 17, 2))
        return;
    if (!strncmp(exif, "0000", 4))
        return;
    snprintf(out, cap, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", exif, exif + 5, exif + 8, exif + 11, exif + 14, exif + 17);
    size_t k = 0;
    while (subsec[k] && isdigit((unsigned char)subsec[k]) && k < 9)
        k++;
    if (k > 0 && subsec[k] == '\0') {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, ".%.*s", (int)k, subsec);
    }
}

static int get_orientation(ExifData *d)
{
    ExifEntry *e = exif_content_get_entry(d->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (!e || !e->data || e->format != EXIF_FORMAT_SHORT || e->components < 1 || e->size < 2)
        return 1;
    int o = exif_get_short(e->data, exif_data_get_byte_order(d));
    return o >= 1 && o <= 8 ? o : 1;
}

/* Reconyx HyperFire cameras keep the capture time only in their maker note (version 0xF101):
 * six little-endian uint16 at byte 22: seconds, minutes, hours, month, day, year. */
static void reconyx_time(ExifData *d, char *out, size_t cap)
{
    ExifEntry *e = exif_content_get_entry(d->ifd[EXIF_IFD_EXIF], EXIF_TAG_MAKER_NOTE);
    if (!e || !e->data || e->size < 34 || e->data[0] != 0x01 || e->data[1] != 0xF1)
        return;
    int v[6];
    for (int i = 0; i < 6; i++)
        v[i] = e->data[22 + 2 * i] | e->data[23 + 2 * i] << 8;
    if (v[5] < 1900 || v[5] > 2200 || v[3] < 1 || v[3] > 12 || v[4] < 1 || v[4] > 31 || v[2] > 23 || v[1] > 59 ||
        v[0] > 60)
        return;
    char t[80];
    snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d", v[5], v[3], v[4], v[2], v[1], v[0]);
    snprintf(out, cap, "%.*s", (int)(cap - 1), t);
}

static void read_tags(ExifData *d, irb_image_info *info)
{
    char when[64], sub[32];
    info->orientation = get_orientation(d);
    get_ascii(d, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, when, sizeof when);
    get_ascii(d, EXIF_IFD_EXIF, EXIF_TAG_SUB_SEC_TIME_ORIGINAL, sub, sizeof sub);
    iso_time(when, sub, info->datetime, sizeof info->datetime);
    if (!info->datetime[0])
        reconyx_time(d, info->datetime, sizeof info->datetime);
    get_ascii(d, EXIF_IFD_0, EXIF_TAG_MAKE, info->make, sizeof info->make);
    get_ascii(d, EXIF_IFD_0, EXIF_TAG_MODEL, info->model, sizeof info->model);
    get_ascii(d, EXIF_IFD_EXIF, EXIF_TAG_BODY_SERIAL_NUMBER, info->serial, sizeof info->serial);
    if (!info->serial[0]) /* DNG's CameraSerialNumber (0xC62F), used by some trail cameras */
        get_ascii(d, EXIF_IFD_0, (ExifTag)0xC62F, info->serial, sizeof info->serial);
}

void irb__exif_parse(const uint8_t *app1, size_t n, const char *name, irb_image_info *info, irb_error *err)
{
    if (n > 0xFFFFFFF0u)
        n = 0xFFFFFFF0u;
    ExifMem *mem = exif_mem_new(mem_alloc, mem_realloc, mem_free);
    ExifLog *log = mem ? exif_log_new_mem(mem) : NULL;
    ExifData *d = mem ? exif_data_new_mem(mem) : NULL;
    if (!mem || !log || !d) {
        irb_warn(err, "%s: out of memory while reading EXIF; metadata ignored", name);
        goto cleanup;
    }
    exif_log_sink sink = {0};
    exif_log_set_func(log, on_log, &sink);
    exif_data_log(d, log);
    exif_data_unset_option(d, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_set_option(d, EXIF_DATA_OPTION_DONT_CHANGE_MAKER_NOTE);
    exif_data_load_data(d, app1, (unsigned int)n);
    read_tags(d, info);
    if (sink.corrupt)
        irb_warn(err, "%s: broken EXIF (%s); metadata may be incomplete", name, sink.first);
cleanup:
    if (d)
        exif_data_unref(d);
    if (log)
        exif_log_unref(log);
    if (mem)
        exif_mem_unref(mem);
}

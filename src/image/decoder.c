/* The decoder object: reading files, recognising the format, the header pass shared by
 * decoding and header-only reads, and applying the EXIF orientation. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "core/alloc.h"
#include "core/error.h"
#include "image/internal.h"

/* ---- lifecycle ----------------------------------------------------------------------------- */

irb_status irb_decoder_new(irb_decoder_t **out)
{
    if (!out)
        return IRB_INVALID_ARG;
    *out = irb_calloc(1, sizeof **out);
    if (!*out)
        return IRB_NOMEM;
    (*out)->info.orientation = 1;
    return IRB_OK;
}

void irb_decoder_free(irb_decoder_t *dec)
{
    if (!dec)
        return;
    if (dec->tj)
        tjDestroy(dec->tj);
    irb_free(dec->file);
    irb_free(dec->scratch);
    irb_free(dec);
}

const irb_error *irb_decoder_error(const irb_decoder_t *dec)
{
    static const irb_error none = {IRB_INVALID_ARG, 0, "no decoder (NULL)"};
    return dec ? &dec->err : &none;
}

const irb_image_info *irb_decoder_info(const irb_decoder_t *dec)
{
    static const irb_image_info none = {.orientation = 1};
    return dec ? &dec->info : &none;
}

void irb_image_release(irb_image *img)
{
    if (!img)
        return;
    irb_free(img->data);
    memset(img, 0, sizeof *img);
}

int irb__image_ok(const irb_image *img)
{
    size_t n;
    return img && img->data && img->width > 0 && img->height > 0 && img->channels >= 1 && img->channels <= 4 &&
           irb_mul_size((size_t)img->width * (size_t)img->channels, (size_t)img->height, &n) && n <= PTRDIFF_MAX;
}

irb_status irb__image_alloc(irb_image *img, int w, int h, int c, const char *name, irb_error *err)
{
    size_t n;
    memset(img, 0, sizeof *img);
    if (w <= 0 || h <= 0 || c <= 0 || !irb_mul_size((size_t)w * (size_t)c, (size_t)h, &n) ||
        !(img->data = irb_malloc(n)))
        return irb_fail(err, IRB_NOMEM, "%s: cannot allocate a %dx%dx%d image", name, w, h, c);
    img->width = w;
    img->height = h;
    img->channels = c;
    return IRB_OK;
}

int irb__scratch(irb_decoder_t *dec, size_t n, const char *name)
{
    if (n <= dec->scratch_cap)
        return 1;
    uint8_t *p = irb_realloc(dec->scratch, n);
    if (!p) {
        irb_fail(&dec->err, IRB_NOMEM, "%s: cannot allocate %zu bytes of decode scratch", name, n);
        return 0;
    }
    dec->scratch = p;
    dec->scratch_cap = n;
    return 1;
}

/* ---- reading files --------------------------------------------------------------------------- */

static int grow_file(irb_decoder_t *dec, size_t n, const char *path)
{
    if (n <= dec->file_cap)
        return 1;
    uint8_t *p = irb_realloc(dec->file, n);
    if (!p) {
        irb_fail(&dec->err, IRB_NOMEM, "%s: cannot allocate %zu bytes to read the file", path, n);
        return 0;
    }
    dec->file = p;
    dec->file_cap = n;
    return 1;
}

static const char *not_regular(mode_t m)
{
    return S_ISDIR(m)                 ? "is a directory"
           : S_ISFIFO(m)              ? "is a FIFO, not a regular file"
           : S_ISSOCK(m)              ? "is a socket, not a regular file"
           : S_ISCHR(m) || S_ISBLK(m) ? "is a device, not a regular file"
                                      : "not a regular file";
}

/* Only regular files are opened: the type is checked before open() (opening a FIFO waits for a
 * writer forever; opening a device may act on it), and again on the descriptor, opened
 * non-blocking, in case the path changed in between. */
static irb_status open_file(irb_decoder_t *dec, const char *path, int *fd, size_t *size)
{
    struct stat st;
    *fd = -1;
    if (stat(path, &st) != 0)
        return irb_fail(&dec->err, errno == ENOENT ? IRB_NOT_FOUND : IRB_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (!S_ISREG(st.st_mode))
        return irb_fail(&dec->err, IRB_IO, "%s: %s", path, not_regular(st.st_mode));
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0)
        return irb_fail(&dec->err, errno == ENOENT ? IRB_NOT_FOUND : IRB_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(*fd);
        *fd = -1;
        return irb_fail(&dec->err, IRB_IO, "%s: %s", path,
                        !S_ISREG(st.st_mode) ? not_regular(st.st_mode) : strerror(e));
    }
    *size = (size_t)st.st_size;
    return IRB_OK;
}

/* Reads bytes [have, want) of fd into dec->file; *got is the new fill level. */
static irb_status read_more(irb_decoder_t *dec, int fd, const char *path, size_t have, size_t want, size_t *got)
{
    if (!grow_file(dec, want ? want : 1, path))
        return IRB_NOMEM;
    while (have < want) {
        ssize_t r = pread(fd, dec->file + have, want - have, (off_t)have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return irb_fail(&dec->err, IRB_IO, "%s: read failed at offset %zu: %s", path, have, strerror(errno));
        if (r == 0)
            break;
        have += (size_t)r;
    }
    *got = have;
    return IRB_OK;
}

/* ---- formats and the header pass --------------------------------------------------------------- */

irb_format irb__sniff(const uint8_t *p, size_t n)
{
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return IRB_FORMAT_JPEG;
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        return IRB_FORMAT_PNG;
    return IRB_FORMAT_UNKNOWN;
}

static const char *other_format(const uint8_t *p, size_t n)
{
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
        return "GIF";
    if (n >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4)))
        return "TIFF";
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
        return "WebP";
    if (n >= 12 && !memcmp(p + 4, "ftyp", 4)) /* a still's brand: irb__video_sniff took the movies */
        return "HEIF";
    if (n >= 2 && p[0] == 'B' && p[1] == 'M')
        return "BMP";
    return NULL;
}

/* The still-image brands of an ISO BMFF `ftyp` box (HEIF, AVIF, Canon CR3): every other brand is a
 * movie (isom, mp41, mp42, qt, 3gp4, avc1, M4V...). */
static int still_brand(const uint8_t *b)
{
    static const char brands[][5] = {"heic", "heix", "heim", "heis", "hevc", "hevx",
                                     "mif1", "msf1", "avif", "avis", "crx ", "jpeg"};
    for (size_t i = 0; i < sizeof brands / sizeof *brands; i++)
        if (!memcmp(b, brands[i], 4))
            return 1;
    return 0;
}

int irb__video_sniff(const uint8_t *p, size_t n)
{
    if (!p)
        return 0;
    if (n >= 12 && !memcmp(p + 4, "ftyp", 4)) /* ISO BMFF: MP4, MOV, 3GP (HEIF and AVIF are stills) */
        return !still_brand(p + 8);
    if (n >= 8 && (!memcmp(p + 4, "moov", 4) || !memcmp(p + 4, "mdat", 4) || !memcmp(p + 4, "wide", 4)))
        return 1; /* QuickTime without an ftyp box */
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "AVI ", 4))
        return 1;
    if (n >= 4 && !memcmp(p, "\x1a\x45\xdf\xa3", 4)) /* EBML: Matroska, WebM */
        return 1;
    if (n >= 4 && !memcmp(p, "\0\0\x01", 3) && (p[3] == 0xBA || p[3] == 0xB3)) /* MPEG-PS, MPEG video */
        return 1;
    if (n >= 16 && !memcmp(p, "\x30\x26\xb2\x75\x8e\x66\xcf\x11", 8)) /* ASF: WMV */
        return 1;
    if (n >= 4 && !memcmp(p, "FLV\x01", 4))
        return 1;
    if (n > 188 && p[0] == 0x47 && p[188] == 0x47) /* MPEG-TS: a sync byte every 188 */
        return 1;
    return n > 196 && p[4] == 0x47 && p[196] == 0x47; /* M2TS (AVCHD .MTS): 4-byte stamps, then TS */
}

static irb_status unknown_format(irb_decoder_t *dec, const uint8_t *p, size_t n, const char *name)
{
    if (n == 0)
        return irb_fail(&dec->err, IRB_CORRUPT, "%s: empty file (0 bytes)", name);
    if (irb__video_sniff(p, n)) /* e.g. a clip renamed .JPG: say what it is */
        return irb_fail(&dec->err, IRB_UNSUPPORTED, "%s: a video, not a still image (irbis classifies still images)",
                        name);
    const char *other = other_format(p, n);
    if (other)
        return irb_fail(&dec->err, IRB_UNSUPPORTED, "%s: unsupported image format (%s)", name, other);
    return irb_fail(&dec->err, IRB_UNSUPPORTED, "%s: not an image (neither JPEG nor PNG)", name);
}

static irb_status check_size(irb_decoder_t *dec, const char *name, const irb_decode_opts *opts)
{
    irb_image_info *in = &dec->info;
    if (in->stored_width <= 0 || in->stored_height <= 0)
        return irb_fail(&dec->err, IRB_CORRUPT, "%s: invalid image size %dx%d in the header", name, in->stored_width,
                        in->stored_height);
    long long limit = opts && opts->max_pixels > 0 ? opts->max_pixels : IRB_DEFAULT_MAX_PIXELS;
    if ((long long)in->stored_width * in->stored_height > limit)
        return irb_fail(&dec->err, IRB_TOO_LARGE, "%s: image is %dx%d (%lld pixels), above the limit of %lld pixels",
                        name, in->stored_width, in->stored_height, (long long)in->stored_width * in->stored_height,
                        limit);
    int swap = in->orientation >= 5 && !(opts && opts->keep_orientation);
    in->width = swap ? in->stored_height : in->stored_width;
    in->height = swap ? in->stored_width : in->stored_height;
    return IRB_OK;
}

/* Fills dec->info from the header (and EXIF) of p[0..n). `final` says that n is the whole file,
 * so a header that runs past it is truncated rather than incomplete. */
static irb_status header_pass(irb_decoder_t *dec, const uint8_t *p, size_t n, const char *name,
                              const irb_decode_opts *opts, irb_jpeg_header *jh)
{
    memset(&dec->info, 0, sizeof dec->info);
    dec->info.orientation = 1;
    dec->info.scale_num = dec->info.scale_denom = 1;
    dec->info.format = irb__sniff(p, n);
    if (dec->info.format == IRB_FORMAT_PNG) {
        IRB_TRY(irb__png_header(p, n, name, &dec->info, &dec->err));
        irb__png_exif(p, n, name, &dec->info, &dec->err);
        return check_size(dec, name, opts);
    }
    if (dec->info.format != IRB_FORMAT_JPEG)
        return unknown_format(dec, p, n, name);
    IRB_TRY(irb__jpeg_markers(p, n, name, jh, &dec->err));
    if (!jh->sof)
        return irb_fail(&dec->err, IRB_CORRUPT, "%s: truncated JPEG: no frame header in its %zu bytes", name, n);
    if (jh->exif)
        irb__exif_parse(jh->exif, jh->exif_len, name, &dec->info, &dec->err);
    dec->info.stored_width = jh->width;
    dec->info.stored_height = jh->height;
    dec->info.components = jh->components;
    return check_size(dec, name, opts);
}

/* ---- decoding ------------------------------------------------------------------------------------ */

static irb_status decode(irb_decoder_t *dec, const uint8_t *p, size_t n, const char *name, const irb_decode_opts *opts,
                         irb_image *img)
{
    static const irb_decode_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    irb_jpeg_header jh;
    IRB_TRY(header_pass(dec, p, n, name, opts, &jh));
    if (dec->info.format == IRB_FORMAT_PNG)
        IRB_TRY(irb__png_decode(dec, p, n, name, img));
    else
        IRB_TRY(irb__jpeg_decode(dec, p, n, name, &jh, opts, img));
    if (dec->info.orientation != 1 && !opts->keep_orientation) {
        irb_image up = {0};
        irb_status s = irb_image_orient(img, dec->info.orientation, &up, &dec->err);
        irb_image_release(img);
        if (s != IRB_OK)
            return s;
        *img = up;
    }
    return IRB_OK;
}

static irb_status start(irb_decoder_t *dec, const void *arg, const irb_decode_opts *o, irb_image *img)
{
    if (!dec)
        return IRB_INVALID_ARG;
    irb_error_clear(&dec->err);
    if (!arg)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "decode: NULL path or data");
    if (o && (o->target < 0 || o->target_width < 0 || o->target_height < 0 || o->max_pixels < 0))
        return irb_fail(&dec->err, IRB_INVALID_ARG, "decode: a negative target (%d, %d x %d) or pixel limit (%lld)",
                        o->target, o->target_width, o->target_height, o->max_pixels);
    if (o && (unsigned)o->scales > IRB_DCT_FAST)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "decode: DCT scales %d is not one irbis has", (int)o->scales);
    if (img)
        memset(img, 0, sizeof *img);
    return IRB_OK;
}

irb_status irb_decode_memory(irb_decoder_t *dec, const void *data, size_t size, const char *name,
                             const irb_decode_opts *opts, irb_image *img)
{
    IRB_TRY(start(dec, data, opts, img));
    if (!img)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "decode: NULL image");
    irb_status s = decode(dec, data, size, name ? name : "(memory)", opts, img);
    if (s != IRB_OK)
        irb_image_release(img);
    return s;
}

irb_status irb__load_file(irb_decoder_t *dec, const char *path)
{
    int fd;
    size_t size;
    dec->file_len = 0;
    IRB_TRY(open_file(dec, path, &fd, &size));
    if ((long long)size > IRB_MAX_FILE_BYTES) {
        close(fd);
        return irb_fail(&dec->err, IRB_TOO_LARGE, "%s: a file of %.1f GB, larger than any image irbis reads (%lld MB)",
                        path, (double)size / 1e9, IRB_MAX_FILE_BYTES >> 20);
    }
    irb_status s = read_more(dec, fd, path, 0, size, &dec->file_len);
    close(fd);
    return s;
}

irb_status irb_decode_file(irb_decoder_t *dec, const char *path, const irb_decode_opts *opts, irb_image *img)
{
    IRB_TRY(start(dec, path, opts, img));
    if (!img)
        return irb_fail(&dec->err, IRB_INVALID_ARG, "decode: NULL image");
    irb_status s = irb__load_file(dec, path);
    if (s == IRB_OK)
        s = decode(dec, dec->file, dec->file_len, path, opts, img);
    if (s != IRB_OK)
        irb_image_release(img);
    return s;
}

irb_status irb_read_header_memory(irb_decoder_t *dec, const void *data, size_t size, const char *name,
                                  const irb_decode_opts *opts, irb_image_info *info)
{
    IRB_TRY(start(dec, data, opts, NULL));
    irb_jpeg_header jh;
    irb_status s = header_pass(dec, data, size, name ? name : "(memory)", opts, &jh);
    if (info)
        *info = dec->info;
    return s;
}

/* Reads a growing prefix of the file until the JPEG header (up to SOS) is inside it. */
irb_status irb_read_header(irb_decoder_t *dec, const char *path, const irb_decode_opts *opts, irb_image_info *info)
{
    IRB_TRY(start(dec, path, opts, NULL));
    int fd = -1;
    size_t size = 0, got = 0, want = 64 * 1024;
    irb_jpeg_header jh;
    irb_status s = open_file(dec, path, &fd, &size);
    while (s == IRB_OK) {
        if (want > size)
            want = size;
        if ((s = read_more(dec, fd, path, got, want, &got)) != IRB_OK)
            break;
        s = header_pass(dec, dec->file, got, path, opts, &jh);
        /* no cap below the file size: a header behind 128 MB of APP segments is still a header
         * (decoding reads the whole file anyway), not a truncated file */
        if (dec->info.format != IRB_FORMAT_JPEG || jh.complete || got >= size)
            break;
        irb_error_clear(&dec->err); /* the header runs past what we read: read more and redo */
        s = IRB_OK;
        want = got * 4;
    }
    if (fd >= 0)
        close(fd);
    if (info)
        *info = dec->info;
    return s;
}

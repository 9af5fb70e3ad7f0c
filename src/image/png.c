/* PNG through libpng, always to 8-bit RGB the way PIL's convert("RGB") does it: gray and
 * palette expanded, 16-bit reduced to the high byte, alpha (and tRNS) dropped. libpng reports
 * errors by longjmp to the setjmp in decode(); it never aborts. */
#include <setjmp.h>
#include <string.h>

#include <png.h>

#include "core/alloc.h"
#include "core/error.h"
#include "image/internal.h"

static unsigned be32(const uint8_t *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

irb_status irb__png_header(const uint8_t *p, size_t n, const char *name, irb_image_info *info, irb_error *err)
{
    /* signature (8) + IHDR length (4) + "IHDR" (4) + 13 bytes of IHDR */
    if (n < 8 + 8 + 13 || memcmp(p + 12, "IHDR", 4) || be32(p + 8) != 13)
        return irb_fail(err, IRB_CORRUPT, "%s: PNG without a valid IHDR header", name);
    unsigned w = be32(p + 16), h = be32(p + 20);
    if (w > 0x7FFFFFFF || h > 0x7FFFFFFF)
        return irb_fail(err, IRB_CORRUPT, "%s: PNG declares an impossible size %ux%u", name, w, h);
    info->stored_width = (int)w;
    info->stored_height = (int)h;
    int ct = p[25];
    info->components = (ct & 2) ? 3 : 1;
    return IRB_OK;
}

/* The eXIf chunk (a TIFF EXIF block, PNG 1.5 extension), found among the chunks before the image
 * data in p[0..n); its tags go to info as a JPEG's APP1 would. A chunk that runs past n ends the
 * walk (the header pass may hold only a prefix of the file). */
void irb__png_exif(const uint8_t *p, size_t n, const char *name, irb_image_info *info, irb_error *err)
{
    for (size_t off = 8; off + 12 <= n;) {
        size_t len = be32(p + off);
        const uint8_t *type = p + off + 4;
        if (!memcmp(type, "IDAT", 4) || !memcmp(type, "IEND", 4) || len > n - off - 12)
            return;
        if (!memcmp(type, "eXIf", 4)) {
            /* libexif expects the JPEG APP1 form: "Exif\0\0" then the TIFF block */
            uint8_t *app1 = irb_malloc(len + 6);
            if (!app1) {
                irb_warn(err, "%s: out of memory while reading EXIF; metadata ignored", name);
                return;
            }
            memcpy(app1, "Exif\0\0", 6);
            memcpy(app1 + 6, p + off + 8, len);
            irb__exif_parse(app1, len + 6, name, info, err);
            irb_free(app1);
            return;
        }
        off += 12 + len;
    }
}

typedef struct {
    const uint8_t *p;
    size_t n, pos;
    const char *name;
    volatile int pixels_done;
    volatile int rows_done;   /* rows fully decoded so far (of an interlaced image: in its first pass) */
    volatile int passes_done; /* interlace passes complete (each a whole, coarser image) */
    int passes;
    char msg[200];
    jmp_buf jmp;
} png_src;

static void on_read(png_structp png, png_bytep out, png_size_t len)
{
    png_src *s = png_get_io_ptr(png);
    if (len > s->n - s->pos) {
        png_error(png, "file is truncated");
        return;
    }
    memcpy(out, s->p + s->pos, len);
    s->pos += len;
}

static void on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    longjmp(s->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t n)
{
    (void)png;
    return irb_malloc(n);
}
static void on_free(png_structp png, png_voidp p)
{
    (void)png;
    irb_free(p);
}

/* Sets PIL's convert("RGB") conversions; returns the number of interlace passes (1 if none). */
static int set_transforms(png_structp png, png_infop info)
{
    int ct = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (ct == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_strip_16(png);
    /* expanding a palette turns its tRNS chunk into an alpha channel: dropped like a real one */
    if ((ct & PNG_COLOR_MASK_ALPHA) || (ct == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, info, PNG_INFO_tRNS)))
        png_set_strip_alpha(png);
    if (!(ct & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    return passes;
}

irb_status irb__png_decode(irb_decoder_t *dec, const uint8_t *p, size_t n, const char *name, irb_image *img)
{
    png_src src = {.p = p, .n = n, .name = name};
    png_structp png =
        png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning, NULL, on_malloc, on_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL;
    irb_status s = IRB_OK;
    if (!png || !info) {
        s = irb_fail(&dec->err, IRB_NOMEM, "%s: cannot start libpng", name);
        goto cleanup;
    }
    if (setjmp(src.jmp)) {
        if (src.pixels_done) { /* a broken chunk after the pixels: keep the image */
            irb_warn(&dec->err, "%s: damaged PNG after the image data (%s)", name, src.msg);
            goto cleanup;
        }
        if (src.passes_done > 0 && img->data) { /* an interlaced image cut after a pass: keep it */
            irb_warn(&dec->err,
                     "%s: truncated or damaged interlaced PNG: %d of %d passes decoded, the finer detail "
                     "filled in from them (%s)",
                     name, src.passes_done, src.passes, src.msg);
            goto cleanup;
        }
        if (src.rows_done > 0 && img->data) { /* truncated or damaged inside the pixels: keep the top */
            size_t row = (size_t)img->width * 3;
            memset(img->data + (size_t)src.rows_done * row, 0, (size_t)(img->height - src.rows_done) * row);
            irb_warn(&dec->err, "%s: truncated or damaged PNG: %d of %d rows decoded%s, the rest left black (%s)", name,
                     src.rows_done, img->height, src.passes > 1 ? " (coarsely: the first interlace pass)" : "",
                     src.msg);
            goto cleanup;
        }
        s = irb_fail(&dec->err, IRB_CORRUPT, "%s: cannot decode the PNG: %s", name, src.msg);
        goto cleanup;
    }
    png_set_read_fn(png, &src, on_read);
    png_set_user_limits(png, 0x7FFFFFFF, 0x7FFFFFFF);
    png_read_info(png, info);
    src.passes = set_transforms(png, info);
    int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) {
        s = irb_fail(&dec->err, IRB_UNSUPPORTED, "%s: unexpected PNG layout after conversion", name);
        goto cleanup;
    }
    if ((s = irb__image_alloc(img, w, h, 3, name, &dec->err)) != IRB_OK)
        goto cleanup;
    if (!(rows = irb_malloc_array((size_t)h, sizeof *rows))) {
        s = irb_fail(&dec->err, IRB_NOMEM, "%s: cannot allocate PNG row pointers", name);
        goto cleanup;
    }
    for (int y = 0; y < h; y++)
        rows[y] = img->data + (size_t)y * (size_t)w * 3;
    if (src.passes > 1) {
        /* Adam7: each pass refines the whole image. Rows given as display rows get libpng's
         * "rectangle" fill (each decoded pixel repeated over the block it stands for), so every
         * complete pass leaves a whole, coarser image: a file cut later keeps it. */
        memset(img->data, 0, (size_t)w * (size_t)h * 3);
        for (int pass = 0; pass < src.passes; pass++) {
            for (int y = 0; y < h; y++) {
                png_read_row(png, NULL, rows[y]);
                if (pass == 0)
                    src.rows_done = y + 1;
            }
            src.passes_done = pass + 1;
        }
    } else {
        for (int y = 0; y < h; y++) {
            png_read_row(png, rows[y], NULL);
            src.rows_done = y + 1;
        }
    }
    src.pixels_done = 1;
    png_read_end(png, NULL);
cleanup:
    irb_free(rows);
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    return s;
}

/* Detecting the info bars camera traps burn into the picture (time, temperature, brand).
 *
 * A bar starts at the very edge with a solid dark (<= 48) or light (>= 230) background (the
 * median of the edge row). Walking inwards, each row's pixels are split by luma distance d to
 * that background into near (d <= 24), far (d >= 96: glyphs) and mid tones. A row is
 * "background" (>= 97 % near), "text" (>= 50 % near, <= 20 % mid and >= 2 % far: glyphs are
 * high-contrast, pictures are full of mid tones; or >= 90 % near with <= 10 % mid: the thin edge
 * of a line of glyphs), or "picture", which ends the bar; so is any row whose median is more than 6
 * levels off the edge row's (a bar keeps its solid background; a dark night picture next to a
 * black bar is near it but not on it). The bar reaches to its last text row
 * plus the background padding after it, at most as many padding rows as text rows (a dark night
 * picture can look like padding for a long way). Without any text row there is no bar; at most
 * 20 % of the height is examined per side. */
#include <stdlib.h>

#include "image/internal.h"

enum { ROW_PICTURE, ROW_BACKGROUND, ROW_TEXT };

static int luma(const uint8_t *p, int c) { return c >= 3 ? (p[0] * 299 + p[1] * 587 + p[2] * 114 + 500) / 1000 : p[0]; }

static int row_median(const irb_image *img, int y)
{
    int hist[256] = {0}, c = img->channels;
    const uint8_t *p = img->data + (size_t)y * (size_t)img->width * (size_t)c;
    for (int x = 0; x < img->width; x++, p += c)
        hist[luma(p, c)]++;
    int half = img->width / 2, acc = 0;
    for (int v = 0; v < 256; v++)
        if ((acc += hist[v]) > half)
            return v;
    return 255;
}

static int classify(const irb_image *img, int y, int bg)
{
    /* a bar's rows keep its solid background: a dark night picture is near the bar's black but
     * a few levels off it (median 10-15 against 0-3), and is picture, not padding */
    if (abs(row_median(img, y) - bg) > 6)
        return ROW_PICTURE;
    int c = img->channels;
    long near = 0, mid = 0, far = 0, w = img->width;
    const uint8_t *p = img->data + (size_t)y * (size_t)img->width * (size_t)c;
    for (int x = 0; x < img->width; x++, p += c) {
        int d = abs(luma(p, c) - bg);
        near += d <= 24;
        far += d >= 96;
    }
    mid = w - near - far;
    if (near * 100 >= w * 97)
        return ROW_BACKGROUND;
    /* text: mostly background, the rest mostly high-contrast glyphs (few mid tones) */
    if (near * 100 >= w * 50 && mid * 100 <= w * 20 && far * 100 >= w * 2)
        return ROW_TEXT;
    /* the thin top/bottom edge of a line of glyphs */
    if (near * 100 >= w * 90 && mid * 100 <= w * 10)
        return ROW_TEXT;
    return ROW_PICTURE;
}

/* Rows of bar starting at `edge`, walking by `dir` (+1 from the top, -1 from the bottom). */
static int bar_rows(const irb_image *img, int edge, int dir)
{
    int bg = row_median(img, edge), limit = img->height / 5;
    if (bg > 48 && bg < 230)
        return 0;
    int text = 0, last_text = -1, n = 0;
    for (; n < limit; n++) {
        int k = classify(img, edge + dir * n, bg);
        if (k == ROW_PICTURE)
            break;
        if (k == ROW_TEXT) {
            text++;
            last_text = n;
        }
    }
    if (!text)
        return 0;
    /* padding after the last text row: at most as many rows as there were text rows */
    int pad = n - last_text - 1;
    return last_text + 1 + (pad < text ? pad : text);
}

void irb_detect_info_strips(const irb_image *img, int *top, int *bottom)
{
    int t = 0, b = 0;
    if (irb__image_ok(img) && img->height >= 10) {
        t = bar_rows(img, 0, 1);
        b = bar_rows(img, img->height - 1, -1);
    }
    if (top)
        *top = t;
    if (bottom)
        *bottom = b;
}

/* Detecting the info bars camera traps burn into the picture (time, temperature, brand).
 *
 * A bar starts at the very edge with a solid dark (<= 48) or light (>= 208) background. Walking
 * inwards, each row is a "background" row (>= 97 % of its pixels within 24 levels of the edge's
 * background), a "text" row (>= 50 % background and >= 2 % far from it: the characters), or a
 * picture row, which ends the bar. The bar reaches to its last text row plus the background
 * padding after it, at most as many padding rows as text rows (a dark night picture can look
 * like padding for a long way). A bar without any text row, or reaching 20 % of the height, is
 * taken for picture. */
#include <stdlib.h>

#include "image/internal.h"

enum { ROW_PICTURE, ROW_BACKGROUND, ROW_TEXT };

static int luma(const uint8_t *p, int c)
{
    return c >= 3 ? (p[0] * 299 + p[1] * 587 + p[2] * 114 + 500) / 1000 : p[0];
}

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
    int c = img->channels, near = 0, far = 0;
    const uint8_t *p = img->data + (size_t)y * (size_t)img->width * (size_t)c;
    for (int x = 0; x < img->width; x++, p += c) {
        int d = abs(luma(p, c) - bg);
        near += d <= 24;
        far += d >= 96;
    }
    long w = img->width;
    if (near * 100L >= w * 97)
        return ROW_BACKGROUND;
    if (near * 100L >= w * 50 && far * 100L >= w * 2)
        return ROW_TEXT;
    return ROW_PICTURE;
}

/* Rows of bar starting at `edge`, walking by `dir` (+1 from the top, -1 from the bottom). */
static int bar_rows(const irb_image *img, int edge, int dir)
{
    int bg = row_median(img, edge), limit = img->height / 5;
    if (bg > 48 && bg < 208)
        return 0;
    int text = 0, last_text = -1, n = 0;
    for (; n < limit; n++) {
        int k = classify(img, edge + dir * n, bg);
        if (k == ROW_PICTURE)
            break;
        if (k == ROW_TEXT) {
            text++;
            last_text = n;
        } else if (last_text >= 0 && n - last_text > text) {
            break; /* more padding than text: probably a dark/light picture from here on */
        }
    }
    if (!text || n >= limit)
        return 0;
    return n;
}

void irb_detect_info_strips(const irb_image *img, int *top, int *bottom)
{
    int t = 0, b = 0;
    if (img && img->data && img->width > 0 && img->height >= 10) {
        t = bar_rows(img, 0, 1);
        b = bar_rows(img, img->height - 1, -1);
    }
    if (top)
        *top = t;
    if (bottom)
        *bottom = b;
}

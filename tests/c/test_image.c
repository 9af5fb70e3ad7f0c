/* Image subsystem: hand-computed resize/orient/crop/flip/tensor cases, info-strip detection on
 * real frames with hand-checked bars, pixel limit, allocation-failure injection.
 *
 * With arguments it is also the helper tests/py/test_image.py drives (so Python can compare
 * our pixels with PIL's):
 *   test_image decode IN OUT.raw [target [SCALES]] -> prints "status w h num/denom warning|-" + message
 *   test_image prep IN OUT.raw MODE N ARG FILTER FULL [STRIPS [DECODE_SIZE [SCALES]]]
 *                                                  MODE squash|short|fraction, FILTER bilinear|box,
 *                                                  STRIPS auto|none, SCALES any|fast (DCT scales:
 *                                                  decode's default any, prep's fast)
 *   test_image strips IN                           -> prints "top bottom" (full decode)
 */
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/cpu.h"
#include "image/internal.h"
#include "irbis.h"

/* ---- helper mode ------------------------------------------------------------------------- */

static int write_raw(const char *path, const irb_image *img)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    fwrite(img->data, 1, (size_t)img->width * (size_t)img->height * (size_t)img->channels, f);
    return fclose(f) != 0;
}

static void print_result(irb_decoder_t *dec, irb_status s, const irb_image *img)
{
    const irb_error *e = irb_decoder_error(dec);
    const irb_image_info *in = irb_decoder_info(dec);
    char name[64];
    snprintf(name, sizeof name, "%s", irb_status_name(s));
    for (char *c = name; *c; c++)
        *c = *c == ' ' ? '_' : *c;
    printf("%s %d %d %d/%d %s %d %d\n%s\n", name, img->width, img->height, in->scale_num, in->scale_denom,
           e->warning ? "warning" : "-", in->crop_top, in->crop_bottom, e->message);
}

static int helper(int argc, char **argv)
{
    irb_decoder_t *dec = NULL;
    if (irb_decoder_new(&dec) != IRB_OK)
        return 3;
    irb_image img = {0};
    int rc = 0;
    if (!strcmp(argv[1], "decode") && argc >= 4) {
        irb_decode_opts o = {.target = argc > 4 ? atoi(argv[4]) : 0,
                             .scales = argc > 5 && !strcmp(argv[5], "fast") ? IRB_DCT_FAST : IRB_DCT_ANY};
        irb_status s = irb_decode_file(dec, argv[2], &o, &img);
        print_result(dec, s, &img);
        if (s == IRB_OK)
            rc = write_raw(argv[3], &img);
    } else if (!strcmp(argv[1], "prep") && argc >= 9) {
        irb_preproc pp = irb_preproc_default(atoi(argv[5]));
        pp.mode = !strcmp(argv[4], "squash")  ? IRB_RESIZE_SQUASH
                  : !strcmp(argv[4], "short") ? IRB_RESIZE_SHORT_CROP
                                              : IRB_RESIZE_CROP_FRACTION;
        pp.short_side = atoi(argv[6]);
        pp.crop_fraction = atof(argv[6]);
        pp.filter = !strcmp(argv[7], "box") ? IRB_FILTER_BOX : IRB_FILTER_BILINEAR;
        pp.full_decode = atoi(argv[8]);
        if (argc > 9 && !strcmp(argv[9], "auto"))
            pp.strips = IRB_STRIPS_AUTO;
        pp.decode_size = argc > 10 ? atoi(argv[10]) : 0;
        if (argc > 11)
            pp.scales = !strcmp(argv[11], "any") ? IRB_DCT_ANY : IRB_DCT_FAST;
        irb_status s = irb_preprocess_image(dec, argv[2], &pp, &img, NULL);
        print_result(dec, s, &img);
        if (s == IRB_OK)
            rc = write_raw(argv[3], &img);
    } else if (!strcmp(argv[1], "strips") && argc >= 3) {
        irb_status s = irb_decode_file(dec, argv[2], NULL, &img);
        int t = -1, b = -1;
        if (s == IRB_OK)
            irb_detect_info_strips(&img, &t, &b);
        printf("%d %d\n", t, b);
    } else {
        fprintf(stderr, "usage: see the comment at the top of test_image.c\n");
        rc = 2;
    }
    irb_image_release(&img);
    irb_decoder_free(dec);
    return rc;
}

/* ---- hand-computed pixel operations ----------------------------------------------------------- */

static irb_image make(int w, int h, int c, const uint8_t *px)
{
    irb_image im = {w, h, c, irb_malloc((size_t)w * h * c)};
    memcpy(im.data, px, (size_t)w * h * c);
    return im;
}

static void test_resize(void)
{
    /* BOX 4 -> 2 on one row: each output is the mean of two inputs, rounded half up:
     * (10 + 21) / 2 = 15.5 -> 16, (30 + 40) / 2 = 35 */
    uint8_t row[4] = {10, 21, 30, 40};
    irb_image a = make(4, 1, 1, row), b = {0};
    CHECK(irb_resize(&a, 0, 0, 0, 0, 2, 1, IRB_FILTER_BOX, &b, NULL) == IRB_OK, "box resize");
    CHECK(b.data && b.data[0] == 16 && b.data[1] == 35, "box 4->2: %d %d", b.data ? b.data[0] : -1,
          b.data ? b.data[1] : -1);
    irb_image_release(&b);
    /* BILINEAR 4 -> 2: scale 2, support 2; output 0 centre 1.0: taps x=0..2 at distances
     * 0.5, 0.5, 1.5 (/2): weights 0.75, 0.75, 0.25 -> (7.5 + 15.75 + 7.5) / 1.75 = 17.57 -> 18;
     * output 1 centre 3.0: taps 1..3: 0.25, 0.75, 0.75 -> (5.25 + 22.5 + 30) / 1.75 = 33 */
    CHECK(irb_resize(&a, 0, 0, 0, 0, 2, 1, IRB_FILTER_BILINEAR, &b, NULL) == IRB_OK, "bilinear resize");
    CHECK(b.data && b.data[0] == 18 && b.data[1] == 33, "bilinear 4->2: %d %d", b.data ? b.data[0] : -1,
          b.data ? b.data[1] : -1);
    irb_image_release(&b);
    /* upscale 2 -> 4 bilinear (support 1): centres 0.25, 0.75, 1.25, 1.75 over pixels {0, 100}:
     * 0.25 -> only pixel 0 within reach on the left edge... PIL: x0: taps 0,1 with weights
     * 1-0.25=0.75? (distance from centre 0.5 is 0.25 -> 0.75, centre 1.5 is 1.25 -> 0) -> 0;
     * x1 (0.75): pixel 0 at 0.25 -> 0.75, pixel 1 at 0.75 -> 0.25 -> 25; x2 -> 75; x3 -> 100 */
    uint8_t two[2] = {0, 100};
    irb_image u = make(2, 1, 1, two);
    CHECK(irb_resize(&u, 0, 0, 0, 0, 4, 1, IRB_FILTER_BILINEAR, &b, NULL) == IRB_OK, "upscale");
    CHECK(b.data && b.data[0] == 0 && b.data[1] == 25 && b.data[2] == 75 && b.data[3] == 100,
          "bilinear 2->4: %d %d %d %d", b.data[0], b.data[1], b.data[2], b.data[3]);
    irb_image_release(&b);
    irb_error e = {0};
    CHECK(irb_resize(&a, 0, 0, 5, 1, 2, 1, IRB_FILTER_BOX, &b, &e) == IRB_INVALID_ARG && !b.data, "box outside");
    CHECK(strstr(e.message, "outside") != NULL, "message: %s", e.message);
    irb_image_release(&a);
    irb_image_release(&u);
}

/* PIL's 8-bit resampling written out plainly, one output value at a time (Pillow's
 * ImagingResample: coefficients per output pixel, 22-bit fixed point, horizontal pass rounded to
 * 8 bits before the vertical one): the reference for the library's vectorised passes. */
static void ref_coeffs(int in, double in0, double in1, int out, int box, int *lo, int *cnt, int32_t *k, int ks)
{
    double scale = (in1 - in0) / out, fs = scale < 1 ? 1 : scale, support = (box ? 0.5 : 1.0) * fs;
    for (int o = 0; o < out; o++) {
        double centre = in0 + (o + 0.5) * scale, w[64], sum = 0;
        int x0 = (int)(centre - support + 0.5), x1 = (int)(centre + support + 0.5);
        x0 = x0 < 0 ? 0 : x0, x1 = x1 > in ? in : x1;
        for (int x = x0; x < x1; x++) {
            double d = (x - centre + 0.5) / fs;
            w[x - x0] = box ? (d > -0.5 && d <= 0.5) : (fabs(d) < 1 ? 1 - fabs(d) : 0);
            sum += w[x - x0];
        }
        lo[o] = x0, cnt[o] = x1 - x0;
        for (int x = 0; x < x1 - x0; x++) {
            double v = sum != 0 ? w[x] / sum : 0;
            k[o * ks + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << 22) : 0.5 + v * (1 << 22));
        }
    }
}

static uint8_t ref_clip(int64_t v)
{
    v >>= 22;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void ref_resize(const irb_image *src, double x0, double x1, int ow, int oh, int box, uint8_t *out)
{
    int w = src->width, h = src->height, c = src->channels, ks = 64;
    int *lx = malloc(sizeof(int) * ow), *nx = malloc(sizeof(int) * ow), *ly = malloc(sizeof(int) * oh),
        *ny = malloc(sizeof(int) * oh);
    int32_t *kx = calloc((size_t)ow * ks, 4), *ky = calloc((size_t)oh * ks, 4);
    uint8_t *mid = malloc((size_t)ow * h * c);
    ref_coeffs(w, x0, x1, ow, box, lx, nx, kx, ks);
    ref_coeffs(h, 0, h, oh, box, ly, ny, ky, ks);
    for (int y = 0; y < h; y++)
        for (int o = 0; o < ow; o++)
            for (int ch = 0; ch < c; ch++) {
                int64_t sum = 1 << 21;
                for (int t = 0; t < nx[o]; t++)
                    sum += (int64_t)src->data[((size_t)y * w + lx[o] + t) * c + ch] * kx[o * ks + t];
                mid[((size_t)y * ow + o) * c + ch] = ref_clip(sum);
            }
    for (int o = 0; o < oh; o++)
        for (size_t i = 0; i < (size_t)ow * c; i++) {
            int64_t sum = 1 << 21;
            for (int t = 0; t < ny[o]; t++)
                sum += (int64_t)mid[(size_t)(ly[o] + t) * ow * c + i] * ky[o * ks + t];
            out[(size_t)o * ow * c + i] = ref_clip(sum);
        }
    free(lx), free(nx), free(ly), free(ny), free(kx), free(ky), free(mid);
}

static const char *const LEVEL_NAME[] = {"portable", "SSE4.1", "AVX2", "AVX-512", "AVX-512 VBMI"};

/* The resize's builds at every vector level this CPU has (capped with irb__simd_cap: AVX-512
 * VBMI's permuting and gathering RGB horizontal pass, AVX2's gathering one, SSE4.1's per pixel;
 * the AVX-512 / AVX2 vertical pass) and its portable build give exactly the reference's bytes:
 * random images of 1..4 channels, up and down (the demo's 256 -> 224, 448, 576 among them),
 * widths that leave vector tails, both filters, a fractional box. */
static void test_resize_simd(void)
{
    static const int sizes[][4] = {{256, 256, 576, 576}, {256, 256, 448, 448}, {256, 256, 224, 224}, {37, 23, 61, 50},
                                   {100, 7, 33, 90},     {5, 300, 1, 17},      {640, 360, 97, 131},  {3, 3, 1000, 2},
                                   {1120, 9, 576, 5},    {1120, 9, 448, 5},    {1120, 9, 224, 5},    {480, 6, 224, 4},
                                   {200, 3, 150, 2}};
    uint32_t seed = 12345;
    int was = irb__simd_cap(IRB_SIMD_AVX512_VBMI), top = irb_cpu_simd(), mismatches = 0, cases = 0;
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++)
        for (int c = 1; c <= 4; c++) {
            irb_image src = {sizes[z][0], sizes[z][1], c, malloc((size_t)sizes[z][0] * sizes[z][1] * c)};
            for (size_t i = 0; i < (size_t)src.width * src.height * c; i++)
                src.data[i] = (uint8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
            int ow = sizes[z][2], oh = sizes[z][3];
            uint8_t *ref = malloc((size_t)ow * oh * c);
            for (int variant = 0; variant < 4; variant++) {
                int box = variant & 1;
                double x0 = variant & 2 ? 0.75 : 0, x1 = variant & 2 ? src.width - 0.5 : src.width;
                ref_resize(&src, x0, x1, ow, oh, box, ref);
                for (int level = IRB_SIMD_NONE; level <= top; level++) {
                    irb__simd_cap(level);
                    irb_image out = {0};
                    irb_status s = irb_resize(&src, x0, 0, x1, src.height, ow, oh,
                                              box ? IRB_FILTER_BOX : IRB_FILTER_BILINEAR, &out, NULL);
                    size_t diff = 0;
                    for (size_t i = 0; s == IRB_OK && i < (size_t)ow * oh * c; i++)
                        diff += out.data[i] != ref[i];
                    cases++;
                    if (s != IRB_OK || diff) {
                        mismatches++;
                        fprintf(stderr, "  %dx%dx%d -> %dx%d, %s, box %.2f..%.2f, %s: %zu bytes differ\n", src.width,
                                src.height, c, ow, oh, box ? "box" : "bilinear", x0, x1, LEVEL_NAME[level], diff);
                    }
                    irb_image_release(&out);
                }
            }
            free(ref);
            free(src.data);
        }
    irb__simd_cap(was);
    CHECK(mismatches == 0, "resize: %d of %d cases differ from PIL's arithmetic written out (levels up to %s)",
          mismatches, cases, LEVEL_NAME[top]);
}

static uint32_t rnd(uint32_t *seed, uint32_t n) { return ((*seed = *seed * 1664525u + 1013904223u) >> 8) % n; }

/* The resize's vector builds (capped with irb__simd_cap) give exactly the portable build's bytes
 * on random shapes: widths 1..2000 in and out (up and down, by up to 2000x), heights 1..9 (rows
 * in blocks of four and leftovers), 1..4 channels, both filters, boxes with fractional edges,
 * kernels clamped to the box (irb__resize_clamped) or not; each source image is exactly its
 * bytes, so a load past the last pixel is an ASan error in the sanitizer build. Plus kernels of
 * more taps than the vertical VNNI loop keeps (a 1 x 700 column to 1 x 1). */
static void test_resize_random(void)
{
    uint32_t seed = 2024;
    int was = irb__simd_cap(IRB_SIMD_AVX512_VBMI), top = irb_cpu_simd(), bad = 0, cases = 0;
    for (int z = 0; z < 700; z++) {
        int big = rnd(&seed, 4) == 0, w = 1 + (int)rnd(&seed, big ? 2000 : 300), h = 1 + (int)rnd(&seed, 9);
        int ow = 1 + (int)rnd(&seed, big ? 2000 : 300), oh = 1 + (int)rnd(&seed, 9), c = 1 + (int)rnd(&seed, 4);
        int filter = rnd(&seed, 2) ? IRB_FILTER_BOX : IRB_FILTER_BILINEAR, clamp = (int)rnd(&seed, 2);
        if (z == 0)
            w = 1, h = 700, ow = 1, oh = 1, c = 3;
        double x0 = 0, x1 = w, y0 = 0, y1 = h;
        if (rnd(&seed, 2)) { /* a box with fractional edges, at least a tenth of a pixel */
            x0 = w * rnd(&seed, 1000) / 2000.0, x1 = x0 + (w - x0) * (1 + rnd(&seed, 1000)) / 1000.0;
            y0 = h * rnd(&seed, 1000) / 2000.0, y1 = y0 + (h - y0) * (1 + rnd(&seed, 1000)) / 1000.0;
        }
        if (z == 1) /* the last pixel of the image: its bytes end the buffer */
            w = 1999, h = 1, x0 = 1998.5, x1 = 1999, y0 = 0, y1 = 1, ow = 7, oh = 1;
        irb_image src = {w, h, c, malloc((size_t)w * h * c)};
        for (size_t i = 0; i < (size_t)w * h * c; i++)
            src.data[i] = (uint8_t)rnd(&seed, 256);
        irb_image ref = {0};
        irb__simd_cap(IRB_SIMD_NONE);
        irb_status s0 = irb__resize_clamped(&src, x0, y0, x1, y1, clamp, ow, oh, filter, &ref, NULL);
        for (int level = IRB_SIMD_SSE41; level <= top; level++) {
            irb__simd_cap(level);
            irb_image out = {0};
            irb_status s = irb__resize_clamped(&src, x0, y0, x1, y1, clamp, ow, oh, filter, &out, NULL);
            size_t diff = 0;
            for (size_t i = 0; s == IRB_OK && s0 == IRB_OK && i < (size_t)ow * oh * c; i++)
                diff += out.data[i] != ref.data[i];
            cases++;
            if (s != IRB_OK || s0 != IRB_OK || diff) {
                if (bad++ < 10)
                    fprintf(stderr, "  %dx%dx%d (%.3f,%.3f)-(%.3f,%.3f) clamp %d -> %dx%d, %s, %s: %zu bytes differ\n",
                            w, h, c, x0, y0, x1, y1, clamp, ow, oh, filter == IRB_FILTER_BOX ? "box" : "bilinear",
                            LEVEL_NAME[level], diff);
            }
            irb_image_release(&out);
        }
        irb_image_release(&ref);
        free(src.data);
    }
    irb__simd_cap(was);
    CHECK(bad == 0, "resize: %d of %d random cases differ from the portable build (levels up to %s)", bad, cases,
          LEVEL_NAME[top]);
}

/* The CHW conversion at every vector level this CPU has (AVX-512, SSE4.1: 16 RGB pixels
 * deinterleaved at a time) and its portable loop against the formula written out here, (v - mean) / scale as float ops,
 * and the mirror against the image's row reversed: widths around the 16-pixel block (tails of 0..15), with and without
 * a mirror, 1, 3 and 4 channels, rows streamed (whole rows of 16-pixel blocks; HWC: tensors of 1 MiB and more)
 * or not. The same for the HWC (channels-last) conversion, each pixel's three values side by side (AVX-512: 16
 * pixels, three vectors, mirrored by permutations across them). */
static void test_chw_simd(void)
{
    static const int widths[] = {1, 5, 15, 16, 17, 37, 48, 64, 250, 512};
    const float mean[3] = {123.675f, 116.28f, 103.53f}, scale[3] = {58.395f, 57.12f, 57.375f};
    uint32_t seed = 777;
    int was = irb__simd_cap(IRB_SIMD_AVX512_VBMI), top = irb_cpu_simd(), bad = 0, cases = 0;
    for (size_t z = 0; z < sizeof widths / sizeof *widths; z++)
        for (int c = 1; c <= 4; c += c == 1 ? 2 : 1) {
            int w = widths[z], h = w == 512 ? 171 : 3; /* 512 x 171: a tensor of over 1 MiB, streamed */
            size_t plane = (size_t)w * h;
            irb_image img = {w, h, c, malloc(plane * c)};
            for (size_t i = 0; i < plane * c; i++)
                img.data[i] = (uint8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
            /* 64-byte aligned: whole rows of 16-pixel blocks are streamed */
            size_t bytes = (plane * 3 * sizeof(float) + 63) / 64 * 64;
            float *out = aligned_alloc(64, bytes), *mir = aligned_alloc(64, bytes);
            for (int level = IRB_SIMD_NONE; level <= top; level++)
                for (int with_mirror = 0; with_mirror < 2; with_mirror++)
                    for (int hwc = 0; hwc < 2; hwc++) {
                        irb__simd_cap(level);
                        memset(out, 0, plane * 3 * sizeof *out);
                        memset(mir, 0, plane * 3 * sizeof *mir);
                        (hwc ? irb__image_to_hwc : irb__image_to_chw)(&img, mean, scale, out, with_mirror ? mir : NULL);
                        size_t diff = 0;
                        for (int k = 0; k < 3; k++)
                            for (int y = 0; y < h; y++)
                                for (int x = 0; x < w; x++) {
                                    uint8_t v = img.data[((size_t)y * w + x) * c + (c > k ? k : 0)];
                                    float want = ((float)v - mean[k]) * (1.0f / scale[k]);
                                    size_t at = hwc ? (size_t)y * w * 3 + (size_t)x * 3 + (size_t)k
                                                    : (size_t)k * plane + (size_t)y * w + (size_t)x,
                                           mat = hwc ? (size_t)y * w * 3 + (size_t)(w - 1 - x) * 3 + (size_t)k
                                                     : (size_t)k * plane + (size_t)y * w + (size_t)(w - 1 - x);
                                    diff += memcmp(&out[at], &want, sizeof want) != 0;
                                    diff += with_mirror && memcmp(&mir[mat], &want, sizeof want) != 0;
                                }
                        cases++;
                        if (diff) {
                            bad++;
                            fprintf(stderr, "  %s %dx%dx%d, mirror %d, %s: %zu values differ\n", hwc ? "hwc" : "chw", w,
                                    h, c, with_mirror, LEVEL_NAME[level], diff);
                        }
                    }
            free(out), free(mir), free(img.data);
        }
    irb__simd_cap(was);
    CHECK(bad == 0, "CHW and HWC conversions: %d of %d cases differ from (v - mean) / scale", bad, cases);
}

static void test_orient(void)
{
    /* stored 3x2 (values = index):  0 1 2 / 3 4 5 ; expected upright images by orientation */
    uint8_t px[6] = {0, 1, 2, 3, 4, 5};
    static const uint8_t want[9][6] = {
        {0},
        {0, 1, 2, 3, 4, 5},
        {2, 1, 0, 5, 4, 3},
        {5, 4, 3, 2, 1, 0},
        {3, 4, 5, 0, 1, 2},
        {0, 3, 1, 4, 2, 5}, /* 5 transpose: 2 wide, 3 tall */
        {3, 0, 4, 1, 5, 2}, /* 6 rotate 90 clockwise */
        {5, 2, 4, 1, 3, 0}, /* 7 transverse */
        {2, 5, 1, 4, 0, 3}, /* 8 rotate 90 counter-clockwise */
    };
    irb_image a = make(3, 2, 1, px);
    for (int o = 1; o <= 8; o++) {
        irb_image b = {0};
        CHECK(irb_image_orient(&a, o, &b, NULL) == IRB_OK, "orient %d", o);
        CHECK(b.width == (o >= 5 ? 2 : 3) && b.height == (o >= 5 ? 3 : 2), "orient %d size %dx%d", o, b.width,
              b.height);
        CHECK(b.data && !memcmp(b.data, want[o], 6), "orient %d pixels %d %d %d %d %d %d", o, b.data[0], b.data[1],
              b.data[2], b.data[3], b.data[4], b.data[5]);
        irb_image_release(&b);
    }
    irb_image_release(&a);
}

static void test_crop_flip_chw(void)
{
    uint8_t px[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    irb_image a = make(2, 2, 3, px), b = {0};
    CHECK(irb_image_crop(&a, 1, 1, 1, 1, &b, NULL) == IRB_OK && b.data[0] == 10 && b.data[2] == 12, "crop");
    irb_image_release(&b);
    CHECK(irb_image_crop(&a, 1, 1, 2, 1, &b, NULL) == IRB_INVALID_ARG, "crop outside refused");
    irb_image_flip(&a);
    CHECK(a.data[0] == 4 && a.data[3] == 1 && a.data[6] == 10, "flip");
    float out[12], mean[3] = {1, 2, 3}, scale[3] = {2, 2, 0.5f};
    irb_image_to_chw(&a, mean, scale, out);
    /* flipped pixels: (4,5,6) (1,2,3) / (10,11,12) (7,8,9); plane R = (4-1)/2, (1-1)/2, ... */
    CHECK(out[0] == 1.5f && out[1] == 0.0f && out[2] == 4.5f && out[3] == 3.0f, "chw R %g %g %g %g", out[0], out[1],
          out[2], out[3]);
    CHECK(out[8] == 6.0f && out[11] == 12.0f, "chw B %g %g", out[8], out[11]);
    irb_image_release(&a);
}

/* A synthetic frame: noise-like picture with a black bar of 12 rows holding white "text". */
static void test_strips_synthetic(void)
{
    irb_image im = {0};
    im.width = 200, im.height = 100, im.channels = 3;
    im.data = irb_malloc(200 * 100 * 3);
    for (int y = 0; y < 100; y++)
        for (int x = 0; x < 200; x++)
            for (int c = 0; c < 3; c++)
                im.data[(y * 200 + x) * 3 + c] = (uint8_t)(90 + (x * 7 + y * 13 + c * 5) % 60);
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 200; x++) {
            int text = y >= 3 && y < 9 && (x / 3) % 4 == 0 && x < 150;
            memset(im.data + (y * 200 + x) * 3, text ? 250 : 5, 3);
        }
    int t, b;
    irb_detect_info_strips(&im, &t, &b);
    CHECK(t == 12 && b == 0, "synthetic bar: top %d bottom %d (want 12 0)", t, b);
    /* a dark picture after the bar (median 14, low noise: near the bar's black, not on it) is
     * not the bar's padding */
    for (int y = 12; y < 100; y++)
        for (int x = 0; x < 200; x++)
            memset(im.data + (y * 200 + x) * 3, 12 + (x * 7 + y * 3) % 5, 3);
    irb_detect_info_strips(&im, &t, &b);
    CHECK(t == 12, "bar over a dark picture: top %d (want 12)", t);
    /* a uniformly black top without text is picture (night sky), not a bar */
    for (int y = 0; y < 12; y++)
        memset(im.data + y * 200 * 3, 5, 200 * 3);
    irb_detect_info_strips(&im, &t, &b);
    CHECK(t == 0 && b == 0, "no text, no bar: %d %d", t, b);
    irb_image_release(&im);
}

/* Bars hand-checked by looking at the frames and at per-row statistics (docs/images.md). */
static void test_strips_real(irb_decoder_t *dec)
{
    static const struct {
        const char *path;
        int top_lo, top_hi, bot_lo, bot_hi;
    } cases[] = {
        /* Reconyx: black bars, 32 rows top (text 2..27) and 32 bottom */
        {"data/camera-traps/wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG", 32, 32, 32, 32},
        /* Bushnell: no top bar; white bar at the bottom, rows 921..959 */
        {"data/camera-traps/uruguay_curso_camtrapR/edita/camara1/e152.JPG", 0, 0, 39, 39},
        /* Reconyx tunnel camera: black bars, top 16 rows, bottom 16 rows */
        {"data/camera-traps/hannaboe_smallmammal/vj_ga_hu_1/2020/vj_ga_hu_1_2019-07-08_0001.JPG", 16, 16, 16, 16},
        /* MLWIC 256x256 (day): top bar rows 0..4, bottom rows 251..255 */
        {"data/camera-traps/mlwic_examples/images/CA-01_0006501.jpg", 5, 5, 5, 5},
        /* MLWIC night frames: the same 5-row bars over a dark picture (median 10-15 against the
         * bar's 1); the detector used to take the dark rows for padding (10 and 51 rows) */
        {"data/camera-traps/mlwic_examples/images/CA-01_0006540.jpg", 5, 5, 5, 5},
        {"data/camera-traps/mlwic_examples/images/CA-01_0006770.jpg", 5, 5, 5, 5},
        /* White bottom bar with black text (Snapshot Serengeti), rows 1436..1535; no top bar */
        {"data/camera-traps/speciesnet_testdata/african_elephants.jpg", 0, 0, 99, 101},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        irb_image im = {0};
        irb_status s = irb_decode_file(dec, test_shared(cases[i].path), NULL, &im);
        CHECK(s == IRB_OK, "%s", irb_decoder_error(dec)->message);
        int t = -1, b = -1;
        irb_detect_info_strips(&im, &t, &b);
        CHECK(t >= cases[i].top_lo && t <= cases[i].top_hi && b >= cases[i].bot_lo && b <= cases[i].bot_hi,
              "%s: strips %d/%d, expected top %d..%d bottom %d..%d", cases[i].path, t, b, cases[i].top_lo,
              cases[i].top_hi, cases[i].bot_lo, cases[i].bot_hi);
        irb_image_release(&im);
    }
}

static void test_limits_and_errors(irb_decoder_t *dec)
{
    const char *wak = test_shared("data/camera-traps/wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG");
    irb_image im = {0};
    irb_decode_opts small = {.max_pixels = 1000000};
    CHECK(irb_decode_file(dec, wak, &small, &im) == IRB_TOO_LARGE && !im.data, "pixel limit");
    const char *m = irb_decoder_error(dec)->message;
    CHECK(strstr(m, "IMG_0021.JPG") && strstr(m, "2048x1536"), "limit message: %s", m);
    CHECK(irb_decode_file(dec, "/nonexistent/x.jpg", NULL, &im) == IRB_NOT_FOUND, "missing file");
    CHECK(strstr(irb_decoder_error(dec)->message, "/nonexistent/x.jpg"), "missing message");
    CHECK(irb_decode_file(dec, test_shared("data"), NULL, &im) == IRB_IO, "folder is not a file");
    CHECK(irb_decode_memory(dec, "", 0, "empty", NULL, &im) == IRB_CORRUPT, "zero bytes");
    CHECK(irb_decode_file(NULL, wak, NULL, &im) == IRB_INVALID_ARG, "NULL decoder");
    /* regression: no target (NULL options) must decode at full scale, not at 1/8 */
    CHECK(irb_decode_file(dec, wak, NULL, &im) == IRB_OK && im.width == 2048 && im.height == 1536, "full decode %dx%d",
          im.width, im.height);
    irb_image_release(&im);
    /* DCT scale: 2048x1536 with target 224 -> 2/8 (512x384 has short side >= 224, 1/8 has 192) */
    irb_decode_opts t = {.target = 224};
    CHECK(irb_decode_file(dec, wak, &t, &im) == IRB_OK && im.width == 512 && im.height == 384, "scaled decode %dx%d",
          im.width, im.height);
    irb_image_release(&im);
    /* allocation failure injection: every point fails cleanly */
    int ok_at = 0;
    for (long n = 1; n < 2000 && !ok_at; n++) {
        irb_alloc_fail_after(n);
        irb_status s = irb_decode_file(dec, wak, &t, &im);
        irb_alloc_fail_after(0);
        if (s == IRB_OK)
            ok_at = (int)n;
        else
            CHECK(s == IRB_NOMEM && !im.data, "alloc failure %ld -> %s", n, irb_status_name(s));
        irb_image_release(&im);
    }
    CHECK(ok_at > 0, "decode succeeds once allocations stop failing");
    /* API hostile test (regressions): a resize to 2^30 x 2^30 made its kernels for minutes
     * before the image could fail; options out of range were taken as some default */
    irb_image four = {0}, out = {0};
    irb_error e = {0};
    CHECK(irb__image_alloc(&four, 4, 4, 3, "four", &e) == IRB_OK, "a 4x4 image");
    memset(four.data, 7, 48);
    CHECK(irb_resize(&four, 0, 0, 0, 0, 1 << 30, 1 << 30, IRB_FILTER_BILINEAR, &out, &e) == IRB_TOO_LARGE && !out.data,
          "a resize to 2^30 x 2^30: too large at once (%s)", e.message);
    CHECK(irb_resize(&four, 0, 0, 0, 0, 2, 2, (irb_filter)77, &out, &e) == IRB_INVALID_ARG, "filter 77 refused");
    irb_image_release(&four);
    irb_preproc pp = irb_preproc_default(32);
    float chw[3 * 32 * 32];
    pp.mode = (irb_resize_mode)99;
    CHECK(irb_preprocess_file(dec, wak, &pp, chw, NULL) == IRB_INVALID_ARG, "resize mode 99 refused");
    pp = irb_preproc_default(32), pp.crop_fraction = NAN;
    CHECK(irb_preprocess_file(dec, wak, &pp, chw, NULL) == IRB_INVALID_ARG, "crop fraction NaN refused: %s",
          irb_decoder_error(dec)->message);
    pp = irb_preproc_default(32), pp.strips = (irb_strip_mode)99;
    CHECK(irb_preprocess_file(dec, wak, &pp, chw, NULL) == IRB_INVALID_ARG, "strips 99 refused");
}

/* ---- one decoder, a sequence of files ------------------------------------------------------ */

static size_t find_marker(const uint8_t *p, size_t n, int m)
{
    for (size_t i = 2; i + 1 < n; i++)
        if (p[i] == 0xFF && p[i + 1] == m)
            return i;
    return 0;
}

/* Regression (issue 15, item 1): a header TurboJPEG rejects left the reused handle in a state
 * where every later good file failed with the earlier message or a garbage size. Each bad
 * variant of a real frame is decoded between two decodes of the frame itself. */
static void test_decoder_state(irb_decoder_t *dec)
{
    size_t n = 0;
    uint8_t *good = test_slurp(test_shared("data/camera-traps/wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG"), &n);
    size_t sof = good ? find_marker(good, n, 0xC0) : 0, sos = good ? find_marker(good, n, 0xDA) : 0;
    CHECK(good && sof && sos > sof, "test frame with SOF0 and SOS");
    if (!good || !sof || sos <= sof) {
        free(good);
        return;
    }
    uint8_t *bad = malloc(2 * n);
    enum { LOSSLESS, TWELVE_BIT, BAD_LENGTH, TWO_SOF, CUT_BEFORE_SOS, NCASES };
    static const char *names[] = {"lossless SOF3", "12-bit", "bogus DQT length", "two SOFs", "cut before SOS"};
    irb_decode_opts opts[] = {{0}, {.target = 224}};
    for (int c = 0; c < NCASES; c++) {
        for (int o = 0; o < 2; o++) {
            size_t bn = n;
            memcpy(bad, good, n);
            if (c == LOSSLESS)
                bad[sof + 1] = 0xC3;
            else if (c == TWELVE_BIT)
                bad[sof + 4] = 12;
            else if (c == BAD_LENGTH) {
                size_t dqt = find_marker(bad, n, 0xDB);
                bad[dqt + 2] = 0x00, bad[dqt + 3] = 0x05;
            } else if (c == TWO_SOF) {
                size_t len = (size_t)good[sof + 2] << 8 | good[sof + 3];
                memcpy(bad + sof + 2 + len, good + sof, n - sof); /* the SOF segment twice */
                bn = n + 2 + len;
            } else
                bn = sos;
            irb_image im = {0};
            irb_status s = irb_decode_memory(dec, bad, bn, "bad.jpg", &opts[o], &im);
            irb_image_release(&im);
            CHECK(s != IRB_OK || c == TWO_SOF, "%s: decoded, expected an error", names[c]);
            s = irb_decode_memory(dec, good, n, "good.jpg", &opts[o], &im);
            int want_w = o ? 512 : 2048, want_h = o ? 384 : 1536;
            CHECK(s == IRB_OK && im.width == want_w && im.height == want_h,
                  "good frame after %s (target %d): %s %dx%d: %s", names[c], opts[o].target, irb_status_name(s),
                  im.width, im.height, irb_decoder_error(dec)->message);
            irb_image_release(&im);
            irb_image_info info;
            s = irb_read_header_memory(dec, good, n, "good.jpg", NULL, &info);
            CHECK(s == IRB_OK && info.width == 2048, "header after %s", names[c]);
        }
    }
    free(bad);
    free(good);
}

/* Regression (issue 15, item 2): a FIFO named *.jpg hung every reader forever (opened before its
 * type was checked). The alarm turns that hang into a failure of this test. */
static void test_special_files(irb_decoder_t *dec)
{
    char fifo[4200], dev[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo.jpg", test_tmpdir("image_special"));
    snprintf(dev, sizeof dev, "%s/null.jpg", test_tmpdir("image_special"));
    unlink(fifo);
    unlink(dev);
    CHECK(mkfifo(fifo, 0600) == 0 && symlink("/dev/null", dev) == 0, "make a FIFO and a device link");
    alarm(20);
    irb_image im = {0};
    irb_image_info info;
    CHECK(irb_decode_file(dec, fifo, NULL, &im) == IRB_IO, "decode a FIFO");
    CHECK(strstr(irb_decoder_error(dec)->message, "FIFO"), "FIFO message: %s", irb_decoder_error(dec)->message);
    CHECK(irb_read_header(dec, fifo, NULL, &info) == IRB_IO, "header of a FIFO");
    CHECK(irb_decode_file(dec, dev, NULL, &im) == IRB_IO, "decode a device");
    CHECK(strstr(irb_decoder_error(dec)->message, "device"), "device message: %s", irb_decoder_error(dec)->message);
    alarm(0);
    unlink(fifo);
    unlink(dev);
}

/* irb_preprocess_multi gives each preprocessing exactly what irb_preprocess_file gives it
 * alone: sizes, resize modes, auto and fixed strips, mirrored, on real frames (large JPEGs,
 * EXIF orientation, CMYK, a truncated file's warning). */
static void test_preprocess_multi(irb_decoder_t *dec)
{
    static const char *files[] = {
        "data/camera-traps/wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG",
        "data/camera-traps/uruguay_curso_camtrapR/henry/camara1/e69.JPG",
        "data/camera-traps/mlwic_examples/images/CA-01_0006613.jpg",
        "data/odd-images/african_elephants_with_exif_orientation.jpg",
        "data/odd-images/african_elephants_cmyk.jpg",
        "data/odd-images/african_elephants_truncated_file.jpg",
    };
    irb_preproc pps[7];
    pps[0] = irb_preproc_default(224);
    pps[1] = irb_preproc_default(448);
    pps[1].mode = IRB_RESIZE_SQUASH, pps[1].strips = IRB_STRIPS_AUTO;
    pps[2] = pps[1], pps[2].size = 96;
    pps[3] = pps[1], pps[3].strips = IRB_STRIPS_FIXED, pps[3].strip_top = 0.03, pps[3].strip_bottom = 0.02;
    pps[4] = irb_preproc_default(160), pps[4].mode = IRB_RESIZE_SHORT_CROP, pps[4].flip = 1;
    pps[5] = pps[1], pps[5].size = 576;
    pps[6] = pps[1], pps[6].size = 224, pps[6].decode_size = 576; /* resampled from 576's decode */
    float *multi[7], *one = NULL;
    size_t most = (size_t)3 * 576 * 576;
    for (int j = 0; j < 7; j++)
        multi[j] = calloc(most, sizeof(float));
    one = calloc(most, sizeof(float));
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        const char *path = test_shared(files[f]);
        irb_status s = irb_preprocess_multi(dec, path, pps, 7, multi, NULL);
        int warned = irb_decoder_error(dec)->warning;
        CHECK(s == IRB_OK, "multi %s: %s", files[f], irb_decoder_error(dec)->message);
        int any_warning = 0;
        int scale[7][2] = {{0}};
        for (int j = 0; s == IRB_OK && j < 7; j++) {
            irb_image_info info;
            CHECK(irb_preprocess_file(dec, path, &pps[j], one, &info) == IRB_OK, "one %s", files[f]);
            scale[j][0] = info.scale_num, scale[j][1] = info.scale_denom;
            any_warning |= irb_decoder_error(dec)->warning;
            size_t n = (size_t)3 * pps[j].size * pps[j].size, diff = 0;
            for (size_t i = 0; i < n; i++)
                diff += multi[j][i] != one[i];
            CHECK(diff == 0, "%s, preprocessing %d: %zu of %zu values differ from a call of its own", files[f], j, diff,
                  n);
        }
        CHECK(warned == any_warning, "%s: warning %d (alone: %d)", files[f], warned, any_warning);
        /* decode_size: the 224 input is resampled from the decode the 576 one picks */
        CHECK(s != IRB_OK || (scale[6][0] * scale[5][1] == scale[5][0] * scale[6][1]),
              "%s: decode_size 576 decodes at %d/%d, the 576 input at %d/%d", files[f], scale[6][0], scale[6][1],
              scale[5][0], scale[5][1]);
    }
    float *outs1[1] = {NULL};
    CHECK(irb_preprocess_multi(dec, test_shared(files[0]), pps, 1, outs1, NULL) == IRB_INVALID_ARG, "NULL output");
    /* flip = 2: the tensor, then its mirror (the featurizer's mirrored inputs), each exactly what
     * flip = 0 and flip = 1 give */
    irb_preproc both = pps[5], mirrored = pps[5];
    both.flip = 2, mirrored.flip = 1;
    size_t n576 = (size_t)3 * 576 * 576;
    float *pair = calloc(2 * n576, sizeof(float));
    for (size_t f = 0; f < 3; f++) {
        const char *path = test_shared(files[f]);
        size_t diff = 0;
        CHECK(irb_preprocess_multi(dec, path, &both, 1, &pair, NULL) == IRB_OK, "flip 2 %s", files[f]);
        CHECK(irb_preprocess_file(dec, path, &pps[5], one, NULL) == IRB_OK, "flip 0 %s", files[f]);
        for (size_t i = 0; i < n576; i++)
            diff += pair[i] != one[i];
        CHECK(irb_preprocess_file(dec, path, &mirrored, one, NULL) == IRB_OK, "flip 1 %s", files[f]);
        for (size_t i = 0; i < n576; i++)
            diff += pair[n576 + i] != one[i];
        CHECK(diff == 0, "%s: flip 2 differs from flip 0 + flip 1 in %zu values", files[f], diff);
    }
    free(pair);
    irb_image im = {0};
    CHECK(irb_preprocess_image(dec, test_shared(files[0]), &both, &im, NULL) == IRB_INVALID_ARG &&
              strstr(irb_decoder_error(dec)->message, "flip 2"),
          "flip 2 on an image output is refused: %s", irb_decoder_error(dec)->message);
    both.flip = 3;
    CHECK(irb_preprocess_multi(dec, test_shared(files[0]), &both, 1, multi, NULL) == IRB_INVALID_ARG &&
              strstr(irb_decoder_error(dec)->message, "flip must be"),
          "flip 3 is refused: %s", irb_decoder_error(dec)->message);
    CHECK(irb_preprocess_multi(dec, test_shared("data/nope.jpg"), pps, 6, multi, NULL) != IRB_OK &&
              strstr(irb_decoder_error(dec)->message, "nope.jpg"),
          "a missing file is named");
    for (int j = 0; j < 7; j++)
        free(multi[j]);
    free(one);
}

/* irb_image_digest against SHA-256 of the parts written by hand: a JPEG whose APP1 and COM
 * segments (one longer than the reader's 64 KiB buffer, so a segment and a header cross it) go to
 * head, its tables, APP14 and everything from SOS on to data; a text file is all data. */
static void test_digest(void)
{
    static uint8_t file[200000], meta[200000], rest[200000];
    size_t nf = 0, nm = 0, nr = 0;
#define PUT(dst, n, ...)                                                                                               \
    do {                                                                                                               \
        const uint8_t b_[] = {__VA_ARGS__};                                                                            \
        memcpy(dst + n, b_, sizeof b_), n += sizeof b_;                                                                \
    } while (0)
    PUT(file, nf, 0xFF, 0xD8);
    PUT(rest, nr, 0xFF, 0xD8);
    size_t lens[] = {20000, 65533, 7, 30}; /* APP1, COM crossing 64 KiB, APP14, DQT */
    int marks[] = {0xE1, 0xFE, 0xEE, 0xDB};
    for (int k = 0; k < 4; k++) {
        uint8_t hdr[4] = {0xFF, (uint8_t)marks[k], (uint8_t)((lens[k] + 2) >> 8), (uint8_t)(lens[k] + 2)};
        int is_meta = marks[k] == 0xE1 || marks[k] == 0xFE;
        uint8_t *d = is_meta ? meta : rest;
        size_t *n = is_meta ? &nm : &nr;
        memcpy(file + nf, hdr, 4), memcpy(d + *n, hdr, 4), nf += 4, *n += 4;
        for (size_t i = 0; i < lens[k]; i++)
            file[nf++] = d[(*n)++] = (uint8_t)(i * 7 + (size_t)k);
    }
    for (size_t i = 0; i < 40000; i++) /* SOS and the "entropy-coded data": data, whatever its bytes */
        file[nf++] = rest[nr++] = i < 2 ? (uint8_t)(i ? 0xDA : 0xFF) : (uint8_t)(i % 5 ? 0xE1 : 0xFF);
#undef PUT
    char path[4096], head[65], data[65], want_h[65], want_d[65];
    snprintf(path, sizeof path, "%s/digest.jpg", test_tmpdir("image_digest"));
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(file, 1, nf, f) == nf && fclose(f) == 0, "write %s", path);
    irb_sha256_buffer(meta, nm, want_h);
    irb_sha256_buffer(rest, nr, want_d);
    CHECK(irb_image_digest(path, head, data, NULL) == IRB_OK && !strcmp(head, want_h) && !strcmp(data, want_d),
          "a JPEG's metadata segments apart from the rest: %s %s", head, data);
    f = fopen(path, "wb");
    CHECK(f && fwrite("not a picture", 1, 13, f) == 13 && fclose(f) == 0, "write %s", path);
    irb_sha256_buffer("", 0, want_h);
    irb_sha256_buffer("not a picture", 13, want_d);
    CHECK(irb_image_digest(path, head, data, NULL) == IRB_OK && !strcmp(head, want_h) && !strcmp(data, want_d),
          "another file is all data");
    irb_error e = {0};
    CHECK(irb_image_digest(test_shared("data/nope.jpg"), head, data, &e) == IRB_NOT_FOUND &&
              strstr(e.message, "nope.jpg"),
          "a missing file is named: %s", e.message);
    /* many files at once: each file's irb_image_digest, relative to a root or as given, on 1 or 3
     * threads; a file that cannot be read has "" */
    const char *dir = test_tmpdir("image_digest");
    const char *rel[] = {"digest.jpg", "nope.jpg", "digest.jpg", "nope.jpg", "digest.jpg"};
    char abs_[5][4200];
    const char *absp[5];
    for (int i = 0; i < 5; i++)
        snprintf(abs_[i], sizeof abs_[i], "%s/%s", dir, rel[i]), absp[i] = abs_[i];
    for (int threads = 1; threads <= 3; threads += 2)
        for (int rooted = 0; rooted < 2; rooted++) {
            char many[5][2][65];
            memset(many, 'x', sizeof many);
            CHECK(irb_image_digests(rooted ? dir : NULL, rooted ? rel : absp, 5, threads, many, NULL) == IRB_OK,
                  "irb_image_digests");
            int ok = 1;
            for (int i = 0; i < 5; i++)
                ok &= i % 2 ? !many[i][0][0] && !many[i][1][0]
                            : !strcmp(many[i][0], want_h) && !strcmp(many[i][1], want_d);
            CHECK(ok, "irb_image_digests on %d thread(s)%s: each file's digests, \"\" for a missing one", threads,
                  rooted ? ", paths under a root" : "");
        }
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return helper(argc, argv);
    irb_decoder_t *dec = NULL;
    CHECK(irb_decoder_new(&dec) == IRB_OK, "decoder");
    test_resize();
    test_resize_simd();
    test_resize_random();
    test_chw_simd();
    test_orient();
    test_crop_flip_chw();
    test_strips_synthetic();
    test_strips_real(dec);
    test_limits_and_errors(dec);
    test_decoder_state(dec);
    test_special_files(dec);
    test_preprocess_multi(dec);
    test_digest();
    irb_decoder_free(dec);
    return CHECK_DONE();
}

/* Fuzz target: the small text parsers of untrusted options and records.
 * Input: NUL-separated parts, each optional (a missing one is not parsed):
 *   0. a preprocessing description (irb_preproc_from_json), as feature sets and classifiers
 *      record it; a parsed one of size <= 32 is applied to a tiny PNG (irb_preprocess_file);
 *   1. a camera time (irb_time_parse); a parsed time formats (irb_time_format) to text that
 *      parses back to the same second;
 *   2. a Camtrap DP UTC offset, and 4. (the rest of the input, NULs and all) a deployments CSV
 *      file (irb_camtrapdp_check);
 *   3. a --taxa mapping (irb_taxa_check, irb_taxon) against fixed class names.
 * Whatever the bytes: a status with a message, never a crash, an out-of-bounds read or a leak. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_internal.h"
#include "fuzz_files.h"
#include "irbis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 8 x 6 RGB PNG */
static const uint8_t TINY_PNG[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x00, 0x00, 0x06, 0x08, 0x02, 0x00, 0x00, 0x00, 0x71, 0x67, 0x48, 0xac, 0x00, 0x00, 0x00, 0x71, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x0d, 0xc1, 0x21, 0x01, 0x04, 0x31, 0x10, 0x03, 0xc0, 0x88, 0x38, 0x5c, 0xbc, 0x22,
    0x56, 0x44, 0x70, 0x71, 0x45, 0x44, 0x44, 0x71, 0x71, 0x44, 0xac, 0x88, 0xc5, 0xc5, 0x27, 0xe2, 0x24, 0xfc, 0xcf,
    0x00, 0xc0, 0xc0, 0x93, 0x88, 0x89, 0x14, 0x78, 0xb0, 0x0a, 0xba, 0xd8, 0x40, 0x3c, 0x23, 0x22, 0x23, 0x67, 0x50,
    0xb1, 0x4e, 0xa8, 0x62, 0xdf, 0x30, 0xc0, 0x18, 0xcc, 0x24, 0x27, 0x97, 0xa8, 0xc3, 0x5d, 0xf4, 0x65, 0x01, 0xca,
    0x21, 0xa6, 0xd6, 0xd4, 0xdf, 0x3e, 0x72, 0xa9, 0xae, 0x1a, 0x30, 0x87, 0x57, 0x5a, 0xd3, 0x5b, 0xf6, 0x71, 0x95,
    0xfb, 0xfa, 0x05, 0x7a, 0x8d, 0x56, 0xf6, 0x9e, 0x6d, 0x75, 0x9d, 0xee, 0xea, 0xf7, 0xf6, 0xf7, 0x03, 0x10, 0xf0,
    0x3c, 0xf1, 0x6d, 0xbb, 0xe4, 0xb2, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* A failure must say why. FUZZ_VERBOSE=1 prints each message (to see what a seed reaches). */
static void failed_with_message(irb_status s, const irb_error *err)
{
    if (s != IRB_OK && getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "status %d: %s\n", (int)s, err->message);
    if (s != IRB_OK && !err->message[0])
        abort();
}

static void preproc(const char *json)
{
    irb_preproc pp;
    irb_error err = {0};
    irb_status s = irb_preproc_from_json(json, &pp, &err);
    failed_with_message(s, &err);
    if (s != IRB_OK)
        return;
    if (pp.short_side < 0 || pp.short_side > 8192)
        abort(); /* refused as the size is (a huge one overflowed int in the resize geometry) */
    char text[1024];
    irb_preproc_to_json(&pp, text, sizeof text);
    if (pp.size > 32 || pp.decode_size > 32)
        return;
    static irb_decoder_t *dec;
    static char png[128];
    if (!dec &&
        (irb_decoder_new(&dec) != IRB_OK || !fuzz_write("tiny.png", TINY_PNG, sizeof TINY_PNG, png, sizeof png)))
        abort();
    for (int flip = 0; flip < 3; flip++) { /* the recorded fields with each flip setting */
        pp.flip = flip;
        float *out = malloc((size_t)2 * 3 * (size_t)pp.size * (size_t)pp.size * sizeof *out);
        if (!out)
            return;
        s = irb_preprocess_file(dec, png, &pp, out, NULL);
        failed_with_message(s, irb_decoder_error(dec));
        free(out);
    }
}

static void camera_time(const char *text)
{
    irb_time t, back;
    irb_error err = {0};
    irb_status s = irb_time_parse(text, &t, &err);
    failed_with_message(s, &err);
    if (s != IRB_OK)
        return;
    if (!(t.frac >= 0 && t.frac < 1))
        abort();
    char buf[64];
    irb_time_format(t, buf, sizeof buf);
    if (irb_time_parse(buf, &back, &err) != IRB_OK || back.seconds != t.seconds || fabs(back.frac - t.frac) > 1e-6)
        abort(); /* a parsed time prints as text that parses to the same time */
}

static void taxa(const char *mapping)
{
    static const char *const classes[] = {"deer", "fox", "empty", "red deer", "deer=x", ""};
    int n = (int)(sizeof classes / sizeof *classes);
    irb_error err = {0};
    irb_status s = irb_taxa_check(mapping, classes, n, &err);
    failed_with_message(s, &err);
    char buf[16];
    for (int k = 0; k < n; k++)
        if (strlen(irb_taxon(mapping, classes[k], buf, sizeof buf)) >= sizeof buf)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* parts 0-3 as C strings (copied: the input has no terminating NUL) */
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *part[4] = {NULL, NULL, NULL, NULL};
    size_t at = 0;
    for (int k = 0; k < 4 && at <= size; k++) {
        part[k] = copy + at;
        at += strlen(copy + at) + 1;
    }
    if (part[0])
        preproc(part[0]);
    if (part[1])
        camera_time(part[1]);
    if (part[3])
        taxa(part[3]);
    if (part[2]) {
        char dep[128];
        const char *deployments = NULL;
        if (at <= size)
            deployments = fuzz_write("deployments.csv", data + at, size - at, dep, sizeof dep);
        irb_error err = {0};
        failed_with_message(irb_camtrapdp_check(deployments, part[2], &err), &err);
    }
    free(copy);
    return 0;
}

/* Fuzz target: the .irbis parsers (classifier files, version 1, and pipelines, version 2 with
 * their optional sections). Whatever the bytes, parsing returns a status and a message (never
 * crashes, reads out of bounds or leaks); a parsed classifier must predict, a parsed pipeline's
 * parts too, and its novelty model must score rows of its part's width; its int8 calibration
 * tables (section 'precision') must print back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irbis/learn.h"
#include "irbis/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void predict_one(irb_classifier_t *c)
{
    irb_error err = {0};
    {
        int D = irb_classifier_dim(c), K = irb_classifier_classes(c);
        float *x = calloc((size_t)D, sizeof *x);
        double *p = calloc((size_t)K, sizeof *p);
        if (x && p)
            irb_classifier_predict(c, x, 1, D, p, &err);
        free(x);
        free(p);
        for (int k = 0; k < K; k++)
            (void)irb_classifier_class_name(c, k);
        (void)irb_classifier_meta(c, "model_sha256");
    }
}

/* A zero row and a row of ones through the novelty model; scores must be in [0, 2]. */
static void score_one(const irb_novelty *nv, int dim)
{
    irb_error err = {0};
    float *x = calloc(2 * (size_t)dim, sizeof *x);
    double sc[2];
    if (!x)
        return;
    for (int j = 0; j < dim; j++)
        x[dim + j] = 1;
    irb_status s = irb_novelty_score(nv, x, 2, dim, sc, &err);
    if (s == IRB_NOMEM) { /* its scratch (8 rows of dim) did not fit: refused, not a crash */
        free(x);
        return;
    }
    if (s != IRB_OK || !(sc[0] >= 0 && sc[0] <= 2) || !(sc[1] >= 0 && sc[1] <= 2))
        abort();
    free(x);
}

static void parse_one(const uint8_t *data, size_t size)
{
    irb_classifier_t *c = NULL;
    irb_error err = {0};
    if (irb_classifier_parse(data, size, "fuzz", &c, &err) == IRB_OK)
        predict_one(c);
    irb_classifier_free(c);
    irb_pipeline *p = NULL;
    if (irb_pipeline_parse(data, size, "fuzz", &p, &err) == IRB_OK) {
        for (int k = 0; k < p->n_parts; k++)
            predict_one(p->parts[k].clf);
        if (p->novelty)
            score_one(p->novelty, irb_classifier_dim(p->parts[p->novelty->part].clf));
        for (int i = 0; i < p->n_calib; i++) { /* a parsed table prints back and is found by its size */
            char *text = NULL;
            size_t len = 0;
            if (irb_pipeline_calib(p, p->calib_size[i]) != p->calib[i] ||
                irb_calib_to_text(p->calib[i], &text, &len, &err) != IRB_OK)
                abort();
            irb_calib_text_free(text);
        }
    }
    irb_pipeline_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_one(data, size);
    /* The same bytes with the body length and CRC-32 made consistent, so the body parser is
     * reached for most inputs instead of stopping at the checksum. */
    if (size >= 28 && memcmp(data, "IRBISCLF", 8) == 0) {
        uint8_t *fixed = malloc(size);
        if (!fixed)
            return 0;
        memcpy(fixed, data, size);
        uint64_t body = size - 28;
        for (int i = 0; i < 8; i++)
            fixed[16 + i] = (uint8_t)(body >> (8 * i));
        uint32_t crc = irb_crc32(0, fixed, size - 4);
        for (int i = 0; i < 4; i++)
            fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        parse_one(fixed, size);
        free(fixed);
    }
    return 0;
}

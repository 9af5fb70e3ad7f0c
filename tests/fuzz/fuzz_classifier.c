/* Fuzz target: the classifier-file parser. Whatever the bytes, parsing returns a status and a
 * message (never crashes, reads out of bounds or leaks); a parsed classifier must predict. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "irbis/learn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    irb_classifier_t *c = NULL;
    irb_error err = {0};
    if (irb_classifier_parse(data, size, "fuzz", &c, &err) == IRB_OK) {
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
    irb_classifier_free(c);
    return 0;
}

/* Fuzz target: the calibration table parser (docs/int8.md text form). Whatever the bytes, parsing
 * returns a status and a message (never crashes, reads out of bounds or leaks); a parsed table
 * prints back to text that parses again to the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irbis/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    irb_calib_t *c = NULL, *back = NULL;
    irb_error err = {0};
    if (irb_calib_parse((const char *)data, size, "fuzz", &c, &err) != IRB_OK)
        return 0;
    char *t = NULL, *t2 = NULL;
    size_t n = 0, n2 = 0;
    if (irb_calib_to_text(c, &t, &n, &err) == IRB_OK && irb_calib_parse(t, n, "again", &back, &err) == IRB_OK &&
        irb_calib_to_text(back, &t2, &n2, &err) == IRB_OK && (n != n2 || memcmp(t, t2, n)))
        abort(); /* the text form must be a fixed point */
    irb_calib_text_free(t);
    irb_calib_text_free(t2);
    irb_calib_free(back);
    irb_calib_free(c);
    return 0;
}

/* The preprocessing record (irb_preproc_to_json / irb_preproc_from_json) round-trips every
 * field, and bad records are refused with a message. */
#include <math.h>

#include "check.h"
#include "irbis/image.h"

int main(void)
{
    irb_preproc a = irb_preproc_default(160), b;
    a.mode = IRB_RESIZE_SHORT_CROP;
    a.short_side = 183;
    a.filter = IRB_FILTER_BOX;
    a.mean[0] = 123.675f, a.mean[1] = 116.28f, a.mean[2] = 103.53f;
    a.scale[0] = 58.395f, a.scale[1] = 57.12f, a.scale[2] = 57.375f;
    a.strips = IRB_STRIPS_FIXED;
    a.strip_top = 0.05, a.strip_bottom = 0.0625;
    char buf[1024];
    irb_preproc_to_json(&a, buf, sizeof buf);
    irb_error err = {0};
    CHECK(irb_preproc_from_json(buf, &b, &err) == IRB_OK, "%s", err.message);
    CHECK(b.size == 160 && b.mode == IRB_RESIZE_SHORT_CROP && b.short_side == 183 && b.filter == IRB_FILTER_BOX,
          "geometry: %s", buf);
    CHECK(b.strips == IRB_STRIPS_FIXED && b.strip_top == 0.05 && b.strip_bottom == 0.0625, "strips: %s", buf);
    for (int k = 0; k < 3; k++)
        CHECK(b.mean[k] == a.mean[k] && b.scale[k] == a.scale[k], "mean/std %d: %s", k, buf);

    a = irb_preproc_default(224);
    a.mode = IRB_RESIZE_CROP_FRACTION;
    a.crop_fraction = 0.8;
    irb_preproc_to_json(&a, buf, sizeof buf);
    CHECK(irb_preproc_from_json(buf, &b, &err) == IRB_OK && b.crop_fraction == 0.8 && b.strips == IRB_STRIPS_NONE,
          "crop fraction: %s", buf);
    /* decode_size is written only above the size (an older record's text stays as it was) and
     * reads back; a record without it decodes at its own size's scale */
    CHECK(!strstr(buf, "decode_size") && b.decode_size == 0, "no decode_size: %s", buf);
    a.decode_size = 224;
    irb_preproc_to_json(&a, buf, sizeof buf);
    CHECK(!strstr(buf, "decode_size"), "decode_size = size is not written: %s", buf);
    a.decode_size = 576;
    irb_preproc_to_json(&a, buf, sizeof buf);
    CHECK(strstr(buf, "\"decode_size\":576") && irb_preproc_from_json(buf, &b, &err) == IRB_OK &&
              b.decode_size == 576 && b.size == 224 && b.crop_fraction == 0.8,
          "decode_size round trip: %s (%s)", buf, err.message);
    CHECK(irb_preproc_from_json("{\"size\":224,\"resize\":\"squash\",\"mean\":[1,2,3],\"std\":[4,5,6],"
                                "\"decode_size\":0.5}",
                                &b, &err) == IRB_CORRUPT &&
              strstr(err.message, "decode_size"),
          "a bad decode_size is refused: %s", err.message);
    /* dct_scales: irb_preproc_default's fast set is written and reads back; all eight scales (a
     * zeroed field) write nothing, so a record from before the member keeps its text, and a record
     * without it reads as all eight, as it was decoded; an unknown set is refused */
    a = irb_preproc_default(224);
    irb_preproc_to_json(&a, buf, sizeof buf);
    CHECK(a.scales == IRB_DCT_FAST && strstr(buf, ",\"dct_scales\":\"fast\"}") &&
              irb_preproc_from_json(buf, &b, &err) == IRB_OK && b.scales == IRB_DCT_FAST,
          "fast scales round trip: %s (%s)", buf, err.message);
    a.scales = IRB_DCT_ANY;
    irb_preproc_to_json(&a, buf, sizeof buf);
    CHECK(!strstr(buf, "dct_scales") && irb_preproc_from_json(buf, &b, &err) == IRB_OK && b.scales == IRB_DCT_ANY,
          "every scale: not written, read back as every scale: %s", buf);
    CHECK(irb_preproc_from_json("{\"size\":224,\"dct_scales\":\"any\"}", &b, &err) == IRB_OK && b.scales == IRB_DCT_ANY,
          "\"any\" reads: %s", err.message);
    CHECK(irb_preproc_from_json("{\"size\":224,\"dct_scales\":\"slow\"}", &b, &err) == IRB_UNSUPPORTED &&
              strstr(err.message, "dct_scales"),
          "an unknown set is refused: %s", err.message);
    CHECK(irb_preproc_from_json("{\"size\":224,\"dct_scales\":1}", &b, &err) == IRB_UNSUPPORTED,
          "a number is not a set: %s", err.message);
    /* a record from before strips were written still reads (strips none) */
    CHECK(irb_preproc_from_json("{\"size\":224,\"resize\":\"squash\",\"mean\":[1,2,3],\"std\":[4,5,6]}", &b, &err) ==
                  IRB_OK &&
              b.mode == IRB_RESIZE_SQUASH && b.mean[2] == 3 && b.scale[0] == 4,
          "older record: %s", err.message);
    CHECK(irb_preproc_from_json("{\"size\":224,\"resize\":\"zoom\",\"mean\":[1,2,3],\"std\":[4,5,6]}", &b, &err) ==
                  IRB_UNSUPPORTED &&
              strstr(err.message, "zoom"),
          "unknown mode: %s", err.message);
    CHECK(irb_preproc_from_json("{\"resize\":\"squash\"}", &b, &err) == IRB_CORRUPT, "no size");
    CHECK(irb_preproc_from_json("{\"size\":224,\"resize\":\"squash\",\"mean\":[1,2],\"std\":[4,5,6]}", &b, &err) ==
              IRB_CORRUPT,
          "short mean");
    /* Regression (issue 16): keys were found with strstr, so a key's name inside a string value
     * (or a nested object's key) was taken for the member. */
    CHECK(irb_preproc_from_json("{\"note\":[\"size\",\"resize\"],\"size\":224,\"resize\":\"squash\","
                                "\"mean\":[1,2,3],\"std\":[4,5,6]}",
                                &b, &err) == IRB_OK &&
              b.size == 224 && b.mode == IRB_RESIZE_SQUASH,
          "a key's name inside a value: size %d mode %d (%s)", b.size, (int)b.mode, err.message);
    CHECK(irb_preproc_from_json("{\"extra\":{\"strips\":\"auto\",\"size\":7},\"size\":224,\"resize\":\"squash\","
                                "\"mean\":[1,2,3],\"std\":[4,5,6]}",
                                &b, &err) == IRB_OK &&
              b.size == 224 && b.strips == IRB_STRIPS_NONE,
          "a nested object's keys are not members: size %d strips %d", b.size, (int)b.strips);
    CHECK(irb_preproc_from_json("{\"size\":224,\"resize\":\"squash\",\"mean\":[1,2,3],\"std\":[4,5,6]", &b, &err) ==
                  IRB_CORRUPT &&
              strstr(err.message, "not one JSON object"),
          "unterminated object refused: %s", err.message);
    CHECK(irb_preproc_from_json("{\"size\":\"224\",\"resize\":\"squash\",\"mean\":[1,2,3],\"std\":[4,5,6]}", &b,
                                &err) == IRB_CORRUPT,
          "a size that is a string is not a size");
    /* API hostile test (regressions): fields missing keep the defaults, as the header says (a
     * description without "resize" was IRB_UNSUPPORTED); a std of 0 is refused; an enum out of
     * range is written as "unknown" (mode_names[7] was read out of bounds) and a NaN as null
     * ("nan" is not JSON) */
    irb_preproc d = irb_preproc_default(224);
    CHECK(irb_preproc_from_json("{\"size\":224}", &b, &err) == IRB_OK && b.mode == d.mode && b.mean[1] == d.mean[1] &&
              b.scale[2] == d.scale[2] && b.strips == d.strips,
          "only a size: the defaults (%s)", err.message);
    CHECK(irb_preproc_from_json("{\"size\":224,\"mean\":[1,2,3],\"std\":[4,0,6]}", &b, &err) == IRB_CORRUPT,
          "a std of 0 refused");
    irb_preproc bad = d;
    bad.mode = (irb_resize_mode)7, bad.strips = (irb_strip_mode)44, bad.mean[0] = NAN;
    irb_preproc_to_json(&bad, buf, sizeof buf);
    CHECK(strstr(buf, "\"resize\":\"unknown\"") && strstr(buf, "\"strips\":\"unknown\"") &&
              strstr(buf, "\"mean\":[null,") && !strstr(buf, "nan"),
          "out-of-range enums and NaN written as JSON: %s", buf);
    CHECK(irb_preproc_from_json(buf, &b, &err) != IRB_OK, "and not read back as a description");
    irb_preproc_to_json(NULL, buf, sizeof buf);
    CHECK(buf[0] == '\0', "NULL description: empty text");
    return CHECK_DONE();
}

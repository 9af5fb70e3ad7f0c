/* Fuzz target: decoding from memory (JPEG/PNG, scaled and full, EXIF parsing, orientation), the
 * header-only read, and the scan's sniff of video containers (irb__video_sniff, on the first
 * IRB_VIDEO_SNIFF_BYTES as the scan reads them, and on the whole input), and the resize of what
 * decodes (to 7 x 5, and to a size and filter taken from the input's last bytes: up and down,
 * the vector passes' windows near the image's end). Any crash, leak or sanitizer report is a bug;
 * statuses are not checked. */
#include <stddef.h>
#include <stdint.h>

#include "image/internal.h"
#include "irbis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static irb_decoder_t *dec;
    if (!dec && irb_decoder_new(&dec) != IRB_OK)
        return 0;
    irb_decode_opts o = {.max_pixels = 4000000, .target = size & 1 ? 32 : 0};
    irb_image_info info;
    irb_read_header_memory(dec, data, size, "fuzz", &o, &info);
    irb__video_sniff(data, size < IRB_VIDEO_SNIFF_BYTES ? size : IRB_VIDEO_SNIFF_BYTES);
    irb__video_sniff(data, size);
    irb_image img = {0};
    if (irb_decode_memory(dec, data, size, "fuzz", &o, &img) == IRB_OK) {
        int t, b;
        irb_detect_info_strips(&img, &t, &b);
        irb_image small = {0};
        irb_resize(&img, 0, 0, 0, 0, 7, 5, IRB_FILTER_BILINEAR, &small, NULL);
        irb_image_release(&small);
        unsigned tail = data[size - 1] | (unsigned)data[size - 2] << 8; /* (an image is more than 2 bytes) */
        irb_filter f = tail >> 15 ? IRB_FILTER_BOX : IRB_FILTER_BILINEAR;
        irb_resize(&img, 0, 0, 0, 0, 1 + (int)(tail % 600), 1 + (int)(tail >> 9) % 64, f, &small, NULL);
        irb_image_release(&small);
    }
    irb_image_release(&img);
    return 0;
}

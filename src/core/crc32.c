/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of the binary model files (irbis/files.h). */
#include <stddef.h>
#include <stdint.h>

#include "irbis/files.h"

uint32_t irb_crc32(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

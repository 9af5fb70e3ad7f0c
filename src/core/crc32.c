/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of the binary model files (irbis/files.h).
 * Eight bytes a step through eight tables (slicing-by-8), made on each call: a pipeline file of
 * 10 MB (its novelty rows) took 80 ms bit by bit, which every classify run paid. */
#include <stddef.h>
#include <stdint.h>

#include "irbis/files.h"

static uint32_t crc_bits(uint32_t crc)
{
    for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    return crc;
}

uint32_t irb_crc32(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (!p)
        return crc;
    crc = ~crc;
    if (n >= 4096) {
        uint32_t t[8][256];
        for (int i = 0; i < 256; i++)
            t[0][i] = crc_bits((uint32_t)i);
        for (int i = 0; i < 256; i++)
            for (int k = 1; k < 8; k++)
                t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
        for (; n >= 8; n -= 8, p += 8) {
            uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
            crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
                  t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        }
    }
    for (; n > 0; n--, p++)
        crc = crc_bits(crc ^ *p);
    return ~crc;
}

/* SHA-256 (FIPS 180-4) of files and buffers: featurize records the model's digest so that a
 * classifier can refuse features from a different backbone, and every model load hashes the
 * bytes it parses. Blocks run on the x86 SHA extensions where the CPU has them (about 8x the
 * portable code: a 14 MB model in ~7 ms instead of ~55), else on the portable FIPS code. */
#include "core/sha256.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "irbis/files.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define IRB_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void block_portable(uint32_t hv[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = hv[0], b = hv[1], cc = hv[2], d = hv[3];
    uint32_t e = hv[4], f = hv[5], g = hv[6], h = hv[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    hv[0] += a;
    hv[1] += b;
    hv[2] += cc;
    hv[3] += d;
    hv[4] += e;
    hv[5] += f;
    hv[6] += g;
    hv[7] += h;
}

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t n)
{
    for (; n > 0; n--, p += 64)
        block_portable(h, p);
}

#ifdef IRB_SHA_NI
/* The SHA extensions keep the state as two registers, ABEF and CDGH (A in the top lane);
 * sha256rnds2 runs two rounds, sha256msg1/msg2 extend the message schedule four words at a
 * time (Intel, "Intel SHA Extensions", 2013). */
__attribute__((target("sha,ssse3,sse4.1"))) static void blocks_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]), hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1), efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8), cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (; n > 0; n--, p += 64) {
        __m128i abef0 = abef, cdgh0 = cdgh, w[16];
        for (int g = 0; g < 16; g++) {
            if (g < 4) {
                w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
            } else {
                __m128i t = _mm_sha256msg1_epu32(w[g - 4], w[g - 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[g - 1], w[g - 2], 4));
                w[g] = _mm_sha256msg2_epu32(t, w[g - 1]);
            }
            __m128i m = _mm_add_epi32(w[g], _mm_loadu_si128((const __m128i *)&K256[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B), dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}
#endif

int irb_sha256_has_ni(void)
{
#ifdef IRB_SHA_NI
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
#else
    return 0;
#endif
}

static atomic_int use_ni = -1; /* -1: not decided yet */

int irb_sha256_use_ni(int on)
{
    int was = atomic_load(&use_ni);
    atomic_store(&use_ni, on && irb_sha256_has_ni());
    return was < 0 ? irb_sha256_has_ni() : was;
}

static void sha256_blocks(uint32_t h[8], const uint8_t *p, size_t n)
{
    int ni = atomic_load_explicit(&use_ni, memory_order_relaxed);
    if (ni < 0) {
        ni = irb_sha256_has_ni();
        atomic_store(&use_ni, ni);
    }
#ifdef IRB_SHA_NI
    if (ni) {
        blocks_ni(h, p, n);
        return;
    }
#endif
    blocks_portable(h, p, n);
}

void irb_sha256_init(irb_sha256_ctx *c)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->bytes = 0;
    c->fill = 0;
}

void irb_sha256_update(irb_sha256_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    c->bytes += n;
    while (n > 0) {
        if (c->fill == 0 && n >= 64) { /* whole blocks straight from the input */
            sha256_blocks(c->h, p, n / 64);
            p += n / 64 * 64;
            n %= 64;
            continue;
        }
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->block + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill == 64) {
            sha256_blocks(c->h, c->block, 1);
            c->fill = 0;
        }
    }
}

void irb_sha256_final(irb_sha256_ctx *c, char hex[65])
{
    uint64_t bits = c->bytes * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    irb_sha256_update(c, &pad, 1);
    while (c->fill != 56)
        irb_sha256_update(c, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    irb_sha256_update(c, len, 8);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", c->h[i]);
}

void irb_sha256_buffer(const void *data, size_t n, char hex[65])
{
    if (!hex)
        return;
    if (!data && n) { /* no bytes to hash: no digest, rather than one of memory at address 0 */
        hex[0] = '\0';
        return;
    }
    irb_sha256_ctx c;
    irb_sha256_init(&c);
    irb_sha256_update(&c, data, n);
    irb_sha256_final(&c, hex);
}

static void feed(void *ctx, const void *data, size_t n) { irb_sha256_update(ctx, data, n); }

irb_status irb_sha256_file(const char *path, char hex[65], irb_error *err)
{
    if (!path || !hex)
        return irb_fail(err, IRB_INVALID_ARG, "irb_sha256_file: NULL %s", path ? "hex" : "path");
    irb_sha256_ctx c;
    irb_sha256_init(&c);
    IRB_TRY(irb_read_chunks(path, feed, &c, err));
    irb_sha256_final(&c, hex);
    return IRB_OK;
}

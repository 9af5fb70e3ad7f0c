/* Vector helpers the featurizer's map code shares (mapmean.c, motion.c); x86 builds only. */
#ifndef IRB_FEATURES_SIMD_H
#define IRB_FEATURES_SIMD_H

#include "core/cpu.h"

#if IRB_X86
#include <immintrin.h>

/* r[k] = values 0..7 of channel k  ->  r[j] = value j of channels 0..7. */
__attribute__((target("avx512f"))) static inline void irb_transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        s[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
        s[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
        s[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        s[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x31);
    }
}

#endif

#endif

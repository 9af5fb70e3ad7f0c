/* The CPU's vector level (core/cpu.h). */
#include "core/cpu.h"

#include <stdatomic.h>

static atomic_int level = -1; /* -1: not decided yet */
static atomic_int cap = IRB_SIMD_AVX512_VBMI;

static int detect(void)
{
#if IRB_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
        return __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vnni") ? IRB_SIMD_AVX512_VBMI
                                                                                            : IRB_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return IRB_SIMD_AVX2;
    if (__builtin_cpu_supports("sse4.1"))
        return IRB_SIMD_SSE41;
#endif
    return IRB_SIMD_NONE;
}

int irb_cpu_simd(void)
{
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l < 0) {
        l = detect();
        atomic_store(&level, l);
    }
    int c = atomic_load_explicit(&cap, memory_order_relaxed);
    return l < c ? l : c;
}

int irb__simd(int on) { return atomic_exchange(&cap, on ? IRB_SIMD_AVX512_VBMI : IRB_SIMD_NONE) != IRB_SIMD_NONE; }

int irb__simd_cap(int max_level) { return atomic_exchange(&cap, max_level); }

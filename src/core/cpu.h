/* The vector instruction sets of this CPU, for the loops the library compiles several ways
 * (src/image/resize.c and ops.c, src/features/mapmean.c and motion.c, src/learn/novelty.c):
 * each builds one body for each level with __attribute__((target(...))) and picks the build
 * from irb_cpu_simd() at run time. */
#ifndef IRB_CORE_CPU_H
#define IRB_CORE_CPU_H

#if defined(__x86_64__) && defined(__GNUC__)
#define IRB_X86 1 /* the x86 builds exist (GCC/clang target attributes, <immintrin.h>) */
#else
#define IRB_X86 0
#endif

enum {
    IRB_SIMD_NONE,
    IRB_SIMD_SSE41,
    IRB_SIMD_AVX2,
    IRB_SIMD_AVX512,     /* F and BW */
    IRB_SIMD_AVX512_VBMI /* and VBMI (byte permutes across the register) and VNNI (u8 x s8 dot products) */
};

/* The widest level this CPU has (IRB_SIMD_NONE off x86), decided once, and no wider than the
 * cap a test or benchmark set (irb__simd, irb__simd_cap). */
int irb_cpu_simd(void);
/* For tests that check the vector builds against the portable one: 0, every caller takes its
 * portable build; 1, the widest again (the default). Returns the previous setting (1 unless
 * the cap was IRB_SIMD_NONE). */
int irb__simd(int on);
/* For tests and benchmarks of the builds below the CPU's widest (an AVX2 machine's on an AVX-512
 * one): irb_cpu_simd() returns at most max_level until the next call. Returns the previous cap. */
int irb__simd_cap(int max_level);

#endif

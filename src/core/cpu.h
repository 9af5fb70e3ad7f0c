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
    IRB_SIMD_AVX512_VBMI /* and VBMI (byte permutes across the register) */
};

/* The widest level this CPU has (IRB_SIMD_NONE off x86), decided once; IRB_SIMD_NONE while a
 * test has set irb__simd(0). */
int irb_cpu_simd(void);
/* For tests that check the vector builds against the portable one: 0, every caller takes its
 * portable build; 1, the widest again (the default). Returns the previous setting. */
int irb__simd(int on);

#endif

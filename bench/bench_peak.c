/* The CPU's fp32 multiply-add peak (not a test): independent FMA chains in registers, on 1 and
 * on 2 threads, with the widest vectors the CPU has (AVX-512, else AVX2 + FMA). What a CNN's
 * GFLOP/s is measured against (docs/pipeline.md, "At the hardware limit"). Prints one line per
 * thread count: "T threads: G GFLOP/s fp32 (ISA)".
 *
 *   bench_peak [SECONDS_PER_MEASUREMENT]   (default 1)
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

enum { CHAINS = 12 }; /* > FMA latency x ports: every unit busy */

typedef struct job {
    long iters;
    int wide; /* 1: AVX-512, 0: AVX2 */
    float sink;
} job;

/* One function per ISA from one body: CHAINS accumulators, each a * m + c per iteration, summed
 * at the end so the work is kept. */
#define PEAK_FN(name, isa, vec, lanes, set1, fmadd, storeu)                                                            \
    __attribute__((target(isa))) static float name(long iters)                                                         \
    {                                                                                                                  \
        vec a[CHAINS], m = set1(0.999999f), c = set1(1e-7f);                                                           \
        for (int i = 0; i < CHAINS; i++)                                                                               \
            a[i] = set1((float)i);                                                                                     \
        for (long k = 0; k < iters; k++)                                                                               \
            _Pragma("GCC unroll 12") for (int i = 0; i < CHAINS; i++) a[i] = fmadd(a[i], m, c);                        \
        float s[lanes], t = 0;                                                                                         \
        for (int i = 0; i < CHAINS; i++) {                                                                             \
            storeu(s, a[i]);                                                                                           \
            for (int l = 0; l < lanes; l++)                                                                            \
                t += s[l];                                                                                             \
        }                                                                                                              \
        return t;                                                                                                      \
    }

PEAK_FN(run512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps)
PEAK_FN(run256, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps)

static void *thread_main(void *arg)
{
    job *j = arg;
    j->sink = j->wide ? run512(j->iters) : run256(j->iters);
    return NULL;
}

/* GFLOP/s of `threads` threads each running `iters` iterations. */
static double measure(int threads, long iters, int wide)
{
    pthread_t th[2];
    job jobs[2];
    double t = now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){iters, wide, 0};
        if (pthread_create(&th[i], NULL, thread_main, &jobs[i]) != 0)
            return 0;
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    t = now() - t;
    return threads * (double)iters * CHAINS * (wide ? 16 : 8) * 2 / t / 1e9;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1;
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f");
    if (!wide && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        printf("bench_peak: neither AVX-512 nor AVX2 + FMA on this CPU\n");
        return 0;
    }
    long iters = 1000000;
    double g = measure(1, iters, wide); /* calibrate: about secs per measurement */
    iters = (long)(secs * g * 1e9 / (CHAINS * (wide ? 16 : 8) * 2));
    for (int t = 1; t <= 2; t++)
        printf("%d threads: %.1f GFLOP/s fp32 (%s)\n", t, measure(t, iters, wide), wide ? "AVX-512" : "AVX2 + FMA");
    return 0;
}

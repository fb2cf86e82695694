/* The busy loop of matmul.fma_peak: the core's fp32 FMA throughput, touching no
   memory (GCC vector extensions, like gemm.h). */
#ifndef MICROINIT_FMA_PEAK_H
#define MICROINIT_FMA_PEAK_H

/* 12 independent chains of a = a * m + c: enough to cover FMA latency x throughput
   (4 cycles x 2 pipes on Zen 3 / Skylake), no loads or stores in the loop. VT is a
   vector of W floats; TGT the instruction set it is compiled for. */
#define MI_FMA_LOOP(NAME, W, TGT)                                                    \
    typedef float NAME##_v __attribute__((vector_size(4 * W)));                      \
    static TGT float NAME(long iters)                                                \
    {                                                                                \
        NAME##_v m, c;                                                               \
        for (int j = 0; j < W; ++j) m[j] = 0.9999999f - 1e-7f * (float)(j % 8);     \
        c = m * 1e-7f;                                                               \
        NAME##_v a0 = m, a1 = m + 1, a2 = m + 2, a3 = m + 3, a4 = m + 4, a5 = m + 5; \
        NAME##_v a6 = m + 6, a7 = m + 7, a8 = m + 8, a9 = m + 9, a10 = m + 10;       \
        NAME##_v a11 = m + 11;                                                       \
        for (long i = 0; i < iters; ++i) {                                           \
            a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;      \
            a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;      \
            a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;  \
        }                                                                            \
        NAME##_v s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;    \
        float t = 0;                                                                 \
        for (int j = 0; j < W; ++j) t += s[j];                                       \
        return t;                                                                    \
    }

MI_FMA_LOOP(mi_fma_loop8, 8, )
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
/* the 16-wide loop the AVX-512 GEMM tiles run at, compiled for AVX-512 whatever the
   build's -march, and taken only where the CPU has it (as gemm_packed.h chooses) */
MI_FMA_LOOP(mi_fma_loop16, 16, __attribute__((target("avx512f,fma"))))
static int mi_fma_width(void) { return __builtin_cpu_supports("avx512f") ? 16 : 8; }
#else
static float mi_fma_loop16(long iters) { return mi_fma_loop8(iters); }
static int mi_fma_width(void) { return 8; }
#endif

/* One pass of the widest loop this CPU runs: 12 * mi_fma_width() FMAs per iteration. */
static float mi_fma_loop(long iters)
{
    return mi_fma_width() == 16 ? mi_fma_loop16(iters) : mi_fma_loop8(iters);
}

#endif /* MICROINIT_FMA_PEAK_H */

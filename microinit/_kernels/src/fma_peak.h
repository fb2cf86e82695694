/* The busy loop of matmul.fma_peak: the core's fp32 FMA throughput, touching no
   memory (GCC vector extensions, like gemm.h). */
#ifndef MICROINIT_FMA_PEAK_H
#define MICROINIT_FMA_PEAK_H

#include "gemm_packed.h" /* mi_pk_variant, MI_PK_X86 */

/* 12 independent chains of a = a * m + c: enough to cover FMA latency x throughput
   (4 cycles x 2 pipes on Zen 3 / Skylake), no loads or stores in the loop. NAME##_v is
   a vector of W floats; TGT the instruction set it is compiled for. */
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
#if MI_PK_X86
MI_FMA_LOOP(mi_fma_loop16, 16, __attribute__((target("avx512f,fma"))))
#endif

/* The width of the GEMM's tiles: 16 where it runs the AVX-512 variant (mi_pk_variant,
   the one run-time choice of instruction set, MICROINIT_GEMM_ISA included), else 8. */
static int mi_fma_width(void)
{
#if MI_PK_X86
    return mi_pk_variant() == 2 ? 16 : 8;
#else
    return 8;
#endif
}

/* One pass of that loop: 12 * mi_fma_width() FMAs per iteration. */
static float mi_fma_loop(long iters)
{
#if MI_PK_X86
    if (mi_fma_width() == 16)
        return mi_fma_loop16(iters);
#endif
    return mi_fma_loop8(iters);
}

#endif /* MICROINIT_FMA_PEAK_H */

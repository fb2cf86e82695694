/* The busy loop of matmul.fma_peak: the core's fp32 FMA throughput, touching no
   memory (GCC vector extensions, like gemm.h). */
#ifndef MICROINIT_FMA_PEAK_H
#define MICROINIT_FMA_PEAK_H

typedef float mi_pk_v8f __attribute__((vector_size(32)));
/* 12 independent chains of a = a * m + c: enough to cover FMA latency x throughput
   (4 cycles x 2 pipes on Zen 3 / Skylake), no loads or stores in the loop. */
static float mi_fma_loop(long iters)
{
    mi_pk_v8f m = {0.9999999f, 0.9999998f, 0.9999997f, 0.9999996f,
                   0.9999995f, 0.9999994f, 0.9999993f, 0.9999992f};
    mi_pk_v8f c = m * 1e-7f;
    mi_pk_v8f a0 = m, a1 = m + 1, a2 = m + 2, a3 = m + 3, a4 = m + 4, a5 = m + 5;
    mi_pk_v8f a6 = m + 6, a7 = m + 7, a8 = m + 8, a9 = m + 9, a10 = m + 10, a11 = m + 11;
    for (long i = 0; i < iters; ++i) {
        a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
        a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
        a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;
    }
    mi_pk_v8f s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

#endif /* MICROINIT_FMA_PEAK_H */

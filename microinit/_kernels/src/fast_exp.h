/* exp over a float32 row, 8 lanes at a time. Softmax is mostly exps, and libm's expf
   is a scalar call per element (gcc maps it to glibc's vector variants only under
   -ffast-math, with libmvec linked): a (32, 10) forward spent ~3 of its ~4 us there.
   This is the Cephes expf (range reduction by ln 2 split in two parts, a degree-6
   polynomial, the exponent written into the bits), <= 1.02 ulp from the exact exp
   over [-87.3, 0], the range x - max(x) takes; below -87.34 it returns 0 (expf would
   give a denormal < 1.2e-38) and NaN stays NaN. GCC vector extensions, as in
   gemm.h: AVX2 with -march=native, pairs of SSE operations in portable builds. A row
   is covered by full 8-wide blocks, the last one overlapping the one before (each
   lane's result depends only on its input, so recomputed elements come out the
   same); rows shorter than 8 go through a zero-padded block. */
#ifndef MICROINIT_FAST_EXP_H
#define MICROINIT_FAST_EXP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
typedef float mi_xe_v8sf __attribute__((vector_size(32)));
typedef int32_t mi_xe_v8si __attribute__((vector_size(32)));

static inline mi_xe_v8sf mi_xe_exp8(mi_xe_v8sf x) {
    const mi_xe_v8sf zero = {0, 0, 0, 0, 0, 0, 0, 0};
    const mi_xe_v8sf lo = zero - 87.33654475f, hi = zero + 88.72283905f;
    mi_xe_v8si under = x < lo, over = x > hi;
    mi_xe_v8sf xc = (mi_xe_v8sf)(((mi_xe_v8si)x & ~under) | ((mi_xe_v8si)lo & under));
    xc = (mi_xe_v8sf)(((mi_xe_v8si)xc & ~over) | ((mi_xe_v8si)hi & over));
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (|x / ln 2| < 2^22) */
    mi_xe_v8sf fx = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    mi_xe_v8sf r = xc - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    mi_xe_v8sf y = r * 1.9875691500e-4f + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    mi_xe_v8si n = __builtin_convertvector(fx, mi_xe_v8si);
    y = y * (mi_xe_v8sf)((n + 127) << 23);   /* 2^n, n in [-126, 128] */
    return (mi_xe_v8sf)((mi_xe_v8si)y & ~under);
}

static inline void mi_xe_exp_shifted(const float* x, float m, float* p, ptrdiff_t c) {
    mi_xe_v8sf v;
    ptrdiff_t j;
    if (c < 8) {
        float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(buf, x, (size_t)c * sizeof(float));
        memcpy(&v, buf, sizeof v);
        v = mi_xe_exp8(v - m);
        memcpy(buf, &v, sizeof v);
        memcpy(p, buf, (size_t)c * sizeof(float));
        return;
    }
    for (j = 0; j + 8 <= c; j += 8) {
        memcpy(&v, x + j, sizeof v);
        v = mi_xe_exp8(v - m);
        memcpy(p + j, &v, sizeof v);
    }
    if (j < c) {
        j = c - 8;
        memcpy(&v, x + j, sizeof v);
        v = mi_xe_exp8(v - m);
        memcpy(p + j, &v, sizeof v);
    }
}

#endif /* MICROINIT_FAST_EXP_H */

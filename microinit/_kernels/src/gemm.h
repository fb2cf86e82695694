/* The direct (small-product) GEMM's C functions declared in gemm.pxd: mi_gemv_f/d and
   mi_direct_f/d (gemm_direct_body.h has the code and says how it works).

   A build for the machine it runs on (-march=native, or any target with AVX2)
   compiles them once, for that target. A build for no particular x86 CPU
   (MICROINIT_PORTABLE=1) would otherwise get SSE2 code for 32-byte vectors -- 13 to
   40 times slower on the tiny products of small networks (docs/building.md) -- so
   with gcc it compiles them twice, for AVX2 + FMA and for the baseline, and each call
   goes to the AVX2 one when the CPU has AVX2 and FMA (the packed GEMM's check,
   mi_pk_variant in gemm_packed.h, made once). */
#ifndef MICROINIT_GEMM_H
#define MICROINIT_GEMM_H

#include "gemm_packed.h"

#if MI_PK_X86 && !defined(__clang__) && !defined(__AVX2__)
#define MI_DIRECT_DISPATCH 1
#else
#define MI_DIRECT_DISPATCH 0
#endif

#if MI_DIRECT_DISPATCH
/* gcc's target pragma also defines __AVX__ / __AVX2__ inside the region, so the body
   takes its AVX paths there */
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define MI_DIRECT_SFX(name) name##_avx2
#include "gemm_direct_body.h"
#undef MI_DIRECT_SFX
#pragma GCC pop_options
#define MI_DIRECT_SFX(name) name##_base
#include "gemm_direct_body.h"
#undef MI_DIRECT_SFX

#define MI_DIRECT_USE_AVX2 (mi_pk_variant() >= 1)
static MI_MAYBE_UNUSED void mi_gemv_f(long m, long k, const float *M, long ldm, const float *x,
                                      float *y, long incy, int add)
{
    if (MI_DIRECT_USE_AVX2)
        mi_gemv_f_avx2(m, k, M, ldm, x, y, incy, add);
    else
        mi_gemv_f_base(m, k, M, ldm, x, y, incy, add);
}
static MI_MAYBE_UNUSED void mi_gemv_d(long m, long k, const double *M, long ldm, const double *x,
                                      double *y, long incy, int add)
{
    if (MI_DIRECT_USE_AVX2)
        mi_gemv_d_avx2(m, k, M, ldm, x, y, incy, add);
    else
        mi_gemv_d_base(m, k, M, ldm, x, y, incy, add);
}
static MI_MAYBE_UNUSED void mi_direct_f(long m, long n, long kc, const float *A, long a_rs,
                                        long a_cs, const float *B, long ps, long js, float *C,
                                        long c_rs, long c_cs, int add, int tc, float *buf)
{
    if (MI_DIRECT_USE_AVX2)
        mi_direct_f_avx2(m, n, kc, A, a_rs, a_cs, B, ps, js, C, c_rs, c_cs, add, tc, buf);
    else
        mi_direct_f_base(m, n, kc, A, a_rs, a_cs, B, ps, js, C, c_rs, c_cs, add, tc, buf);
}
static MI_MAYBE_UNUSED void mi_direct_d(long m, long n, long kc, const double *A, long a_rs,
                                        long a_cs, const double *B, long ps, long js, double *C,
                                        long c_rs, long c_cs, int add, int tc, double *buf)
{
    if (MI_DIRECT_USE_AVX2)
        mi_direct_d_avx2(m, n, kc, A, a_rs, a_cs, B, ps, js, C, c_rs, c_cs, add, tc, buf);
    else
        mi_direct_d_base(m, n, kc, A, a_rs, a_cs, B, ps, js, C, c_rs, c_cs, add, tc, buf);
}
#else
#define MI_DIRECT_SFX(name) name
#include "gemm_direct_body.h"
#undef MI_DIRECT_SFX
#endif

#endif /* MICROINIT_GEMM_H */

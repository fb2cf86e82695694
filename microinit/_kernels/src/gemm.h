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

/* NAME PARAMS calls NAME_avx2 ARGS where the CPU has AVX2 and FMA, else NAME_base */
#define MI_DIRECT_DISPATCHED(NAME, PARAMS, ARGS)                                  \
    static MI_MAYBE_UNUSED void NAME PARAMS                                       \
    {                                                                             \
        if (mi_pk_variant() >= 1)                                                 \
            NAME##_avx2 ARGS;                                                     \
        else                                                                      \
            NAME##_base ARGS;                                                     \
    }
#define MI_GEMV_PARAMS(T) (long m, long k, const T *M, long ldm, const T *x, T *y, long incy, \
                           int add)
#define MI_DIRECT_PARAMS(T) (long m, long n, long kc, const T *A, long a_rs, long a_cs,    \
                             const T *B, long ps, long js, T *C, long c_rs, long c_cs,     \
                             int add, int tc, T *buf)
#define MI_GEMV_ARGS (m, k, M, ldm, x, y, incy, add)
#define MI_DIRECT_ARGS (m, n, kc, A, a_rs, a_cs, B, ps, js, C, c_rs, c_cs, add, tc, buf)
MI_DIRECT_DISPATCHED(mi_gemv_f, MI_GEMV_PARAMS(float), MI_GEMV_ARGS)
MI_DIRECT_DISPATCHED(mi_gemv_d, MI_GEMV_PARAMS(double), MI_GEMV_ARGS)
MI_DIRECT_DISPATCHED(mi_direct_f, MI_DIRECT_PARAMS(float), MI_DIRECT_ARGS)
MI_DIRECT_DISPATCHED(mi_direct_d, MI_DIRECT_PARAMS(double), MI_DIRECT_ARGS)
#else
#define MI_DIRECT_SFX(name) name
#include "gemm_direct_body.h"
#undef MI_DIRECT_SFX
#endif

#endif /* MICROINIT_GEMM_H */

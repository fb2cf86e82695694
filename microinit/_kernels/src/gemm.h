/* The direct (small-product) GEMM's C functions declared in gemm.pxd: mi_gemv_f/d and
   mi_direct_f/d (gemm_direct_body.h has the code and says how it works), and
   mi_direct_lanes_f/d, the vector width of the variant in use.

   With gcc on x86 the body is compiled three times and each call goes to the variant
   the packed GEMM chose (mi_pk_variant in gemm_packed.h: the CPU's best, or the one
   MICROINIT_GEMM_ISA=avx2|base forces, decided once at the first call):

     avx512  64-byte vectors: tiles of up to 8 rows x 32 floats (16 zmm accumulators)
             or 8 x 16 doubles; ragged columns stored through AVX-512 mask registers
     avx2    32-byte vectors: tiles of up to 6 rows x 16 floats / 6 x 8 doubles
     base    32-byte vectors for the build's own target: SSE2 pairs in a portable
             build (MICROINIT_PORTABLE=1), whatever -march=native allows otherwise

   Without the dispatch a portable build would get SSE2 code -- 13 to 40 times slower
   on the tiny products of small networks (docs/building.md). Other compilers and
   CPUs compile the body once, with 32-byte vectors. */
#ifndef MICROINIT_GEMM_H
#define MICROINIT_GEMM_H

#include "gemm_packed.h"

#if MI_PK_X86 && !defined(__clang__)
#define MI_DIRECT_DISPATCH 1
#else
#define MI_DIRECT_DISPATCH 0
#endif

#if MI_DIRECT_DISPATCH
/* gcc's target pragma also defines __AVX__ / __AVX2__ / __AVX512F__ inside the
   region, so the body takes its AVX paths there */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#define MI_DIRECT_SFX(name) name##_avx512
#define MI_DVB 64
#define MI_DR 8
#include "gemm_direct_body.h"
#undef MI_DR
#undef MI_DVB
#undef MI_DIRECT_SFX
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define MI_DIRECT_SFX(name) name##_avx2
#define MI_DVB 32
#define MI_DR 6
#include "gemm_direct_body.h"
#undef MI_DIRECT_SFX
#pragma GCC pop_options
#define MI_DIRECT_SFX(name) name##_base
#include "gemm_direct_body.h"
#undef MI_DIRECT_SFX
#undef MI_DR
#undef MI_DVB

/* NAME PARAMS calls the variant mi_pk_variant() chose (2 avx512, 1 avx2, 0 base) */
#define MI_DIRECT_DISPATCHED(NAME, PARAMS, ARGS)                                  \
    static MI_MAYBE_UNUSED void NAME PARAMS                                       \
    {                                                                             \
        int v_ = mi_pk_variant();                                                 \
        if (v_ == 2)                                                              \
            NAME##_avx512 ARGS;                                                   \
        else if (v_ == 1)                                                         \
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
/* lanes of one vector of the variant in use: a column panel is 2 of them, so
   mi_direct_* needs kc * 2 * lanes elements of buf */
static MI_MAYBE_UNUSED long mi_direct_lanes_f(void) { return mi_pk_variant() == 2 ? 16 : 8; }
static MI_MAYBE_UNUSED long mi_direct_lanes_d(void) { return mi_pk_variant() == 2 ? 8 : 4; }
#else
#define MI_DIRECT_SFX(name) name
#define MI_DVB 32
#define MI_DR 6
#include "gemm_direct_body.h"
#undef MI_DR
#undef MI_DVB
#undef MI_DIRECT_SFX
static MI_MAYBE_UNUSED long mi_direct_lanes_f(void) { return 8; }
static MI_MAYBE_UNUSED long mi_direct_lanes_d(void) { return 4; }
#endif

#endif /* MICROINIT_GEMM_H */

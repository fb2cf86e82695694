/* The GEMM of gemm.pxd for products of at least MI_PACKED_MIN multiply-adds, with its
   instruction set chosen at run time.

       C[m, n] (+)= op(A)[m, k] @ op(B)[k, n]         mi_pk_gemm_f / mi_pk_gemm_d

   Goto & van de Geijn's blocking: B is packed into KC x NR panels, A into MC x KC
   blocks of MR-row panels, and an MR x NR register tile accumulates each rank-KC
   update. Products of row-major operands up to MI_PK_SMALL_MAX multiply-adds on one
   thread skip the packing (mi_pk_small): the same tile reads full panels of A and B
   where they are (at n = 96 packing took a fifth of the time).

   The packing, the tile and the loops over a block are compiled once per instruction
   set (gemm_packed_body.h, through gemm_packed_variant.h) and the first call picks
   the best one the CPU runs (__builtin_cpu_supports):

     avx512  12 x 32 floats / 12 x 16 doubles: 24 zmm accumulators, 2 loads of B and
             one broadcast of A per depth step (measured faster than 14 x 32 and 8 x 48)
     avx2    6 x 16 floats / 6 x 8 doubles: 12 ymm accumulators of 16
     base    6 x 8 floats / 6 x 4 doubles in 16-byte vectors (SSE2, or NEON etc.)

   So a build without -march=native (MICROINIT_PORTABLE=1, a wheel) runs the same
   AVX-512 tile as a native one. MICROINIT_GEMM_ISA=avx2|base, read at the first call,
   forces a smaller variant (the tests run each); a name the CPU cannot run, or any
   other value, leaves the automatic choice. mi_pk_isa() names the choice.

   Threads (OpenMP, one parallel region per product): each takes a range of columns
   and runs the one-thread loops on it, or, for a product too narrow for that, the
   KC x NC block of B is packed by all threads (panels split), then the row blocks of
   A are split, each thread packing its own block; blocks are of equal height (a
   multiple of MR) and their count a multiple of the thread count, so two threads get
   equal work. Packed buffers are 64-byte aligned. */
#ifndef MICROINIT_GEMM_PACKED_H
#define MICROINIT_GEMM_PACKED_H

#include "mi_compiler.h"
#include "omp_threads.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define MI_PK_X86 1
#include <immintrin.h>
#else
#define MI_PK_X86 0
#endif

#if defined(__clang__)
#define MI_PK_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define MI_PK_UNROLL _Pragma("GCC unroll 32")
#else
#define MI_PK_UNROLL
#endif

/* Up to this many multiply-adds a product of row-major operands on one thread
   reads them in place (mi_pk_small) instead of packing */
#define MI_PK_SMALL_MAX (200L * 200 * 200)

/* depth block of mi_pk_small, whose panel buffers are on the stack */
#define MI_PK_SMALL_KC 256

/* columns of B per block: the packed KC x NC block is shared by all row blocks */
#define MI_PK_NC 4096

/* A variant's functions and sizes for scalar T (gemm_packed_body.h fills one). */
#define MI_PK_OPS_TYPE(NAME, T)                                                   \
    typedef struct {                                                              \
        int mr, nr, kc, mc;                                                       \
        long (*pack_a)(long mc, long kc, const T *A, long lda, int ta, T *Ap);    \
        void (*pack_b)(long kc, long nc, const T *B, long ldb, int tb, T *Bp);    \
        void (*block)(long mc, long nc, long kc, const T *Ap, long a_ld,          \
                      const T *Bp, T *C, long ldc, int add);                      \
        void (*small)(long m, long n, long k, const T *A, long lda, const T *B,   \
                      long ldb, T *C, long ldc, int accumulate);                  \
        const char *name;                                                         \
    } NAME;
MI_PK_OPS_TYPE(mi_pk_ops_f_t, float)
MI_PK_OPS_TYPE(mi_pk_ops_d_t, double)

#if MI_PK_X86
#include "transpose_avx.h"
#endif

/* The variants: each defines its settings and includes gemm_packed_body.h twice
   (MI_PK_DOUBLE 0, then 1), which maps the _F or _D sizes onto one type. Tile sizes
   and blocking measured on an AVX-512 Xeon (docs/building.md). */
#if MI_PK_X86
#define MI_PK_SFX avx512
#define MI_PK_TGT __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define MI_PK_VB 64
#define MI_PK_HAVE_TR 1
#define MI_PK_MR_F 12
#define MI_PK_NV_F 2
#define MI_PK_KC_F 512
#define MI_PK_MC_F 288
#define MI_PK_MR_D 12
#define MI_PK_NV_D 2
#define MI_PK_KC_D 256
#define MI_PK_MC_D 144
#include "gemm_packed_variant.h"

#define MI_PK_SFX avx2
#define MI_PK_TGT __attribute__((target("avx2,fma")))
#define MI_PK_VB 32
#define MI_PK_HAVE_TR 1
#define MI_PK_MR_F 6
#define MI_PK_NV_F 2
#define MI_PK_KC_F 256
#define MI_PK_MC_F 144
#define MI_PK_MR_D 6
#define MI_PK_NV_D 2
#define MI_PK_KC_D 256
#define MI_PK_MC_D 72
#include "gemm_packed_variant.h"
#endif

#define MI_PK_SFX base
#define MI_PK_TGT
#define MI_PK_VB 16
#define MI_PK_HAVE_TR 0
#define MI_PK_MR_F 6
#define MI_PK_NV_F 2
#define MI_PK_KC_F 256
#define MI_PK_MC_F 96
#define MI_PK_MR_D 6
#define MI_PK_NV_D 2
#define MI_PK_KC_D 256
#define MI_PK_MC_D 48
#include "gemm_packed_variant.h"

/* The variant the CPU runs best, or MICROINIT_GEMM_ISA's if the CPU supports it. */
static MI_MAYBE_UNUSED int mi_pk_choose(void)
{
    const char *want = getenv("MICROINIT_GEMM_ISA");
    int best = 0; /* 0 base, 1 avx2, 2 avx512 */
#if MI_PK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = 1;
    if (best == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        best = 2;
#endif
    if (want && strcmp(want, "base") == 0)
        return 0;
    if (want && strcmp(want, "avx2") == 0 && best >= 1)
        return 1;
    return best;
}

/* chosen once per extension module; every thread computes the same answer, so the
   unsynchronised first store is benign (atomic to stay well-defined) */
static MI_MAYBE_UNUSED int mi_pk_variant(void)
{
    static int chosen = -1;
    int v = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (v < 0) {
        v = mi_pk_choose();
        __atomic_store_n(&chosen, v, __ATOMIC_RELAXED);
    }
    return v;
}

#if MI_PK_X86
#define MI_PK_OPS(NAME, OPS_T, AVX512, AVX2, BASE)                                \
static MI_MAYBE_UNUSED const OPS_T *NAME(void)                                    \
{                                                                                 \
    int v = mi_pk_variant();                                                      \
    return v == 2 ? &AVX512 : v == 1 ? &AVX2 : &BASE;                             \
}
#else
#define MI_PK_OPS(NAME, OPS_T, AVX512, AVX2, BASE)                                \
static MI_MAYBE_UNUSED const OPS_T *NAME(void) { return &BASE; }
#endif
MI_PK_OPS(mi_pk_ops_f, mi_pk_ops_f_t, mi_pk_ops_f_avx512, mi_pk_ops_f_avx2, mi_pk_ops_f_base)
MI_PK_OPS(mi_pk_ops_d, mi_pk_ops_d_t, mi_pk_ops_d_avx512, mi_pk_ops_d_avx2, mi_pk_ops_d_base)
/* the name of the variant in use: "avx512", "avx2" or "base" */
static MI_MAYBE_UNUSED const char *mi_pk_isa(void) { return mi_pk_ops_f()->name; }

/* rows_done(ctx, r0, r1): rows r0..r1-1 of C hold their final values. A caller that
   works on C row by row afterwards (the compiled step's parameter update, program.pyx)
   passes one to do that while the rows are still in cache; NULL for none. */
typedef void (*mi_rows_done_fn)(void *ctx, long r0, long r1);

/* MI_PK_GEMM(name, T, OPS): the driver. Returns -1 if the workspace could not be
   allocated, else 0. k >= 1, m, n >= 1; nthreads >= 1 is the team size.
   rows_done, when not NULL, is called for every row of C exactly once after that row
   is final: on one thread after each row block of the last depth and column block
   (a block of A is at most MC rows), otherwise once for all rows at the end.
   With several threads and at least MI_PK_COL_SPLIT column panels per thread, each
   thread takes a contiguous range of columns and runs the one-thread algorithm on it
   (its own packed B, every row block of A): no barrier and no packed data shared
   between cores. Narrower products share one packed B block (each thread packs some
   of its panels) and split the row blocks of A, two barriers per depth block. */
#define MI_PK_GEMM(NAME, T, OPS_T, OPS)                                           \
static MI_MAYBE_UNUSED int NAME(long m, long n, long k, const T *A, long lda, int ta, \
                                const T *B, long ldb, int tb, T *C, long ldc,     \
                                int accumulate, int nthreads,                     \
                                mi_rows_done_fn rows_done, void *done_ctx)        \
{                                                                                 \
    typedef T mi_pk_T_; /* for MI_PK_PACK_B and MI_PK_BLOCKS */                   \
    const OPS_T *o = OPS();                                                       \
    if (!ta && !tb && nthreads <= 1 && m * n * k <= MI_PK_SMALL_MAX) {            \
        o->small(m, n, k, A, lda, B, ldb, C, ldc, accumulate);                    \
        if (rows_done) rows_done(done_ctx, 0, m);                                 \
        return 0;                                                                 \
    }                                                                             \
    long MR = o->mr, NR = o->nr, npan_all = (n + NR - 1) / NR;                    \
    long kc_max = k < o->kc ? k : o->kc;                                          \
    int nt = MI_HAS_OPENMP && nthreads > 1 ? nthreads : 1;                        \
    int col_split = nt > 1 && npan_all >= (long)nt * MI_PK_COL_SPLIT;             \
    long nc_max = col_split ? (npan_all + nt - 1) / nt * NR : n;                  \
    if (nc_max > MI_PK_NC) nc_max = MI_PK_NC;                                     \
    long nc_pad = (nc_max + NR - 1) / NR * NR;                                    \
    /* row blocks of equal height, a multiple of MR, their count a multiple of the \
       threads that split them */                                                 \
    int row_nt = col_split ? 1 : nt;                                              \
    long nblk = (m + o->mc - 1) / o->mc;                                          \
    nblk = (nblk + row_nt - 1) / row_nt * row_nt;                                 \
    long mc_blk = ((m + nblk - 1) / nblk + MR - 1) / MR * MR;                     \
    nblk = (m + mc_blk - 1) / mc_blk;                                             \
    if (!col_split && nt > nblk) nt = (int)nblk;                                  \
    /* rows are handed over block by block on one thread, else all at the end */  \
    mi_rows_done_fn done_blk = nt == 1 ? rows_done : NULL;                        \
    /* 64-byte aligned pieces: B's block (one per thread when the columns are     \
       split), then one A block per thread */                                     \
    long b_sz = (kc_max * nc_pad + 15) / 16 * 16;                                 \
    /* (an A block in rows takes two more lines per row: pack_a) */                \
    long a_sz = ((kc_max + 128 / (long)sizeof(T)) * mc_blk + 15) / 16 * 16;        \
    long nb = col_split ? nt : 1;                                                 \
    char *raw = (char *)malloc(sizeof(T) * (nb * b_sz + nt * a_sz) + 64);         \
    if (raw == NULL) return -1;                                                   \
    T *Bws = (T *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);                       \
    T *Aws = Bws + nb * b_sz;                                                     \
    MI_PK_PARALLEL                                                                \
    {                                                                             \
        /* the team OpenMP gave (it may be smaller than asked for) */             \
        int tid = MI_PK_TID, team = MI_PK_TEAM;                                   \
        T *Ap = Aws + a_sz * tid, *Bp = Bws;                                      \
        long j_lo = 0, j_hi = n;                                                  \
        if (col_split) {                                                          \
            Bp = Bws + b_sz * tid;                                                \
            j_lo = tid * npan_all / team * NR;                                    \
            j_hi = (tid + 1) * npan_all / team * NR;                              \
            if (j_hi > n) j_hi = n;                                               \
        }                                                                         \
        /* nc_max columns at a time: what a B block holds */                      \
        for (long jc = j_lo; jc < j_hi; jc += nc_max) {                           \
            long nc = j_hi - jc < nc_max ? j_hi - jc : nc_max;                    \
            long npan = (nc + NR - 1) / NR;                                       \
            for (long pc = 0; pc < k; pc += o->kc) {                              \
                long kc = k - pc < o->kc ? k - pc : o->kc;                        \
                int add = accumulate || pc > 0;                                   \
                if (col_split) {                                                  \
                    MI_PK_PACK_B(0, npan)                                         \
                    MI_PK_BLOCKS(0, nblk)                                         \
                } else {                                                          \
                    MI_PK_FOR                                                     \
                    MI_PK_PACK_B(0, npan)                                         \
                    MI_PK_FOR                                                     \
                    MI_PK_BLOCKS(0, nblk)                                         \
                }                                                                 \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    free(raw);                                                                    \
    if (rows_done && !done_blk) rows_done(done_ctx, 0, m);                        \
    return 0;                                                                     \
}
/* the loops of MI_PK_GEMM that a team splits, or one thread runs whole */
#define MI_PK_PACK_B(lo, hi)                                                      \
    for (long pj = lo; pj < hi; ++pj) {                                           \
        long jr = pj * NR, cols = nc - jr < NR ? nc - jr : NR;                    \
        const mi_pk_T_ *src = tb ? B + (jc + jr) * ldb + pc : B + pc * ldb + jc + jr; \
        o->pack_b(kc, cols, src, ldb, tb, Bp + jr * kc);                          \
    }
#define MI_PK_BLOCKS(lo, hi)                                                      \
    for (long bi = lo; bi < hi; ++bi) {                                           \
        long ic = bi * mc_blk, mc = m - ic < mc_blk ? m - ic : mc_blk;            \
        const mi_pk_T_ *src = ta ? A + pc * lda + ic : A + ic * lda + pc;         \
        long a_ld = o->pack_a(mc, kc, src, lda, ta, Ap);                          \
        o->block(mc, nc, kc, Ap, a_ld, Bp, C + ic * ldc + jc, ldc, add);          \
        if (done_blk && pc + kc >= k && jc + nc >= j_hi)                          \
            done_blk(done_ctx, ic, ic + mc);                                      \
    }
/* column panels per thread from which threads split the columns */
#define MI_PK_COL_SPLIT 4
#ifdef _OPENMP
#define MI_PK_PARALLEL _Pragma("omp parallel num_threads(nt) if(nt > 1)")
#define MI_PK_FOR _Pragma("omp for schedule(static)")
#define MI_PK_TID omp_get_thread_num()
#define MI_PK_TEAM omp_get_num_threads()
#else
#define MI_PK_PARALLEL
#define MI_PK_FOR
#define MI_PK_TID 0
#define MI_PK_TEAM 1
#endif
MI_PK_GEMM(mi_pk_gemm_f, float, mi_pk_ops_f_t, mi_pk_ops_f)
MI_PK_GEMM(mi_pk_gemm_d, double, mi_pk_ops_d_t, mi_pk_ops_d)

#endif /* MICROINIT_GEMM_PACKED_H */

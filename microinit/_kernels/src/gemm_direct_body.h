/* The register-tiled micro-kernels of the direct (small-product) GEMM in gemm.pxd,
   which declares them for Cython (through gemm.h) and holds the blocking loops around
   them. Included by gemm.h once per instruction-set variant: every function name
   below goes through MI_DIRECT_SFX (defined by gemm.h), and no header guard. gemm.h
   also sets the variant's vector size MI_DVB (64 bytes for AVX-512, else 32) and its
   tile height MI_DR (8 rows with AVX-512's 32 registers, else 6).

   Written in C with gcc/clang vector extensions so that a 6 x 16 float tile provably
   lives in 12 ymm registers, an 8 x 32 one in 16 zmm (no reliance on the optimiser
   scalar-replacing a local array). 32-byte vector types lower to AVX2 FMA where the
   target has it and to pairs of SSE operations otherwise: correct everywhere. The few
   shuffles (8 x 8 transposes, 4-way horizontal sums) use AVX intrinsics when the
   compiler targets AVX and plain C otherwise; the AVX-512 variant stores ragged
   columns and copies ragged panel rows through mask registers. */
#include "mi_compiler.h"
#include <string.h>
#ifdef __AVX__
#include <immintrin.h>
#endif
/* this variant's names (gemm.h: MI_DIRECT_SFX) */
#define mi_hsum4_f MI_DIRECT_SFX(mi_hsum4_f)
#define mi_hsum4_d MI_DIRECT_SFX(mi_hsum4_d)
#define mi_put_f MI_DIRECT_SFX(mi_put_f)
#define mi_put_d MI_DIRECT_SFX(mi_put_d)
#define mi_store_f MI_DIRECT_SFX(mi_store_f)
#define mi_store_d MI_DIRECT_SFX(mi_store_d)
#define mi_tile_f_ MI_DIRECT_SFX(mi_tile_f_)
#define mi_tile_d_ MI_DIRECT_SFX(mi_tile_d_)
#define mi_panel_f MI_DIRECT_SFX(mi_panel_f)
#define mi_panel_d MI_DIRECT_SFX(mi_panel_d)
#define mi_pack_panel_f MI_DIRECT_SFX(mi_pack_panel_f)
#define mi_pack_panel_d MI_DIRECT_SFX(mi_pack_panel_d)
#define mi_gemv_f MI_DIRECT_SFX(mi_gemv_f)
#define mi_gemv_d MI_DIRECT_SFX(mi_gemv_d)
#define mi_direct_f MI_DIRECT_SFX(mi_direct_f)
#define mi_direct_d MI_DIRECT_SFX(mi_direct_d)
#define mi_vf MI_DIRECT_SFX(mi_vf)
#define mi_vd MI_DIRECT_SFX(mi_vd)
#define mi_vfu MI_DIRECT_SFX(mi_vfu)
#define mi_vdu MI_DIRECT_SFX(mi_vdu)
#define mi_padrow_f MI_DIRECT_SFX(mi_padrow_f)
#define mi_padrow_d MI_DIRECT_SFX(mi_padrow_d)
#define mi_hsum8_f MI_DIRECT_SFX(mi_hsum8_f)
#define mi_hsum4x4_d MI_DIRECT_SFX(mi_hsum4x4_d)
#define mi_putv_f MI_DIRECT_SFX(mi_putv_f)
#define mi_putv_d MI_DIRECT_SFX(mi_putv_d)
#define mi_half_f MI_DIRECT_SFX(mi_half_f)
#define mi_half_d MI_DIRECT_SFX(mi_half_d)
/* this variant's vectors: MI_DVB bytes (gemm.h: 64 for AVX-512, else 32), of MI_LF
   floats or MI_LD doubles; tiles of up to MI_DR rows (8 for AVX-512, else 6) */
#define MI_LF (MI_DVB / 4)
#define MI_LD (MI_DVB / 8)
#define MI_DR_MAX 8
typedef float mi_vf __attribute__((vector_size(MI_DVB)));
typedef double mi_vd __attribute__((vector_size(MI_DVB)));
/* the same vectors at element alignment: loads/stores through these become vmovups */
typedef float mi_vfu __attribute__((vector_size(MI_DVB), aligned(4), may_alias));
typedef double mi_vdu __attribute__((vector_size(MI_DVB), aligned(8), may_alias));
#define MI_AI static inline __attribute__((always_inline))
/* loops over tile rows, fully unrolled so the accumulators stay in registers */
#if defined(__GNUC__) && !defined(__clang__)
#define MI_UNROLL _Pragma("GCC unroll 8")
#elif defined(__clang__)
#define MI_UNROLL _Pragma("unroll")
#else
#define MI_UNROLL
#endif
/* gcc turns the short element loops below (ragged stores, panel copies) into
   memcpy/memset calls, each a call plus vzeroupper costing more than the copy. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* One depth step of an R x W-vector tile into accumulator set X (X00 .. X71): row i
   of A times the W vectors of B at Bq. R and W are compile-time constants at every
   call (mi_panel_* below switches on them), so the untaken rows cost nothing and rows
   of A past R are never read. */
#define MI_ROW(X, i, off, b0, b1)                                                 \
    if (R > i) {                                                                  \
        mi_T a_ = r##i[off];                                                      \
        X##i##0 += a_ * b0;                                                       \
        if (W > 1) X##i##1 += a_ * b1;                                            \
    }
#define MI_STEP(X, off, Bq)                                                       \
    {                                                                             \
        mi_V b0 = *(const mi_VU *)(Bq), b1 = b0;                                  \
        if (W > 1) b1 = *(const mi_VU *)((Bq) + mi_L);                            \
        MI_ROW(X, 0, off, b0, b1) MI_ROW(X, 1, off, b0, b1)                       \
        MI_ROW(X, 2, off, b0, b1) MI_ROW(X, 3, off, b0, b1)                       \
        MI_ROW(X, 4, off, b0, b1) MI_ROW(X, 5, off, b0, b1)                       \
        MI_ROW(X, 6, off, b0, b1) MI_ROW(X, 7, off, b0, b1)                       \
    }
#define MI_ACC_DECL(X)                                                            \
    mi_V X##00 = {0}, X##01 = {0}, X##10 = {0}, X##11 = {0}, X##20 = {0}, X##21 = {0}, \
         X##30 = {0}, X##31 = {0}, X##40 = {0}, X##41 = {0}, X##50 = {0}, X##51 = {0}, \
         X##60 = {0}, X##61 = {0}, X##70 = {0}, X##71 = {0};
#define MI_ACC_ADD(X, Y)                                                          \
    X##00 += Y##00; X##01 += Y##01; X##10 += Y##10; X##11 += Y##11;               \
    X##20 += Y##20; X##21 += Y##21; X##30 += Y##30; X##31 += Y##31;               \
    X##40 += Y##40; X##41 += Y##41; X##50 += Y##50; X##51 += Y##51;               \
    X##60 += Y##60; X##61 += Y##61; X##70 += Y##70; X##71 += Y##71;

/* the horizontal sums and the tile stores: gemm_direct_store.h (defines MI_HAVE_TR) */
#include "gemm_direct_store.h"

/* MI_TILE(name, T, V, VU, L) defines, for scalar T with vector types V (aligned) and
   VU (element-aligned) of L lanes, an R x W*L register tile (R <= 6, W <= 2):
     acc[R][W*L] = sum_p A(0:R, p) (outer) Bp[p * b_rs + 0:W*L],
     A(i, p) = Ap[i * a_rs + p * a_cs]
   (packed: a_rs = 1, a_cs = 6; A read in place: a_rs = lda, a_cs = 1, or a_rs = 1,
   a_cs = lda when transposed; B packed: b_rs = W*L, read in place: b_rs = ldb);
   then C (+)= acc clipped to nr columns: C[i * ldc + j], or with tc the tile of C^T,
   C[j * ldc + i] (STORE: mi_store_f/d). Only the W*L columns of B must be readable past nr (zero-padded
   panels); rows of A past R are never touched.
   FMA latency x throughput needs about 8 independent accumulators: thin tiles
   (R*W <= 6) split the depth loop over 2 or 4 accumulator sets. */
#define MI_TILE(NAME, T, V, VU, L, STORE)                                         \
MI_AI void NAME(const int R, const int W, long kc, const T *Ap, long a_rs, long a_cs, \
                const T *Bp, long b_rs, T *C, long ldc, long nr, int add, int tc) \
{                                                                                 \
    typedef T mi_T; typedef V mi_V; typedef VU mi_VU; enum { mi_L = L };          \
    const int S = R * W <= 2 ? 4 : (R * W <= 6 ? 2 : 1);                           \
    const T *r0 = Ap, *r1 = Ap, *r2 = Ap, *r3 = Ap, *r4 = Ap, *r5 = Ap, *r6 = Ap, *r7 = Ap; \
    if (R > 1) r1 = Ap + a_rs;                                                    \
    if (R > 2) r2 = Ap + 2 * a_rs;                                                \
    if (R > 3) r3 = Ap + 3 * a_rs;                                                \
    if (R > 4) r4 = Ap + 4 * a_rs;                                                \
    if (R > 5) r5 = Ap + 5 * a_rs;                                                \
    if (R > 6) r6 = Ap + 6 * a_rs;                                                \
    if (R > 7) r7 = Ap + 7 * a_rs;                                                \
    MI_ACC_DECL(c) MI_ACC_DECL(d) MI_ACC_DECL(e) MI_ACC_DECL(f)                   \
    long pa = 0, p = 0;                                                           \
    if (S == 4) {                                                                 \
        for (; p + 4 <= kc; p += 4) {                                             \
            MI_STEP(c, pa, Bp) MI_STEP(d, pa + a_cs, Bp + b_rs)                   \
            MI_STEP(e, pa + 2 * a_cs, Bp + 2 * b_rs)                              \
            MI_STEP(f, pa + 3 * a_cs, Bp + 3 * b_rs)                              \
            pa += 4 * a_cs; Bp += 4 * b_rs;                                       \
        }                                                                         \
        MI_ACC_ADD(c, e) MI_ACC_ADD(d, f)                                         \
    }                                                                             \
    if (S >= 2) {                                                                 \
        for (; p + 2 <= kc; p += 2) {                                             \
            MI_STEP(c, pa, Bp) MI_STEP(d, pa + a_cs, Bp + b_rs)                   \
            pa += 2 * a_cs; Bp += 2 * b_rs;                                       \
        }                                                                         \
        MI_ACC_ADD(c, d)                                                          \
    }                                                                             \
    for (; p < kc; ++p) {                                                         \
        MI_STEP(c, pa, Bp)                                                        \
        pa += a_cs; Bp += b_rs;                                                   \
    }                                                                             \
    if (!tc && nr == W * L) {                                                     \
        MI_PUTROW(0, c00, c01) MI_PUTROW(1, c10, c11) MI_PUTROW(2, c20, c21)      \
        MI_PUTROW(3, c30, c31) MI_PUTROW(4, c40, c41) MI_PUTROW(5, c50, c51)      \
        MI_PUTROW(6, c60, c61) MI_PUTROW(7, c70, c71)                             \
    } else {                                                                      \
        V acc[16] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51,  \
                     c60, c61, c70, c71};                                         \
        STORE(R, W, acc, C, ldc, nr, add, tc);                                    \
    }                                                                             \
}
/* a full row i of a tile, straight from its registers */
#define MI_PUTROW(i, v0, v1)                                                      \
    if (R > i) {                                                                  \
        mi_T *row_ = C + i * ldc;                                                 \
        mi_V x0_ = v0;                                                            \
        if (add) x0_ += *(mi_VU *)row_;                                           \
        *(mi_VU *)row_ = x0_;                                                     \
        if (W > 1) {                                                              \
            mi_V x1_ = v1;                                                        \
            if (add) x1_ += *(mi_VU *)(row_ + mi_L);                              \
            *(mi_VU *)(row_ + mi_L) = x1_;                                        \
        }                                                                         \
    }
MI_TILE(mi_tile_f_, float, mi_vf, mi_vfu, MI_LF, mi_store_f)
MI_TILE(mi_tile_d_, double, mi_vd, mi_vdu, MI_LD, mi_store_d)

/* mi_panel_f / mi_panel_d: all m rows of op(A) against one column panel of W
   vectors (W = 1..2, run time): full 6-row tiles in a loop, then one tile of the
   remaining rows, each a specialisation of the tile above (one switch per panel,
   not per tile: at k = 1..2 a tile is a few dozen cycles). Consecutive 6-row tiles
   of A start a_ts elements apart (6 * a_rs in place, 6 * kc packed). C(i, j) is at
   C[i * c_rs + j * c_cs]; the tile stores use ldc = c_rs, or c_cs with tc. */
#define MI_PANEL_ROWS(KERN, w)                                                    \
    {                                                                             \
        const T_ *Ar = A;                                                         \
        T_ *Cr = C;                                                               \
        long ir = 0;                                                              \
        for (; ir + MI_DR <= m; ir += MI_DR, Ar += a_ts, Cr += MI_DR * c_rs)      \
            KERN(MI_DR, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc);   \
        switch (m - ir) {                                                         \
        case 1: KERN(1, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
        case 2: KERN(2, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
        case 3: KERN(3, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
        case 4: KERN(4, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
        case 5: KERN(5, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
        case 6: if (MI_DR > 6) KERN(6, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); \
            break;                                                                \
        case 7: if (MI_DR > 7) KERN(7, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); \
            break;                                                                \
        default: break;                                                           \
        }                                                                         \
    }
#define MI_PANEL(NAME, KERN, T)                                                   \
static MI_MAYBE_UNUSED void NAME(long W, long m, long kc, const T *A, long a_rs,  \
                                 long a_cs, long a_ts, const T *Bp, long b_rs, T *C, \
                                 long c_rs, long ldc, long nr, int add, int tc)   \
{                                                                                 \
    typedef T T_;                                                                 \
    if (W == 1) MI_PANEL_ROWS(KERN, 1) else MI_PANEL_ROWS(KERN, 2)                \
}
MI_PANEL(mi_panel_f, mi_tile_f_, float)
MI_PANEL(mi_panel_d, mi_tile_d_, double)

/* dst[0:w] = src[0:cols] followed by zeros (cols < w): one row of a ragged panel.
   AVX-512: masked loads (a 10-column panel row was 16 scalar copies and branches,
   0.2 us of a 1.4 us 32x128x10 product); the others copy elements. */
#if MI_DVB == 64
#define MI_PADROW(NAME, T, LANES, MASK_T, VX, ZERO, MASKZ_LOADU, STOREU)        \
MI_AI void NAME(T *dst, const T *src, long cols, long w)                          \
{                                                                                 \
    for (long c0 = 0; c0 < w; c0 += LANES) {                                      \
        long n = cols - c0;                                                       \
        VX v = ZERO;                                                              \
        if (n > 0)                                                                \
            v = MASKZ_LOADU(n >= LANES ? (MASK_T)~0u : (MASK_T)((1u << n) - 1), src + c0); \
        STOREU(dst + c0, v);                                                      \
    }                                                                             \
}
MI_PADROW(mi_padrow_f, float, 16, __mmask16, __m512, _mm512_setzero_ps(), _mm512_maskz_loadu_ps,
          _mm512_storeu_ps)
MI_PADROW(mi_padrow_d, double, 8, __mmask8, __m512d, _mm512_setzero_pd(), _mm512_maskz_loadu_pd,
          _mm512_storeu_pd)
#else
#define MI_PADROW(NAME, T)                                                        \
MI_AI void NAME(T *dst, const T *src, long cols, long w)                          \
{                                                                                 \
    for (long c = 0; c < w; ++c)                                                  \
        dst[c] = c < cols ? src[c] : 0;                                           \
}
MI_PADROW(mi_padrow_f, float)
MI_PADROW(mi_padrow_d, double)
#endif
#undef MI_PADROW

/* MI_PACK(name, T, L, VU, TR, VT, LOADU, STOREU, ZERO): one panel of op(B) for the tile kernel,
     buf[p * w + c] = op(B)(p, c) = B[p * ps + c * js] for c < cols, 0 for cols <= c < w
   (w = L or 2L). A transposed B (ps == 1: each panel column is a contiguous row of B)
   goes through L x L register transposes, missing rows becoming zero vectors; no
   element past column cols or row kc of op(B) is read. */
#define MI_PACK(NAME, T, L, TL, VU, TR, VT, LOADU, STOREU, ZERO, PADROW)          \
static MI_MAYBE_UNUSED void NAME(long kc, const T *B, long ps, long js, long cols, \
                                 long w, T *buf)                                  \
{                                                                                 \
    long p = 0;                                                                   \
    if (js == 1 && cols == w) {                                                   \
        for (p = 0; p < kc; ++p) {                                                \
            *(VU *)(buf + p * w) = *(const VU *)(B + p * ps);                     \
            if (w > L)                                                            \
                *(VU *)(buf + p * w + L) = *(const VU *)(B + p * ps + L);         \
        }                                                                         \
        return;                                                                   \
    }                                                                             \
    if (js == 1) {                                                                \
        for (p = 0; p < kc; ++p)                                                  \
            PADROW(buf + p * w, B + p * ps, cols, w);                             \
        return;                                                                   \
    }                                                                             \
    if (MI_HAVE_TR && ps == 1) {                                                  \
        for (; p + TL <= kc; p += TL)                                             \
            for (long c0 = 0; c0 < w; c0 += TL) {                                 \
                VT v[TL];                                                         \
                for (long q = 0; q < TL; ++q)                                     \
                    v[q] = c0 + q < cols ? LOADU(B + (c0 + q) * js + p) : ZERO;   \
                TR(v);                                                            \
                for (long q = 0; q < TL; ++q)                                     \
                    STOREU(buf + (p + q) * w + c0, v[q]);                         \
            }                                                                     \
    }                                                                             \
    for (; p < kc; ++p)                                                           \
        for (long c = 0; c < w; ++c)                                              \
            buf[p * w + c] = c < cols ? B[p * ps + c * js] : 0;                   \
}
#ifdef __AVX__
MI_PACK(mi_pack_panel_f, float, MI_LF, MI_TLF, mi_vfu, mi_tr_f, __m256, _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_setzero_ps(), mi_padrow_f)
MI_PACK(mi_pack_panel_d, double, MI_LD, MI_TLD, mi_vdu, mi_tr_d, __m256d, _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_setzero_pd(), mi_padrow_d)
#else
#define MI_NO_TR(v) ((void)0)
#define MI_NO_STORE(p, v) ((void)(p), (void)(v))
MI_PACK(mi_pack_panel_f, float, MI_LF, MI_TLF, mi_vfu, MI_NO_TR, float, *, MI_NO_STORE, 0.0f,
        mi_padrow_f)
MI_PACK(mi_pack_panel_d, double, MI_LD, MI_TLD, mi_vdu, MI_NO_TR, double, *, MI_NO_STORE, 0.0,
        mi_padrow_d)
#endif

/* MI_GEMV(name, T, V, VU, L, HSUM): y[i * incy] (+)= sum_p M[i * ldm + p] * x[p]
   for i < m, with M's rows and x contiguous: one dot product per output, four rows
   at a time, the four vector sums reduced together. The products with a single
   output column (or row) take this instead of a tile with 1 of 8 or 16 lanes used. */
#define MI_GEMV(NAME, T, V, VU, L, HSUM)                                          \
static MI_MAYBE_UNUSED void NAME(long m, long k, const T *M, long ldm, const T *x, \
                                 T *y, long incy, int add)                        \
{                                                                                 \
    long i = 0;                                                                   \
    for (; i < m; i += 4) {                                                       \
        long rows = m - i < 4 ? m - i : 4;                                        \
        const T *a0 = M + i * ldm, *a1 = a0, *a2 = a0, *a3 = a0;                  \
        if (rows > 1) a1 = a0 + ldm;                                              \
        if (rows > 2) a2 = a0 + 2 * ldm;                                          \
        if (rows > 3) a3 = a0 + 3 * ldm;                                          \
        V s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};                                 \
        long p = 0;                                                               \
        for (; p + L <= k; p += L) {                                              \
            V xv = *(const VU *)(x + p);                                          \
            s0 += *(const VU *)(a0 + p) * xv;                                     \
            s1 += *(const VU *)(a1 + p) * xv;                                     \
            s2 += *(const VU *)(a2 + p) * xv;                                     \
            s3 += *(const VU *)(a3 + p) * xv;                                     \
        }                                                                         \
        T t[4];                                                                   \
        HSUM(s0, s1, s2, s3, t);                                                  \
        for (; p < k; ++p) {                                                      \
            t[0] += a0[p] * x[p]; t[1] += a1[p] * x[p];                           \
            t[2] += a2[p] * x[p]; t[3] += a3[p] * x[p];                           \
        }                                                                         \
        for (long q = 0; q < rows; ++q)                                           \
            y[(i + q) * incy] = add ? y[(i + q) * incy] + t[q] : t[q];            \
    }                                                                             \
}
MI_GEMV(mi_gemv_f, float, mi_vf, mi_vfu, MI_LF, mi_hsum4_f)
MI_GEMV(mi_gemv_d, double, mi_vd, mi_vdu, MI_LD, mi_hsum4_d)

/* MI_DIRECT(name, T, L, PANEL, PACK, GEMV): C (+)= op(A)[0:m, 0:kc] @ op(B)[0:kc, 0:n]
   with op(A)(i, p) = A[i * a_rs + p * a_cs] read in place and op(B)(p, j) =
   B[p * ps + j * js]. Column panels of 2L (or L) where op(B) rows are contiguous
   (js == 1) are read in place too; the others, and a ragged last panel, are packed
   into buf (kc * 2L elements) one panel at a time. C(i, j) = C[i * c_rs + j * c_cs],
   tc: C is stored transposed (c_rs == 1).
   A ragged tail of at most L/2 columns is a few dot products per row instead when
   the rows of op(A) are contiguous (a_cs == 1): a padded tile would spend a whole
   vector FMA per row and depth step on it (n = 10 floats: 16 lanes for 10 columns;
   as 8 + 2 it is 1.25 vector FMAs per row and step instead of 2). */
/* Whether `tail` columns cost less as dot products (mi_gemv: per row and column kc/L
   vector FMAs, kc % L scalar ones and about 2 for its share of the 4-row horizontal
   sum) than as one more vector of a padded tile (kc vector FMAs per row). At n = 24,
   k = 24 (16 + 8) the dots cost 11 per row and column against the tile's 24 for all
   8: 3.7x slower, where n = 1 or n = 10 with k = 128 (AVX2: 8 + 2) still take dots. */
#define MI_DOTS_CHEAPER(tail, kc, L) ((tail) * ((kc) / (L) + (kc) % (L) + 2) < (kc))
#define MI_DIRECT(NAME, T, L, PANEL, PACK, GEMV)                                  \
static MI_MAYBE_UNUSED void NAME(long m, long n, long kc, const T *A, long a_rs,  \
                                 long a_cs, const T *B, long ps, long js, T *C,   \
                                 long c_rs, long c_cs, int add, int tc, T *buf)   \
{                                                                                 \
    long ldc = tc ? c_cs : c_rs;                                                  \
    int dot_ok = a_cs == 1 && kc >= L;                                            \
    for (long jr = 0; jr < n;) {                                                  \
        long rem = n - jr, W = rem > L ? 2 : 1, cols = rem < 2 * L ? rem : 2 * L;  \
        if (dot_ok && 2 * rem <= L && MI_DOTS_CHEAPER(rem, kc, L)) {             \
            for (long j = jr; j < n; ++j) {                                       \
                const T *x = B + j * js;                                          \
                if (ps != 1) {                                                    \
                    for (long p = 0; p < kc; ++p)                                 \
                        buf[p] = x[p * ps];                                       \
                    x = buf;                                                      \
                }                                                                 \
                GEMV(m, kc, A, a_rs, x, C + j * c_cs, c_rs, add);                 \
            }                                                                     \
            break;                                                                \
        }                                                                         \
        if (dot_ok && rem > L && rem < 2 * L && 2 * (rem - L) <= L                \
            && MI_DOTS_CHEAPER(rem - L, kc, L)) {                                 \
            W = 1;                                                                \
            cols = L;                                                             \
        }                                                                         \
        const T *bp = B + jr * js;                                                \
        long b_rs = ps;                                                           \
        if (js != 1 || cols != W * L) {                                           \
            PACK(kc, bp, ps, js, cols, W * L, buf);                               \
            bp = buf;                                                             \
            b_rs = W * L;                                                         \
        }                                                                         \
        PANEL(W, m, kc, A, a_rs, a_cs, MI_DR * a_rs, bp, b_rs, C + jr * c_cs, c_rs, ldc, \
              cols, add, tc);                                                     \
        jr += cols;                                                               \
    }                                                                             \
}
MI_DIRECT(mi_direct_f, float, MI_LF, mi_panel_f, mi_pack_panel_f, mi_gemv_f)
MI_DIRECT(mi_direct_d, double, MI_LD, mi_panel_d, mi_pack_panel_d, mi_gemv_d)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* the names are the next variant's (or gemm.h's dispatching wrappers') */
#undef mi_hsum4_f
#undef mi_hsum4_d
#undef mi_put_f
#undef mi_put_d
#undef mi_store_f
#undef mi_store_d
#undef mi_tile_f_
#undef mi_tile_d_
#undef mi_panel_f
#undef mi_panel_d
#undef mi_pack_panel_f
#undef mi_pack_panel_d
#undef mi_gemv_f
#undef mi_gemv_d
#undef mi_direct_f
#undef mi_direct_d
#undef MI_HAVE_TR
#undef mi_tr_f
#undef mi_tr_d
#undef MI_NO_TR
#undef MI_NO_STORE
#undef mi_vf
#undef mi_vd
#undef mi_vfu
#undef mi_vdu
#undef mi_hsum8_f
#undef mi_hsum4x4_d
#undef mi_putv_f
#undef mi_putv_d
#undef mi_half_f
#undef mi_half_d
#undef mi_padrow_f
#undef mi_padrow_d

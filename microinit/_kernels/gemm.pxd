# cython: language_level=3
"""The blocked GEMM core shared by matmul.pyx and dense.pyx (header-only, like activations.pxd).

    C[m, n] (+)= op(A)[m, k] @ op(B)[k, n],   op(X) = X or X^T (a flag, never a copy)

A and B are addressed through a pointer and a leading dimension, so the transposed
products backward needs (x^T dZ, dZ W^T) read the stored arrays directly.

Two regimes, chosen by size (MI_DIRECT_A_MAX multiply-adds):

* Large products follow Goto & van de Geijn: B is packed into KC x NR panels (one
  L1-sized sliver each), A into MC x KC blocks of MR-row panels (L2-sized), and an
  MR x NR register tile accumulates a rank-KC update (mi_gemm_packed).
* Small products -- the dense layers of small networks -- pack nothing of A and
  allocate nothing (mi_gemm_direct): A is read in place, B panels too where their rows
  are contiguous, otherwise one panel at a time into a 16 KiB stack buffer. The shapes
  whose output is narrow get their own forms: one output column (or row) is a set of
  dot products; a tail of at most NR/4 columns too; and op(A) = x^T with few columns
  (dW = x^T dz of a narrow layer) is computed as C^T = dz^T x with a transposed store,
  so the vectors run along the long dimension instead of being mostly padding.

MR x NR is 6 x 16 floats (12 AVX2 accumulators + 2 loads of B + 1 broadcast of A out
of 16 ymm registers) and 6 x 8 doubles (the same register budget). A tile may have
fewer rows (1..6, exact: rows past m are never read, so a ragged A needs no padded
copy) and one vector instead of two; each shape is its own specialisation of one C
loop (MI_TILE) with the accumulators in named vector registers. Ragged stores write
from registers in 4/2/1-lane pieces. Nothing is read or written past an operand's
end (tests/kernels/test_kernel_matmul.py puts every operand against a guard page).

Callers guarantee m, n >= 1, k >= 0 and valid pointers (functional/linalg.py checks
every shape before a kernel runs).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
cimport numpy as cnp

# OpenMP through a guard: setup.py builds without OpenMP on macOS or with
# MICROINIT_NO_OPENMP=1, and a direct omp_* call would then leave an undefined symbol
# (the module would fail to import). Without OpenMP there is one thread.
cdef extern from *:
    """
    #if defined(__GNUC__)
    #define MI_MAYBE_UNUSED __attribute__((unused))
    #else
    #define MI_MAYBE_UNUSED
    #endif
    #ifdef _OPENMP
    #include <omp.h>
    static MI_MAYBE_UNUSED int mi_max_threads(void) { return omp_get_max_threads(); }
    static MI_MAYBE_UNUSED int mi_thread_num(void) { return omp_get_thread_num(); }
    static MI_MAYBE_UNUSED void mi_set_threads(int n) { omp_set_num_threads(n); }
    #define MI_HAS_OPENMP 1
    #else
    static MI_MAYBE_UNUSED int mi_max_threads(void) { return 1; }
    static MI_MAYBE_UNUSED int mi_thread_num(void) { return 0; }
    static MI_MAYBE_UNUSED void mi_set_threads(int n) { (void)n; }
    #define MI_HAS_OPENMP 0
    #endif
    """
    const int MI_HAS_OPENMP
    int mi_max_threads() noexcept nogil
    int mi_thread_num() noexcept nogil
    void mi_set_threads(int n) noexcept nogil

# The micro-kernels are written in C with gcc/clang vector extensions so that a 6 x 16
# float tile provably lives in 12 ymm registers (no reliance on the optimiser
# scalar-replacing a local array). 32-byte vector types lower to AVX2 FMA with
# -march=native and to pairs of SSE operations in portable builds: correct everywhere.
# The few shuffles (8 x 8 transposes, 4-way horizontal sums) use AVX intrinsics when
# the compiler targets AVX and plain C otherwise.
cdef extern from *:
    """
    #include <string.h>
    #ifdef __AVX__
    #include <immintrin.h>
    #endif
    typedef float mi_v8f __attribute__((vector_size(32)));
    typedef double mi_v4d __attribute__((vector_size(32)));
    /* the same vectors at element alignment: loads/stores through these become vmovups */
    typedef float mi_v8fu __attribute__((vector_size(32), aligned(4), may_alias));
    typedef double mi_v4du __attribute__((vector_size(32), aligned(8), may_alias));
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

    /* One depth step of an R x W-vector tile into accumulator set X (X00 .. X51): row i
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
        }
    #define MI_ACC_DECL(X)                                                            \
        mi_V X##00 = {0}, X##01 = {0}, X##10 = {0}, X##11 = {0}, X##20 = {0}, X##21 = {0}, \
             X##30 = {0}, X##31 = {0}, X##40 = {0}, X##41 = {0}, X##50 = {0}, X##51 = {0};
    #define MI_ACC_ADD(X, Y)                                                          \
        X##00 += Y##00; X##01 += Y##01; X##10 += Y##10; X##11 += Y##11;               \
        X##20 += Y##20; X##21 += Y##21; X##30 += Y##30; X##31 += Y##31;               \
        X##40 += Y##40; X##41 += Y##41; X##50 += Y##50; X##51 += Y##51;

    /* In-register transposes (v[q][s] -> v[s][q] for an L x L block), the 4-way
       horizontal sums of the dot-product path, and the tile stores. */
    #ifdef __AVX__
    MI_AI void mi_tr_f(__m256 *v)
    {
        __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
        __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
        __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
        __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        v[0] = _mm256_permute2f128_ps(u0, u4, 0x20); v[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
        v[2] = _mm256_permute2f128_ps(u2, u6, 0x20); v[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
        v[4] = _mm256_permute2f128_ps(u0, u4, 0x31); v[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
        v[6] = _mm256_permute2f128_ps(u2, u6, 0x31); v[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
    }
    MI_AI void mi_tr_d(__m256d *v)
    {
        __m256d t0 = _mm256_unpacklo_pd(v[0], v[1]), t1 = _mm256_unpackhi_pd(v[0], v[1]);
        __m256d t2 = _mm256_unpacklo_pd(v[2], v[3]), t3 = _mm256_unpackhi_pd(v[2], v[3]);
        v[0] = _mm256_permute2f128_pd(t0, t2, 0x20); v[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
        v[2] = _mm256_permute2f128_pd(t0, t2, 0x31); v[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
    }
    /* out[0..3] = the sums of the lanes of a, b, c, d */
    MI_AI void mi_hsum4_f(mi_v8f a, mi_v8f b, mi_v8f c, mi_v8f d, float *out)
    {
        __m256 h = _mm256_hadd_ps(_mm256_hadd_ps((__m256)a, (__m256)b),
                                  _mm256_hadd_ps((__m256)c, (__m256)d));
        _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    }
    MI_AI void mi_hsum4_d(mi_v4d a, mi_v4d b, mi_v4d c, mi_v4d d, double *out)
    {
        __m256d h1 = _mm256_hadd_pd((__m256d)a, (__m256d)b);
        __m256d h2 = _mm256_hadd_pd((__m256d)c, (__m256d)d);
        _mm256_storeu_pd(out, _mm256_add_pd(_mm256_permute2f128_pd(h1, h2, 0x20),
                                             _mm256_permute2f128_pd(h1, h2, 0x31)));
    }
    /* row[0:n] (+)= v[0:n] for n <= L, in pieces of 4/2/1 lanes taken from registers:
       reloading single lanes of a just-spilled vector stalls store forwarding (~100
       cycles per ragged 6-row tile, measured). */
    MI_AI void mi_put_f(float *row, __m256 v, long n, int add)
    {
        if (n >= 8) {
            if (add) v = _mm256_add_ps(v, _mm256_loadu_ps(row));
            _mm256_storeu_ps(row, v);
            return;
        }
        __m128 x = _mm256_castps256_ps128(v);
        if (n >= 4) {
            __m128 y = add ? _mm_add_ps(x, _mm_loadu_ps(row)) : x;
            _mm_storeu_ps(row, y);
            x = _mm256_extractf128_ps(v, 1);
            row += 4; n -= 4;
        }
        if (n >= 2) {
            __m128 y = add ? _mm_add_ps(x, _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)row)) : x;
            _mm_storel_pi((__m64 *)row, y);
            x = _mm_movehl_ps(x, x);
            row += 2; n -= 2;
        }
        if (n >= 1) {
            if (add) x = _mm_add_ss(x, _mm_load_ss(row));
            _mm_store_ss(row, x);
        }
    }
    MI_AI void mi_put_d(double *row, __m256d v, long n, int add)
    {
        if (n >= 4) {
            if (add) v = _mm256_add_pd(v, _mm256_loadu_pd(row));
            _mm256_storeu_pd(row, v);
            return;
        }
        __m128d x = _mm256_castpd256_pd128(v);
        if (n >= 2) {
            __m128d y = add ? _mm_add_pd(x, _mm_loadu_pd(row)) : x;
            _mm_storeu_pd(row, y);
            x = _mm256_extractf128_pd(v, 1);
            row += 2; n -= 2;
        }
        if (n >= 1) {
            if (add) x = _mm_add_sd(x, _mm_load_sd(row));
            _mm_store_sd(row, x);
        }
    }
    /* MI_STORE(name, T, VX, L, PUT, TR): C (+)= the R x W*L tile acc (rows acc[2i],
       acc[2i+1]) clipped to nr columns; tc: C[j * ldc + i], through in-register
       transposes of L x L blocks (tile rows past R are zero and never stored). */
    #define MI_STORE(NAME, T, V, VX, L, PUT, TR)                                      \
    MI_AI void NAME(const int R, const int W, const V *acc, T *C, long ldc, long nr,  \
                    int add, int tc)                                                  \
    {                                                                                 \
        if (!tc && nr == W * L) {                                                     \
            MI_UNROLL                                                                 \
            for (int i = 0; i < R; ++i) {                                             \
                PUT(C + i * ldc, (VX)acc[2 * i], L, add);                             \
                if (W > 1) PUT(C + i * ldc + L, (VX)acc[2 * i + 1], L, add);          \
            }                                                                         \
            return;                                                                   \
        }                                                                             \
        if (!tc) {                                                                    \
            MI_UNROLL                                                                 \
            for (int i = 0; i < R; ++i) {                                             \
                T *row = C + i * ldc;                                                 \
                if (W > 1 && nr > L) {                                                \
                    PUT(row, (VX)acc[2 * i], L, add);                                 \
                    PUT(row + L, (VX)acc[2 * i + 1], nr - L, add);                    \
                } else {                                                              \
                    PUT(row, (VX)acc[2 * i], nr, add);                                \
                }                                                                     \
            }                                                                         \
            return;                                                                   \
        }                                                                             \
        for (int w = 0; w < W; ++w) {                                                 \
            long cols = nr - w * L < L ? nr - w * L : L;                              \
            for (int i0 = 0; i0 < R; i0 += L) {                                       \
                VX t[L];                                                              \
                MI_UNROLL                                                             \
                for (int q = 0; q < L; ++q)                                           \
                    t[q] = i0 + q < R ? (VX)acc[2 * (i0 + q) + w] : (VX){0};          \
                TR(t);                                                                \
                for (long j = 0; j < cols; ++j)                                       \
                    PUT(C + (w * L + j) * ldc + i0, t[j], R - i0, add);               \
            }                                                                         \
        }                                                                             \
    }
    MI_STORE(mi_store_f, float, mi_v8f, __m256, 8, mi_put_f, mi_tr_f)
    MI_STORE(mi_store_d, double, mi_v4d, __m256d, 4, mi_put_d, mi_tr_d)
    #define MI_HAVE_TR 1
    #else
    #define MI_HSUM4(NAME, T, V, L)                                                   \
    MI_AI void NAME(V a, V b, V c, V d, T *out)                                       \
    {                                                                                 \
        out[0] = out[1] = out[2] = out[3] = 0;                                        \
        for (int l = 0; l < L; ++l) {                                                 \
            out[0] += a[l]; out[1] += b[l]; out[2] += c[l]; out[3] += d[l];           \
        }                                                                             \
    }
    MI_HSUM4(mi_hsum4_f, float, mi_v8f, 8)
    MI_HSUM4(mi_hsum4_d, double, mi_v4d, 4)
    /* portable: the element loops of MI_STORE without the AVX shuffles */
    #define MI_STORE_PLAIN(NAME, T, V, L)                                             \
    MI_AI void NAME(const int R, const int W, const V *acc, T *C, long ldc, long nr,  \
                    int add, int tc)                                                  \
    {                                                                                 \
        T tile[6][2 * L];                                                             \
        memcpy(tile, acc, sizeof(tile));                                              \
        for (int i = 0; i < R; ++i)                                                   \
            for (long j = 0; j < nr; ++j) {                                           \
                T *c = tc ? C + j * ldc + i : C + i * ldc + j;                        \
                *c = add ? *c + tile[i][j] : tile[i][j];                              \
            }                                                                         \
    }
    MI_STORE_PLAIN(mi_store_f, float, mi_v8f, 8)
    MI_STORE_PLAIN(mi_store_d, double, mi_v4d, 4)
    #define MI_HAVE_TR 0
    #endif

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
        const T *r0 = Ap, *r1 = Ap, *r2 = Ap, *r3 = Ap, *r4 = Ap, *r5 = Ap;           \
        if (R > 1) r1 = Ap + a_rs;                                                    \
        if (R > 2) r2 = Ap + 2 * a_rs;                                                \
        if (R > 3) r3 = Ap + 3 * a_rs;                                                \
        if (R > 4) r4 = Ap + 4 * a_rs;                                                \
        if (R > 5) r5 = Ap + 5 * a_rs;                                                \
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
        } else {                                                                      \
            V acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51}; \
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
    MI_TILE(mi_tile_f_, float, mi_v8f, mi_v8fu, 8, mi_store_f)
    MI_TILE(mi_tile_d_, double, mi_v4d, mi_v4du, 4, mi_store_d)

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
            for (; ir + 6 <= m; ir += 6, Ar += a_ts, Cr += 6 * c_rs)                  \
                KERN(6, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc);       \
            switch (m - ir) {                                                         \
            case 1: KERN(1, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
            case 2: KERN(2, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
            case 3: KERN(3, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
            case 4: KERN(4, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
            case 5: KERN(5, w, kc, Ar, a_rs, a_cs, Bp, b_rs, Cr, ldc, nr, add, tc); break; \
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

    /* MI_PACK(name, T, L, VU, TR, VT, LOADU, STOREU, ZERO): one panel of op(B) for the tile kernel,
         buf[p * w + c] = op(B)(p, c) = B[p * ps + c * js] for c < cols, 0 for cols <= c < w
       (w = L or 2L). A transposed B (ps == 1: each panel column is a contiguous row of B)
       goes through L x L register transposes, missing rows becoming zero vectors; no
       element past column cols or row kc of op(B) is read. */
    #define MI_PACK(NAME, T, L, VU, TR, VT, LOADU, STOREU, ZERO)                      \
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
                for (long c = 0; c < w; ++c)                                          \
                    buf[p * w + c] = c < cols ? B[p * ps + c] : 0;                    \
            return;                                                                   \
        }                                                                             \
        if (MI_HAVE_TR && ps == 1) {                                                  \
            for (; p + L <= kc; p += L)                                               \
                for (long c0 = 0; c0 < w; c0 += L) {                                  \
                    VT v[L];                                                          \
                    for (long q = 0; q < L; ++q)                                      \
                        v[q] = c0 + q < cols ? LOADU(B + (c0 + q) * js + p) : ZERO;   \
                    TR(v);                                                            \
                    for (long q = 0; q < L; ++q)                                      \
                        STOREU(buf + (p + q) * w + c0, v[q]);                         \
                }                                                                     \
        }                                                                             \
        for (; p < kc; ++p)                                                           \
            for (long c = 0; c < w; ++c)                                              \
                buf[p * w + c] = c < cols ? B[p * ps + c * js] : 0;                   \
    }
    #ifdef __AVX__
    MI_PACK(mi_pack_panel_f, float, 8, mi_v8fu, mi_tr_f, __m256, _mm256_loadu_ps, _mm256_storeu_ps,
            _mm256_setzero_ps())
    MI_PACK(mi_pack_panel_d, double, 4, mi_v4du, mi_tr_d, __m256d, _mm256_loadu_pd, _mm256_storeu_pd,
            _mm256_setzero_pd())
    #else
    #define MI_NO_TR(v) ((void)0)
    #define MI_NO_STORE(p, v) ((void)(p), (void)(v))
    MI_PACK(mi_pack_panel_f, float, 8, mi_v8fu, MI_NO_TR, float, *, MI_NO_STORE, 0.0f)
    MI_PACK(mi_pack_panel_d, double, 4, mi_v4du, MI_NO_TR, double, *, MI_NO_STORE, 0.0)
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
    MI_GEMV(mi_gemv_f, float, mi_v8f, mi_v8fu, 8, mi_hsum4_f)
    MI_GEMV(mi_gemv_d, double, mi_v4d, mi_v4du, 4, mi_hsum4_d)

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
    #define MI_DIRECT(NAME, T, L, PANEL, PACK, GEMV)                                  \
    static MI_MAYBE_UNUSED void NAME(long m, long n, long kc, const T *A, long a_rs,  \
                                     long a_cs, const T *B, long ps, long js, T *C,   \
                                     long c_rs, long c_cs, int add, int tc, T *buf)   \
    {                                                                                 \
        long ldc = tc ? c_cs : c_rs;                                                  \
        int dot_ok = a_cs == 1 && kc >= L;                                            \
        for (long jr = 0; jr < n;) {                                                  \
            long rem = n - jr, W = rem > L ? 2 : 1, cols = rem < 2 * L ? rem : 2 * L;  \
            if (dot_ok && 2 * rem <= L) {                                             \
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
            if (dot_ok && rem > L && rem < 2 * L && 2 * (rem - L) <= L) {             \
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
            PANEL(W, m, kc, A, a_rs, a_cs, 6 * a_rs, bp, b_rs, C + jr * c_cs, c_rs, ldc, \
                  cols, add, tc);                                                     \
            jr += cols;                                                               \
        }                                                                             \
    }
    MI_DIRECT(mi_direct_f, float, 8, mi_panel_f, mi_pack_panel_f, mi_gemv_f)
    MI_DIRECT(mi_direct_d, double, 4, mi_panel_d, mi_pack_panel_d, mi_gemv_d)
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC pop_options
    #endif
    """
    void mi_panel_f(long W, long m, long kc, const float *A, long a_rs, long a_cs, long a_ts,
                    const float *Bp, long b_rs, float *C, long c_rs, long ldc, long nr, int add,
                    int tc) noexcept nogil
    void mi_panel_d(long W, long m, long kc, const double *A, long a_rs, long a_cs, long a_ts,
                    const double *Bp, long b_rs, double *C, long c_rs, long ldc, long nr, int add,
                    int tc) noexcept nogil
    void mi_pack_panel_f(long kc, const float *B, long ps, long js, long cols, long w,
                         float *buf) noexcept nogil
    void mi_pack_panel_d(long kc, const double *B, long ps, long js, long cols, long w,
                         double *buf) noexcept nogil
    void mi_gemv_f(long m, long k, const float *M, long ldm, const float *x, float *y, long incy,
                   int add) noexcept nogil
    void mi_gemv_d(long m, long k, const double *M, long ldm, const double *x, double *y, long incy,
                   int add) noexcept nogil
    void mi_direct_f(long m, long n, long kc, const float *A, long a_rs, long a_cs, const float *B,
                     long ps, long js, float *C, long c_rs, long c_cs, int add, int tc,
                     float *buf) noexcept nogil
    void mi_direct_d(long m, long n, long kc, const double *A, long a_rs, long a_cs, const double *B,
                     long ps, long js, double *C, long c_rs, long c_cs, int add, int tc,
                     double *buf) noexcept nogil


cdef enum:
    MI_MR = 6
    MI_NR_F = 16
    MI_NR_D = 8
    MI_KC = 256
    MI_MC = 72      # multiple of MR; MC x KC floats = 72 KiB, half of L2 per thread
    MI_NC = 4096    # multiple of both NRs
    # Below this many multiply-adds (m*n*k, ~100 us on one core) one thread is used.
    # Measured on the 2-core benchmark machine: alone, two threads gain only 1.2-1.3x
    # at 2-17M MACs; right after a numpy BLAS call, whose OpenBLAS threads keep
    # spinning, a 2-thread region stalls for milliseconds (n = 128: 40 us alone, ~10 ms
    # alternating with np.matmul), and on a busy machine a descheduled thread stalls
    # every region. ops/linalg.py sends everything above 2^21 MACs to BLAS, so with
    # this threshold its own-kernel products never start a team; direct gemm calls on
    # large matrices still use both cores.
    MI_PARALLEL_MIN = 1 << 23
    # Up to this many multiply-adds a row-major A is read in place instead of packed
    # (measured with benchmarks/crossover.py; see the numbers in its docstring).
    MI_DIRECT_A_MAX = 128 * 128 * 128
    # One kc x NR panel of B in either type (MI_KC * MI_NR_F floats = 16 KiB): the
    # direct path's whole workspace, on the stack.
    MI_PANEL_DOUBLES = MI_KC * MI_NR_D
    # The direct path runs every column panel against a block of rows of A whose
    # kc-deep slice takes at most this many bytes (half of a 32 KiB L1), and at least
    # MI_MC rows: sweeping all of A per panel measured 7% slower for doubles at
    # 128x32x128 (A^T = 32 KiB), while one block of 100 rows is a tiny layer's whole A.
    MI_DIRECT_A_BYTES = 16384


cdef inline Py_ssize_t mi_nr(floating dummy) noexcept nogil:
    if floating is float:
        return MI_NR_F
    else:
        return MI_NR_D


cdef inline void mi_pack_a(const floating* A, Py_ssize_t lda, bint ta, Py_ssize_t i0,
                           Py_ssize_t mc, Py_ssize_t p0, Py_ssize_t kc,
                           floating* Ap) noexcept nogil:
    """Ap[panel][p][r] = op(A)[i0 + panel*MR + r, p0 + p], zero past row mc."""
    cdef Py_ssize_t ir, p, r, i, rows, panel
    for panel in range((mc + MI_MR - 1) // MI_MR):
        ir = panel * MI_MR
        rows = mc - ir if mc - ir < MI_MR else MI_MR
        if not ta:
            # p outer: Ap is written in order while MR rows of A are read side by side
            # (the same reason as in the transposed panel pack).
            i = (i0 + ir) * lda + p0
            for p in range(kc):
                for r in range(rows):
                    Ap[p * MI_MR + r] = A[i + r * lda + p]
        else:
            for p in range(kc):
                for r in range(rows):
                    Ap[p * MI_MR + r] = A[(p0 + p) * lda + i0 + ir + r]
        for r in range(rows, MI_MR):
            for p in range(kc):
                Ap[p * MI_MR + r] = 0
        Ap += MI_MR * kc


cdef inline void mi_pack_b(const floating* B, Py_ssize_t ldb, bint tb, Py_ssize_t p0,
                           Py_ssize_t kc, Py_ssize_t j0, Py_ssize_t nc,
                           floating* Bp) noexcept nogil:
    """Bp[panel][p][c] = op(B)[p0 + p, j0 + panel*NR + c], zero past column nc.

    A transposed B goes through register transposes (mi_pack_panel_*): the scalar
    column-gather it replaces cost ~1 cycle per element, a quarter of a 32-row
    product's time when dx = dz W^T packs all of W.
    """
    cdef Py_ssize_t nr = mi_nr(Bp[0])
    cdef Py_ssize_t ps = 1 if tb else ldb
    cdef Py_ssize_t js = ldb if tb else 1
    cdef Py_ssize_t jr, cols, panel
    for panel in range((nc + nr - 1) // nr):
        jr = panel * nr
        cols = nc - jr if nc - jr < nr else nr
        if floating is float:
            mi_pack_panel_f(kc, B + p0 * ps + (j0 + jr) * js, ps, js, cols, nr, Bp)
        else:
            mi_pack_panel_d(kc, B + p0 * ps + (j0 + jr) * js, ps, js, cols, nr, Bp)
        Bp += nr * kc


cdef inline void mi_block(const floating* A, Py_ssize_t lda, bint ta, Py_ssize_t ic,
                          Py_ssize_t mc, Py_ssize_t pc, Py_ssize_t kc, floating* Ap,
                          const floating* Bp, Py_ssize_t nc, floating* C, Py_ssize_t ldc,
                          bint add) noexcept nogil:
    """C[0:mc, 0:nc] (+)= op(A)[ic:ic+mc, pc:pc+kc] @ (packed panels of B in Bp).

    The block of op(A) is packed into Ap first (the Goto layout: a_rs = 1, a_cs = MR);
    a ragged last row panel runs a tile of just its rows, a last column panel of at
    most NR/2 columns a one-vector-wide tile.
    """
    cdef Py_ssize_t nr = mi_nr(Bp[0])
    cdef Py_ssize_t jr, nr_e, pj
    mi_pack_a(A, lda, ta, ic, mc, pc, kc, Ap)
    for pj in range((nc + nr - 1) // nr):
        jr = pj * nr
        nr_e = nc - jr if nc - jr < nr else nr
        # packed A: MR x kc panels, row stride 1 and depth stride MR inside a panel
        if floating is float:
            mi_panel_f(2 if 2 * nr_e > nr else 1, mc, kc, Ap, 1, MI_MR, MI_MR * kc, Bp + jr * kc, nr,
                       C + jr, ldc, ldc, nr_e, add, False)
        else:
            mi_panel_d(2 if 2 * nr_e > nr else 1, mc, kc, Ap, 1, MI_MR, MI_MR * kc, Bp + jr * kc, nr,
                       C + jr, ldc, ldc, nr_e, add, False)


cdef inline int mi_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                        const floating* A, Py_ssize_t lda, bint ta,
                        const floating* B, Py_ssize_t ldb, bint tb,
                        floating* C, Py_ssize_t ldc, bint accumulate,
                        int nthreads) noexcept nogil:
    """C (+)= op(A) @ op(B). Returns -1 if a workspace could not be allocated.

    k == 0 writes zeros (or leaves C when accumulating). Products up to
    MI_DIRECT_A_MAX multiply-adds read A in place (mi_gemm_direct); larger ones pack
    A and B (Goto's layout).
    """
    cdef Py_ssize_t i, j
    if k == 0:
        if not accumulate:
            for i in range(m):
                for j in range(n):
                    C[i * ldc + j] = 0
        return 0
    return mi_gemm_packed(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate,
                          nthreads if m * n * k >= MI_PARALLEL_MIN else 1,
                          m * n * k <= MI_DIRECT_A_MAX)


cdef inline int mi_gemm_direct(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                               const floating* A, Py_ssize_t lda, bint ta,
                               const floating* B, Py_ssize_t ldb, bint tb,
                               floating* C, Py_ssize_t ldc, bint accumulate,
                               int nthreads) noexcept nogil:
    """The small-product body of mi_gemm (k >= 1): nothing of A is packed, nothing
    allocated on one thread.

    Shapes with one output column (or row) whose operands are contiguous along k are
    dot products (mi_gemv_*). Otherwise tiles of up to 6 rows of op(A), read in place,
    run against column panels of op(B) (mi_direct_*), and a product with few columns
    and op(A) transposed (dW = x^T dz of a narrow layer) is computed as
    C^T = op(B)^T op(A)^T and stored transposed, so that the 8- or 16-lane vectors run
    along m instead of being mostly padding: 16x100x1 uses 2 of 16 lanes of 3 tiles
    the first way and all of them in one tile the second.
    """
    cdef double stackbuf[MI_PANEL_DOUBLES]
    cdef Py_ssize_t L = mi_nr(C[0]) // 2
    cdef Py_ssize_t a_rs = 1 if ta else lda
    cdef Py_ssize_t a_cs = lda if ta else 1
    cdef Py_ssize_t ps = 1 if tb else ldb
    cdef Py_ssize_t js = ldb if tb else 1
    cdef Py_ssize_t c_rs = ldc, c_cs = 1, t
    cdef const floating* tp
    cdef bint tc = False
    cdef floating* work
    cdef floating* buf
    cdef Py_ssize_t pc, kc, bp, npan, nts, tsk, j0, j1, mb, i0
    cdef int nt = nthreads if nthreads > 1 else 1
    if n == 1 and a_cs == 1 and ps == 1:
        if floating is float:
            mi_gemv_f(m, k, A, a_rs, B, C, c_rs, accumulate)
        else:
            mi_gemv_d(m, k, A, a_rs, B, C, c_rs, accumulate)
        return 0
    if m == 1 and a_cs == 1 and ps == 1:
        if floating is float:
            mi_gemv_f(n, k, B, js, A, C, c_cs, accumulate)
        else:
            mi_gemv_d(n, k, B, js, A, C, c_cs, accumulate)
        return 0
    if a_rs == 1 and n * ((m + L - 1) // L) < m * ((n + L - 1) // L):
        # C^T = op(B)^T op(A)^T: op(B)^T is the new (broadcast) left operand, op(A)^T
        # the new right one, whose rows are contiguous (a_rs == 1), read in place.
        t = m; m = n; n = t
        tp = A; A = B; B = tp
        t = a_rs; a_rs = js; js = t
        t = a_cs; a_cs = ps; ps = t
        c_rs = 1
        c_cs = ldc
        tc = True
    npan = (n + 2 * L - 1) // (2 * L)
    nts = nt if nt < npan else npan
    if nts <= 1:
        buf = <floating*> stackbuf
        for bp in range((k + MI_KC - 1) // MI_KC):
            pc = bp * MI_KC
            kc = k - pc if k - pc < MI_KC else MI_KC
            mb = MI_DIRECT_A_BYTES // (kc * <Py_ssize_t> sizeof(floating)) // MI_MR * MI_MR
            if mb < MI_MC:
                mb = MI_MC
            i0 = 0
            while i0 < m:
                mi_direct(m - i0 if m - i0 < mb else mb, n, kc, A + pc * a_cs + i0 * a_rs, a_rs,
                          a_cs, B + pc * ps, ps, js, C + i0 * c_rs, c_rs, c_cs,
                          accumulate or pc > 0, tc, buf)
                i0 += mb
        return 0
    # Threads take ranges of column panels, each packing (when needed) its own panels:
    # no thread waits for a serial packing step.
    work = <floating*> malloc(sizeof(floating) * nts * MI_KC * 2 * L)
    if work == NULL:
        return -1
    for tsk in prange(nts, nogil=True, num_threads=nts, schedule="static"):
        j0 = tsk * npan // nts * 2 * L
        j1 = (tsk + 1) * npan // nts * 2 * L
        if j1 > n:
            j1 = n
        for bp in range((k + MI_KC - 1) // MI_KC):
            pc = bp * MI_KC
            kc = k - pc if k - pc < MI_KC else MI_KC
            mi_direct(m, j1 - j0, kc, A + pc * a_cs, a_rs, a_cs, B + pc * ps + j0 * js, ps, js,
                      C + j0 * c_cs, c_rs, c_cs, accumulate or pc > 0, tc,
                      work + tsk * MI_KC * 2 * L)
    free(work)
    return 0


cdef inline void mi_direct(Py_ssize_t m, Py_ssize_t n, Py_ssize_t kc, const floating* A,
                           Py_ssize_t a_rs, Py_ssize_t a_cs, const floating* B, Py_ssize_t ps,
                           Py_ssize_t js, floating* C, Py_ssize_t c_rs, Py_ssize_t c_cs,
                           bint add, bint tc, floating* buf) noexcept nogil:
    if floating is float:
        mi_direct_f(m, n, kc, A, a_rs, a_cs, B, ps, js, C, c_rs, c_cs, add, tc, buf)
    else:
        mi_direct_d(m, n, kc, A, a_rs, a_cs, B, ps, js, C, c_rs, c_cs, add, tc, buf)


cdef inline int mi_gemm_packed(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                               const floating* A, Py_ssize_t lda, bint ta,
                               const floating* B, Py_ssize_t ldb, bint tb,
                               floating* C, Py_ssize_t ldc, bint accumulate,
                               int nthreads, bint direct_a) noexcept nogil:
    """The body of mi_gemm (k >= 1) on nthreads threads: direct_a selects
    mi_gemm_direct, otherwise A and B are packed (Goto & van de Geijn)."""
    cdef Py_ssize_t nr = mi_nr(C[0])
    cdef Py_ssize_t jc, pc, ic, nc, kc, mc, nblk, blk, mc_blk, bj, bp, bi
    cdef Py_ssize_t kc_max = k if k < MI_KC else MI_KC
    cdef Py_ssize_t nc_max = n if n < MI_NC else MI_NC
    cdef floating* Bp
    cdef floating* Ap
    cdef floating* work
    cdef bint add
    cdef int tid, nt
    if direct_a:
        return mi_gemm_direct(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads)
    nt = nthreads  # mi_gemm applies MI_PARALLEL_MIN; gemm_path may force a team
    if nt < 1:
        nt = 1
    # Threads take row blocks of A (MC rows, or an even share when m is short, so a
    # 128-row product still splits in two) against one shared packed B.
    mc_blk = MI_MC
    if nt > 1 and m < nt * MI_MC:
        mc_blk = ((m + nt - 1) // nt + MI_MR - 1) // MI_MR * MI_MR
    work = <floating*> malloc(sizeof(floating) * (
        kc_max * ((nc_max + nr - 1) // nr * nr) + nt * kc_max * mc_blk))
    if work == NULL:
        return -1
    Bp = work
    Ap = work + kc_max * ((nc_max + nr - 1) // nr * nr)
    for bj in range((n + MI_NC - 1) // MI_NC):
        jc = bj * MI_NC
        nc = n - jc if n - jc < MI_NC else MI_NC
        for bp in range((k + MI_KC - 1) // MI_KC):
            pc = bp * MI_KC
            kc = k - pc if k - pc < MI_KC else MI_KC
            add = accumulate or pc > 0
            nblk = (m + mc_blk - 1) // mc_blk
            mi_pack_b(B, ldb, tb, pc, kc, jc, nc, Bp)
            if nt > 1 and nblk > 1:
                for blk in prange(nblk, nogil=True, num_threads=nt, schedule="static"):
                    tid = mi_thread_num()
                    ic = blk * mc_blk
                    mc = m - ic if m - ic < mc_blk else mc_blk
                    mi_block(A, lda, ta, ic, mc, pc, kc, Ap + tid * kc_max * mc_blk,
                             Bp, nc, C + ic * ldc + jc, ldc, add)
            else:
                for bi in range(nblk):
                    ic = bi * mc_blk
                    mc = m - ic if m - ic < mc_blk else mc_blk
                    mi_block(A, lda, ta, ic, mc, pc, kc, Ap, Bp, nc, C + ic * ldc + jc, ldc, add)
    free(work)
    return 0


# --- argument checks for the def entry points -----------------------------------
# Kernel entry points take ndarrays and read their data pointers: a def function with
# fused typed-memoryview arguments costs ~2.4 us per call to acquire three buffers,
# an ndarray argument ~0.1 us (measured here, Cython 3.3), and the tiny networks this
# library targets run a whole layer in about that time. functional/linalg.py validates
# shapes and dtypes with clear messages before calling; these checks only guarantee
# that a direct, wrong call raises instead of touching memory it does not own.

cdef inline int mi_check(cnp.ndarray a, int typenum, int ndim, bint writeable,
                         Py_ssize_t d0, Py_ssize_t d1, str name) except -1:
    """Raise unless a is a C-contiguous array of typenum with shape (d0[, d1])."""
    cdef object o = a
    if cnp.PyArray_TYPE(a) != typenum:
        raise TypeError(f"kernel argument {name}: dtype {o.dtype} does not match the "
                        f"output dtype (float32 or float64, all arguments alike)")
    if cnp.PyArray_NDIM(a) != ndim or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"kernel argument {name}: expected a C-contiguous {ndim}-D array, "
                         f"got shape {o.shape} with strides {o.strides}")
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"kernel argument {name}: output array is read-only")
    if cnp.PyArray_DIMS(a)[0] != d0 or (ndim == 2 and cnp.PyArray_DIMS(a)[1] != d1):
        want = (<object> d0,) if ndim == 1 else (<object> d0, <object> d1)
        raise ValueError(f"kernel argument {name}: expected shape {want}, got {o.shape}")
    return 0


cdef inline int mi_float_type(cnp.ndarray out) except -1:
    cdef int t = cnp.PyArray_TYPE(out)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"kernel: unsupported dtype {(<object>out).dtype}; kernels take "
                        f"float32 or float64")
    return t

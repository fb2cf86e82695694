# cython: language_level=3
"""The blocked GEMM core shared by matmul.pyx and dense.pyx (header-only, like activations.pxd).

    C[m, n] (+)= op(A)[m, k] @ op(B)[k, n],   op(X) = X or X^T (a flag, never a copy)

A and B are addressed through a pointer and a leading dimension, so the transposed
products backward needs (x^T dZ, dZ W^T) read the stored arrays directly.

Blocking follows Goto & van de Geijn: B is packed into KC x NR panels (one L1-sized
sliver each), A into MC x KC blocks of MR-row panels (L2-sized), and an MR x NR
register tile accumulates a rank-KC update. Panels are zero-padded at the edges so the
micro-kernel always runs full tiles; only the final store is clipped.

MR x NR is 6 x 16 floats (12 AVX2 accumulators + 2 loads of B + 1 broadcast of A out
of 16 ymm registers) and 6 x 8 doubles (the same register budget). The micro-kernels
are plain C loops over constant bounds that gcc -O3 fully unrolls and keeps in
registers; see mi_kernel_* below.

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

# The micro-kernels are written in C with gcc/clang vector extensions so that the
# 6 x 16 float tile provably lives in 12 ymm registers (no reliance on the optimiser
# scalar-replacing a local array). 32-byte vector types lower to AVX2 FMA with
# -march=native and to pairs of SSE operations in portable builds: correct everywhere.
cdef extern from *:
    """
    #include <string.h>
    typedef float mi_v8f __attribute__((vector_size(32)));
    typedef double mi_v4d __attribute__((vector_size(32)));
    /* the same vectors at element alignment: loads/stores through these become vmovups */
    typedef float mi_v8fu __attribute__((vector_size(32), aligned(4), may_alias));
    typedef double mi_v4du __attribute__((vector_size(32), aligned(8), may_alias));

    /* MI_KERNEL(name, T, V, VU, L) defines, for scalar T with vector types V (aligned)
       and VU (element-aligned) of L lanes, a 6 x 2L register tile:
         acc[6][2L] += sum_p A[0:6, p] (outer) Bp[p * b_rs + 0:2L],  A(i, p) = Ap[i * a_rs + p * a_cs]
       (packed: a_rs = 1, a_cs = 6; A read in place: a_rs = lda, a_cs = 1, or a_rs = 1,
       a_cs = lda when transposed; B packed: b_rs = 2L, read in place: b_rs = ldb); then
       C (+)= acc, clipped to mr x nr. Rows of A past mr and columns of B past nr must
       still be readable (callers pass zero-padded panels for ragged edges). */
    #define MI_KERNEL(NAME, T, V, VU, L)                                                  \
    static inline void NAME(long kc, const T *Ap, long a_rs, long a_cs, const T *Bp,     \
                            long b_rs, T *C, long ldc, long mr, long nr, int add)         \
    {                                                                                     \
        const T *r0 = Ap, *r1 = Ap + a_rs, *r2 = Ap + 2 * a_rs;                           \
        const T *r3 = Ap + 3 * a_rs, *r4 = Ap + 4 * a_rs, *r5 = Ap + 5 * a_rs;            \
        V c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};               \
        V c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};               \
        long pa = 0;                                                                      \
        for (long p = 0; p < kc; ++p) {                                                   \
            V b0 = *(const VU *)Bp, b1 = *(const VU *)(Bp + L);                           \
            T a;                                                                          \
            a = r0[pa]; c00 += a * b0; c01 += a * b1;                                     \
            a = r1[pa]; c10 += a * b0; c11 += a * b1;                                     \
            a = r2[pa]; c20 += a * b0; c21 += a * b1;                                     \
            a = r3[pa]; c30 += a * b0; c31 += a * b1;                                     \
            a = r4[pa]; c40 += a * b0; c41 += a * b1;                                     \
            a = r5[pa]; c50 += a * b0; c51 += a * b1;                                     \
            pa += a_cs; Bp += b_rs;                                                       \
        }                                                                                 \
        V acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};         \
        if (mr == 6 && nr == 2 * L) {                                                     \
            for (int i = 0; i < 6; ++i) {                                                 \
                T *row = C + i * ldc;                                                     \
                V r0v = acc[2 * i], r1v = acc[2 * i + 1];                                 \
                if (add) {                                                                \
                    r0v += *(VU *)row; r1v += *(VU *)(row + L);                           \
                }                                                                         \
                *(VU *)row = r0v; *(VU *)(row + L) = r1v;                                 \
            }                                                                             \
        } else {                                                                          \
            T tile[6][2 * L];                                                             \
            memcpy(tile, acc, sizeof(tile));                                              \
            for (long i = 0; i < mr; ++i)                                                 \
                for (long j = 0; j < nr; ++j)                                             \
                    C[i * ldc + j] = add ? C[i * ldc + j] + tile[i][j] : tile[i][j];      \
        }                                                                                 \
    }
    MI_KERNEL(mi_kernel_f, float, mi_v8f, mi_v8fu, 8)
    MI_KERNEL(mi_kernel_d, double, mi_v4d, mi_v4du, 4)
    """
    void mi_kernel_f(long kc, const float *Ap, long a_rs, long a_cs, const float *Bp, long b_rs, float *C, long ldc,
                     long mr, long nr, int add) noexcept nogil
    void mi_kernel_d(long kc, const double *Ap, long a_rs, long a_cs, const double *Bp, long b_rs, double *C, long ldc,
                     long mr, long nr, int add) noexcept nogil


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
    # every region. functional.linalg sends everything above 2^21 MACs to BLAS, so with
    # this threshold its own-kernel products never start a team; direct gemm calls on
    # large matrices still use both cores.
    MI_PARALLEL_MIN = 1 << 23
    # Up to this many multiply-adds a row-major A is read in place instead of packed
    # (measured with benchmarks/crossover.py; see the numbers in its docstring).
    MI_DIRECT_A_MAX = 128 * 128 * 128


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
            # (the same reason as in mi_pack_b's transposed case).
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
    """Bp[panel][p][c] = op(B)[p0 + p, j0 + panel*NR + c], zero past column nc."""
    cdef Py_ssize_t nr = mi_nr(Bp[0])
    cdef Py_ssize_t jr, p, c, cols, panel
    cdef const floating* rows[MI_NR_F]
    for panel in range((nc + nr - 1) // nr):
        jr = panel * nr
        cols = nc - jr if nc - jr < nr else nr
        if not tb:
            for p in range(kc):
                for c in range(cols):
                    Bp[p * nr + c] = B[(p0 + p) * ldb + j0 + jr + c]
                for c in range(cols, nr):
                    Bp[p * nr + c] = 0
        else:
            # Transposed: row c of the panel is column c of op(B), i.e. row j0+jr+c of
            # B. Writing Bp in order (p outer) and reading NR rows of B side by side
            # keeps each of those NR cache lines live for 16 consecutive p; the
            # column-first order wrote every element to a different line (measured
            # ~4 cycles per element, 28 us for a 128x128 panel set).
            for c in range(cols):
                rows[c] = B + (j0 + jr + c) * ldb + p0
            if cols == nr:
                for p in range(kc):
                    for c in range(MI_NR_F if floating is float else MI_NR_D):
                        Bp[p * nr + c] = rows[c][p]
            else:
                for p in range(kc):
                    for c in range(cols):
                        Bp[p * nr + c] = rows[c][p]
                    for c in range(cols, nr):
                        Bp[p * nr + c] = 0
        Bp += nr * kc


cdef inline void mi_block(const floating* A, Py_ssize_t lda, bint ta, bint direct,
                          Py_ssize_t ic, Py_ssize_t mc, Py_ssize_t pc, Py_ssize_t kc,
                          floating* Ap, const floating* Bp, const floating* Bsrc,
                          Py_ssize_t ldb, bint direct_b, Py_ssize_t nc,
                          floating* C, Py_ssize_t ldc, bint add) noexcept nogil:
    """C[0:mc, 0:nc] (+)= op(A)[ic:ic+mc, pc:pc+kc] @ B block.

    B block: packed panels in Bp; or, with direct_b (B not transposed), its full
    NR-column panels read in place from Bsrc (row stride ldb) and only a ragged last
    panel packed at Bp.

    direct: full MR-row panels of op(A) are read in place (a_rs = lda, a_cs = 1, or
    a_rs = 1, a_cs = lda when A is transposed) and only a ragged last panel is packed,
    zero-padded, into Ap (reading past row m could leave the array); otherwise the
    whole block is packed into Ap first (the Goto layout: a_rs = 1, a_cs = MR).
    """
    cdef Py_ssize_t nr = mi_nr(Bp[0])
    cdef Py_ssize_t ir, jr, mr_e, nr_e, pj, pi, a_rs, a_cs, b_rs
    cdef Py_ssize_t full = mc // MI_MR * MI_MR
    cdef Py_ssize_t fullc = nc // nr * nr
    cdef const floating* panel
    cdef const floating* bpan
    if not direct:
        mi_pack_a(A, lda, ta, ic, mc, pc, kc, Ap)
    elif full < mc:
        mi_pack_a(A, lda, ta, ic + full, mc - full, pc, kc, Ap)
    for pj in range((nc + nr - 1) // nr):
        jr = pj * nr
        nr_e = nc - jr if nc - jr < nr else nr
        if not direct_b:
            bpan = Bp + jr * kc
            b_rs = nr
        elif jr < fullc:
            bpan = Bsrc + jr
            b_rs = ldb
        else:
            bpan = Bp
            b_rs = nr
        for pi in range((mc + MI_MR - 1) // MI_MR):
            ir = pi * MI_MR
            mr_e = mc - ir if mc - ir < MI_MR else MI_MR
            if not direct:
                panel = Ap + ir * kc
                a_rs = 1
                a_cs = MI_MR
            elif ir < full:
                if ta:  # op(A)[i, p] = A[p, i]: six adjacent columns of A
                    panel = A + pc * lda + ic + ir
                    a_rs = 1
                    a_cs = lda
                else:
                    panel = A + (ic + ir) * lda + pc
                    a_rs = lda
                    a_cs = 1
            else:
                panel = Ap
                a_rs = 1
                a_cs = MI_MR
            if floating is float:
                mi_kernel_f(kc, panel, a_rs, a_cs, bpan, b_rs, C + ir * ldc + jr, ldc,
                            mr_e, nr_e, add)
            else:
                mi_kernel_d(kc, panel, a_rs, a_cs, bpan, b_rs, C + ir * ldc + jr, ldc,
                            mr_e, nr_e, add)


cdef inline int mi_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                        const floating* A, Py_ssize_t lda, bint ta,
                        const floating* B, Py_ssize_t ldb, bint tb,
                        floating* C, Py_ssize_t ldc, bint accumulate,
                        int nthreads) noexcept nogil:
    """C (+)= op(A) @ op(B). Returns -1 if a workspace could not be allocated.

    k == 0 writes zeros (or leaves C when accumulating). A is read in place for
    products up to MI_DIRECT_A_MAX multiply-adds and packed above (see mi_block).
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


cdef inline int mi_gemm_packed(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                               const floating* A, Py_ssize_t lda, bint ta,
                               const floating* B, Py_ssize_t ldb, bint tb,
                               floating* C, Py_ssize_t ldc, bint accumulate,
                               int nthreads, bint direct_a) noexcept nogil:
    """The blocked body of mi_gemm (k >= 1) on nthreads threads; direct_a: see mi_block."""
    cdef Py_ssize_t nr = mi_nr(C[0])
    cdef Py_ssize_t jc, pc, ic, nc, kc, mc, nblk, blk, mc_blk, bj, bp, bi
    cdef Py_ssize_t npan, tsk, p0, p1, j0, jn, nts, tail0
    cdef Py_ssize_t kc_max = k if k < MI_KC else MI_KC
    cdef Py_ssize_t nc_max = n if n < MI_NC else MI_NC
    cdef floating* Bp
    cdef floating* Ap
    cdef floating* work
    cdef bint add
    cdef int tid, nt
    cdef bint colsplit
    # Small products also read a row-major B in place (each 16-float row of a panel is
    # contiguous); packing it would cost about a third of a 32-row product's time.
    cdef bint direct_b = direct_a and not tb
    nt = nthreads  # mi_gemm applies MI_PARALLEL_MIN; gemm_path may force a team
    if nt < 1:
        nt = 1
    # Two ways to share the work between threads. Small products (A read in place):
    # each thread takes a range of NR-column panels, packs just those panels of B and
    # runs them against all of A, so no thread waits for a serial packing step. Large
    # products: threads take row blocks of A (MC rows, or an even share when m is
    # short, so a 128-row product still splits in two) against one shared packed B.
    colsplit = direct_a and nt > 1
    mc_blk = MI_MC
    if nt > 1 and not colsplit and m < nt * MI_MC:
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
            if colsplit:
                npan = (nc + nr - 1) // nr
                nts = nt if npan >= nt else npan
                if nts > 1:
                    for tsk in prange(nts, nogil=True, num_threads=nts, schedule="static"):
                        tid = mi_thread_num()
                        p0 = tsk * npan // nts
                        p1 = (tsk + 1) * npan // nts
                        j0 = p0 * nr
                        jn = (p1 * nr if p1 * nr < nc else nc) - j0
                        tail0 = jn // nr * nr if direct_b else 0
                        if tail0 < jn:
                            mi_pack_b(B, ldb, tb, pc, kc, jc + j0 + tail0, jn - tail0, Bp + j0 * kc)
                        for bi in range(nblk):
                            ic = bi * mc_blk
                            mc = m - ic if m - ic < mc_blk else mc_blk
                            mi_block(A, lda, ta, True, ic, mc, pc, kc, Ap + tid * kc_max * mc_blk,
                                     Bp + j0 * kc, B + pc * ldb + jc + j0, ldb, direct_b, jn,
                                     C + ic * ldc + jc + j0, ldc, add)
                    continue
            tail0 = nc // nr * nr if direct_b else 0
            if tail0 < nc:
                mi_pack_b(B, ldb, tb, pc, kc, jc + tail0, nc - tail0, Bp)
            if nt > 1 and nblk > 1:
                for blk in prange(nblk, nogil=True, num_threads=nt, schedule="static"):
                    tid = mi_thread_num()
                    ic = blk * mc_blk
                    mc = m - ic if m - ic < mc_blk else mc_blk
                    mi_block(A, lda, ta, direct_a, ic, mc, pc, kc, Ap + tid * kc_max * mc_blk,
                             Bp, B + pc * ldb + jc, ldb, direct_b, nc, C + ic * ldc + jc, ldc, add)
            else:
                for bi in range(nblk):
                    ic = bi * mc_blk
                    mc = m - ic if m - ic < mc_blk else mc_blk
                    mi_block(A, lda, ta, direct_a, ic, mc, pc, kc, Ap, Bp, B + pc * ldb + jc,
                             ldb, direct_b, nc, C + ic * ldc + jc, ldc, add)
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

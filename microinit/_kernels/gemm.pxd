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

The C parts -- the register tiles (MI_TILE), panel packing, the dot-product and
direct-A loops -- are in src/gemm.h; this file holds the blocking loops around them
and the argument checks of the def entry points.

Callers guarantee m, n >= 1, k >= 0 and valid pointers (functional/linalg.py checks
every shape before a kernel runs).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
cimport numpy as cnp

# OpenMP through a guard (src/omp_threads.h): without OpenMP there is one thread.
cdef extern from "omp_threads.h":
    const int MI_HAS_OPENMP
    int mi_max_threads() noexcept nogil
    int mi_thread_num() noexcept nogil
    void mi_set_threads(int n) noexcept nogil

# The register-tiled micro-kernels, in C with gcc/clang vector extensions (src/gemm.h
# says why); the blocking loops around them are below.
cdef extern from "gemm.h":
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
                         Py_ssize_t d0, Py_ssize_t d1, str name, str op="kernel") except -1:
    """Raise unless a is an aligned, C-contiguous array of typenum in native byte order
    with shape (d0[, d1]); op names the entry point in the message."""
    cdef object o = a
    if cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_ISNOTSWAPPED(a):
        raise TypeError(f"{op}: argument {name} has dtype {o.dtype}, which does not match "
                        f"the output dtype (float32 or float64 in native byte order, all "
                        f"arguments alike)")
    if (cnp.PyArray_NDIM(a) != ndim or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not cnp.PyArray_ISALIGNED(a)):
        raise ValueError(f"{op}: argument {name}: expected an aligned C-contiguous {ndim}-D "
                         f"array, got shape {o.shape} with strides {o.strides}")
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{op}: argument {name}: output array is read-only")
    if cnp.PyArray_DIMS(a)[0] != d0 or (ndim == 2 and cnp.PyArray_DIMS(a)[1] != d1):
        want = (<object> d0,) if ndim == 1 else (<object> d0, <object> d1)
        raise ValueError(f"{op}: argument {name}: expected shape {want}, got {o.shape}")
    return 0


cdef inline int mi_float_type(cnp.ndarray out, str op="kernel") except -1:
    cdef int t = cnp.PyArray_TYPE(out)
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or not cnp.PyArray_ISNOTSWAPPED(out):
        raise TypeError(f"{op}: unsupported output dtype {(<object>out).dtype}; kernels take "
                        f"float32 or float64 in native byte order")
    return t

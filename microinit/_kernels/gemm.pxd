# cython: language_level=3
"""The blocked GEMM core shared by matmul.pyx and dense.pyx (header-only, like activations.pxd).

    C[m, n] (+)= op(A)[m, k] @ op(B)[k, n],   op(X) = X or X^T (a flag, never a copy)

A and B are addressed through a pointer and a leading dimension, so the transposed
products backward needs (x^T dZ, dZ W^T) read the stored arrays directly.

Two regimes, chosen by size (MI_PACKED_MIN multiply-adds, MI_PACKED_MIN_SIDE):

* Large products follow Goto & van de Geijn: B is packed into KC x NR panels (one
  L1-sized sliver each), A into MC x KC blocks of MR-row panels (L2-sized), and an
  MR x NR register tile accumulates a rank-KC update (mi_gemm_packed, in C in
  src/gemm_packed.h). The tile is chosen at run time from what the CPU supports:
  12 x 32 floats / 12 x 16 doubles in 24 of the 32 AVX-512 registers, 6 x 16 / 6 x 8
  with AVX2, 6 x 8 / 6 x 4 in 16-byte vectors otherwise -- so a portable build
  (MICROINIT_PORTABLE=1) runs the same AVX-512 tile as a -march=native one
  (docs/building.md).
* Small products -- the dense layers of small networks -- pack nothing of A and
  allocate nothing (mi_gemm_direct): A is read in place, B panels too where their rows
  are contiguous, otherwise one panel at a time into a 32 KiB stack buffer. The shapes
  whose output is narrow get their own forms: one output column (or row) is a set of
  dot products; a tail of at most NR/4 columns too; and op(A) = x^T with few columns
  (dW = x^T dz of a narrow layer) is computed as C^T = dz^T x with a transposed store,
  so the vectors run along the long dimension instead of being mostly padding.
  Its tile is chosen at run time like the packed one (src/gemm.h): 8 x 32 floats /
  8 x 16 doubles with AVX-512 (16 zmm accumulators, ragged columns stored through
  mask registers), else 6 x 16 floats (12 AVX2 accumulators + 2 loads of B + 1
  broadcast of A out of 16 ymm registers) and 6 x 8 doubles. A tile
  may have fewer rows (1..8, exact: rows past m are never read, so a ragged A needs
  no padded copy) and one vector instead of two; each shape is its own
  specialisation of one C loop (MI_TILE) with the accumulators in named vector
  registers. Ragged stores write from registers: through AVX-512 masks, else in
  4/2/1-lane pieces.

Nothing is read or written past an operand's end (tests/kernels/test_kernel_matmul.py
puts every operand against a guard page).

The C parts -- the direct path's tiles (MI_TILE), panel packing, the dot-product and
direct-A loops -- are in src/gemm.h, the packed path in src/gemm_packed.h; this file
holds the direct path's blocking loops, the choice between the two and the argument
checks of the def entry points.

Callers guarantee m, n >= 1, k >= 0 and valid pointers (ops/linalg.py checks
every shape before a kernel runs).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free

# The register-tiled micro-kernels, in C with gcc/clang vector extensions (src/gemm.h
# says why); the blocking loops around them are below.
cdef extern from "gemm.h":
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
    long mi_direct_lanes_f() noexcept nogil
    long mi_direct_lanes_d() noexcept nogil

# The packed GEMM for large products (src/gemm_packed.h): blocking loops, packing and
# register tiles in C, compiled for AVX-512, AVX2 and plain vectors and picked at the
# first call by what the CPU supports; its own OpenMP team of nthreads.
cdef extern from "gemm_packed.h":
    # rows_done(ctx, r0, r1): rows r0..r1-1 of C are final (src/gemm_packed.h)
    ctypedef void (*mi_rows_done_fn)(void *ctx, long r0, long r1) noexcept nogil
    int mi_pk_gemm_f(long m, long n, long k, const float *A, long lda, int ta, const float *B,
                     long ldb, int tb, float *C, long ldc, int accumulate,
                     int nthreads, mi_rows_done_fn rows_done, void *done_ctx) noexcept nogil
    int mi_pk_gemm_d(long m, long n, long k, const double *A, long lda, int ta, const double *B,
                     long ldb, int tb, double *C, long ldc, int accumulate,
                     int nthreads, mi_rows_done_fn rows_done, void *done_ctx) noexcept nogil
    const char *mi_pk_isa() noexcept nogil


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
    # Products of at least this many multiply-adds, with m and n both at least
    # MI_PACKED_MIN_SIDE, pack A and B; the others read A in place (mi_gemm_direct).
    # Measured with the first AVX-512 packed tile (14 x 32 floats; now 12 x 32, read
    # in place up to 200^3, which moves the crossover only lower) on the Xeon,
    # one thread, float32 (direct / packed us): 48^3 2.1 / 2.9, 64^3 4.7 / 4.2,
    # 96^3 33 / 12.6, 128^3 45 / 27; a side of 16 wastes half a 32-wide tile or most
    # of a 14-row one: 256x64x16 4.8 / 8.4, 16x256x256 18.5 / 23.2, 8x512x512 58 / 60.
    # float64 (14 x 16 tile then): 48^3 4.1 / 4.2, 64^3 10.8 / 8.1, 16x256x256 44 / 47.
    MI_PACKED_MIN = 1 << 18
    # The same with the AVX-512 direct variant (8 x 32 float tiles, src/gemm.h), direct /
    # packed us, float32: 64^3 3.1 / 3.4, 96^3 9.0 / 9.8, 128^3 24.9 / 25.6, 32x128x128
    # 5.3 / 6.8, 128x32x128 (A^T) 5.1 / 7.4, 32x128x128 (B^T) 6.0 / 9.6; from 2^21 on
    # the two are within ~10% either way (128x32x512 A^T 29.8 / 26.3). float64: 64^3
    # 5.8 / 7.6, 96^3 18.7 / 18.8, 128^3 52.6 / 54.4, 128^3 (B^T) 52.4 / 62.3.
    MI_PACKED_MIN_AVX512 = 1 << 21
    MI_PACKED_MIN_SIDE = 32
    # With the AVX-512 direct variant, a product with op(A) = A of few rows and op(B)
    # of at most MI_DIRECT_COLS_MAX columns -- a dense layer's forward over a batch --
    # stays direct at any depth: the rows of A are read in place instead of copied, and
    # each B panel is packed once for all of them. Interleaved medians, one thread,
    # float32, direct / packed us: 64x256x784 142 / 169, 128x128x784 135 / 145,
    # 128x256x784 288 / 302, 128x256x256 88.5 / 92.3, 160x256x256 110 / 115; but
    # 192x256x784 437 / 421, 256x256x784 586 / 585, 128x512x512 382 / 364 and
    # 128x1024x256 476 / 377 (matmul.gemm_path with path="direct" and "packed",
    # alternated 25 times on the benchmark Xeon). Doubles stay packed: 128x256x784
    # 620 / 585, 128x256x256 188 / 183.
    MI_DIRECT_ROWS_MAX = 160
    MI_DIRECT_COLS_MAX = 256
    # One kc x 2L panel of B in either type for the widest direct variant (AVX-512:
    # MI_KC * 32 floats = 32 KiB): the direct path's whole workspace, on the stack.
    MI_PANEL_DOUBLES = MI_KC * MI_NR_D * 2
    # The direct path's row blocks are a multiple of this (its tiles are 6 or 8 rows)
    MI_DIRECT_ROW_STEP = 24
    # The direct path runs every column panel against a block of rows of A whose
    # kc-deep slice takes at most this many bytes (half of a 32 KiB L1), and at least
    # MI_MC rows: sweeping all of A per panel measured 7% slower for doubles at
    # 128x32x128 (A^T = 32 KiB), while one block of 100 rows is a tiny layer's whole A.
    MI_DIRECT_A_BYTES = 16384


cdef inline Py_ssize_t mi_direct_lanes(floating dummy) noexcept nogil:
    """Lanes of one vector of the direct path's variant in use (16 floats with
    AVX-512, else 8; doubles half that)."""
    if floating is float:
        return mi_direct_lanes_f()
    else:
        return mi_direct_lanes_d()


cdef inline int mi_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                        const floating* A, Py_ssize_t lda, bint ta,
                        const floating* B, Py_ssize_t ldb, bint tb,
                        floating* C, Py_ssize_t ldc, bint accumulate,
                        int nthreads, mi_rows_done_fn rows_done=NULL,
                        void* done_ctx=NULL) noexcept nogil:
    """C (+)= op(A) @ op(B). Returns -1 if a workspace could not be allocated.

    ``rows_done(done_ctx, r0, r1)``, when given, is called for every row of C exactly
    once, as soon as rows r0..r1-1 are final (src/gemm_packed.h): the compiled step
    updates a weight from its gradient's rows while they are in cache.

    k == 0 writes zeros (or leaves C when accumulating). Products below
    MI_PACKED_MIN multiply-adds (MI_PACKED_MIN_AVX512 where the direct path runs its
    AVX-512 variant), or with m or n below MI_PACKED_MIN_SIDE, or (AVX-512) a
    forward-like product of at most MI_DIRECT_ROWS_MAX x MI_DIRECT_COLS_MAX, read A in
    place (mi_gemm_direct); the others pack A and B (Goto's layout, mi_pk_gemm_*).
    """
    cdef Py_ssize_t i, j
    if k == 0:
        if not accumulate:
            for i in range(m):
                for j in range(n):
                    C[i * ldc + j] = 0
        if rows_done != NULL:
            rows_done(done_ctx, 0, m)
        return 0
    cdef bint avx512 = mi_direct_lanes(C[0]) * sizeof(floating) == 64
    cdef Py_ssize_t packed_min = MI_PACKED_MIN_AVX512 if avx512 else MI_PACKED_MIN
    cdef bint forward_like = False  # floats only (see MI_DIRECT_ROWS_MAX)
    if floating is float:
        forward_like = (avx512 and not ta and not tb and m <= MI_DIRECT_ROWS_MAX
                        and n <= MI_DIRECT_COLS_MAX)
    return mi_gemm_packed(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate,
                          nthreads if m * n * k >= MI_PARALLEL_MIN else 1,
                          m * n * k < packed_min or m < MI_PACKED_MIN_SIDE
                          or n < MI_PACKED_MIN_SIDE or forward_like, rows_done, done_ctx)


cdef inline int mi_gemm_direct(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                               const floating* A, Py_ssize_t lda, bint ta,
                               const floating* B, Py_ssize_t ldb, bint tb,
                               floating* C, Py_ssize_t ldc, bint accumulate,
                               int nthreads, mi_rows_done_fn rows_done,
                               void* done_ctx) noexcept nogil:
    """The small-product body of mi_gemm (k >= 1): nothing of A is packed, nothing
    allocated on one thread. rows_done as in mi_gemm: after each block of rows when
    one depth block and one thread compute C in place, else once at the end.

    Shapes with one output column (or row) whose operands are contiguous along k are
    dot products (mi_gemv_*). Otherwise tiles of up to 6 rows of op(A), read in place,
    run against column panels of op(B) (mi_direct_*), and a product with few columns
    and op(A) transposed (dW = x^T dz of a narrow layer) is computed as
    C^T = op(B)^T op(A)^T and stored transposed, so that the 8- or 16-lane vectors run
    along m instead of being mostly padding: 16x100x1 uses 2 of 16 lanes of 3 tiles
    the first way and all of them in one tile the second.
    """
    # 64 bytes more than a panel: the panel starts at a 64-byte boundary, so that
    # a tile's 64-byte vector loads of it never straddle two cache lines
    cdef double stackbuf[MI_PANEL_DOUBLES + 8]
    cdef Py_ssize_t L = mi_direct_lanes(C[0])
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
        if rows_done != NULL:
            rows_done(done_ctx, 0, m)
        return 0
    if m == 1 and a_cs == 1 and ps == 1:
        if floating is float:
            mi_gemv_f(n, k, B, js, A, C, c_cs, accumulate)
        else:
            mi_gemv_d(n, k, B, js, A, C, c_cs, accumulate)
        if rows_done != NULL:
            rows_done(done_ctx, 0, m)
        return 0
    cdef Py_ssize_t m_rows = m  # C's rows (m and n swap below when C is stored transposed)
    if ((a_rs == 1 and n * ((m + L - 1) // L) < m * ((n + L - 1) // L))
            or (ps == 1 and a_cs == 1 and m < n and k >= 2 * L
                and L * sizeof(floating) == 64
                and n * ((m + L - 1) // L) <= m * ((n + L - 1) // L))):
        # C^T = op(B)^T op(A)^T: op(B)^T is the new (broadcast) left operand, op(A)^T
        # the new right one, whose rows are contiguous (a_rs == 1), read in place.
        # With B transposed (dx = dz W^T) and fewer rows than columns, op(A)^T is the
        # smaller operand to pack: AVX-512 32x128x128 6.5-6.8 us instead of 7.0; not
        # for shallow products (32x10x128: 1.15 us instead of 1.0).
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
        buf = <floating*> ((<size_t> stackbuf + 63) & ~(<size_t> 63))
        for bp in range((k + MI_KC - 1) // MI_KC):
            pc = bp * MI_KC
            kc = k - pc if k - pc < MI_KC else MI_KC
            mb = (MI_DIRECT_A_BYTES // (kc * <Py_ssize_t> sizeof(floating)) // MI_DIRECT_ROW_STEP
                  * MI_DIRECT_ROW_STEP)
            if mb < MI_MC:
                mb = MI_MC
            i0 = 0
            while i0 < m:
                mi_direct(m - i0 if m - i0 < mb else mb, n, kc, A + pc * a_cs + i0 * a_rs, a_rs,
                          a_cs, B + pc * ps, ps, js, C + i0 * c_rs, c_rs, c_cs,
                          accumulate or pc > 0, tc, buf)
                if rows_done != NULL and not tc and pc + kc >= k:
                    rows_done(done_ctx, i0, m if m - i0 < mb else i0 + mb)
                i0 += mb
        if rows_done != NULL and tc:
            rows_done(done_ctx, 0, m_rows)
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
    if rows_done != NULL:
        rows_done(done_ctx, 0, m_rows)
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
                               int nthreads, bint direct_a, mi_rows_done_fn rows_done=NULL,
                               void* done_ctx=NULL) noexcept nogil:
    """The body of mi_gemm (k >= 1) on nthreads threads: direct_a selects
    mi_gemm_direct, otherwise A and B are packed (Goto & van de Geijn)."""
    if direct_a:
        return mi_gemm_direct(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads,
                              rows_done, done_ctx)
    if floating is float:
        return mi_pk_gemm_f(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads,
                            rows_done, done_ctx)
    else:
        return mi_pk_gemm_d(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads,
                            rows_done, done_ctx)

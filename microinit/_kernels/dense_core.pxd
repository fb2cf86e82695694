# cython: language_level=3
"""The nogil cores of the fused dense layer (header-only, like gemm.pxd).

dense.pyx (the eager op's kernel) and program.pyx (the compiled training step's
interpreter) both call these, so a layer computes the same bits either way: one
definition of the bias + activation epilogue, its backward, and the products around
them. Callers check every shape and pointer first.

Forward (x: (m, k), W: (k, n), b: (n,) or NULL)::

    z = x @ W + b;  y = act(z)

Backward, given dy = dL/dy::

    dz = dy * act'(z, y);  db = sum_rows(dz);  dW = x^T dz;  dx = dz W^T
"""
from cython cimport floating
from cython.parallel cimport prange

from microinit._kernels.activations cimport (
    ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_TANH, act_fwd, act_grad,
    relu_fwd, relu_grad, sigmoid_fwd, sigmoid_grad, tanh_fwd, tanh_grad,
)
from microinit._kernels.matmul cimport mi_rows_done_fn, own_gemm

# Epilogues over fewer elements than this (~40 us of relu on one core) stay on one
# thread: each parallel region is a barrier, and on a busy machine a descheduled
# thread stalls it for a scheduler tick, so it must have enough work to be worth it.
cdef enum:
    EPI_BLOCK = 512  # elements of act' per block of the backward epilogue (2-4 KiB of stack)
    COLSUM_W = 32    # widest block of dense_column_sums: two zmm registers of floats
    EPI_PARALLEL_MIN = 1 << 17
    GEMM_NOGIL_MIN = 32 * 32 * 32


cdef inline void dense_act_rows(floating* z, floating* y, Py_ssize_t count, int code,
                           double param) noexcept nogil:
    """y[i] = act(z[i]) over a flat block; y may be z.

    The common activations get their own loop so the compiler vectorises it (a switch
    inside the loop defeats that); the others take the generic act_fwd dispatch. All
    formulas come from activations.pxd.
    """
    cdef Py_ssize_t i
    if code == ACT_RELU:
        for i in range(count):
            y[i] = relu_fwd(z[i])
    elif code == ACT_IDENTITY:
        if y != z:
            for i in range(count):
                y[i] = z[i]
    elif code == ACT_TANH:
        for i in range(count):
            y[i] = tanh_fwd(z[i])
    elif code == ACT_SIGMOID:
        for i in range(count):
            y[i] = sigmoid_fwd(z[i])
    else:
        for i in range(count):
            y[i] = act_fwd(code, z[i], param)


cdef inline void dense_epilogue_fwd(floating* z, floating* y, const floating* b,
                               Py_ssize_t m, Py_ssize_t n, int code, double param,
                               int nt) noexcept nogil:
    """z += b (broadcast over rows); y = act(z). y may be z."""
    cdef Py_ssize_t i, j
    cdef floating* zr
    if nt > 1 and m * n >= EPI_PARALLEL_MIN:
        for i in prange(m, schedule="static", num_threads=nt):
            if b != NULL:
                for j in range(n):
                    z[i * n + j] = z[i * n + j] + b[j]
            dense_act_rows(z + i * n, y + i * n, n, code, param)
        return
    if b != NULL:
        for i in range(m):
            zr = z + i * n
            for j in range(n):
                zr[j] += b[j]
    dense_act_rows(z, y, m * n, code, param)


cdef inline void dense_epilogue_bwd(const floating* dy, const floating* zx, const floating* y,
                               floating* dz, floating* db, Py_ssize_t m, Py_ssize_t n,
                               int code, double param) noexcept nogil:
    """dz = dy * act'(zx, y); db = column sums of dz (db may be NULL). dz may be dy.

    Blocks of EPI_BLOCK elements in two passes, act'(.) into a stack block then
    dz = dy * block, because gcc will not if-convert relu's select when it feeds a
    multiply in the same statement (the fused loop stayed scalar, ~2.5 cycles per
    element); each pass alone vectorises, and the block keeps it right when dz is dy.
    """
    cdef Py_ssize_t i, j, i0, cnt, count = m * n
    cdef floating blk[EPI_BLOCK]
    if code == ACT_IDENTITY:
        if dz != dy:
            for i in range(count):
                dz[i] = dy[i]
    else:
        i0 = 0
        while i0 < count:
            cnt = count - i0 if count - i0 < EPI_BLOCK else EPI_BLOCK
            if code == ACT_RELU:
                for j in range(cnt):
                    blk[j] = relu_grad(zx[i0 + j])
            elif code == ACT_TANH:
                for j in range(cnt):
                    blk[j] = tanh_grad(y[i0 + j])
            elif code == ACT_SIGMOID:
                for j in range(cnt):
                    blk[j] = sigmoid_grad(y[i0 + j])
            else:
                for j in range(cnt):
                    blk[j] = act_grad(code, zx[i0 + j], y[i0 + j], param)
            for j in range(cnt):
                dz[i0 + j] = dy[i0 + j] * blk[j]
            i0 += cnt
    if db != NULL:
        dense_column_sums(dz, db, m, n)


cdef inline void _column_sums_block(const floating* dz, floating* db, Py_ssize_t m,
                                    Py_ssize_t n, Py_ssize_t w) noexcept nogil:
    """db[j] = sum_i dz[i, j] for the first w <= COLSUM_W columns; called with constant
    w, so the compiler keeps the block of sums in registers."""
    cdef Py_ssize_t i, j
    cdef floating acc[COLSUM_W]
    for j in range(w):
        acc[j] = 0
    for i in range(m):
        for j in range(w):
            acc[j] += dz[i * n + j]
    for j in range(w):
        db[j] = acc[j]


cdef inline void dense_column_sums(const floating* dz, floating* db, Py_ssize_t m,
                                   Py_ssize_t n) noexcept nogil:
    """db[j] = sum_i dz[i, j], each column added up row by row from 0.

    Blocks of 32, 16, 8 or 1 columns, each summed in registers: summed straight into
    db, every add was a load and a store through memory (db might alias dz, so the
    compiler could not keep it in registers), a store-forwarding chain that took a
    fifth of the tiny MLP's compiled step. The order of the additions is the same.
    """
    cdef Py_ssize_t j0 = 0
    while n - j0 >= COLSUM_W:
        _column_sums_block(dz + j0, db + j0, m, n, COLSUM_W)
        j0 += COLSUM_W
    if n - j0 >= 16:
        _column_sums_block(dz + j0, db + j0, m, n, 16)
        j0 += 16
    if n - j0 >= 8:
        _column_sums_block(dz + j0, db + j0, m, n, 8)
        j0 += 8
    while j0 < n:
        _column_sums_block(dz + j0, db + j0, m, n, 1)
        j0 += 1


cdef inline int dense_forward_core(const floating* x, const floating* W, const floating* b,
                                   floating* z, floating* y, Py_ssize_t m, Py_ssize_t n,
                                   Py_ssize_t k, int code, double param, bint do_matmul,
                                   int nt) noexcept nogil:
    """z = x @ W (skipped when not do_matmul: z already holds it), z += b, y = act(z).
    Returns gemm's status (-1: its workspace could not be allocated)."""
    cdef int rc = 0
    if do_matmul:
        rc = own_gemm(m, n, k, x, k, False, W, n, False, z, n, False, nt)
    if rc == 0:
        dense_epilogue_fwd(z, y, b, m, n, code, param, nt)
    return rc


cdef inline int dense_backward_core(const floating* x, const floating* W, const floating* zx,
                                    const floating* y, const floating* dy, floating* dz,
                                    floating* dx, floating* dW, floating* db, Py_ssize_t m,
                                    Py_ssize_t n, Py_ssize_t k, int code, double param,
                                    int nt) noexcept nogil:
    """dz = dy * act'(zx, y), db = sum_rows(dz), dW = x^T dz, dx = dz W^T; dx, dW, db
    may each be NULL (not wanted, or done by the caller in BLAS). Returns gemm's status."""
    cdef int rc = 0
    dense_epilogue_bwd(dy, zx, y, dz, db, m, n, code, param)
    if dW != NULL and k:
        rc = dense_weight_grad(x, dz, dW, m, n, k, nt, NULL, NULL)
    if dx != NULL and k and rc == 0:
        rc = own_gemm(m, k, n, dz, n, False, W, n, True, dx, k, False, nt)
    return rc


cdef inline int dense_weight_grad(const floating* x, const floating* dz, floating* dW,
                                  Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, int nt,
                                  mi_rows_done_fn rows_done, void* done_ctx) noexcept nogil:
    """dW = x^T dz for x (m, k) and dz (m, n), k >= 1; rows_done(done_ctx, r0, r1) is
    called as rows of dW become final (NULL: none; gemm.pxd's mi_gemm). Returns gemm's
    status."""
    return own_gemm(k, n, m, x, k, True, dz, n, False, dW, n, False, nt, rows_done, done_ctx)

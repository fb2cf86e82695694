"""Matrix-multiply kernels: out (+)= op(a) @ op(b) with op = identity or transpose.

The blocked, register-tiled core lives in gemm.pxd (shared with dense.pyx). These
wrappers only turn memoryviews into (pointer, leading dimension) pairs and release the
GIL; functional/linalg.py has already checked every shape and dtype.

    gemm(a, b, out, trans_a=False, trans_b=False, accumulate=False)
        out[m, n] = op(a)[m, k] @ op(b)[k, n]   (+ out if accumulate)
        a is (m, k), or (k, m) when trans_a; b is (k, n), or (n, k) when trans_b.

Example (from Python; shapes are the caller's responsibility)::

    >>> a = np.ones((2, 3), np.float32); b = np.ones((3, 4), np.float32)
    >>> out = np.empty((2, 4), np.float32); gemm(a, b, out); out[0, 0]
    3.0
"""
from cython cimport floating
cimport openmp

from microinit._kernels.gemm cimport mi_gemm


def set_num_threads(int n):
    """Thread count for every OpenMP kernel started from this thread (omp_set_num_threads)."""
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    openmp.omp_set_num_threads(n)


def get_num_threads():
    """Threads the next OpenMP kernel may use (omp_get_max_threads)."""
    return openmp.omp_get_max_threads()


def gemm(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] out,
         bint trans_a=False, bint trans_b=False, bint accumulate=False):
    """out (+)= op(a) @ op(b); see the module docstring."""
    cdef Py_ssize_t m = out.shape[0], n = out.shape[1]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    cdef int rc = 0
    cdef const floating* pa = NULL
    cdef const floating* pb = NULL
    if m == 0 or n == 0:
        return
    if k:  # a/b are 0-sized when k == 0; mi_gemm never dereferences them then
        pa = &a[0, 0]
        pb = &b[0, 0]
    with nogil:
        # Leading dimensions from the strides: rows need only be contiguous, so a
        # column slice a[:, :j] of a C array is accepted without a copy.
        rc = mi_gemm(m, n, k, pa, a.strides[0] // sizeof(floating), trans_a,
                     pb, b.strides[0] // sizeof(floating), trans_b,
                     &out[0, 0], out.strides[0] // sizeof(floating), accumulate,
                     openmp.omp_get_max_threads())
    if rc != 0:
        raise MemoryError(f"gemm: could not allocate the packing workspace for {m}x{k}x{n}")


def gemm_batched(const floating[:, :, ::1] a, const floating[:, :, ::1] b,
                 floating[:, :, ::1] out, bint trans_a=False, bint trans_b=False,
                 bint accumulate=False):
    """out[i] (+)= op(a[i]) @ op(b[i]) for every batch index i.

    a or b may have batch stride 0 (np.broadcast_to), so a broadcast operand is never
    copied. Each matrix's rows must be contiguous (inner stride 1, row stride = width).
    """
    cdef Py_ssize_t nb = out.shape[0], m = out.shape[1], n = out.shape[2]
    cdef Py_ssize_t k = a.shape[1] if trans_a else a.shape[2]
    cdef Py_ssize_t sa = a.strides[0] // sizeof(floating)
    cdef Py_ssize_t sb = b.strides[0] // sizeof(floating)
    cdef Py_ssize_t lda = a.strides[1] // sizeof(floating)
    cdef Py_ssize_t ldb = b.strides[1] // sizeof(floating)
    cdef Py_ssize_t i
    cdef int rc = 0, nt = openmp.omp_get_max_threads()
    cdef const floating* pa = NULL
    cdef const floating* pb = NULL
    if nb == 0 or m == 0 or n == 0:
        return
    if k:
        pa = &a[0, 0, 0]
        pb = &b[0, 0, 0]
    with nogil:
        for i in range(nb):
            rc = mi_gemm(m, n, k, pa + i * sa, lda, trans_a, pb + i * sb, ldb, trans_b,
                         &out[i, 0, 0], out.strides[1] // sizeof(floating), accumulate, nt)
            if rc != 0:
                break
    if rc != 0:
        raise MemoryError(f"gemm_batched: could not allocate the packing workspace for {m}x{k}x{n}")

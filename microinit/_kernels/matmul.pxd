# cython: language_level=3
"""C-level declarations of matmul.pyx shared with the other kernel modules: the buffer
pool, and the one compiled copy of the GEMM.

The GEMM's C code (gemm.pxd, src/gemm*.h: the direct path and the packed AVX-512/AVX2/
plain variants) is compiled into matmul.pyx only. dense_core.pxd (and so dense.pyx and
the compiled step's program.pyx) calls it through ``own_gemm``, which Cython links to
matmul's functions at import: compiling it into each of them took 6-8 s of CPU per
module, most of the first README command's build, for no speed (the call is indirect,
a few ns on a product of at least a microsecond)."""
from cython cimport floating
cimport numpy as cnp

# gemm.pxd's mi_rows_done_fn (src/gemm_packed.h), declared again here so that the
# modules calling own_gemm do not cimport gemm.pxd (and compile the GEMM's C code)
ctypedef void (*mi_rows_done_fn)(void* ctx, long r0, long r1) noexcept nogil


cdef int own_gemm_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A, Py_ssize_t lda, bint ta,
                    const float* B, Py_ssize_t ldb, bint tb, float* C, Py_ssize_t ldc, bint accumulate,
                    int nthreads, mi_rows_done_fn rows_done, void* done_ctx) noexcept nogil
cdef int own_gemm_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* A, Py_ssize_t lda, bint ta,
                    const double* B, Py_ssize_t ldb, bint tb, double* C, Py_ssize_t ldc, bint accumulate,
                    int nthreads, mi_rows_done_fn rows_done, void* done_ctx) noexcept nogil

cdef bint blas_above(Py_ssize_t macs, Py_ssize_t blas_min, bint transposed=*) noexcept nogil


cdef inline int own_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating* A, Py_ssize_t lda,
                         bint ta, const floating* B, Py_ssize_t ldb, bint tb, floating* C,
                         Py_ssize_t ldc, bint accumulate, int nthreads,
                         mi_rows_done_fn rows_done=NULL, void* done_ctx=NULL) noexcept nogil:
    """gemm.pxd's mi_gemm, C (+)= op(A) @ op(B), in either precision: -1 if a workspace
    could not be allocated. rows_done(done_ctx, r0, r1) as in mi_gemm."""
    if floating is float:
        return own_gemm_f(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads,
                          rows_done, done_ctx)
    else:
        return own_gemm_d(m, n, k, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nthreads,
                          rows_done, done_ctx)


cdef class BufferPool:
    cdef dict _free
    cdef public Py_ssize_t per_key
    cdef public Py_ssize_t max_keys
    cdef cnp.ndarray take(self, int nd, Py_ssize_t d0, Py_ssize_t d1, int typenum)

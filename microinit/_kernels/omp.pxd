# cython: language_level=3
"""OpenMP's thread count through a guard (src/omp_threads.h): without OpenMP there is one
thread. Its own .pxd so a module can read the thread count without including the
GEMM's C code (gemm.pxd), which only matmul.pyx compiles."""

cdef extern from "omp_threads.h":
    const int MI_HAS_OPENMP
    int mi_max_threads() noexcept nogil
    int mi_thread_num() noexcept nogil
    void mi_set_threads(int n) noexcept nogil

# cython: language_level=3
"""The nogil loops of inverted dropout (header-only): dropout.pyx (the eager op's
kernel) and program.pyx (the compiled training step) both call these, so a mask and
its gradient are the same bits either way. Formulas in dropout.pyx."""
from cython cimport floating
cimport numpy as cnp


cdef inline double dropout_scale(double p) noexcept nogil:
    return 0.0 if p >= 1.0 else 1.0 / (1.0 - p)


cdef inline void dropout_forward_core(const floating* x, const floating* u, floating p, floating scale,
                   floating* y, cnp.uint8_t* keep, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint k
    for i in range(n):
        k = u[i] >= p
        keep[i] = k
        y[i] = x[i] * (scale if k else 0)


cdef inline void dropout_backward_core(const floating* dy, const cnp.uint8_t* keep, floating scale, floating* dx,
                    Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = dy[i] * (scale if keep[i] else 0)

# cython: language_level=3
"""The nogil cores of the mean squared error (header-only): regression.pyx (the eager
op's kernel) and program.pyx (the compiled training step) both call these, so the loss
and its gradient are the same bits either way. Formulas in regression.pyx."""
from cython cimport floating


cdef inline double mse_diff_sumsq(const floating* p, const floating* q, floating* d,
                               Py_ssize_t n) noexcept nogil:
    """d = p - q; return sum(d^2) in double.

    Four partial sums: one chain of dependent adds would run at the add latency
    (4 cycles) per element, and without -ffast-math the compiler may not reassociate.
    """
    cdef Py_ssize_t i, n4 = n - n % 4
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef floating e0, e1, e2, e3
    for i in range(0, n4, 4):
        e0 = p[i] - q[i]
        e1 = p[i + 1] - q[i + 1]
        e2 = p[i + 2] - q[i + 2]
        e3 = p[i + 3] - q[i + 3]
        d[i] = e0
        d[i + 1] = e1
        d[i + 2] = e2
        d[i + 3] = e3
        s0 += <double> e0 * e0
        s1 += <double> e1 * e1
        s2 += <double> e2 * e2
        s3 += <double> e3 * e3
    for i in range(n4, n):
        e0 = p[i] - q[i]
        d[i] = e0
        s0 += <double> e0 * e0
    return (s0 + s1) + (s2 + s3)


cdef inline void mse_scaled(const floating* d, floating s, floating* out, floating* neg,
                         Py_ssize_t n) noexcept nogil:
    """out = s d; neg = -out unless neg is NULL."""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = d[i] * s
    if neg != NULL:
        for i in range(n):
            neg[i] = -out[i]

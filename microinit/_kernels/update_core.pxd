# cython: language_level=3
"""The nogil cores of the SGD and Adam/AdamW updates (header-only): updates.pyx (the
optimizers' kernels) and program.pyx (the compiled training step) both call these, so
a parameter update is the same bits either way. Formulas in updates.pyx."""
from cython cimport floating
from libc.math cimport INFINITY, sqrt, sqrtf, pow
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy


cdef inline bint any_nonfinite(const floating* x, Py_ssize_t n) noexcept nogil:
    # x - x is 0 for every finite x and NaN for NaN/inf; no early exit so it vectorizes.
    cdef Py_ssize_t i
    cdef int bad = 0
    for i in range(n):
        bad |= (x[i] - x[i]) != 0
    return bad


ctypedef fused unsigned_bits:
    uint32_t
    uint64_t


cdef inline unsigned_bits _max_masked(const unsigned_bits* bits, Py_ssize_t n,
                                      unsigned_bits mask) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned_bits top = 0, b
    for i in range(n):
        b = bits[i] & mask
        top = b if b > top else top
    return top


cdef inline double max_abs(const floating* x, Py_ssize_t n) noexcept nogil:
    """max |x_i| (0 for n = 0), or inf when any x_i is NaN or inf.

    On the bit patterns with the sign cleared: for IEEE floats their unsigned order is
    the order of |x|, with inf above every finite value and NaN above inf, so one
    integer max (which vectorizes, where a float max with NaN rules does not) gives
    both the bound and whether every value is finite."""
    cdef uint32_t m32
    cdef uint64_t m64
    cdef float f32
    cdef double f64
    if floating is float:
        m32 = _max_masked(<const uint32_t*> x, n, <uint32_t> 0x7fffffffu)
        if m32 >= 0x7f800000u:
            return INFINITY
        memcpy(&f32, &m32, 4)
        return f32
    else:
        m64 = _max_masked(<const uint64_t*> x, n, <uint64_t> 0x7fffffffffffffffu)
        if m64 >= 0x7ff0000000000000u:
            return INFINITY
        memcpy(&f64, &m64, 8)
        return f64


cdef inline bint sgd_loop(floating* p, const floating* g, floating* buf, Py_ssize_t n,
                    floating lr, floating momentum, floating dampening, floating wd,
                    bint nesterov, bint init_buf) noexcept nogil:
    # Branch-free bodies (one loop per case) so the compiler vectorizes them; the
    # multiplications by 0 and 1 below are exact for finite values, and gradients
    # were checked finite before any loop runs.
    cdef Py_ssize_t i
    cdef floating d, b
    cdef floating keep_d = 1 if nesterov else 0       # nesterov: d + m*b; plain: b
    cdef floating take_b = momentum if nesterov else 1
    cdef floating damp = 1 - dampening
    cdef int bad = 0
    if momentum == 0:
        for i in range(n):
            d = p[i] - lr * (g[i] + wd * p[i])
            p[i] = d
            bad |= (d - d) != 0
    elif init_buf:
        for i in range(n):
            d = g[i] + wd * p[i]
            buf[i] = d
            d = p[i] - lr * (keep_d * d + take_b * d)
            p[i] = d
            bad |= (d - d) != 0
    else:
        for i in range(n):
            d = g[i] + wd * p[i]
            b = momentum * buf[i] + damp * d
            buf[i] = b
            d = p[i] - lr * (keep_d * d + take_b * b)
            p[i] = d
            bad |= (d - d) != 0
    return bad


cdef inline bint adam_loop(floating* p, const floating* g, floating* m, floating* v, Py_ssize_t n,
                     floating lr, floating beta1, floating beta2, floating eps, floating wd,
                     bint decoupled, floating step_size, floating bc2_sqrt) noexcept nogil:
    # Branch-free: AdamW scales p by (1 - lr*wd) and adds nothing to g; Adam scales by
    # exactly 1 and adds wd*p to g. sqrt vectorizes because this module is compiled
    # with -fno-math-errno (v >= 0 always, so errno could never be set anyway).
    cdef Py_ssize_t i
    cdef floating gi, mi, vi, pi
    cdef floating decay = (1 - lr * wd) if decoupled else 1
    cdef floating l2 = 0 if decoupled else wd
    cdef floating one_b1 = 1 - beta1
    cdef floating one_b2 = 1 - beta2
    cdef int bad = 0
    for i in range(n):
        pi = p[i] * decay
        gi = g[i] + l2 * p[i]
        mi = m[i] + one_b1 * (gi - m[i])
        vi = beta2 * v[i] + one_b2 * gi * gi
        m[i] = mi
        v[i] = vi
        if floating is float:
            pi = pi - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps)
        else:
            pi = pi - step_size * mi / (sqrt(vi) / bc2_sqrt + eps)
        p[i] = pi
        bad |= (pi - pi) != 0
    return bad


cdef inline void adam_corrections(double lr, double beta1, double beta2, double t,
                                  double* step_size, double* bc2_sqrt) noexcept nogil:
    """Adam's bias corrections at step t, in double as PyTorch computes them on Python
    floats: step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t)."""
    step_size[0] = lr / (1.0 - pow(beta1, t))
    bc2_sqrt[0] = sqrt(1.0 - pow(beta2, t))

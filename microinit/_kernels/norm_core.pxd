# cython: language_level=3
"""The nogil row loops of layer normalization (header-only): norm.pyx (the eager op's
kernel) and program.pyx (the compiled training step) both call these, so a layer norm
and its gradients are the same bits either way. Formulas in norm.pyx."""
from cython cimport floating
from libc.math cimport sqrt


# ------------------------------------------------------------------------ rows
# Row sums use four partial sums in double: one chain of dependent adds runs at the
# add latency (4 cycles) per element, and without -ffast-math the compiler may not
# reassociate it (the same reasoning as regression.pyx).
cdef inline double norm_row_sum(const floating* x, Py_ssize_t d) noexcept nogil:
    cdef Py_ssize_t j, d4 = d - d % 4
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    for j in range(0, d4, 4):
        s0 += x[j]
        s1 += x[j + 1]
        s2 += x[j + 2]
        s3 += x[j + 3]
    for j in range(d4, d):
        s0 += x[j]
    return (s0 + s1) + (s2 + s3)


cdef inline double norm_row_centered_sumsq(const floating* x, double mu, Py_ssize_t d) noexcept nogil:
    """sum (x - mu)^2: the second pass, no cancellation when |mu| >> std."""
    cdef Py_ssize_t j, d4 = d - d % 4
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, e0, e1, e2, e3
    for j in range(0, d4, 4):
        e0 = x[j] - mu
        e1 = x[j + 1] - mu
        e2 = x[j + 2] - mu
        e3 = x[j + 3] - mu
        s0 += e0 * e0
        s1 += e1 * e1
        s2 += e2 * e2
        s3 += e3 * e3
    for j in range(d4, d):
        e0 = x[j] - mu
        s0 += e0 * e0
    return (s0 + s1) + (s2 + s3)


cdef inline void norm_row_grad_sums(const floating* x, const floating* g, const floating* w, floating mu,
                                floating r, Py_ssize_t d, double* sa, double* sb) noexcept nogil:
    """sa = sum gh, sb = sum gh * xhat over a row, gh = g * w (g without w)."""
    cdef Py_ssize_t j, k, d2 = d - d % 2
    cdef double a0 = 0.0, a1 = 0.0, b0 = 0.0, b1 = 0.0
    cdef floating xh0, xh1, gh0, gh1
    for j in range(0, d2, 2):
        k = j + 1
        xh0 = (x[j] - mu) * r
        xh1 = (x[k] - mu) * r
        gh0 = g[j] * w[j] if w != NULL else g[j]
        gh1 = g[k] * w[k] if w != NULL else g[k]
        a0 += gh0
        a1 += gh1
        b0 += <double> gh0 * xh0
        b1 += <double> gh1 * xh1
    for j in range(d2, d):
        xh0 = (x[j] - mu) * r
        gh0 = g[j] * w[j] if w != NULL else g[j]
        a0 += gh0
        b0 += <double> gh0 * xh0
    sa[0] = a0 + a1
    sb[0] = b0 + b1


cdef inline void norm_rows_forward(const floating* x, const floating* w, const floating* b, floating* y,
                        floating* mean, floating* rstd, Py_ssize_t m, Py_ssize_t d,
                        double eps) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    cdef floating* out
    cdef double mu, var
    cdef floating muf, rf, h
    for i in range(m):
        row = x + i * d
        out = y + i * d
        mu = norm_row_sum(row, d) / d if d else 0.0
        var = norm_row_centered_sumsq(row, mu, d) / d if d else 0.0
        muf = <floating> mu
        rf = <floating> (1.0 / sqrt(var + eps))
        mean[i] = muf
        rstd[i] = rf
        for j in range(d):
            h = (row[j] - muf) * rf
            if w != NULL:
                h = h * w[j]
            if b != NULL:
                h = h + b[j]
            out[j] = h


cdef inline void norm_rows_backward(const floating* x, const floating* mean, const floating* rstd,
                         const floating* w, const floating* dy, floating* dx, double* dw,
                         double* db, Py_ssize_t m, Py_ssize_t d) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    cdef const floating* g
    cdef double sa, sb
    cdef floating mu, r, xh, gh, a, bb
    for i in range(m):
        row = x + i * d
        g = dy + i * d
        mu = mean[i]
        r = rstd[i]
        if dw != NULL:  # a loop of its own: dx's sums never depend on need_params
            for j in range(d):
                xh = (row[j] - mu) * r
                dw[j] += <double> g[j] * xh
                db[j] += g[j]
        if dx == NULL:
            continue
        norm_row_grad_sums(row, g, w, mu, r, d, &sa, &sb)
        a = <floating> (sa / d)
        bb = <floating> (sb / d)
        for j in range(d):
            xh = (row[j] - mu) * r
            gh = g[j] * w[j] if w != NULL else g[j]
            dx[i * d + j] = r * (gh - a - xh * bb)

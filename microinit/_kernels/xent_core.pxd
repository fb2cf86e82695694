# cython: language_level=3
"""The nogil cores of fused softmax cross-entropy with integer labels (header-only).

xent.pyx (the eager op's kernel) and program.pyx (the compiled training step) both
call these, so a loss and its gradient are the same bits either way. The formulas are
in xent.pyx's docstring.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log, INFINITY, NAN
from libc.stdint cimport int64_t

from microinit._kernels.activations cimport f_exp

# Below this many logits a thread team costs more than it saves.
cdef enum:
    XENT_PARALLEL_MIN = 1 << 14

# exp over a float32 row, 8 lanes at a time: a vectorised Cephes expf (src/fast_exp.h
# says why and how accurate).
cdef extern from "fast_exp.h":
    void mi_xe_exp_shifted(const float* x, float m, float* p, Py_ssize_t c) noexcept nogil


cdef inline double xent_row_softmax(const floating* x, floating* p, Py_ssize_t c) noexcept nogil:
    """Write softmax of the row x[0:c] into p[0:c]; return log-sum-exp (or -inf for a
    -inf row)."""
    cdef Py_ssize_t j
    cdef floating m = x[0]
    cdef double s = 0.0, inv
    for j in range(1, c):
        if x[j] > m:
            m = x[j]
    if m == -INFINITY:
        for j in range(c):
            if x[j] != x[j]:  # a NaN beside -inf logits: a NaN row (IEEE), not an all -inf one
                for j in range(c):
                    p[j] = NAN
                return NAN
        for j in range(c):
            p[j] = 0
        return -INFINITY
    if floating is float:
        mi_xe_exp_shifted(x, m, p, c)
    else:
        for j in range(c):
            p[j] = f_exp(<floating>(x[j] - m))
    for j in range(c):
        s += p[j]
    inv = 1.0 / s
    for j in range(c):
        p[j] = <floating>(p[j] * inv)
    return m + log(s)


cdef enum:
    ROW_OK = 0
    ROW_ALL_NEG_INF = 1
    ROW_BAD_LABEL = 2


cdef inline int xent_label_row(const floating* x, int64_t y, floating* p, Py_ssize_t c,
                           floating* loss) noexcept nogil:
    """Softmax of the row x[0:c] into p and its loss into loss[0] with label y; returns
    a ROW_* status (a bad label is never used as an index)."""
    cdef double lse
    if y < 0 or y >= c:
        loss[0] = NAN
        return ROW_BAD_LABEL
    lse = xent_row_softmax(x, p, c)
    if lse == -INFINITY:
        loss[0] = INFINITY
        return ROW_ALL_NEG_INF
    loss[0] = <floating>(lse - x[y])
    return ROW_OK


cdef inline int xent_soft_row(const floating* x, const floating* t, floating* p, Py_ssize_t c,
                          floating* loss) noexcept nogil:
    """Softmax of the row x[0:c] into p and its loss into loss[0] with target
    probabilities t[0:c]; returns a ROW_* status."""
    cdef Py_ssize_t j
    cdef double acc = 0.0
    cdef double lse = xent_row_softmax(x, p, c)
    if lse == -INFINITY:
        loss[0] = INFINITY
        return ROW_ALL_NEG_INF
    for j in range(c):
        if t[j] != 0:
            acc += t[j] * (lse - x[j])
    loss[0] = <floating>acc
    return ROW_OK


cdef inline int xent_label_row_at(const floating* x, const int64_t* labels, floating* loss,
                              floating* p, Py_ssize_t i, Py_ssize_t c,
                              floating* li) noexcept nogil:
    """xent_label_row for row i of the buffers; the loss goes to li and, unless loss is
    NULL, to loss[i]."""
    cdef int s = xent_label_row(x + i * c, labels[i], p + i * c, c, li)
    if loss != NULL:
        loss[i] = li[0]
    return s


cdef inline void xent_label_rows(const floating* x, const int64_t* labels, floating* loss, floating* p,
                      Py_ssize_t n, Py_ssize_t c, double* total, int* bad,
                      int* bad_label) noexcept nogil:
    """Every row of an integer-label forward; loss may be NULL (only the total is
    wanted). Rows are independent, so above XENT_PARALLEL_MIN logits they run in prange;
    the total then sums in another order (float rounding only)."""
    cdef Py_ssize_t i
    cdef double tot = 0.0
    cdef int s, nbad = 0, nbad_label = 0
    cdef floating li
    if n * c >= XENT_PARALLEL_MIN:
        for i in prange(n, schedule="static"):
            # assigned in the body, so Cython makes li thread-private; written only
            # through its address, it would be one variable shared by every thread
            li = 0
            s = xent_label_row_at(x, labels, loss, p, i, c, &li)
            tot += li if s == ROW_OK else 0.0
            nbad += s == ROW_ALL_NEG_INF
            nbad_label += s == ROW_BAD_LABEL
    else:
        for i in range(n):
            s = xent_label_row_at(x, labels, loss, p, i, c, &li)
            tot += li if s == ROW_OK else 0.0
            nbad += s == ROW_ALL_NEG_INF
            nbad_label += s == ROW_BAD_LABEL
    total[0] = tot
    bad[0] = nbad
    bad_label[0] = nbad_label


cdef inline void xent_label_grad_row(const floating* p, int64_t y, floating d, floating* dx,
                                 Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(c):
        dx[j] = d * p[j]
    dx[y] -= d


cdef inline void xent_label_grads(const floating* p, const int64_t* labels, double g, bint mean,
                       floating* dx, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    """dx = d (p - onehot) with d = g / n (mean) or g, formed in floating exactly as
    numpy forms ``asarray(g, dtype) * (1.0 / n)``."""
    cdef Py_ssize_t i
    cdef floating d = <floating> g
    if mean:
        d = d * <floating> (1.0 / n)
    if n * c >= XENT_PARALLEL_MIN:
        for i in prange(n, schedule="static"):
            xent_label_grad_row(p + i * c, labels[i], d, dx + i * c, c)
    else:
        for i in range(n):
            xent_label_grad_row(p + i * c, labels[i], d, dx + i * c, c)

"""Fused softmax cross-entropy: forward (per-row loss + softmax probabilities) and
backward (dlogits) over C-contiguous (N, C) buffers.

Per row i, with m = max_j x_ij and s = sum_j exp(x_ij - m):
    p_ij   = exp(x_ij - m) / s                       (stored for backward)
    loss_i = m + log s - x_i,y_i                     (integer labels)
    loss_i = sum_j t_ij (m + log s - x_ij)           (probability targets; terms with
                                                     t_ij == 0 are skipped, so a -inf
                                                     logit there stays finite)
    dx_ij  = dloss_i * (p_ij - [j == y_i])           (labels)
    dx_ij  = dloss_i * (p_ij * sum_k t_ik - t_ij)    (targets)

Sums accumulate in double for both dtypes. Callers (functional/losses.py) validate
shapes and dtypes and never pass zero-size buffers. Label *values* are checked here,
in the row loop, because a label is used as an index: a label outside [0, C) is never
dereferenced (its row gets a NaN loss and is counted) and the caller raises naming it.
Both forwards return ``(total_loss, n_rows_all_neg_inf, n_bad_labels)``: the total
saves the caller a reduction pass, and rows whose logits are all -inf (loss
undefined, set to +inf) are counted so the caller can raise.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log, INFINITY, NAN
from libc.stdint cimport int64_t

from microinit._kernels.activations cimport f_exp

# Below this many logits a thread team costs more than it saves.
DEF PARALLEL_MIN = 1 << 14


cdef inline double _row_softmax(const floating[:, ::1] x, floating[:, ::1] p, Py_ssize_t i,
                                Py_ssize_t c) noexcept nogil:
    """Write softmax of row i into p[i]; return log-sum-exp (or -inf for a -inf row)."""
    cdef Py_ssize_t j
    cdef floating m = x[i, 0]
    cdef double s = 0.0, inv
    cdef floating e
    for j in range(1, c):
        if x[i, j] > m:
            m = x[i, j]
    if m == -INFINITY:
        for j in range(c):
            p[i, j] = 0
        return -INFINITY
    for j in range(c):
        e = f_exp(<floating>(x[i, j] - m))
        p[i, j] = e
        s += e
    inv = 1.0 / s
    for j in range(c):
        p[i, j] = <floating>(p[i, j] * inv)
    return m + log(s)


cdef enum:
    ROW_OK = 0
    ROW_ALL_NEG_INF = 1
    ROW_BAD_LABEL = 2


cdef inline int _label_row(const floating[:, ::1] x, const int64_t[::1] labels,
                           floating[::1] loss, floating[:, ::1] p, Py_ssize_t i,
                           Py_ssize_t c) noexcept nogil:
    """Softmax and loss of row i with an integer label; returns a ROW_* status."""
    cdef int64_t y = labels[i]
    cdef double lse
    if y < 0 or y >= c:
        loss[i] = NAN
        return ROW_BAD_LABEL
    lse = _row_softmax(x, p, i, c)
    if lse == -INFINITY:
        loss[i] = INFINITY
        return ROW_ALL_NEG_INF
    loss[i] = <floating>(lse - x[i, y])
    return ROW_OK


cdef inline int _soft_row(const floating[:, ::1] x, const floating[:, ::1] t,
                          floating[::1] loss, floating[:, ::1] p, Py_ssize_t i,
                          Py_ssize_t c) noexcept nogil:
    """Softmax and loss of row i with target probabilities; returns a ROW_* status."""
    cdef Py_ssize_t j
    cdef double acc = 0.0
    cdef double lse = _row_softmax(x, p, i, c)
    if lse == -INFINITY:
        loss[i] = INFINITY
        return ROW_ALL_NEG_INF
    for j in range(c):
        if t[i, j] != 0:
            acc += t[i, j] * (lse - x[i, j])
    loss[i] = <floating>acc
    return ROW_OK


def xent_forward(const floating[:, ::1] logits, const int64_t[::1] labels,
                 floating[::1] loss, floating[:, ::1] probs):
    """loss[i] = logsumexp(logits[i]) - logits[i, labels[i]]; probs = softmax(logits).
    Returns (sum of finite-row losses, count of all -inf rows, count of bad labels)."""
    cdef Py_ssize_t i, n = logits.shape[0], c = logits.shape[1]
    cdef double total = 0.0
    cdef int s, bad = 0, bad_label = 0
    if n * c >= PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            s = _label_row(logits, labels, loss, probs, i, c)
            total += loss[i] if s == ROW_OK else 0.0
            bad += s == ROW_ALL_NEG_INF
            bad_label += s == ROW_BAD_LABEL
    else:
        with nogil:
            for i in range(n):
                s = _label_row(logits, labels, loss, probs, i, c)
                total += loss[i] if s == ROW_OK else 0.0
                bad += s == ROW_ALL_NEG_INF
                bad_label += s == ROW_BAD_LABEL
    return total, bad, bad_label


def xent_forward_soft(const floating[:, ::1] logits, const floating[:, ::1] target,
                      floating[::1] loss, floating[:, ::1] probs):
    """loss[i] = sum_j target[i, j] * (logsumexp(logits[i]) - logits[i, j]).
    Returns (sum of finite-row losses, count of all -inf rows, 0)."""
    cdef Py_ssize_t i, n = logits.shape[0], c = logits.shape[1]
    cdef double total = 0.0
    cdef int s, bad = 0
    if n * c >= PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            s = _soft_row(logits, target, loss, probs, i, c)
            total += loss[i] if s == ROW_OK else 0.0
            bad += s == ROW_ALL_NEG_INF
    else:
        with nogil:
            for i in range(n):
                s = _soft_row(logits, target, loss, probs, i, c)
                total += loss[i] if s == ROW_OK else 0.0
                bad += s == ROW_ALL_NEG_INF
    return total, bad, 0


cdef inline void _label_grad_row(const floating[:, ::1] p, const int64_t[::1] labels,
                                 floating d, floating[:, ::1] dx, Py_ssize_t i,
                                 Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(c):
        dx[i, j] = d * p[i, j]
    dx[i, labels[i]] -= d


def xent_backward(const floating[:, ::1] probs, const int64_t[::1] labels,
                  const floating[::1] dloss, floating[:, ::1] dlogits):
    """dlogits[i, j] = dloss[i] * (probs[i, j] - [j == labels[i]])."""
    cdef Py_ssize_t i, n = probs.shape[0], c = probs.shape[1]
    if n * c >= PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            _label_grad_row(probs, labels, dloss[i], dlogits, i, c)
    else:
        with nogil:
            for i in range(n):
                _label_grad_row(probs, labels, dloss[i], dlogits, i, c)


cdef inline void _soft_grad_row(const floating[:, ::1] p, const floating[:, ::1] t,
                                floating d, floating[:, ::1] dx, Py_ssize_t i,
                                Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t j
    cdef double tot = 0.0
    for j in range(c):
        tot += t[i, j]
    for j in range(c):
        dx[i, j] = d * <floating>(p[i, j] * tot - t[i, j])


def xent_backward_soft(const floating[:, ::1] probs, const floating[:, ::1] target,
                       const floating[::1] dloss, floating[:, ::1] dlogits):
    """dlogits[i, j] = dloss[i] * (probs[i, j] * sum_k target[i, k] - target[i, j])."""
    cdef Py_ssize_t i, n = probs.shape[0], c = probs.shape[1]
    if n * c >= PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            _soft_grad_row(probs, target, dloss[i], dlogits, i, c)
    else:
        with nogil:
            for i in range(n):
                _soft_grad_row(probs, target, dloss[i], dlogits, i, c)

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
from libc.stdint cimport int64_t
cimport numpy as cnp

from microinit._kernels.xent_core cimport (
    ROW_ALL_NEG_INF, ROW_OK, XENT_PARALLEL_MIN, xent_label_grad_row, xent_label_grads,
    xent_label_rows, xent_soft_row,
)
from microinit._kernels.fastpath cimport (
    RED_MEAN, plain_float_type, plain_of, reduction_code, scalar_array, scalar_value,
)
from microinit._kernels.matmul cimport BufferPool

cnp.import_array()

def xent_forward(const floating[:, ::1] logits, const int64_t[::1] labels,
                 floating[::1] loss, floating[:, ::1] probs):
    """loss[i] = logsumexp(logits[i]) - logits[i, labels[i]]; probs = softmax(logits).
    Returns (sum of finite-row losses, count of all -inf rows, count of bad labels)."""
    cdef Py_ssize_t n = logits.shape[0], c = logits.shape[1]
    cdef double total = 0.0
    cdef int bad = 0, bad_label = 0
    if n == 0 or c == 0:  # callers never pass these; no element to address
        return total, bad, bad_label
    with nogil:
        xent_label_rows(&logits[0, 0], &labels[0], &loss[0], &probs[0, 0], n, c,
                    &total, &bad, &bad_label)
    return total, bad, bad_label


def xent_forward_soft(const floating[:, ::1] logits, const floating[:, ::1] target,
                      floating[::1] loss, floating[:, ::1] probs):
    """loss[i] = sum_j target[i, j] * (logsumexp(logits[i]) - logits[i, j]).
    Returns (sum of finite-row losses, count of all -inf rows, 0)."""
    cdef Py_ssize_t i, n = logits.shape[0], c = logits.shape[1]
    cdef double total = 0.0
    cdef int s, bad = 0
    if n == 0 or c == 0:
        return total, bad, 0
    if n * c >= XENT_PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            s = xent_soft_row(&logits[i, 0], &target[i, 0], &probs[i, 0], c, &loss[i])
            total += loss[i] if s == ROW_OK else 0.0
            bad += s == ROW_ALL_NEG_INF
    else:
        with nogil:
            for i in range(n):
                s = xent_soft_row(&logits[i, 0], &target[i, 0], &probs[i, 0], c, &loss[i])
                total += loss[i] if s == ROW_OK else 0.0
                bad += s == ROW_ALL_NEG_INF
    return total, bad, 0


cdef int _check_labels(const int64_t* labels, Py_ssize_t n, Py_ssize_t c, str op) except -1:
    """Every label in [0, c): a label is used as an index, so this is checked here too
    (cheap: n compares) and not only where the op validated it."""
    cdef Py_ssize_t i
    for i in range(n):
        if labels[i] < 0 or labels[i] >= c:
            raise ValueError(f"{op}: label {labels[i]} at index {i} is out of range for "
                             f"n_classes {c}")
    return 0


def xent_backward(const floating[:, ::1] probs, const int64_t[::1] labels,
                  const floating[::1] dloss, floating[:, ::1] dlogits):
    """dlogits[i, j] = dloss[i] * (probs[i, j] - [j == labels[i]])."""
    cdef Py_ssize_t i, n = probs.shape[0], c = probs.shape[1]
    if (labels.shape[0] != n or dloss.shape[0] != n or dlogits.shape[0] != n
            or dlogits.shape[1] != c):
        raise ValueError(f"xent_backward: probs ({n}, {c}), labels ({labels.shape[0]},), "
                         f"dloss ({dloss.shape[0]},), dlogits ({dlogits.shape[0]}, {dlogits.shape[1]}) "
                         "do not match")
    if n == 0 or c == 0:
        return
    _check_labels(&labels[0], n, c, "xent_backward")
    if n * c >= XENT_PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            xent_label_grad_row(&probs[i, 0], labels[i], dloss[i], &dlogits[i, 0], c)
    else:
        with nogil:
            for i in range(n):
                xent_label_grad_row(&probs[i, 0], labels[i], dloss[i], &dlogits[i, 0], c)


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
    if n * c >= XENT_PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            _soft_grad_row(probs, target, dloss[i], dlogits, i, c)
    else:
        with nogil:
            for i in range(n):
                _soft_grad_row(probs, target, dloss[i], dlogits, i, c)


# --- the one-call fast path (used by functional/losses.py) ---------------------------
#
# A (32, 10) cross-entropy computes in well under a microsecond; the validating path
# spends several more on dtype/shape tests, buffer allocation and memoryview
# acquisition. forward_auto/backward_auto do the plain integer-label case -- exact
# C-contiguous ndarrays, float32/float64 logits, int64 labels of matching length,
# reduction "mean" or "sum" -- in one C-level call with pooled outputs, and return
# None for anything else (including a bad label or an all -inf row, so that the
# validating path raises its usual error naming it).

cdef inline void _label_rows_t(int t, const void* x, const int64_t* labels, void* p,
                               Py_ssize_t n, Py_ssize_t c, double* total, int* bad,
                               int* bad_label) noexcept nogil:
    """xent_label_rows without per-row losses on buffers of typenum t."""
    if t == cnp.NPY_FLOAT32:
        xent_label_rows(<const float*> x, labels, <float*> NULL, <float*> p, n, c, total, bad, bad_label)
    else:
        xent_label_rows(<const double*> x, labels, <double*> NULL, <double*> p, n, c, total, bad, bad_label)


cdef class XentSaved:
    """What integer-label cross-entropy keeps for backward (made and read only here):
    ``probs`` = softmax(logits) (pooled), ``labels`` a private copy taken in forward (so
    an in-place change of the caller's labels cannot reach backward), ``red`` the
    reduction code. One made from Python is empty and refused by backward_auto."""
    cdef readonly cnp.ndarray probs, labels
    cdef readonly int red


def forward_auto(logits, labels, reduction, BufferPool pool not None):
    """(loss, ctx) of integer-label cross-entropy for plain arguments, or None.

    loss is a new 0-d array of the logits' dtype: the double-precision sum of the
    per-row losses (each rounded to the dtype first, as ``xent_forward`` stores them),
    divided by N for "mean" (0 for an empty batch). ctx is an XentSaved, with
    probs = softmax(logits) from ``pool``.
    """
    cdef int r = reduction_code(reduction)
    cdef int t = plain_float_type(logits, 2)
    cdef Py_ssize_t n, c
    cdef cnp.ndarray probs
    cdef XentSaved saved
    cdef double total = 0.0
    cdef int bad = 0, bad_label = 0
    cdef const void* px
    cdef const int64_t* py
    cdef void* pp
    if r < 0 or t < 0 or not plain_of(labels, cnp.NPY_INT64, 1):
        return None
    n = cnp.PyArray_DIMS(<cnp.ndarray> logits)[0]
    c = cnp.PyArray_DIMS(<cnp.ndarray> logits)[1]
    if cnp.PyArray_DIMS(<cnp.ndarray> labels)[0] != n or (n and c == 0):
        return None
    probs = pool.take(2, n, c, t)
    if n:
        px = cnp.PyArray_DATA(<cnp.ndarray> logits)
        py = <const int64_t*> cnp.PyArray_DATA(<cnp.ndarray> labels)
        pp = cnp.PyArray_DATA(probs)
        if n * c >= XENT_PARALLEL_MIN:
            with nogil:
                _label_rows_t(t, px, py, pp, n, c, &total, &bad, &bad_label)
        else:
            _label_rows_t(t, px, py, pp, n, c, &total, &bad, &bad_label)
        if bad or bad_label:
            return None
        if r == RED_MEAN:
            total = total / n
    saved = XentSaved.__new__(XentSaved)
    saved.probs = probs
    saved.labels = cnp.PyArray_NewCopy(<cnp.ndarray> labels, cnp.NPY_CORDER)
    saved.red = r
    return scalar_array(total, t), saved


cdef inline void _label_grads_t(int t, const void* p, const int64_t* labels, double g,
                                bint mean, void* dx, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    if t == cnp.NPY_FLOAT32:
        xent_label_grads(<const float*> p, labels, g, mean, <float*> dx, n, c)
    else:
        xent_label_grads(<const double*> p, labels, g, mean, <double*> dx, n, c)


def backward_auto(XentSaved ctx not None, g, BufferPool pool not None):
    """dlogits for a ctx from forward_auto and a scalar g, or None when g is not one.

    dlogits = d (softmax - onehot(labels)) with d = g / N (mean) or g; g must be a
    Python float/int or a 0-d native float32/float64 array.
    """
    cdef double gv = 0.0
    cdef int r
    cdef int t
    cdef Py_ssize_t n, c
    cdef cnp.ndarray dx
    cdef const void* pp
    cdef const int64_t* py
    cdef void* pd
    probs = ctx.probs
    labels = ctx.labels
    r = ctx.red
    if probs is None or labels is None:
        raise ValueError("cross_entropy backward: this XentSaved was not made by forward_auto")
    if not scalar_value(g, &gv):
        return None
    t = cnp.PyArray_TYPE(<cnp.ndarray> probs)
    n = cnp.PyArray_DIMS(<cnp.ndarray> probs)[0]
    c = cnp.PyArray_DIMS(<cnp.ndarray> probs)[1]
    dx = pool.take(2, n, c, t)
    if n and c:
        _check_labels(<const int64_t*> cnp.PyArray_DATA(<cnp.ndarray> labels), n, c,
                      "cross_entropy backward")
        pp = cnp.PyArray_DATA(<cnp.ndarray> probs)
        py = <const int64_t*> cnp.PyArray_DATA(<cnp.ndarray> labels)
        pd = cnp.PyArray_DATA(dx)
        if n * c >= XENT_PARALLEL_MIN:
            with nogil:
                _label_grads_t(t, pp, py, gv, r == RED_MEAN, pd, n, c)
        else:
            _label_grads_t(t, pp, py, gv, r == RED_MEAN, pd, n, c)
    return dx

"""Mean squared error forward and backward, each in one C-level call.

Over the flat elements of pred and target (any shape, the same for both)::

    diff  = pred - target                      (kept for backward)
    loss  = sum_i diff_i^2                     reduction "sum"
    loss  = sum_i diff_i^2 / size              reduction "mean" (0 for an empty input)
    dpred = s diff,  dtarget = -s diff,        s = 2 g (sum) or 2 g / size (mean)

The sum of squares accumulates in double for both dtypes (float32 losses over many
elements keep their digits); s is rounded once to the array's dtype and every
gradient element is one product, exactly as ``diff * dtype.type(s)`` in numpy.

These are the kernels of the mse op (microinit/ops/losses.py): ``mse_forward_auto`` and
``mse_backward_auto`` take raw objects and return None unless the arguments are exact
C-contiguous ndarrays of one float dtype with matching shapes and the reduction is
"mean" or "sum"; the op then passes them through its boundary and calls again. Outputs of one or
two dimensions come from the caller's BufferPool, so a steady-state training step
allocates only the 0-d loss. reference.py holds the numpy twins
(``mse_forward``/``mse_backward``).

Example::

    >>> import numpy as np
    >>> from microinit._kernels.matmul import BufferPool
    >>> pool = BufferPool()
    >>> p = np.array([[1.0], [3.0]], np.float32); t = np.zeros((2, 1), np.float32)
    >>> loss, diff = mse_forward_auto(p, t, "mean", pool)
    >>> float(loss)                                      # (1 + 9) / 2
    5.0
    >>> mse_backward_auto(diff, 1.0, "mean", False, pool)[0].ravel()   # 2 diff / 2
    array([1., 3.], dtype=float32)
"""
from cython cimport floating
cimport numpy as cnp

from microinit._kernels.fastpath cimport (
    RED_MEAN, plain_float_type, reduction_code, same_shape, scalar_array, scalar_value,
)
from microinit._kernels.matmul cimport BufferPool
from microinit._kernels.mse_core cimport mse_diff_sumsq, mse_scaled

cnp.import_array()

# Above this many elements the loops release the GIL (other Python threads may run);
# below it the release and re-acquire would cost more than the loop.
cdef enum:
    NOGIL_MIN = 1 << 15


cdef inline cnp.ndarray _like(cnp.ndarray a, int t, BufferPool pool):
    """An uninitialised array of a's shape and typenum t; pooled when 1-D or 2-D."""
    cdef int nd = cnp.PyArray_NDIM(a)
    if nd == 1:
        return pool.take(1, cnp.PyArray_DIMS(a)[0], 0, t)
    if nd == 2:
        return pool.take(2, cnp.PyArray_DIMS(a)[0], cnp.PyArray_DIMS(a)[1], t)
    return cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(a), t, 0)


cdef inline double _diff_sumsq_t(int t, const void* p, const void* q, void* d,
                                 Py_ssize_t n) noexcept nogil:
    """_diff_sumsq on buffers of typenum t (float32 or float64)."""
    if t == cnp.NPY_FLOAT32:
        return mse_diff_sumsq(<const float*> p, <const float*> q, <float*> d, n)
    return mse_diff_sumsq(<const double*> p, <const double*> q, <double*> d, n)


cdef inline void _scaled_t(int t, const void* d, double s, void* out, void* neg,
                           Py_ssize_t n) noexcept nogil:
    """_scaled on buffers of typenum t, with s rounded to that dtype."""
    if t == cnp.NPY_FLOAT32:
        mse_scaled(<const float*> d, <float> s, <float*> out, <float*> neg, n)
    else:
        mse_scaled(<const double*> d, s, <double*> out, <double*> neg, n)


def mse_forward_auto(pred, target, reduction, BufferPool pool not None):
    """(loss, diff) for plain arguments, or None (the op converts them and calls again).

    loss is a new 0-d array of the inputs' dtype; diff = pred - target (pooled when
    1-D or 2-D) is what ``mse_backward_auto`` needs. pred and target must be exact
    C-contiguous ndarrays of one dtype, float32 or float64, of the same shape (any
    number of dimensions, sizes 0 included); ``reduction`` "mean" or "sum".
    """
    cdef int r = reduction_code(reduction)
    cdef int t = plain_float_type(pred, -1)
    cdef cnp.ndarray p, q, d
    cdef Py_ssize_t n
    cdef double total
    cdef const void* pp
    cdef const void* pq
    cdef void* pd
    if r < 0 or t < 0 or plain_float_type(target, -1) != t:
        return None
    p = <cnp.ndarray> pred
    q = <cnp.ndarray> target
    if not same_shape(p, q):
        return None
    n = cnp.PyArray_SIZE(p)
    d = _like(p, t, pool)
    pp = cnp.PyArray_DATA(p)
    pq = cnp.PyArray_DATA(q)
    pd = cnp.PyArray_DATA(d)
    if n >= NOGIL_MIN:
        with nogil:
            total = _diff_sumsq_t(t, pp, pq, pd, n)
    else:
        total = _diff_sumsq_t(t, pp, pq, pd, n)
    if r == RED_MEAN:
        total = total / n if n else 0.0
    return scalar_array(total, t), d


def mse_backward_auto(diff, g, reduction, bint need_target, BufferPool pool not None):
    """(dpred, dtarget or None) for a plain diff and a scalar g, or None.

    dpred = s diff with s = 2 g (sum) or 2 g / diff.size (mean, 0 when empty), s
    rounded once to diff's dtype; dtarget = -dpred only when ``need_target``. g must
    be a Python float/int or a 0-d float32/float64 array (a "none"-reduction
    gradient array goes to the validating path).
    """
    cdef int r = reduction_code(reduction)
    cdef int t = plain_float_type(diff, -1)
    cdef double gv = 0.0, s
    cdef cnp.ndarray d, out, neg = None
    cdef Py_ssize_t n
    cdef const void* pd
    cdef void* po
    cdef void* pn
    if r < 0 or t < 0 or not scalar_value(g, &gv):
        return None
    d = <cnp.ndarray> diff
    n = cnp.PyArray_SIZE(d)
    s = 2.0 * gv
    if r == RED_MEAN:
        s = s / n if n else 0.0
    out = _like(d, t, pool)
    if need_target:
        neg = _like(d, t, pool)
    pd = cnp.PyArray_DATA(d)
    po = cnp.PyArray_DATA(out)
    pn = NULL if neg is None else cnp.PyArray_DATA(neg)
    if n >= NOGIL_MIN:
        with nogil:
            _scaled_t(t, pd, s, po, pn, n)
    else:
        _scaled_t(t, pd, s, po, pn, n)
    return out, neg

# distutils: extra_compile_args = -fno-math-errno
"""Layer and batch normalization, forward and backward, each in one C-level call.

LayerNorm normalizes each ROW of an (M, D) array; BatchNorm1d each COLUMN of an
(N, C) array (the ops reshape (N, C, L) and trailing normalized shapes into these).
With mu/var the mean and biased variance of a row (column), r = 1 / sqrt(var + eps)::

    xhat = (x - mu) * r           y = xhat * w + b          (w, b optional)
    backward, gh = dy * w:        dx = r * (gh - mean(gh) - xhat * mean(gh * xhat))
                                  dw = sum dy * xhat        db = sum dy

BatchNorm in evaluation (``batch_stats=False``) uses the given running mean/var
instead, and then dx = dy * w * r (the statistics are constants). Sums accumulate in
double; mu and r are rounded once to the dtype and xhat is recomputed from them in
backward, so forward and backward see the same xhat.

The entry points are the fast lane of ``microinit/ops/normalization.py``: they take
raw objects and return None unless every argument is an exact C-contiguous,
native-order ndarray of one float dtype with the shapes the op needs
(``_kernels/fastpath.pxd``); the op then passes the arguments through the boundary
(``ops/_boundary.py``), which converts or refuses them, and calls again. Everything is
checked before the nogil loops run. Numpy twins: ``reference.layer_norm_forward`` etc.

    >>> import numpy as np
    >>> y, mean, rstd = layer_norm_forward(np.array([[1.0, 3.0]]), None, None, 0.0)
    >>> y.tolist(), mean.tolist(), rstd.tolist()
    ([[-1.0, 1.0]], [2.0], [1.0])
    >>> layer_norm_forward(np.array([[1, 3]]), None, None, 0.0) is None   # int: not plain
    True
"""
from cython cimport floating
from libc.math cimport sqrt
cimport numpy as cnp

from microinit._kernels.fastpath cimport plain_float_type, plain_of, same_shape
from microinit._kernels.norm_core cimport norm_rows_backward, norm_rows_forward

cnp.import_array()


cdef inline bint _optional_vector(object a, int t, Py_ssize_t n) noexcept:
    """a is None, or a plain 1-D array of typenum t and length n."""
    if a is None:
        return True
    return plain_of(a, t, 1) and cnp.PyArray_DIMS(<cnp.ndarray> a)[0] == n


cdef inline void* _ptr(object a) noexcept:
    """The data pointer of an ndarray, or NULL for None."""
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray> a)


cdef inline cnp.ndarray _empty(int nd, cnp.npy_intp* dims, int t):
    return cnp.PyArray_EMPTY(nd, dims, t, 0)


def layer_norm_forward(x, weight, bias, double eps):
    """``(y, mean, rstd)`` normalizing each row of a plain 2-D ``x``, or None.

    ``weight``/``bias``: None or plain 1-D arrays of x's dtype and row length. ``mean``
    and ``rstd`` (one per row, x's dtype) are what ``layer_norm_backward`` needs.
    """
    cdef int t = plain_float_type(x, 2)
    if t < 0:
        return None
    cdef cnp.ndarray X = <cnp.ndarray> x
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(X)
    cdef Py_ssize_t m = dims[0], d = dims[1]
    if not _optional_vector(weight, t, d) or not _optional_vector(bias, t, d):
        return None
    cdef cnp.ndarray y = _empty(2, dims, t)
    cdef cnp.ndarray mean = _empty(1, dims, t)
    cdef cnp.ndarray rstd = _empty(1, dims, t)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pw = _ptr(weight)
    cdef void* pb = _ptr(bias)
    cdef void* py = cnp.PyArray_DATA(y)
    cdef void* pm = cnp.PyArray_DATA(mean)
    cdef void* pr = cnp.PyArray_DATA(rstd)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            norm_rows_forward(<const float*> px, <const float*> pw, <const float*> pb, <float*> py,
                          <float*> pm, <float*> pr, m, d, eps)
        else:
            norm_rows_forward(<const double*> px, <const double*> pw, <const double*> pb, <double*> py,
                          <double*> pm, <double*> pr, m, d, eps)
    return y, mean, rstd


def layer_norm_backward(x, mean, rstd, weight, dy, bint need_dx, bint need_params):
    """``(dx, dweight, dbias)`` for layer_norm_forward's saved ``mean``/``rstd``, or None.

    ``dx`` is None unless ``need_dx``; ``dweight``/``dbias`` (sums over the rows, of
    the row length) are None unless ``need_params``. ``dy`` has x's shape and dtype.
    """
    cdef int t = plain_float_type(x, 2)
    if t < 0 or not plain_of(dy, t, 2) or not same_shape(<cnp.ndarray> x, <cnp.ndarray> dy):
        return None
    cdef cnp.ndarray X = <cnp.ndarray> x
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(X)
    cdef Py_ssize_t m = dims[0], d = dims[1]
    if not (_optional_vector(weight, t, d) and mean is not None and rstd is not None
            and _optional_vector(mean, t, m) and _optional_vector(rstd, t, m)):
        return None
    cdef cnp.ndarray dx = _empty(2, dims, t) if need_dx else None
    cdef cnp.ndarray dw = cnp.PyArray_ZEROS(1, dims + 1, cnp.NPY_FLOAT64, 0) if need_params else None
    cdef cnp.ndarray db = cnp.PyArray_ZEROS(1, dims + 1, cnp.NPY_FLOAT64, 0) if need_params else None
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pm = _ptr(mean)
    cdef void* pr = _ptr(rstd)
    cdef void* pw = _ptr(weight)
    cdef void* pg = _ptr(dy)
    cdef void* pdx = _ptr(dx)
    cdef double* pdw = <double*> _ptr(dw)
    cdef double* pdb = <double*> _ptr(db)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            norm_rows_backward(<const float*> px, <const float*> pm, <const float*> pr, <const float*> pw,
                           <const float*> pg, <float*> pdx, pdw, pdb, m, d)
        else:
            norm_rows_backward(<const double*> px, <const double*> pm, <const double*> pr,
                           <const double*> pw, <const double*> pg, <double*> pdx, pdw, pdb, m, d)
    return dx, _cast(dw, t), _cast(db, t)


cdef object _cast(cnp.ndarray acc, int t):
    """A double accumulator as an array of typenum t (None stays None)."""
    if acc is None:
        return None
    return acc.astype(cnp.PyArray_DescrFromType(t))


# --------------------------------------------------------------------- columns
cdef void _column_stats(const floating* x, floating* mean, floating* var, double* acc,
                        Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    """mean and biased var of each column; acc: 2c doubles of scratch, zeroed."""
    cdef Py_ssize_t i, j
    cdef const floating* row
    cdef double* s = acc
    cdef double* q = acc + c
    cdef double e
    for i in range(n):
        row = x + i * c
        for j in range(c):
            s[j] += row[j]
    for j in range(c):
        s[j] = s[j] / n if n else 0.0
    for i in range(n):
        row = x + i * c
        for j in range(c):
            e = row[j] - s[j]
            q[j] += e * e
    for j in range(c):
        mean[j] = <floating> s[j]
        var[j] = <floating> (q[j] / n if n else 0.0)


cdef void _columns_forward(const floating* x, const floating* w, const floating* b,
                           const floating* mean, const floating* var, floating* invstd,
                           floating* y, Py_ssize_t n, Py_ssize_t c, double eps) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef floating h
    for j in range(c):
        invstd[j] = <floating> (1.0 / sqrt(<double> var[j] + eps))
    for i in range(n):
        for j in range(c):
            h = (x[i * c + j] - mean[j]) * invstd[j]
            if w != NULL:
                h = h * w[j]
            if b != NULL:
                h = h + b[j]
            y[i * c + j] = h


cdef void _columns_backward(const floating* x, const floating* mean, const floating* invstd,
                            const floating* w, const floating* dy, floating* dx, double* acc,
                            Py_ssize_t n, Py_ssize_t c, bint batch_stats) noexcept nogil:
    """acc: 4c zeroed doubles; on return acc[:c] = sum dy, acc[c:2c] = sum dy * xhat
    (the per-column sums), acc[2c:] scratch for their means."""
    cdef Py_ssize_t i, j, k
    cdef double* sg = acc
    cdef double* sgx = acc + c
    cdef double* mean_g = acc + 2 * c
    cdef double* mean_gx = acc + 3 * c
    cdef floating xh, scale
    for i in range(n):
        for j in range(c):
            k = i * c + j
            xh = (x[k] - mean[j]) * invstd[j]
            sg[j] += dy[k]
            sgx[j] += <double> dy[k] * xh
    if dx == NULL:
        return
    if batch_stats and n:  # else the statistics are constants: the means stay 0
        for j in range(c):
            mean_g[j] = <floating> (sg[j] / n)
            mean_gx[j] = <floating> (sgx[j] / n)
    for i in range(n):  # row by row: dx, x and dy are read and written in memory order
        for j in range(c):
            k = i * c + j
            scale = invstd[j] * w[j] if w != NULL else invstd[j]
            xh = (x[k] - mean[j]) * invstd[j]
            dx[k] = scale * (dy[k] - <floating> mean_g[j] - xh * <floating> mean_gx[j])


def batch_norm_forward(x, weight, bias, running_mean, running_var, double eps, bint batch_stats):
    """``(y, mean, var, invstd)`` normalizing each column of a plain 2-D ``x``, or None.

    ``batch_stats``: mean and biased var are the columns' own (new arrays; training);
    otherwise they are ``running_mean``/``running_var`` (plain 1-D of x's dtype),
    returned as given. ``invstd = 1 / sqrt(var + eps)``.
    """
    cdef int t = plain_float_type(x, 2)
    if t < 0:
        return None
    cdef cnp.ndarray X = <cnp.ndarray> x
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(X)
    cdef Py_ssize_t n = dims[0], c = dims[1]
    cdef cnp.npy_intp two_c = 2 * c
    if not _optional_vector(weight, t, c) or not _optional_vector(bias, t, c):
        return None
    cdef cnp.ndarray mean, var, acc
    if batch_stats:
        mean = _empty(1, dims + 1, t)
        var = _empty(1, dims + 1, t)
        acc = cnp.PyArray_ZEROS(1, &two_c, cnp.NPY_FLOAT64, 0)
    else:
        if running_mean is None or running_var is None or not (
                _optional_vector(running_mean, t, c) and _optional_vector(running_var, t, c)):
            return None
        mean, var, acc = running_mean, running_var, None
    cdef cnp.ndarray invstd = _empty(1, dims + 1, t)
    cdef cnp.ndarray y = _empty(2, dims, t)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pw = _ptr(weight)
    cdef void* pb = _ptr(bias)
    cdef void* pm = cnp.PyArray_DATA(mean)
    cdef void* pv = cnp.PyArray_DATA(var)
    cdef void* pi = cnp.PyArray_DATA(invstd)
    cdef void* py = cnp.PyArray_DATA(y)
    cdef double* pacc = <double*> _ptr(acc)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if batch_stats:
                _column_stats(<const float*> px, <float*> pm, <float*> pv, pacc, n, c)
            _columns_forward(<const float*> px, <const float*> pw, <const float*> pb,
                             <const float*> pm, <const float*> pv, <float*> pi, <float*> py, n, c, eps)
        else:
            if batch_stats:
                _column_stats(<const double*> px, <double*> pm, <double*> pv, pacc, n, c)
            _columns_forward(<const double*> px, <const double*> pw, <const double*> pb,
                             <const double*> pm, <const double*> pv, <double*> pi, <double*> py,
                             n, c, eps)
    return y, mean, var, invstd


def batch_norm_backward(x, mean, invstd, weight, dy, bint batch_stats, bint need_dx):
    """``(dx, dweight, dbias)`` for batch_norm_forward's ``mean``/``invstd``, or None.

    ``batch_stats`` as in the forward (the statistics depend on x, which adds the
    mean terms to dx). ``dx`` is None unless ``need_dx``; ``dweight = sum dy * xhat``
    and ``dbias = sum dy`` over the rows are always returned.
    """
    cdef int t = plain_float_type(x, 2)
    if t < 0 or not plain_of(dy, t, 2) or not same_shape(<cnp.ndarray> x, <cnp.ndarray> dy):
        return None
    cdef cnp.ndarray X = <cnp.ndarray> x
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(X)
    cdef Py_ssize_t n = dims[0], c = dims[1]
    cdef cnp.npy_intp four_c = 4 * c
    if not (_optional_vector(weight, t, c) and mean is not None and invstd is not None
            and _optional_vector(mean, t, c) and _optional_vector(invstd, t, c)):
        return None
    cdef cnp.ndarray dx = _empty(2, dims, t) if need_dx else None
    cdef cnp.ndarray acc = cnp.PyArray_ZEROS(1, &four_c, cnp.NPY_FLOAT64, 0)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* pm = _ptr(mean)
    cdef void* pi = _ptr(invstd)
    cdef void* pw = _ptr(weight)
    cdef void* pg = _ptr(dy)
    cdef void* pdx = _ptr(dx)
    cdef double* pacc = <double*> cnp.PyArray_DATA(acc)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _columns_backward(<const float*> px, <const float*> pm, <const float*> pi,
                              <const float*> pw, <const float*> pg, <float*> pdx, pacc, n, c,
                              batch_stats)
        else:
            _columns_backward(<const double*> px, <const double*> pm, <const double*> pi,
                              <const double*> pw, <const double*> pg, <double*> pdx, pacc, n, c,
                              batch_stats)
    sums = _cast(acc[:2 * c], t)
    return dx, sums[c:], sums[:c]

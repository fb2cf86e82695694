"""Fused dense-layer kernels: y = act(x @ W + b) and its backward in one call each.

Forward (x: (N, I), W: (I, O), b: (O,) or None)::

    z = x @ W + b          (pre-activation; stored only when act' needs it)
    y = act(z)

Backward, given dy = dL/dy::

    dz = dy * act'(z, y)   (act' from activations.pxd, the one definition)
    db = sum_rows(dz)
    dW = x^T @ dz          (gemm with a transpose flag: no transposed copy)
    dx = dz @ W^T

``forward``/``backward`` with ``do_matmul=True`` run the whole layer here (the small-
shape path). With ``do_matmul=False`` the caller has already done the products with
BLAS (numpy.matmul with out=) and only the fused epilogue runs: bias + activation in
forward, act' + bias gradient in backward. ops/linalg.py picks the path; the
crossover is measured there.

Arguments are ndarrays (see gemm.pxd for why not memoryviews); outputs are given and
may alias where noted: ``z`` may be ``y`` (in place) and ``dz`` may be ``dy``.

Example::

    >>> x = np.ones((2, 3), np.float32); W = np.ones((3, 4), np.float32)
    >>> y = np.empty((2, 4), np.float32)
    >>> forward(x, W, None, y, y, 1, 0.0)   # relu(x @ W), code 1 = relu
    >>> float(y[0, 0])
    3.0
"""
from cython cimport floating
cimport numpy as cnp

from microinit._kernels.activations cimport ACT_IDENTITY, N_ACTIVATIONS
from microinit._kernels.dense_core cimport (
    GEMM_NOGIL_MIN, EPI_PARALLEL_MIN, dense_backward_core, dense_forward_core,
)
from microinit._kernels.argcheck cimport mi_check, mi_float_type
from microinit._kernels.omp cimport mi_max_threads
from microinit._kernels.matmul cimport BufferPool, blas_above
from microinit._kernels.fastpath cimport plain_float_type, plain_of
cimport microinit._kernels.activations as A
import numpy as np

cnp.import_array()

cdef inline int _shape_of(int code, cnp.ndarray ref, str op, str name, Py_ssize_t* m,
                          Py_ssize_t* n) except -1:
    """Check the activation code and that ref is 2-D; store its shape in m, n."""
    if code < 0 or code >= N_ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation code {code}")
    if cnp.PyArray_NDIM(ref) != 2:
        raise ValueError(f"{op}: {name} must be 2-D, got shape {(<object>ref).shape}")
    m[0] = cnp.PyArray_DIMS(ref)[0]
    n[0] = cnp.PyArray_DIMS(ref)[1]
    return 0


cdef inline Py_ssize_t _inner_dim(cnp.ndarray x, cnp.ndarray W, int t, Py_ssize_t m,
                                  Py_ssize_t n, str op) except -1:
    """Check x (m, k) and W (k, n); return k."""
    cdef Py_ssize_t k
    if x is None or W is None:
        raise ValueError(f"{op}: x and W are required for the products")
    if cnp.PyArray_NDIM(x) != 2:
        raise ValueError(f"{op}: x must be 2-D, got shape {(<object>x).shape}")
    k = cnp.PyArray_DIMS(x)[1]
    mi_check(x, t, 2, False, m, k, "x")
    mi_check(W, t, 2, False, k, n, "W")
    return k


def forward(cnp.ndarray x, cnp.ndarray W, cnp.ndarray b, cnp.ndarray z not None,
            cnp.ndarray y not None, int code, double param=0.0, bint do_matmul=True):
    """z = x @ W (+ b) and y = act(z); y may be z (the activation then runs in place).

    With do_matmul=False, z already holds x @ W (from BLAS) and x/W may be None.
    """
    cdef int t = mi_float_type(y)
    cdef Py_ssize_t m, n, k = 0
    cdef void* px = NULL
    cdef void* pw = NULL
    cdef void* pb = NULL
    cdef int nt = mi_max_threads()
    _shape_of(code, y, "dense.forward", "y", &m, &n)
    mi_check(y, t, 2, True, m, n, "y")
    mi_check(z, t, 2, True, m, n, "z")
    if b is not None:
        mi_check(b, t, 1, False, n, 0, "b")
        pb = cnp.PyArray_DATA(b)
    if do_matmul:
        k = _inner_dim(x, W, t, m, n, "dense.forward")
        px = cnp.PyArray_DATA(x)
        pw = cnp.PyArray_DATA(W)
    if m == 0 or n == 0:
        return
    if t == cnp.NPY_FLOAT32:
        _forward[float](<const float*> px, <const float*> pw, <const float*> pb,
                        <float*> cnp.PyArray_DATA(z), <float*> cnp.PyArray_DATA(y),
                        m, n, k, code, param, do_matmul, nt)
    else:
        _forward[double](<const double*> px, <const double*> pw, <const double*> pb,
                         <double*> cnp.PyArray_DATA(z), <double*> cnp.PyArray_DATA(y),
                         m, n, k, code, param, do_matmul, nt)


cdef int _forward(const floating* x, const floating* W, const floating* b, floating* z,
                  floating* y, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, int code,
                  double param, bint do_matmul, int nt) except -1:
    cdef int rc = 0
    if m * n * k < GEMM_NOGIL_MIN and m * n < EPI_PARALLEL_MIN:
        # Tiny layers: the GIL round trip would cost more than the layer.
        rc = dense_forward_core(x, W, b, z, y, m, n, k, code, param, do_matmul, 1)
    else:
        with nogil:
            rc = dense_forward_core(x, W, b, z, y, m, n, k, code, param, do_matmul, nt)
    if rc != 0:
        raise MemoryError(f"dense.forward: could not allocate the gemm workspace ({m}x{k}x{n})")
    return 0


def backward(cnp.ndarray x, cnp.ndarray W, cnp.ndarray zx not None, cnp.ndarray y not None,
             cnp.ndarray dy not None, cnp.ndarray dz not None, cnp.ndarray dx,
             cnp.ndarray dW, cnp.ndarray db, int code, double param=0.0,
             bint do_matmul=True):
    """dz = dy * act'(zx, y); db = sum_rows(dz); dW = x^T dz; dx = dz W^T.

    zx is what act' reads as its x argument: the pre-activation z, or y itself for
    activations whose derivative is a function of the output's sign or value (identity,
    relu, tanh, sigmoid). dz may be dy. dx, dW, db may each be None (not needed); with
    do_matmul=False only dz and db are computed (the caller does the products in BLAS).
    """
    cdef int t = mi_float_type(dy)
    cdef Py_ssize_t m, n, k = 0
    cdef void* px = NULL
    cdef void* pw = NULL
    cdef void* pdx = NULL
    cdef void* pdw = NULL
    cdef void* pdb = NULL
    cdef int nt = mi_max_threads()
    _shape_of(code, dy, "dense.backward", "dy", &m, &n)
    mi_check(dy, t, 2, False, m, n, "dy")
    mi_check(zx, t, 2, False, m, n, "zx")
    mi_check(y, t, 2, False, m, n, "y")
    mi_check(dz, t, 2, True, m, n, "dz")
    if db is not None:
        mi_check(db, t, 1, True, n, 0, "db")
        pdb = cnp.PyArray_DATA(db)
    if do_matmul and (dx is not None or dW is not None):
        k = _inner_dim(x, W, t, m, n, "dense.backward")
        px = cnp.PyArray_DATA(x)
        pw = cnp.PyArray_DATA(W)
        if dx is not None:
            mi_check(dx, t, 2, True, m, k, "dx")
            pdx = cnp.PyArray_DATA(dx)
        if dW is not None:
            mi_check(dW, t, 2, True, k, n, "dW")
            pdw = cnp.PyArray_DATA(dW)
    if m == 0 or n == 0:
        # Nothing flows back through an empty batch or a zero-width output: the
        # parameter gradients are exactly zero (never uninitialised memory).
        if dW is not None and do_matmul:
            (<object> dW).fill(0)
        if dx is not None and do_matmul:
            (<object> dx).fill(0)
        if db is not None:
            (<object> db).fill(0)
        return
    if t == cnp.NPY_FLOAT32:
        _backward[float](<const float*> px, <const float*> pw,
                         <const float*> cnp.PyArray_DATA(zx), <const float*> cnp.PyArray_DATA(y),
                         <const float*> cnp.PyArray_DATA(dy), <float*> cnp.PyArray_DATA(dz),
                         <float*> pdx, <float*> pdw, <float*> pdb, m, n, k, code, param, nt)
    else:
        _backward[double](<const double*> px, <const double*> pw,
                          <const double*> cnp.PyArray_DATA(zx), <const double*> cnp.PyArray_DATA(y),
                          <const double*> cnp.PyArray_DATA(dy), <double*> cnp.PyArray_DATA(dz),
                          <double*> pdx, <double*> pdw, <double*> pdb, m, n, k, code, param, nt)


cdef int _backward(const floating* x, const floating* W, const floating* zx,
                   const floating* y, const floating* dy, floating* dz, floating* dx,
                   floating* dW, floating* db, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                   int code, double param, int nt) except -1:
    cdef int rc = 0
    if m * n * k < GEMM_NOGIL_MIN:
        rc = dense_backward_core(x, W, zx, y, dy, dz, dx, dW, db, m, n, k, code, param, 1)
    else:
        with nogil:
            rc = dense_backward_core(x, W, zx, y, dy, dz, dx, dW, db, m, n, k, code, param, nt)
    if rc != 0:
        raise MemoryError(f"dense.backward: could not allocate the gemm workspace ({m}x{k}x{n})")
    return 0



# --- buffer reuse and the one-call fast path (used by functional/linalg.py) ---------
#
# A tiny layer computes in ~1-2 us, about what a Python-level dispatcher spends on
# attribute tests, two array allocations and the argument parsing of the kernel call.
# forward_auto/backward_auto do the common case -- exact ndarrays, one float dtype,
# C-contiguous, consistent shapes -- in one C-level call, and return None for anything
# else, which functional/linalg.py then validates, converts and reports in Python.

# Activations whose derivative needs the pre-activation z. For the others act' is a
# function of y (tanh, sigmoid: 1 - y^2, y(1 - y)) or of the sign of y, which is the
# sign of z (identity, relu), so z is not stored and the activation runs in place.
NEEDS_Z = frozenset([A.ACT_LEAKY_RELU, A.ACT_ELU, A.ACT_SELU, A.ACT_GELU, A.ACT_SOFTPLUS])


cdef inline bint _needs_z(int code) noexcept:
    return (code == A.ACT_LEAKY_RELU or code == A.ACT_ELU or code == A.ACT_SELU
            or code == A.ACT_GELU or code == A.ACT_SOFTPLUS)


cdef inline bint _plain_layer(object W, object b, int t, Py_ssize_t k, Py_ssize_t* o):
    """W is a plain (k, o) matrix of typenum t and b None or a plain (o,) vector."""
    if not plain_of(W, t, 2) or cnp.PyArray_DIMS(<cnp.ndarray> W)[0] != k:
        return False
    o[0] = cnp.PyArray_DIMS(<cnp.ndarray> W)[1]
    return b is None or (plain_of(b, t, 1) and cnp.PyArray_DIMS(<cnp.ndarray> b)[0] == o[0])


cdef class DenseSaved:
    """What one dense layer's forward keeps for its backward (made and read only here).

    ``x``, ``W``: the layer's inputs; ``z``: the pre-activation (the same array as ``y``
    when act' needs only y); ``y``: the output; ``has_b``: the layer has a bias;
    ``code``/``param``: the activation; ``blas_backward``: the backward's products
    (x^T dz, dz W^T) go to BLAS (matmul.uses_blas, decided with the forward's). Only
    forward_auto/forward_chain create one with its arrays set, so backward_auto can
    trust their shapes; one made from Python is empty and refused.
    """
    cdef readonly cnp.ndarray x, W, z, y
    cdef readonly bint has_b, blas_backward
    cdef readonly int code
    cdef readonly double param


cdef inline DenseSaved _saved(cnp.ndarray x, cnp.ndarray W, bint has_b, cnp.ndarray z,
                              cnp.ndarray y, int code, double param, bint blas_backward):
    cdef DenseSaved s = DenseSaved.__new__(DenseSaved)
    s.x = x
    s.W = W
    s.has_b = has_b
    s.z = z
    s.y = y
    s.code = code
    s.param = param
    s.blas_backward = blas_backward
    return s


cdef tuple _forward_one(cnp.ndarray x, cnp.ndarray W, object b, int code, double param,
                        Py_ssize_t blas_min, BufferPool pool, object matmul, int t):
    """(y, DenseSaved) of one validated layer (see forward_auto)."""
    cdef Py_ssize_t n = cnp.PyArray_DIMS(x)[0]
    cdef Py_ssize_t k = cnp.PyArray_DIMS(x)[1]
    cdef Py_ssize_t o = cnp.PyArray_DIMS(W)[1]
    cdef const void* pb = NULL if b is None else cnp.PyArray_DATA(<cnp.ndarray> b)
    cdef cnp.ndarray y = pool.take(2, n, o, t)
    cdef cnp.ndarray z = pool.take(2, n, o, t) if _needs_z(code) else y
    cdef bint blas = blas_above(n * k * o, blas_min)
    if n and o:
        if blas:
            matmul(x, W, out=z)
        if t == cnp.NPY_FLOAT32:
            _forward[float](<const float*> cnp.PyArray_DATA(x), <const float*> cnp.PyArray_DATA(W),
                            <const float*> pb, <float*> cnp.PyArray_DATA(z), <float*> cnp.PyArray_DATA(y),
                            n, o, k, code, param, not blas, 1 if blas else mi_max_threads())
        else:
            _forward[double](<const double*> cnp.PyArray_DATA(x), <const double*> cnp.PyArray_DATA(W),
                             <const double*> pb, <double*> cnp.PyArray_DATA(z), <double*> cnp.PyArray_DATA(y),
                             n, o, k, code, param, not blas, 1 if blas else mi_max_threads())
    return y, _saved(x, W, b is not None, z, y, code, param, blas_above(n * k * o, blas_min, True))


def forward_auto(x, W, b, int code, double param, Py_ssize_t blas_min, BufferPool pool not None,
                 matmul):
    """(y, ctx) of y = act(x @ W + b) for plain arguments, or None (validate in Python).

    Output buffers come from ``pool``. Products above ``blas_min`` multiply-adds go to
    ``matmul(x, W, out=z)`` (numpy's BLAS), the rest to the own kernel; the bias and
    activation epilogue is fused either way. ctx (a DenseSaved) is what backward_auto
    needs.

    Beside BLAS the epilogue runs on one thread: an OpenMP team that has just finished
    keeps spinning for a while, and would take a core from BLAS's own threads in the
    next product (a few % of a step on an idle machine, much more on a busy one).
    """
    cdef Py_ssize_t o
    cdef int t = plain_float_type(x, 2)
    if t < 0 or code < 0 or code >= N_ACTIVATIONS:
        return None
    if not _plain_layer(W, b, t, cnp.PyArray_DIMS(<cnp.ndarray> x)[1], &o):
        return None
    return _forward_one(x, W, b, code, param, blas_min, pool, matmul, t)


def forward_chain(x, tuple layers not None, Py_ssize_t blas_min, BufferPool pool not None, matmul):
    """(y, ctxs) of a stack of dense layers run back to back, or None.

    ``layers`` holds one ``(W, b, code, param)`` per layer. Every layer is checked
    before any runs (plain arrays of x's dtype, each W's rows = the previous width, b
    None or of W's width), so None means nothing was computed and the caller can take
    the validating per-layer path. One call instead of one per layer: for tiny
    networks the per-call dispatch is most of a layer's cost.
    """
    cdef int t = plain_float_type(x, 2)
    cdef Py_ssize_t k, o
    cdef Py_ssize_t i, nl = len(layers)
    cdef int code
    cdef tuple layer, r
    cdef list ctxs
    if t < 0 or nl == 0:
        return None
    k = cnp.PyArray_DIMS(<cnp.ndarray> x)[1]
    for i in range(nl):
        layer = <tuple?> layers[i]
        if len(layer) != 4:
            return None
        code = layer[2]
        if code < 0 or code >= N_ACTIVATIONS or not _plain_layer(layer[0], layer[1], t, k, &o):
            return None
        k = o
    ctxs = [None] * nl
    h = x
    for i in range(nl):
        layer = <tuple> layers[i]
        r = _forward_one(<cnp.ndarray> h, <cnp.ndarray> layer[0], layer[1], layer[2], layer[3],
                         blas_min, pool, matmul, t)
        h = r[0]
        ctxs[i] = r[1]
    return h, tuple(ctxs)


cdef tuple _backward_one(DenseSaved ctx, cnp.ndarray dy, bint need_x, bint need_W, bint need_b,
                         BufferPool pool, object matmul, bint dy_scratch=False):
    """(dx, dW, db) of one layer given a dy already checked against ctx's output.

    dy_scratch: dy is this module's own buffer that nothing else sees (the input
    gradient of the layer above, inside a chain), so dz overwrites it in place: one
    activation-sized buffer and one memory pass less per layer."""
    cdef cnp.ndarray x = ctx.x, W = ctx.W, zx = ctx.z, y = ctx.y
    cdef int code = ctx.code, t
    cdef double param = ctx.param
    cdef bint has_b = ctx.has_b, blas = ctx.blas_backward
    cdef Py_ssize_t n, k, o
    cdef cnp.ndarray dx = None, dW = None, db = None, dz
    t = cnp.PyArray_TYPE(y)
    n = cnp.PyArray_DIMS(<cnp.ndarray> x)[0]
    k = cnp.PyArray_DIMS(<cnp.ndarray> x)[1]
    o = cnp.PyArray_DIMS(<cnp.ndarray> y)[1]
    if need_x:
        dx = pool.take(2, n, k, t)
    if need_W:
        dW = pool.take(2, k, o, t)
    if need_b and has_b:
        db = pool.take(1, o, 0, t)
    if n == 0 or o == 0:
        for g in (dx, dW, db):
            if g is not None:
                g.fill(0)
        return dx, dW, db
    dz = dy if (code == ACT_IDENTITY or dy_scratch) else pool.take(2, n, o, t)
    if t == cnp.NPY_FLOAT32:
        _backward[float](<const float*> cnp.PyArray_DATA(<cnp.ndarray> x),
                         <const float*> cnp.PyArray_DATA(<cnp.ndarray> W),
                         <const float*> cnp.PyArray_DATA(<cnp.ndarray> zx),
                         <const float*> cnp.PyArray_DATA(<cnp.ndarray> y),
                         <const float*> cnp.PyArray_DATA(dy),
                         <float*> cnp.PyArray_DATA(dz),
                         NULL if (blas or dx is None) else <float*> cnp.PyArray_DATA(dx),
                         NULL if (blas or dW is None) else <float*> cnp.PyArray_DATA(dW),
                         NULL if db is None else <float*> cnp.PyArray_DATA(db),
                         n, o, k, code, param, 1 if blas else mi_max_threads())
    else:
        _backward[double](<const double*> cnp.PyArray_DATA(<cnp.ndarray> x),
                          <const double*> cnp.PyArray_DATA(<cnp.ndarray> W),
                          <const double*> cnp.PyArray_DATA(<cnp.ndarray> zx),
                          <const double*> cnp.PyArray_DATA(<cnp.ndarray> y),
                          <const double*> cnp.PyArray_DATA(dy),
                          <double*> cnp.PyArray_DATA(dz),
                          NULL if (blas or dx is None) else <double*> cnp.PyArray_DATA(dx),
                          NULL if (blas or dW is None) else <double*> cnp.PyArray_DATA(dW),
                          NULL if db is None else <double*> cnp.PyArray_DATA(db),
                          n, o, k, code, param, 1 if blas else mi_max_threads())
    if blas:
        if dW is not None:
            matmul(x.T, dz, out=dW)
        if dx is not None:
            matmul(dz, W.T, out=dx)
    return dx, dW, db


cdef inline bint _fits(object dy, DenseSaved ctx) except -1:
    """dy is a plain array of the shape and dtype of ctx's layer output."""
    cdef cnp.ndarray y = ctx.y
    if y is None:
        raise ValueError("dense backward: this DenseSaved was not made by a dense forward")
    return (plain_of(dy, cnp.PyArray_TYPE(y), 2)
            and cnp.PyArray_DIMS(<cnp.ndarray> dy)[0] == cnp.PyArray_DIMS(y)[0]
            and cnp.PyArray_DIMS(<cnp.ndarray> dy)[1] == cnp.PyArray_DIMS(y)[1])


def backward_auto(DenseSaved ctx not None, dy, bint need_x, bint need_W, bint need_b,
                  BufferPool pool not None, matmul):
    """(dx, dW, db) for a ctx from forward_auto and a plain dy, or None (validate in Python).

    dx/dW/db are None where not needed (db also when the layer has no bias); an empty
    batch or zero-width output gives exact-zero parameter gradients.
    """
    if not _fits(dy, ctx):
        return None
    return _backward_one(ctx, <cnp.ndarray> dy, need_x, need_W, need_b, pool, matmul)


def backward_chain(tuple ctxs not None, dy, bint need_x, tuple need not None,
                   BufferPool pool not None, matmul):
    """Gradients of a forward_chain, last layer first, or None if dy is not plain.

    ``need`` holds one ``(need_W, need_b)`` per layer. Returns the list
    ``[dx, dW_0, db_0, dW_1, db_1, ...]`` (None where not needed or without bias); each
    layer's input gradient is the next one down's dy and never leaves this call.
    """
    cdef Py_ssize_t i, nl = len(ctxs)
    cdef list out = [None] * (2 * nl + 1)
    cdef tuple r, flags
    cdef DenseSaved check
    for i in range(nl):
        check = <DenseSaved?> ctxs[i]  # a TypeError for anything a forward did not make
    if nl == 0 or len(need) != nl or not _fits(dy, <DenseSaved> ctxs[nl - 1]):
        return None
    g = dy
    for i in range(nl - 1, -1, -1):
        flags = <tuple?> need[i]
        r = _backward_one(<DenseSaved> ctxs[i], <cnp.ndarray> g, i > 0 or need_x,
                          flags[0], flags[1], pool, matmul, i < nl - 1)
        g = r[0]
        out[2 * i + 1] = r[1]
        out[2 * i + 2] = r[2]
    out[0] = g
    return out

# distutils: extra_compile_args = -fno-math-errno
"""In-place optimizer updates (SGD with momentum/Nesterov/weight decay, Adam, AdamW,
RMSprop, Adagrad).

Each kernel takes *lists* of arrays (one entry per parameter) and updates all of them
in one call, like PyTorch's ``_foreach`` kernels: a tiny network has a handful of
small parameters, and one call per parameter with typed-memoryview arguments would
cost more than the arithmetic (about 2.4 us of buffer acquisition per 4-array call,
against 1.1 us for six parameters through raw data pointers; measured on the dev box).

The boundary checks (dtype, C-contiguity, writeability, equal shapes) run in the
wrapper, once per array and before any element is touched; the loops themselves are
``nogil`` over raw pointers, fused over float/double.

Non-finite values: before updating, every gradient is scanned; if one holds NaN/inf
nothing at all is updated and ``(j, "gradient")`` is returned (``j`` = list index), so
the optimizer can raise ``FloatingPointError`` with the model intact. A parameter that
becomes non-finite during the update (overflow) is reported as ``(j, "parameter")``
after the step. ``None`` is returned when all is well. A ``None`` gradient means the
parameter took no part in the loss: it is skipped and its state is left alone.

Numpy twins: ``reference.sgd_update``, ``reference.adam_update``,
``reference.rmsprop_update`` and ``reference.adagrad_update``.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf

cimport numpy as cnp
import numpy as np

from microinit._kernels.update_core cimport adam_corrections, adam_loop, any_nonfinite, sgd_loop

cnp.import_array()


cdef bint _rmsprop_loop(floating* p, const floating* g, floating* sq, floating* gavg,
                        floating* buf, Py_ssize_t n, floating lr, floating alpha, floating eps,
                        floating wd, floating momentum, bint centered) noexcept nogil:
    # PyTorch's single-tensor RMSprop, one rounding per tensor op as there.
    cdef Py_ssize_t i
    cdef floating gi, si, ai, avg, pi
    cdef floating one_a = 1 - alpha
    cdef int bad = 0
    for i in range(n):
        gi = g[i] + wd * p[i]
        si = sq[i] * alpha + one_a * gi * gi
        sq[i] = si
        if centered:
            ai = gavg[i] + one_a * (gi - gavg[i])
            gavg[i] = ai
            si = si - ai * ai
        if floating is float:
            avg = sqrtf(si) + eps
        else:
            avg = sqrt(si) + eps
        if momentum > 0:
            ai = buf[i] * momentum + gi / avg
            buf[i] = ai
            pi = p[i] - lr * ai
        else:
            pi = p[i] - lr * (gi / avg)
        p[i] = pi
        bad |= (pi - pi) != 0
    return bad


cdef bint _adagrad_loop(floating* p, const floating* g, floating* ssum, Py_ssize_t n,
                        floating clr, floating eps, floating wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi, si, pi
    cdef int bad = 0
    for i in range(n):
        gi = g[i] + wd * p[i]
        si = ssum[i] + gi * gi
        ssum[i] = si
        if floating is float:
            pi = p[i] - clr * (gi / (sqrtf(si) + eps))
        else:
            pi = p[i] - clr * (gi / (sqrt(si) + eps))
        p[i] = pi
        bad |= (pi - pi) != 0
    return bad


cdef str _shape(object a):
    return str(tuple(a.shape))


cdef int _check_param(str op, Py_ssize_t j, object pobj, str what) except -1:
    if not isinstance(pobj, np.ndarray):
        raise TypeError(f"{op}: {what} {j} must be a numpy array, got {type(pobj).__name__}")
    cdef cnp.ndarray p = pobj
    cdef int t = cnp.PyArray_TYPE(p)
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or not cnp.PyArray_ISNOTSWAPPED(p):
        raise TypeError(f"{op}: {what} {j} has dtype {(<object>p).dtype}; supported: float32, "
                        f"float64 in native byte order")
    if not cnp.PyArray_IS_C_CONTIGUOUS(p) or not cnp.PyArray_ISALIGNED(p):
        raise ValueError(f"{op}: {what} {j} (shape {_shape(p)}) must be C-contiguous to be updated in place")
    if not cnp.PyArray_ISWRITEABLE(p):
        raise ValueError(f"{op}: {what} {j} (shape {_shape(p)}) is read-only")
    return 0


cdef cnp.ndarray _match(str op, Py_ssize_t j, cnp.ndarray p, object aobj, str what, bint is_grad):
    """Return ``aobj`` as an array matching parameter ``p`` (shape, dtype, C order).

    A gradient of another float dtype or memory order is converted (a copy); a state
    buffer must already match exactly, since it is written in place.
    """
    if not isinstance(aobj, np.ndarray):
        raise TypeError(f"{op}: {what} {j} must be a numpy array, got {type(aobj).__name__}")
    cdef cnp.ndarray a = aobj
    cdef int k
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(p):
        raise ValueError(f"{op}: {what} {j} has shape {_shape(a)} but its parameter has shape {_shape(p)}")
    for k in range(cnp.PyArray_NDIM(p)):
        if cnp.PyArray_DIM(a, k) != cnp.PyArray_DIM(p, k):
            raise ValueError(f"{op}: {what} {j} has shape {_shape(a)} but its parameter has shape {_shape(p)}")
    if (cnp.PyArray_TYPE(a) == cnp.PyArray_TYPE(p) and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISNOTSWAPPED(a) and cnp.PyArray_ISALIGNED(a)):
        if not is_grad and not cnp.PyArray_ISWRITEABLE(a):
            raise ValueError(f"{op}: {what} {j} is read-only")
        return a
    if not is_grad:
        raise ValueError(f"{op}: {what} {j} must be an aligned C-contiguous native "
                         f"{(<object>p).dtype} array like its parameter, got dtype {(<object>a).dtype} "
                         f"with strides {(<object>a).strides}")
    if (<object>a).dtype.kind not in "fiu":
        raise TypeError(f"{op}: {what} {j} has dtype {(<object>a).dtype}; supported: float32, float64")
    return np.ascontiguousarray(a, dtype=(<object>p).dtype)


cdef Py_ssize_t _first_nonfinite(list grads):
    """Index of the first (validated, C-contiguous) gradient holding NaN/inf, or -1."""
    cdef Py_ssize_t j
    cdef cnp.ndarray g
    for j in range(len(grads)):
        if grads[j] is None:
            continue
        g = grads[j]
        if cnp.PyArray_TYPE(g) == cnp.NPY_FLOAT32:
            if any_nonfinite(<float*>cnp.PyArray_DATA(g), cnp.PyArray_SIZE(g)):
                return j
        elif any_nonfinite(<double*>cnp.PyArray_DATA(g), cnp.PyArray_SIZE(g)):
            return j
    return -1


cdef list _checked_grads(str op, list params, list grads, tuple states):
    """Every ``grads[j]`` checked against ``params[j]`` (None where a parameter has no
    gradient), after checking the parameter and each optimizer state array -- ``states``
    holds ``(name, arrays)`` pairs -- against it: the argument checks all four optimizers
    share, made before any loop writes."""
    cdef Py_ssize_t j, n = len(params)
    cdef list G = [None] * n
    cdef str name
    cdef list arrays
    for j in range(n):
        if grads[j] is None:
            continue
        _check_param(op, j, params[j], "parameter")
        G[j] = _match(op, j, params[j], grads[j], "gradient", True)
        for name, arrays in states:
            _match(op, j, params[j], arrays[j], name, False)
    return G


def sgd_foreach(list params, list grads, list bufs, double lr, double momentum=0.0,
                double dampening=0.0, double weight_decay=0.0, bint nesterov=False,
                bint init_bufs=False):
    """SGD step, in place, for every ``params[j]`` whose ``grads[j]`` is not None.

    Per element (PyTorch's ``torch.optim.SGD``)::

        d = g + weight_decay * p
        if momentum: buf = d if init_bufs else momentum * buf + (1 - dampening) * d
                     d = d + momentum * buf if nesterov else buf
        p = p - lr * d

    ``bufs`` is ignored (may be empty) when ``momentum == 0``. Returns ``None`` or
    ``(j, "gradient" | "parameter")`` for the first non-finite value (module docstring).

    >>> p = np.ones(2); sgd_foreach([p], [np.array([1.0, -1.0])], [], lr=0.5); p.tolist()
    [0.5, 1.5]
    """
    cdef Py_ssize_t j, n = len(params)
    if len(grads) != n or (momentum != 0 and len(bufs) != n):
        raise ValueError(f"sgd_foreach: {n} params but {len(grads)} grads and {len(bufs)} momentum buffers")
    cdef list G = _checked_grads("sgd", params, grads, (("momentum buffer", bufs),) if momentum != 0 else ())
    cdef cnp.ndarray p, g, b
    j = _first_nonfinite(G)
    if j >= 0:
        return (j, "gradient")
    cdef object bad = None
    cdef bint r
    cdef Py_ssize_t size
    for j in range(n):
        g = G[j]
        if g is None:
            continue
        p = params[j]
        b = bufs[j] if momentum != 0 else p  # never written when momentum == 0
        size = cnp.PyArray_SIZE(p)
        if cnp.PyArray_TYPE(p) == cnp.NPY_FLOAT32:
            with nogil:
                r = sgd_loop(<float*>cnp.PyArray_DATA(p), <float*>cnp.PyArray_DATA(g),
                              <float*>cnp.PyArray_DATA(b), size, <float>lr, <float>momentum,
                              <float>dampening, <float>weight_decay, nesterov, init_bufs)
        else:
            with nogil:
                r = sgd_loop(<double*>cnp.PyArray_DATA(p), <double*>cnp.PyArray_DATA(g),
                              <double*>cnp.PyArray_DATA(b), size, lr, momentum,
                              dampening, weight_decay, nesterov, init_bufs)
        if r and bad is None:
            bad = (j, "parameter")
    return bad


cdef int _check_steps(object steps, Py_ssize_t n, str op="adam_foreach") except -1:
    """steps must be a writeable 1-D C-contiguous int64 array of n step counts."""
    if not isinstance(steps, np.ndarray):
        raise TypeError(f"{op}: steps must be a numpy int64 array, got {type(steps).__name__}")
    cdef cnp.ndarray a = steps
    if cnp.PyArray_TYPE(a) != cnp.NPY_INT64 or not cnp.PyArray_ISNOTSWAPPED(a):
        raise TypeError(f"{op}: steps has dtype {steps.dtype}, expected int64 in native byte order")
    if cnp.PyArray_NDIM(a) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISALIGNED(a):
        raise ValueError(f"{op}: steps must be a C-contiguous 1-D array, got shape "
                         f"{steps.shape} with strides {steps.strides}")
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{op}: steps is read-only")
    if cnp.PyArray_DIM(a, 0) != n:
        raise ValueError(f"{op}: {n} params but {steps.shape[0]} steps")
    return 0


def adam_foreach(list params, list grads, list exp_avgs, list exp_avg_sqs,
                 steps, double lr, double beta1=0.9, double beta2=0.999,
                 double eps=1e-8, double weight_decay=0.0, bint decoupled=False):
    """Adam (``decoupled=False``) or AdamW (``decoupled=True``) step, in place.

    For every ``j`` with ``grads[j]`` not None, ``steps[j] += 1`` (``t``) and per element
    (PyTorch's ``torch.optim.Adam`` / ``AdamW``, amsgrad off)::

        AdamW: p = p * (1 - lr * weight_decay)      Adam: g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Returns ``None`` or ``(j, "gradient" | "parameter")`` (module docstring).

    >>> p, m, v, steps = np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1, np.int64)
    >>> adam_foreach([p], [np.ones(1)], [m], [v], steps, lr=0.1)  # first step: p - lr * sign(g)
    >>> p.round(6).tolist(), steps.tolist()
    ([0.9], [1])
    """
    cdef Py_ssize_t j, n = len(params)
    if len(grads) != n or len(exp_avgs) != n or len(exp_avg_sqs) != n:
        raise ValueError(f"adam_foreach: {n} params but {len(grads)} grads, {len(exp_avgs)} "
                         f"exp_avgs and {len(exp_avg_sqs)} exp_avg_sqs")
    _check_steps(steps, n)
    cdef cnp.int64_t[::1] step_counts = steps
    cdef list G = _checked_grads("adam", params, grads, (("exp_avg", exp_avgs), ("exp_avg_sq", exp_avg_sqs)))
    cdef cnp.ndarray p, g, m, v
    j = _first_nonfinite(G)
    if j >= 0:
        return (j, "gradient")
    cdef object bad = None
    cdef bint r
    cdef Py_ssize_t size
    cdef double t, step_size, bc2_sqrt
    for j in range(n):
        g = G[j]
        if g is None:
            continue
        step_counts[j] += 1
        t = <double>step_counts[j]
        adam_corrections(lr, beta1, beta2, t, &step_size, &bc2_sqrt)
        p = params[j]
        m = exp_avgs[j]
        v = exp_avg_sqs[j]
        size = cnp.PyArray_SIZE(p)
        if cnp.PyArray_TYPE(p) == cnp.NPY_FLOAT32:
            with nogil:
                r = adam_loop(<float*>cnp.PyArray_DATA(p), <float*>cnp.PyArray_DATA(g),
                               <float*>cnp.PyArray_DATA(m), <float*>cnp.PyArray_DATA(v), size,
                               <float>lr, <float>beta1, <float>beta2, <float>eps,
                               <float>weight_decay, decoupled, <float>step_size, <float>bc2_sqrt)
        else:
            with nogil:
                r = adam_loop(<double*>cnp.PyArray_DATA(p), <double*>cnp.PyArray_DATA(g),
                               <double*>cnp.PyArray_DATA(m), <double*>cnp.PyArray_DATA(v), size,
                               lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt)
        if r and bad is None:
            bad = (j, "parameter")
    return bad


def rmsprop_foreach(list params, list grads, list square_avgs, list grad_avgs, list bufs,
                    double lr, double alpha=0.99, double eps=1e-8, double weight_decay=0.0,
                    double momentum=0.0, bint centered=False):
    """RMSprop step, in place, for every ``params[j]`` whose ``grads[j]`` is not None.

    Per element (PyTorch's ``torch.optim.RMSprop``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        centered: a = a + (1 - alpha) * (g - a);  avg = sqrt(v - a * a) + eps
        else:     avg = sqrt(v) + eps
        momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
        else:         p = p - lr * g / avg

    ``grad_avgs`` is read only when ``centered`` and ``bufs`` only when ``momentum > 0``
    (either may be empty otherwise). Returns ``None`` or ``(j, "gradient" | "parameter")``
    (module docstring).

    >>> p, v = np.ones(1), np.zeros(1)
    >>> rmsprop_foreach([p], [np.ones(1)], [v], [], [], lr=0.1, alpha=0.75, eps=0.0)
    >>> p.tolist(), v.tolist()                            # v = 0.25; p -= 0.1 * 1 / 0.5
    ([0.8], [0.25])
    """
    cdef Py_ssize_t j, n = len(params)
    if (len(grads) != n or len(square_avgs) != n or (centered and len(grad_avgs) != n)
            or (momentum > 0 and len(bufs) != n)):
        raise ValueError(f"rmsprop_foreach: {n} params but {len(grads)} grads, {len(square_avgs)} "
                         f"square_avgs, {len(grad_avgs)} grad_avgs and {len(bufs)} momentum buffers")
    cdef list G = _checked_grads("rmsprop", params, grads, (("square_avg", square_avgs),)
                                 + ((("grad_avg", grad_avgs),) if centered else ())
                                 + ((("momentum buffer", bufs),) if momentum > 0 else ()))
    j = _first_nonfinite(G)
    if j >= 0:
        return (j, "gradient")
    cdef object bad = None
    cdef bint r
    cdef Py_ssize_t size
    cdef cnp.ndarray p, g, v, a, b
    for j in range(n):
        g = G[j]
        if g is None:
            continue
        p = params[j]
        v = square_avgs[j]
        a = grad_avgs[j] if centered else p      # never read unless centered
        b = bufs[j] if momentum > 0 else p       # never read unless momentum > 0
        size = cnp.PyArray_SIZE(p)
        if cnp.PyArray_TYPE(p) == cnp.NPY_FLOAT32:
            with nogil:
                r = _rmsprop_loop(<float*>cnp.PyArray_DATA(p), <float*>cnp.PyArray_DATA(g),
                                  <float*>cnp.PyArray_DATA(v), <float*>cnp.PyArray_DATA(a),
                                  <float*>cnp.PyArray_DATA(b), size, <float>lr, <float>alpha,
                                  <float>eps, <float>weight_decay, <float>momentum, centered)
        else:
            with nogil:
                r = _rmsprop_loop(<double*>cnp.PyArray_DATA(p), <double*>cnp.PyArray_DATA(g),
                                  <double*>cnp.PyArray_DATA(v), <double*>cnp.PyArray_DATA(a),
                                  <double*>cnp.PyArray_DATA(b), size, lr, alpha, eps,
                                  weight_decay, momentum, centered)
        if r and bad is None:
            bad = (j, "parameter")
    return bad


def adagrad_foreach(list params, list grads, list state_sums, steps, double lr,
                    double lr_decay=0.0, double weight_decay=0.0, double eps=1e-10):
    """Adagrad step, in place; ``steps[j] += 1`` (``t``) for every updated parameter.

    Per element (PyTorch's ``torch.optim.Adagrad``)::

        g = g + weight_decay * p
        s = s + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Returns ``None`` or ``(j, "gradient" | "parameter")`` (module docstring).

    >>> p, s, steps = np.ones(1), np.zeros(1), np.zeros(1, np.int64)
    >>> adagrad_foreach([p], [np.full(1, 2.0)], [s], steps, lr=0.1, eps=0.0)
    >>> p.tolist(), s.tolist(), steps.tolist()            # p -= 0.1 * 2 / sqrt(4)
    ([0.9], [4.0], [1])
    """
    cdef Py_ssize_t j, n = len(params)
    if len(grads) != n or len(state_sums) != n:
        raise ValueError(f"adagrad_foreach: {n} params but {len(grads)} grads and "
                         f"{len(state_sums)} state_sums")
    _check_steps(steps, n, "adagrad_foreach")
    cdef cnp.int64_t[::1] step_counts = steps
    cdef list G = _checked_grads("adagrad", params, grads, (("state_sum", state_sums),))
    j = _first_nonfinite(G)
    if j >= 0:
        return (j, "gradient")
    cdef object bad = None
    cdef bint r
    cdef Py_ssize_t size
    cdef double clr
    cdef cnp.ndarray p, g, s
    for j in range(n):
        g = G[j]
        if g is None:
            continue
        step_counts[j] += 1
        # the decayed rate in double, as PyTorch computes it on Python floats
        clr = lr / (1.0 + (step_counts[j] - 1) * lr_decay)
        p = params[j]
        s = state_sums[j]
        size = cnp.PyArray_SIZE(p)
        if cnp.PyArray_TYPE(p) == cnp.NPY_FLOAT32:
            with nogil:
                r = _adagrad_loop(<float*>cnp.PyArray_DATA(p), <float*>cnp.PyArray_DATA(g),
                                  <float*>cnp.PyArray_DATA(s), size, <float>clr, <float>eps,
                                  <float>weight_decay)
        else:
            with nogil:
                r = _adagrad_loop(<double*>cnp.PyArray_DATA(p), <double*>cnp.PyArray_DATA(g),
                                  <double*>cnp.PyArray_DATA(s), size, clr, eps, weight_decay)
        if r and bad is None:
            bad = (j, "parameter")
    return bad

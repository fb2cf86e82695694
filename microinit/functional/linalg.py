"""Matrix products and the fused dense layer as numpy forward/backward pairs.

    matmul(a, b)                         a @ b            (2-D, or batched 3-D)
    matmul_backward(a, b, dout)          (dout @ b^T, a^T @ dout)  summed over broadcast batches
    dense_forward(x, W, b, act, param)   y = act(x @ W + b)         -> (y, ctx)
    dense_backward(ctx, dy)              dz = dy * act'(z); (dz @ W^T, x^T @ dz, sum_rows dz)

Everything is validated here, once (shapes, dtypes, contiguity: RELIABILITY rows 1-11);
the kernels in ``_kernels/matmul.pyx`` and ``_kernels/dense.pyx`` then run without checks
in their loops. Shape errors name both shapes and are raised before any kernel runs::

    >>> matmul(np.ones((2, 3)), np.ones((4, 5)))
    Traceback (most recent call last):
    ValueError: matmul: inner dims differ: (2, 3) @ (4, 5)

dtype rule (one, as ``_validate.result_dtype``): float64 if any operand is float64,
else float32; int/bool arrays become float32 and lists convert as ``np.asarray`` does
(``_validate.as_float_array``). Gradients come back in the dtype of their input.

Dispatch. Small products run in microinit's own blocked kernel (no BLAS call overhead,
no Python temporaries); large ones go to numpy's BLAS through ``np.matmul(..., out=)``,
with the bias/activation epilogue still fused in the dense kernel. The crossovers are
the constants below, measured with ``benchmarks/crossover.py`` (see its docstring).

Buffer reuse. Outputs, pre-activations and gradients come from a small pool keyed by
(shape, dtype) that hands out an array only when nothing else references it any more
(its reference count shows only the pool), so a training step with a fixed batch shape
reuses the previous step's buffers instead of allocating, and a caller who keeps a
result can never see it overwritten. ``clear_buffers()`` releases them.

Call overhead. The plain case (exact ndarrays, one float dtype, C-contiguous) is
handled in one C-level call (``matmul.matmul_auto``, ``dense.forward_auto``,
``dense.backward_auto``); everything else falls through to the validating Python path
below, which converts what it can and raises the descriptive errors.
"""

import numpy as np

from microinit._kernels import ACTIVATION_CODES
from microinit._kernels import dense as _kdense
from microinit._kernels import matmul as _kmatmul
from microinit.functional._validate import as_float_array, check_ndim
from microinit.functional.elementwise import DEFAULT_PARAM, activation_code

__all__ = ["matmul", "matmul_backward", "dense_forward", "dense_backward",
           "dense_chain_forward", "dense_chain_backward"]

# Crossover (multiply-adds m*n*k) above which numpy's BLAS is used instead of the own
# kernel, measured with benchmarks/crossover.py and CPU-time medians on the benchmark
# machine (AMD EPYC Zen 3, 2 cores, AVX2; OpenBLAS 0.3.31), 1 thread. Dense layer
# forward + backward with relu, own kernel vs BLAS products (same fused epilogues):
#   (n, in, out)     MACs    own us   BLAS us
#   32x128x128       0.5M      68        74     own 1.09x faster
#   128x128x128      2.1M     214       213     parity
#   32x256x256       2.1M     240       241     parity
#   64x256x256       4.2M     428       408     BLAS 1.05x
#   128x256x256      8.4M     794       747     BLAS 1.06x
#   32x784x256       6.4M     701       691     BLAS 1.01x
# and square matmul, own vs BLAS: n=8 4.5x, 16 3.7x, 32 1.9x, 64 1.45x, 128 0.95-1.05x,
# 256 0.95-1.0x. Below ~2M MACs the own kernel wins (no BLAS call overhead, A and B
# read in place); above, BLAS is as fast or slightly faster and its threading is
# better tuned, so it takes over. Re-measured after the skinny-shape GEMM paths
# (session 2, `python benchmarks/crossover.py --threads 1`): own/BLAS 128x64x128 1.29x,
# 128x128x128 0.90x, 128x256x10 1.27x, 128x1024x10 1.32x, 256x1024x10 (2.6M) 0.73x,
# 128x256x256 0.91x; square n=128 1.11x, n=192 0.85x: the crossover stays at 2^21.
MATMUL_BLAS_MIN = 1 << 21
DENSE_BLAS_MIN = 1 << 21

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_IDENTITY = ACTIVATION_CODES["identity"]
_CODE_OF = {None: _IDENTITY, **ACTIVATION_CODES}


# --------------------------------------------------------------------------- buffers
# One process-wide pool (matmul.BufferPool): an array is handed out again only when the
# pool's own list is its last holder, and that test runs in C under the GIL.
_pool = _kmatmul.BufferPool()
_matmul_auto = _kmatmul.matmul_auto
_buffer = _pool.get
_forward_auto = _kdense.forward_auto
_backward_auto = _kdense.backward_auto
_forward_chain = _kdense.forward_chain
_backward_chain = _kdense.backward_chain
_np_matmul = np.matmul


def clear_buffers():
    """Release the pooled buffers (e.g. after training, or before measuring memory)."""
    _pool.clear()


def pooled_bytes():
    """Bytes held by the buffer pool."""
    return _pool.nbytes()


# --------------------------------------------------------------------------- matmul
def _operands(a, b, op):
    """Validated, same-dtype C-contiguous arrays (the float64 promotion rule)."""
    a = as_float_array(a, op, "a")
    b = as_float_array(b, op, "b")
    if a.dtype is not b.dtype and a.dtype != b.dtype:
        if a.dtype == _F32:
            a = a.astype(_F64)
        else:
            b = b.astype(_F64)
    return a, b


def _check_mm_shapes(a, b, op="matmul"):
    """(batch, m, k, n) of a @ b; raises before any kernel runs."""
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        bad, name = (a, "a") if a.ndim not in (2, 3) else (b, "b")
        raise ValueError(f"{op}: {name} should be 2- or 3-dimensional, but found {bad.ndim} "
                         f"dimension(s): {a.shape} @ {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"{op}: inner dims differ: {a.shape} @ {b.shape}")
    batch = None
    if a.ndim == 3 or b.ndim == 3:
        ba = a.shape[0] if a.ndim == 3 else 1
        bb = b.shape[0] if b.ndim == 3 else 1
        if ba != bb and ba != 1 and bb != 1:
            raise ValueError(f"{op}: batch dims differ: {a.shape} @ {b.shape}")
        batch = max(ba, bb)
    return batch, a.shape[-2], a.shape[-1], b.shape[-1]


def _as3(x, batch):
    x3 = x if x.ndim == 3 else x[None]
    if x3.shape[0] != batch:
        x3 = np.broadcast_to(x3, (batch,) + x3.shape[1:])  # stride 0: no copy
    return x3


def _product(a, b, out, trans_a, trans_b, macs):
    """out = op(a) @ op(b) (2-D), own kernel below the crossover, BLAS above."""
    if macs <= MATMUL_BLAS_MIN:
        _kmatmul.gemm(a, b, out, trans_a, trans_b)
    else:
        np.matmul(a.T if trans_a else a, b.T if trans_b else b, out=out)
    return out


def matmul(a, b):
    """a @ b for 2-D (m, k) @ (k, n), or batched 3-D operands with a broadcastable batch.

    A 2-D operand against a 3-D one is shared by every batch entry, as in numpy.

    >>> matmul(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))[0, 0]
    3.0
    """
    out = _matmul_auto(a, b, MATMUL_BLAS_MIN, _pool, _np_matmul)  # the plain 2-D case
    if out is not None:
        return out
    a, b = _operands(a, b, "matmul")
    batch, m, k, n = _check_mm_shapes(a, b)
    if batch is None:
        out = _buffer((m, n), a.dtype)
        if m and n:
            _product(a, b, out, False, False, m * n * k)
        return out
    out = np.empty((batch, m, n), a.dtype)
    if out.size == 0 or k == 0:
        out.fill(0)  # an empty inner dim sums nothing (and its operand has no rows to view)
        return out
    if m * n * k <= MATMUL_BLAS_MIN:
        _kmatmul.gemm_batched(_as3(a, batch), _as3(b, batch), out)
    else:
        np.matmul(a, b, out=out)
    return out


def _reduce_to(g, shape):
    """Sum a batched gradient back over the batch entries its operand was broadcast to."""
    if g.shape == shape:
        return g
    if len(shape) == 2:
        return g.sum(axis=0)
    return g.sum(axis=0, keepdims=True)


def _batched_grad(p, q, trans_p, trans_q, shape, macs, operand_shape):
    """op(p) @ op(q) per batch entry, summed back to the operand's (broadcast) shape."""
    g = np.zeros(shape, p.dtype)
    if g.size and p.size and q.size:
        if macs <= MATMUL_BLAS_MIN:
            _kmatmul.gemm_batched(p, q, g, trans_p, trans_q)
        else:
            np.matmul(np.swapaxes(p, 1, 2) if trans_p else p,
                      np.swapaxes(q, 1, 2) if trans_q else q, out=g)
    return _reduce_to(g, operand_shape)


def matmul_backward(a, b, dout, need_a=True, need_b=True):
    """Gradients of out = a @ b: (da, db) = (dout @ b^T, a^T @ dout), or None when not needed.

    Batched gradients are summed over the batch entries an operand was broadcast to,
    and each comes back with its operand's shape and dtype.

    >>> da, db = matmul_backward(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4)))
    >>> da[0, 0], db[0, 0]
    (4.0, 2.0)
    """
    # Plain 2-D case in C: da = dout @ b^T and db = a^T @ dout, read through transpose
    # flags (matmul_auto returns None for anything it does not take as is).
    if (type(a) is np.ndarray and type(b) is np.ndarray and type(dout) is np.ndarray
            and a.dtype is b.dtype and dout.dtype is a.dtype
            and a.ndim == 2 and b.ndim == 2 and dout.shape == (a.shape[0], b.shape[1])
            and a.shape[1] == b.shape[0]):
        da = _matmul_auto(dout, b, MATMUL_BLAS_MIN, _pool, _np_matmul, False, True) if need_a else None
        db = _matmul_auto(a, dout, MATMUL_BLAS_MIN, _pool, _np_matmul, True, False) if need_b else None
        if (da is not None or not need_a) and (db is not None or not need_b):
            return da, db
    a0 = as_float_array(a, "matmul_backward", "a")
    b0 = as_float_array(b, "matmul_backward", "b")
    a, b = _operands(a0, b0, "matmul_backward")
    batch, m, k, n = _check_mm_shapes(a, b, "matmul_backward")
    want = (m, n) if batch is None else (batch, m, n)
    dout = as_float_array(dout, "matmul_backward", "dout")
    if dout.shape != want:
        raise ValueError(f"matmul_backward: dout has shape {dout.shape} but {a.shape} @ {b.shape} "
                         f"gives {want}")
    if dout.dtype != a.dtype:
        dout = dout.astype(a.dtype)
    da = db = None
    macs = m * n * k
    if batch is None:
        if need_a:
            da = np.zeros((m, k), a.dtype) if dout.size == 0 else _product(
                dout, b, _buffer((m, k), a.dtype), False, True, macs)
        if need_b:
            db = np.zeros((k, n), a.dtype) if dout.size == 0 else _product(
                a, dout, _buffer((k, n), a.dtype), True, False, macs)
    else:
        a3, b3 = _as3(a, batch), _as3(b, batch)
        if need_a:
            da = _batched_grad(dout, b3, False, True, (batch, m, k), macs, a.shape)
        if need_b:
            db = _batched_grad(a3, dout, True, False, (batch, k, n), macs, b.shape)
    if da is not None and da.dtype != a0.dtype:
        da = da.astype(a0.dtype)
    if db is not None and db.dtype != b0.dtype:
        db = db.astype(b0.dtype)
    return da, db


# --------------------------------------------------------------------------- dense
def dense_forward(x, W, b=None, activation=None, param=None):
    """y = act(x @ W + b) in one fused kernel call; returns (y, ctx) for dense_backward.

    x is (N, in), W is (in, out) (DESIGN's one weight layout), b is (out,) or None.
    ``activation``: None/"identity", "relu", "tanh", "sigmoid", "leaky_relu" (param =
    negative slope), "elu" (param = alpha), "selu", "gelu", "softplus". ``param`` is
    PyTorch's default when None (slope 0.01 for leaky_relu, alpha 1.0 for elu).

    >>> y, ctx = dense_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4), "relu")
    >>> y[0, 0]
    3.0
    """
    # The common call (exact ndarrays, one float dtype, C-contiguous, matching shapes)
    # runs in one C-level call; anything else returns None and is validated below.
    if param is None:
        param = DEFAULT_PARAM.get(activation, 0.0) if type(activation) is str else 0.0
    code = _CODE_OF.get(activation) if activation is None or type(activation) is str else None
    if code is not None:
        r = _forward_auto(x, W, b, code, param, DENSE_BLAS_MIN, _pool, _np_matmul)
        if r is not None:
            return r
    return _dense_forward_checked(x, W, b, activation, param)


def _dense_forward_checked(x, W, b, activation, param):
    code = activation_code(activation, "dense")
    x = as_float_array(x, "dense", "x")
    W = as_float_array(W, "dense", "W")
    if x.ndim != 2 or W.ndim != 2:
        check_ndim(x, 2, "dense", "x")
        check_ndim(W, 2, "dense", "W")
    dt = x.dtype
    if dt is not W.dtype and dt != W.dtype:
        dt = _F64
    if b is not None:
        b = as_float_array(b, "dense", "b")
        if b.dtype != dt:
            dt = _F64
            if b.dtype != dt:
                b = b.astype(dt)
        if b.shape != (W.shape[1],):
            raise ValueError(f"dense: bias has shape {b.shape} but W {W.shape} has "
                             f"{W.shape[1]} output features: expected ({W.shape[1]},)")
    if x.dtype != dt:
        x = x.astype(dt)
    if W.dtype != dt:
        W = W.astype(dt)
    n, k = x.shape
    if W.shape[0] != k:
        raise ValueError(f"dense: x has {k} features (shape {x.shape}) but W {W.shape} "
                         f"expects {W.shape[0]}")
    r = _forward_auto(x, W, b, code, float(param), DENSE_BLAS_MIN, _pool, _np_matmul)
    if r is None:  # every argument was made plain above
        raise RuntimeError(f"dense: internal error, kernel refused validated arguments "
                           f"x {x.shape} {x.dtype}, W {W.shape} {W.dtype}")
    return r


def dense_backward(ctx, dy, need_x=True, need_W=True, need_b=True):
    """Gradients of y = act(x @ W + b) given dy = dL/dy: (dx, dW, db), None where not needed.

        dz = dy * act'(z)   db = sum_rows(dz)   dW = x^T @ dz   dx = dz @ W^T

    An empty batch gives a (0, in) dx and exact-zero dW and db.

    >>> y, ctx = dense_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
    >>> dx, dW, db = dense_backward(ctx, np.ones((2, 4)))
    >>> dx[0, 0], dW[0, 0], db[0]
    (4.0, 2.0, 2.0)
    """
    r = _backward_auto(ctx, dy, need_x, need_W, need_b, _pool, _np_matmul)
    if r is not None:
        return r
    y = ctx[4]
    dy = as_float_array(dy, "dense_backward", "dy")
    if dy.shape != y.shape:
        raise ValueError(f"dense_backward: dy has shape {dy.shape} but the layer output "
                         f"has shape {y.shape}")
    if dy.dtype != y.dtype:
        dy = dy.astype(y.dtype)
    r = _backward_auto(ctx, dy, need_x, need_W, need_b, _pool, _np_matmul)
    if r is None:
        raise RuntimeError(f"dense_backward: internal error, kernel refused dy {dy.shape} {dy.dtype}")
    return r


# --------------------------------------------------------------------------- dense chain
def dense_chain_forward(x, layers):
    """Several dense layers back to back in one kernel call, or None.

    ``layers``: a sequence of ``(W, b, activation, param)`` as for dense_forward.
    Returns ``(y, ctxs)`` -- the last layer's output and what dense_chain_backward
    needs -- when every argument is plain (exact C-contiguous ndarrays of x's float
    dtype, widths that chain, known activations); otherwise None, having computed
    nothing, and the caller runs the layers one by one through dense_forward, whose
    validation names what is wrong.

    >>> W = np.ones((3, 4), np.float32); V = np.ones((4, 2), np.float32)
    >>> y, ctxs = dense_chain_forward(np.ones((2, 3), np.float32),
    ...                               [(W, None, "relu", None), (V, None, None, None)])
    >>> y[0, 0]                      # relu(x @ W) @ V = 4 * 3
    12.0
    """
    try:
        specs = tuple([(W, b, _CODE_OF[act],
                        float(param if param is not None else DEFAULT_PARAM.get(act, 0.0)))
                       for W, b, act, param in layers])
    except (KeyError, TypeError, ValueError):  # unknown activation or parameter: validate per layer
        return None
    return _forward_chain(x, specs, DENSE_BLAS_MIN, _pool, _np_matmul)


def dense_chain_backward(ctxs, dy, need_x, need):
    """Gradients of a dense_chain_forward given dy = dL/dy of its output.

    ``need`` holds one ``(need_W, need_b)`` per layer. Returns the list
    ``[dx, dW_0, db_0, dW_1, db_1, ...]``, None where not needed (or no bias); each
    layer is dense_backward with the next layer's input gradient as its dy.
    """
    r = _backward_chain(ctxs, dy, need_x, need, _pool, _np_matmul)
    if r is not None:
        return r
    y = ctxs[-1][4]
    dy = as_float_array(dy, "dense_backward", "dy")
    if dy.shape != y.shape:
        raise ValueError(f"dense_backward: dy has shape {dy.shape} but the layer output "
                         f"has shape {y.shape}")
    dy = np.ascontiguousarray(dy, dtype=y.dtype)
    r = _backward_chain(ctxs, dy, need_x, need, _pool, _np_matmul)
    if r is None:
        raise RuntimeError(f"dense_backward: internal error, kernel refused dy {dy.shape} {dy.dtype}")
    return r

"""Matrix products: matmul, the fused dense layer and the dense chain.

    matmul      out = a @ b                     da = g @ b^T,  db = a^T @ g
                (1-D and N-D operands: numpy's rules; summed over broadcast batch dims)
    dense       y = act(x @ W + b)              dz = g * act'(z)
                                                dx = dz @ W^T, dW = x^T @ dz, db = sum_rows dz
    dense_chain dense layers back to back       each layer's dense backward, last first

W is (in, out) (one weight layout: ``x @ W + b``). Operands pass the boundary
(``_boundary.floats``: float32/float64, native order, C-contiguous; float64 if either
is float64), then shapes are checked, before any kernel runs::

    >>> matmul(np.ones((2, 3)), np.ones((4, 5)))
    Traceback (most recent call last):
    ValueError: matmul: inner dims differ: (2, 3) @ (4, 5)

Which kernel runs (the one documented rule, ``uses_blas`` in ``_kernels/matmul.pyx``):
products of at most ``MATMUL_BLAS_MIN`` multiply-adds run in microinit's own GEMM,
larger ones in numpy's BLAS (measured crossover, ``benchmarks/crossover.py``) -- except
on one thread with the AVX-512 tile, where the own GEMM keeps products up to 2^27.
A dense layer is ``dense_chain`` of one layer:
its forward and backward are each one call of the fused kernel (``_kernels/dense.pyx``:
product, bias, activation), so a layer computes the same bits alone or inside a chain.
Outputs come from a buffer pool that hands an array out again only when nothing else
references it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional, Sequence, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit._kernels import dense as _kdense
from microinit._kernels import matmul as _kmatmul
from microinit.autograd.graph import needs_grad, record, tensor_class, wrap
from microinit.autograd.mode import grad_mode
from microinit.ops._boundary import as_tensor, check_ndim, floats, promote
from microinit.ops.activations import ACTIVATION_CODES, DEFAULT_PARAM, activation_code, activation_param

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["matmul", "matmul_backward", "matmul_op", "dense_forward", "dense_backward",
           "dense_chain_forward", "dense_chain_backward", "dense", "dense_chain",
           "clear_buffers", "pooled_bytes", "MATMUL_BLAS_MIN", "DENSE_BLAS_MIN"]

# Crossover (multiply-adds m*n*k) above which numpy's BLAS is used instead of the own
# kernel, measured with benchmarks/crossover.py (CPU-time medians, 1 thread; AMD EPYC
# Zen 3, OpenBLAS 0.3.31): own/BLAS 128x64x128 1.29x, 128x128x128 0.90x, 128x256x10
# 1.27x, 256x1024x10 (2.6M) 0.73x, 128x256x256 0.91x; square n=128 1.11x, n=192 0.85x.
MATMUL_BLAS_MIN = 1 << 21
DENSE_BLAS_MIN = 1 << 21

_pool = _kmatmul.BufferPool()
_matmul_auto = _kmatmul.matmul_auto
_forward_chain = _kdense.forward_chain
_backward_chain = _kdense.backward_chain
_np_matmul = np.matmul
_CODE_OF: dict[str | None, int] = {None: ACTIVATION_CODES["identity"]}
_CODE_OF.update(ACTIVATION_CODES)
#: what the fused dense kernel saves per layer for backward (a compiled context object
#: of _kernels/dense.pyx, with the layer output as ``.y``)
KernelContext = Any
#: one layer as the kernel takes it: (W, b, activation code, activation parameter)
KernelLayer = tuple[NDArray[Any], Optional[NDArray[Any]], int, float]
#: one layer of a chain: (W, b, activation, param); Tensors or arrays, b may be None
LayerSpec = tuple[Any, Any, Optional[str], Optional[float]]


def clear_buffers() -> None:
    """Release the pooled buffers (e.g. after training, or before measuring memory)."""
    _pool.clear()


def pooled_bytes() -> int:
    """Bytes held by the buffer pool."""
    return int(_pool.nbytes())


def pool() -> Any:
    """The process-wide buffer pool the kernels take their outputs from."""
    return _pool


# --------------------------------------------------------------------------- matmul
def _operands(a: ArrayLike, b: ArrayLike, op: str) -> tuple[NDArray[Any], NDArray[Any]]:
    return promote(floats(a, op, "a"), floats(b, op, "b"))


def _check_mm_shapes(a: NDArray[Any], b: NDArray[Any],
                     op: str = "matmul") -> tuple[int | None, int, int, int]:
    """(batch, m, k, n) of a @ b (batch None for 2-D @ 2-D); raises before any kernel."""
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
        batch = bb if ba == 1 else ba  # numpy's broadcast: 1 stretches, 0 stays 0
    return batch, a.shape[-2], a.shape[-1], b.shape[-1]


def _as3(x: NDArray[Any], batch: int) -> NDArray[Any]:
    x3 = x if x.ndim == 3 else x[None]
    if x3.shape[0] != batch:
        x3 = np.broadcast_to(x3, (batch,) + x3.shape[1:])  # stride 0: no copy
    return x3


def _product(a: NDArray[Any], b: NDArray[Any], out: NDArray[Any], trans_a: bool, trans_b: bool,
             macs: int) -> NDArray[Any]:
    """out = op(a) @ op(b) (2-D), own kernel below the crossover, BLAS above."""
    if not _kmatmul.uses_blas(macs, MATMUL_BLAS_MIN, trans_a or trans_b):  # the one rule (matmul.pyx)
        _kmatmul.gemm(a, b, out, trans_a, trans_b)
    else:
        np.matmul(a.T if trans_a else a, b.T if trans_b else b, out=out)
    return out


def matmul(a: ArrayLike, b: ArrayLike) -> NDArray[Any]:
    """a @ b for 2-D (m, k) @ (k, n), or batched 3-D operands with a broadcastable batch.

    >>> matmul(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))[0, 0]
    np.float32(3.0)
    """
    fast: NDArray[Any] | None = _matmul_auto(a, b, MATMUL_BLAS_MIN, _pool, _np_matmul)  # boundary-safe 2-D
    if fast is not None:
        return fast
    ad, bd = _operands(a, b, "matmul")
    batch, m, k, n = _check_mm_shapes(ad, bd)
    if batch is None:
        fast = _matmul_auto(ad, bd, MATMUL_BLAS_MIN, _pool, _np_matmul)
        if fast is None:
            raise RuntimeError(f"matmul: internal error, kernel refused {ad.shape} @ {bd.shape}")
        return fast
    out = np.empty((batch, m, n), ad.dtype)
    if out.size == 0 or k == 0:
        out.fill(0)  # an empty inner dim sums nothing (and its operand has no rows to view)
        return out
    if not _kmatmul.uses_blas(m * n * k, MATMUL_BLAS_MIN):
        _kmatmul.gemm_batched(_as3(ad, batch), _as3(bd, batch), out)
    else:
        np.matmul(ad, bd, out=out)
    return out


def _reduce_to(g: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    """Sum a batched gradient back over the batch entries its operand was broadcast to."""
    if g.shape == shape:
        return g
    summed: NDArray[Any] = g.sum(axis=0) if len(shape) == 2 else g.sum(axis=0, keepdims=True)
    return summed


def _batched_grad(p: NDArray[Any], q: NDArray[Any], trans_p: bool, trans_q: bool, shape: tuple[int, ...],
                  macs: int, operand_shape: tuple[int, ...]) -> NDArray[Any]:
    """op(p) @ op(q) per batch entry, summed back to the operand's (broadcast) shape."""
    g = np.zeros(shape, p.dtype)
    if g.size and p.size and q.size:
        if not _kmatmul.uses_blas(macs, MATMUL_BLAS_MIN, trans_p or trans_q):
            _kmatmul.gemm_batched(p, q, g, trans_p, trans_q)
        else:
            np.matmul(np.swapaxes(p, 1, 2) if trans_p else p,
                      np.swapaxes(q, 1, 2) if trans_q else q, out=g)
    return _reduce_to(g, operand_shape)


def matmul_backward(a: ArrayLike, b: ArrayLike, dout: ArrayLike, need_a: bool = True,
                    need_b: bool = True) -> tuple[NDArray[Any] | None, NDArray[Any] | None]:
    """Gradients of out = a @ b: (da, db) = (dout @ b^T, a^T @ dout), None where not needed.

    Batched gradients are summed over the batch entries an operand was broadcast to,
    and each comes back with its operand's shape and dtype.

    >>> da, db = matmul_backward(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4)))
    >>> float(da[0, 0]), float(db[0, 0])
    (4.0, 2.0)
    """
    a0 = floats(a, "matmul_backward", "a")
    b0 = floats(b, "matmul_backward", "b")
    ap, bp = promote(a0, b0)
    batch, m, k, n = _check_mm_shapes(ap, bp, "matmul_backward")
    want = (m, n) if batch is None else (batch, m, n)
    g = floats(dout, "matmul_backward", "dout")
    if g.shape != want:
        raise ValueError(f"matmul_backward: dout has shape {g.shape} but {ap.shape} @ {bp.shape} "
                         f"gives {want}")
    if g.dtype != ap.dtype:
        g = g.astype(ap.dtype)
    da: NDArray[Any] | None = None
    db: NDArray[Any] | None = None
    if batch is None:
        if need_a:  # da = dout @ b^T, db = a^T @ dout, read through transpose flags
            da = _matmul_auto(g, bp, MATMUL_BLAS_MIN, _pool, _np_matmul, False, True)
        if need_b:
            db = _matmul_auto(ap, g, MATMUL_BLAS_MIN, _pool, _np_matmul, True, False)
    else:
        macs = m * n * k
        a3, b3 = _as3(ap, batch), _as3(bp, batch)
        if need_a:
            da = _batched_grad(g, b3, False, True, (batch, m, k), macs, ap.shape)
        if need_b:
            db = _batched_grad(a3, g, True, False, (batch, k, n), macs, bp.shape)
    if da is not None and da.dtype != a0.dtype:
        da = da.astype(a0.dtype)
    if db is not None and db.dtype != b0.dtype:
        db = db.astype(b0.dtype)
    return da, db


def matmul_op(a: Tensor | ArrayLike, b: Tensor | ArrayLike) -> Tensor:
    """The Tensor op a @ b, numpy's rules: 2-D and batched 3-D operands run the kernels
    above (:func:`matmul`); 1-D operands and N-D broadcast batch dimensions go to
    :func:`_matmul_general`.

    >>> import microinit as mi
    >>> (mi.ones(2, 1, 3, 4) @ mi.ones(5, 4, 2)).shape, (mi.ones(3) @ mi.ones(3, 2)).shape
    ((2, 5, 3, 2), (2,))
    """
    a = as_tensor(a, "matmul")
    b = as_tensor(b, "matmul")
    ad, bd = a.data, b.data
    if not (1 < ad.ndim < 4 and 1 < bd.ndim < 4):
        return _matmul_general(a, b)
    out = matmul(ad, bd)
    if needs_grad(a, b):
        need_a, need_b = a.requires_grad, b.requires_grad

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, NDArray[Any] | None]:
            return matmul_backward(ad, bd, g, need_a, need_b)
        return record(out, "MmBackward", (a, b), backward, (a, b))
    return wrap(out)


def _sum_to(g: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    """Sum a broadcast gradient back to ``shape`` (leading and size-1 dimensions)."""
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _matmul_general(a: Tensor, b: Tensor) -> Tensor:
    """a @ b with a 1-D operand or more than one batch dimension (numpy's rules: a 1-D
    ``a`` is a row (1, k), a 1-D ``b`` a column (k, 1), the added dimension is dropped
    from the result; batch dimensions broadcast). Backward: da = g @ b^T, db = a^T @ g,
    summed over the batch entries each operand was broadcast to."""
    ad, bd = _operands(a.data, b.data, "matmul")
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {ad.shape} @ {bd.shape}")
    a2 = ad if ad.ndim > 1 else ad[None, :]
    b2 = bd if bd.ndim > 1 else bd[:, None]
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: inner dims differ: {ad.shape} @ {bd.shape}")
    try:
        np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dims do not broadcast: {ad.shape} @ {bd.shape}") from None
    out2 = np.matmul(a2, b2)
    squeeze = (() if ad.ndim > 1 else (-2,)) + (() if bd.ndim > 1 else (-1,))
    out = np.asarray(out2.squeeze(squeeze) if squeeze else out2, order="C")
    if needs_grad(a, b):
        need_a, need_b = a.requires_grad, b.requires_grad
        # each gradient in its operand's dtype, native byte order (a '>f4' leaf gets float32)
        dtypes = (a.data.dtype.newbyteorder("="), b.data.dtype.newbyteorder("="))

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, NDArray[Any] | None]:
            g2 = g.reshape(out2.shape)
            da = _sum_to(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(ad.shape) if need_a else None
            db = _sum_to(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(bd.shape) if need_b else None
            return (None if da is None else da.astype(dtypes[0], copy=False),
                    None if db is None else db.astype(dtypes[1], copy=False))
        return record(out, "MatmulBackward", (a, b), backward, (a, b))
    return wrap(out)


# --------------------------------------------------------------------------- dense
def _layer_specs(layers: Sequence[LayerSpec], op: str = "dense") -> tuple[KernelLayer, ...]:
    """((W, b, code, param), ...) for the kernel, every name and parameter checked."""
    return tuple([(W, b, _CODE_OF[act] if act in _CODE_OF else activation_code(act, op),  # type: ignore[arg-type]
                   activation_param(act, param)) for W, b, act, param in layers])  # type: ignore[arg-type]


def _checked_layers(x: ArrayLike, layers: Sequence[KernelLayer],
                    op: str = "dense") -> tuple[NDArray[Any], list[KernelLayer]]:
    """x and every layer's (W, b) through the boundary, one dtype, widths that chain."""
    xa = check_ndim(floats(x, op, "x"), 2, op, "x")
    arrays: list[KernelLayer] = []
    dt = xa.dtype
    for W0, b0, act, param in layers:
        W = check_ndim(floats(W0, op, "W"), 2, op, "W")
        b = None if b0 is None else floats(b0, op, "b")
        if W.dtype != dt or (b is not None and b.dtype != dt):
            dt = np.dtype(np.float64)
        arrays.append((W, b, act, param))
    if xa.dtype != dt:
        xa = xa.astype(dt)
    k = xa.shape[1]
    out: list[KernelLayer] = []
    for i, (W, b, act, param) in enumerate(arrays):
        where = f"{op}" if len(arrays) == 1 else f"{op} (layer {i})"
        if W.dtype != dt:
            W = W.astype(dt)
        if W.shape[0] != k:
            raise ValueError(f"{where}: x has {k} features (shape {(xa.shape[0], k)}) but W {W.shape} "
                             f"expects {W.shape[0]}")
        if b is not None:
            if b.dtype != dt:
                b = b.astype(dt)
            if b.shape != (W.shape[1],):
                raise ValueError(f"{where}: bias has shape {b.shape} but W {W.shape} has "
                                 f"{W.shape[1]} output features: expected ({W.shape[1]},)")
        out.append((W, b, act, param))
        k = W.shape[1]
    return xa, out


def dense_chain_forward(x: ArrayLike, layers: Sequence[LayerSpec]) -> tuple[NDArray[Any], list[KernelContext]]:
    """Dense layers back to back: ``(y, saved)`` with y the last layer's output.

    ``layers``: a sequence of ``(W, b, activation, param)``; ``activation`` one of
    None/"identity"/"relu"/"tanh"/"sigmoid"/"leaky_relu"/"elu"/"selu"/"gelu"/"softplus",
    ``param`` leaky_relu's slope / elu's alpha (PyTorch's defaults when None).
    ``saved`` (one kernel context per layer) is what :func:`dense_chain_backward` needs.

    >>> W = np.ones((3, 4), np.float32); V = np.ones((4, 2), np.float32)
    >>> y, saved = dense_chain_forward(np.ones((2, 3), np.float32),
    ...                                [(W, None, "relu", None), (V, None, None, None)])
    >>> float(y[0, 0])               # relu(x @ W) @ V = 4 * 3
    12.0
    """
    specs = _layer_specs(layers)
    if not specs:
        raise ValueError("dense_chain: needs at least one layer")
    r: tuple[NDArray[Any], list[KernelContext]] | None = _forward_chain(
        x, specs, DENSE_BLAS_MIN, _pool, _np_matmul)  # boundary-safe already
    if r is None:
        r = _checked_chain(x, specs, "dense" if len(specs) == 1 else "dense_chain")
    return r


def _checked_chain(x: ArrayLike, specs: Sequence[KernelLayer],
                   op: str) -> tuple[NDArray[Any], list[KernelContext]]:
    """The chain after the boundary: x and every (W, b) converted and checked, then the
    same kernel call (``specs`` hold resolved activation codes and parameters)."""
    xa, checked = _checked_layers(x, specs, op)
    r: tuple[NDArray[Any], list[KernelContext]] | None = _forward_chain(
        xa, tuple(checked), DENSE_BLAS_MIN, _pool, _np_matmul)
    if r is None:
        raise RuntimeError(f"{op}: internal error, kernel refused checked arguments x {xa.shape} {xa.dtype}")
    return r


def dense_chain_backward(saved: Sequence[KernelContext], dy: ArrayLike, need_x: bool = True,
                         need: Sequence[tuple[bool, bool]] | None = None) -> list[NDArray[Any] | None]:
    """Gradients of a :func:`dense_chain_forward` given dy = dL/dy of its output.

    ``need`` holds one ``(need_W, need_b)`` per layer (all True when None). Returns
    ``[dx, dW_0, db_0, dW_1, db_1, ...]``, None where not needed (or no bias).
    """
    if need is None:
        need = ((True, True),) * len(saved)
    r: list[NDArray[Any] | None] | None = _backward_chain(saved, dy, need_x, need, _pool, _np_matmul)
    if r is None:
        y = saved[-1].y
        g = floats(dy, "dense backward", "dy")
        if g.shape != y.shape:
            raise ValueError(f"dense backward: dy has shape {g.shape} but the layer output "
                             f"has shape {y.shape}")
        g = np.asarray(g, dtype=y.dtype, order="C")
        r = _backward_chain(saved, g, need_x, need, _pool, _np_matmul)
        if r is None:
            raise RuntimeError(f"dense backward: internal error, kernel refused dy {g.shape} {g.dtype}")
    return r


def dense_forward(x: ArrayLike, W: ArrayLike, b: ArrayLike | None = None, activation: str | None = None,
                  param: float | None = None) -> tuple[NDArray[Any], list[KernelContext]]:
    """y = act(x @ W + b) in one fused kernel call: ``(y, saved)`` for dense_backward.

    >>> y, saved = dense_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4), "relu")
    >>> float(y[0, 0])
    3.0
    """
    y, saved = dense_chain_forward(x, ((W, b, activation, param),))
    return y, saved


def dense_backward(saved: Sequence[KernelContext], dy: ArrayLike, need_x: bool = True, need_W: bool = True,
                   need_b: bool = True) -> tuple[NDArray[Any] | None, ...]:
    """(dx, dW, db) of y = act(x @ W + b) given dy = dL/dy; None where not needed.

        dz = dy * act'(z)   db = sum_rows(dz)   dW = x^T @ dz   dx = dz @ W^T

    >>> y, saved = dense_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
    >>> dx, dW, db = dense_backward(saved, np.ones((2, 4)))
    >>> float(dx[0, 0]), float(dW[0, 0]), float(db[0])
    (4.0, 2.0, 2.0)
    """
    return tuple(dense_chain_backward(saved, dy, need_x, ((need_W, need_b),)))


@overload
def dense_chain(x: Tensor | ArrayLike, layers: Sequence[LayerSpec],
                return_intermediates: Literal[False] = False) -> Tensor: ...
@overload
def dense_chain(x: Tensor | ArrayLike, layers: Sequence[LayerSpec],
                return_intermediates: Literal[True]) -> tuple[Tensor, list[NDArray[Any]]]: ...
def dense_chain(x: Tensor | ArrayLike, layers: Sequence[LayerSpec],
                return_intermediates: bool = False) -> Tensor | tuple[Tensor, list[NDArray[Any]]]:
    """The Tensor op: dense layers back to back as ONE graph node.

    ``layers``: a sequence of ``(W, b, activation, param)`` (Tensors or arrays; b may be
    None). Equal, bit for bit, to folding :func:`dense` over the layers: each layer is
    the same fused kernel call; the chain only saves the per-layer dispatch, most of
    the cost of a tiny layer. With ``return_intermediates=True`` it returns
    ``(y, outputs)``: ``outputs[i]`` is layer i's output array (read-only use, e.g.
    forward hooks).

    >>> import microinit as mi
    >>> x = mi.ones(2, 3)
    >>> W1, W2 = mi.ones(3, 4, requires_grad=True), mi.ones(4, 1, requires_grad=True)
    >>> y = dense_chain(x, [(W1, None, "relu", None), (W2, None, None, None)])
    >>> y.sum().backward()
    >>> y.tolist(), W2.grad.ravel().tolist()
    ([[12.0], [12.0]], [6.0, 6.0, 6.0, 6.0])
    """
    T = tensor_class()
    if type(x) is not T and not isinstance(x, T):
        x = as_tensor(x, "dense")
    parents: list[Tensor | None] = [x]
    saved_t: list[Tensor] = [x]
    specs: list[KernelLayer] = []
    need: list[tuple[bool, bool]] = []
    grad = x.requires_grad
    code_of, default_of = _CODE_OF, DEFAULT_PARAM
    # One pass: the kernel's arguments (activation codes and parameters resolved as
    # _layer_specs does) and the graph bookkeeping; this loop is most of the cost of a
    # tiny network's forward, so it does no more than that.
    for W, b, act, param in layers:
        if type(W) is not T and not isinstance(W, T):
            W = as_tensor(W, "dense")
        parents.append(W)
        saved_t.append(W)
        nw = W.requires_grad
        if b is None:
            bd, nb = None, False
        else:
            if type(b) is not T and not isinstance(b, T):
                b = as_tensor(b, "dense")
            bd, nb = b.data, b.requires_grad
            saved_t.append(b)
        parents.append(b)
        code = code_of.get(act) if act is None or type(act) is str else None
        if code is None:
            code = activation_code(act, "dense")  # type: ignore[arg-type]  # (None is in _CODE_OF)
        specs.append((W.data, bd, code, default_of.get(act, 0.0) if param is None else float(param)))
        need.append((nw, nb))
        grad = grad or nw or nb
    if not specs:
        raise ValueError("dense_chain: needs at least one layer")
    kernel_specs = tuple(specs)
    r: tuple[NDArray[Any], list[KernelContext]] | None = _forward_chain(
        x.data, kernel_specs, DENSE_BLAS_MIN, _pool, _np_matmul)  # boundary-safe already
    if r is None:  # the boundary converts, checks and names what is wrong; then the same kernel
        r = _checked_chain(x.data, kernel_specs, "dense" if len(kernel_specs) == 1 else "dense_chain")
    y, saved = r
    if grad and grad_mode.enabled:
        nx, need_t = x.requires_grad, tuple(need)

        def backward(g: NDArray[Any]) -> list[NDArray[Any] | None]:
            return dense_chain_backward(saved, g, nx, need_t)
        name = "DenseBackward" if len(kernel_specs) == 1 else "DenseChainBackward"
        out = record(y, name, tuple(parents), backward, tuple(saved_t), saves_out=True)
    else:
        out = wrap(y)
    if return_intermediates:
        return out, [s.y for s in saved]
    return out


def dense(x: Tensor | ArrayLike, W: Tensor | ArrayLike, b: Tensor | ArrayLike | None = None,
          activation: str | None = None, param: float | None = None) -> Tensor:
    """The Tensor op act(x @ W + b): one graph node, the one-layer :func:`dense_chain`.

    ``W`` is (in, out), ``b`` is (out,) or None; ``param`` is leaky_relu's slope /
    elu's alpha (PyTorch's defaults 0.01 / 1.0 when None).

    >>> import microinit as mi
    >>> dense(mi.ones(1, 2), mi.ones(2, 3), mi.zeros(3), activation="relu").tolist()
    [[2.0, 2.0, 2.0]]
    """
    return dense_chain(x, ((W, b, activation, param),))

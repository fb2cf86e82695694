"""Ops that pick or overwrite entries by index or mask: gather, one_hot, masked_fill.

    op           forward                                     backward (g = upstream gradient)
    gather       out[..i..] = x[..index[..i..]..] on axis    g scatter-added back to x (repeats add up)
    masked_fill  value where mask, else x                    g where not mask, else 0
    one_hot      int64 (..., num_classes) of 0/1             none (integer result)

Index and mask arrays are checked here (dtype, shape, range) before numpy sees them,
so a bad index is a clear error naming the op, never a wrapped-around read: PyTorch
refuses negative indices in gather and one_hot, and so does microinit.

    >>> import microinit as mi
    >>> x = mi.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = x.gather(1, mi.tensor([[1], [0]])); y.tolist()
    [[2.0], [3.0]]
    >>> y.sum().backward(); x.grad
    array([[0., 1.],
           [1., 0.]], dtype=float32)
"""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.autograd.graph import needs_grad, record, tensor_class, wrap
from microinit.ops._boundary import fdata, native
from microinit.ops.reduce import one_axis

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["gather", "one_hot", "masked_fill"]


def _index_array(index: Tensor | ArrayLike, op: str, what: str = "index") -> NDArray[np.int64]:
    """An integer index (Tensor, array or list) as a native int64 array, or TypeError."""
    a = index.data if isinstance(index, tensor_class()) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be an integer tensor, got dtype {a.dtype}")
    return native(a.astype(np.int64, copy=False))


def _check_range(idx: NDArray[Any], n: int, op: str) -> None:
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{op}: index {bad} is out of range for a dimension of size {n} "
                             f"(indices must be in [0, {n - 1}])")


def gather(t: Tensor, axis: int, index: Tensor | ArrayLike) -> Tensor:
    """``out[i][j] = x[index[i][j]][j]`` for axis 0 (likewise on any axis), PyTorch's
    ``torch.gather(x, dim, index)``: ``index`` has x's number of dimensions, a size no
    larger than x's on the other axes, and the output has index's shape.
    """
    a = native(t.data) if not t.requires_grad else fdata(t, "gather")
    idx = _index_array(index, "gather")
    ax = one_axis(axis, a.ndim, "gather")
    if idx.ndim != a.ndim or any(idx.shape[d] > a.shape[d] for d in range(a.ndim) if d != ax):
        raise ValueError(f"gather: index of shape {idx.shape} does not fit a tensor of shape {a.shape} "
                         f"along axis {ax} (same number of dimensions, no larger on the other axes)")
    n = a.shape[ax] if a.ndim else 1
    _check_range(idx, n, "gather")
    if a.ndim == 0:
        out = a.reshape(()).copy()
        places: tuple[Any, ...] = ()
    else:
        grids: list[Any] = list(np.indices(idx.shape, sparse=True))
        grids[ax] = idx
        places = tuple(grids)
        out = np.asarray(a[places], order="C")
    if needs_grad(t):
        shape = a.shape

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any]]:
            full = np.zeros(shape, g.dtype)
            np.add.at(full, places, g)
            return (full,)
        return record(out, "GatherBackward", (t,), backward)
    return wrap(out)


def one_hot(labels: Tensor | ArrayLike, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape ``labels.shape + (num_classes,)`` with 1 at each label
    (PyTorch's ``F.one_hot``); ``num_classes=-1`` means max(labels) + 1.

    >>> import microinit as mi
    >>> mi.one_hot(mi.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    idx = _index_array(labels, "one_hot", "labels")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    n = int(num_classes)
    if n == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty labels; pass num_classes")
        n = int(idx.max()) + 1
    if n < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or >= 0, got {n}")
    _check_range(idx, n, "one_hot")
    out = np.zeros(idx.shape + (n,), np.int64)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return wrap(out)


def masked_fill(t: Tensor, mask: Tensor | ArrayLike, value: float) -> Tensor:
    """``value`` where the bool ``mask`` (broadcast to x's shape) is True, else x.
    Backward: g where the mask is False, 0 where it is True.

    >>> import microinit as mi
    >>> mi.tensor([1.0, 2.0, 3.0]).masked_fill(mi.tensor([True, False, True]), 0.0).tolist()
    [0.0, 2.0, 0.0]
    """
    m = mask.data if isinstance(mask, tensor_class()) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    if isinstance(value, tensor_class()):
        if value.data.size != 1 or value.requires_grad:
            raise TypeError("masked_fill: value must be a number or a one-element tensor without grad")
        value = value.data.item()
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"masked_fill: value must be a number, got {type(value).__name__}")
    integral = t.data.dtype.kind in "iub"
    a = native(t.data) if integral else fdata(t, "masked_fill")
    try:
        m = np.broadcast_to(m, a.shape)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to the tensor's "
                         f"shape {a.shape}") from None
    out = a.copy()
    out[m] = value
    if needs_grad(t):
        return record(out, "MaskedFillBackward", (t,),
                      lambda g: (np.where(m, np.zeros((), g.dtype), g),))
    return wrap(out)

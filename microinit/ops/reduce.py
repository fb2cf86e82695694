"""Reductions: sum, mean, max, min over an axis, forward and backward side by side.

    op     forward               backward (g = upstream gradient, broadcast back)
    sum    sum_i x_i             g
    mean   sum_i x_i / n         g / n
    max    max_i x_i             g / (number of maxima) at each maximum, else 0
    min    min_i x_i             likewise at each minimum

Inputs pass the boundary first (C-contiguous, native order), so a sum adds the same
numbers in the same order whatever layout the data arrived in: the same bits.

    >>> import microinit as mi
    >>> x = mi.tensor([[1.0, 3.0], [3.0, 2.0]], requires_grad=True)
    >>> x.max().backward()           # two tied maxima share the gradient
    >>> x.grad
    array([[0. , 0.5],
           [0.5, 0. ]], dtype=float32)
"""
import numpy as np

from microinit.autograd.graph import needs_grad, record, wrap
from microinit.ops._boundary import fdata

__all__ = ["sum_", "mean", "amax", "amin", "norm_axis"]


def norm_axis(axis, ndim, op="reduce"):
    """``axis`` (None, int or sequence of ints) as a sorted tuple of non-negative axes,
    or None (all axes); an axis out of range or given twice is a ``ValueError`` naming
    ``op`` (numpy would say neither which op nor, for a repeat, which axis).

    >>> norm_axis(-1, 3), norm_axis((2, 0), 3), norm_axis(None, 3)
    ((2,), (0, 2), None)
    >>> norm_axis(3, 2, "sum")
    Traceback (most recent call last):
    ValueError: sum: axis 3 is out of range for a tensor with 2 dimension(s)
    """
    if axis is None:
        return None
    many = isinstance(axis, (tuple, list))
    out = []
    for a in (axis if many else (axis,)):
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
        if not (a in (0, -1) if ndim == 0 else -ndim <= a < ndim):  # a 0-d tensor has axis 0, as in PyTorch
            raise ValueError(f"{op}: axis {int(a)} is out of range for a tensor with {ndim} dimension(s)")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis!r} names the same dimension twice")
    return tuple(sorted(out)) if ndim else None


def _kept_shape(shape, axis, keepdims):
    """Shape of a reduction's output with reduced axes kept as 1 (None when the
    gradient already broadcasts against the input as it is)."""
    if keepdims or axis is None:
        return None
    axes = norm_axis(axis, len(shape))
    if axes is None:
        return None
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def sum_(t, axis=None, keepdims=False):
    """Sum over ``axis`` (None = all); grad broadcasts back: d sum / dx_i = 1."""
    a = fdata(t, "sum")
    axis = norm_axis(axis, a.ndim, "sum")
    out = np.asarray(a.sum(axis=axis, keepdims=keepdims))
    if needs_grad(t):
        shape, kshape = a.shape, _kept_shape(a.shape, axis, keepdims)

        def backward(g):
            full = np.empty(shape, g.dtype)
            full[...] = g if kshape is None else g.reshape(kshape)
            return (full,)
        return record(out, "SumBackward", (t,), backward)
    return wrap(out)


def mean(t, axis=None, keepdims=False):
    """Mean over ``axis``: sum / n, grad 1/n per element (an empty mean is NaN)."""
    a = fdata(t, "mean")
    axis = axes = norm_axis(axis, a.ndim, "mean")
    n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(a.sum(axis=axis, keepdims=keepdims) / n if n else
                         np.full(np.sum(a, axis=axis, keepdims=keepdims).shape, np.nan, a.dtype))
    out = out.astype(a.dtype, copy=False)
    if needs_grad(t):
        shape, kshape = a.shape, _kept_shape(a.shape, axis, keepdims)
        scale = 1.0 / n if n else 0.0

        def backward(g):
            full = np.empty(shape, g.dtype)
            np.multiply(g if kshape is None else g.reshape(kshape), scale, out=full)
            return (full,)
        return record(out, "MeanBackward", (t,), backward)
    return wrap(out)


def _extreme(t, axis, keepdims, fn, op):
    name = fn.__name__  # "max" / "min"
    a = fdata(t, name)
    axis = norm_axis(axis, a.ndim, name)
    try:
        out_k = fn(a, axis=axis, keepdims=True)
    except ValueError:  # a zero-length reduced axis has no max/min (an empty batch does)
        raise ValueError(f"{name}: cannot reduce an empty axis of a tensor of shape {a.shape} "
                         f"(axis={axis})") from None
    out = np.asarray(out_k if keepdims else fn(a, axis=axis, keepdims=False))
    if needs_grad(t):
        axes = axis

        def backward(g):
            # Ties share the gradient equally (like torch.amax/amin).
            mask = a == out_k
            cnt = mask.sum(axis=axis, keepdims=True)
            if not keepdims and axes is not None:
                g = np.expand_dims(g, axes)
            return ((mask * (g / cnt)).astype(a.dtype, copy=False),)
        return record(out, op, (t,), backward, (t,), saves_out=True)
    return wrap(out)


def amax(t, axis=None, keepdims=False):
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _extreme(t, axis, keepdims, np.max, "MaxBackward")


def amin(t, axis=None, keepdims=False):
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _extreme(t, axis, keepdims, np.min, "MinBackward")

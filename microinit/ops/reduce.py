"""Reductions over an axis, forward and backward side by side.

    op         forward                        backward (g = upstream gradient, broadcast back)
    sum        sum_i x_i                      g
    mean       sum_i x_i / n                  g / n
    max        max_i x_i                      g / (number of maxima) at each maximum, else 0
    min        min_i x_i                      likewise at each minimum
    var        sum_i (x_i - m)^2 / (n - ddof) g 2 (x_i - m) / (n - ddof)
    std        sqrt(var)                      g (x_i - m) / ((n - ddof) std)
    prod       prod_i x_i                     g prod_{j != i} x_j  (exact at zeros)
    logsumexp  m + log sum_i e^(x_i - m)      g e^(x_i - out)
    cumsum     y_k = sum_{i <= k} x_i         reversed cumulative sum of g
    argmax, argmin, all, any                  integer/bool results: no gradient

Integer and bool tensors follow PyTorch: ``max``/``min`` keep their dtype, ``sum``,
``prod`` and ``cumsum`` give int64, and ``mean``, ``var`` and ``std`` refuse them
(TypeError); no integer result requires grad. numpy's
argument names (``axis``, ``keepdims``), PyTorch's behaviour: ``var``/``std`` default to
the unbiased ``ddof=1`` (torch's ``correction=1``).

Inputs pass the boundary first (C-contiguous, native order), so a sum adds the same
numbers in the same order whatever layout the data arrived in: the same bits.

    >>> import microinit as mi
    >>> x = mi.tensor([[1.0, 3.0], [3.0, 2.0]], requires_grad=True)
    >>> x.max().backward()           # two tied maxima share the gradient
    >>> x.grad
    array([[0. , 0.5],
           [0.5, 0. ]], dtype=float32)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from microinit.autograd.graph import needs_grad, record, wrap
from microinit.ops._boundary import fdata, native

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["sum_", "mean", "amax", "amin", "norm_axis", "argmax", "argmin", "var", "std", "prod",
           "logsumexp", "all_", "any_", "cumsum", "one_axis"]


def norm_axis(axis: int | Sequence[int] | None, ndim: int, op: str = "reduce") -> tuple[int, ...] | None:
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
    out: list[int] = []
    for a in (axis if many else (axis,)):  # type: ignore[union-attr]  # many: axis is a sequence
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
        if not (a in (0, -1) if ndim == 0 else -ndim <= a < ndim):  # a 0-d tensor has axis 0, as in PyTorch
            raise ValueError(f"{op}: axis {int(a)} is out of range for a tensor with {ndim} dimension(s)")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis!r} names the same dimension twice")
    return tuple(sorted(out)) if ndim else None


def _kept_shape(shape: tuple[int, ...], axis: int | Sequence[int] | None, keepdims: bool) -> tuple[int, ...] | None:
    """Shape of a reduction's output with reduced axes kept as 1 (None when the
    gradient already broadcasts against the input as it is)."""
    if keepdims or axis is None:
        return None
    axes = norm_axis(axis, len(shape))
    if axes is None:
        return None
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def sum_(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None = all); grad broadcasts back: d sum / dx_i = 1. An
    integer/bool tensor sums to int64 (as in PyTorch), with no gradient.

    >>> import microinit as mi
    >>> mi.tensor([True, True, False]).sum()
    tensor(2, dtype=int64)
    """
    if t.data.dtype.kind in "iub":
        a = native(t.data)
        return wrap(np.asarray(a.sum(axis=norm_axis(axis, a.ndim, "sum"), keepdims=keepdims, dtype=np.int64)))
    a = fdata(t, "sum")
    axis = norm_axis(axis, a.ndim, "sum")
    out = np.asarray(a.sum(axis=axis, keepdims=keepdims))
    if needs_grad(t):
        shape, kshape = a.shape, _kept_shape(a.shape, axis, keepdims)

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            full = np.empty(shape, g.dtype)
            full[...] = g if kshape is None else g.reshape(kshape)
            return (full,)
        return record(out, "SumBackward", (t,), backward)
    return wrap(out)


def mean(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``: sum / n, grad 1/n per element (an empty mean is NaN). An
    integer/bool tensor is refused (TypeError), as PyTorch refuses it.

    >>> import microinit as mi
    >>> mi.tensor([1, 2]).mean()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: mean: input dtype int64 is not a float dtype (PyTorch cannot infer ...); cast first, ...
    """
    _float_only(t, "mean")
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

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            full = np.empty(shape, g.dtype)
            np.multiply(g if kshape is None else g.reshape(kshape), scale, out=full)
            return (full,)
        return record(out, "MeanBackward", (t,), backward)
    return wrap(out)


def _float_only(t: Tensor, op: str) -> None:
    """A TypeError for an integer/bool tensor where PyTorch has no integer result."""
    if t.data.dtype.kind in "iub":
        raise TypeError(f"{op}: input dtype {t.data.dtype} is not a float dtype (PyTorch cannot infer "
                        f"the output dtype either); cast first, e.g. t.astype('float32').{op}()")


def _extreme(t: Tensor, axis: int | Sequence[int] | None, keepdims: bool, fn: Callable[..., Any], op: str) -> Tensor:
    name = fn.__name__  # "max" / "min"
    if t.data.dtype.kind in "iub":  # labels/masks keep their dtype (PyTorch); no gradient
        a = native(t.data)
        axis = norm_axis(axis, a.ndim, name)
        try:  # an empty batch reduces (to an empty result); only a zero-length reduced axis has no max
            return wrap(np.asarray(fn(a, axis=axis, keepdims=keepdims)))
        except ValueError:
            raise ValueError(f"{name}: cannot reduce an empty tensor of shape {a.shape} over axis {axis}") from None
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

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            # Ties share the gradient equally (like torch.amax/amin).
            mask = a == out_k
            cnt = mask.sum(axis=axis, keepdims=True)
            if not keepdims and axes is not None:
                g = np.expand_dims(g, axes)
            return ((mask * (g / cnt)).astype(a.dtype, copy=False),)
        return record(out, op, (t,), backward, (t,), saves_out=True)
    return wrap(out)


def amax(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _extreme(t, axis, keepdims, np.max, "MaxBackward")


def amin(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _extreme(t, axis, keepdims, np.min, "MinBackward")


def one_axis(axis: int, ndim: int, op: str) -> int:
    """A single axis (int) as a non-negative int, checked by :func:`norm_axis`."""
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"{op}: axis must be one int, got {axis!r}")
    # a 0-d tensor takes axis 0 or -1 only, as in PyTorch (any other axis was ignored)
    return norm_axis(axis, max(ndim, 1), op)[0]  # type: ignore[index]  # an int axis: never None


def _group_size(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    return int(np.prod(shape)) if axes is None else int(np.prod([shape[i] for i in axes]))


def _arg_extreme(t: Tensor, axis: int | None, keepdims: bool, fn: Callable[..., Any], op: str) -> Tensor:
    a = native(t.data)
    if axis is None:
        if a.size == 0:
            raise ValueError(f"{op}: cannot take the {op} of an empty tensor of shape {a.shape}")
        out = np.asarray(fn(a.reshape(-1)), dtype=np.int64)
        return wrap(out.reshape((1,) * a.ndim) if keepdims else out)
    ax = one_axis(axis, a.ndim, op)
    if a.ndim and a.shape[ax] == 0:
        raise ValueError(f"{op}: cannot reduce an empty axis {ax} of a tensor of shape {a.shape}")
    if a.ndim == 0:
        return wrap(np.zeros((), np.int64))
    return wrap(np.asarray(fn(a, axis=ax, keepdims=keepdims), dtype=np.int64))


def argmax(t: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index (int64) of the maximum along ``axis`` (None: of the flattened tensor);
    the first one on ties, as in PyTorch.

    >>> import microinit as mi
    >>> mi.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]]).argmax(axis=1).tolist()
    [1, 0]
    """
    return _arg_extreme(t, axis, keepdims, np.argmax, "argmax")


def argmin(t: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index (int64) of the minimum along ``axis`` (None: of the flattened tensor)."""
    return _arg_extreme(t, axis, keepdims, np.argmin, "argmin")


def _moments(t: Tensor, axis: int | Sequence[int] | None, keepdims: bool, ddof: float,
             op: str) -> tuple[NDArray[Any], tuple[int, ...] | None, NDArray[Any], float, NDArray[Any]]:
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer, float)):
        raise TypeError(f"{op}: ddof must be a number, got {type(ddof).__name__}")
    _float_only(t, op)  # PyTorch: "std and var only support floating point" dtypes
    a = fdata(t, op)
    axes = norm_axis(axis, a.ndim, op)
    n = _group_size(a.shape, axes)
    denom = max(n - ddof, 0)  # PyTorch clamps a negative n - correction to 0
    with np.errstate(invalid="ignore", divide="ignore"):
        centered = a - a.sum(axis=axes, keepdims=True) / a.dtype.type(n)  # NaN when n = 0, silently
        v = np.asarray((centered * centered).sum(axis=axes, keepdims=keepdims) / a.dtype.type(denom))
    return a, axes, centered, denom, v.astype(a.dtype, copy=False)


def _expand(g: NDArray[Any], shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdims: bool) -> NDArray[Any]:
    """An upstream gradient of a reduction reshaped to broadcast against the input."""
    kshape = None if keepdims or axes is None else _kept_shape(shape, axes, False)
    return g if kshape is None else g.reshape(kshape)


def var(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, ddof: int = 1) -> Tensor:
    """Variance over ``axis``: sum (x - mean)^2 / (n - ddof).

    microinit keeps numpy's argument names but PyTorch's behaviour: the default is the
    unbiased ``ddof=1`` (numpy's default is 0). n - ddof <= 0 gives inf/NaN as in PyTorch.
    Backward: g * 2 (x - mean) / (n - ddof).

    >>> import microinit as mi
    >>> mi.tensor([1.0, 2.0, 3.0, 4.0]).var().item(), mi.tensor([1.0, 2.0, 3.0, 4.0]).var(ddof=0).item()
    (1.6666666269302368, 1.25)
    """
    a, axes, centered, denom, out = _moments(t, axis, keepdims, ddof, "var")
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            with np.errstate(invalid="ignore", divide="ignore"):
                return (_expand(g, a.shape, axes, keepdims) * centered * (2.0 / denom if denom else np.inf),)
        return record(out, "VarBackward", (t,), backward, (t,))
    return wrap(out)


def std(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, ddof: int = 1) -> Tensor:
    """Standard deviation over ``axis``: sqrt(var(x, ddof)); default ``ddof=1`` as in
    PyTorch (see :func:`var`). Backward: g (x - mean) / ((n - ddof) std), NaN where std = 0
    (as in PyTorch).

    >>> import microinit as mi
    >>> round(mi.tensor([[1.0, 3.0], [2.0, 2.0]]).std(axis=1)[0].item(), 4)
    1.4142
    """
    a, axes, centered, denom, v = _moments(t, axis, keepdims, ddof, "std")
    out = np.sqrt(v)
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = _expand(g / (out * denom), a.shape, axes, keepdims) if denom else np.inf
                return (centered * scale,)
        return record(out, "StdBackward", (t,), backward, (t,), saves_out=True)
    return wrap(out)


def prod(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Product over ``axis``. Backward: g times the product of the other entries, computed
    from prefix and suffix products, so it is exact when entries are zero.

    >>> import microinit as mi
    >>> x = mi.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> x.prod().backward(); x.grad
    array([0., 6., 0.], dtype=float32)

    An integer/bool tensor multiplies in int64 (as in PyTorch), with no gradient.
    """
    if t.data.dtype.kind in "iub":
        a = native(t.data)
        return wrap(np.asarray(a.prod(axis=norm_axis(axis, a.ndim, "prod"), keepdims=keepdims, dtype=np.int64)))
    a = fdata(t, "prod")
    axes = norm_axis(axis, a.ndim, "prod")
    out = np.asarray(a.prod(axis=axes, keepdims=keepdims))
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            red = tuple(range(a.ndim)) if axes is None else axes
            keep = tuple(i for i in range(a.ndim) if i not in red)
            moved = np.transpose(a, keep + red)
            n = _group_size(a.shape, red)
            if n == 0:  # an empty product is 1, a constant
                return (np.zeros(a.shape, g.dtype),)
            flat = moved.reshape(-1, n)
            ones = np.ones((flat.shape[0], 1), a.dtype)
            before = np.cumprod(np.concatenate([ones, flat[:, :-1]], axis=1), axis=1)
            after = np.cumprod(np.concatenate([ones, flat[:, :0:-1]], axis=1), axis=1)[:, ::-1]
            others = (before * after).reshape(moved.shape).transpose(np.argsort(keep + red))
            return (_expand(g, a.shape, axes, keepdims) * others,)
        return record(out, "ProdBackward", (t,), backward, (t,))
    return wrap(out)


def logsumexp(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """log sum exp(x) over ``axis``, shifted by the maximum so it never overflows;
    an all -inf group gives -inf (as in PyTorch). Backward: g * exp(x - out) (softmax).

    >>> import microinit as mi
    >>> mi.tensor([1000.0, 1000.0]).logsumexp().item()
    1000.6931762695312
    """
    a = fdata(t, "logsumexp")
    axes = norm_axis(axis, a.ndim, "logsumexp")
    m = np.max(a, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0).astype(a.dtype)  # an inf/-inf max: no shift
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out_k = np.log(np.exp(a - m).sum(axis=axes, keepdims=True)) + m
    kept = out_k if keepdims else out_k.reshape([d for i, d in enumerate(a.shape) if axes is not None
                                                  and i not in axes])
    out = np.asarray(kept).astype(a.dtype, copy=False)
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            with np.errstate(invalid="ignore", over="ignore"):
                return (_expand(g, a.shape, axes, keepdims) * np.exp(a - out_k),)
        return record(out, "LogsumexpBackward", (t,), backward, (t,))
    return wrap(out)


def _logical(t: Tensor, axis: int | Sequence[int] | None, keepdims: bool, fn: Callable[..., Any], op: str) -> Tensor:
    a = native(t.data)
    return wrap(np.asarray(fn(a, axis=norm_axis(axis, a.ndim, op), keepdims=keepdims)))


def all_(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """True where every entry over ``axis`` is nonzero (a bool tensor; no gradient).

    >>> import microinit as mi
    >>> mi.tensor([[1.0, 0.0], [2.0, 3.0]]).all(axis=1).tolist()
    [False, True]
    """
    return _logical(t, axis, keepdims, np.all, "all")


def any_(t: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """True where some entry over ``axis`` is nonzero (a bool tensor; no gradient)."""
    return _logical(t, axis, keepdims, np.any, "any")


def cumsum(t: Tensor, axis: int) -> Tensor:
    """Cumulative sum along ``axis`` (required, as torch's ``dim``); integer/bool tensors
    give int64, as in PyTorch. Backward: the reversed cumulative sum of g.

    >>> import microinit as mi
    >>> x = mi.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = x.cumsum(axis=0); y.tolist()
    [1.0, 3.0, 6.0]
    >>> y.sum().backward(); x.grad
    array([3., 2., 1.], dtype=float32)
    """
    if t.data.dtype.kind in "iub":
        a = native(t.data)
        return wrap(np.cumsum(a, axis=one_axis(axis, a.ndim, "cumsum"), dtype=np.int64).reshape(a.shape))
    a = fdata(t, "cumsum")
    ax = one_axis(axis, a.ndim, "cumsum")
    out = np.cumsum(a, axis=ax).reshape(a.shape)
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            g = g.reshape(-1) if a.ndim == 0 else g
            return (np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax).reshape(a.shape),)
        return record(out, "CumsumBackward", (t,), backward)
    return wrap(out)

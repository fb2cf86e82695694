"""Shape ops: reshape, transpose, indexing, concatenate, stack, astype, squeeze,
unsqueeze, expand, flip, pad, tril, triu.

Each moves or copies numbers without arithmetic, so its backward routes the gradient
back to where each number came from:

    op            backward (g = upstream gradient)
    reshape       g reshaped to the input's shape
    transpose     g transposed by the inverse permutation
    getitem       zeros with g scatter-added at the indexed places (repeats accumulate)
    concatenate   g split along the axis
    stack         g indexed along the new axis
    astype        g cast back to the input's dtype
    squeeze       g reshaped to the input's shape (likewise unsqueeze)
    expand        g summed over the expanded dimensions
    flip          g flipped along the same axes
    pad           the middle of g (the padding's gradient is dropped)
    tril, triu    g with the same entries zeroed

Every output is C-contiguous (a transpose is a copy, not a strided view), so what
reaches a kernel next needs no conversion.

    >>> import microinit as mi
    >>> x = mi.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[[0, 0, 2]].sum().backward()
    >>> x.grad
    array([2., 0., 1.], dtype=float32)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.autograd.graph import needs_grad, record, tensor_class, wrap
from microinit.ops._boundary import as_tensor, fdata, native
from microinit.ops.elementwise import unbroadcast
from microinit.ops.reduce import norm_axis

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["reshape", "transpose", "getitem", "concatenate", "stack", "astype", "shape_arg", "squeeze",
           "unsqueeze", "expand", "flip", "pad", "tril", "triu", "torch_index"]


def shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` alike: a tuple of ints.

    >>> shape_arg((2, 3)), shape_arg(((2, 3),))
    ((2, 3), (2, 3))
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"shape entries must be ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def reshape(t: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """Same data in a new shape (a view of the same memory when possible)."""
    a = fdata(t, "reshape") if t.requires_grad else native(t.data)
    try:
        out = a.reshape(shape_arg(shape))
    except (TypeError, ValueError) as err:
        raise type(err)(f"reshape: a tensor of shape {a.shape} ({a.size} elements) cannot take the shape "
                        f"{shape[0] if len(shape) == 1 else shape}: {err}") from None
    if not out.flags.c_contiguous:
        out = np.asarray(out, order="C")
    if needs_grad(t):
        sa = a.shape
        return record(out, "ReshapeBackward", (t,), lambda g: (g.reshape(sa),))
    return wrap(out)


def transpose(t: Tensor, *axes: int | Sequence[int]) -> Tensor:
    """Permute dimensions (reverse them when no axes are given)."""
    a = native(t.data)
    given: tuple[Any, ...] = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    if not given:
        perm: tuple[int, ...] = tuple(range(a.ndim))[::-1]
    else:
        ok = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in given)
        perm = tuple(int(x) % a.ndim for x in given) if ok and a.ndim else ()
        if not ok or len(given) != a.ndim or any(not -a.ndim <= int(x) < a.ndim for x in given) \
                or sorted(perm) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {given} are not a permutation of the {a.ndim} dimension(s) "
                             f"of a tensor of shape {a.shape}")
    out = np.asarray(a.transpose(perm), order="C")
    if needs_grad(t):
        inv = tuple(np.argsort(perm))
        return record(out, "TransposeBackward", (t,), lambda g: (g.transpose(inv),))
    return wrap(out)


def _is_advanced(i: object) -> bool:
    return isinstance(i, (np.ndarray, list))


def _is_int(i: object) -> bool:
    """A Python/numpy integer, or a 0-d integer array (a 0-d index tensor: an integer in PyTorch)."""
    if isinstance(i, np.ndarray):
        return bool(i.ndim == 0 and i.dtype.kind in "iu")
    return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def torch_index(idx: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """``idx`` split as PyTorch reads it: (integers-only step, rest) or None.

    numpy counts an integer as an advanced index, so ``t[0, :, [1, 2]]`` on a (2, 3, 4)
    array puts the broadcast dimension first: (2, 3). PyTorch applies the integers
    first, as basic indexing, which gives (3, 2). Splitting the index into a basic step
    (the integers, slices elsewhere) and the rest reproduces PyTorch's rule; None when
    the index has no integer next to an advanced index (numpy and PyTorch agree).

    >>> a = np.zeros((2, 3, 4))
    >>> first, rest = torch_index((0, slice(None), [1, 2]))
    >>> a[first][rest].shape, a[0, :, [1, 2]].shape
    ((3, 2), (2, 3))
    """
    if not isinstance(idx, tuple) or not any(map(_is_int, idx)) or not any(map(_is_advanced, idx)):
        return None
    first: list[Any] = []
    rest: list[Any] = []
    for i in idx:
        if _is_int(i):
            first.append(int(i))
        elif i is None:
            rest.append(i)
        elif _is_advanced(i):
            arr = np.asarray(i)
            if arr.dtype == np.bool_ and arr.ndim == 0:
                return None  # a 0-d bool adds a dimension: leave it to numpy
            first.extend([slice(None)] * (arr.ndim if arr.dtype == np.bool_ else 1))
            rest.append(i)
        else:  # a slice applies in the second step; Ellipsis stands in both
            first.append(Ellipsis if i is Ellipsis else slice(None))
            rest.append(i)
    return tuple(first), tuple(rest)


def getitem(t: Tensor, idx: Any) -> Tensor:
    """Basic slicing and integer/bool-array indexing; the gradient scatter-adds back.

    Integers mixed with an advanced index follow PyTorch (:func:`torch_index`):
    ``t[0, :, [1, 2]]`` of a (2, 3, 4) tensor has shape (3, 2).
    """
    T = tensor_class()
    if isinstance(idx, tuple):
        idx = tuple(i.data if isinstance(i, T) else i for i in idx)
        advanced = any(_is_advanced(i) for i in idx)
    else:
        if isinstance(idx, T):
            idx = idx.data
        advanced = _is_advanced(idx)
    split = torch_index(idx)
    a = native(t.data)
    try:
        out = a[idx] if split is None else a[split[0]][split[1]]
    except IndexError as err:  # IndexError stays IndexError: iteration relies on it
        raise IndexError(f"getitem: {err} (tensor of shape {a.shape})") from None
    out = np.asarray(out, order="C") if isinstance(out, np.ndarray) else np.asarray(out)
    if needs_grad(t):
        shape, dt = a.shape, a.dtype

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any]]:
            full = np.zeros(shape, dt)
            if split is not None:  # the integers' step is basic indexing: a view
                np.add.at(full[split[0]], split[1], g)
            elif advanced:
                np.add.at(full, idx, g)
            else:
                full[idx] = g
            return (full,)
        return record(out, "IndexBackward", (t,), backward)
    return wrap(out)


def _join(tensors: Sequence[Tensor | ArrayLike], axis: int, join: Callable[..., NDArray[Any]],
          op: str) -> tuple[list[Tensor], list[NDArray[Any]], NDArray[Any]]:
    """(tensors, their float data, joined array) for concatenate/stack."""
    ts = [as_tensor(t, op) for t in tensors]
    if not ts:
        raise ValueError(f"{op}: need at least one tensor")
    datas = [fdata(t, op) for t in ts]
    try:
        out = join(datas, axis=axis)
    except ValueError as err:  # numpy AxisError included
        raise ValueError(f"{op}: shapes {[d.shape for d in datas]} along axis {axis}: {err}") from None
    return ts, datas, out


def concatenate(tensors: Sequence[Tensor | ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors (or arrays) along an existing axis; the gradient is split back."""
    ts, datas, out = _join(tensors, axis, np.concatenate, "concatenate")
    if needs_grad(*ts):
        ax = axis % out.ndim
        cuts = np.cumsum([d.shape[ax] for d in datas])[:-1]
        return record(out, "CatBackward", tuple(ts), lambda g: tuple(np.split(g, cuts, axis=ax)))
    return wrap(out)


def stack(tensors: Sequence[Tensor | ArrayLike], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis; the gradient is indexed back."""
    ts, _, out = _join(tensors, axis, np.stack, "stack")
    if needs_grad(*ts):
        ax = axis % out.ndim
        n = len(ts)
        return record(out, "StackBackward", tuple(ts),
                      lambda g: tuple([np.take(g, i, axis=ax) for i in range(n)]))
    return wrap(out)


def astype(t: Tensor, dt: np.dtype[Any]) -> Tensor:
    """A copy in dtype ``dt`` (already checked); the gradient is cast back."""
    a = native(t.data)
    if dt == a.dtype:
        return t
    out = np.asarray(a, dtype=dt, order="C")
    if needs_grad(t):
        if dt.kind != "f":
            raise TypeError(f"astype: cannot cast a tensor that requires grad to {dt}")
        src = a.dtype
        return record(out, "ToCopyBackward", (t,), lambda g: (g.astype(src),))
    return wrap(out)


def _view(t: Tensor, out: NDArray[Any], node: str) -> Tensor:
    """Record an op whose output is the input's numbers in another shape."""
    if needs_grad(t):
        shape = t.data.shape
        return record(out, node, (t,), lambda g: (g.reshape(shape),))
    return wrap(out)


def squeeze(t: Tensor, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Drop dimensions of size 1 (all of them, or those in ``axis``); an axis whose size
    is not 1 is left as it is, as in PyTorch.

    >>> import microinit as mi
    >>> mi.zeros(2, 1, 3, 1).squeeze().shape, mi.zeros(2, 1, 3).squeeze(axis=0).shape
    ((2, 3), (2, 1, 3))
    """
    a = native(t.data) if not t.requires_grad else fdata(t, "squeeze")
    axes = norm_axis(axis, a.ndim, "squeeze")
    keep = [d for i, d in enumerate(a.shape) if not (d == 1 and (axes is None or i in axes))]
    return _view(t, a.reshape(keep), "SqueezeBackward")


def unsqueeze(t: Tensor, axis: int) -> Tensor:
    """Insert a dimension of size 1 at ``axis`` (in [-ndim - 1, ndim], as in PyTorch).

    >>> import microinit as mi
    >>> mi.zeros(2, 3).unsqueeze(-1).shape
    (2, 3, 1)
    """
    a = native(t.data) if not t.requires_grad else fdata(t, "unsqueeze")
    ax = norm_axis(axis, a.ndim + 1, "unsqueeze")[0]  # type: ignore[index]  # an int axis: never None
    return _view(t, a.reshape(a.shape[:ax] + (1,) + a.shape[ax:]), "UnsqueezeBackward")


def expand(t: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` (-1 keeps a dimension; new dimensions go in front), as
    PyTorch's ``expand``; the result is a copy. Backward: g summed over the expanded dims.

    >>> import microinit as mi
    >>> mi.tensor([[1.0], [2.0]]).expand(2, 3).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    target = shape_arg(shape)
    a = native(t.data) if not t.requires_grad else fdata(t, "expand")
    lead = len(target) - a.ndim
    if lead < 0:
        raise ValueError(f"expand: the target shape {target} has fewer dimensions than the tensor {a.shape}")
    want = tuple(int(a.shape[i - lead]) if s == -1 and i >= lead else s for i, s in enumerate(target))
    try:
        out = np.array(np.broadcast_to(a, want), order="C")
    except ValueError:
        raise ValueError(f"expand: a tensor of shape {a.shape} cannot be expanded to {target}") from None
    if needs_grad(t):
        sa = a.shape
        return record(out, "ExpandBackward", (t,), lambda g: (unbroadcast(g, sa),))
    return wrap(out)


def flip(t: Tensor, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Reverse the order of entries along ``axis`` (None: every axis).

    >>> import microinit as mi
    >>> mi.tensor([[1.0, 2.0], [3.0, 4.0]]).flip(axis=1).tolist()
    [[2.0, 1.0], [4.0, 3.0]]
    """
    a = native(t.data) if not t.requires_grad else fdata(t, "flip")
    axes = norm_axis(axis, a.ndim, "flip")
    out = np.array(np.flip(a, axes), order="C")
    if needs_grad(t):
        return record(out, "FlipBackward", (t,), lambda g: (np.flip(g, axes),))
    return wrap(out)


def pad(t: Tensor, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding, PyTorch's ``F.pad(x, pad, value=value)``: ``pad`` is (before,
    after) pairs starting from the LAST dimension, ``(left, right, top, bottom, ...)``;
    a negative amount crops. Backward: the middle of g.

    >>> import microinit as mi
    >>> mi.tensor([[1.0, 2.0]]).pad((1, 0, 0, 1), value=9.0).tolist()
    [[9.0, 1.0, 2.0], [9.0, 9.0, 9.0]]
    """
    if isinstance(pad, (int, np.integer)) or not all(_is_int(p) for p in pad):
        raise TypeError(f"pad: pad must be a sequence of ints, got {pad!r}")
    a = native(t.data) if not t.requires_grad else fdata(t, "pad")
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise ValueError(f"pad: pad {tuple(pad)} must hold (before, after) pairs for at most the "
                         f"{a.ndim} dimension(s) of a tensor of shape {a.shape}")
    widths = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    grow = [(max(b, 0), max(e, 0)) for b, e in widths]
    padded_shape = tuple(d + b + e for d, (b, e) in zip(a.shape, grow))
    crop = tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(padded_shape, widths))
    if any(s.stop < s.start for s in crop):
        raise ValueError(f"pad: pad {tuple(pad)} crops more than a tensor of shape {a.shape} holds")
    if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
        raise TypeError(f"pad: value must be a number, got {type(value).__name__}")
    if a.dtype.kind in "iu" and not np.isfinite(value):  # (numpy stores NaN in uint8 as 0, silently)
        raise ValueError(f"pad: value {value!r} cannot be stored in a tensor of dtype {a.dtype}")
    try:  # (np.pad refuses the empty widths of a 0-d tensor: nothing to pad there)
        out = np.asarray((np.pad(a, grow, constant_values=value) if a.ndim else a.copy())[crop], order="C")
    except (ValueError, OverflowError):  # NaN/inf/huge value for an integer tensor
        raise ValueError(f"pad: value {value!r} cannot be stored in a tensor of dtype {a.dtype}") from None
    if needs_grad(t):
        inner = tuple(slice(b, b + d) for d, (b, _) in zip(a.shape, grow))

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any]]:
            full = np.zeros(padded_shape, g.dtype)
            full[crop] = g
            return (np.asarray(full[inner], order="C"),)
        return record(out, "PadBackward", (t,), backward)
    return wrap(out)


def _triangle(t: Tensor, diagonal: int, keep: Callable[[NDArray[Any], int], NDArray[Any]], op: str) -> Tensor:
    if not _is_int(diagonal):
        raise TypeError(f"{op}: diagonal must be an int, got {diagonal!r}")
    a = native(t.data) if not t.requires_grad else fdata(t, op)
    if a.ndim < 2:
        raise ValueError(f"{op}: the tensor must have at least 2 dimensions, got shape {a.shape}")
    mask = keep(np.ones(a.shape[-2:], bool), int(diagonal))
    out = np.where(mask, a, np.zeros((), a.dtype))
    if needs_grad(t):
        return record(out, op.capitalize() + "Backward", (t,),
                      lambda g: (np.where(mask, g, np.zeros((), g.dtype)),))
    return wrap(out)


def tril(t: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (entries j <= i + diagonal kept).

    >>> import microinit as mi
    >>> mi.ones(2, 2).tril().tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(t, diagonal, np.tril, "tril")


def triu(t: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (entries j >= i + diagonal kept)."""
    return _triangle(t, diagonal, np.triu, "triu")

"""Shape ops: reshape, transpose, indexing, concatenate, stack, astype.

Each moves or copies numbers without arithmetic, so its backward routes the gradient
back to where each number came from:

    op            backward (g = upstream gradient)
    reshape       g reshaped to the input's shape
    transpose     g transposed by the inverse permutation
    getitem       zeros with g scatter-added at the indexed places (repeats accumulate)
    concatenate   g split along the axis
    stack         g indexed along the new axis
    astype        g cast back to the input's dtype

Every output is C-contiguous (a transpose is a copy, not a strided view), so what
reaches a kernel next needs no conversion.

    >>> import microinit as mi
    >>> x = mi.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[[0, 0, 2]].sum().backward()
    >>> x.grad
    array([2., 0., 1.], dtype=float32)
"""
import numpy as np

from microinit.autograd.graph import needs_grad, record, tensor_class, wrap
from microinit.ops._boundary import as_tensor, fdata, native

__all__ = ["reshape", "transpose", "getitem", "concatenate", "stack", "astype", "shape_arg"]


def shape_arg(shape):
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


def reshape(t, *shape):
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


def transpose(t, *axes):
    """Permute dimensions (reverse them when no axes are given)."""
    a = native(t.data)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(range(a.ndim))[::-1]
    else:
        ok = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in axes)
        perm = tuple(int(x) % a.ndim for x in axes) if ok and a.ndim else ()
        if not ok or len(axes) != a.ndim or any(not -a.ndim <= int(x) < a.ndim for x in axes) \
                or sorted(perm) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {a.ndim} dimension(s) "
                             f"of a tensor of shape {a.shape}")
        axes = perm
    out = np.asarray(a.transpose(axes), order="C")
    if needs_grad(t):
        inv = tuple(np.argsort(axes))
        return record(out, "TransposeBackward", (t,), lambda g: (g.transpose(inv),))
    return wrap(out)


def getitem(t, idx):
    """Basic slicing and integer/bool-array indexing; the gradient scatter-adds back."""
    T = tensor_class()
    if isinstance(idx, tuple):
        idx = tuple(i.data if isinstance(i, T) else i for i in idx)
        advanced = any(isinstance(i, (np.ndarray, list)) for i in idx)
    else:
        if isinstance(idx, T):
            idx = idx.data
        advanced = isinstance(idx, (np.ndarray, list))
    a = native(t.data)
    try:
        out = a[idx]
    except IndexError as err:  # IndexError stays IndexError: iteration relies on it
        raise IndexError(f"getitem: {err} (tensor of shape {a.shape})") from None
    out = np.asarray(out, order="C") if isinstance(out, np.ndarray) else np.asarray(out)
    if needs_grad(t):
        shape, dt = a.shape, a.dtype

        def backward(g):
            full = np.zeros(shape, dt)
            if advanced:
                np.add.at(full, idx, g)
            else:
                full[idx] = g
            return (full,)
        return record(out, "IndexBackward", (t,), backward)
    return wrap(out)


def _join(tensors, axis, join, op):
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


def concatenate(tensors, axis=0):
    """Join tensors (or arrays) along an existing axis; the gradient is split back."""
    ts, datas, out = _join(tensors, axis, np.concatenate, "concatenate")
    if needs_grad(*ts):
        ax = axis % out.ndim
        cuts = np.cumsum([d.shape[ax] for d in datas])[:-1]
        return record(out, "CatBackward", tuple(ts), lambda g: tuple(np.split(g, cuts, axis=ax)))
    return wrap(out)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis; the gradient is indexed back."""
    ts, _, out = _join(tensors, axis, np.stack, "stack")
    if needs_grad(*ts):
        ax = axis % out.ndim
        n = len(ts)
        return record(out, "StackBackward", tuple(ts),
                      lambda g: tuple([np.take(g, i, axis=ax) for i in range(n)]))
    return wrap(out)


def astype(t, dt):
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

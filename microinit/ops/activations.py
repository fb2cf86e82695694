"""Activations and softmax: forward and backward side by side, one table of names.

The math of every activation and its derivative is written once, in
``_kernels/activations.pxd``; the elementwise kernel applies it. This module owns the
one activation table (name -> kernel code, default parameter), the array-level
forward/backward pair (``microinit.functional``) and the Tensor ops.

    y = act(x)            dx = dy * act'(x, y)

Softmax and log-softmax subtract the row maximum first, so huge logits (±1e4) stay
finite (docs/reliability.md row 15); y = output, g = upstream gradient, sums along
``axis``:

    softmax:      y = e^(x - m) / sum e^(x - m)      dx = y * (g - sum(g * y))
    log_softmax:  y = x - m - log sum e^(x - m)      dx = g - e^y * sum(g)

    >>> y = activation_forward("tanh", np.array([0.0, 1.0]))
    >>> activation_backward("tanh", np.array([0.0, 1.0]), y, np.ones(2)).round(4).tolist()
    [1.0, 0.42]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit._kernels import elementwise as _ew
from microinit.autograd.graph import needs_grad, record, wrap
from microinit.ops._boundary import check_same_shape, fdata, floats

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["ACTIVATION_CODES", "ACTIVATIONS", "DEFAULT_PARAM", "activation_code", "activation_param",
           "activation_forward", "activation_backward", "activation", "softmax_forward",
           "softmax_backward", "log_softmax_forward", "log_softmax_backward", "softmax",
           "log_softmax"]

#: activation name -> enum code of activations.pxd (the one table of names)
ACTIVATION_CODES: dict[str, int] = dict(_ew.CODES)
ACTIVATIONS = tuple(ACTIVATION_CODES)
#: the parameter an activation takes when none is given (PyTorch's defaults)
DEFAULT_PARAM: dict[str | None, float] = {"leaky_relu": 0.01, "elu": 1.0}
#: activation name -> the name of its graph node
_NODE_NAMES = {name: name.capitalize() + "Backward" for name in ACTIVATION_CODES}
_fwd = _ew.activation_forward
_bwd = _ew.activation_backward


def activation_code(name: str, op: str | None = None) -> int:
    """Enum code for an activation name (``None`` means identity; case-insensitive).

    >>> activation_code("ReLU") == ACTIVATION_CODES["relu"]
    True
    >>> activation_code("swish", "dense")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: dense: unknown activation 'swish'; available: None, elu, gelu, identity, ...
    """
    if name is None:
        return 0
    try:
        return ACTIVATION_CODES[name]
    except (KeyError, TypeError):
        if isinstance(name, str) and name.lower() in ACTIVATION_CODES:
            return ACTIVATION_CODES[name.lower()]
        prefix = f"{op}: " if op else ""
        if not isinstance(name, str):
            raise TypeError(f"{prefix}the activation must be a name (str) or None, got "
                            f"{type(name).__name__}") from None
        raise ValueError(f"{prefix}unknown activation {name!r}; available: None, "
                         f"{', '.join(sorted(ACTIVATIONS))}") from None


def activation_param(name: str, param: float | None) -> float:
    """``param`` as a float, or the activation's default when it is None."""
    if param is None:
        return float(DEFAULT_PARAM.get(name, 0.0)) if isinstance(name, str) else 0.0
    return float(param)


def _forward(code: int, x: NDArray[Any], param: float) -> NDArray[Any]:
    out = np.empty_like(x)
    if x.size:  # never a kernel call on a zero-size buffer (docs/reliability.md row 11)
        _fwd(code, x.reshape(-1), out.reshape(-1), param)
    return out


def _backward(code: int, x: NDArray[Any], y: NDArray[Any], dy: NDArray[Any], param: float) -> NDArray[Any]:
    dx = np.empty_like(x)
    if x.size:
        _bwd(code, x.reshape(-1), y.reshape(-1), dy.reshape(-1), dx.reshape(-1), param)
    return dx


def activation_forward(name: str, x: ArrayLike, param: float | None = None) -> NDArray[Any]:
    """y = act(x) elementwise, same shape and dtype as ``x`` (after the boundary).

    ``param`` is the negative slope of leaky_relu and the alpha of elu.
    """
    code = activation_code(name, "activation_forward")
    return _forward(code, floats(x, name or "identity", "x"), activation_param(name, param))


def activation_backward(name: str, x: ArrayLike, y: ArrayLike, dy: ArrayLike,
                        param: float | None = None) -> NDArray[Any]:
    """dx = dy * act'(x), given the forward input ``x`` and its output ``y = act(x)``.

    ``y`` and ``dy`` must have ``x``'s shape (``ValueError`` naming the shapes
    otherwise); any layout, byte order or float dtype is brought to ``x``'s.
    """
    op = f"{name or 'identity'} backward"
    code = activation_code(name, op)
    x = floats(x, op, "x")
    y = floats(y, op, "y")
    dy = floats(dy, op, "dy")
    check_same_shape(x, y, op, ("x", "y"))
    check_same_shape(x, dy, op, ("x", "dy"))
    if y.dtype != x.dtype:
        y = y.astype(x.dtype)
    if dy.dtype != x.dtype:
        dy = dy.astype(x.dtype)
    return _backward(code, x, y, dy, activation_param(name, param))


def activation(t: Tensor, name: str, param: float | None = None) -> Tensor:
    """The Tensor op ``act(t)``: one graph node whose backward is dy * act'(x, y)."""
    code = activation_code(name, "activation")
    p = activation_param(name, param)
    a = fdata(t, name)
    out = _forward(code, a, p)
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            if g.dtype != a.dtype or not g.flags.c_contiguous:
                g = np.asarray(g, dtype=a.dtype, order="C")
            return (_backward(code, a, out, g, p),)
        return record(out, _NODE_NAMES.get(name, "ActivationBackward"), (t,), backward, (t,), True)
    return wrap(out)


# ----------------------------------------------------------------------- softmax
def _along(x: NDArray[Any], axis: int, op: str) -> NDArray[Any]:
    """``x`` with at least one dimension, after checking ``axis`` names one of them.

    A 0-d input is one entry along axis 0 or -1 (softmax of it is 1, as in PyTorch).
    """
    nd = max(x.ndim, 1)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool) or not -nd <= axis < nd:
        raise ValueError(f"{op}: axis {axis!r} is out of range for an input of shape {x.shape}")
    return x.reshape(1) if x.ndim == 0 else x


def _shifted(x: NDArray[Any], axis: int) -> NDArray[Any]:
    # initial=-inf lets a zero-length axis through (an empty row has no max).
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore"):
        shifted: NDArray[Any] = x - m
    return shifted


def softmax_forward(x: ArrayLike, axis: int = -1) -> NDArray[Any]:
    """Stable softmax of ``x`` along ``axis`` (same shape and dtype).

    >>> softmax_forward(np.array([[1.0, 2.0, 3.0]]))
    array([[0.09003057, 0.24472847, 0.66524096]])
    """
    x = floats(x, "softmax")
    z = _shifted(_along(x, axis, "softmax"), axis)
    np.exp(z, out=z)
    with np.errstate(invalid="ignore", divide="ignore"):
        z /= z.sum(axis=axis, keepdims=True)
    return z.reshape(x.shape)


def softmax_backward(y: ArrayLike, g: ArrayLike, axis: int = -1) -> NDArray[Any]:
    """dx = y * (g - sum(g * y, axis)) given the softmax output ``y``."""
    y, g = floats(y, "softmax backward", "y"), floats(g, "softmax backward", "g")
    check_same_shape(y, g, "softmax backward", ("y", "g"))
    shape = y.shape
    y, g = _along(y, axis, "softmax backward"), _along(g, axis, "softmax backward")
    gy = g * y
    dx: NDArray[Any] = (gy - y * gy.sum(axis=axis, keepdims=True)).astype(y.dtype, copy=False).reshape(shape)
    return dx


def log_softmax_forward(x: ArrayLike, axis: int = -1) -> NDArray[Any]:
    """Stable log-softmax of ``x`` along ``axis`` (same shape and dtype)."""
    x = floats(x, "log_softmax")
    z = _shifted(_along(x, axis, "log_softmax"), axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        lse = np.log(np.exp(z).sum(axis=axis, keepdims=True))
        z -= lse
    return z.reshape(x.shape)


def log_softmax_backward(y: ArrayLike, g: ArrayLike, axis: int = -1) -> NDArray[Any]:
    """dx = g - exp(y) * sum(g, axis) given the log-softmax output ``y``."""
    y, g = floats(y, "log_softmax backward", "y"), floats(g, "log_softmax backward", "g")
    check_same_shape(y, g, "log_softmax backward", ("y", "g"))
    shape = y.shape
    y, g = _along(y, axis, "log_softmax backward"), _along(g, axis, "log_softmax backward")
    dx: NDArray[Any] = (g - np.exp(y) * g.sum(axis=axis, keepdims=True)).astype(y.dtype, copy=False).reshape(shape)
    return dx


def softmax(t: Tensor, axis: int = -1) -> Tensor:
    """The Tensor op: softmax along ``axis`` (numerically stable)."""
    out = softmax_forward(fdata(t, "softmax"), axis)
    if needs_grad(t):
        return record(out, "SoftmaxBackward", (t,),
                      lambda g: (softmax_backward(out, g, axis),), saves_out=True)
    return wrap(out)


def log_softmax(t: Tensor, axis: int = -1) -> Tensor:
    """The Tensor op: log-softmax along ``axis`` (numerically stable)."""
    out = log_softmax_forward(fdata(t, "log_softmax"), axis)
    if needs_grad(t):
        return record(out, "LogSoftmaxBackward", (t,),
                      lambda g: (log_softmax_backward(out, g, axis),), saves_out=True)
    return wrap(out)

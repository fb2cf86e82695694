"""Activations outside the kernel table: computed in numpy, forward and derivative side
by side. They are Tensor ops and nn modules, but ``Dense(activation=...)`` fuses only
the kernel table of ``ops/activations.py``; put these after a Dense as their own layer.

    op          forward                                 derivative (times g)
    silu        x s(x),  s = sigmoid                     s (1 + x (1 - s))
    mish        x tanh(softplus x)                       tanh(sp) + x s(x) (1 - tanh(sp)^2)
    hardswish   x relu6(x + 3) / 6                       0 (x <= -3), x/3 + 1/2 (-3 < x < 3), 1
    hardtanh    clamp(x, lo, hi)                         1 for lo < x < hi, else 0
    relu6       hardtanh(x, 0, 6)                        1 for 0 < x < 6, else 0
    logsigmoid  -softplus(-x)                            s(-x)
    softsign    x / (1 + |x|)                            1 / (1 + |x|)^2
    gelu_tanh   x/2 (1 + tanh(k (x + c x^3)))            1/2 (1 + th) + x/2 (1 - th^2) k (1 + 3 c x^2)
                k = sqrt(2/pi), c = 0.044715

The derivatives at the kinks (hardswish at -3 and 3, hardtanh and relu6 at their
bounds) are PyTorch's. sigmoid and softplus are evaluated without overflow.

    >>> import microinit as mi
    >>> x = mi.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> x.silu().sum().backward(); x.grad.round(4)
    array([0.0723, 0.5   , 1.0908], dtype=float32)
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from microinit.ops._boundary import fdata
from microinit.ops.activations import activation
from microinit.ops.elementwise import unary

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["silu", "mish", "hardswish", "hardtanh", "relu6", "logsigmoid", "softsign", "gelu_tanh", "gelu"]

_K = math.sqrt(2.0 / math.pi)
_C = 0.044715


def _sigmoid(a: NDArray[Any]) -> NDArray[Any]:
    e = np.exp(-np.abs(a))  # never overflows
    s: NDArray[Any] = np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)
    return s


def _softplus(a: NDArray[Any]) -> NDArray[Any]:
    y: NDArray[Any] = np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))
    return y


def silu(t: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    a = fdata(t, "silu")
    s = _sigmoid(a)
    return unary(t, a * s, lambda: s * (1 + a * (1 - s)), "SiluBackward")


def mish(t: Tensor) -> Tensor:
    """x * tanh(softplus(x))."""
    a = fdata(t, "mish")
    th = np.tanh(_softplus(a))
    return unary(t, a * th, lambda: th + a * _sigmoid(a) * (1 - th * th), "MishBackward")


def hardswish(t: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6."""
    a = fdata(t, "hardswish")
    out = a * np.clip(a + 3, 0, 6) / 6

    def d() -> NDArray[Any]:
        return np.where(a <= -3, 0.0, np.where(a < 3, a / 3 + 0.5, 1.0)).astype(a.dtype, copy=False)
    return unary(t, out.astype(a.dtype, copy=False), d, "HardswishBackward")


def _bound(v: float, name: str, op: str) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {type(v).__name__}")
    return float(v)


def hardtanh(t: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clamp(x, min_val, max_val); derivative 1 strictly inside, 0 outside and at the bounds.

    >>> import microinit as mi
    >>> mi.tensor([-3.0, 0.5, 3.0]).hardtanh().tolist()
    [-1.0, 0.5, 1.0]
    """
    lo, hi = _bound(min_val, "min_val", "hardtanh"), _bound(max_val, "max_val", "hardtanh")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val {lo} must not exceed max_val {hi}")
    a = fdata(t, "hardtanh")
    out = np.clip(a, lo, hi).astype(a.dtype, copy=False)
    return unary(t, out, lambda: ((a > lo) & (a < hi)).astype(a.dtype), "HardtanhBackward")


def relu6(t: Tensor) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6)."""
    return hardtanh(t, 0.0, 6.0)


def logsigmoid(t: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), finite for large |x|; derivative sigmoid(-x)."""
    a = fdata(t, "logsigmoid")
    out = (np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))).astype(a.dtype, copy=False)
    return unary(t, out, lambda: _sigmoid(-a), "LogSigmoidBackward")


def softsign(t: Tensor) -> Tensor:
    """x / (1 + |x|); derivative 1 / (1 + |x|)^2."""
    a = fdata(t, "softsign")
    den = 1 + np.abs(a)
    return unary(t, a / den, lambda: 1 / (den * den), "SoftsignBackward")


def gelu_tanh(t: Tensor) -> Tensor:
    """GELU's tanh approximation (PyTorch's ``gelu(approximate="tanh")``)."""
    a = fdata(t, "gelu")
    th = np.tanh(_K * (a + _C * a * a * a))
    out = 0.5 * a * (1 + th)

    def d() -> NDArray[Any]:
        dy: NDArray[Any] = 0.5 * (1 + th) + 0.5 * a * (1 - th * th) * _K * (1 + 3 * _C * a * a)
        return dy
    return unary(t, out.astype(a.dtype, copy=False), d, "GeluBackward")


def gelu(t: Tensor, approximate: str = "none") -> Tensor:
    """GELU, PyTorch's ``approximate`` argument: "none" is the exact x * Phi(x) of the
    kernel table (``ops/activations.py``), "tanh" is :func:`gelu_tanh`."""
    if approximate == "none":
        return activation(t, "gelu")
    if approximate == "tanh":
        return gelu_tanh(t)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")

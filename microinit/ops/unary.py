"""Elementwise math beyond arithmetic: each op's forward and derivative side by side.

    op        forward            backward (g = upstream gradient)
    sin       sin x              g cos x
    cos       cos x              -g sin x
    erf       erf x              g 2/sqrt(pi) e^(-x^2)
    rsqrt     1 / sqrt x         -g / (2 x^1.5)
    log2      log2 x             g / (x ln 2)
    exp2      2^x                g 2^x ln 2
    sign      -1, 0 or 1         0
    floor     floor x            0
    ceil      ceil x             0
    round     round half to even 0          (numpy's and PyTorch's rounding)
    isnan, isinf, isfinite       bool results, no gradient

The step functions (sign, floor, ceil, round) have derivative 0 wherever it exists,
and PyTorch returns 0 everywhere; so does microinit. On an integer tensor they return
an integer tensor (as PyTorch does), the others compute in float32; on a bool tensor
``sign`` is the tensor itself (bool) and floor/ceil/round raise TypeError, as in PyTorch.

    >>> import microinit as mi
    >>> x = mi.tensor([0.0, 1.0], requires_grad=True)
    >>> x.sin().sum().backward(); x.grad
    array([1.       , 0.5403023], dtype=float32)
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.typing import NDArray

from microinit.autograd.graph import wrap
from microinit.ops._boundary import fdata, native
from microinit.ops.elementwise import unary

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["sin", "cos", "erf", "rsqrt", "log2", "exp2", "sign", "floor", "ceil", "round_",
           "isnan", "isinf", "isfinite"]

_LN2 = math.log(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# numpy has no erf ufunc: math.erf (accurate to the last bit in double) mapped over the
# array, about 0.2 s per million entries -- exact values were chosen over speed here
_erf = np.frompyfunc(math.erf, 1, 1)


def sin(t: Tensor) -> Tensor:
    """sin x; d/dx = cos x."""
    a = fdata(t, "sin")
    with np.errstate(invalid="ignore"):  # sin(inf) is NaN, as IEEE says
        out = np.sin(a)
    return unary(t, out, lambda: np.cos(a), "SinBackward")


def cos(t: Tensor) -> Tensor:
    """cos x; d/dx = -sin x."""
    a = fdata(t, "cos")
    with np.errstate(invalid="ignore"):
        out = np.cos(a)
    return unary(t, out, lambda: -np.sin(a), "CosBackward")


def erf(t: Tensor) -> Tensor:
    """The error function 2/sqrt(pi) int_0^x e^(-u^2) du; d/dx = 2/sqrt(pi) e^(-x^2).

    >>> import microinit as mi
    >>> round(mi.tensor([1.0], dtype="float64").erf().item(), 6)
    0.842701
    """
    a = fdata(t, "erf")
    out = np.asarray(_erf(a), dtype=a.dtype).reshape(a.shape)
    return unary(t, out, lambda: _TWO_OVER_SQRT_PI * np.exp(-a * a), "ErfBackward")


def rsqrt(t: Tensor) -> Tensor:
    """1 / sqrt(x) (inf at 0, NaN below); d/dx = -1 / (2 x^1.5) = -out^3 / 2."""
    a = fdata(t, "rsqrt")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 / np.sqrt(a)
    return unary(t, out, lambda: -0.5 * out * out * out, "RsqrtBackward", True)


def log2(t: Tensor) -> Tensor:
    """Base-2 logarithm; d/dx = 1 / (x ln 2)."""
    a = fdata(t, "log2")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log2(a)

    def d() -> NDArray[Any]:
        with np.errstate(divide="ignore"):
            return 1.0 / (a * _LN2)
    return unary(t, out, d, "Log2Backward")


def exp2(t: Tensor) -> Tensor:
    """2^x; d/dx = 2^x ln 2."""
    a = fdata(t, "exp2")
    with np.errstate(over="ignore"):
        out = np.exp2(a)
    return unary(t, out, lambda: out * a.dtype.type(_LN2), "Exp2Backward", True)


def _step(t: Tensor, fn: Callable[[NDArray[Any]], Any], op: str) -> Tensor:
    kind = t.data.dtype.kind
    if kind == "b":  # PyTorch: sign keeps a bool tensor; floor/ceil/round have no bool kernel
        if op != "sign":
            raise TypeError(f"{op}: not supported on a bool tensor (as in PyTorch); cast with "
                            f"astype('int64') or astype('float32') first")
        return wrap(native(t.data).copy())
    if kind in "iu":  # integers are their own floor/ceil/round
        return wrap(np.asarray(fn(native(t.data))))
    a = fdata(t, op)
    return unary(t, np.asarray(fn(a)), lambda: np.zeros_like(a), op.capitalize() + "Backward")


def _sign(a: NDArray[Any]) -> NDArray[Any]:
    # PyTorch's sign(NaN) is 0 (numpy's is NaN)
    s = np.sign(a)
    return np.where(np.isnan(s), np.zeros((), s.dtype), s) if s.dtype.kind == "f" else s


def sign(t: Tensor) -> Tensor:
    """-1, 0 or 1, and 0 for NaN as in PyTorch; gradient 0 (PyTorch's)."""
    return _step(t, _sign, "sign")


def floor(t: Tensor) -> Tensor:
    """Largest integer <= x; gradient 0."""
    return _step(t, np.floor, "floor")


def ceil(t: Tensor) -> Tensor:
    """Smallest integer >= x; gradient 0."""
    return _step(t, np.ceil, "ceil")


def round_(t: Tensor) -> Tensor:
    """Nearest integer, halves to even (2.5 -> 2, as numpy and PyTorch); gradient 0.

    >>> import microinit as mi
    >>> mi.tensor([0.5, 1.5, 2.5, -0.5]).round().tolist()
    [0.0, 2.0, 2.0, -0.0]
    """
    return _step(t, np.round, "round")


def _test(t: Tensor, fn: Callable[[NDArray[Any]], Any]) -> Tensor:
    a = native(t.data)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{fn.__name__}: unsupported dtype {a.dtype}")
    return wrap(np.asarray(fn(a)))


def isnan(t: Tensor) -> Tensor:
    """A bool tensor, True where x is NaN."""
    return _test(t, np.isnan)


def isinf(t: Tensor) -> Tensor:
    """A bool tensor, True where x is +inf or -inf."""
    return _test(t, np.isinf)


def isfinite(t: Tensor) -> Tensor:
    """A bool tensor, True where x is neither NaN nor infinite.

    >>> import microinit as mi
    >>> mi.tensor([1.0, float("nan"), float("inf")]).isfinite().tolist()
    [True, False, False]
    """
    return _test(t, np.isfinite)

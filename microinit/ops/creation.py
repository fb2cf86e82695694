"""Tensor creation: arange, full, eye, linspace, zeros_like, ones_like, full_like.

These make leaf tensors (no graph). Their dtypes follow PyTorch: ``arange`` of ints and
``full`` of an int give int64, of a bool gives bool, any float gives float32 (the
default float); an explicit ``dtype`` wins. ``*_like`` keep the tensor's dtype and
shape. ``requires_grad=True`` needs a float dtype (``TypeError`` otherwise).

    >>> import microinit as mi
    >>> mi.arange(3).tolist(), mi.arange(0, 1, 0.25).tolist()
    ([0, 1, 2], [0.0, 0.25, 0.5, 0.75])
    >>> mi.full((2,), 7).dtype, mi.eye(2).tolist()
    (dtype('int64'), [[1.0, 0.0], [0.0, 1.0]])
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from microinit.autograd.graph import tensor_class, wrap
from microinit.ops._boundary import DEFAULT_DTYPE, FLOAT_DTYPES, native

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["tensor_dtype", "arange", "full", "eye", "linspace", "zeros_like", "ones_like", "full_like"]

_UNSUPPORTED = "use float32 or float64 (integer/bool only for labels, indices and masks)"


def tensor_dtype(dtype: DTypeLike, op: str = "Tensor") -> np.dtype[Any]:
    """``dtype`` as a numpy dtype a Tensor may hold (float32/float64, int, uint, bool),
    or ``TypeError`` naming ``op``.

    >>> tensor_dtype("float64"), tensor_dtype(np.int32)
    (dtype('float64'), dtype('int32'))
    >>> tensor_dtype("float16", "full")
    Traceback (most recent call last):
    TypeError: full: unsupported dtype float16; use float32 or float64 (integer/bool only for labels, indices and masks)
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype; {_UNSUPPORTED}") from None
    if dt.kind not in "fiub" or (dt.kind == "f" and dt not in FLOAT_DTYPES):
        raise TypeError(f"{op}: unsupported dtype {dt}; {_UNSUPPORTED}")
    return dt


def _leaf(a: NDArray[Any], requires_grad: bool, op: str) -> Tensor:
    t = wrap(np.asarray(a, order="C"))
    if requires_grad:
        if a.dtype.kind != "f":
            raise TypeError(f"{op}: only float tensors can require grad, got dtype {a.dtype}")
        t.requires_grad = True
    return t


def _number(x: Any, op: str, name: str) -> Any:  # a Python or numpy number
    if isinstance(x, tensor_class()) and x.data.size == 1:
        x = x.data.item()
    if not isinstance(x, (numbers.Real, np.number, np.bool_)):
        raise TypeError(f"{op}: {name} must be a number, got {type(x).__name__}")
    if isinstance(x, (float, np.floating)) and not math.isfinite(x):
        raise ValueError(f"{op}: {name} must be finite, got {x}")
    return x


def _inferred(values: Sequence[Any], dtype: DTypeLike | None, op: str) -> np.dtype[Any]:
    """PyTorch's rule: explicit dtype, else bool/int64 for bools/ints, else float32."""
    if dtype is not None:
        return tensor_dtype(dtype, op)
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.dtype(np.bool_)
    if all(isinstance(v, (numbers.Integral, np.integer)) for v in values):
        return np.dtype(np.int64)
    return DEFAULT_DTYPE


def arange(start: float, stop: float | None = None, step: float = 1, dtype: DTypeLike | None = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (0 when only one argument is given) up to, not including,
    ``stop`` in steps of ``step`` (numpy's names, PyTorch's ``end``)."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = (_number(v, "arange", n) for v, n in ((start, "start"), (stop, "stop"), (step, "step")))
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (stop - start) * step < 0:
        raise ValueError(f"arange: the range [{start}, {stop}) cannot be walked with step {step}")
    dt = _inferred((start, stop, step), dtype, "arange")
    if dt == np.bool_:
        dt = np.dtype(np.int64)
    n = max(0, math.ceil((stop - start) / step))
    # computed in float64 (or int64) and cast once, like PyTorch: start + i * step
    out = (np.arange(n, dtype=np.int64 if dt.kind in "iu" else np.float64) * step + start).astype(dt)
    return _leaf(out, requires_grad, "arange")


def _shape(shape: int | Sequence[int], op: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}")
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}: negative dimension in shape {tuple(shape)}")
    return tuple(int(s) for s in shape)


def full(shape: int | Sequence[int], fill_value: float, dtype: DTypeLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (dtype inferred as PyTorch does)."""
    if isinstance(fill_value, tensor_class()) and fill_value.data.size == 1:
        fill_value = fill_value.data.item()
    if not isinstance(fill_value, (numbers.Real, np.number, np.bool_)):
        raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__}")
    dt = _inferred((fill_value,), dtype, "full")
    return _leaf(np.full(_shape(shape, "full"), fill_value, dt), requires_grad, "full")


def eye(n: int, m: int | None = None, dtype: DTypeLike = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """The (n, m) identity matrix (m defaults to n).

    >>> import microinit as mi
    >>> mi.eye(2, 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    rows, cols = _shape((n, n if m is None else m), "eye")
    return _leaf(np.eye(rows, cols, dtype=tensor_dtype(dtype, "eye")), requires_grad, "eye")


def linspace(start: float, stop: float, num: int, dtype: DTypeLike = DEFAULT_DTYPE,
             requires_grad: bool = False) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``, both included (PyTorch's
    ``steps`` is numpy's ``num``; required, as in PyTorch).

    >>> import microinit as mi
    >>> mi.linspace(0, 1, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    start, stop = _number(start, "linspace", "start"), _number(stop, "linspace", "stop")
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"linspace: num must be a non-negative int, got {num!r}")
    dt = tensor_dtype(dtype, "linspace")
    return _leaf(np.linspace(start, stop, int(num)).astype(dt), requires_grad, "linspace")


def _like(t: Tensor | ArrayLike, dtype: DTypeLike | None, op: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    T = tensor_class()
    a = native(t.data) if isinstance(t, T) else (t if isinstance(t, np.ndarray) else None)
    if a is None:
        raise TypeError(f"{op}: expected a Tensor or an array, got {type(t).__name__}")
    return a.shape, (a.dtype if dtype is None else tensor_dtype(dtype, op))


def zeros_like(t: Tensor | ArrayLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``t``'s shape and dtype (or ``dtype``)."""
    shape, dt = _like(t, dtype, "zeros_like")
    return _leaf(np.zeros(shape, dt), requires_grad, "zeros_like")


def ones_like(t: Tensor | ArrayLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``t``'s shape and dtype (or ``dtype``)."""
    shape, dt = _like(t, dtype, "ones_like")
    return _leaf(np.ones(shape, dt), requires_grad, "ones_like")


def full_like(t: Tensor | ArrayLike, fill_value: float, dtype: DTypeLike | None = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with ``t``'s shape and dtype (or ``dtype``).

    >>> import microinit as mi
    >>> mi.full_like(mi.zeros(2), 3.5).tolist()
    [3.5, 3.5]
    """
    shape, dt = _like(t, dtype, "full_like")
    if not isinstance(fill_value, (numbers.Real, np.number, np.bool_)):
        raise TypeError(f"full_like: fill_value must be a number, got {type(fill_value).__name__}")
    return _leaf(np.full(shape, fill_value, dt), requires_grad, "full_like")

"""Which dtype an op's result has when its operands are integer/bool tensors or numpy
scalars: PyTorch's rules (docs/ops.md, "Integer and bool tensors").

* Integer and bool operands give an integer or bool result (:func:`integral_dtype`):
  integer beats bool; within the winning kind, tensors with dimensions decide, then
  0-d tensors, then Python numbers, which never promote.
* A numpy scalar counts as the Python number it holds (:func:`weak`), so
  ``float32 * np.float64(2)`` stays float32, as in PyTorch.
* Every operand is cast to the result dtype before the op computes
  (:func:`as_result_dtype`), wrapping around as PyTorch does: a uint8 tensor plus -2
  adds 254 modulo 256.

The ops of ``ops/elementwise.py`` and ``ops/reduce.py`` use these; no integer result
requires grad.

    >>> import microinit as mi
    >>> (mi.tensor([1, 2], dtype="int32") * 3).dtype, (mi.tensor([True]) + 1).dtype
    (dtype('int32'), dtype('int64'))
"""
from __future__ import annotations

from typing import Any

import numpy as np

from microinit.autograd.graph import tensor_class
from microinit.ops._boundary import native

__all__ = ["is_integral", "is_bool", "integral_data", "integral_dtype", "weak", "as_result_dtype"]


def is_integral(x: object) -> bool:
    """True for an integer/bool Tensor, array or Python/numpy int or bool: an operand
    that keeps an op's result integral when every other operand is one too."""
    if isinstance(x, tensor_class()):
        return bool(x.data.dtype.kind in "iub")
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "iub"
    return isinstance(x, (int, np.integer, np.bool_))  # bool is an int


def integral_data(x: object) -> Any:
    """A Tensor's data as a native-order array, anything else as it is."""
    return native(x.data) if isinstance(x, tensor_class()) else x


def is_bool(x: object) -> bool:
    """True for a bool Tensor, array or Python/numpy bool."""
    if isinstance(x, tensor_class()):
        return bool(x.data.dtype.kind == "b")
    if isinstance(x, np.ndarray):
        return bool(x.dtype.kind == "b")
    return isinstance(x, (bool, np.bool_))


def integral_dtype(*operands: object) -> np.dtype[Any]:
    """The dtype PyTorch gives an op on integer/bool operands (all :func:`is_integral`).

    Integer beats bool; within the winning kind, tensors (and arrays) with dimensions
    decide, then 0-d ones, then Python numbers, which never promote (an int32 tensor
    times 3 stays int32; a bool tensor plus 1 is int64).

    >>> import microinit as mi
    >>> integral_dtype(mi.tensor([1, 2], dtype="int32"), 3), integral_dtype(mi.tensor([True]), 1)
    (dtype('int32'), dtype('int64'))
    """
    ranked: list[tuple[np.dtype[Any], int]] = []
    for x in operands:
        d = x.data if isinstance(x, tensor_class()) else x
        if isinstance(d, np.ndarray):
            ranked.append((d.dtype, 2 if d.ndim else 1))
        else:  # a Python or numpy scalar: the default dtype of its kind
            ranked.append((np.dtype(bool) if is_bool(d) else np.dtype(np.int64), 0))
    kind = max(dt.kind != "b" for dt, _ in ranked)
    tier = max(r for dt, r in ranked if (dt.kind != "b") == kind)
    return np.result_type(*[dt for dt, r in ranked if (dt.kind != "b") == kind and r == tier])


def weak(x: Any) -> Any:
    """A numpy scalar as the Python number it holds: PyTorch treats numpy scalars as it
    treats Python numbers, which never promote a tensor's dtype (``float32 * np.float64(2)``
    is float32). Anything else (arrays, Tensors, long doubles) is returned as it is."""
    if isinstance(x, (np.floating, np.integer, np.bool_)) and x.dtype.itemsize <= 8:
        return x.item()
    return x


def as_result_dtype(x: Any, dtype: np.dtype[Any], op: str) -> Any:
    """An integer/bool operand (array, Python or numpy number) as an array of ``dtype``,
    the op's integral result dtype: PyTorch casts every operand to the result dtype
    before it computes, wrapping around (a uint8 tensor plus -2 adds 254 modulo 256,
    and ``maximum`` of a uint8 tensor and a 0-d int64 -11 compares with 245). A Python
    int beyond int64 is refused with a ValueError naming ``op``.

    >>> as_result_dtype(-2, np.dtype(np.uint8), "add")
    array(254, dtype=uint8)
    """
    if isinstance(x, int) and not isinstance(x, bool) and not -2**63 <= x < 2**63:
        raise ValueError(f"{op}: the integer {x} is beyond the range of int64")
    return np.asarray(x).astype(dtype, copy=False)

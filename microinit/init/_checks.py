"""Argument checks, the fan helper and PyTorch's gain table.

Every check here raises before any random number is drawn, with a message that names
the initializer, the argument, the value received and what is allowed (docs/reliability.md
rows 31-39). Nothing here draws random numbers or keeps state.
"""
from __future__ import annotations

import difflib
import math
import numbers
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["compute_fans", "calculate_gain", "check_shape", "check_dtype"]

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
FEWER_THAN_2D = "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"


def normalize_name(name: object) -> str:
    """Key used for every name lookup: case-, underscore-, hyphen- and space-insensitive,
    so "HeNormal", "he_normal" and "he-normal" are one name."""
    return "".join(ch for ch in str(name).lower() if ch not in "_- ")


def did_you_mean(word: str, candidates: Iterable[str], n: int = 3) -> str:
    """' did you mean 'a' or 'b'?' for the candidates closest to word (or '')."""
    keyed = {normalize_name(c): c for c in candidates}
    close = difflib.get_close_matches(normalize_name(word), list(keyed), n=n, cutoff=0.6)
    if not close:
        return ""
    names = [repr(keyed[c]) for c in close]
    also = f" (also close: {', '.join(names[1:])})" if len(names) > 1 else ""
    return f"; did you mean {names[0]}?{also}"


def check_choice(value: object, allowed: Sequence[str], what: str, where: str) -> str:
    """Return value (lower-cased) if it is one of allowed, else ValueError naming both."""
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
    raise ValueError(
        f"{where}: invalid {what}={value!r}{hint}; allowed values: {', '.join(map(repr, allowed))}"
    )


def check_real(value: Any, what: str, where: str, *, positive: bool = False, nonnegative: bool = False,
               lo: float | None = None, hi: float | None = None, infinite_ok: bool = False) -> float:
    """A finite (or, with infinite_ok, +-inf) real number, bool refused, satisfying the
    stated bound, as a float. NaN is always refused."""
    if type(value) is not float and type(value) is not int and (
            isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise ValueError(f"{where}: {what} must be a real number, got {value!r} ({type(value).__name__})")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64: a ValueError, never OverflowError (row 53)
        raise ValueError(f"{where}: {what} (an int of {abs(int(value)).bit_length()} bits) is outside "  # type: ignore[arg-type]  # an int (float() overflowed)
                         "float64's range [-1.79769e+308, 1.79769e+308]") from None
    if math.isnan(number) or not (infinite_ok or math.isfinite(number)):
        raise ValueError(f"{where}: {what} must be {'a number' if infinite_ok else 'finite'}, got {number!r}")
    if positive and not number > 0:
        raise ValueError(f"{where}: {what} must be > 0, got {number!r}")
    if nonnegative and not number >= 0:
        raise ValueError(f"{where}: {what} must be >= 0, got {number!r}")
    if lo is not None and not number >= lo or hi is not None and not number <= hi:
        raise ValueError(f"{where}: {what} must be in [{lo}, {hi}], got {number!r}")
    return number


def check_shape(shape: Any, where: str) -> tuple[int, ...]:
    """A shape as a tuple of non-negative Python ints. An int means (int,).

    Negative, non-integer and boolean entries raise ValueError naming the shape."""
    if type(shape) is tuple and all(type(d) is int and d >= 0 for d in shape):
        return shape  # the common case, without the slow ABC isinstance checks below
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"{where}: shape must be a tuple of non-negative ints, got {shape!r}"
        ) from None
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (numbers.Integral, np.integer)) or d < 0:
            raise ValueError(
                f"{where}: shape must be a tuple of non-negative ints, got {shape!r} "
                f"(bad entry {d!r})"
            )
    return tuple(int(d) for d in dims)


def check_dtype(dtype: DTypeLike, where: str) -> np.dtype[Any]:
    """A floating numpy dtype (float16, float32 or float64); anything else is a TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise TypeError(
            f"{where}: dtype must be one of float16, float32, float64, got {dtype!r}"
        )
    return dt


def _is_int(value: object) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _axis_size(shape: tuple[int, ...], axes: Any, what: str, where: str) -> tuple[int, set[int]]:
    if _is_int(axes):
        axes = (axes,)
    if not isinstance(axes, (tuple, list)) or not all(_is_int(ax) for ax in axes):
        raise ValueError(f"{where}: {what} must be an int or a tuple of ints, got {axes!r}")
    size = 1
    for ax in axes:
        if not -len(shape) <= ax < len(shape):
            raise ValueError(f"{where}: {what}={ax} is out of range for shape {shape}")
        size *= shape[ax]
    return size, {a % len(shape) for a in axes}


def compute_fans(shape: int | Sequence[int], in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                 batch_axis: int | Sequence[int] = (), where: str = "compute_fans") -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape, in microinit's layout.

    fan_in = shape[in_axis] * receptive, fan_out = shape[out_axis] * receptive, with
    receptive = prod(remaining non-batch axes); by default in_axis=-2, out_axis=-1
    (JAX's convention; a Dense weight is (fan_in, fan_out), a conv kernel is
    (*kernel, in, out)). Axes may be ints or tuples of ints (``()``: no axis, size 1).
    A 0-D or 1-D shape with the default in_axis raises PyTorch's ValueError
    (docs/reliability.md row 32); with in_axis given explicitly its fans come from the
    axes, as in JAX's ``variance_scaling(..., in_axis, out_axis)``. The three axis
    sets must be distinct.

    >>> compute_fans((3, 3, 16, 32))
    (144, 288)
    >>> compute_fans((64,), in_axis=0, out_axis=())
    (64, 1)
    """
    shape = check_shape(shape, where)
    if len(shape) < 2 and type(in_axis) is int and in_axis == -2:
        raise ValueError(f"{where}: {FEWER_THAN_2D} (shape {shape}; give in_axis and out_axis "
                         "explicitly to compute fans of a 0-D or 1-D shape)")
    in_size, in_set = _axis_size(shape, in_axis, "in_axis", where)
    out_size, out_set = _axis_size(shape, out_axis, "out_axis", where)
    batch_size, batch_set = _axis_size(shape, batch_axis, "batch_axis", where)
    if in_set & out_set or in_set & batch_set or out_set & batch_set:
        raise ValueError(
            f"{where}: in_axis={in_axis}, out_axis={out_axis} and batch_axis={batch_axis} must be distinct"
        )
    receptive = 1
    for ax, d in enumerate(shape):
        if ax not in in_set | out_set | batch_set:
            receptive *= d
    return in_size * receptive, out_size * receptive


LINEAR_FNS = ("linear", "identity", "conv1d", "conv2d", "conv3d",
              "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
NONLINEARITIES = LINEAR_FNS + ("sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str | None, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: PyTorch's table, exactly.

    =================  ======================
    linear / conv*     1
    sigmoid            1
    tanh               5/3
    relu               sqrt(2)
    leaky_relu         sqrt(2 / (1 + slope^2))  (slope = param, default 0.01)
    selu               3/4
    =================  ======================

    Names are case-insensitive ("ReLU" works). An unknown name, or a leaky_relu param
    that is not an int/float (True, [1], a dict), raises ValueError as in PyTorch.

    >>> calculate_gain("leaky_relu", 0.2)  # doctest: +ELLIPSIS
    1.386...
    """
    if not isinstance(nonlinearity, str):
        raise ValueError(f"calculate_gain: nonlinearity must be a string, got {nonlinearity!r}")
    key = nonlinearity.lower()
    if key in LINEAR_FNS or key == "sigmoid":
        return 1.0
    if key == "tanh":
        return 5.0 / 3
    if key == "relu":
        return math.sqrt(2.0)
    if key == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, (bool, np.bool_)) and isinstance(param, (numbers.Integral, numbers.Real)):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} not a valid number")
        try:
            if not math.isfinite(slope):
                raise ValueError(f"calculate_gain: negative_slope {param!r} must be finite")
            return math.sqrt(2.0 / (1 + float(slope) ** 2))
        except OverflowError:  # docs/reliability.md row 53: a ValueError, never OverflowError
            raise ValueError(
                f"calculate_gain: negative_slope {param!r} is too large: negative_slope**2 overflows "
                f"float64's range (|negative_slope| must be <= {math.sqrt(1.7976931348623157e308):.6g})"
            ) from None
    if key == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}"
        f"{did_you_mean(nonlinearity, NONLINEARITIES)}; allowed values: {', '.join(NONLINEARITIES)}"
    )


def warn_zero_element(where: str, shape: tuple[int, ...]) -> None:
    warnings.warn(f"{where}: Initializing zero-element tensors is a no-op (shape {shape})",
                  UserWarning, stacklevel=4)

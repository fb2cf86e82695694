"""Does a plan fit its dtype? The checks of docs/reliability.md row 53.

A parameter that is a fine float64 can still overflow the weights' dtype:
``normal(mean=1e300)`` in float32, ``orthogonal(gain=1e300)``, ``normal(mean=7e4)`` in
float16. Every value a plan can draw must be a finite value of the dtype, else
ValueError naming the user's parameter and the dtype's range, before anything is
drawn; and `check_finite` is the last guard on what a user-registered initializer
returns. Nothing here draws random numbers.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, NoReturn

import numpy as np
from numpy.typing import NDArray

from microinit._kernels import sampling

if TYPE_CHECKING:  # annotations only: _sample.py imports this module
    from microinit.init._sample import Plan

__all__ = ["check_fits_dtype", "check_finite"]

#: The ziggurat's largest |z| (sampling.NORMAL_MAX_Z): a normal sample lies within
#: mean +- NORMAL_MAX_Z * std, so that must lie in the dtype's range.
NORMAL_MAX_Z = sampling.NORMAL_MAX_Z


def _range_text(dtype: np.dtype[Any]) -> str:
    big = float(np.finfo(dtype).max)
    return f"{dtype.name}'s range [{-big:.6g}, {big:.6g}]"


def _refuse(where: str, plan: Plan, param: str, detail: str, dtype: np.dtype[Any]) -> NoReturn:
    value = plan.params[param]
    what = plan.source or f"{param}={value!r}"
    raise ValueError(f"{where}: {what} {detail}, outside {_range_text(dtype)}")


def check_fits_dtype(plan: Plan, dtype: np.dtype[Any], where: str) -> None:
    """ValueError unless every value `plan` can draw is a finite value of `dtype`,
    naming the parameter responsible and the dtype's range.

    >>> from microinit.init._sample import Plan
    >>> check_fits_dtype(Plan("normal", mean=0.0, std=1.0), np.dtype(np.float16), "normal")
    >>> check_fits_dtype(Plan("constant", value=7e4), np.dtype(np.float16), "constant")
    Traceback (most recent call last):
    ...
    ValueError: constant: value=70000.0 is too large, outside float16's range [-65504, 65504]
    """
    big = float(np.finfo(dtype).max)
    p = plan.params
    kind = plan.kind
    if kind == "constant":
        if abs(p["value"]) > big:
            _refuse(where, plan, "value", "is too large", dtype)
    elif kind == "uniform":
        for side in ("low", "high"):
            if abs(p[side]) > big:
                _refuse(where, plan, side, "gives samples this large", dtype)
        if not math.isfinite(p["high"] - p["low"]):
            raise ValueError(f"{where}: {plan.source or 'high - low'} = {p['high'] - p['low']!r} "
                             f"overflows float64 (low={p['low']!r}, high={p['high']!r})")
    elif kind in ("normal", "sparse"):
        mean = p.get("mean", 0.0)
        if abs(mean) > big:
            _refuse(where, plan, "mean", "is too large", dtype)
        reach = abs(mean) + NORMAL_MAX_Z * p["std"]
        if reach > big:
            _refuse(where, plan, "std", f"gives samples up to |mean| + {NORMAL_MAX_Z} std = {reach:.6g}",
                    dtype)
    elif kind == "truncated_normal":
        _check_truncated_normal(plan, dtype, where, big)
    elif abs(p["gain"]) > big:  # orthogonal, identity, dirac, delta_orthogonal: |w| <= gain
        _refuse(where, plan, "gain", "gives weights this large", dtype)


def _check_truncated_normal(plan: Plan, dtype: np.dtype[Any], where: str, big: float) -> None:
    """The mean must be in range; a side of (low, high) beyond the range must not be
    reachable (mean +- NORMAL_MAX_Z * std inside the range there)."""
    p = plan.params
    mean, std, low, high = p["mean"], p["std"], p["low"], p["high"]
    if abs(mean) > big:
        _refuse(where, plan, "mean", "is too large", dtype)
    if low < -big and mean - NORMAL_MAX_Z * std < -big or high > big and mean + NORMAL_MAX_Z * std > big:
        _refuse(where, plan, "std",
                f"with low={low!r}, high={high!r} reaches mean +- {NORMAL_MAX_Z} std", dtype)


def check_finite(result: NDArray[Any], where: str, params: Mapping[str, Any]) -> None:
    """The last guard: ValueError naming the initializer and its parameters if
    `result` holds an inf or a NaN (min and max are NaN or inf exactly then)."""
    if result.size and not (np.isfinite(result.min()) and np.isfinite(result.max())):
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no parameters"
        raise ValueError(f"{where}: produced non-finite weights (inf or NaN) with {shown}, "
                         f"dtype {result.dtype.name}")

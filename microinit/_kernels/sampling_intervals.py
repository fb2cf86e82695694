"""The arithmetic that sampling.pyx does once per fill, before its C loops run.

Which values of a dtype lie inside an interval, whether bounds fit the dtype's range,
and the truncated normal's proposal (Robert 1995) for an interval given in any place
relative to the mean. Plain Python: nothing here draws random numbers; sampling.pyx
re-exports the public names.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["TN_NORMAL", "TN_EXPONENTIAL", "TN_UNIFORM", "TruncnormPlan", "check_range",
           "inside_bounds", "plan_truncnorm", "range_of", "truncnorm_method"]

# Proposal methods for the truncated normal (chosen once per fill by truncnorm_method).
TN_NORMAL = 0
TN_EXPONENTIAL = 1
TN_UNIFORM = 2


def range_of(dtype: DTypeLike) -> float:
    """The largest finite value of a float dtype, as a Python float."""
    return float(np.finfo(dtype).max)


def check_range(op: str, dtype: DTypeLike, low: float, high: float) -> None:
    """Refuse bounds outside the finite range of dtype (samples there would be inf)."""
    big = range_of(dtype)
    if not (-big <= low and high <= big):
        raise ValueError(f"{op}: low={low!r} and high={high!r} must lie in {np.dtype(dtype).name}'s range "
                         f"[{-big:.8g}, {big:.8g}]")


def inside_bounds(dtype: DTypeLike, low: float, high: float, closed_low: bool = False) -> tuple[float, float] | None:
    """(first, last): the smallest and largest value of `dtype` strictly inside
    (low, high) ([low, high) with closed_low), or None if there is none. Values beyond
    the dtype's finite range never count (a sample is never inf). "Strictly inside"
    holds both exactly and, where the interval holds other values, as numpy compares a
    dtype array with a Python float (the bound rounded to the dtype): bounds that round
    to a value of the dtype leave that value out too, unless it is the only one
    inside (float16 0.0 in (-1e-150, 1e-150)).

    >>> inside_bounds(np.float32, 1.0, 2.0)
    (1.0000001192092896, 1.9999998807907104)
    >>> inside_bounds(np.float32, 1.0, 1.0 + 1e-9) is None
    True
    """
    t = np.dtype(dtype).type
    big = range_of(t)
    found = _inside(t, big, low, high, closed_low, True)
    return found if found is not None else _inside(t, big, low, high, closed_low, False)


def _inside(t: Any, big: float, low: float, high: float, closed_low: bool,
            skip_rounded_bounds: bool) -> tuple[float, float] | None:
    # Compared as Python floats: a numpy float32 compared with a Python float would
    # round the Python float to float32 first. Overflow to inf is expected here.
    low, high = float(low), float(high)
    with np.errstate(over="ignore"):
        low_t, high_t = t(low), t(high)
        if not np.isfinite(low_t):
            first = t(-big) if low < 0 else t(np.inf)
        elif float(low_t) > low and not skip_rounded_bounds or closed_low and float(low_t) >= low:
            first = low_t
        else:
            first = np.nextafter(low_t, t(np.inf))
        if not np.isfinite(high_t):
            last = t(big) if high > 0 else t(-np.inf)
        elif float(high_t) < high and not skip_rounded_bounds:
            last = high_t
        else:
            last = np.nextafter(high_t, t(-np.inf))
    if not (np.isfinite(first) and np.isfinite(last) and float(first) <= float(last)):
        return None
    return float(first), float(last)


def truncnorm_method(alpha: float, beta: float, width: float | None = None) -> tuple[int, float, float, float, bool]:
    """(method, a, b, c, flip) for a standard normal truncated to [alpha, beta].

    The proposal draws x on [a, b] and the sample is -x if flip else x. NORMAL: the
    plain normal when P(alpha < Z < beta) >= 0.3. For one-sided intervals (mirrored
    so that a >= 0): UNIFORM on [a, b] accepted with prob exp((c^2 - x^2) / 2), c = a,
    when that is >= 0.3 everywhere, else EXPONENTIAL with Robert's optimal rate (its
    acceptance, counting draws past b, is >= 0.5). Intervals around 0 that are too
    narrow for the normal: UNIFORM with c = 0. Every method keeps a draw with
    probability >= 0.3, so the expected work per sample is bounded. width is
    beta - alpha computed without cancellation (alpha and beta may be huge and
    close); by default beta - alpha.

    >>> truncnorm_method(-2.0, 2.0)[0] == TN_NORMAL, truncnorm_method(5.0, 8.0)[0] == TN_EXPONENTIAL
    (True, True)
    """
    alpha, beta = float(alpha), float(beta)
    w = beta - alpha if width is None else float(width)
    mass = 0.5 * (math.erfc(-beta / math.sqrt(2.0)) - math.erfc(-alpha / math.sqrt(2.0)))
    if mass >= 0.3:
        return TN_NORMAL, alpha, beta, 0.0, False
    flip = False
    a, b = alpha, beta
    if beta <= 0:
        a, b, flip = -beta, -alpha, True
    if a >= 0:
        # exp((a^2 - b^2) / 2) with b = a + w, without overflowing a^2
        if math.exp(-w * (a + 0.5 * w)) >= 0.3:
            return TN_UNIFORM, a, b, a, flip
        return TN_EXPONENTIAL, a, b, 0.0, flip
    return TN_UNIFORM, a, b, 0.0, flip


class TruncnormPlan:
    """How truncnorm_fill draws N(mean, std^2) on (low, high) for one dtype.

    first, last: the extreme values of the dtype kept; lo_edge, hi_edge: the draws
    that round to them; method, a, b, c, flip: truncnorm_method's proposal on
    [alpha, beta] = (edges - mean) / std; width: hi_edge - lo_edge in std units;
    point: the value every sample takes when the interval is so far in a tail that
    (edge - mean) / std overflows (else None).
    """

    __slots__ = ("first", "last", "lo_edge", "hi_edge", "method", "a", "b", "c", "flip", "width", "point")

    first: float
    last: float
    lo_edge: float
    hi_edge: float
    method: int
    a: float
    b: float
    c: float
    flip: bool
    width: float
    point: float | None

    def __init__(self, first: float, last: float, lo_edge: float, hi_edge: float) -> None:
        self.first, self.last, self.lo_edge, self.hi_edge = first, last, lo_edge, hi_edge
        self.method, self.a, self.b, self.c, self.flip = TN_NORMAL, 0.0, 0.0, 0.0, False
        self.width = 0.0
        self.point = None


def plan_truncnorm(mean: float, std: float, low: float, high: float, dtype: DTypeLike) -> TruncnormPlan:
    """The TruncnormPlan for values of `dtype` strictly inside (low, high), or
    ValueError naming the interval if there are none.

    >>> p = plan_truncnorm(0.0, 1e-9, 1.0, 2.0, np.float32)
    >>> p.first, p.method == TN_EXPONENTIAL
    (1.0000001192092896, True)
    """
    t: np.dtype[Any] = np.dtype(dtype)
    bounds = inside_bounds(t, low, high)
    if bounds is None:
        raise ValueError(f"truncated_normal: no {t.name} value lies strictly between "
                         f"low={low!r} and high={high!r}")
    first, last = bounds
    # The draws that round to first..last: down to the midpoint between first and the
    # value below it (but not below low), up to the midpoint above last. float64
    # output rounds nothing, so there the set is [first, last] itself.
    lo_edge, hi_edge = first, last
    big = range_of(t)
    if t != np.float64:
        if first > -big:
            below = float(np.nextafter(t.type(first), t.type(-np.inf)))
            lo_edge = max(low, 0.5 * below + 0.5 * first)
        if last < big:
            above = float(np.nextafter(t.type(last), t.type(np.inf)))
            hi_edge = min(high, 0.5 * last + 0.5 * above)
    plan = TruncnormPlan(first, last, lo_edge, hi_edge)
    alpha, beta = (lo_edge - mean) / std, (hi_edge - mean) / std
    if alpha == math.inf or beta == -math.inf:
        # So far in one tail that (edge - mean) / std overflows: all the mass lies
        # within far less than a rounding of the nearer bound.
        plan.point = first if alpha == math.inf else last
        return plan
    # The width in std units from the edges: alpha and beta may be huge and close
    # (mean=1e30, std=1, (low, high) = (-2, 2)), where beta - alpha cancels.
    plan.width = (hi_edge - lo_edge) / std
    plan.method, plan.a, plan.b, plan.c, plan.flip = truncnorm_method(alpha, beta, plan.width)
    return plan

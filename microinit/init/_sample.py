"""Turning a Plan (distribution + parameters) into an array.

Every initializer is planned first (pure arithmetic on shape and parameters: see
_builtins.py) and drawn here. The draws come from the caller's numpy Generator only.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from microinit._kernels import sampling
from microinit.init._ortho import haar_orthogonal

__all__ = ["Plan", "draw", "truncnorm_moments"]

#: float16 uniform redraw rounds before giving up (each round keeps a fixed fraction).
MAX_REDRAW_ROUNDS = 1000


class Plan:
    """What an initializer will draw for one shape: kind + parameters + fans.

    kind is one of constant, uniform, normal, truncated_normal (absolute bounds,
    pre-truncation std), orthogonal, identity, dirac, delta_orthogonal, sparse.
    `source` names the user's parameter behind the drawn ones (``"scale=2.0"`` for a
    variance-scaling std), for the errors of _ranges.check_fits_dtype; None means the
    parameters are the user's own (normal's mean and std).
    """

    __slots__ = ("kind", "params", "fans", "source")

    kind: str
    params: dict[str, Any]
    fans: tuple[int, int] | None
    source: str | None

    def __init__(self, kind: str, fans: tuple[int, int] | None = None, **params: Any) -> None:
        self.kind = kind
        self.params = params
        self.fans = fans
        self.source = None

    def from_parameter(self, source: str) -> Plan:
        """This plan, its drawn parameters now attributed to the user's `source`
        (e.g. "gain=1e+300"); returns self."""
        self.source = source
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Plan({self.kind}, {args})"


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def truncnorm_moments(mean: float, std: float, low: float, high: float) -> tuple[float, float]:
    """Exact mean and std of N(mean, std^2) truncated to (low, high)."""
    a, b = (low - mean) / std, (high - mean) / std
    z = _Phi(b) - _Phi(a)
    if z <= 0:  # both bounds far in one tail: the truncated law is ~ the bound nearest the mean
        return mean + std * (a if a > 0 else b), 0.0
    pa, pb = _phi(a) if math.isfinite(a) else 0.0, _phi(b) if math.isfinite(b) else 0.0
    ta = a * pa if math.isfinite(a) else 0.0
    tb = b * pb if math.isfinite(b) else 0.0
    m = (pa - pb) / z
    var = 1 + (ta - tb) / z - m * m
    return mean + std * m, std * math.sqrt(max(var, 0.0))


def _flat(out: NDArray[Any]) -> NDArray[Any]:
    return out.reshape(-1)  # a view: callers pass C-contiguous float32/float64 arrays


def _fill_uniform(out: NDArray[Any], low: float, high: float, gen: np.random.Generator) -> None:
    sampling.uniform_fill(gen, _flat(out), low, high)


def _fill_normal(out: NDArray[Any], mean: float, std: float, gen: np.random.Generator) -> None:
    sampling.normal_fill(gen, _flat(out), mean, std)


def _fill_truncated_normal(out: NDArray[Any], mean: float, std: float, low: float, high: float,
                           gen: np.random.Generator, inside: DTypeLike | None = None) -> None:
    # The kernel refuses an interval holding no value of the `inside` dtype (default:
    # out's) with a ValueError naming low and high; every sample it writes is a value
    # of that dtype strictly inside (low, high), in bounded time however far in the
    # tail the interval is (docs/reliability.md row 52).
    sampling.truncnorm_fill(gen, _flat(out), mean, std, low, high, inside)


def _orthogonal_into(out: NDArray[Any], gain: float, gen: np.random.Generator) -> None:
    """out (..., n) viewed as (rows, n) := gain * a Haar (semi-)orthogonal matrix:
    orthonormal columns if tall or square, orthonormal rows if wide (see _ortho.py)."""
    cols = out.shape[-1]
    rows = out.size // cols
    if rows >= cols:
        q = haar_orthogonal(rows, cols, out.dtype, gen)
    else:
        q = haar_orthogonal(cols, rows, out.dtype, gen).T
    if gain != 1.0:
        q *= gain
    out.reshape(rows, cols)[...] = q


def draw(plan: Plan, shape: tuple[int, ...], dtype: DTypeLike, gen: np.random.Generator,
         out: NDArray[Any] | None = None) -> NDArray[Any]:
    """Sample `plan` into a new array of `shape` and `dtype`, or into `out` (a writeable
    array of that shape and dtype, e.g. a Tensor's storage), from Generator gen."""
    p = plan.params
    kind = plan.kind
    if out is None:
        out = np.empty(shape, dtype=dtype)
    # Kernels fill C-contiguous float32/float64 buffers; anything else (float16, a
    # strided view) is filled through a temporary and copied once.
    direct = out.dtype in (np.float32, np.float64) and out.flags.c_contiguous
    work = out if direct else np.empty(shape, np.float64 if out.dtype == np.float64 else np.float32)
    if kind == "constant":
        work[...] = p["value"]
    elif kind in ("identity", "dirac", "delta_orthogonal"):
        work[...] = 0
        if kind == "identity":
            k = min(shape)
            work[np.arange(k), np.arange(k)] = p["gain"]
        elif kind == "delta_orthogonal":
            # Xiao et al. 2018: zero except the kernel centre, an orthogonal (in, out).
            centre = tuple(d // 2 for d in shape[:-2])
            _orthogonal_into(work[centre], p["gain"], gen)
        else:
            groups = p["groups"]
            per_group = shape[-1] // groups
            centre = tuple(d // 2 for d in shape[:-2])
            d = np.arange(min(per_group, shape[-2]))
            for g in range(groups):
                work[centre + (d, g * per_group + d)] = p["gain"]
    elif kind == "orthogonal":
        _orthogonal_into(work, p["gain"], gen)
    elif kind == "uniform":
        _fill_uniform(work, p["low"], p["high"], gen)
    elif kind in ("normal", "sparse"):
        _fill_normal(work, p.get("mean", 0.0), p["std"], gen)
        if kind == "sparse" and p["n_zeros"]:
            sampling.zero_random_per_row(gen, work.reshape(shape[0], -1), p["n_zeros"])
    elif kind == "truncated_normal":
        # float16 is drawn in float32 clamped so that the copy below, which rounds to
        # float16, stays strictly inside (low, high).
        _fill_truncated_normal(work, p["mean"], p["std"], p["low"], p["high"], gen,
                               inside=np.float16 if out.dtype == np.float16 else None)
    else:  # pragma: no cover - plans are built only in _builtins.py
        raise AssertionError(f"unknown plan kind {kind!r}")
    if work is not out:
        out[...] = work
        if kind == "uniform" and out.dtype == np.float16:
            _redraw_rounded_out_of_bounds(out, p["low"], p["high"], gen)
    return out


def _redraw_rounded_out_of_bounds(out: NDArray[Any], low: float, high: float, gen: np.random.Generator) -> None:
    """float16 uniform is drawn in float32 and rounded once: redraw the values that
    rounded out of the float16 values kept for [low, high) (sampling.inside_bounds), so
    the bounds hold in float16 too. Some kept value has its whole rounding interval
    inside [low, high), so each round keeps a fixed fraction of the redraws; the cap
    on rounds is a guard that the argument makes unreachable."""
    bounds = sampling.inside_bounds(np.float16, low, high, closed_low=True)
    if bounds is None:
        raise ValueError(f"uniform: no float16 value lies in [low={low!r}, high={high!r})")
    # The float16 values to keep, as inside_bounds defines them (compared with values of
    # float16, so numpy's rounding of a Python float bound cannot disagree).
    first, last = np.float16(bounds[0]), np.float16(bounds[1])
    for _ in range(MAX_REDRAW_ROUNDS):
        bad = (out < first) | (out > last)
        n_bad = int(np.count_nonzero(bad))
        if not n_bad:
            return
        redraw = np.empty(n_bad, np.float32)
        sampling.uniform_fill(gen, redraw, low, high)
        out[bad] = redraw
    raise ValueError(f"uniform: float16 draws on [low={low!r}, high={high!r}) kept rounding out of it "
                     f"after {MAX_REDRAW_ROUNDS} rounds")

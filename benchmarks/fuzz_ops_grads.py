"""Fuzz case builders for gradient clipping and in-place arithmetic:
``GRAD_OPS[name](draw) -> Case``, same contract as ``benchmarks/fuzz_ops.py``.

``clip_grad`` gives one to three parameters drawn gradients (any layout and byte order)
and calls ``nn.utils.clip_grad_norm_`` (norm types 1, 2, 3, inf) or
``clip_grad_value_``; the gradients afterwards must be PyTorch's in float64.
``inplace`` applies ``t += v``, ``-=``, ``*=``, ``/=`` under ``no_grad`` (written into
``t``) or to a non-leaf (recorded: the gradient flows through it).

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> GRAD_OPS["clip_grad"](RandomDraw(0, 1)).op in ("clip_grad_norm_", "clip_grad_value_")
    True
"""
import math
import operator

import numpy as np

import microinit as mi
from microinit.nn import utils
from benchmarks.fuzz_cases import Arr, arr, broadcast_partner, chance, choice, py_scalar, shape
from benchmarks.fuzz_ops import leaf
from benchmarks.fuzz_ops_optim import Flat
from benchmarks.fuzz_properties import Case
from benchmarks.fuzz_refs import Ref, Refuse, masked, result_dtype


def _clip_grad(draw):
    by_norm = chance(draw, 60)
    name = "clip_grad_norm_" if by_norm else "clip_grad_value_"
    dt = choice(draw, ("<f4", "<f8"))
    shapes = [shape(draw) for _ in range(draw.integer(1, 3))]
    # in the parameters' dtype, either byte order, any layout (values: any regime)
    grads = [Arr(arr(draw, s).values, choice(draw, (dt, ">" + dt[1:])), choice(draw, ("C", "fortran", "negative")))
             for s in shapes]
    limit = choice(draw, (1.0, 0.5, 10.0, 0.0, -1.0, float("nan")))
    norm_type = choice(draw, (2.0, 1.0, 3.0, math.inf, "inf"))

    def run(xs, grad):
        params = [mi.Tensor(np.zeros(np.shape(g), np.dtype(dt)), requires_grad=True) for g in xs]
        for p, g in zip(params, xs):
            p.grad = g
        if by_norm:
            utils.clip_grad_norm_(params, limit, norm_type)
        else:
            utils.clip_grad_value_(params, limit)
        return Flat(np.concatenate([p.grad.reshape(-1) for p in params])), [None] * len(xs)

    def ref(vals):
        gs = [v.reshape(-1) for v in vals]
        flat = np.concatenate(gs)
        if math.isnan(limit):  # (a negative limit is PyTorch's formula applied as it stands)
            raise Refuse(f"{name}: NaN limit", (ValueError, TypeError))
        with np.errstate(all="ignore"):
            if not by_norm:
                return Ref(np.clip(flat, -limit, limit), np.abs(flat), np.dtype(dt))
            p = math.inf if norm_type == "inf" else norm_type
            per = [np.linalg.norm(g, p) if g.size else 0.0 for g in gs]
            total = float(np.linalg.norm(np.asarray(per), p)) if per else 0.0
            coef = limit / (total + 1e-6)
            out = flat * coef if (coef < 1 or math.isnan(coef)) else flat
            # the norm is rounded (float32 sums): the scaled gradient errs by eps relative
            scale = np.where(np.isfinite(out), np.abs(out) * (4 + flat.size), np.nan)
        return Ref(out, scale, np.dtype(dt))
    return Case(name, grads, run, ref, {"limit": limit, "norm_type": norm_type}, grad=False, rtol=8.0,
                names=(name, "max_norm", "clip_value", "norm_type"))


_IOPS = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv}
_FWD = {"+=": (lambda a, b: a + b, lambda a, b: 1.0), "-=": (lambda a, b: a - b, lambda a, b: 1.0),
        "*=": (lambda a, b: a * b, lambda a, b: b), "/=": (lambda a, b: a / b, lambda a, b: 1.0 / b)}


def _inplace(draw):
    sym = choice(draw, tuple(_IOPS))
    s = shape(draw)
    a = arr(draw, s, float_only=True)
    b = arr(draw, broadcast_partner(draw, s) if chance(draw, 90) else shape(draw)) if chance(draw, 60) else \
        py_scalar(draw)
    recorded = chance(draw, 50)  # else under no_grad, written into the tensor

    def run(xs, grad):
        # written in place, the tensor keeps its own storage (byte order, read-only flag):
        # the in-place target is made by the constructor, the operand keeps the drawn layout
        t = leaf(xs[0], grad) if recorded else mi.Tensor(np.array(xs[0], xs[0].dtype.newbyteorder("=")))
        o = mi.Tensor(xs[1]) if isinstance(xs[1], np.ndarray) else xs[1]
        if recorded:
            h = t * 1.0
            _IOPS[sym](h, o)
            return h, [t, None]
        with mi.no_grad():
            out = _IOPS[sym](t, o)
        if out is not t:
            raise AssertionError(f"{sym} rebound the name instead of writing into the tensor")
        return out, [None, None]

    def ref(vals):
        x, y = vals
        yv = y if isinstance(b, Arr) else np.float64(y)
        try:
            shp = np.broadcast_shapes(x.shape, np.shape(yv))
        except ValueError:
            raise Refuse(f"{sym}: shapes do not broadcast", (ValueError,)) from None
        if shp != x.shape:
            raise Refuse(f"{sym}: the result would grow the tensor", (ValueError, RuntimeError))
        fwd, d = _FWD[sym]
        with np.errstate(all="ignore"):
            out = fwd(x, yv)
            dx = d(x, yv)
        other = (result_dtype(a, b) if isinstance(b, Arr) and b.is_float else a.compute_dtype)
        # written into t: t's dtype; recorded: the out-of-place op's result dtype, cast back to t's
        dt = a.compute_dtype if not recorded or other == a.compute_dtype else None
        scale = np.abs(out) if sym in ("*=", "/=") else np.abs(x) + np.abs(yv)
        return Ref(out, scale, dt, lambda g: [masked(g, np.broadcast_to(dx, x.shape)), None])
    names = {"+=": "add", "-=": "sub", "*=": "mul", "/=": "div"}[sym]
    return Case("inplace", [a, b], run, ref, {"op": sym, "recorded": recorded}, gseed=draw.integer(0, 999),
                names=(names, "in-place", "inplace", sym))


GRAD_OPS = {"clip_grad": _clip_grad, "inplace": _inplace}

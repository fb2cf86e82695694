"""Fuzz case builders for ``einsum`` and the creation functions of issue 16:
``BUILD_OPS[name](draw) -> Case``, same contract as ``benchmarks/fuzz_ops.py``.

The einsum reference is numpy's einsum in float64; its gradient is computed without a
formula: einsum is linear in each operand, so the gradient of operand k at element i
is ``<g, einsum(..., e_i, ...)>`` with e_i the i-th unit array in operand k's place
(operands hold at most 64 elements, so this costs little).

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> BUILD_OPS["einsum"](RandomDraw(0, 1)).op
    'einsum'
"""
import numpy as np

import microinit as mi
from benchmarks.fuzz_cases import arr, chance, choice
from benchmarks.fuzz_ops import leaf
from benchmarks.fuzz_ops_optim import Flat
from benchmarks.fuzz_properties import Case
from benchmarks.fuzz_refs import Ref, Refuse, result_dtype

# (subscripts, operand letters -> sizes are drawn per letter)
SPECS = ("ij,jk->ik", "ii->i", "ii", "i,i", "ij->", "ij->ji", "i,j->ij", "bij,bjk->bik", "ij,ij->ij",
         "...ij,...jk->...ik", "ijk->kj", "ij,jk,kl->il", "ij,jk")


def _operand_shapes(draw, spec):
    ins = spec.split("->")[0].split(",")
    size = {}
    shapes = []
    batch = tuple(draw.integer(1, 2) for _ in range(draw.integer(0, 2)))
    for term in ins:
        shp = batch if term.startswith("...") else ()
        for letter in term.replace("...", ""):
            size.setdefault(letter, draw.integer(0, 3) if chance(draw, 15) else draw.integer(1, 3))
            shp = shp + (size[letter],)
        shapes.append(shp)
    if chance(draw, 5) and shapes[0]:  # a size that disagrees with the subscripts
        shapes[0] = shapes[0][:-1] + (shapes[0][-1] + 1,)
    return shapes


def _linear_grad(spec, vals, k, g):
    """The gradient of <g, einsum(spec, *vals)> with respect to operand k."""
    out = np.zeros(vals[k].shape)
    for i in np.ndindex(vals[k].shape):
        unit = np.zeros(vals[k].shape)
        unit[i] = 1.0
        ops = list(vals)
        ops[k] = unit
        out[i] = np.sum(g * np.einsum(spec, *ops))
    return out


def _einsum(draw):
    spec = choice(draw, SPECS)
    xs = [arr(draw, s, float_only=True) for s in _operand_shapes(draw, spec)]

    def run(arrays, grad):
        ts = [leaf(a, grad) for a in arrays]
        return mi.einsum(spec, *ts), ts

    def ref(vals):
        for term, v in zip(spec.split("->")[0].split(","), vals):
            if "..." not in term and len({n for c, n in zip(term, v.shape) if term.count(c) > 1}) > 1:
                # PyTorch refuses; numpy may return uninitialised memory ("ii->i" of (0, 1))
                raise Refuse("einsum: a repeated letter of unequal sizes", (ValueError,))
        try:
            with np.errstate(all="ignore"):
                y = np.einsum(spec, *vals)
                scale = np.einsum(spec, *[np.abs(v) for v in vals])
                # a partial product that lands among the subnormals keeps almost no bits: it
                # is off by up to the smallest subnormal times the factors still to come
                fi = np.finfo(result_dtype(*xs))
                scale = scale + fi.smallest_subnormal / fi.eps * np.einsum(
                    spec, *[np.maximum(np.abs(v), 1.0) for v in vals])
        except ValueError:
            raise Refuse("einsum: shapes", (ValueError,)) from None

        def vjp(g):
            with np.errstate(all="ignore"):
                return [(_linear_grad(spec, vals, k, g), _linear_grad(spec, [np.abs(v) for v in vals], k, np.abs(g)))
                        for k in range(len(vals))]
        return Ref(y, scale * 4, result_dtype(*xs), vjp)
    return Case("einsum", xs, run, ref, {"subscripts": spec}, gseed=draw.integer(0, 999), rtol=4.0)


def _creation(draw):
    kind = choice(draw, ("arange", "full", "eye", "linspace", "zeros_like", "ones_like", "full_like"))
    num = choice(draw, (0, 1, 2, 5, -1))
    start, stop = choice(draw, (0, 1, -2, 0.5, 2.5)), choice(draw, (3, 4, 0, -1.5, 7.25))
    step = choice(draw, (1, 2, -1, 0.5, 0, 0.25))
    value = choice(draw, (0, 3, 1.5, True, -2.0))
    dims = tuple(choice(draw, (0, 1, 2, 3, -1)) for _ in range(draw.integer(0, 2)))
    like = arr(draw, tuple(d for d in dims if d >= 0))

    def run(xs, grad):
        if kind == "arange":
            return Flat(mi.arange(start, stop, step).data), [None]
        if kind == "full":
            return Flat(mi.full(dims, value).data), [None]
        if kind == "eye":
            return Flat(mi.eye(num, max(num, 0) + 1 if chance_m else None).data), [None]
        if kind == "linspace":
            return Flat(mi.linspace(start, stop, num).data), [None]
        t = mi.Tensor(xs[0])
        fn = getattr(mi, kind)
        return Flat((fn(t, value) if kind == "full_like" else fn(t)).data), [None]
    chance_m = chance(draw, 40)

    def ref(vals):
        def default(v):  # PyTorch's inference: ints -> int64, bools -> bool, floats -> float32
            return np.bool_ if isinstance(v, bool) else (np.int64 if isinstance(v, int) else np.float32)
        if kind == "arange":
            if step == 0 or (stop - start) * step < 0:
                raise Refuse("arange: step", (ValueError,))
            dt = np.int64 if all(isinstance(v, int) for v in (start, stop, step)) else np.float32
            n = int(np.ceil((stop - start) / step))
            return Ref(start + step * np.arange(n), np.abs(start) + np.abs(step * np.arange(n)), dt)
        if kind == "full":
            if any(d < 0 for d in dims):
                raise Refuse("full: negative size", (ValueError,))
            return Ref(np.full(dims, float(value)), dtype=default(value), exact=True)
        if kind == "eye":
            if num < 0:
                raise Refuse("eye: negative size", (ValueError,))
            return Ref(np.eye(num, max(num, 0) + 1 if chance_m else None), dtype=np.float32, exact=True)
        if kind == "linspace":
            if num < 0:
                raise Refuse("linspace: negative num", (ValueError,))
            return Ref(np.linspace(start, stop, num), np.full(num, abs(start) + abs(stop)) * 2, np.float32)
        v = {"zeros_like": 0.0, "ones_like": 1.0}.get(kind, value)
        native = like.native_values()  # (the Tensor constructor makes float16 float32)
        native = native.astype(like.compute_dtype) if native.dtype.kind == "f" else native
        dt = native.dtype if kind != "full_like" or not isinstance(value, float) or native.dtype.kind == "f" \
            else None
        with np.errstate(invalid="ignore"):
            expected = np.full(native.shape, float(v)).astype(native.dtype).astype(np.float64)
        return Ref(expected, dtype=dt, exact=True)
    names = (kind, "size", "step", "num", "shape")
    return Case(kind, [like], run, ref, {"start": start, "stop": stop, "step": step, "num": num, "value": value,
                                         "dims": dims}, grad=False, rtol=4.0, names=names)


BUILD_OPS = {"einsum": _einsum, "creation": _creation}

"""The fuzzed public API: one case builder per op, ``OPS[name](draw) -> Case``.

Builders draw inputs with ``benchmarks/fuzz_cases.py`` and pair the call of the public
op (Tensor operators and methods, ``microinit.tensor`` functions, ``microinit.functional``)
with its float64 reference (``benchmarks/fuzz_refs.py``). Layers, losses and the
functional forms are in ``benchmarks/fuzz_ops_nn.py``; :data:`OPS` holds all of them.

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> case = build_case(RandomDraw(0, 0), "exp")
    >>> case.op
    'exp'
"""
import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

import importlib
import operator

import microinit as mi
from benchmarks.fuzz_cases import Arr, arr, broadcast_partner, chance, choice, py_scalar, shape
from benchmarks.fuzz_properties import Case
from benchmarks.fuzz_refs import (
    ACTIVATIONS, Ref, Refuse, act_grad_scale, masked, matmul_ref, matmul_vjp, result_dtype, softmax_ref, unbroadcast,
)

# the module microinit.tensor (the package attribute of that name is the constructor)
tensor_ops = importlib.import_module("microinit.tensor")


def leaf(a, grad):
    """A Tensor holding ``a``: float32/float64 data is assigned as it is (any layout or
    byte order: ops must read it through the boundary), other dtypes go through the
    constructor (float16 -> float32, int/bool stay labels)."""
    if a.dtype.kind == "f" and a.dtype.itemsize in (4, 8):
        t = mi.Tensor(np.array(a, a.dtype.newbyteorder("="), order="C"), requires_grad=grad)
        t.data = a
        return t
    return mi.Tensor(a, requires_grad=grad and a.dtype.kind == "f")


def _leaves(xs, grad, which=None):
    return [leaf(x, grad) if (which is None or i in which) and isinstance(x, np.ndarray) else None
            for i, x in enumerate(xs)]


def _broadcast_or_refuse(*shapes, op):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise Refuse(f"{op}: shapes {shapes} do not broadcast", (ValueError,)) from None


# ------------------------------------------------------------------ elementwise binary
_BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "sub": (lambda a, b: a - b, lambda a, b: (1.0, -1.0)),
    "mul": (lambda a, b: a * b, lambda a, b: (b, a)),
    "div": (lambda a, b: a / b, lambda a, b: (1.0 / b, -(a / b) / b)),
}


_OPERATOR = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def binary(op):
    """Tensor (op) Tensor/array/scalar/list, and the reflected forms (scalar (op) Tensor)."""
    fwd, deriv = _BINARY[op]

    def build(draw):
        sa = shape(draw)
        a = arr(draw, sa)
        kind = choice(draw, ("tensor", "tensor", "array", "scalar", "list", "bad"))
        b = (py_scalar(draw) if kind == "scalar" else arr(draw, broadcast_partner(draw, sa) if chance(draw, 85)
                                                          else shape(draw)))
        if kind == "bad":
            b = choice(draw, (None, "ab", np.ones(2, np.complex64), {}))
        reflected = kind in ("scalar", "array") and chance(draw, 40)

        def run(xs, grad):
            ta = leaf(xs[0], grad)
            other = xs[1]
            tb = leaf(other, grad) if kind == "tensor" else None
            if kind == "list":
                other = other.tolist()
            o = tb if tb is not None else other
            fn = _OPERATOR[op]
            return (fn(o, ta) if reflected else fn(ta, o)), [ta, tb]

        def ref(vals):
            x, y = vals
            if kind == "bad":
                raise Refuse(f"{op}: unsupported operand", (TypeError,))
            if kind == "list":  # a list of an empty array loses its shape: (0, 2) -> []
                y = np.asarray(y.tolist(), np.float64)
                if y.ndim == 0:  # a 0-d array's tolist() is a Python number: it takes the tensor's dtype
                    with np.errstate(over="ignore"):
                        y = y.astype(a.compute_dtype).astype(np.float64)
            ys = np.shape(y)
            _broadcast_or_refuse(x.shape, ys, op=op)
            p, q = (y, x) if reflected else (x, y)
            p, q = (np.float64(v) if not isinstance(v, np.ndarray) else v for v in (p, q))
            with np.errstate(all="ignore"):
                out = fwd(p, q)
                dp, dq = deriv(p, q)
            dt = None if kind == "list" else (result_dtype(a, b) if isinstance(b, Arr) else a.compute_dtype)
            # add/sub round relative to the operands (cancellation), mul/div to the result
            scale = np.abs(out) if op in ("mul", "div") else np.abs(p) + np.abs(q)

            def vjp(g):
                # (grad, scale): a broadcast input's gradient is a sum, rounded relative to |terms|
                gp, gq = ((unbroadcast(masked(g, dv), np.shape(v)), unbroadcast(np.abs(masked(g, dv)), np.shape(v)))
                          for dv, v in ((dp, p), (dq, q)))
                gx, gy = (gq, gp) if reflected else (gp, gq)
                return [gx, gy if kind == "tensor" else None]
            return Ref(out, scale, dt, vjp)
        names = {"div": ("div",), "sub": ("sub", "add", "neg")}.get(op, (op,))
        return Case(op, [a, b], run, ref, {"kind": kind, "reflected": reflected}, gseed=draw.integer(0, 999),
                    names=names)
    return build


# ------------------------------------------------------------------ elementwise unary
def unary_math(name, fn, d, dscale=None):
    """The case builder of the elementwise Tensor method ``name``: y = fn(x), dy/dx = d(x);
    ``dscale(x, dy)``: the derivative's error scale when it is not |dy|."""
    def build(draw):
        a = arr(draw, shape(draw))

        def run(xs, grad):
            t = leaf(xs[0], grad)
            return (-t if name == "neg" else getattr(t, name)()), [t]

        def ref(vals):
            x = vals[0]
            with np.errstate(all="ignore"):
                y, dy = fn(x), d(x)
                ds = np.abs(dy) if dscale is None else dscale(x, dy)
            return Ref(y, None, a.compute_dtype, lambda g: [(masked(g, dy), np.abs(g) * ds)])
        return Case(name, [a], run, ref, gseed=draw.integer(0, 999))
    return build


def _pow(draw):
    a = arr(draw, shape(draw))
    p = choice(draw, (0, 1, 2, 3, -1, -2, 0.5, -0.5, 2.5, 1e-3, 0.0, "2", None))

    def run(xs, grad):
        t = leaf(xs[0], grad)
        return t ** p, [t]

    def ref(vals):
        x = vals[0]
        if not isinstance(p, (int, float)):
            raise Refuse("pow: exponent not a number", (TypeError,))
        if a.dtype.kind in "iu" and isinstance(p, int) and p < 0:
            raise Refuse("pow: integer tensor to a negative integer power", (ValueError, TypeError))
        if a.dtype.kind in "iu" and isinstance(p, int):  # int ** int stays int (PyTorch), wrapping as it does
            native = a.native_values()
            return Ref(native ** np.asarray(p, native.dtype), dtype=native.dtype, exact=True)
        with np.errstate(all="ignore"):
            y = x ** p
            dy = np.zeros_like(x) if p == 0 else p * x ** (p - 1)
            # x ** (p - 1) beyond the compute dtype's range overflows before p scales it
            # (PyTorch computes it the same way): left open
            ds = np.where(np.abs(x ** (p - 1)) > np.finfo(a.compute_dtype).max, np.nan, np.abs(dy))
        return Ref(y, None, a.compute_dtype, lambda g: [(masked(g, dy), np.abs(g) * ds)])
    return Case("pow", [a], run, ref, {"p": p}, gseed=draw.integer(0, 999))


def _rpow(draw):
    a = arr(draw, shape(draw))
    c = choice(draw, (2.0, 0.5, 0.0, 1.0, 10.0, -2.0, 3))

    def run(xs, grad):
        t = leaf(xs[0], grad)
        return c ** t, [t]

    def ref(vals):
        x = vals[0]
        with np.errstate(all="ignore"):
            y = np.power(float(c), x)
            if c > 0:
                dy = y * np.log(c)
            elif c == 0:  # PyTorch: 0 for x >= 0, -inf for x < 0 (d/dx 0**x)
                dy = np.where(x >= 0, 0.0, np.where(x < 0, -np.inf, np.nan))
            else:
                dy = np.full_like(x, np.nan)
        return Ref(y, None, a.compute_dtype, lambda g: [masked(g, dy)])
    return Case("rpow", [a], run, ref, {"c": c}, gseed=draw.integer(0, 999), names=("pow",))


def _clip(draw):
    a = arr(draw, shape(draw))
    lo = choice(draw, (None, -1.0, 0.0, 0.5, -np.inf, 2))
    hi = choice(draw, (None, 1.0, 0.0, 3.0, np.inf, -2))

    def run(xs, grad):
        t = leaf(xs[0], grad)
        return t.clip(lo, hi), [t]

    def ref(vals):
        x = vals[0]
        if lo is None and hi is None:
            raise Refuse("clip: neither bound given", (ValueError, TypeError))
        y = np.clip(x, lo, hi)
        inside = np.ones_like(x)
        if lo is not None:
            inside[x < lo] = 0
        if hi is not None:
            inside[x > hi] = 0
        return Ref(y, None, a.compute_dtype, lambda g: [g * inside])
    return Case("clip", [a], run, ref, {"lo": lo, "hi": hi}, gseed=draw.integer(0, 999), names=("clip", "clamp"))


def _where(draw):
    s = shape(draw)
    cond = Arr(np.random.default_rng(draw.integer(0, 999)).integers(0, 2, broadcast_partner(draw, s)),
               choice(draw, ("|b1", "|b1", "<i4", "<f4")), choice(draw, ("C", "fortran", "negative")))
    ints = chance(draw, 25)  # integer/bool operands keep their dtype (PyTorch's rule)
    a = arr(draw, s, float_only=not ints) if chance(draw, 80) else py_scalar(draw)
    b = arr(draw, broadcast_partner(draw, s), float_only=not ints) if chance(draw, 70) else py_scalar(draw)

    def run(xs, grad):
        ta = leaf(xs[1], grad) if isinstance(xs[1], np.ndarray) else xs[1]
        tb = leaf(xs[2], grad) if isinstance(xs[2], np.ndarray) else xs[2]
        out = mi.where(mi.Tensor(xs[0]) if chance_tensor else xs[0], ta, tb)
        return out, [None, ta if isinstance(ta, mi.Tensor) else None, tb if isinstance(tb, mi.Tensor) else None]
    chance_tensor = chance(draw, 50)

    def ref(vals):
        c, x, y = vals
        c = cond.native_values().astype(bool)
        out_shape = _broadcast_or_refuse(c.shape, np.shape(x), np.shape(y), op="where")
        arrs = [v for v in (a, b) if isinstance(v, Arr)]
        floats = [v for v in arrs if v.is_float]
        if floats:
            dt = result_dtype(*floats)
        elif arrs and not any(isinstance(v, float) for v in (a, b)):  # ints/bools (Python ints are weak)
            dt = np.result_type(*[v.dtype.newbyteorder("=") for v in arrs])
            if dt == np.bool_ and any(isinstance(v, int) and not isinstance(v, bool) for v in (a, b)):
                dt = np.dtype(np.int64)  # a Python int lifts bool to int64
        else:  # an int array with a Python float: float32; Python scalars only: left open
            dt = np.float32 if arrs else None
        if dt is not None and np.dtype(dt).kind in "iub":  # a Python int wraps into the dtype, as in PyTorch
            x, y = (v.native_values() if isinstance(v, Arr) else np.asarray(v).astype(dt) for v in (a, b))
        out = np.where(c, x, y).astype(np.float64)

        def vjp(g):
            ga = unbroadcast(np.where(c, g, 0.0), np.shape(x)) if isinstance(a, Arr) else None
            gb = unbroadcast(np.where(c, 0.0, g), np.shape(y)) if isinstance(b, Arr) else None
            return [None, ga, gb]
        del out_shape
        return Ref(out, None, dt, vjp)
    return Case("where", [cond, a, b], run, ref, {"cond_tensor": chance_tensor}, gseed=draw.integer(0, 999))


def _compare(draw):
    s = shape(draw)
    a = arr(draw, s)
    b = arr(draw, broadcast_partner(draw, s)) if chance(draw, 70) else py_scalar(draw)
    name = choice(draw, ("lt", "le", "gt", "ge"))
    fn = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}[name]

    def run(xs, grad):
        t = leaf(xs[0], False)
        o = xs[1]
        return getattr(operator, name)(t, o), [None, None]  # (only this one comparison runs)

    def ref(vals):
        # compared by value (in float64: numpy would cast the scalar 1e30 to float16's inf)
        x = a.computed()
        # a Python scalar takes the tensor's dtype (numpy's and PyTorch's rule: t32 > 1e30
        # compares with float32(1e30))
        y = b.computed() if isinstance(b, Arr) else np.asarray(b, a.compute_dtype).astype(np.float64)
        _broadcast_or_refuse(x.shape, np.shape(y), op=name)
        return Ref(fn(x, y), dtype=np.bool_, exact=True)
    return Case(name, [a, b], run, ref, grad=False, names=(name, fn.__name__))


# ------------------------------------------------------------------ reductions
def _axis(draw, ndim):
    k = draw.integer(0, 4)
    if k == 0 or ndim == 0:
        return None
    if k == 4:
        return tuple(sorted({draw.integer(0, ndim - 1) for _ in range(2)}))
    return draw.integer(-ndim - (1 if chance(draw, 5) else 0), ndim - 1)


def _reduce(name):
    def build(draw):
        a = arr(draw, shape(draw))
        axis, keep = _axis(draw, len(a.values.shape)), chance(draw, 30)

        def run(xs, grad):
            t = leaf(xs[0], grad)
            return getattr(t, name)(axis=axis, keepdims=keep), [t]

        def ref(vals):
            x = vals[0]
            try:
                ax = None if axis is None else tuple(normalize_axis_tuple(axis, x.ndim))
            except np.exceptions.AxisError:
                raise Refuse(f"{name}: axis {axis} out of range", (ValueError, IndexError)) from None
            n = x.size if ax is None else int(np.prod([x.shape[i] for i in ax]))
            with np.errstate(all="ignore"):
                if name in ("max", "min"):
                    if (x.size == 0) if ax is None else any(x.shape[i] == 0 for i in ax):
                        raise Refuse(f"{name}: empty", (ValueError,))
                    fn = np.max if name == "max" else np.min
                    mk = fn(x, axis=ax, keepdims=True)
                    out = fn(x, axis=ax, keepdims=keep)
                    scale = np.abs(out)
                else:
                    s = x.sum(axis=ax, keepdims=keep)
                    scale = np.abs(x).sum(axis=ax, keepdims=keep) * (1 + (x.size ** 0.5))
                    out = s if name == "sum" else (s / n if n else np.full(s.shape, np.nan))
                    scale = scale if name == "sum" else (scale / n if n else np.zeros(s.shape))

            def vjp(g):
                gk = g if keep or ax is None else np.expand_dims(g, ax)
                if name == "sum":
                    return [np.broadcast_to(gk, x.shape) + 0.0]
                if name == "mean":
                    return [np.broadcast_to(gk * (1.0 / n if n else 0.0), x.shape) + 0.0]
                mask = x == mk
                with np.errstate(all="ignore"):
                    cnt = mask.sum(axis=ax, keepdims=True)
                    return [mask * (gk / cnt)]
            # max/min keep an integer or bool input's dtype (PyTorch's rule)
            dt = a.dtype.newbyteorder("=") if name in ("max", "min") and a.dtype.kind in "iub" else a.compute_dtype
            return Ref(out, scale, dt, vjp)
        return Case(name, [a], run, ref, {"axis": axis, "keepdims": keep}, gseed=draw.integer(0, 999),
                    names=(name,))
    return build


# ------------------------------------------------------------------ shape ops
def _reshape(draw):
    a = arr(draw, shape(draw))
    s = a.values.shape
    n = int(np.prod(s))
    target = choice(draw, ((n,), (-1,), s[::-1], (1,) + s, (n + 1,), (-1, 1), ()))

    def run(xs, grad):
        t = leaf(xs[0], grad)
        return t.reshape(*target) if chance_star else t.reshape(target), [t]
    chance_star = chance(draw, 50)

    def ref(vals):
        x = vals[0]
        try:
            y = x.reshape(target)
        except ValueError:
            raise Refuse("reshape: size", (ValueError,)) from None
        return Ref(y, dtype=a.compute_dtype if a.is_float else None, vjp=lambda g: [g.reshape(s)], exact=True)
    return Case("reshape", [a], run, ref, {"shape": target}, gseed=draw.integer(0, 999))


def _transpose(draw):
    a = arr(draw, shape(draw))
    nd = a.values.ndim
    perm = tuple(np.random.default_rng(draw.integer(0, 99)).permutation(nd).tolist())
    form = choice(draw, ("T", "perm", "star", "bad"))

    def run(xs, grad):
        t = leaf(xs[0], grad)
        if form == "T":
            return t.T, [t]
        if form == "bad":
            return t.transpose((0,) * (nd + 1)), [t]
        return (t.transpose(perm) if form == "perm" else t.transpose(*perm)), [t]

    def ref(vals):
        x = vals[0]
        if form == "bad":
            raise Refuse("transpose: bad axes", (ValueError,))
        p = tuple(range(nd))[::-1] if form == "T" else perm
        inv = tuple(np.argsort(p))
        return Ref(x.transpose(p) if p else x, vjp=lambda g: [g.transpose(inv) if p else g], exact=True)
    return Case("transpose", [a], run, ref, {"perm": perm, "form": form}, gseed=draw.integer(0, 999),
                names=("transpose",))


def _index(draw, s):
    parts = []
    for d in s:
        k = draw.integer(0, 5)
        if k <= 1:
            parts.append(slice(None))
        elif k == 2:
            parts.append(slice(draw.integer(-3, 3), draw.integer(-3, 4), choice(draw, (1, 2, -1, -2, None))))
        elif k == 3:
            parts.append(draw.integer(-d - 1, d) if d else slice(None))
        elif k == 4:
            parts.append(np.random.default_rng(draw.integer(0, 99)).integers(-d, d, 2) if d else slice(None))
        else:
            parts.append(slice(None, None, -1))
    if len([p for p in parts if isinstance(p, np.ndarray)]) > 1:
        parts = [slice(None) if isinstance(p, np.ndarray) else p for p in parts]
    return tuple(parts) if len(parts) != 1 or chance(draw, 50) else parts[0]


def _getitem(draw):
    a = arr(draw, shape(draw, 1))
    idx = _index(draw, a.values.shape)

    def run(xs, grad):
        t = leaf(xs[0], grad)
        return t[idx], [t]

    parts = idx if isinstance(idx, tuple) else (idx,)
    # PyTorch's rule: integers index first (as basic indices), so an array index's
    # dimensions stay in place even when an integer and a slice stand between (numpy
    # would move them to the front)
    first = tuple(p if isinstance(p, int) else slice(None) for p in parts) + (Ellipsis,)  # (views, 0-d too)
    rest = tuple(p for p in parts if not isinstance(p, int))

    def ref(vals):
        x = vals[0]
        try:
            y = x[first][rest]
        except IndexError:
            raise Refuse("index out of range", (IndexError,)) from None

        def vjp(g):
            full = np.zeros(x.shape)
            np.add.at(full[first], rest, g)  # (full[first] is a view: basic indices only)
            return [full]
        return Ref(y, vjp=vjp, exact=True)
    return Case("getitem", [a], run, ref, {"idx": idx}, gseed=draw.integer(0, 999), names=("index",))


def _join(name):
    def build(draw):
        s = shape(draw, 1)
        k = draw.integer(1, 3)
        axis = draw.integer(-len(s) - (name == "stack"), len(s) - (name == "concatenate"))
        xs = []
        for _ in range(k):
            si = list(s)
            if name == "concatenate" and chance(draw, 50):
                si[axis] = draw.integer(0, 3)
            if chance(draw, 5):
                si = list(shape(draw, 1))
            xs.append(arr(draw, tuple(si), float_only=True))

        def run(arrays, grad):
            ts = [leaf(x, grad) for x in arrays]
            return getattr(mi, name)(ts, axis=axis), ts

        def ref(vals):
            try:
                y = getattr(np, name)(vals, axis=axis)
            except ValueError:
                raise Refuse(f"{name}: shapes", (ValueError,)) from None

            def vjp(g):
                if name == "stack":
                    return [np.take(g, i, axis=axis) for i in range(k)]
                cuts = np.cumsum([v.shape[axis] for v in vals])[:-1]
                return np.split(g, cuts, axis=axis)
            return Ref(y, dtype=result_dtype(*xs), vjp=vjp, exact=True)
        return Case(name, xs, run, ref, {"axis": axis}, gseed=draw.integer(0, 999))
    return build


# ------------------------------------------------------------------ activations, softmax, matmul
def activation(name, refs=ACTIVATIONS):
    """The case builder of the Tensor activation method ``name`` (reference in ``refs``)."""
    fwd = refs[name]

    def build(draw):
        a = arr(draw, shape(draw))
        p = {"leaky_relu": choice(draw, (0.01, 0.2, 0.0, -0.5)), "elu": choice(draw, (1.0, 0.5, 2.0))}.get(name)

        def run(xs, grad):
            t = leaf(xs[0], grad)
            return (getattr(t, name)(p) if p is not None else getattr(t, name)()), [t]

        def ref(vals):
            y, d, scale, dscale = fwd(vals[0], p)
            return Ref(y, scale, a.compute_dtype, lambda g: [(masked(g, d), act_grad_scale(g, dscale))])
        return Case(name, [a], run, ref, {"param": p}, gseed=draw.integer(0, 999), rtol=8.0)
    return build


def _softmax(log):
    name = "log_softmax" if log else "softmax"

    def build(draw):
        a = arr(draw, shape(draw))
        nd = a.values.ndim
        axis = -1 if chance(draw, 60) else draw.integer(-max(nd, 1) - 1, max(nd, 1))

        def run(xs, grad):
            t = leaf(xs[0], grad)
            return getattr(t, name)(axis=axis), [t]

        def ref(vals):
            x = vals[0]
            x1 = x.reshape(1) if nd == 0 else x
            if not -x1.ndim <= axis < x1.ndim:
                raise Refuse(f"{name}: axis", (ValueError, IndexError))
            y, scale, vjp = softmax_ref(x1, axis, log)

            def grads(g):
                gx, s = vjp(g.reshape(x1.shape))
                return [(gx.reshape(x.shape), s.reshape(x.shape))]
            return Ref(y.reshape(x.shape), scale.reshape(x.shape), a.compute_dtype, grads)
        return Case(name, [a], run, ref, {"axis": axis}, gseed=draw.integer(0, 999), rtol=8.0)
    return build


def _matmul_shapes(draw):
    """Operand shapes for @: 1-D vectors, matrices and batched stacks (numpy's matmul
    rules, batch dims broadcast), with a wrong inner size now and then."""
    n, k, m = draw.integer(0, 4), draw.integer(0, 4), draw.integer(0, 4)
    sa, sb = (n, k), (k if chance(draw, 90) else k + 1, m)
    if chance(draw, 30):
        batch = broadcast_partner(draw, shape(draw, 1, 2))
        sa, sb = batch + sa, (broadcast_partner(draw, batch) if chance(draw, 70) else ()) + sb
    if chance(draw, 15):
        sa = sa[-1:]
    if chance(draw, 15):
        sb = sb[-2:-1]
    if chance(draw, 3):
        sa = ()
    return sa, sb


def _matmul(draw):
    sa, sb = _matmul_shapes(draw)
    a, b = arr(draw, sa), arr(draw, sb)
    form = choice(draw, ("op", "fn", "rmatmul"))

    def run(xs, grad):
        ta, tb = leaf(xs[0], grad), leaf(xs[1], grad)
        if form == "rmatmul":
            return xs[0] @ tb, [None, tb]
        return (ta @ tb if form == "op" else tensor_ops.matmul(ta, tb)), [ta, tb]

    def ref(vals):
        x, y = vals
        if x.ndim == 0 or y.ndim == 0:
            raise Refuse("matmul: a 0-d operand", (ValueError,))
        try:
            out, scale = matmul_ref(x, y)
        except ValueError:
            raise Refuse("matmul: shapes", (ValueError,)) from None
        return Ref(out, scale * 4, result_dtype(a, b), lambda g: matmul_vjp(x, y, g, form == "rmatmul"))
    return Case("matmul", [a, b], run, ref, {"form": form}, gseed=draw.integer(0, 999), rtol=4.0)


OPS = {name: binary(name) for name in _BINARY}
OPS.update({
    "neg": unary_math("neg", lambda x: -x, lambda x: -np.ones_like(x)),
    "exp": unary_math("exp", np.exp, np.exp),
    "log": unary_math("log", np.log, lambda x: 1.0 / x),
    "sqrt": unary_math("sqrt", np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "abs": unary_math("abs", np.abs, np.sign),
    "pow": _pow, "rpow": _rpow, "clip": _clip, "where": _where, "compare": _compare,
    "sum": _reduce("sum"), "mean": _reduce("mean"), "max": _reduce("max"), "min": _reduce("min"),
    "reshape": _reshape, "transpose": _transpose, "getitem": _getitem,
    "concatenate": _join("concatenate"), "stack": _join("stack"),
    "softmax": _softmax(False), "log_softmax": _softmax(True), "matmul": _matmul,
})
OPS.update({name: activation(name) for name in ACTIVATIONS if name != "identity"})


def build_case(draw, op):
    """The case of op ``op`` drawn with ``draw`` (see ``benchmarks/fuzz_cases.py``)."""
    return all_ops()[op](draw)


def all_ops():
    """Every fuzzed op: Tensor ops, layers/losses/functional ones, optimizers."""
    from benchmarks.fuzz_ops_nn import NN_OPS
    from benchmarks.fuzz_ops_build import BUILD_OPS
    from benchmarks.fuzz_ops_grads import GRAD_OPS
    from benchmarks.fuzz_ops_index import INDEX_OPS
    from benchmarks.fuzz_ops_layers import LAYER_OPS
    from benchmarks.fuzz_ops_losses import LOSS_OPS
    from benchmarks.fuzz_ops_more import MORE_OPS
    from benchmarks.fuzz_ops_optim import OPTIM_OPS

    return {**OPS, **MORE_OPS, **INDEX_OPS, **LAYER_OPS, **GRAD_OPS, **LOSS_OPS, **BUILD_OPS, **NN_OPS, **OPTIM_OPS}

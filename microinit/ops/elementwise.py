"""Elementwise arithmetic and math: each op's forward and backward side by side.

Broadcasting follows numpy; each input's gradient is summed back to its own shape
(:func:`unbroadcast`). Python numbers never promote (``float32 * 2.5`` stays float32).
Integer/bool operands give PyTorch's integer/bool dtype (``ops/promotion.py``;
docs/ops.md lists the rules), never requiring grad.
A zero upstream gradient times an inf/NaN local derivative gives 0, not NaN
(:func:`mul_masked`), so NaN never leaks from an inactive ``where`` branch
(docs/reliability.md row 19); a NaN in an active path still propagates.

    op        forward           backward (g = upstream gradient)
    add       a + b             g, g
    sub       a - b             g, -g
    mul       a * b             g b, g a
    div       a / b             g / b, -g a / b^2
    pow       x ** p            g p x^(p-1)
    exp       e^x               g e^x
    log       ln x              g / x
    sqrt      sqrt x            g / (2 sqrt x)
    abs       |x|               g sign(x)      (0 at x = 0)
    clip      clamp(x, lo, hi)  g [lo <= x <= hi]
    where     c ? a : b         g [c], g [not c]
    maximum   max(a, b)         g [a > b], g [a < b]   (a tie gives each g / 2, as PyTorch)
    minimum   min(a, b)         g [a < b], g [a > b]   (likewise)

    >>> import microinit as mi
    >>> x = mi.tensor([1.0, 4.0], requires_grad=True)
    >>> (x.sqrt() * 2).sum().backward()
    >>> x.grad                       # d(2 sqrt x)/dx = 1/sqrt(x)
    array([1. , 0.5], dtype=float32)
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.autograd.graph import needs_grad, record, tensor_class, wrap
from microinit.ops._boundary import DEFAULT_DTYPE, as_tensor, fdata, native, operand
from microinit.ops.promotion import integral_data, integral_dtype, is_bool, is_integral, weak, as_result_dtype

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

# what a two-input op's backward returns: one gradient per input (None: not needed)
GradPair = tuple["NDArray[Any] | None", "NDArray[Any] | None"]

__all__ = ["add", "sub", "rsub", "mul", "div", "rdiv", "neg", "power", "rpower", "exp", "log",
           "sqrt", "absolute", "clip", "where", "compare", "unbroadcast", "mul_masked", "maximum", "minimum",
           "equal", "not_equal", "is_integral", "unary"]


def unbroadcast(g: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    """Sum ``g`` down to ``shape`` (the inverse of numpy broadcasting).

    >>> unbroadcast(np.ones((2, 3)), (3,)).tolist()
    [2.0, 2.0, 2.0]
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple([i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1])
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def mul_masked(g: NDArray[Any], d: NDArray[Any] | float) -> NDArray[Any]:
    """g * d, except 0 where g == 0 (a zero upstream grad kills an inf/NaN factor).

    >>> mul_masked(np.array([0.0, 1.0]), np.array([np.inf, 2.0])).tolist()
    [0.0, 2.0]
    """
    if (type(d) is float and math.isfinite(d) or type(d) is int) and (
            np.asarray(g).dtype.kind != "f" or abs(d) <= np.finfo(np.asarray(g).dtype).max):
        return g * d  # a finite constant factor cannot make NaN from a zero (unless g's dtype rounds it to inf)
    with np.errstate(invalid="ignore", over="ignore"):
        r = g * d
    if r.dtype.kind == "f" and np.isnan(r).any():
        r = np.where(g == 0, 0, r).astype(r.dtype, copy=False)
    return r


def _shape(b: object) -> tuple[int, ...]:
    return tuple(getattr(b, "shape", ()))


def _no_broadcast(op: str, *operands: object) -> ValueError:
    """The ValueError for operands whose shapes do not broadcast (numpy's names no op)."""
    shapes = " and ".join(str(tuple(_shape(x))) for x in operands)
    return ValueError(f"{op}: shapes {shapes} do not broadcast together")


def add(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """a + b; d/da = d/db = 1, summed back to each shape. Integer/bool operands give an
    integer/bool result (PyTorch's promotion, ``ops/promotion.py``).

    >>> import microinit as mi
    >>> (mi.tensor([1, 2]) + 3).tolist(), (mi.tensor([True, False]) + mi.tensor([True, True])).tolist()
    ([4, 5], [True, True])
    """
    a = fdata(t, "add")
    if a is not t.data and is_integral(t) and is_integral(other):  # (only then fdata made a copy)
        return _integral_binary(t, other, np.add, "add")
    b, ot = operand(other, "add")
    if ot is None and type(b) is np.float64:  # counts as a Python float (promotion.weak)
        b = float(b)
    try:
        out = a + b
    except ValueError:
        raise _no_broadcast("add", a, b) from None
    if needs_grad(t, ot):
        sa, sb = a.shape, _shape(b)

        def backward(g: NDArray[Any]) -> GradPair:
            return unbroadcast(g, sa), unbroadcast(g, sb)
        return record(out, "AddBackward", (t, ot), backward)
    return wrap(out)


def sub(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """a - b; d/da = 1, d/db = -1. Integers stay integral; a bool operand is refused
    (TypeError), as in PyTorch."""
    a = fdata(t, "sub")
    if a is not t.data and is_integral(t) and is_integral(other):  # (only then fdata made a copy)
        return _integral_binary(t, other, np.subtract, "sub")
    b, ot = operand(other, "sub")
    if ot is None and type(b) is np.float64:  # counts as a Python float (promotion.weak)
        b = float(b)
    try:
        out = a - b
    except ValueError:
        raise _no_broadcast("sub", a, b) from None
    if needs_grad(t, ot):
        sa, sb = a.shape, _shape(b)

        def backward(g: NDArray[Any]) -> GradPair:
            return unbroadcast(g, sa), (unbroadcast(-g, sb) if ot is not None else None)
        return record(out, "SubBackward", (t, ot), backward)
    return wrap(out)


def rsub(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """other - t for a non-Tensor ``other``."""
    if t.data.dtype.kind in "iub":
        if is_integral(other):
            return _integral_binary(t, other, lambda a, b: np.subtract(b, a), "sub")
        t = wrap(fdata(t, "sub"))  # a float other: negate in float (-uint8 would wrap around)
    return add(neg(t), other)


def mul(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """a * b; d/da = b, d/db = a. Integers stay integral (bool * bool is logical and)."""
    a = fdata(t, "mul")
    if a is not t.data and is_integral(t) and is_integral(other):  # (only then fdata made a copy)
        return _integral_binary(t, other, np.multiply, "mul")
    b, ot = operand(other, "mul")
    if ot is None and type(b) is np.float64:  # counts as a Python float (promotion.weak)
        b = float(b)
    try:
        out = a * b
    except ValueError:
        raise _no_broadcast("mul", a, b) from None
    if needs_grad(t, ot):
        sa, sb = a.shape, _shape(b)
        need_a, need_b = t.requires_grad, ot is not None and ot.requires_grad

        def backward(g: NDArray[Any]) -> GradPair:
            # masked: a zero upstream grad times an inf factor is 0, not NaN
            # (x * x.log() inside an inactive where-branch at x = 0)
            return (unbroadcast(mul_masked(g, b), sa) if need_a else None,
                    unbroadcast(mul_masked(g, a), sb) if need_b else None)
        saved = (t, ot) if ot is not None else (t,)
        return record(out, "MulBackward", (t, ot), backward, saved)
    return wrap(out)


def div(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """a / b (IEEE: x/0 = ±inf); d/da = 1/b, d/db = -a/b^2."""
    a = fdata(t, "div")
    b, ot = operand(other, "div")
    if ot is None and type(b) is np.float64:  # counts as a Python float (promotion.weak)
        b = float(b)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a / b
    except ValueError:
        raise _no_broadcast("div", a, b) from None
    if needs_grad(t, ot):
        sa, sb = a.shape, _shape(b)
        need_a, need_b = t.requires_grad, ot is not None and ot.requires_grad

        def backward(g: NDArray[Any]) -> GradPair:
            # in the result's dtype (a float32 divisor of a float64 numerator is promoted
            # first, as in the forward), and IEEE for a Python 0: 1/0 = inf, not an error
            bb = np.asarray(b, dtype=out.dtype)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                ga = unbroadcast(mul_masked(g, 1.0 / bb), sa) if need_a else None
                gb = unbroadcast(mul_masked(g, -(a / bb) / bb), sb) if need_b else None
            return ga, gb
        saved = (t, ot) if ot is not None else (t,)
        return record(out, "DivBackward", (t, ot), backward, saved)
    return wrap(out)


def rdiv(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """c / t for a non-Tensor ``c``; d/dt = -c / t^2."""
    c, _ = operand(other, "div")
    if type(c) is np.float64:  # counts as a Python float (promotion.weak)
        c = float(c)
    a = fdata(t, "div")
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = c / a
    except ValueError:
        raise _no_broadcast("div", c, a) from None
    if needs_grad(t):
        sa = a.shape

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any]]:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return (unbroadcast(mul_masked(g, -out / a), sa),)
        return record(out, "DivBackward", (t,), backward, (t,), saves_out=True)
    return wrap(out)


def neg(t: Tensor) -> Tensor:
    """-x; d/dx = -1. An integer tensor stays integer; a bool one is refused, as in PyTorch."""
    a = fdata(t, "neg")
    if a is not t.data and t.data.dtype.kind in "iub":  # (only then fdata made a copy)
        _no_bool(t, "neg", "for a logical not use t == False")
        return wrap(-native(t.data))
    out = -a
    if needs_grad(t):
        return record(out, "NegBackward", (t,), lambda g: (-g,))
    return wrap(out)


def power(t: Tensor, p: float) -> Tensor:
    """x ** p for a Python number p; d/dx = p x^(p-1), and exactly 0 when p == 0
    (PyTorch's convention: ``x ** 0`` is the constant 1, even at x = 0).

    An integer tensor to a non-negative integer power stays integer (and records
    nothing: integer tensors never require grad); to a negative integer power it is
    refused, as in numpy and PyTorch.

    >>> import microinit as mi
    >>> x = mi.tensor([0.0, 2.0], requires_grad=True)
    >>> (x ** 0).sum().backward(); x.grad
    array([0., 0.], dtype=float32)
    >>> (mi.tensor([1, 2, 3]) ** 2).tolist(), (mi.tensor([True, False]) ** 2).dtype
    ([1, 4, 9], dtype('int64'))
    """
    if isinstance(p, tensor_class()) or not isinstance(p, numbers.Real):
        raise TypeError(f"pow: the exponent must be a Python number, got {type(p).__name__}")
    if isinstance(p, np.generic):  # a numpy scalar counts as the Python number (promotion.weak)
        p = weak(p)
    if t.data.dtype.kind in "iub" and isinstance(p, numbers.Integral):  # (a bool exponent included)
        if p < 0:
            raise ValueError(f"pow: integers to negative integer powers are not allowed "
                             f"(tensor of dtype {t.data.dtype}, exponent {p}); use a float tensor")
        return wrap((native(t.data) ** int(p)).astype(integral_dtype(t, p), copy=False))
    a = fdata(t, "pow")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = a ** p
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any]]:
            if p == 0:
                return (np.zeros_like(g),)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return (mul_masked(g, p * a ** (p - 1)),)
        return record(out, "PowBackward", (t,), backward, (t,))
    return wrap(out)


def rpower(t: Tensor, c: float) -> Tensor:
    """c ** t = exp(t ln c) for a Python number c; d/dt = c**t ln c.

    At c = 0 the derivative is 0 where t >= 0 and -inf where t < 0; for c < 0 it is
    NaN (ln c is not real) -- PyTorch's conventions.

    >>> import microinit as mi
    >>> t = mi.tensor([-1.0, 0.0, 2.0], dtype="float64", requires_grad=True)
    >>> (0.0 ** t).sum().backward(); t.grad
    array([-inf,   0.,   0.])
    """
    if not isinstance(c, numbers.Real):
        return NotImplemented  # type: ignore[no-any-return]  # (Python's protocol: the other side's turn)
    if is_integral(t) and isinstance(c, numbers.Integral):
        # an int base to integer powers stays integral (PyTorch: 2 ** -1 is 0, not an error)
        if is_bool(t) and isinstance(c, (bool, np.bool_)):
            raise TypeError("pow: a bool base to the power of a bool tensor is not supported (as in "
                            "PyTorch); cast the tensor with astype('int64') first")
        e = native(t.data).astype(integral_dtype(t, c), copy=False)
        base = as_result_dtype(int(c), e.dtype, "pow")
        with np.errstate(over="ignore"):
            out_i = np.where(e >= 0, np.power(base, np.maximum(e, 0)),
                             (base == 1) | ((base == -1) & (e % 2 == 0)))
            neg_one_odd = (base == -1) & (e < 0) & (e % 2 != 0)
        return wrap(np.where(neg_one_odd, -1, out_i).astype(e.dtype, copy=False))
    a = fdata(t, "pow")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.power(np.asarray(c, a.dtype), a)
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any]]:
            if c > 0:
                with np.errstate(invalid="ignore", over="ignore"):
                    return (mul_masked(g, out * math.log(c)),)
            if c == 0:
                d = np.where(a >= 0, 0.0, -np.inf).astype(a.dtype)
            else:
                d = np.full_like(a, np.nan)
            return (mul_masked(g, d),)
        return record(out, "PowBackward", (t,), backward, (t,), saves_out=True)
    return wrap(out)


def unary(t: Tensor, out: NDArray[Any], local_grad: Callable[[], NDArray[Any] | float], op: str,
          saves_out: bool = False) -> Tensor:
    """The output of a one-input op: recorded with backward g * local_grad() when ``t``
    needs grad (``local_grad`` is evaluated lazily, in backward only), else a leaf."""
    if needs_grad(t):
        def backward(g: NDArray[Any]) -> tuple[NDArray[Any]]:
            return (mul_masked(g, local_grad()),)
        return record(out, op, (t,), backward, (t,), saves_out)
    return wrap(out)


def exp(t: Tensor) -> Tensor:
    """e**x; d/dx = e**x."""
    a = fdata(t, "exp")
    with np.errstate(over="ignore"):
        out = np.exp(a)
    return unary(t, out, lambda: out, "ExpBackward", True)


def log(t: Tensor) -> Tensor:
    """Natural log (IEEE: log 0 = -inf, log(<0) = NaN); d/dx = 1/x."""
    a = fdata(t, "log")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(a)

    def d() -> NDArray[Any]:
        with np.errstate(divide="ignore"):
            return 1.0 / a
    return unary(t, out, d, "LogBackward")


def sqrt(t: Tensor) -> Tensor:
    """Square root; d/dx = 1 / (2 sqrt(x)) (inf at 0)."""
    a = fdata(t, "sqrt")
    with np.errstate(invalid="ignore"):
        out: NDArray[Any] = np.sqrt(a)

    def d() -> NDArray[Any]:
        with np.errstate(divide="ignore"):
            return 0.5 / out
    return unary(t, out, d, "SqrtBackward", True)


def absolute(t: Tensor) -> Tensor:
    """|x|; d/dx = sign(x), with 0 at x = 0 (PyTorch's convention). An integer tensor
    stays integer; a bool one is refused, as in PyTorch."""
    a = fdata(t, "abs")
    if a is not t.data and t.data.dtype.kind in "iub":  # (only then fdata made a copy)
        _no_bool(t, "abs", "a bool tensor is its own absolute value")
        return wrap(np.abs(native(t.data)))
    return unary(t, np.abs(a), lambda: np.sign(a), "AbsBackward")


def _check_int_bound(name: str, v: Any, dt: np.dtype[Any]) -> None:
    """A Python int bound of an integer clip must convert to the result dtype without
    overflow, as PyTorch requires: within [min, max] for a signed type, |v| <= max for
    an unsigned one (uint8 accepts -2, taken as 254, and refuses -300)."""
    if not isinstance(v, int) or isinstance(v, bool) or not -2**63 <= v < 2**63:
        return  # (beyond int64: as_result_dtype's error)
    info = np.iinfo(dt)
    fits = (-int(info.max) <= v <= int(info.max)) if info.min == 0 else (int(info.min) <= v <= int(info.max))
    if not fits:
        raise ValueError(f"clip: {name}={v} does not fit the tensor's dtype {dt} (as in PyTorch, "
                         f"an integer bound must convert to it without overflow)")


def clip(t: Tensor, lo: Tensor | ArrayLike | None = None, hi: Tensor | ArrayLike | None = None, *,
         min: ArrayLike | None = None, max: ArrayLike | None = None) -> Tensor:  # noqa: A002 - torch's names
    """Clamp into [lo, hi]; gradient 1 inside and at the boundary, 0 where clamped.
    ``min``/``max`` are PyTorch's keyword names for ``lo``/``hi``.

    >>> from microinit import tensor
    >>> tensor([-2.0, 0.5, 3.0]).clamp(min=0.0, max=1.0).tolist()
    [0.0, 0.5, 1.0]
    """
    for name, alias, v, w in (("lo", "min", lo, min), ("hi", "max", hi, max)):
        if v is not None and w is not None:
            raise TypeError(f"clip: {name} and {alias} name the same bound; give one of them")
    lo = lo if min is None else min
    hi = hi if max is None else max
    if lo is None and hi is None:
        raise ValueError("clip: at least one of lo (min) and hi (max) must be given, got None and None")
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, tensor_class()):
            raise TypeError(f"clip: {name} must be a number or an array, not a Tensor")
    if is_integral(t) and all(v is None or is_integral(v) for v in (lo, hi)):
        # integer bounds keep an integer tensor integral (a bool one becomes int64), as in PyTorch
        if t.data.dtype.kind == "b" and all(v is None or is_bool(v) for v in (lo, hi)):
            raise TypeError("clip: a bool tensor with bool bounds is not supported (as in PyTorch); "
                            "cast with astype('int64') first")
        dt = integral_dtype(t, *[v for v in (lo, hi) if v is not None])
        for name, v in (("lo", lo), ("hi", hi)):
            _check_int_bound(name, v, dt)
        # the tensor and the bounds in the result dtype, as in PyTorch (uint8 clip(-2) is clip(254))
        lo, hi = (None if v is None else as_result_dtype(v, dt, "clip") for v in (lo, hi))
        return wrap(np.asarray(np.clip(as_result_dtype(native(t.data), dt, "clip"), lo, hi), order="C"))
    a = fdata(t, "clip")
    out = np.clip(a, lo, hi)
    if out.dtype != a.dtype:
        out = out.astype(a.dtype)

    def d() -> NDArray[Any]:
        m = np.ones_like(a)
        if lo is not None:
            m[a < lo] = 0
        if hi is not None:
            m[a > hi] = 0
        return m
    return unary(t, out, d, "ClampBackward")


def where(cond: Tensor | ArrayLike, a: Tensor | ArrayLike, b: Tensor | ArrayLike) -> Tensor:
    """Elementwise ``a if cond else b`` (numpy broadcasting).

    The gradient flows only into the selected branch; the other branch gets exact
    zeros, and zero upstream gradients never turn an inf/NaN local derivative into
    NaN, so ``where(x > 0, x.sqrt(), 0)`` has finite grads.

    >>> import microinit as mi
    >>> x = mi.tensor([-1.0, 4.0], requires_grad=True)
    >>> mi.where(x > 0, x.sqrt(), 0.0).sum().backward()
    >>> x.grad
    array([0.  , 0.25], dtype=float32)
    """
    c = cond.data if isinstance(cond, tensor_class()) else np.asarray(cond)
    a, b = weak(a), weak(b)
    if c.dtype != np.bool_:
        c = c.astype(bool)
    if is_integral(a) and is_integral(b):  # integer/bool branches keep their dtype (PyTorch)
        dt = integral_dtype(a, b)
        ad, bd = as_result_dtype(integral_data(a), dt, "where"), as_result_dtype(integral_data(b), dt, "where")
        try:
            return wrap(np.asarray(np.where(c, ad, bd), order="C"))
        except ValueError:
            raise _no_broadcast("where", c, ad, bd) from None
    ad, at = operand(a, "where")
    bd, bt = operand(b, "where")
    # C order whatever layout the mask or the branches came in (np.where follows the
    # inputs' layout, and a Fortran-order mask with scalar branches gives an F array)
    try:
        out = np.asarray(np.where(c, ad, bd), order="C")
    except ValueError:
        raise _no_broadcast("where", c, ad, bd) from None
    if out.dtype.kind != "f" or (at is None and bt is None and np.ndim(ad) == 0 and np.ndim(bd) == 0
                                 and not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray)):
        # only Python numbers as branches: the default float32, as torch.where(c, 1.0, 2.0)
        out = out.astype(DEFAULT_DTYPE)
    if needs_grad(at, bt):
        sa, sb = np.shape(ad), np.shape(bd)

        def backward(g: NDArray[Any]) -> GradPair:
            zero = np.zeros((), g.dtype)
            ga = unbroadcast(np.where(c, g, zero), sa) if at is not None else None
            gb = unbroadcast(np.where(c, zero, g), sb) if bt is not None else None
            return ga, gb
        return record(out, "WhereBackward", (at, bt), backward)
    return wrap(out)


def compare(t: Tensor, other: Tensor | ArrayLike, ufunc: np.ufunc) -> Tensor:
    """A bool Tensor ``ufunc(t, other)`` (a mask for where/indexing); records nothing."""
    b = other.data if isinstance(other, tensor_class()) else other
    a = native(t.data)
    try:
        return wrap(np.asarray(ufunc(a, b), order="C"))
    except ValueError:
        raise _no_broadcast(ufunc.__name__, a, b) from None



def _no_bool(t: Tensor, op: str, hint: str) -> None:
    if t.data.dtype.kind == "b":
        raise TypeError(f"{op}: not supported on a bool tensor (as in PyTorch); {hint}, or cast with "
                        f"astype('int64')")


def _integral_binary(t: Tensor | ArrayLike, other: Tensor | ArrayLike,
                     fn: Callable[[Any, Any], Any], op: str) -> Tensor:
    """``fn(t, other)`` for integer/bool operands, in ``integral_dtype``; never
    requires grad (integer tensors have no gradient)."""
    if op == "sub" and (is_bool(t) or is_bool(other)):
        raise TypeError("sub: subtraction with a bool operand is not supported (as in PyTorch); "
                        "for a logical xor use t != u, or cast with astype('int64')")
    dt = integral_dtype(t, other)
    a, b = as_result_dtype(integral_data(t), dt, op), as_result_dtype(integral_data(other), dt, op)
    try:
        with np.errstate(over="ignore"):
            out = np.asarray(fn(a, b), order="C")
    except ValueError:
        raise _no_broadcast(op, a, b) from None
    return wrap(out)  # (operands of dtype dt give dt)


def _extremum(t: Tensor | ArrayLike, other: Tensor | ArrayLike, fn: np.ufunc, loses: np.ufunc, op: str,
              node: str) -> Tensor:
    # loses(a, b): where a is not selected (np.less for maximum, np.greater for minimum)
    T = tensor_class()
    t, other = weak(t), weak(other)
    if not isinstance(t, T):
        t, other = (other, t) if isinstance(other, T) else (as_tensor(t, op), other)
    if is_integral(t) and is_integral(other):
        dt = integral_dtype(t, other)
        a, b = as_result_dtype(native(t.data), dt, op), as_result_dtype(integral_data(other), dt, op)
        try:
            return wrap(np.asarray(fn(a, b), order="C"))  # (operands of dtype dt give dt)
        except ValueError:
            raise _no_broadcast(op, a, b) from None
    a = fdata(t, op)
    b, ot = operand(other, op)
    try:
        out = np.asarray(fn(a, b), order="C")
    except ValueError:
        raise _no_broadcast(op, a, b) from None
    if needs_grad(t, ot):
        sa, sb = a.shape, _shape(b)

        def backward(g: NDArray[Any]) -> GradPair:
            # PyTorch's rule: a tie gives each side half; the side not selected gets 0
            share = np.where(a == b, g * 0.5, g)
            zero = np.zeros((), g.dtype)
            ga = unbroadcast(np.where(loses(a, b), zero, share), sa)
            gb = unbroadcast(np.where(loses(b, a), zero, share), sb) if ot is not None else None
            return ga, gb
        saved = (t, ot) if ot is not None else (t,)
        return record(out, node, (t, ot), backward, saved)
    return wrap(out)


def maximum(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """Elementwise max(a, b) with broadcasting; a tie sends half the gradient to each
    operand (PyTorch's rule); NaN propagates. Integer/bool operands stay integral.

    >>> import microinit as mi
    >>> a = mi.tensor([1.0, 5.0, 2.0], requires_grad=True)
    >>> mi.maximum(a, 2.0).sum().backward(); a.grad
    array([0. , 1. , 0.5], dtype=float32)
    """
    return _extremum(t, other, np.maximum, np.less, "maximum", "MaximumBackward")


def minimum(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """Elementwise min(a, b); the gradient rule of :func:`maximum`, mirrored."""
    return _extremum(t, other, np.minimum, np.greater, "minimum", "MinimumBackward")


def equal(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """``t == other`` elementwise: a bool Tensor (records nothing). ``NotImplemented``
    for an object that is not a number or an array, so ``t == None`` is False."""
    if other is None or isinstance(other, (str, bytes, dict, set)):
        return NotImplemented  # type: ignore[no-any-return]  # (Python's protocol: the other side's turn)
    return compare(t, other, np.equal)


def not_equal(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """``t != other`` elementwise: a bool Tensor (records nothing)."""
    if other is None or isinstance(other, (str, bytes, dict, set)):
        return NotImplemented  # type: ignore[no-any-return]  # (Python's protocol: the other side's turn)
    return compare(t, other, np.not_equal)

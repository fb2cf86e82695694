"""numpy references for the fuzz properties, written in float64 from the formulas.

Each reference returns a :class:`Ref`: the expected output, the ``scale`` that bounds
its rounding error (``|y|`` for an elementwise op, ``sum |x|`` for a sum, ``|a| @ |b|``
for a product; NaN where the op's convention is left open, so that element is not
compared), the dtype the result must have, and ``vjp(g)``, the expected gradient of
every input for an upstream gradient ``g``. A reference that decides an input is
invalid raises :class:`Refuse`: the op must then raise TypeError/ValueError/
RuntimeError naming itself.

    >>> r = ACTIVATIONS["relu"](np.array([-1.0, 2.0]), 0.0)
    >>> r[0].tolist(), r[1].tolist()
    ([0.0, 2.0], [0.0, 1.0])
"""
import math

import numpy as np

ALLOWED = (TypeError, ValueError, RuntimeError)


class Refuse(Exception):
    """The reference refuses the input: the op must raise one of ``allowed``."""

    def __init__(self, why, allowed=ALLOWED):
        super().__init__(why)
        self.allowed = allowed


class Ref:
    """What an op must return: ``out`` (float64), error ``scale``, result ``dtype``
    (None: float32 or float64 both fine), ``vjp(g) -> [grad or None per input]``,
    ``exact``: compare bit for bit (bool outputs, copies)."""

    __slots__ = ("out", "scale", "dtype", "vjp", "exact")

    def __init__(self, out, scale=None, dtype=None, vjp=None, exact=False):
        self.out = np.asarray(out)
        self.scale = np.abs(self.out) if scale is None else np.asarray(scale)
        self.dtype, self.vjp, self.exact = dtype, vjp, exact


def masked(g, d):
    """g * d with g == 0 giving 0 even where d is inf/NaN (the ops' documented rule)."""
    with np.errstate(invalid="ignore", over="ignore"):
        r = g * d
    return np.where(g == 0, 0.0, r)


def unbroadcast(g, shape):
    """Sum ``g`` back to ``shape`` (numpy broadcasting undone)."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, d in enumerate(shape):
        if d == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g.reshape(shape)


def result_dtype(*arrs):
    """float64 if any array input computes in float64, else float32."""
    return np.float64 if any(a.compute_dtype == np.float64 for a in arrs) else np.float32


_erf = np.frompyfunc(math.erf, 1, 1)
SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _elu(x, a):
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))


def _act(fwd, deriv, open_at_inf=False, from_output=0.0, x_weight=1e-6):
    """An activation reference: (y, dy/dx, scale, derivative scale) with the derivative
    and (optionally) the forward left open (NaN scale) at non-finite inputs, where
    frameworks differ. ``from_output``: the derivative is computed from the output
    (sigmoid y(1-y), tanh 1-y^2, elu y+alpha, as PyTorch does for sigmoid and tanh),
    so its error is relative to |y|, not to the derivative: weight of |y| in its scale.
    ``x_weight``: weight of |x| in the forward's scale (gelu's 0.5 x (1 + erf) cancels
    in the negative tail, in PyTorch's float32 gelu too)."""
    def ref(x, p):
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            y = np.asarray(fwd(x, p), np.float64)
            d = np.asarray(deriv(x, y, p), np.float64)
        scale = np.abs(y) + np.abs(x) * x_weight  # cancellation near 0 (tanh, gelu, elu)
        if open_at_inf:
            scale = np.where(np.isinf(x), np.nan, scale)
        dscale = np.abs(d) + from_output * np.where(np.isfinite(y), np.abs(y), 0.0)
        dscale = np.where(np.isfinite(x), dscale, np.nan)  # derivative at inf/NaN: left open
        return y, d, scale, dscale
    return ref


def _erf64(x):
    return np.asarray(_erf(x), dtype=np.float64)  # (frompyfunc gives objects, or a scalar for 0-d)


def _gelu(x, p):
    return x * 0.5 * (1.0 + _erf64(x / math.sqrt(2.0)))


def _gelu_d(x, y, p):
    return 0.5 * (1.0 + _erf64(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


ACTIVATIONS = {
    "identity": _act(lambda x, p: x, lambda x, y, p: np.ones_like(x)),
    "relu": _act(lambda x, p: np.where(np.isnan(x), np.nan, np.maximum(x, 0.0)),
                 lambda x, y, p: (x > 0).astype(np.float64)),
    "tanh": _act(lambda x, p: np.tanh(x), lambda x, y, p: 1.0 - y * y, from_output=0.25),
    "sigmoid": _act(lambda x, p: _sigmoid(x), lambda x, y, p: y * (1.0 - y), from_output=0.25),
    "leaky_relu": _act(lambda x, p: np.where(x > 0, x, p * x), lambda x, y, p: np.where(x > 0, 1.0, p)),
    "elu": _act(lambda x, p: _elu(x, p), lambda x, y, p: np.where(x > 0, 1.0, y + p), from_output=0.25),
    "selu": _act(lambda x, p: SELU_SCALE * _elu(x, SELU_ALPHA),
                 lambda x, y, p: np.where(x > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA), from_output=0.25),
    "gelu": _act(_gelu, _gelu_d, open_at_inf=True, x_weight=0.05),
    "softplus": _act(lambda x, p: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), lambda x, y, p: _sigmoid(x)),
}


def act_grad_scale(g, dscale):
    """The error scale of g * act'(x): open (NaN) wherever the derivative is, even
    where g is 0 (frameworks give 0 * NaN = NaN there)."""
    with np.errstate(invalid="ignore", over="ignore"):
        # + |g| 1e-33: a float32 derivative below the normal range (sigmoid(-100)) may
        # underflow to 0 (1e-33 x the float32 rtol is about float32's smallest normal)
        return np.where(np.isnan(dscale), np.nan, np.abs(g) * (dscale + 1e-33))


def softmax_ref(x, axis, log=False):
    """(y, vjp-maker) of softmax/log_softmax along ``axis`` in float64 (max-shifted)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
        z = x - m
        e = np.exp(z)
        s = e.sum(axis=axis, keepdims=True)
        if log:
            lse = np.log(s)
            y = z - lse
            scale = np.abs(z) + np.abs(lse) + 1.0  # log(s) of s >= 1 errs by eps absolute
        else:
            y = e / s
            scale = np.ones_like(y)

    def vjp(g):
        with np.errstate(invalid="ignore", over="ignore"):
            if log:
                return g - np.exp(y) * g.sum(axis=axis, keepdims=True), np.abs(g).sum(axis=axis, keepdims=True) + 0 * y
            gy = g * y
            return gy - y * gy.sum(axis=axis, keepdims=True), np.abs(y) * (np.abs(g) + np.abs(gy).sum(
                axis=axis, keepdims=True))
    return y, scale, vjp


def matmul_ref(a, b):
    """a @ b and the error scale |a| @ |b| (NaN-free: an inf times 0 is left open)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return a @ b, np.abs(a) @ np.abs(b)


def _silu_d(x, y, p):
    s = _sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _mish(x, p):
    return x * np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


def _mish_d(x, y, p):
    th = np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))
    return th + x * _sigmoid(x) * (1.0 - th * th)


def _kinks_open(deriv, kinks):
    """A derivative left open (NaN) exactly at the kinks, where frameworks pick a side."""
    def d(x, y, p):
        return np.where(np.isin(x, kinks), np.nan, deriv(x, y, p))
    return d


# The activations computed in numpy (microinit/ops/activations_unfused.py), no parameter.
UNFUSED_ACTIVATIONS = {
    # (silu' and mish' cancel near x = -1.28 / -1.19: error relative to |y|, like elu')
    "silu": _act(lambda x, p: x * _sigmoid(x), _silu_d, open_at_inf=True, from_output=1.0),
    "mish": _act(_mish, _mish_d, open_at_inf=True, x_weight=1e-4, from_output=1.0),
    "hardswish": _act(lambda x, p: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
                      _kinks_open(lambda x, y, p: np.where(x < -3, 0.0, np.where(x > 3, 1.0, x / 3.0 + 0.5)),
                                  (-3.0, 3.0)), open_at_inf=True, from_output=1.0),  # (x/3 + 1/2 cancels)
    "hardtanh": _act(lambda x, p: np.clip(x, -1.0, 1.0),
                     _kinks_open(lambda x, y, p: ((x > -1) & (x < 1)).astype(np.float64), (-1.0, 1.0))),
    "relu6": _act(lambda x, p: np.clip(x, 0.0, 6.0),
                  _kinks_open(lambda x, y, p: ((x > 0) & (x < 6)).astype(np.float64), (0.0, 6.0))),
    "logsigmoid": _act(lambda x, p: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))),
                       lambda x, y, p: _sigmoid(-x)),
    "softsign": _act(lambda x, p: x / (1.0 + np.abs(x)), lambda x, y, p: 1.0 / (1.0 + np.abs(x)) ** 2,
                     open_at_inf=True),
}


def matmul_vjp(x, y, g, no_left=False):
    """Gradients (and their error scales) of x @ y under numpy's matmul rules: a 1-D
    left operand is a row (1, k), a 1-D right one a column (k, 1), removed afterwards."""
    xa = x[None, :] if x.ndim == 1 else x
    ya = y[:, None] if y.ndim == 1 else y
    with np.errstate(all="ignore"):
        ga = np.asarray(g).reshape((xa @ ya).shape)
    with np.errstate(all="ignore"):
        gx = unbroadcast(ga @ np.swapaxes(ya, -1, -2), xa.shape).reshape(x.shape)
        gy = unbroadcast(np.swapaxes(xa, -1, -2) @ ga, ya.shape).reshape(y.shape)
        sx = unbroadcast(np.abs(ga) @ np.abs(np.swapaxes(ya, -1, -2)), xa.shape).reshape(x.shape)
        sy = unbroadcast(np.abs(np.swapaxes(xa, -1, -2)) @ np.abs(ga), ya.shape).reshape(y.shape)
    return [None if no_left else (gx, sx), (gy, sy)]

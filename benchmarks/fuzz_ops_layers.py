"""Fuzz case builders for the layers of issue 16: ``LAYER_OPS[name](draw) -> Case``
(``nn.Dropout``, ``nn.BatchNorm1d`` in training and evaluation mode, ``nn.LayerNorm``,
the unfused activation modules), same contract as ``benchmarks/fuzz_ops.py``.

Dropout is checked as a property, without a reference mask: ``p = 0`` and ``eval()``
are the identity; in training every element is either exactly 0 (dropped) or
``x / (1 - p)``, and the gradient is ``g / (1 - p)`` where kept, 0 where dropped.

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> LAYER_OPS["LayerNorm"](RandomDraw(0, 1)).op
    'LayerNorm'
"""
import numpy as np

import microinit as mi
from microinit import nn
from benchmarks.fuzz_cases import Arr, arr, chance, choice, dim
from benchmarks.fuzz_ops import leaf
from benchmarks.fuzz_properties import Case
from benchmarks.fuzz_refs import UNFUSED_ACTIVATIONS, Ref, Refuse, act_grad_scale, masked


def _dropout(draw):
    p = choice(draw, (0.0, 0.5, 0.2, 0.9, 1.0, -0.1, 1.5))
    train = chance(draw, 70)
    shp = tuple(dim(draw) for _ in range(draw.integer(1, 3)))
    rng = np.random.default_rng(draw.integer(0, 2**32 - 1))
    a = Arr(rng.standard_normal(shp) * 10.0 ** draw.integer(-2, 2), choice(draw, ("<f4", "<f8", ">f4")),
            choice(draw, ("C", "fortran", "negative", "strided")))
    seed = draw.integer(0, 999)
    seen = {}

    identity = not train or p == 0

    def run(xs, grad):
        # the identity hands back its input as it is: give it a Tensor made by the constructor
        t = mi.Tensor(xs[0], requires_grad=grad) if identity else leaf(xs[0], grad)
        layer = nn.Dropout(p, rng=seed)
        y = (layer if train else layer.eval())(t)
        kept = y.data != 0
        seen["kept"] = kept
        # restore the dropped elements from a constant: the result must then be x / (1 - p)
        # everywhere (the kept elements as computed, the dropped ones exactly 0 before)
        if not train or p in (0.0, 1.0):
            return y, [t]
        restore = np.where(kept, 0.0, np.asarray(xs[0], np.float64) / (1 - p)).astype(y.data.dtype)
        return y + mi.Tensor(restore), [t]

    def ref(vals):
        x = vals[0]
        if not 0 <= p <= 1:
            raise Refuse("Dropout: p", (ValueError,))
        keep = 1.0 if not train or p == 0 else (0.0 if p == 1 else 1.0 / (1 - p))
        out = x * keep

        def vjp(g):
            kept = seen["kept"] if train and 0 < p < 1 else np.full(x.shape, keep > 0)
            return [np.where(kept, g * keep, 0.0)]
        return Ref(out, np.abs(out) * 2, a.compute_dtype, vjp)
    return Case("Dropout", [a], run, ref, {"p": p, "train": train, "seed": seed}, gseed=draw.integer(0, 999),
                names=("Dropout", "dropout", "p"))


def _norm_ref(x, axes, eps):
    """(y, vjp) of (x - mean) / sqrt(var + eps) over ``axes`` (biased variance)."""
    with np.errstate(all="ignore"):
        n = int(np.prod([x.shape[i] for i in axes]))
        mu = x.mean(axis=axes, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
        inv = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * inv
        # rounding: the centred values err by eps |x| relative to the spread
        scale = (np.abs(x) + np.abs(mu)) * inv * (1 + n) + np.abs(xhat)

    def vjp(g):
        with np.errstate(all="ignore"):
            gx = inv * (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True))
            s = inv * (np.abs(g) + np.abs(g).mean(axis=axes, keepdims=True) * (1 + np.abs(xhat)) * (1 + n)) * \
                (1 + (np.abs(x) + np.abs(mu)) * inv)
        return [(gx, s)]
    return xhat, scale, vjp


def _norm_input(draw, channels):
    n = dim(draw)
    shp = (n, channels) if chance(draw, 60) else (n, channels, dim(draw))
    if chance(draw, 5):
        shp = (n, channels + 1)
    rng = np.random.default_rng(draw.integer(0, 2**32 - 1))
    return Arr(rng.standard_normal(shp) * 10.0 ** draw.integer(-1, 2) + draw.integer(-2, 2),
               choice(draw, ("<f4", "<f4", "<f8", ">f4")), choice(draw, ("C", "fortran", "negative", "strided")))


def _batchnorm(draw):
    c = draw.integer(1, 3)
    a = _norm_input(draw, c)
    train = chance(draw, 70)

    def run(xs, grad):
        t = leaf(xs[0], grad)
        bn = nn.BatchNorm1d(c, dtype=a.compute_dtype)
        return (bn if train else bn.eval())(t), [t]

    def ref(vals):
        x = vals[0]
        if x.shape[1] != c:
            raise Refuse("BatchNorm1d: channels", (ValueError,))
        axes = (0,) if x.ndim == 2 else (0, 2)
        if not train:  # fresh running statistics: mean 0, variance 1
            k = 1.0 / np.sqrt(1.0 + 1e-5)
            return Ref(x * k, np.abs(x) * 2, a.compute_dtype, lambda g: [g * k])
        if x.shape[0] * (x.shape[2] if x.ndim == 3 else 1) == 1:  # (PyTorch's rule; an empty batch is fine)
            raise Refuse("BatchNorm1d: one value per channel in training", (ValueError,))
        y, scale, vjp = _norm_ref(x, axes, 1e-5)
        return Ref(y, scale, a.compute_dtype, vjp)
    return Case("BatchNorm1d", [a], run, ref, {"train": train}, gseed=draw.integer(0, 999), rtol=16.0,
                names=("BatchNorm1d", "batch_norm"))


def _layernorm(draw):
    c = draw.integer(1, 4)
    a = _norm_input(draw, c)
    shape = a.values.shape[1:] if chance(draw, 30) else a.values.shape[-1:]

    def run(xs, grad):
        t = leaf(xs[0], grad)
        return nn.LayerNorm(shape, dtype=a.compute_dtype)(t), [t]

    def ref(vals):
        x = vals[0]
        axes = tuple(range(x.ndim - len(shape), x.ndim))
        y, scale, vjp = _norm_ref(x, axes, 1e-5)
        return Ref(y, scale, a.compute_dtype, vjp)
    return Case("LayerNorm", [a], run, ref, {"shape": shape}, gseed=draw.integer(0, 999), rtol=16.0,
                names=("LayerNorm", "layer_norm"))


_MODULES = {"SiLU": "silu", "Mish": "mish", "Hardswish": "hardswish", "Hardtanh": "hardtanh", "ReLU6": "relu6",
            "LogSigmoid": "logsigmoid", "Softsign": "softsign"}


def _unfused_module(draw):
    name = choice(draw, tuple(_MODULES))
    key = _MODULES[name]
    a = arr(draw, (dim(draw), dim(draw)))

    def run(xs, grad):
        t = leaf(xs[0], grad)
        return getattr(nn, name)()(t), [t]

    def ref(vals):
        y, d, scale, dscale = UNFUSED_ACTIVATIONS[key](vals[0], None)
        return Ref(y, scale, a.compute_dtype, lambda g: [(masked(g, d), act_grad_scale(g, dscale))])
    return Case(name, [a], run, ref, gseed=draw.integer(0, 999), rtol=8.0, names=(name, key))


LAYER_OPS = {"Dropout": _dropout, "BatchNorm1d": _batchnorm, "LayerNorm": _layernorm,
             "unfused_activation_module": _unfused_module}

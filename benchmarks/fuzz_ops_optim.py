"""Fuzz case builders for the optimizers: ``OPTIM_OPS[name](draw) -> Case``.

A case makes one or two parameters (float32/float64, any shape, 0-d and empty
included), gives them one to three drawn gradients in turn (each handed over in a drawn
layout and byte order, as ``p.grad``), steps ``SGD`` (momentum, Nesterov, dampening,
weight decay), ``Adam`` or ``AdamW`` after each, and compares the final parameters with
the update formulas of PyTorch's optimizers in float64. Invalid hyperparameters must
raise ValueError naming them; a NaN/inf gradient, or an update that overflows, the
documented ``FloatingPointError`` naming the optimizer.

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> OPTIM_OPS["optim"](RandomDraw(0, 2)).op in ("SGD", "Adam", "AdamW")
    True
"""
import math

import numpy as np

import microinit as mi
from microinit import optim
from benchmarks.fuzz_cases import Arr, chance, choice, shape
from benchmarks.fuzz_properties import Case
from benchmarks.fuzz_refs import Ref, Refuse

HYPER = {
    "SGD": {"lr": (0.1, 0.01, 1.0), "momentum": (0.0, 0.9, 0.5), "nesterov": (False, True),
            "weight_decay": (0.0, 0.01), "dampening": (0.0, 0.1)},
    "Adam": {"lr": (1e-3, 0.1, 1.0), "betas": ((0.9, 0.999), (0.5, 0.9), (0.0, 0.0)), "eps": (1e-8, 1e-3, 0.0),
             "weight_decay": (0.0, 0.01)},
}
HYPER["AdamW"] = dict(HYPER["Adam"], weight_decay=(0.01, 0.0, 0.1))
INVALID = {"lr": (-0.1, float("nan"), "0.1"), "momentum": (-0.5,), "weight_decay": (-1.0,), "betas": ((1.0, 0.9), 0.9),
           "eps": (-1.0,), "dampening": (float("inf"),), "nesterov": (True,)}
NAMES = ("learning rate", "momentum", "nesterov", "beta", "epsilon", "weight_decay", "dampening")


def _valid(name, h):
    """The reference's view of the hyperparameters: ValueError cases refused."""
    if not all(isinstance(v, (int, float, bool, tuple)) for v in h.values()):
        raise Refuse("a hyperparameter of the wrong type", (TypeError, ValueError))
    if not h["lr"] >= 0 or h.get("weight_decay", 0) < 0:
        raise Refuse("bad lr / weight_decay", (ValueError,))
    if name == "SGD":
        if h["momentum"] < 0 or not math.isfinite(h["dampening"]) or (
                h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0)):
            raise Refuse("bad momentum / dampening / nesterov", (ValueError,))
    elif not isinstance(h["betas"], tuple) or not (0 <= h["betas"][0] < 1 and 0 <= h["betas"][1] < 1) or h["eps"] < 0:
        raise Refuse("bad betas / eps", (ValueError,))


def _sgd(w, grads, h):
    buf = None
    for g in grads:
        d = g + h["weight_decay"] * w
        if h["momentum"]:
            buf = d if buf is None else h["momentum"] * buf + (1 - h["dampening"]) * d
            d = d + h["momentum"] * buf if h["nesterov"] else buf
        w = w - h["lr"] * d
        yield w, h["lr"] * np.abs(d)


def _adam(w, grads, h, decoupled):
    (b1, b2), eps, lr, wd = h["betas"], h["eps"], h["lr"], h["weight_decay"]
    m = v = 0.0
    for t, g in enumerate(grads, 1):
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = lr / (1 - b1 ** t) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
        w = w - step
        yield w, np.abs(step) * 8 + lr * wd * np.abs(w)


def _optim(draw):
    name = choice(draw, ("SGD", "Adam", "AdamW"))
    h = {k: choice(draw, v) for k, v in HYPER[name].items()}
    if name == "SGD" and (h["momentum"] <= 0 or h["dampening"]):
        h["nesterov"] = False  # Nesterov needs momentum and no dampening (tried below as invalid)
    if chance(draw, 8):  # one hyperparameter out of its range (or of the wrong type)
        k = choice(draw, tuple(h))
        h[k] = choice(draw, INVALID[k])
    dt = choice(draw, ("<f4", "<f8"))
    shapes = [shape(draw) for _ in range(draw.integer(1, 2))]
    n_steps = draw.integer(1, 3)
    rng = np.random.default_rng(draw.integer(0, 2**32 - 1))
    ws = [Arr(rng.standard_normal(s), dt) for s in shapes]
    special = chance(draw, 5)
    grads = []
    for _ in range(n_steps):
        for s in shapes:
            g = rng.standard_normal(s)
            if special and g.size:
                g.flat[0] = choice(draw, (np.nan, np.inf, 1e300))
            bad_shape = chance(draw, 2)
            gs = g if not bad_shape else rng.standard_normal(s + (2,))
            grads.append(Arr(gs, choice(draw, (dt, ">" + dt[1:])), choice(draw, ("C", "fortran", "negative",
                                                                                  "strided", "readonly"))))

    def run(xs, grad):
        params = [mi.Tensor(np.array(w, np.dtype(dt), order="C"), requires_grad=True) for w in xs[:len(ws)]]
        opt = getattr(optim, name)(params, **h)
        gs = iter(xs[len(ws):])
        for _ in range(n_steps):
            for p in params:
                p.grad = next(gs)
            opt.step()
        return _Flat(np.concatenate([p.data.reshape(-1) for p in params])), [None] * len(xs)

    def ref(vals):
        _valid(name, h)
        k = len(ws)
        finals, scales = [], []
        for i, w in enumerate(vals[:k]):
            gi = vals[k + i::k]
            if any(g.shape != w.shape for g in gi):  # (a NaN gradient of an earlier parameter may come first)
                raise Refuse("grad shape", (ValueError, FloatingPointError))
            with np.errstate(all="ignore"):
                steps = list(_sgd(w, gi, h) if name == "SGD" else _adam(w, gi, h, name == "AdamW"))
            if any(not np.isfinite(g).all() for g in gi) or any(not np.isfinite(s[0]).all() for s in steps):
                raise Refuse("NaN/inf gradient or update", (FloatingPointError, ValueError))
            finals.append(steps[-1][0].reshape(-1))
            scales.append((np.abs(w) + sum(s[1] for s in steps) + np.abs(steps[-1][0])).reshape(-1))
        return Ref(np.concatenate(finals), np.concatenate(scales) * 4, np.dtype(dt).newbyteorder("="))
    return Case(name, ws + grads, run, ref, {"hyper": h, "steps": n_steps}, grad=False, rtol=16.0,
                names=(name,) + NAMES)


class _Flat:
    """The parameters after the steps, as the property reads an output."""

    requires_grad = False

    def __init__(self, data):
        self.data = data


OPTIM_OPS = {"optim": _optim}

"""Fuzz case builders for the optimizers: ``OPTIM_OPS[name](draw) -> Case``.

A case makes one or two parameters (float32/float64, any shape, 0-d and empty
included), gives them one to three drawn gradients in turn (each handed over in a drawn
layout and byte order, as ``p.grad``), steps ``SGD`` (momentum, Nesterov, dampening,
weight decay), ``Adam``, ``AdamW``, ``RMSprop`` or ``Adagrad`` after each, and compares the final parameters with
the update formulas of PyTorch's optimizers in float64. Invalid hyperparameters must
raise ValueError naming them; a NaN/inf gradient, or an update that overflows, the
documented ``FloatingPointError`` naming the optimizer.

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> OPTIM_OPS["optim"](RandomDraw(0, 2)).op in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
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
HYPER["RMSprop"] = {"lr": (1e-2, 0.1, 1e-3), "alpha": (0.99, 0.9, 0.5), "eps": (1e-8, 1e-3, 0.0),
                    "weight_decay": (0.0, 0.01), "momentum": (0.0, 0.9), "centered": (False, True)}
HYPER["Adagrad"] = {"lr": (1e-2, 0.1, 1.0), "lr_decay": (0.0, 0.1), "weight_decay": (0.0, 0.01),
                    "eps": (1e-10, 1e-3, 0.0)}
INVALID = {"lr": (-0.1, float("nan"), "0.1"), "momentum": (-0.5,), "weight_decay": (-1.0,), "betas": ((1.0, 0.9), 0.9),
           "eps": (-1.0,), "dampening": (float("inf"),), "nesterov": (True,), "alpha": (-0.1,), "lr_decay": (-0.5,),
           "centered": (True,)}
NAMES = ("learning rate", "momentum", "nesterov", "beta", "epsilon", "weight_decay", "dampening", "alpha",
         "lr_decay")


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
    elif name in ("RMSprop", "Adagrad"):
        if any(h.get(k, 0) < 0 for k in ("alpha", "eps", "momentum", "lr_decay")):
            raise Refuse("bad alpha / eps / momentum / lr_decay", (ValueError,))
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


def _rmsprop(w, grads, h):
    v = a = buf = 0.0
    for g in grads:
        g = g + h["weight_decay"] * w
        v = h["alpha"] * v + (1 - h["alpha"]) * g * g
        if h["centered"]:
            a = h["alpha"] * a + (1 - h["alpha"]) * g
            avg = np.sqrt(v - a * a) + h["eps"]
        else:
            avg = np.sqrt(v) + h["eps"]
        step = g / avg
        if h["momentum"] > 0:
            buf = h["momentum"] * buf + step
            step = buf
        w = w - h["lr"] * step
        # a centered v - a^2 cancels: its rounding is relative to v, through the sqrt
        yield w, h["lr"] * (np.abs(step) * 8 + (np.abs(g) * np.sqrt(np.abs(v)) / avg ** 2 if h["centered"] else 0))


def _adagrad(w, grads, h):
    s = 0.0
    for t, g in enumerate(grads, 1):
        g = g + h["weight_decay"] * w
        s = s + g * g
        step = h["lr"] / (1 + (t - 1) * h["lr_decay"]) * g / (np.sqrt(s) + h["eps"])
        w = w - step
        yield w, np.abs(step) * 8


UPDATES = {"SGD": _sgd, "Adam": lambda w, gs, h: _adam(w, gs, h, False),
           "AdamW": lambda w, gs, h: _adam(w, gs, h, True), "RMSprop": _rmsprop, "Adagrad": _adagrad}


def _optim(draw):
    name = choice(draw, tuple(UPDATES))
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
                # (a 1e300 gradient's square overflows in RMSprop/Adagrad, where what follows
                # inf - inf is the implementation's: PyTorch and microinit agree, not the formula)
                g.flat[0] = choice(draw, (np.nan, np.inf) + (() if name in ("RMSprop", "Adagrad") else (1e300,)))
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
        return Flat(np.concatenate([p.data.reshape(-1) for p in params])), [None] * len(xs)

    def ref(vals):
        _valid(name, h)
        k = len(ws)
        finals, scales = [], []
        for i, w in enumerate(vals[:k]):
            gi = vals[k + i::k]
            if any(g.shape != w.shape for g in gi):  # (a NaN gradient of an earlier parameter may come first)
                raise Refuse("grad shape", (ValueError, FloatingPointError))
            with np.errstate(all="ignore"):
                steps = list(UPDATES[name](w, gi, h))
            if any(not np.isfinite(g).all() for g in gi) or any(not np.isfinite(s[0]).all() for s in steps):
                raise Refuse("NaN/inf gradient or update", (FloatingPointError, ValueError))
            finals.append(steps[-1][0].reshape(-1))
            scales.append((np.abs(w) + sum(s[1] for s in steps) + np.abs(steps[-1][0])).reshape(-1))
        return Ref(np.concatenate(finals), np.concatenate(scales) * 4, np.dtype(dt).newbyteorder("="))
    return Case(name, ws + grads, run, ref, {"hyper": h, "steps": n_steps}, grad=False, rtol=16.0,
                names=(name,) + NAMES)


class Flat:  # (also the output of benchmarks/fuzz_ops_clip.py's cases)
    """The parameters after the steps, as the property reads an output."""

    requires_grad = False

    def __init__(self, data):
        self.data = data


OPTIM_OPS = {"optim": _optim}

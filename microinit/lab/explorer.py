"""The init explorer's data: per-layer statistics of deep MLPs for every initializer x
activation x depth of a grid, precomputed so that a page can show any of them at once.

For each combination, ``seeds`` MLPs (``width`` units per hidden layer, weights from
the initializer, zero biases, a linear output of 10 classes) get one forward and one
backward pass (cross-entropy against random labels) of a Gaussian batch. Per hidden
layer the grid keeps the median over the seeds of the activation mean and std, the std
of the gradient dL/da, the share of saturated (tanh/sigmoid) and dead (ReLU) units and
the number of distinct units, plus histograms of the first seed's activations and
gradients. A reading in words (``microinit.lab.summary.trend``) and the claims the
explorer makes visible (``CLAIMS``) go with it.

>>> grid = explorer_grid(inits=["he_normal"], activations=["relu"], depths=[4], width=16, batch=32, seeds=1)
>>> cell = grid["cells"]["he_normal|relu|4"]
>>> len(cell["layers"]), sorted(cell["layers"][0])[:4]
(4, ['dead', 'distinct', 'grad_hist', 'grad_std'])
"""
import math

import numpy as np

from microinit import nn
from microinit.lab.specs import as_specs
from microinit.lab.summary import trend
from microinit.losses import cross_entropy
from microinit.rng import as_generator
from microinit.tensor import Tensor

__all__ = ["explorer_grid", "cell_key", "EXPLORER_INITS", "EXPLORER_ACTIVATIONS", "EXPLORER_DEPTHS", "CLAIMS"]

EXPLORER_INITS = ("zeros", "normal(std=0.01)", "normal(std=1.0)", "xavier_uniform", "xavier_uniform(gain=4)",
                  "he_normal", "lecun_normal")
EXPLORER_ACTIVATIONS = ("tanh", "sigmoid", "relu", "selu")
EXPLORER_DEPTHS = (5, 10, 20, 40)

#: One click each: (id, init, activation, depth, the claim, what to look at)
CLAIMS = (
    ("zeros", "zeros", "tanh", 10, "zeros: identical neurons",
     "Every unit of a layer computes the same value and gets the same gradient, so training can never make "
     "them differ: 1 distinct unit per layer, and with tanh all of them output exactly 0."),
    ("small", "normal(std=0.01)", "tanh", 20, "small weights: vanishing",
     "Each layer multiplies the signal by about 0.01 x sqrt(fan_in): activations and gradients shrink "
     "geometrically with depth."),
    ("large", "normal(std=1.0)", "relu", 20, "large weights: exploding",
     "Each ReLU layer multiplies the signal by about sqrt(fan_in / 2): activations and gradients grow "
     "geometrically (with tanh the units saturate instead and the gradients explode)."),
    ("xavier-tanh", "xavier_uniform", "tanh", 20, "Xavier for tanh",
     "Variance 1/fan keeps tanh's activations and gradients of the same size from layer to layer "
     "(Glorot & Bengio 2010)."),
    ("xavier-sigmoid", "xavier_uniform(gain=4)", "sigmoid", 10, "Xavier for sigmoid (gain 4)",
     "sigmoid'(0) = 1/4, so Glorot & Bengio's derivation asks for 4x the weights: the activations stay steady "
     "and the gradients shrink about 60-fold over 10 layers. With plain Xavier (pick it) they shrink a "
     "million-fold: sigmoid's slope of at most 1/4 and its mean of 1/2 are why deep sigmoid nets are hard."),
    ("he-relu", "he_normal", "relu", 40, "He for ReLU",
     "ReLU zeroes half of its input, so it needs variance 2/fan_in: He keeps the activations of order 1 "
     "over 40 layers, where Xavier's halve at every layer (He et al. 2015)."),
    ("lecun-selu", "lecun_normal", "selu", 40, "LeCun for SELU",
     "SELU is built so that variance 1/fan_in keeps mean 0 and variance 1 through any depth "
     "(Klambauer et al. 2017)."),
)


def cell_key(init, activation, depth):
    """The key of one combination in ``grid["cells"]``: ``"init|activation|depth"``."""
    return f"{init}|{activation}|{depth}"


def _num(v):
    """A float for JSON: 4 significant digits (what the page shows), None when not finite."""
    v = float(v)
    return float(f"{v:.4g}") if math.isfinite(v) else None


def _histogram(values, bins):
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, _ = np.histogram(v, bins=bins, range=(lo, hi))
    return {"lo": _num(lo), "hi": _num(hi), "counts": [int(c) for c in counts]}


def _one_pass(spec, activation, depth, width, batch, seed):
    """Per hidden layer: activation matrix and its gradient, from one forward/backward pass."""
    rng = as_generator(seed, "explorer")
    model = nn.MLP([width] * (depth + 1) + [10], activation=activation, weight_init=spec, rng=rng)
    X = rng.standard_normal((batch, width)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    h = Tensor(X)
    hidden = []
    with np.errstate(all="ignore"):
        for i, layer in enumerate(model):
            h = layer(h)
            if i < depth:
                h.retain_grad()
                hidden.append(h)
        cross_entropy(h, y).backward()
    return [(np.asarray(t.data, dtype=np.float64), None if t.grad is None else np.asarray(t.grad, np.float64))
            for t in hidden]


def _layer_numbers(a, g, activation):
    with np.errstate(all="ignore"):
        nums = {"mean": float(np.mean(a)), "std": float(np.std(a)),
                "grad_std": float(np.std(g)) if g is not None else float("nan")}
    nums["dead"] = float(np.mean((a <= 0).all(axis=0))) if activation == "relu" else None
    if activation == "tanh":
        nums["saturated"] = float(np.mean(np.abs(a) > 0.99))
    elif activation == "sigmoid":
        nums["saturated"] = float(np.mean((a < 0.01) | (a > 0.99)))
    else:
        nums["saturated"] = None
    nums["distinct"] = int(np.unique(a.T, axis=0).shape[0]) if np.isfinite(a).all() else None
    return nums


def _reading(layers):
    first, last = layers[0], layers[-1]
    if all(r["std"] == 0 for r in layers):
        text = "no signal: every hidden unit outputs the same constant for every input"
    else:
        ratio_a = last["std"] / first["std"] if first["std"] else float("nan")
        ratio_g = first["grad_std"] / last["grad_std"] if last["grad_std"] else float("nan")
        parts = []
        sat = [r["saturated"] for r in layers if r["saturated"] is not None]
        if sat and np.mean(sat) > 0.5:
            parts.append("saturated")
        if trend(ratio_a):
            parts.append(f"activations {trend(ratio_a)}")
        if trend(ratio_g):
            parts.append(f"gradients {trend(ratio_g)}")
        text = ", ".join(parts) or "overflow to inf/NaN"
    if all(r["distinct"] == 1 for r in layers):
        text += "; every unit of a layer identical (1 distinct unit per layer)"
    return text


def explorer_grid(inits=EXPLORER_INITS, activations=EXPLORER_ACTIVATIONS, depths=EXPLORER_DEPTHS, width=100,
                  batch=128, seeds=3, seed=0, bins=24):
    """The explorer's grid as a JSON-ready dict: the axes (``inits``, ``activations``,
    ``depths``), the settings, ``claims`` and ``cells[cell_key(init, activation, depth)]``
    = ``{"reading", "layers": [{"layer", "mean", "std", "grad_std", "dead", "saturated",
    "distinct", "hist", "grad_hist"}, ...]}`` (medians over ``seeds`` networks; the
    histograms ``{"lo", "hi", "counts"}`` are the first seed's)."""
    specs = as_specs(inits)
    grid = {"inits": [label for label, _ in specs], "activations": list(activations), "depths": list(depths),
            "width": width, "batch": batch, "seeds": list(range(seed, seed + seeds)), "cells": {},
            "claims": [dict(zip(("id", "init", "activation", "depth", "title", "text"), c)) for c in CLAIMS
                       if c[1] in [lb for lb, _ in specs] and c[2] in activations and c[3] in depths]}
    for label, spec in specs:
        for act in activations:
            for depth in depths:
                passes = [_one_pass(spec, act, depth, width, batch, s) for s in grid["seeds"]]
                layers = []
                for i in range(depth):
                    per_seed = [_layer_numbers(p[i][0], p[i][1], act) for p in passes]
                    row = {"layer": i + 1}
                    for k in per_seed[0]:
                        vals = [r[k] for r in per_seed if r[k] is not None]
                        row[k] = float(np.median(vals)) if vals else None
                    a, g = passes[0][i]
                    row["hist"] = _histogram(a, bins)
                    row["grad_hist"] = None if g is None else _histogram(g, bins)
                    layers.append(row)
                reading = _reading(layers)
                for row in layers:
                    for k in ("mean", "std", "grad_std", "dead", "saturated", "distinct"):
                        row[k] = None if row[k] is None else _num(row[k])
                grid["cells"][cell_key(label, act, depth)] = {"reading": reading, "layers": layers}
    return grid

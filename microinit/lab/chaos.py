"""The ``edge-of-chaos`` experiment: mean-field theory (``microinit.theory``) beside
measurements on microinit's own networks.

For each ``(sigma_w2, sigma_b2)`` of a grid, networks of ``nn.Dense`` layers with weights
``N(0, sigma_w2 / fan_in)`` and biases ``N(0, sigma_b2)`` are probed at initialization:

* correlation depth: pairs of inputs (orthogonal in the ordered phase, 0.6 less
  correlated than ``c*`` in the chaotic one) are pushed through ``depth`` layers and
  the correlation ``c^l`` of their pre-activations is measured per layer; its distance
  to the theory's fixed point, ``|c^l - c*|``, decays like ``exp(-l / xi_c)``, so a
  straight-line fit of ``log |c^l - c*|`` against ``l`` gives the measured ``xi_c``;
* gradient depth: the std of dL/da per layer grows or shrinks by ``sqrt(chi1)`` per
  layer backwards; the fitted rate gives the measured ``chi1``.

Then the trainability claim of Schoenholz et al. (2017), that a network trains when it
is no deeper than about ``6 xi_c``, is tested on a few points: the same ``sigma_w2,
sigma_b2`` at depths of a few ``xi_c`` and of many, each trained on a small problem on
several seeds, with a verdict only where 80% of the seeds agree.

>>> t = edge_of_chaos(sigma_w2s=[1.0], sigma_b2s=[0.05], depth=30, width=64, seeds=1, train_points=())
>>> row = t.rows[0]
>>> row["phase"], round(row["xi_c"], 2), 0.7 < row["xi_c_measured"] / row["xi_c"] < 1.3
('ordered', 3.63, True)
"""
import math

import numpy as np

from microinit import nn, optim, theory
from microinit.diagnostics import Table, percent
from microinit.lab.figures import plot_edge_of_chaos
from microinit.lab.runs import train_run
from microinit.lab.summary import ROBUST_SHARE
from microinit.rng import as_generator
from microinit.losses import cross_entropy
from microinit.tensor import Tensor, no_grad

__all__ = ["edge_of_chaos", "random_network", "correlation_per_layer", "fit_depth", "CHAOS_SIGMA_W2",
           "CHAOS_SIGMA_B2", "TRAIN_POINTS"]

CHAOS_SIGMA_W2 = (0.8, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0)
CHAOS_SIGMA_B2 = (0.05, 0.2)
#: (sigma_w2, sigma_b2, depth in units of xi_c): an ordered and a chaotic point, each
#: well inside 6 xi_c and well beyond it
TRAIN_POINTS = ((1.0, 0.05, 2), (1.0, 0.05, 15), (4.0, 0.05, 2), (4.0, 0.05, 15))


def random_network(width, depth, activation, sigma_w2, sigma_b2, seed, n_out=None):
    """``[(Dense, activation module), ...]`` for ``depth`` layers of ``width`` units, weights
    ``N(0, sigma_w2 / width)``, biases ``N(0, sigma_b2)``; with ``n_out`` a last linear
    ``Dense(width, n_out)`` is appended (paired with ``None``).

    >>> [type(d).__name__ + "+" + type(a).__name__ for d, a in random_network(4, 2, "tanh", 1.0, 0.1, seed=0)]
    ['Dense+Tanh', 'Dense+Tanh']
    """
    rng = as_generator(seed, "random_network")
    w = {"name": "normal", "std": math.sqrt(sigma_w2 / width)}
    b = {"name": "normal", "std": math.sqrt(sigma_b2)} if sigma_b2 > 0 else "zeros"
    layers = [(nn.Dense(width, width, weight_init=w, bias_init=b, rng=rng), nn.activation_module(activation))
              for _ in range(depth)]
    if n_out:
        layers.append((nn.Dense(width, n_out, weight_init=w, bias_init=b, rng=rng), None))
    return layers


def correlation_per_layer(layers, pairs, seed, c0=0.0):
    """The mean correlation ``c^l = <z_a, z_b> / sqrt(<z_a, z_a> <z_b, z_b>)`` of the
    pre-activations of ``pairs`` pairs of inputs of unit length per unit and correlation
    ``c0``, per layer (a float64 array of ``len(layers)``)."""
    width = layers[0][0].weight.shape[0]
    rng = as_generator(seed, "correlation_per_layer")
    g = rng.standard_normal((2 * pairs, width))
    a, b = g[:pairs], g[pairs:]
    b = b - a * (np.sum(a * b, 1, keepdims=True) / np.sum(a * a, 1, keepdims=True))   # orthogonal to a
    a = a / np.sqrt(np.mean(a * a, 1, keepdims=True))
    b = c0 * a + math.sqrt(1 - c0 * c0) * b / np.sqrt(np.mean(b * b, 1, keepdims=True))
    x = np.concatenate([a, b]).astype(np.float32)
    out = []
    with no_grad():
        h = x
        for dense, act in layers:
            z = dense(h)
            zd = np.asarray(z.data, dtype=np.float64)
            za, zb = zd[:pairs], zd[pairs:]
            out.append(float(np.mean(np.sum(za * zb, 1) / np.sqrt(np.sum(za * za, 1) * np.sum(zb * zb, 1)))))
            h = act(z) if act is not None else z
    return np.array(out)


def fit_depth(values, floor):
    """``-1 / slope`` of a least-squares line through ``log(values)`` against the layer
    (1, 2, ...), over the layers before ``values`` first falls under ``floor``: the depth
    over which they shrink by ``e``. ``inf`` when they do not shrink; NaN with fewer than
    three usable layers.

    >>> round(fit_depth(0.5 * np.exp(-np.arange(1, 20) / 4.0), 1e-6), 6)
    4.0
    """
    v = np.asarray(values, dtype=np.float64)
    below = np.nonzero(~(v > floor))[0]
    k = int(below[0]) if below.size else v.size
    if k < 3:
        return float("nan")
    slope = np.polyfit(np.arange(1, k + 1), np.log(v[:k]), 1)[0]
    return float("inf") if slope >= 0 else float(-1.0 / slope)


def _gradient_chi1(layers, batch, seed):
    """chi1 measured: the mean squared gradient dL/da grows by chi1 per layer backwards
    (one backward pass of a cross-entropy loss against random labels)."""
    width = layers[0][0].weight.shape[0]
    rng = as_generator(seed, "gradient_chi1")
    h = Tensor(rng.standard_normal((batch, width)).astype(np.float32))
    hidden = []
    for dense, act in layers:
        h = dense(h) if act is None else act(dense(h))
        if act is not None:
            h.retain_grad()
            hidden.append(h)
    cross_entropy(h, rng.integers(0, 2, batch)).backward()
    g = np.array([float(np.std(np.asarray(t.grad, dtype=np.float64))) for t in hidden])
    g = g[np.isfinite(g) & (g > 0)]
    if g.size < 3:
        return float("nan")
    return float(math.exp(-2 * np.polyfit(np.arange(g.size), np.log(g), 1)[0]))


def _teacher_data(n, width, seed):
    # A problem any shallow net solves: the sign of a random linear function of the input.
    rng = as_generator(seed, "teacher_data")
    X = rng.standard_normal((n, width)).astype(np.float32)
    y = (X @ rng.standard_normal(width) > 0).astype(np.int64)
    return X, y


def _train_point(activation, sw, sb, depth, width, seeds, epochs, lr):
    runs = []
    for s in seeds:
        X, y = _teacher_data(512, width, s)
        layers = random_network(width, depth, activation, sw, sb, s, n_out=2)
        model = nn.Sequential([m for pair in layers for m in pair if m is not None])
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        losses, err = train_run(model, X, y, opt, epochs, 32, s)
        with no_grad():
            acc = float(np.mean(np.asarray(model(X).data).argmax(1) == y)) if err is None else float("nan")
        runs.append(acc)
    n = len(runs)
    need = math.ceil(ROBUST_SHARE * n)
    good = sum(a >= 0.8 for a in runs)
    bad = sum(not a >= 0.65 for a in runs)
    if good >= need:
        verdict = f"trains in {good} of {n} seeds"
    elif bad >= need:
        verdict = f"does not train in {bad} of {n} seeds"
    else:
        verdict = f"no clear outcome over {n} seeds"
    return float(np.median(runs)), runs, verdict


def edge_of_chaos(activation="tanh", sigma_w2s=CHAOS_SIGMA_W2, sigma_b2s=CHAOS_SIGMA_B2, depth=60, width=128,
                  pairs=16, seed=0, seeds=2, train_points=TRAIN_POINTS, train_width=32, epochs=8, lr=0.01):
    """Depth scales of the theory beside the measured ones, on a ``sigma_w2 x sigma_b2`` grid.

    One row per grid point: the theory's ``q*``, ``chi1``, ``c*`` and ``xi_c``
    (``microinit.theory``), the measured correlation depth and ``chi1`` (medians over
    ``seeds`` networks of ``depth`` layers of ``width`` units, ``pairs`` input pairs
    each) and the phase. A second table tests trainability at ``train_points``
    (``(sigma_w2, sigma_b2, depth / xi_c)``): ``train_width``-wide networks trained for
    ``epochs`` on a linearly separable problem, on ``max(seeds, 3)`` seeds; expected: a
    network of a few ``xi_c`` trains, one of ``15 xi_c`` does not (Schoenholz et al.
    2017: trainable up to ~6 ``xi_c``).
    """
    seed_list = list(range(seed, seed + seeds))
    table = Table(["sigma_w2", "sigma_b2", "phase", "q_star", "chi1", "c_star", "xi_c", "xi_c_measured",
                   "chi1_measured"],
                  title=(f"edge-of-chaos: {activation}, {depth} layers x {width} units, {pairs} input pairs, "
                         f"seeds {seed_list[0]}-{seed_list[-1]} (medians); theory: microinit.theory"),
                  plotter=plot_edge_of_chaos)
    table.data.update(activation=activation, curves={}, depth=depth, grid={})
    for sb in sigma_b2s:
        for sw in sigma_w2s:
            q = theory.fixed_point_q(activation, sw, sb)
            c_star = theory.fixed_point_c(activation, sw, sb)
            chi = theory.chi1(activation, sw, sb)
            xi_c = theory.depth_scales(activation, sw, sb)[1]
            xis, chis, gaps = [], [], []
            for s in seed_list:
                layers = random_network(width, depth, activation, sw, sb, s)
                # start far from c*: orthogonal inputs in the ordered phase (c* = 1); in the
                # chaotic phase 0.6 below c* (above it the map's slope near c = 1 is chi1,
                # not chi_c, and the early layers would measure that instead)
                c0 = 0.0 if c_star >= 1.0 else max(-0.9, c_star - 0.6)
                c = correlation_per_layer(layers, pairs, s, c0=c0)
                gap = np.abs(c - c_star)
                gaps.append(gap)
                # the finite-width noise of c: ~1/sqrt(width * pairs) around c* < 1; none at c* = 1
                floor = 1e-5 if c_star >= 1.0 else 3.0 / math.sqrt(width * pairs)
                xis.append(fit_depth(gap, floor))
                chis.append(_gradient_chi1(random_network(width, depth, activation, sw, sb, s, n_out=2), 64, s))
            table.data["curves"][(sw, sb)] = np.median(gaps, axis=0)
            table.append({"sigma_w2": sw, "sigma_b2": sb, "phase": "ordered" if c_star >= 1.0 else "chaotic",
                          "q_star": q, "chi1": chi, "c_star": c_star, "xi_c": xi_c,
                          "xi_c_measured": float(np.median(xis)), "chi1_measured": float(np.median(chis))})
    table.notes.append("xi_c: the depth over which |c - c*| shrinks by e (theory: -1/log chi_c; measured: a line "
                       "fitted to log|c^l - c*|); chi1: how much the mean squared gradient grows per layer "
                       "backwards (measured from dL/da per layer).")
    if train_points:
        table.sections.append(_trainability(activation, train_points, train_width, epochs, lr,
                                            list(range(seed, seed + max(seeds, 3)))))
    return table


def _trainability(activation, points, width, epochs, lr, seeds):
    side = Table(["sigma_w2", "sigma_b2", "xi_c", "depth", "depth/xi_c", "train_acc", "per_seed", "reading"],
                 formats={"train_acc": percent, "per_seed": lambda v: "/".join(f"{100 * a:.0f}%" for a in v)},
                 title=(f"trainability: {width}-wide {activation} nets, SGD lr={lr} momentum=0.9, {epochs} epochs "
                        f"on 512 points (sign of a random linear function), seeds {seeds[0]}-{seeds[-1]}; "
                        "expected: trains up to ~6 xi_c"))
    for sw, sb, times in points:
        xi_c = theory.depth_scales(activation, sw, sb)[1]
        depth = max(1, round(times * xi_c))
        acc, runs, verdict = _train_point(activation, sw, sb, depth, width, seeds, epochs, lr)
        side.append({"sigma_w2": sw, "sigma_b2": sb, "xi_c": xi_c, "depth": depth, "depth/xi_c": depth / xi_c,
                     "train_acc": acc, "per_seed": runs, "reading": verdict})
    return side

"""The lab's experiments, each returning a ``Table`` that prints and draws its figure
(``edge_of_chaos`` lives in ``microinit.lab.chaos``).

What each shows, and the expected outcome, is in its docstring; the package docstring
(``microinit.lab``) lists them.
"""
import math

import numpy as np

from microinit import data, init, nn, optim
from microinit.diagnostics import Table, layer_stats, percent
from microinit.lab.chaos import edge_of_chaos
from microinit.lab.figures import plot_custom, plot_deep_relu, plot_depth, plot_lsuv, plot_symmetry
from microinit.lab.runs import deep_mlp, gaussian_batch, split, train_run
from microinit.lab.specs import as_specs
from microinit.lab.summary import ROBUST_SHARE, SUMMARY_COLUMNS, SUMMARY_FORMATS, summarize
from microinit.rng import as_generator
from microinit.training import evaluate

__all__ = ["symmetry", "depth", "deep_relu", "lsuv", "custom", "edge_of_chaos", "training_verdict", "EXPERIMENTS",
           "DEPTH_INITS", "SYMMETRY_INITS"]


DEPTH_INITS = ("normal(std=0.01)", "normal(std=1.0)", "xavier_uniform", "he_normal", "lecun_normal",
               "orthogonal")


# ---------------------------------------------------------------------- depth
def depth(depth=30, width=100, batch=256, activations=("tanh", "relu"), inits=DEPTH_INITS, seed=0,
          n_classes=10, dtype=np.float32):
    """Activation and gradient std per layer of a deep MLP, for each initializer.

    For each activation and initializer: an MLP of ``depth`` hidden layers of ``width``
    units (and a linear output of ``n_classes``) gets one forward and backward pass of a
    Gaussian batch (``layer_stats``, cross-entropy against random labels). The table
    shows the first and last hidden layer's activation std and gradient std, the
    gradient ratio first/last, saturation (tanh) and dead units (ReLU), the number of
    inf/NaN values and a reading. Expected (Glorot & Bengio 2010, He et al. 2015):
    normal(0.01) -> everything vanishes geometrically; normal(1.0) -> tanh saturates,
    ReLU explodes (up to inf); Xavier -> tanh steady; He -> ReLU steady.

    >>> t = depth(depth=20, width=32, batch=64, activations=["tanh"], inits=["xavier_uniform", "normal(std=1.0)"])
    >>> for row in t.rows:
    ...     print(row["init"], "->", row["reading"])
    xavier_uniform -> activations shrink, gradients steady
    normal(std=1.0) -> saturated, activations steady, gradients explode
    """
    rng = as_generator(seed)
    X, y = gaussian_batch(batch, width, n_classes, rng)
    table = Table(["activation", "init"] + SUMMARY_COLUMNS, formats=SUMMARY_FORMATS,
                  title=(f"depth: {depth} hidden layers x {width} units, batch {batch}, {np.dtype(dtype).name}; "
                         f"first = layer 1, last = layer {depth}; grad = std of dL/da"),
                  plotter=plot_depth)
    table.data.update(stats={}, depth=depth, width=width)
    for act in activations:
        for label, spec in as_specs(inits):
            model = deep_mlp(width, width, depth, n_classes, act, spec, seed, dtype)
            stats = layer_stats(model, X.astype(dtype), y, keep_values=True, title=f"{act}, {label}")
            table.data["stats"][(act, label)] = stats
            table.append({"activation": act, "init": label, **summarize(stats)})
    table.notes.append("grad_ratio = grad_first / grad_last: the part of the gradient at the last hidden "
                       "layer that is left at the first (1 = steady, << 1 vanishing, >> 1 exploding).")
    return table


# ---------------------------------------------------------------------- symmetry
SYMMETRY_INITS = ("zeros", "constant(value=0.3)", "normal(std=0.01)", "xavier_uniform")


def symmetry(inits=SYMMETRY_INITS, width=16, hidden=2, activation="tanh", n=600, noise=0.1, epochs=60,
             lr=0.01, batch_size=32, seed=0):
    """Zero and constant initialization never break the symmetry between hidden units.

    An MLP with ``hidden`` layers of ``width`` units is trained with Adam on the two
    moons (a non-linear problem) for each initializer, next to a linear model
    (``Dense(2, 2)``) trained the same way. After training, the table shows the
    symmetry of the last hidden layer (largest cosine between two units' weight
    vectors; 1.0 = clones), the number of distinct units in each hidden layer, and
    accuracy. Identical units receive identical gradients, so zeros and constants stay
    at 1 distinct unit per layer: the network is a chain of single units, no better than
    the linear model (zeros: the hidden outputs stay exactly 0 and only the output bias
    learns, so it predicts one class). Random initialization gives every unit its own
    direction and reaches ~100%.

    >>> t = symmetry(inits=["zeros", "xavier_uniform"], n=200, epochs=5)
    >>> [(row["model"], row["distinct"]) for row in t.rows[1:]]
    [('zeros', '1, 1 of 16'), ('xavier_uniform', '16, 16 of 16')]
    """
    X, y = data.moons(n, noise=noise, rng=as_generator(seed))
    Xtr, Xte, ytr, yte = split(X, y, seed)
    table = Table(["model", "symmetry", "distinct", "loss", "train_acc", "test_acc", "reading"],
                  formats={"train_acc": percent, "test_acc": percent},
                  title=(f"symmetry: MLP 2 -> {' -> '.join([str(width)] * hidden)} -> 2 ({activation}) on moons "
                         f"(n={n}, noise={noise}), Adam lr={lr}, {epochs} epochs"),
                  plotter=plot_symmetry)
    table.data.update(models={}, X=X, y=y)
    lin = nn.Dense(2, 2, weight_init="xavier_uniform", rng=as_generator(seed))
    losses, err = train_run(lin, Xtr, ytr, optim.Adam(lin.parameters(), lr=lr), epochs, batch_size, seed)
    lin_acc = evaluate(lin, "cross_entropy", (Xte, yte))[1]
    table.append({"model": "linear model (Dense 2->2)", "loss": losses[-1] if losses else None,
                  "train_acc": evaluate(lin, "cross_entropy", (Xtr, ytr))[1], "test_acc": lin_acc,
                  "reading": "the baseline: a straight boundary"})
    table.data["models"]["linear"] = lin
    for label, spec in as_specs(inits):
        model = nn.MLP([2] + [width] * hidden + [2], activation=activation, weight_init=spec,
                       rng=as_generator(seed))
        losses, err = train_run(model, Xtr, ytr, optim.Adam(model.parameters(), lr=lr), epochs, batch_size, seed)
        stats = layer_stats(model, Xtr, ytr)
        hid = stats.to_records()[:-1]
        train_acc = evaluate(model, "cross_entropy", (Xtr, ytr))[1]
        test_acc = evaluate(model, "cross_entropy", (Xte, yte))[1]
        clones = all(r["distinct"] == 1 for r in hid)
        if err:
            reading = "diverged (inf/NaN)"
        elif clones:
            reading = "every hidden unit identical" + (" (and 0)" if all(r["std"] == 0 for r in hid) else "")
        elif hid[-1]["symmetry"] > 0.99:
            reading = "barely broken: units nearly parallel"
        else:
            reading = "symmetry broken"
        table.append({"model": label, "symmetry": hid[-1]["symmetry"],
                      "distinct": ", ".join(str(r["distinct"]) for r in hid) + f" of {width}",
                      "loss": losses[-1] if losses else None, "train_acc": train_acc, "test_acc": test_acc,
                      "reading": reading})
        table.data["models"][label] = model
    table.notes.append("symmetry: largest cosine similarity between two units' weight vectors in the last hidden "
                       "layer (1.0 = clones); distinct: units per hidden layer that are not clones of another.")
    return table


# ---------------------------------------------------------------------- deep relu
def _median_curve(curves):
    """Per epoch, the median loss over the runs that reached it (None where none did)."""
    longest = max((len(c) for c in curves), default=0)
    return [float(np.median([c[e] for c in curves if len(c) > e])) for e in range(longest)]


def training_verdict(runs, chance):
    """The outcome of training over the seeds, from ``runs`` = ``[(losses per epoch, error
    text or None), ...]`` (one per seed) and the chance-level loss: diverged, stalls at
    chance, or trains (final loss under half the first) only when ``ROBUST_SHARE`` of the
    seeds agree; otherwise "no clear outcome" with the final losses.

    >>> training_verdict([([0.69, 0.20], None), ([0.69, 0.25], None)], chance=0.693)
    'trains in 2 of 2 seeds'
    """
    n = len(runs)
    need = math.ceil(ROBUST_SHARE * n)
    diverged = [losses for losses, err in runs if err]
    if len(diverged) >= need:
        return f"diverged (inf/NaN) after {max(len(c) for c in diverged)} epoch(s) in {len(diverged)} of {n} seeds"
    done = [losses for losses, err in runs if not err and losses]
    stalls = sum(abs(c[-1] - chance) < 0.03 * chance for c in done)
    trains = sum(c[-1] < 0.5 * c[0] for c in done)
    if stalls >= need:
        return f"stalls at chance (loss ~ ln 2) in {stalls} of {n} seeds"
    if trains >= need:
        return f"trains in {trains} of {n} seeds"
    return f"no clear outcome over {n} seeds: final losses " + "/".join(
        f"{c[-1]:.3g}" if c else "-" for c, _ in runs)


def deep_relu(depth=30, width=64, inits=("xavier_uniform", "he_normal"), n=600, epochs=30, lr=0.001,
              momentum=0.9, batch_size=64, seed=0, seeds=3):
    """He et al. (2015) in miniature: a ``depth``-layer ReLU MLP trained with Xavier and He.

    Same data (two moons), same seed, same optimizer (SGD with momentum, the learning
    rate annealed to 0 on a cosine so the last epochs settle) and budget for every
    initializer. Xavier's variance 1/fan halves the signal's second moment at every
    ReLU layer, so after 30 layers the output barely depends on the input and the loss
    stalls at chance (ln 2); He's 2/fan compensates and the network trains.
    Each initializer is trained ``seeds`` times (seeds ``seed``, ``seed + 1``, ...: data,
    weights and shuffling); the table shows medians over them (the last hidden layer's
    activation std and the gradient ratio first/last at initialization, the loss after
    the first and last epoch, the accuracies) and a reading that names an outcome only
    when 80% of the seeds agree (``ROBUST_SHARE``). The median loss curves are printed
    side by side below it.

    >>> t = deep_relu(depth=10, width=16, n=200, epochs=2, seeds=1)
    >>> t.rows[0]["init"], t.rows[0]["reading"]
    ('xavier_uniform', 'stalls at chance (loss ~ ln 2) in 1 of 1 seeds')
    """
    seed_list = list(range(seed, seed + seeds))
    splits = {}
    for s in seed_list:
        X, y = data.moons(n, rng=as_generator(s))
        splits[s] = split(X, y, s)
    table = Table(["init", "std_last", "grad_ratio", "loss_first", "loss_last", "train_acc", "test_acc", "reading"],
                  formats={"train_acc": percent, "test_acc": percent},
                  title=(f"deep-relu: {depth} hidden ReLU layers x {width} units on moons (n={n}), "
                         f"SGD lr={lr} momentum={momentum} cosine decay, batch {batch_size}, {epochs} epochs, "
                         + (f"seed {seed}" if seeds == 1 else f"seeds {seed_list[0]}-{seed_list[-1]} (medians)")),
                  plotter=plot_deep_relu)
    curves = {}
    table.data.update(curves=curves, stats={}, depth=depth, seeds=seed_list)
    chance = math.log(2)
    for label, spec in as_specs(inits):
        runs, numbers = [], []
        for s in seed_list:
            Xtr, Xte, ytr, yte = splits[s]
            model = deep_mlp(2, width, depth, 2, "relu", spec, s)
            stats = layer_stats(model, Xtr, ytr)
            table.data["stats"].setdefault(label, stats)      # the figure shows the first seed's network
            at_init = summarize(stats)
            opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
            losses, err = train_run(model, Xtr, ytr, opt, epochs, batch_size, s,
                                    callbacks=[optim.CosineLR(opt, T_max=epochs)])
            runs.append((losses, err))
            numbers.append({"std_last": at_init["std_last"], "grad_ratio": at_init["grad_ratio"],
                            "train_acc": evaluate(model, "cross_entropy", (Xtr, ytr))[1],
                            "test_acc": evaluate(model, "cross_entropy", (Xte, yte))[1]})
        curves[label] = _median_curve([losses for losses, _ in runs])
        done = [losses for losses, _ in runs if losses]
        table.append({"init": label, **{k: float(np.median([x[k] for x in numbers])) for k in numbers[0]},
                      "loss_first": float(np.median([c[0] for c in done])) if done else None,
                      "loss_last": float(np.median([c[-1] for c in done])) if done else None,
                      "reading": training_verdict(runs, chance)})
    table.notes.append("std_last, grad_ratio: at initialization (activation std of the last hidden layer; "
                       "gradient std layer 1 / last hidden layer). Chance-level loss: ln 2 = 0.693.")
    labels = list(curves)
    step = max(1, epochs // 10)
    shown = sorted(set(list(range(1, epochs + 1, step)) + [epochs]))
    side = Table(["epoch"] + [f"loss {lb}" for lb in labels],
                 title="loss per epoch, side by side" + ("" if seeds == 1 else " (median over the seeds)"))
    for e in shown:
        side.append({"epoch": e, **{f"loss {lb}": (curves[lb][e - 1] if len(curves[lb]) >= e else None)
                                    for lb in labels}})
    table.sections.append(side)
    return table


# ---------------------------------------------------------------------- lsuv
def lsuv(depth=20, width=64, activation="tanh", inits=("he_normal", "orthogonal", "lsuv"), n=600,
         epochs=10, lr=0.003, momentum=0.9, batch_size=32, seed=0):
    """LSUV (Mishkin & Matas 2016) versus He versus orthogonal on a deep network.

    A ``depth``-layer MLP on the 3-class spirals: for each initializer the variance of
    every layer's pre-activation at initialization (LSUV rescales each layer until it is
    1 on a data batch), then the loss of the first ``epochs`` epochs of SGD with
    momentum from that start. ``"lsuv"`` means orthogonal pre-init then ``init.lsuv``
    on the first 256 training examples.

    >>> t = lsuv(depth=5, width=16, n=300, epochs=2)
    >>> [(row["init"], round(float(row["var_first"]), 2)) for row in t.rows]
    [('he_normal', 0.46), ('orthogonal', 0.03), ('lsuv', 1.0)]
    """
    X, y = data.spirals(n, rng=as_generator(seed))
    Xtr, Xte, ytr, yte = split(X, y, seed)
    k = int(y.max()) + 1
    cols = ["init", "var_first", "var_last", "var_output", "lsuv_iters"] + \
        [f"loss_{e}" for e in range(1, epochs + 1)] + ["test_acc"]
    table = Table(cols, formats={"test_acc": percent},
                  title=(f"lsuv: {depth} hidden {activation} layers x {width} units on spirals ({k} classes), "
                         f"SGD lr={lr} momentum={momentum}, {epochs} epochs"),
                  plotter=plot_lsuv)
    table.data.update(stats={}, curves={}, depth=depth)
    # "lsuv" is a procedure run on a built model, not a registry entry.
    specs = [("lsuv", "lsuv") if isinstance(s, str) and s.lower() == "lsuv" else as_specs([s])[0] for s in inits]
    for label, spec in specs:
        is_lsuv = spec == "lsuv"
        model = deep_mlp(2, width, depth, k, activation, "orthogonal" if is_lsuv else spec, seed)
        iters = None
        if is_lsuv:
            report = init.lsuv(model, Xtr[:256], rng=as_generator(seed))
            iters = int(sum(r["iterations"] for r in report))
        stats = layer_stats(model, Xtr, ytr)
        pre_var = stats.column("pre_std") ** 2
        table.data["stats"][label] = stats
        opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        losses, err = train_run(model, Xtr, ytr, opt, epochs, batch_size, seed)
        table.data["curves"][label] = losses
        row = {"init": label, "var_first": pre_var[0], "var_last": pre_var[-2], "var_output": pre_var[-1],
               "lsuv_iters": iters, "test_acc": evaluate(model, "cross_entropy", (Xte, yte))[1]}
        row.update({f"loss_{e}": (losses[e - 1] if len(losses) >= e else None) for e in range(1, epochs + 1)})
        table.append(row)
        if err:
            table.notes.append(f"{label}: {err}")
    table.notes.append("var_*: variance of the pre-activation z = x @ W + b at initialization (first hidden, "
                       "last hidden, output layer); lsuv_iters: rescalings LSUV needed in all.")
    return table


# ---------------------------------------------------------------------- custom
def custom(inits=("he_normal",), activations=("relu",), depths=(20,), widths=(64,), batch=256, seed=0,
           n_classes=10, dtype=np.float32):
    """Any initializer(s) x activation(s) x depth(s) x width(s): one row per combination
    with the same columns as ``depth`` (a Gaussian batch, one forward/backward pass).

    Initializers are registry specs: names, ``normal(std=0.05)`` calls, JSON configs,
    callables ``fn(shape, dtype=, rng=)`` or dicts.

    >>> t = custom(inits=["he_normal"], activations=["relu", "tanh"], depths=[8], widths=[32], batch=64)
    >>> [(row["activation"], row["depth"], row["reading"]) for row in t.rows]
    [('relu', 8, 'activations steady, gradients steady'), ('tanh', 8, 'activations steady, gradients steady')]
    """
    specs = as_specs(inits)
    table = Table(["init", "activation", "depth", "width"] + SUMMARY_COLUMNS, formats=SUMMARY_FORMATS,
                  title=f"custom: batch {batch}, {np.dtype(dtype).name}, seed {seed}", plotter=plot_custom)
    table.data["stats"] = {}
    rng = as_generator(seed)
    for w in widths:
        X, y = gaussian_batch(batch, int(w), n_classes, rng)
        for d in depths:
            for act in activations:
                for label, spec in specs:
                    model = deep_mlp(int(w), int(w), int(d), n_classes, act, spec, seed, dtype)
                    stats = layer_stats(model, X.astype(dtype), y)
                    table.data["stats"][f"{label}, {act}, {d}x{w}"] = stats
                    table.append({"init": label, "activation": act, "depth": int(d), "width": int(w),
                                  **summarize(stats)})
    return table


EXPERIMENTS = {"symmetry": symmetry, "depth": depth, "deep-relu": deep_relu, "lsuv": lsuv,
               "edge-of-chaos": edge_of_chaos, "custom": custom}

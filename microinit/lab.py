"""The init lab: experiments that show, with numbers and figures, what initialization does.

Each experiment is a function returning a ``Table`` (``microinit.diagnostics``) that
prints, converts (``to_dict``/``to_records``) and draws its figure (``plot(path)``,
with the ``plot`` extra). From the command line: ``microinit initlab <experiment>``.

=============  =============================================================================
``symmetry``   zero/constant init: hidden units stay clones (symmetry 1.0) and the network
               is no better than a linear model; random init breaks the symmetry
``depth``      activation and gradient std per layer of deep tanh and ReLU MLPs under
               normal(0.01), normal(1.0), Xavier, He, LeCun and orthogonal init
``deep_relu``  a 30-layer ReLU MLP trained with Xavier and with He: He trains, Xavier stalls
``lsuv``       LSUV vs He vs orthogonal: variance per layer and the first epochs' loss
``custom``     any initializer(s) x activation x depth x width from the command line
=============  =============================================================================

>>> from microinit import lab
>>> table = lab.depth(depth=20, width=64, seed=0)          # doctest: +SKIP
>>> print(table); table.plot("depth.png")                  # doctest: +SKIP

Readings in the tables are computed from the measured numbers, with these thresholds:
a first/last ratio below 0.01 "vanishes", above 100 "explodes", outside [0.2, 5]
"shrinks"/"grows", otherwise it is "steady".
"""
import json
import math
import os
import re
import sys

import numpy as np

from microinit import data as _data
from microinit import init as _init
from microinit import nn, optim
from microinit.diagnostics import Table, layer_stats, log_y, percent, positive, require_matplotlib
from microinit.training import evaluate, fit

__all__ = ["symmetry", "depth", "deep_relu", "lsuv", "custom", "parse_init", "EXPERIMENTS",
           "add_arguments", "run"]


# ---------------------------------------------------------------------- specs
def parse_init(text):
    """``(label, spec)`` from command-line text: a registry name (``he_normal``), a call
    (``normal(std=0.01)``, ``constant(0.5)`` -- a lone positional value is the first
    parameter) or a JSON config (``{"name": "normal", "std": 0.01}``).

    >>> parse_init("normal(std=0.01)")
    ('normal(std=0.01)', {'name': 'normal', 'std': 0.01})
    """
    if not isinstance(text, str):
        return _label(text), text
    s = text.strip()
    if s.startswith("{"):
        try:
            spec = json.loads(s)
        except json.JSONDecodeError as err:
            raise ValueError(f"initializer config {text!r} is not valid JSON: {err}") from None
        _init.get(spec)
        return _label(spec), spec
    m = re.fullmatch(r"([A-Za-z_][\w]*)\s*(?:\((.*)\))?", s)
    if not m:
        raise ValueError(f"cannot read initializer {text!r}; write a name (he_normal), a call "
                         "(normal(std=0.01)) or a JSON config")
    name, args = m.group(1), m.group(2)
    if not args or not args.strip():
        _init.get(name)
        return name, name
    spec = {"name": name}
    for i, part in enumerate(a.strip() for a in args.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            if i:
                raise ValueError(f"initializer {text!r}: only the first parameter may be positional")
            params = list(_init.entry_for(_init.get(name).name).defaults)
            if not params:
                raise ValueError(f"initializer {name!r} takes no parameters, got {text!r}")
            key, value = params[0], part
        spec[key.strip()] = _number(value.strip())
    _init.get(spec)  # validate now: a bad name or parameter fails before any experiment runs
    return _label(spec), spec


def _number(value):
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value.strip("'\"")


def _label(spec):
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec['name']}({args})" if args else str(spec["name"])
    return getattr(spec, "__name__", str(spec))


def _specs(inits):
    return [parse_init(s) if isinstance(s, str) else (s if isinstance(s, tuple) else (_label(s), s))
            for s in inits]


DEPTH_INITS = ("normal(std=0.01)", "normal(std=1.0)", "xavier_uniform", "he_normal", "lecun_normal",
               "orthogonal")


# ---------------------------------------------------------------------- readings
def _trend(ratio):
    if ratio is None or not math.isfinite(ratio):
        return None
    if ratio < 0.01:
        return "vanish"
    if ratio > 100:
        return "explode"
    if ratio < 0.2:
        return "shrink"
    if ratio > 5:
        return "grow"
    return "steady"


def _reading(std_ratio, grad_ratio, saturated, nonfinite, first_bad=None):
    if nonfinite:
        # Past an overflow the ratios describe inf/NaN (which ReLU turns into 0), not the
        # network: report where it broke instead.
        return "overflow to inf/NaN" + (f" from layer {first_bad}" if first_bad else "")
    parts = []
    if saturated is not None and saturated > 0.5:
        parts.append("saturated")
    a, g = _trend(std_ratio), _trend(grad_ratio)
    if a:
        parts.append(f"activations {a}")
    if g:
        parts.append(f"gradients {g}")
    return ", ".join(parts) or "-"


def _mean_or_none(values):
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def summarize(stats):
    """The per-network numbers the lab tables show, from a ``LayerStats`` table.

    ``std_first``/``std_last``: activation std of the first and last hidden layer;
    ``grad_first``/``grad_last``: std of dL/da there; ``grad_ratio`` = grad_first /
    grad_last (how much of the gradient reaching the last hidden layer is left at the
    first one); ``std_ratio`` = std_last / std_first; saturation and dead units averaged
    over the hidden layers; ``nonfinite`` counts inf/NaN values anywhere.
    """
    hidden = stats.hidden()
    first, last = hidden[0], hidden[-1]
    sat = _mean_or_none(r["saturated"] for r in hidden)
    dead = _mean_or_none(r["dead"] for r in hidden)
    nonfinite = int(sum(stats["nonfinite"]))
    std_ratio, grad_ratio = stats.std_ratio(), stats.grad_ratio()
    if all(r["std"] == 0 and r["mean"] == 0 for r in hidden):
        reading = "no signal: every hidden activation is 0"
    else:
        reading = _reading(std_ratio, grad_ratio, sat, nonfinite,
                           next((r["layer"] for r in stats if r["nonfinite"]), None))
    return {"std_first": first["std"], "std_last": last["std"], "grad_first": first["grad_std"],
            "grad_last": last["grad_std"], "std_ratio": std_ratio, "grad_ratio": grad_ratio,
            "saturated": sat, "dead": dead, "nonfinite": nonfinite,
            "reading": reading}


_SUMMARY_COLUMNS = ["std_first", "std_last", "std_ratio", "grad_first", "grad_last", "grad_ratio", "saturated", "dead",
                    "nonfinite", "reading"]
_SUMMARY_FORMATS = {"saturated": percent, "dead": percent}


def _gaussian_batch(n, width, n_classes, rng):
    """Unit-variance Gaussian inputs and random labels: every layer sees the same kind of
    signal, so differences between layers come from the weights alone."""
    X = rng.standard_normal((n, width)).astype(np.float32)
    y = rng.integers(0, n_classes, n)
    return X, y


def _deep_mlp(n_in, width, depth, n_out, activation, spec, seed, dtype=np.float32):
    return nn.MLP([n_in] + [width] * depth + [n_out], activation=activation, weight_init=spec,
                  rng=np.random.default_rng(seed), dtype=dtype)


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

    >>> t = depth(depth=20, width=64, seed=0)        # doctest: +SKIP
    >>> t.where(activation="tanh", init="xavier_uniform")[0]["grad_ratio"]   # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    X, y = _gaussian_batch(batch, width, n_classes, rng)
    table = Table(["activation", "init"] + _SUMMARY_COLUMNS, formats=_SUMMARY_FORMATS,
                  title=(f"depth: {depth} hidden layers x {width} units, batch {batch}, {np.dtype(dtype).name}; "
                         f"first = layer 1, last = layer {depth}; grad = std of dL/da"),
                  plotter=_plot_depth)
    table.data.update(stats={}, depth=depth, width=width)
    for act in activations:
        for label, spec in _specs(inits):
            model = _deep_mlp(width, width, depth, n_classes, act, spec, seed, dtype)
            stats = layer_stats(model, X.astype(dtype), y, keep_values=True, title=f"{act}, {label}")
            table.data["stats"][(act, label)] = stats
            table.append({"activation": act, "init": label, **summarize(stats)})
    table.notes.append("grad_ratio = grad_first / grad_last: the part of the gradient at the last hidden "
                       "layer that is left at the first (1 = steady, << 1 vanishing, >> 1 exploding).")
    return table


def _colors(n):
    import matplotlib

    name, k = ("tab10", 10) if n <= 10 else ("tab20", 20)
    cmap = matplotlib.colormaps[name]
    return [cmap(i % k) for i in range(n)]


def _integer_x(*axes):
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _per_layer_axes(axes_row, stats_items, what):
    colors = _colors(len(stats_items))
    for (label, stats), c in zip(stats_items, colors):
        hidden = stats.to_records()[:-1]
        layers = [r["layer"] for r in hidden]
        for ax, col in zip(axes_row, what):
            vals = [r[col] for r in hidden]
            ax.plot(layers, positive(vals), "-", marker=".", ms=4, color=c, label=label)
            bad = [l for l, v in zip(layers, vals) if v is not None and not math.isfinite(v)]
            if bad:
                ax.plot(bad, [1.0] * len(bad), "x", color=c, ms=6)
    for ax in axes_row:
        log_y(ax)
        ax.set_xlabel("layer")
        _integer_x(ax)
        ax.grid(True, which="major", alpha=0.3)


def _plot_depth(table, fig):
    acts = list(dict.fromkeys(r["activation"] for r in table.rows))
    fig.set_size_inches(13, 3.6 * len(acts))
    axes = fig.subplots(len(acts), 3, squeeze=False)
    for row, act in zip(axes, acts):
        items = [(label, s) for (a, label), s in table.data["stats"].items() if a == act]
        _per_layer_axes(row[:2], items, ["std", "grad_std"])
        row[0].set(title=f"{act}: activation std per layer", ylabel="std of a (log)")
        row[1].set(title=f"{act}: gradient std per layer", ylabel="std of dL/da (log)")
        ax = row[2]
        colors = _colors(len(items))
        if act in ("tanh", "sigmoid"):
            bins = np.linspace(-1 if act == "tanh" else 0, 1, 61)
            for (label, s), c in zip(items, colors):
                a = s.values[-2]["act"].astype(np.float64)
                a = a[np.isfinite(a)]
                if a.size:
                    ax.hist(a, bins=bins, histtype="step", color=c, label=label, density=True)
            ax.set(title=f"{act}: activations of layer {table.data['depth']}", xlabel="a", ylabel="density")
            log_y(ax, numticks=6)
        else:
            logs = {}
            for label, s in items:
                a = s.values[-2]["act"].astype(np.float64)
                a = a[np.isfinite(a) & (a > 0)]
                if a.size:
                    logs[label] = np.log10(a)
            lo = min((v.min() for v in logs.values()), default=-1.0)
            hi = max((v.max() for v in logs.values()), default=1.0)
            bins = np.linspace(math.floor(lo) - 0.5, math.ceil(hi) + 0.5, 100)
            for (label, _), c in zip(items, colors):
                if label in logs:
                    ax.hist(logs[label], bins=bins, histtype="step", color=c, label=label, density=True)
            ax.set(title=f"{act}: positive activations of layer {table.data['depth']}",
                   xlabel="log10(a)", ylabel="density")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)
    fig.suptitle(f"Per-layer statistics of a {table.data['depth']}-layer, {table.data['width']}-wide MLP "
                 "at initialization (x = inf/NaN)")


# ---------------------------------------------------------------------- training helper
def _train(model, X, y, optimizer, epochs, batch_size, seed):
    """fit() without output -> (loss per epoch, None), or, when training diverges
    (fit's FloatingPointError on an inf/NaN loss or weight), the losses of the epochs
    completed before it and the error text: reported in the table, never raised."""
    loader = _data.DataLoader(X, y, batch_size=batch_size, rng=np.random.default_rng(seed))
    losses = []
    try:
        fit(model, "cross_entropy", optimizer, loader, epochs=epochs, verbose=False,
            callbacks=[lambda epoch, logs: losses.append(logs["loss"])])
        return losses, None
    except FloatingPointError as err:
        return losses, str(err)


def _split(X, y, seed):
    return _data.train_test_split(X, y, test_size=0.25, rng=np.random.default_rng(seed))


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
    """
    X, y = _data.moons(n, noise=noise, rng=np.random.default_rng(seed))
    Xtr, Xte, ytr, yte = _split(X, y, seed)
    table = Table(["model", "symmetry", "distinct", "loss", "train_acc", "test_acc", "reading"],
                  formats={"train_acc": percent, "test_acc": percent},
                  title=(f"symmetry: MLP 2 -> {' -> '.join([str(width)] * hidden)} -> 2 ({activation}) on moons "
                         f"(n={n}, noise={noise}), Adam lr={lr}, {epochs} epochs"),
                  plotter=_plot_symmetry)
    table.data.update(models={}, X=X, y=y)
    lin = nn.Dense(2, 2, weight_init="xavier_uniform", rng=np.random.default_rng(seed))
    losses, err = _train(lin, Xtr, ytr, optim.Adam(lin.parameters(), lr=lr), epochs, batch_size, seed)
    lin_acc = evaluate(lin, "cross_entropy", (Xte, yte))[1]
    table.append({"model": "linear model (Dense 2->2)", "loss": losses[-1] if losses else None,
                  "train_acc": evaluate(lin, "cross_entropy", (Xtr, ytr))[1], "test_acc": lin_acc,
                  "reading": "the baseline: a straight boundary"})
    table.data["models"]["linear"] = lin
    for label, spec in _specs(inits):
        model = nn.MLP([2] + [width] * hidden + [2], activation=activation, weight_init=spec,
                       rng=np.random.default_rng(seed))
        losses, err = _train(model, Xtr, ytr, optim.Adam(model.parameters(), lr=lr), epochs, batch_size, seed)
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


def _plot_symmetry(table, fig):
    models = table.data["models"]
    X, y = table.data["X"], table.data["y"]
    fig.set_size_inches(3.1 * len(models), 3.4)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    pad = 0.5
    gx, gy = np.meshgrid(np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 150),
                         np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 150))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    from microinit.tensor import no_grad

    for ax, (label, model), row in zip(axes, models.items(), table.rows):
        with no_grad():
            pred = np.asarray(model(grid).data).argmax(axis=1).reshape(gx.shape)
        ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"])
        ax.scatter(X[:, 0], X[:, 1], c=np.where(y == 0, "#2171b5", "#d94801"), s=5)
        sub = f"test acc {percent(row['test_acc'])}"
        if row["distinct"]:
            sub += f", distinct units {row['distinct']}"
        ax.set_title(f"{'linear model' if label == 'linear' else label}\n{sub}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    fig.suptitle("Decision regions after training: symmetric initializations stay (at best) linear")


# ---------------------------------------------------------------------- deep relu
def deep_relu(depth=30, width=64, inits=("xavier_uniform", "he_normal"), n=600, epochs=30, lr=0.001,
              momentum=0.9, batch_size=64, seed=0):
    """He et al. (2015) in miniature: a ``depth``-layer ReLU MLP trained with Xavier and He.

    Same data (two moons), same seed, same optimizer (SGD with momentum) and budget for
    every initializer. Xavier's variance 1/fan halves the signal's second moment at
    every ReLU layer, so after 30 layers the output barely depends on the input and the
    loss stalls at chance (ln 2); He's 2/fan compensates and the network trains.
    The table shows, per initializer, the last hidden layer's activation std and the
    gradient ratio first/last at initialization, the loss after the first and last epoch
    and the accuracies; the loss curves are printed side by side below it.
    """
    X, y = _data.moons(n, rng=np.random.default_rng(seed))
    Xtr, Xte, ytr, yte = _split(X, y, seed)
    table = Table(["init", "std_last", "grad_ratio", "loss_first", "loss_last", "train_acc", "test_acc", "reading"],
                  formats={"train_acc": percent, "test_acc": percent},
                  title=(f"deep-relu: {depth} hidden ReLU layers x {width} units on moons (n={n}), "
                         f"SGD lr={lr} momentum={momentum}, batch {batch_size}, {epochs} epochs"),
                  plotter=_plot_deep_relu)
    curves = {}
    table.data.update(curves=curves, stats={}, depth=depth)
    chance = math.log(2)
    for label, spec in _specs(inits):
        model = _deep_mlp(2, width, depth, 2, "relu", spec, seed)
        stats = layer_stats(model, Xtr, ytr)
        s = summarize(stats)
        table.data["stats"][label] = stats
        opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        losses, err = _train(model, Xtr, ytr, opt, epochs, batch_size, seed)
        curves[label] = losses
        if err:
            reading = f"diverged (inf/NaN) after {len(losses)} epoch(s)"
        elif abs(losses[-1] - chance) < 0.03 * chance:
            reading = "stalls at chance (loss ~ ln 2)"
        elif losses[-1] > losses[0]:
            reading = "unstable: the loss grew"
        elif losses[-1] < 0.5 * losses[0]:
            reading = "trains"
        else:
            reading = "slow"
        table.append({"init": label, "std_last": s["std_last"], "grad_ratio": s["grad_ratio"],
                      "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
                      "train_acc": evaluate(model, "cross_entropy", (Xtr, ytr))[1],
                      "test_acc": evaluate(model, "cross_entropy", (Xte, yte))[1], "reading": reading})
    table.notes.append("std_last, grad_ratio: at initialization (activation std of the last hidden layer; "
                       "gradient std layer 1 / last hidden layer). Chance-level loss: ln 2 = 0.693.")
    labels = list(curves)
    step = max(1, epochs // 10)
    shown = sorted(set(list(range(1, epochs + 1, step)) + [epochs]))
    side = Table(["epoch"] + [f"loss {lb}" for lb in labels], title="loss per epoch, side by side")
    for e in shown:
        side.append({"epoch": e, **{f"loss {lb}": (curves[lb][e - 1] if len(curves[lb]) >= e else None)
                                    for lb in labels}})
    table.sections.append(side)
    return table


def _loss_curves(ax, curves):
    """One line per initializer: training loss against epoch."""
    for (label, losses), c in zip(curves.items(), _colors(len(curves))):
        ax.plot(np.arange(1, len(losses) + 1), losses, "-o", ms=3, color=c, label=label)
    ax.set_xlabel("epoch")
    _integer_x(ax)


def _plot_deep_relu(table, fig):
    fig.set_size_inches(11, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    _loss_curves(ax1, table.data["curves"])
    ax1.axhline(math.log(2), color="gray", ls=":", label="chance (ln 2)")
    ax1.set(ylabel="training loss (log)", title="training loss, same data and budget")
    log_y(ax1)
    ax1.legend()
    _per_layer_axes([ax2], list(table.data["stats"].items()), ["std"])
    ax2.set(title="activation std per layer at initialization", ylabel="std of a (log)")
    ax2.legend()
    fig.suptitle(f"A {table.data['depth']}-layer ReLU MLP: He trains, Xavier stalls")


# ---------------------------------------------------------------------- lsuv
def lsuv(depth=20, width=64, activation="tanh", inits=("he_normal", "orthogonal", "lsuv"), n=600,
         epochs=10, lr=0.003, momentum=0.9, batch_size=32, seed=0):
    """LSUV (Mishkin & Matas 2016) versus He versus orthogonal on a deep network.

    A ``depth``-layer MLP on the 3-class spirals: for each initializer the variance of
    every layer's pre-activation at initialization (LSUV rescales each layer until it is
    1 on a data batch), then the loss of the first ``epochs`` epochs of SGD with
    momentum from that start. ``"lsuv"`` means orthogonal pre-init then ``init.lsuv``
    on the first 256 training examples.
    """
    X, y = _data.spirals(n, rng=np.random.default_rng(seed))
    Xtr, Xte, ytr, yte = _split(X, y, seed)
    k = int(y.max()) + 1
    cols = ["init", "var_first", "var_last", "var_output", "lsuv_iters"] + \
        [f"loss_{e}" for e in range(1, epochs + 1)] + ["test_acc"]
    table = Table(cols, formats={"test_acc": percent},
                  title=(f"lsuv: {depth} hidden {activation} layers x {width} units on spirals ({k} classes), "
                         f"SGD lr={lr} momentum={momentum}, {epochs} epochs"),
                  plotter=_plot_lsuv)
    table.data.update(stats={}, curves={}, depth=depth)
    # "lsuv" is a procedure run on a built model, not a registry entry.
    specs = [("lsuv", "lsuv") if isinstance(s, str) and s.lower() == "lsuv" else _specs([s])[0] for s in inits]
    for label, spec in specs:
        is_lsuv = spec == "lsuv"
        model = _deep_mlp(2, width, depth, k, activation, "orthogonal" if is_lsuv else spec, seed)
        iters = None
        if is_lsuv:
            report = _init.lsuv(model, Xtr[:256], rng=np.random.default_rng(seed))
            iters = int(sum(r["iterations"] for r in report))
        stats = layer_stats(model, Xtr, ytr)
        pre_var = stats.column("pre_std") ** 2
        table.data["stats"][label] = stats
        opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        losses, err = _train(model, Xtr, ytr, opt, epochs, batch_size, seed)
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


def _plot_lsuv(table, fig):
    fig.set_size_inches(11, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    colors = _colors(len(table.data["stats"]))
    for (label, stats), c in zip(table.data["stats"].items(), colors):
        ax1.plot(stats.column("layer"), positive(stats.column("pre_std") ** 2), "-o", ms=3, color=c, label=label)
    ax1.axhline(1.0, color="gray", ls=":")
    ax1.set(xlabel=f"layer ({table.data['depth'] + 1} = output)", ylabel="variance of z (log)",
            title="pre-activation variance at initialization")
    log_y(ax1)
    ax1.legend()
    _integer_x(ax1)
    _loss_curves(ax2, table.data["curves"])
    ax2.set(ylabel="training loss", title="the first epochs")
    ax2.legend()
    fig.suptitle(f"LSUV vs He vs orthogonal, {table.data['depth']} layers")


# ---------------------------------------------------------------------- custom
def custom(inits=("he_normal",), activations=("relu",), depths=(20,), widths=(64,), batch=256, seed=0,
           n_classes=10, dtype=np.float32):
    """Any initializer(s) x activation(s) x depth(s) x width(s): one row per combination
    with the same columns as ``depth`` (a Gaussian batch, one forward/backward pass).

    Initializers are registry specs: names, ``normal(std=0.05)`` calls, JSON configs,
    callables ``fn(shape, dtype=, rng=)`` or dicts.
    """
    specs = _specs(inits)
    table = Table(["init", "activation", "depth", "width"] + _SUMMARY_COLUMNS, formats=_SUMMARY_FORMATS,
                  title=f"custom: batch {batch}, {np.dtype(dtype).name}, seed {seed}", plotter=_plot_custom)
    table.data["stats"] = {}
    rng = np.random.default_rng(seed)
    for w in widths:
        X, y = _gaussian_batch(batch, int(w), n_classes, rng)
        for d in depths:
            for act in activations:
                for label, spec in specs:
                    model = _deep_mlp(int(w), int(w), int(d), n_classes, act, spec, seed, dtype)
                    stats = layer_stats(model, X.astype(dtype), y)
                    table.data["stats"][f"{label}, {act}, {d}x{w}"] = stats
                    table.append({"init": label, "activation": act, "depth": int(d), "width": int(w),
                                  **summarize(stats)})
    return table


def _plot_custom(table, fig):
    fig.set_size_inches(13, 4.2)
    axes = fig.subplots(1, 2)
    _per_layer_axes(axes, list(table.data["stats"].items()), ["std", "grad_std"])
    axes[0].set(title="activation std per layer", ylabel="std of a (log)")
    axes[1].set(title="gradient std per layer", ylabel="std of dL/da (log)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, title="init, activation, depth x width")
    fig.suptitle("custom: per-layer statistics at initialization (x = inf/NaN)")


EXPERIMENTS = {"symmetry": symmetry, "depth": depth, "deep-relu": deep_relu, "lsuv": lsuv, "custom": custom}


# ---------------------------------------------------------------------- command line
def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise _arg_error(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise _arg_error(f"expected a positive integer, got {v}")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise _arg_error(f"expected a positive number, got {text!r}") from None
    if not v > 0 or not math.isfinite(v):
        raise _arg_error(f"expected a positive number, got {text!r}")
    return v


def _init_arg(text):
    try:
        return parse_init(text)
    except (ValueError, TypeError) as err:
        raise _arg_error(str(err)) from None


def _arg_error(msg):
    import argparse

    return argparse.ArgumentTypeError(msg)


def add_arguments(parser):
    """``microinit initlab <experiment> [--seed N] [--plot FILE.png] ...``"""
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    helps = {name: ((fn.__doc__ or "").strip().splitlines() or [name])[0] for name, fn in EXPERIMENTS.items()}

    def common(p):
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--threads", type=_positive_int, default=1,
                       help="threads for kernels and BLAS (default 1: these networks are too small for "
                            "threads to pay for their start-up, and on a busy machine they lose badly)")
        p.add_argument("--plot", metavar="FILE", help="write the figure to FILE (PNG; needs matplotlib)")

    p = sub.add_parser("symmetry", help=helps["symmetry"], description=helps["symmetry"])
    common(p)
    p.add_argument("--init", nargs="+", type=_init_arg, default=None, help="initializers (default: %(default)s)")
    p.add_argument("--width", type=_positive_int, default=16)
    p.add_argument("--epochs", type=_positive_int, default=60)
    p.add_argument("--activation", default="tanh")

    p = sub.add_parser("depth", help=helps["depth"], description=helps["depth"])
    common(p)
    p.add_argument("--depth", type=_positive_int, default=30, help="hidden layers (default 30)")
    p.add_argument("--width", type=_positive_int, default=100, help="units per layer (default 100)")
    p.add_argument("--batch", type=_positive_int, default=256)
    p.add_argument("--init", nargs="+", type=_init_arg, default=None,
                   help="initializers (default: " + " ".join(DEPTH_INITS) + ")")
    p.add_argument("--activation", nargs="+", default=["tanh", "relu"])

    p = sub.add_parser("deep-relu", help=helps["deep-relu"], description=helps["deep-relu"])
    common(p)
    p.add_argument("--depth", type=_positive_int, default=30)
    p.add_argument("--width", type=_positive_int, default=64)
    p.add_argument("--epochs", type=_positive_int, default=30)
    p.add_argument("--lr", type=_positive_float, default=0.001)
    p.add_argument("--init", nargs="+", type=_init_arg, default=None, help="default: xavier_uniform he_normal")

    p = sub.add_parser("lsuv", help=helps["lsuv"], description=helps["lsuv"])
    common(p)
    p.add_argument("--depth", type=_positive_int, default=20)
    p.add_argument("--width", type=_positive_int, default=64)
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument("--activation", default="tanh")

    p = sub.add_parser("custom", help=helps["custom"], description=helps["custom"])
    common(p)
    p.add_argument("--init", nargs="+", type=_init_arg, required=True,
                   help='registry specs: he_normal, "normal(std=0.05)", \'{"name": "orthogonal", "gain": 2}\'')
    p.add_argument("--activation", nargs="+", default=["relu"])
    p.add_argument("--depth", nargs="+", type=_positive_int, default=[20])
    p.add_argument("--width", nargs="+", type=_positive_int, default=[64])
    p.add_argument("--batch", type=_positive_int, default=256)


def _kwargs(args):
    name = args.experiment
    kw = {"seed": args.seed}
    inits = getattr(args, "init", None)
    if inits:
        kw["inits"] = inits
    if name == "symmetry":
        kw.update(width=args.width, epochs=args.epochs, activation=args.activation)
    elif name == "depth":
        kw.update(depth=args.depth, width=args.width, batch=args.batch, activations=args.activation)
    elif name == "deep-relu":
        kw.update(depth=args.depth, width=args.width, epochs=args.epochs, lr=args.lr)
    elif name == "lsuv":
        kw.update(depth=args.depth, width=args.width, epochs=args.epochs, activation=args.activation)
    elif name == "custom":
        kw.update(activations=args.activation, depths=args.depth, widths=args.width, batch=args.batch)
    return kw


def run(args):
    if args.plot:
        try:
            require_matplotlib()
        except ImportError as err:
            print(f"microinit initlab {args.experiment}: {err}", file=sys.stderr)
            return 1
        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder):
            # Say so before the experiment runs, not after.
            print(f"microinit initlab {args.experiment}: cannot write the figure {args.plot!r}: directory "
                  f"{folder!r} does not exist", file=sys.stderr)
            return 1
    from microinit.threads import get_num_threads, set_num_threads

    before = get_num_threads()
    set_num_threads(args.threads)
    try:
        table = EXPERIMENTS[args.experiment](**_kwargs(args))
    except (ValueError, TypeError) as err:
        print(f"microinit initlab {args.experiment}: {err}", file=sys.stderr)
        return 2
    finally:
        set_num_threads(before)
    print(table)
    if args.plot:
        try:
            table.plot(args.plot)
        except OSError as err:
            print(f"microinit initlab {args.experiment}: cannot write the figure: {err}", file=sys.stderr)
            return 1
        print(f"\nfigure written to {args.plot}")
    return 0

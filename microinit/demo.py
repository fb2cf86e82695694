"""``microinit demo``: the same network trained from five initializations, side by side.

An MLP (default 2-64-64-64-3, ReLU) learns the built-in three-arm spirals problem with
SGD + momentum, once per initializer: ``zeros``, ``normal(std=0.01)``,
``normal(std=1.0)``, ``xavier_uniform`` and ``he_normal``. Everything else (data,
shuffling, optimizer, epochs) is identical, so the table shows what initialization
alone does:

* zeros: every hidden unit computes the same thing and gets the same gradient, so they
  stay identical forever (here all are exactly zero) and the net is stuck at chance;
* tiny weights: the signal shrinks ~18x per ReLU layer (std * sqrt(fan_in / 2) =
  0.06), gradients vanish, nothing moves;
* large weights: activations grow ~6x per layer, the first losses explode, and
  the big early steps kill most ReLUs: training starts from a wrecked network;
* Xavier and He keep the variance of activations and gradients steady across layers.

The reading printed under the table is computed from the numbers, not canned. With a
fixed ``--seed`` every number except the seconds is reproducible.
"""
import math
import re
import sys
import time

import numpy as np

from microinit.diagnostics import Table, check_figure_path, layer_stats, new_figure, save_figure
from microinit.lab.runs import train_run
from microinit.lab.specs import parse_init as parse_init_spec
from microinit.lab.specs import spec_label
from microinit.rng import as_generator
from microinit.training import evaluate

DEFAULT_INITS = ("zeros", "normal(std=0.01)", "normal(std=1.0)", "xavier_uniform", "he_normal")
LN3 = math.log(3)


def add_arguments(parser):
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("--init", action="append", metavar="SPEC",
                        help="initializer(s) to compare, e.g. he_normal or 'normal(std=0.1)'; "
                             "repeat or comma-separate (default: the five above)")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    parser.add_argument("--width", type=int, default=64, help="units per hidden layer (default 64)")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the data (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed for data, weights and shuffling")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default 0.05)")
    parser.add_argument("--samples", type=int, default=1500, help="spiral points, 1/4 held out")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="save loss curves and decision regions (needs the 'plot' extra)")


def parse_init(spec):
    """One ``--init`` item as a registry spec: ``"normal(std=0.01)"`` ->
    ``{"name": "normal", "std": 0.01}``; plain names pass through.

    The lab's parser (``microinit.lab.specs.parse_init``) with every value named: in
    ``normal(0.01)`` a reader cannot tell a mean from a std, so it is refused.

    >>> parse_init("normal(std=0.01)")
    {'name': 'normal', 'std': 0.01}
    >>> parse_init("he_normal")
    'he_normal'
    """
    return parse_init_spec(spec, positional=False)[1]


def _hidden_units(model, X):
    """``(identical, dead)`` after training, from the lab's per-layer statistics
    (``microinit.diagnostics.layer_stats``, forward only): ``identical`` is True when, in
    every hidden layer, all units are clones of one another; ``dead`` counts hidden ReLU
    units that output 0 for every row of ``X`` (they can never learn again)."""
    hidden = layer_stats(model, X).to_records()[:-1]
    identical = bool(hidden) and all(r["distinct"] == 1 for r in hidden)
    # "dead" is a fraction of the layer's units; the demo reports a count
    dead = sum(round(r["dead"] * layer.weight.shape[1]) for r, layer in zip(hidden, model) if r["dead"] is not None)
    return identical, int(dead)


def train_one(spec, args, X_tr, y_tr, X_te, y_te):
    from microinit import nn, optim

    rng = as_generator(args.seed, "microinit demo")  # same weights stream and shuffles for every run
    sizes = [X_tr.shape[1]] + [args.width] * args.depth + [3]
    model = nn.MLP(sizes, activation="relu", weight_init=spec, rng=rng)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    # Cosine annealing: big steps early, small at the end, so the final numbers are a
    # settled state rather than one noisy SGD step.
    schedule = optim.CosineLR(opt, T_max=args.epochs)
    t0 = time.perf_counter()
    # A diverging run is a result, not a crash: train_run reports it as an error text.
    losses, error = train_run(model, X_tr, y_tr, opt, args.epochs, 32, rng, callbacks=[schedule])
    seconds = time.perf_counter() - t0
    if error is not None:
        return {"label": spec_label(spec), "model": model, "error": error, "seconds": seconds,
                "loss": [], "first": float("nan"), "final": float("nan"),
                "train_acc": float("nan"), "test_acc": float("nan"), "identical": False,
                "dead": 0, "hidden": args.width * args.depth}
    train_loss, train_acc = evaluate(model, "cross_entropy", (X_tr, y_tr))
    _, test_acc = evaluate(model, "cross_entropy", (X_te, y_te))
    identical, dead = _hidden_units(model, X_tr)
    return {"label": spec_label(spec), "model": model, "error": None, "seconds": seconds,
            "loss": losses, "first": losses[0] if losses else float("nan"),
            "final": train_loss, "train_acc": train_acc, "test_acc": test_acc,
            "identical": identical, "dead": dead, "hidden": args.width * args.depth}


def format_table(results):
    """The results as a ``diagnostics.Table`` printed: one row per initializer."""
    def fixed(digits, scale=1.0, unit=""):
        return lambda v: f"{scale * v:.{digits}f}{unit}"

    columns = ["initializer", "loss@epoch1", "final loss", "train acc", "test acc", "seconds"]
    formats = {"loss@epoch1": fixed(4), "final loss": fixed(4), "train acc": fixed(1, 100, "%"),
               "test acc": fixed(1, 100, "%"), "seconds": fixed(1)}
    table = Table(columns, formats=formats)
    for r in results:
        table.append({"initializer": r["label"], "loss@epoch1": r["first"], "final loss": r["final"],
                      "train acc": r["train_acc"], "test acc": r["test_acc"], "seconds": r["seconds"]})
    return str(table)


def reading(results):
    """One line interpreting the table, derived from its numbers."""
    parts = []
    ok = [r for r in results if r["error"] is None]
    for r in results:
        name, first, acc = r["label"], r["first"], r["test_acc"]
        if r["error"] is not None:
            parts.append(f"{name} diverged (NaN/inf)")
        elif r["identical"] and acc < 0.5:
            parts.append(f"{name}: all hidden units stay identical, stuck at chance ({100 * acc:.0f}%)")
        elif abs(first - LN3) < 0.01 and acc < 0.9:
            parts.append(f"{name}: signal and gradients vanish, loss stays at ln 3 ({100 * acc:.0f}%)")
        elif abs(first - LN3) < 0.01:
            parts.append(f"{name}: slow start (epoch-1 loss = ln 3), then {100 * acc:.0f}%")
        elif first > 2 * LN3:
            dead = (f", {r['dead']} of {r['hidden']} hidden ReLUs dead"
                    if r.get("dead", 0) > r.get("hidden", 0) // 4 else "")
            parts.append(f"{name}: exploding start (epoch-1 loss {first:.1f}){dead}, ends at {100 * acc:.0f}%")
    if ok:
        best = max(ok, key=lambda r: (round(r["test_acc"], 3), -r["final"]))
        parts.append(f"best: {best['label']} ({100 * best['test_acc']:.1f}% test)")
    return "Reading: " + "; ".join(parts) + "."


def plot(results, X, y, path):
    """Loss curves (log scale) and each model's decision regions, in one PNG."""
    from matplotlib.colors import ListedColormap

    from microinit import no_grad

    points = ["#d62728", "#1f77b4", "#2ca02c"]        # class 0, 1, 2
    regions = ListedColormap(["#f4b6b6", "#b3cde3", "#b8e0b8"])
    n = len(results) + 1
    cols = min(3, n)
    rows = -(-n // cols)
    fig = new_figure(figsize=(4.2 * cols, 4.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    ax = axes[0]
    for r in results:
        if r["loss"]:
            ax.plot(np.arange(1, len(r["loss"]) + 1), r["loss"], label=r["label"], lw=1.6)
    ax.axhline(LN3, color="gray", ls=":", lw=1, label="ln 3 (chance)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title("training loss per epoch")
    ax.legend(fontsize=7)
    lo, hi = X.min(0) - 0.15, X.max(0) + 0.15
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 250), np.linspace(lo[1], hi[1], 250))
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    for ax, r in zip(axes[1:], results):
        if r["error"] is None:
            with no_grad():
                pred = r["model"](grid).data.argmax(1).reshape(gx.shape)
            ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5, 2.5], cmap=regions)
        ax.scatter(X[:, 0], X[:, 1], c=[points[k] for k in y], s=3)
        ax.set_title(f"{r['label']}: test {100 * r['test_acc']:.1f}%", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    for ax in axes[n:]:
        ax.axis("off")
    save_figure(fig, path, dpi=100)


def run(args):
    from microinit import data

    for name in ("depth", "width", "epochs", "samples"):
        if getattr(args, name) < (0 if name == "depth" else 1):
            print(f"microinit demo: --{name} must be positive, got {getattr(args, name)}", file=sys.stderr)
            return 2
    if args.plot:
        try:
            check_figure_path(args.plot)  # before training, not after
        except (ImportError, OSError) as err:
            print(f"microinit demo: --plot: {err}", file=sys.stderr)
            return 2
    specs = []
    try:
        for item in args.init or DEFAULT_INITS:
            # parse_init checks each against the registry: unknown names fail here, with its suggestion
            specs.extend(parse_init(s) for s in re.split(r",\s*(?![^()]*\))", item) if s.strip())
    except (ValueError, TypeError) as err:
        print(f"microinit demo: {err}", file=sys.stderr)
        return 2

    X, y = data.spirals(args.samples, noise=0.05, n_classes=3, rng=args.seed)
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.25, rng=args.seed)
    sizes = "-".join(str(s) for s in [2] + [args.width] * args.depth + [3])
    print(f"microinit demo: MLP {sizes} (ReLU) on spirals (3 classes, {len(X_tr)} train / "
          f"{len(X_te)} test points)")
    print(f"SGD(lr={args.lr:g}, momentum=0.9, cosine decay), batch 32, {args.epochs} epochs, seed {args.seed}; "
          f"only the initializer changes\n", flush=True)
    t0 = time.perf_counter()
    results = [train_one(s, args, X_tr, y_tr, X_te, y_te) for s in specs]
    print(format_table(results))
    print()
    print(reading(results))
    print(f"total {time.perf_counter() - t0:.1f} s")
    if args.plot:
        plot(results, X, y, args.plot)
        print(f"wrote {args.plot}")
    return 0

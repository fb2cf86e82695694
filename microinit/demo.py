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

Each initializer is trained ``--seeds`` times (default 5: seeds ``--seed`` ...
``--seed + 4``, each its own data split, weights and shuffling) and the table shows the
medians. SGD amplifies last-bit differences, so one seed's numbers move from one CPU to
another (kernels are built with ``-march=native``); the reading printed under the table
is computed from all the seeds and names a winner only where the margin is robust:
the leader beats the runner-up in at least 80% of the seeds and by a clear median margin
(1 point of test accuracy; a 1.25x lower training loss). Otherwise it says
"no clear winner" and gives the numbers.
"""
from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import time
from typing import Any, Callable, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from microinit.diagnostics import Table, check_figure_path, layer_stats, new_figure, save_figure
from microinit import data
from microinit.lab.specs import parse_init as parse_init_spec
from microinit.lab.specs import spec_label
from microinit.rng import as_generator
from microinit.training import evaluate, fit

DEFAULT_INITS = ("zeros", "normal(std=0.01)", "normal(std=1.0)", "xavier_uniform", "he_normal")
LN3 = math.log(3)
#: an initializer as the registry takes it: a name, or a config dict {"name": ..., **params}
InitSpec = Union[str, dict[str, Any]]
#: one run's (or one initializer's aggregated) numbers, as train_one/aggregate make them
Result = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (__doc__ or "").split("\n\n")[0]
    parser.add_argument("--init", action="append", metavar="SPEC",
                        help="initializer(s) to compare, e.g. he_normal or 'normal(std=0.1)'; "
                             "repeat or comma-separate (default: the five above)")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    parser.add_argument("--width", type=int, default=64, help="units per hidden layer (default 64)")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the data (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="first seed for data, weights and shuffling (default 0)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="runs per initializer, seeds SEED, SEED+1, ...; the table shows medians (default 5)")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default 0.05)")
    parser.add_argument("--samples", type=int, default=1500, help="spiral points, 1/4 held out")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="save loss curves and decision regions (needs the 'plot' extra)")


def parse_init(spec: str) -> InitSpec:
    """One ``--init`` item as a registry spec: ``"normal(std=0.01)"`` ->
    ``{"name": "normal", "std": 0.01}``; plain names pass through.

    The lab's parser (``microinit.lab.specs.parse_init``) with every value named: in
    ``normal(0.01)`` a reader cannot tell a mean from a std, so it is refused.

    >>> parse_init("normal(std=0.01)")
    {'name': 'normal', 'std': 0.01}
    >>> parse_init("he_normal")
    'he_normal'
    """
    parsed: InitSpec = parse_init_spec(spec, positional=False)[1]
    return parsed


def _hidden_units(model: Any, X: NDArray[Any]) -> tuple[bool, int]:
    """``(identical, dead)`` after training, from the lab's per-layer statistics
    (``microinit.diagnostics.layer_stats``, forward only): ``identical`` is True when, in
    every hidden layer, all units are clones of one another; ``dead`` counts hidden ReLU
    units that output 0 for every row of ``X`` (they can never learn again)."""
    hidden = layer_stats(model, X).to_records()[:-1]
    identical = bool(hidden) and all(r["distinct"] == 1 for r in hidden)
    # "dead" is a fraction of the layer's units; the demo reports a count
    dead = sum(round(r["dead"] * layer.weight.shape[1]) for r, layer in zip(hidden, model) if r["dead"] is not None)
    return identical, int(dead)


def _train(model: Any, X: NDArray[Any], y: NDArray[Any], opt: Any, epochs: int, rng: Any,
           schedule: Any) -> tuple[list[float], str | None]:
    """The lab's ``train_run`` (batch 32, shuffled with ``rng``) with each step compiled
    (``fit(compile=True)``: the same numbers, several times faster for this network).
    A diverging run is a result, not a crash: it comes back as ``(losses so far, error text)``."""
    loader = data.DataLoader(X, y, batch_size=32, rng=as_generator(rng, "microinit demo"))
    losses: list[float] = []
    try:
        fit(model, "cross_entropy", opt, loader, epochs=epochs, verbose=False, compile=True,
            callbacks=[schedule, lambda epoch, logs: losses.append(logs["loss"])])
        return losses, None
    except FloatingPointError as err:
        return losses, str(err)


def train_one(spec: InitSpec, args: argparse.Namespace, X_tr: NDArray[Any], y_tr: NDArray[Any], X_te: NDArray[Any],
              y_te: NDArray[Any], seed: int | None = None) -> Result:
    """One training run of ``spec`` with ``seed`` (default ``args.seed``): a dict of its numbers."""
    from microinit import nn, optim

    # the same weights stream and shuffles for every initializer trained with this seed
    rng = as_generator(args.seed if seed is None else seed, "microinit demo")
    sizes = [X_tr.shape[1]] + [args.width] * args.depth + [3]
    model = nn.MLP(sizes, activation="relu", weight_init=spec, rng=rng)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    # Cosine annealing: big steps early, small at the end, so the final numbers are a
    # settled state rather than one noisy SGD step.
    schedule = optim.CosineLR(opt, T_max=args.epochs)
    t0 = time.perf_counter()
    losses, error = _train(model, X_tr, y_tr, opt, args.epochs, rng, schedule)
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


def format_table(results: Sequence[Result]) -> str:
    """The results as a ``diagnostics.Table`` printed: one row per initializer."""
    def fixed(digits: int, scale: float = 1.0, unit: str = "") -> Callable[[float], str]:
        return lambda v: f"{scale * v:.{digits}f}{unit}"

    columns = ["initializer", "loss@epoch1", "final loss", "train acc", "test acc", "seconds"]
    formats = {"loss@epoch1": fixed(4), "final loss": fixed(4), "train acc": fixed(1, 100, "%"),
               "test acc": fixed(1, 100, "%"), "seconds": fixed(1)}
    table = Table(columns, formats=formats)
    for r in results:
        table.append({"initializer": r["label"], "loss@epoch1": r["first"], "final loss": r["final"],
                      "train acc": r["train_acc"], "test acc": r["test_acc"], "seconds": r["seconds"]})
    return str(table)


def aggregate(label: str, runs: Sequence[Result]) -> Result:
    """The median of each number over ``runs`` (one dict per seed, from ``train_one``),
    with the runs kept under ``"runs"`` for the verdicts. Diverged runs are left out of
    the medians; ``error`` is set only when every run diverged.

    >>> r = aggregate("he", [dict(error=None, first=1.0, final=0.1, train_acc=0.9, test_acc=0.8, seconds=1.0,
    ...                           identical=False, dead=0, hidden=8, loss=[1.0])] * 3)
    >>> r["test_acc"], r["seconds"], len(r["runs"])
    (0.8, 3.0, 3)
    """
    ok = [r for r in runs if r["error"] is None]
    out = {"label": label, "runs": runs, "seconds": sum(r["seconds"] for r in runs),
           "hidden": runs[0]["hidden"], "diverged": len(runs) - len(ok),
           # the plot draws the first seed's run: its loss curve and decision regions
           "model": runs[0].get("model"), "loss": runs[0]["loss"]}
    if not ok:
        return dict(out, error=runs[0]["error"], first=float("nan"), final=float("nan"), train_acc=float("nan"),
                    test_acc=float("nan"), identical=False, dead=0)
    med = {k: statistics.median(r[k] for r in ok) for k in ("first", "final", "train_acc", "test_acc", "dead")}
    return dict(out, error=None, identical=all(r["identical"] for r in ok), **med)


#: what makes a margin robust: the leader wins in this share of the seeds ...
ROBUST_SHARE = 0.8
#: ... and by at least this much at the median (accuracy in points of 1.0, loss as a ratio)
ACC_MARGIN = 0.01
LOSS_RATIO = 1.25


def _per_seed(r: Result, key: str) -> list[float]:
    return [x[key] if x["error"] is None else float("nan") for x in r.get("runs") or [r]]


def compare(results: Sequence[Result], key: str,
            higher_is_better: bool) -> tuple[Result, Result, int, int, bool] | None:
    """``(leader, runner_up, wins, n, clear)`` for the metric ``key`` across the seeds:
    the leader by median, how many seeds it beats the runner-up in, and whether that
    margin is robust (``ROBUST_SHARE`` of the seeds and ``ACC_MARGIN``/``LOSS_RATIO``
    at the median). ``None`` with fewer than two finished initializers."""
    ok = [r for r in results if r["error"] is None]
    if len(ok) < 2:
        return None
    ranked = sorted(ok, key=lambda r: r[key], reverse=higher_is_better)
    lead, second = ranked[0], ranked[1]
    a, b = _per_seed(lead, key), _per_seed(second, key)
    wins = sum((x > y) if higher_is_better else (x < y) for x, y in zip(a, b))
    n = min(len(a), len(b))
    if higher_is_better:
        margin_ok = lead[key] - second[key] >= ACC_MARGIN
    else:
        margin_ok = second[key] >= LOSS_RATIO * lead[key]
    return lead, second, wins, n, bool(margin_ok and wins >= math.ceil(ROBUST_SHARE * n))


def _seeds_text(r: Result, key: str, fmt: Callable[[float], str]) -> str:
    return "/".join(fmt(v) for v in _per_seed(r, key))


def verdicts(results: Sequence[Result]) -> list[str]:
    """The two verdicts: best test accuracy and lowest training loss, each a winner only
    where the margin is robust (``compare``), otherwise "no clear winner" with the numbers."""
    parts: list[str] = []
    acc = compare(results, "test_acc", True)
    if acc:
        lead, second, wins, n, clear = acc
        if clear:
            parts.append(f"best: {lead['label']} ({100 * lead['test_acc']:.1f}% test, {second['label']} "
                         f"{100 * second['test_acc']:.1f}%; ahead in {wins} of {n} seeds)")
        else:
            pct = "{:.1f}".format
            parts.append(f"best test accuracy: no clear winner: {lead['label']} {100 * lead['test_acc']:.1f}%, "
                         f"{second['label']} {100 * second['test_acc']:.1f}% (per seed "
                         f"{_seeds_text(lead, 'test_acc', lambda v: pct(100 * v))} vs "
                         f"{_seeds_text(second, 'test_acc', lambda v: pct(100 * v))})")
    loss = compare(results, "final", False)
    if loss:
        lead, second, wins, n, clear = loss
        if clear:
            parts.append(f"lowest training loss: {lead['label']} ({lead['final']:.4f} vs {second['final']:.4f} "
                         f"for {second['label']}; lower in {wins} of {n} seeds)")
        else:
            parts.append(f"lowest training loss: no clear winner: {lead['label']} {lead['final']:.4f}, "
                         f"{second['label']} {second['final']:.4f} (lower in {wins} of {n} seeds)")
    return parts


def reading(results: Sequence[Result]) -> str:
    """One line interpreting the table, derived from its numbers (medians over the seeds
    when the results come from ``aggregate``)."""
    parts: list[str] = []
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
            dead = (f", {r['dead']:.0f} of {r['hidden']} hidden ReLUs dead"
                    if r.get("dead", 0) > r.get("hidden", 0) // 4 else "")
            parts.append(f"{name}: exploding start (epoch-1 loss {first:.1f}){dead}, ends at {100 * acc:.0f}%")
        if r.get("diverged"):
            parts.append(f"{name} diverged in {r['diverged']} of {len(r['runs'])} seeds")
    parts.extend(verdicts(results))
    return "Reading: " + "; ".join(parts) + "."


def plot(results: Sequence[Result], X: NDArray[Any], y: NDArray[Any], path: str) -> None:
    """Loss curves (log scale) and each model's decision regions, in one PNG: the first
    seed's run of each initializer (``X, y`` are that seed's data)."""
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
        first = (r.get("runs") or [r])[0]    # the run drawn: the first seed's
        ax.set_title(f"{r['label']}: test {100 * first['test_acc']:.1f}% (first seed)", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    for ax in axes[n:]:
        ax.axis("off")
    save_figure(fig, path, dpi=100)


def run(args: argparse.Namespace) -> int:
    for name in ("depth", "width", "epochs", "samples", "seeds"):
        if getattr(args, name) < (0 if name == "depth" else 1):
            print(f"microinit demo: --{name} must be positive, got {getattr(args, name)}", file=sys.stderr)
            return 2
    if args.plot:
        try:
            check_figure_path(args.plot)  # before training, not after
        except (ImportError, OSError) as err:
            print(f"microinit demo: --plot: {err}", file=sys.stderr)
            return 2
    specs: list[InitSpec] = []
    try:
        for item in args.init or DEFAULT_INITS:
            # parse_init checks each against the registry: unknown names fail here, with its suggestion
            specs.extend(parse_init(s) for s in re.split(r",\s*(?![^()]*\))", item) if s.strip())
    except (ValueError, TypeError) as err:
        print(f"microinit demo: {err}", file=sys.stderr)
        return 2

    seeds = list(range(args.seed, args.seed + args.seeds))
    splits: dict[int, tuple[NDArray[Any], ...]] = {}
    for seed in seeds:                  # each seed its own data, split, weights and shuffling
        X, y = data.spirals(args.samples, noise=0.05, n_classes=3, rng=seed)
        splits[seed] = (X, y, *data.train_test_split(X, y, test_size=0.25, rng=seed))
    X, y, X_tr, X_te = splits[seeds[0]][:4]
    sizes = "-".join(str(s) for s in [2] + [args.width] * args.depth + [3])
    print(f"microinit demo: MLP {sizes} (ReLU) on spirals (3 classes, {len(X_tr)} train / "
          f"{len(X_te)} test points)")
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else (
        f"seeds {seeds[0]}-{seeds[-1]} (medians of {len(seeds)} runs per initializer)")
    print(f"SGD(lr={args.lr:g}, momentum=0.9, cosine decay), batch 32, {args.epochs} epochs, {seed_text}; "
          f"only the initializer changes\n", flush=True)
    t0 = time.perf_counter()
    results: list[Result] = []
    for spec in specs:
        runs: list[Result] = []
        for seed in seeds:
            _, _, X_tr, X_te, y_tr, y_te = splits[seed]
            runs.append(train_one(spec, args, X_tr, y_tr, X_te, y_te, seed=seed))
        results.append(aggregate(spec_label(spec), runs))
    print(format_table(results))
    print()
    print(reading(results))
    print(f"total {time.perf_counter() - t0:.1f} s")
    if args.plot:
        plot(results, X, y, args.plot)
        print(f"wrote {args.plot}")
    return 0

"""The lab's figures: one drawing function per experiment, ``plot_<experiment>(table, fig)``.

Each experiment's ``Table`` is created with its drawing function as ``plotter``, so
``table.plot(path)`` (``microinit.diagnostics.Table.plot``) draws it into a fresh
matplotlib ``Figure``. The functions read only what the experiment left in
``table.rows`` and ``table.data``; they need matplotlib (the ``plot`` extra).
"""
import math

import numpy as np

from microinit.diagnostics import log_y, percent, positive

__all__ = ["plot_depth", "plot_symmetry", "plot_deep_relu", "plot_lsuv", "plot_custom", "plot_edge_of_chaos",
           "line_colors", "loss_curves", "per_layer_axes", "integer_x"]


def line_colors(n):
    """``n`` distinct line colours (matplotlib's tab10, or tab20 past ten lines)."""
    import matplotlib

    name, k = ("tab10", 10) if n <= 10 else ("tab20", 20)
    cmap = matplotlib.colormaps[name]
    return [cmap(i % k) for i in range(n)]


def integer_x(*axes):
    """Whole-number ticks on the x axes (layers and epochs are counted, not measured)."""
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def per_layer_axes(axes_row, stats_items, what):
    """For each ``(label, LayerStats)`` a line per axis of column ``what[i]`` against the
    hidden layer, on a log scale; an ``x`` at 1.0 marks layers whose value is inf/NaN."""
    colors = line_colors(len(stats_items))
    for (label, stats), c in zip(stats_items, colors):
        hidden = stats.to_records()[:-1]
        layers = [r["layer"] for r in hidden]
        for ax, col in zip(axes_row, what):
            vals = [r[col] for r in hidden]
            ax.plot(layers, positive(vals), "-", marker=".", ms=4, color=c, label=label)
            bad = [layer for layer, v in zip(layers, vals) if v is not None and not math.isfinite(v)]
            if bad:
                ax.plot(bad, [1.0] * len(bad), "x", color=c, ms=6)
    for ax in axes_row:
        log_y(ax)
        ax.set_xlabel("layer")
        integer_x(ax)
        ax.grid(True, which="major", alpha=0.3)


def plot_depth(table, fig):
    acts = list(dict.fromkeys(r["activation"] for r in table.rows))
    fig.set_size_inches(13, 3.6 * len(acts))
    axes = fig.subplots(len(acts), 3, squeeze=False)
    for row, act in zip(axes, acts):
        items = [(label, s) for (a, label), s in table.data["stats"].items() if a == act]
        per_layer_axes(row[:2], items, ["std", "grad_std"])
        row[0].set(title=f"{act}: activation std per layer", ylabel="std of a (log)")
        row[1].set(title=f"{act}: gradient std per layer", ylabel="std of dL/da (log)")
        ax = row[2]
        colors = line_colors(len(items))
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


def plot_symmetry(table, fig):
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


def loss_curves(ax, curves):
    """One line per initializer: training loss against epoch."""
    for (label, losses), c in zip(curves.items(), line_colors(len(curves))):
        ax.plot(np.arange(1, len(losses) + 1), losses, "-o", ms=3, color=c, label=label)
    ax.set_xlabel("epoch")
    integer_x(ax)


def plot_deep_relu(table, fig):
    fig.set_size_inches(11, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    loss_curves(ax1, table.data["curves"])
    ax1.axhline(math.log(2), color="gray", ls=":", label="chance (ln 2)")
    ax1.set(ylabel="training loss (log)", title="training loss (median over the seeds), same data and budget")
    log_y(ax1)
    ax1.legend()
    per_layer_axes([ax2], list(table.data["stats"].items()), ["std"])
    ax2.set(title="activation std per layer at initialization", ylabel="std of a (log)")
    ax2.legend()
    fig.suptitle(f"A {table.data['depth']}-layer ReLU MLP: He trains, Xavier stalls")


def plot_lsuv(table, fig):
    fig.set_size_inches(11, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    colors = line_colors(len(table.data["stats"]))
    for (label, stats), c in zip(table.data["stats"].items(), colors):
        ax1.plot(stats.column("layer"), positive(stats.column("pre_std") ** 2), "-o", ms=3, color=c, label=label)
    ax1.axhline(1.0, color="gray", ls=":")
    ax1.set(xlabel=f"layer ({table.data['depth'] + 1} = output)", ylabel="variance of z (log)",
            title="pre-activation variance at initialization")
    log_y(ax1)
    ax1.legend()
    integer_x(ax1)
    loss_curves(ax2, table.data["curves"])
    ax2.set(ylabel="training loss", title="the first epochs")
    ax2.legend()
    fig.suptitle(f"LSUV vs He vs orthogonal, {table.data['depth']} layers")


def plot_custom(table, fig):
    fig.set_size_inches(13, 4.2)
    axes = fig.subplots(1, 2)
    per_layer_axes(axes, list(table.data["stats"].items()), ["std", "grad_std"])
    axes[0].set(title="activation std per layer", ylabel="std of a (log)")
    axes[1].set(title="gradient std per layer", ylabel="std of dL/da (log)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, title="init, activation, depth x width")
    fig.suptitle("custom: per-layer statistics at initialization (x = inf/NaN)")


def plot_edge_of_chaos(table, fig):
    """Left: xi_c of the theory against sigma_w2 (a line per sigma_b2) and the measured
    points; right: the measured |c^l - c*| per layer for each grid point of the first sigma_b2."""
    from microinit import theory

    fig.set_size_inches(12, 4.2)
    ax1, ax2 = fig.subplots(1, 2)
    act = table.data["activation"]
    b2s = list(dict.fromkeys(r["sigma_b2"] for r in table.rows))
    for sb, c in zip(b2s, line_colors(len(b2s))):
        rows = [r for r in table.rows if r["sigma_b2"] == sb]
        lo, hi = min(r["sigma_w2"] for r in rows), max(r["sigma_w2"] for r in rows)
        grid = np.linspace(lo, hi, 48)          # each point solves for q*, c* and two slopes
        ax1.plot(grid, [theory.depth_scales(act, w, sb)[1] for w in grid], "-", color=c,
                 label=f"theory, sigma_b2={sb:g}")
        ax1.plot([r["sigma_w2"] for r in rows], positive([r["xi_c_measured"] for r in rows]), "o", color=c,
                 label=f"measured, sigma_b2={sb:g}")
        ax1.axvline(theory.critical_sigma_w2(act, sb), color=c, ls=":", lw=1)
    log_y(ax1)
    ax1.set(xlabel="sigma_w2", ylabel="xi_c (layers, log)", title=f"{act}: correlation depth xi_c (dotted: the edge)")
    ax1.legend(fontsize=8)
    first = [(k, v) for k, v in table.data["curves"].items() if k[1] == b2s[0]]
    for ((sw, _), gap), c in zip(first, line_colors(len(first))):
        ax2.plot(np.arange(1, len(gap) + 1), positive(gap), "-", color=c, label=f"sigma_w2={sw:g}")
    log_y(ax2)
    integer_x(ax2)
    ax2.set(xlabel="layer", ylabel="|c - c*| (log)", title=f"measured |c^l - c*|, sigma_b2={b2s[0]:g}")
    ax2.legend(fontsize=8)
    fig.suptitle(f"Edge of chaos: theory (lines) and microinit networks ({table.data['depth']} layers)")

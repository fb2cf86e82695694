"""Per-layer activation and gradient statistics: what initialization does, measured.

``layer_stats(model, X, y)`` runs ONE forward pass (and, with labels, one backward
pass) through any model built from ``nn`` modules and returns a ``LayerStats`` table
with a row per layer (a ``Dense`` together with its activation, fused or as a separate
module)::

    >>> import numpy as np
    >>> from microinit import nn
    >>> from microinit.diagnostics import layer_stats
    >>> model = nn.MLP([8, 32, 32, 3], activation="tanh", rng=0)
    >>> X = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    >>> y = np.arange(64) % 3
    >>> stats = layer_stats(model, X, y)
    >>> stats["act"], stats["distinct"]
    (['tanh', 'tanh', 'linear'], [32, 32, 3])
    >>> [round(v, 2) for v in stats["std"]]
    [0.51, 0.41, 0.44]

``print(stats)`` shows every column below, one row per layer.

Everything is observed through forward hooks (``Module.register_forward_hook``), so no
layer knows it is being watched. Per layer the table holds

==============  ===========================================================================
``pre_mean``    mean and std of the pre-activation ``z = x @ W + b``
``pre_std``
``mean``/``std`` mean and std of the layer's output ``a = act(z)``
``saturated``   fraction of outputs in the flat tails: ``|tanh| > 0.99``, sigmoid outside
                ``[0.01, 0.99]`` (``None`` for other activations)
``dead``        fraction of ReLU units that output 0 for every example of the batch
``grad_std``    std of the back-propagated gradient ``dL/da`` (the classic "gradient per
                layer" of Glorot & Bengio 2010)
``w_grad_std``  std and Frobenius norm of ``dL/dW``
``w_grad_norm``
``update_ratio`` ``lr * ||dL/dW|| / ||W||``: the relative size of one plain SGD step
                (about 1e-3 is the usual healthy value)
``symmetry``    largest cosine similarity between two units' incoming weight vectors
                ``[W[:, j], b[j]]``: 1.0 means at least two units are clones
``distinct``    number of units that are not clones of another unit (cosine > 1 - 1e-5;
                two all-zero units count as clones)
``nonfinite``   number of inf/NaN values in this layer's activations and gradients
==============  ===========================================================================

Overflow is reported, never raised: an inf or NaN anywhere shows up as ``inf``/``nan``
in the statistics and as a count in ``nonfinite``. All statistics are computed in
float64 so that tiny float32 values (1e-30) do not underflow while being squared.
"""
from __future__ import annotations

import math
import numbers
import os
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit import losses as _losses
from microinit._atomic import atomic_open
from microinit import nn
from microinit.functional import check_finite
from microinit.tensor import Tensor, enable_grad, no_grad

__all__ = ["Table", "LayerStats", "layer_stats", "unit_similarity", "save_figure", "require_matplotlib",
           "check_figure_path", "new_figure", "log_y", "positive", "percent", "format_value"]

_CLONE_TOL = 1e-5

if TYPE_CHECKING:  # annotations only: matplotlib is an optional extra
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Row = dict[str, Any]           # one row of a Table: column -> value
Call = tuple[Any, Any, Any]    # one forward-hook call: (module, its first input, its output)


# ---------------------------------------------------------------------- tables
def format_value(v: object) -> str:
    """One cell as text: 3 significant digits, ``-`` for None, ``inf``/``nan`` as such.

    >>> [format_value(v) for v in (0.012345, None, float("inf"), 7, True)]
    ['0.0123', '-', 'inf', '7', 'yes']
    """
    if v is None:
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == 0:
            return "0"
        return f"{v:.3g}"
    return str(v)


def percent(v: float | None) -> str:
    """Format a fraction as a percentage; None stays ``-``.

    >>> percent(0.125), percent(None)
    ('12.5%', '-')
    """
    if v is None:
        return "-"
    if isinstance(v, numbers.Real) and math.isnan(float(v)):
        return "nan"
    return f"{100.0 * float(v):.3g}%"


class Table:
    """A small result table: rows of named values that print, convert and plot.

    ``columns`` fixes the order; each row is a dict. ``formats`` maps a column to a
    function value -> text (default: 3 significant digits). ``notes`` are lines printed
    under the table. ``data`` holds whatever the plot needs beyond the rows (curves,
    per-layer tables); ``plotter(table, fig)`` draws it.

    >>> t = Table(["init", "loss"], [{"init": "he", "loss": 0.5}], title="demo")
    >>> t["loss"], t.to_records()
    ([0.5], [{'init': 'he', 'loss': 0.5}])
    """

    def __init__(self, columns: Iterable[str], rows: Iterable[Mapping[str, Any]] = (), title: str | None = None,
                 notes: Iterable[str] = (), formats: Mapping[str, Callable[[Any], str]] | None = None,
                 data: dict[str, Any] | None = None,
                 plotter: Callable[[Any, Figure], None] | None = None) -> None:
        self.columns = list(columns)
        self.rows: list[Row] = []
        self.title = title
        self.notes = list(notes)
        self.formats = dict(formats or {})
        self.data: dict[str, Any] = {} if data is None else data
        self.sections: list[Table] = []  # further tables printed below this one (e.g. loss curves)
        self._plotter = plotter
        for r in rows:
            self.append(r)

    def append(self, row: Mapping[str, Any]) -> None:
        unknown = [k for k in row if k not in self.columns]
        if unknown:
            raise ValueError(f"Table: row has columns {unknown} that are not in {self.columns}")
        self.rows.append({c: row.get(c) for c in self.columns})

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.to_records())

    @overload
    def __getitem__(self, key: str) -> list[Any]: ...
    @overload
    def __getitem__(self, key: slice) -> list[Row]: ...
    @overload
    def __getitem__(self, key: int) -> Row: ...
    def __getitem__(self, key: str | slice | int) -> list[Any] | Row:
        """``table[i]`` is row i (a dict), ``table[i:j]`` a list of rows, ``table["col"]``
        that column (a list)."""
        if isinstance(key, str):
            if key not in self.columns:
                raise KeyError(f"no column {key!r}; columns: {', '.join(self.columns)}")
            return [r[key] for r in self.rows]
        if isinstance(key, slice):
            return [dict(r) for r in self.rows[key]]
        return dict(self.rows[key])

    def column(self, name: str) -> NDArray[np.float64]:
        """A column as a float64 array (None becomes NaN)."""
        return np.array([np.nan if v is None else float(v) for v in self[name]], dtype=np.float64)

    def where(self, **match: Any) -> list[Row]:
        """The rows whose values equal every ``column=value`` given (list of dicts)."""
        return [dict(r) for r in self.rows if all(r.get(k) == v for k, v in match.items())]

    def to_records(self) -> list[Row]:
        """A list of dicts, one per row."""
        return [dict(r) for r in self.rows]

    def to_dict(self) -> dict[str, list[Any]]:
        """``{column: [values]}`` (pandas' ``orient="list"``)."""
        return {c: [r[c] for r in self.rows] for c in self.columns}

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        head = list(self.columns)
        body = [[self.formats.get(c, format_value)(r[c]) for c in self.columns] for r in self.rows]
        return head, body

    def __str__(self) -> str:
        head, body = self._cells()
        widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(head)]
        # Text columns read best left-aligned, numbers right-aligned.
        left = [all(not _is_number(r[c]) for r in self.rows) for c in self.columns]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if lft else c.rjust(w)
                             for c, w, lft in zip(cells, widths, left)).rstrip()
        out = []
        if self.title:
            out.append(self.title)
        out.append(line(head))
        out.append("-" * len(line(head)))
        out.extend(line(b) for b in body)
        out.extend(self.notes)
        for sec in self.sections:
            out.append("")
            out.append(str(sec))
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.title or ''!s} {len(self.rows)} rows x {len(self.columns)} columns>"

    def plot(self, path: str | os.PathLike[str] | None = None, fig: Figure | None = None) -> Figure:
        """Draw the table's figure (needs matplotlib, the ``plot`` extra).

        Returns the matplotlib ``Figure``; with ``path`` it is also written there as a
        PNG (atomically: a temporary file renamed into place).
        """
        if self._plotter is None:
            raise ValueError(f"{type(self).__name__} {self.title!r} has no figure")
        if fig is None:
            fig = new_figure()
        self._plotter(self, fig)
        if path is not None:
            save_figure(fig, path)
        return fig


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


# ---------------------------------------------------------------------- figures
def require_matplotlib() -> None:
    """Import matplotlib, or raise ImportError saying how to install it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise ImportError("plotting needs matplotlib, which is not installed; install the plot extra: "
                          "pip install 'microinit[plot]' (in a clone: pip install -e \".[plot]\"; "
                          "or pip install matplotlib)") from None


def new_figure(figsize: tuple[float, float] = (10, 4)) -> Figure:
    """A matplotlib Figure that does not touch pyplot's global state or the display."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=100, layout="constrained")


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 80) -> str:
    """Write ``fig`` as a PNG to ``path`` atomically (temp file in the same directory, then
    ``os.replace``), so an interrupted run never leaves a half-written figure."""
    target = _writable_path(path)
    with atomic_open(target, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return target


def check_figure_path(path: str | os.PathLike[str]) -> None:
    """Before a long run that ends with a figure: ``OSError`` when ``path``'s directory does
    not exist, ``ImportError`` (with the install hint) when matplotlib is missing.

    >>> check_figure_path("/no/such/folder/fig.png")
    Traceback (most recent call last):
    ...
    OSError: cannot write figure '/no/such/folder/fig.png': directory '/no/such/folder' does not exist
    """
    _writable_path(path)
    require_matplotlib()


def _writable_path(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise OSError(f"cannot write figure {text!r}: directory {folder!r} does not exist")
    return text


def log_y(ax: Axes, numticks: int = 8) -> None:
    """Log-scale y axis (call it after plotting). Over more than 3 decades: at most
    ``numticks`` labelled decades and no minor ticks, since ranges of 60 decades
    (1e-37 .. 1e25) otherwise get crowded ticks that are unreadable and slow to lay out."""
    from matplotlib.ticker import LogLocator, NullLocator

    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo > 1e3:
        ax.yaxis.set_major_locator(LogLocator(base=10, numticks=numticks))
        ax.yaxis.set_minor_locator(NullLocator())
    # else: matplotlib's default locators, which label minor ticks when less than a
    # decade is shown (otherwise such an axis would carry no number at all)


def positive(values: ArrayLike) -> NDArray[np.float64]:
    """Values for a log-scale axis: non-positive and non-finite ones become NaN (a gap)."""
    v: NDArray[np.float64] = np.asarray(values, dtype=np.float64).copy()
    v[~np.isfinite(v) | (v <= 0)] = np.nan
    return v


# ---------------------------------------------------------------------- statistics
def _moments(a: ArrayLike) -> tuple[float, float, int]:
    """(mean, std, number of non-finite entries) in float64; inf/NaN propagate as such."""
    arr = np.asarray(a)
    if arr.size == 0:
        return float("nan"), float("nan"), 0
    finite = np.isfinite(arr)
    bad = int(arr.size - np.count_nonzero(finite))
    if bad:
        v = float("nan") if np.isnan(arr).any() else float("inf")
        return v, v, bad
    arr = arr.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        return float(arr.mean()), float(arr.std()), 0


def _norm(values: ArrayLike) -> float:
    a = np.asarray(values, dtype=np.float64)
    if not np.isfinite(a).all():
        return float("nan") if np.isnan(a).any() else float("inf")
    with np.errstate(over="ignore"):
        # Scale first: the squares of 1e200 would overflow a float64.
        m = float(np.abs(a).max()) if a.size else 0.0
        return 0.0 if m == 0 else m * float(np.sqrt(np.sum((a / m) ** 2)))


def unit_similarity(W: ArrayLike, b: ArrayLike | None = None) -> tuple[float, int]:
    """``(symmetry, distinct)`` of a layer's units.

    Unit ``j``'s incoming weight vector is ``[W[:, j], b[j]]`` (``W`` is ``(in, out)``).
    ``symmetry`` is the largest cosine similarity between two different units (NaN
    with fewer than 2 units); two all-zero units count as identical (cosine 1).
    ``distinct`` counts units that are not clones (cosine > 1 - 1e-5) of an earlier one.

    >>> unit_similarity(np.ones((3, 4)))
    (1.0, 1)
    """
    Wa = np.asarray(W, dtype=np.float64)
    V = Wa if b is None else np.vstack([Wa, np.asarray(b, dtype=np.float64).reshape(1, -1)])
    n = V.shape[1]
    if n < 2 or not np.isfinite(V).all():
        return float("nan"), n
    m = float(np.abs(V).max()) if V.size else 0.0
    if m > 0:
        V = V / m  # rescale first so that squares of huge weights do not overflow
    norms = np.sqrt(np.einsum("ij,ij->j", V, V))
    zero = norms == 0
    U = V / np.where(zero, 1.0, norms)
    C = U.T @ U
    C[np.ix_(zero, zero)] = 1.0
    np.fill_diagonal(C, -np.inf)
    sym = float(C.max())
    if sym > 1.0 - 1e-12:  # clones: do not show the rounding of the normalisation (0.9999999999999999)
        sym = 1.0
    clone = (C > 1.0 - _CLONE_TOL)
    distinct = n - int(np.count_nonzero(np.tril(clone, -1).any(axis=1)))
    return sym, distinct


_SATURATION: dict[str, Callable[[NDArray[Any]], NDArray[np.bool_]]] = {
    "tanh": lambda a: np.abs(a) > 0.99,
    "sigmoid": lambda a: (a < 0.01) | (a > 0.99),
}


class LayerStats(Table):
    """The table ``layer_stats`` returns: one row per layer (see the module docstring).

    ``.values`` holds, when ``keep_values=True`` was given, a sample of each layer's
    activations and gradients (``{"act": ..., "grad": ...}`` per row) for histograms.
    ``plot()`` draws activation and gradient std per layer on log scales.
    """

    COLUMNS = ["layer", "name", "act", "pre_mean", "pre_std", "mean", "std", "saturated", "dead",
               "grad_std", "w_grad_std", "w_grad_norm", "update_ratio", "symmetry", "distinct",
               "nonfinite"]

    def __init__(self, rows: Iterable[Mapping[str, Any]] = (), title: str | None = None, loss: float | None = None,
                 values: list[dict[str, Any] | None] | None = None) -> None:
        super().__init__(self.COLUMNS, rows, title=title,
                         formats={"saturated": percent, "dead": percent}, plotter=_plot_layer_stats)
        self.loss = loss
        self.values = values or []

    def hidden(self) -> list[Row]:
        """The rows of the hidden layers: every row but the last (the output layer),
        or the only row of a one-layer model."""
        recs = self.to_records()
        return recs[:-1] or recs

    def grad_ratio(self) -> float:
        """``grad_std`` of the first hidden layer / that of the last hidden layer: how
        much of the gradient reaching the top of the network is left at the bottom
        (1 steady, << 1 vanishing, >> 1 exploding). NaN if either is missing, not
        finite, or the denominator is 0."""
        h = self.hidden()
        return _ratio(h[0]["grad_std"], h[-1]["grad_std"]) if h else float("nan")

    def std_ratio(self) -> float:
        """Activation std of the last hidden layer / that of the first hidden layer."""
        h = self.hidden()
        return _ratio(h[-1]["std"], h[0]["std"]) if h else float("nan")


def _ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return float("nan")
    return a / b


def _plot_layer_stats(table: Table, fig: Figure) -> None:
    panels = [("forward: std per layer", [("pre_std", "o--", "pre-activation z"), ("std", "o-", "activation a")]),
              ("backward: gradient std per layer", [("grad_std", "o-", "dL/da"), ("w_grad_std", "s--", "dL/dW")])]
    layers = table.column("layer")
    for ax, (title, lines) in zip(fig.subplots(1, 2), panels):
        for col, style, label in lines:
            ax.plot(layers, positive(table.column(col)), style, ms=3, label=label)
        log_y(ax)
        ax.set(xlabel="layer", ylabel="std (log)", title=title)
        ax.legend()
    if table.title:
        fig.suptitle(table.title)


# ---------------------------------------------------------------------- the pass
def _leaf_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def _activation_name(module: nn.Module) -> str | None:
    name = getattr(module, "name", None)
    return name if (not isinstance(module, nn.Dense) and name in nn.ACTIVATIONS) else None


def _sample(values: ArrayLike, k: int) -> NDArray[Any]:
    """At most about ``k`` values of ``a``, evenly strided (cheap and deterministic)."""
    a = np.asarray(values).ravel()
    out: NDArray[Any] = a[::-(-a.size // k)].copy() if a.size > k else a.copy()
    return out


def layer_stats(model: nn.Module, X: Tensor | ArrayLike, y: Tensor | ArrayLike | None = None,
                loss: _losses.LossSpec = "cross_entropy", lr: float = 0.01, keep_values: bool = False,
                title: str | None = None) -> LayerStats:
    """One forward (and, when ``y`` is given, one backward) pass, measured per layer.

    ``model``: any ``nn.Module`` whose layers are ``Dense`` modules, each with a fused
    ``activation`` or followed by an activation module (``MLP``, ``Sequential``...).
    ``X``: a batch; ``y``: targets for ``loss`` (a name, ``Loss`` or callable, as in
    ``fit``). Without ``y`` only forward statistics are filled in. ``lr`` is the
    learning rate of the hypothetical SGD step behind ``update_ratio``.
    ``keep_values=True`` keeps up to 20,000 sampled activations and gradients per
    layer in ``.values`` for histograms.

    The model is left as it was: parameter gradients are restored afterwards and the
    hooks removed, even on errors. Returns a ``LayerStats`` table.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"layer_stats needs an nn.Module, got {type(model).__name__}")
    xd = np.asarray(X.data if isinstance(X, Tensor) else X)
    if xd.ndim < 1 or xd.shape[0] == 0:
        raise ValueError(f"layer_stats needs a non-empty batch, got X of shape {xd.shape}")
    if xd.dtype.kind in "fc":
        # Statistics of a NaN input describe the data, not the initialization (docs/reliability.md row 13).
        check_finite(xd, "layer_stats X")
    calls: list[Call] = []

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        if y is not None and isinstance(output, Tensor) and output.requires_grad:
            output.retain_grad()
        calls.append((module, inputs[0] if inputs else None, output))

    handles = [m.register_forward_hook(hook) for m in _leaf_modules(model)]
    params = model.parameters()
    saved_grads = [p.grad for p in params]
    loss_value = None
    try:
        for p in params:
            p.grad = None
        with np.errstate(all="ignore"):
            if y is None:
                with no_grad():
                    model(X)
            else:
                with enable_grad():
                    out = model(X)
                    lt = _losses.get(loss)(out, y)
                    loss_value = float(lt.item())
                    lt.backward()
            layers = _group_layers(calls)
            rows: list[Row] = []
            values: list[dict[str, Any] | None] = []
            for i, layer in enumerate(layers, 1):
                row, vals = _layer_row(i, layer, y is not None, lr, keep_values)
                rows.append(row)
                values.append(vals)
    finally:
        for h in handles:
            h.remove()
        for p, g in zip(params, saved_grads):
            p.grad = g
    if not rows:
        raise ValueError(f"layer_stats: found no Dense layer in {type(model).__name__}; it measures "
                         "models built from nn.Dense (MLP, Sequential)")
    table = LayerStats(rows, title=title, loss=loss_value, values=values if keep_values else None)
    if loss_value is not None:
        table.notes.append(f"loss {format_value(loss_value)}")
    return table


def _group_layers(calls: list[Call]) -> list[dict[str, Any]]:
    """Pair each Dense call with its activation: fused in the Dense, or the activation
    module called next on the Dense's output."""
    layers: list[dict[str, Any]] = []
    i = 0
    while i < len(calls):
        module, x, out = calls[i]
        i += 1
        if not isinstance(module, nn.Dense):
            continue
        layer = {"dense": module, "x": x, "z": None, "a": out, "act": module.activation}
        if module.activation is None:
            layer["z"] = out
            if i < len(calls):
                nxt, nx, nout = calls[i]
                if _activation_name(nxt) is not None and nx is out:
                    layer["a"] = nout
                    layer["act"] = None if nxt.name == "identity" else nxt.name
                    i += 1
        layers.append(layer)
    return layers


def _data(t: Tensor | ArrayLike) -> NDArray[Any]:
    return t.data if isinstance(t, Tensor) else np.asarray(t)


def _layer_row(index: int, layer: dict[str, Any], backward: bool, lr: float,
               keep_values: bool) -> tuple[Row, dict[str, Any] | None]:
    dense = layer["dense"]
    act = layer["act"]
    W = dense.weight.data
    b = None if dense.bias is None else dense.bias.data
    if layer["z"] is not None:
        z = _data(layer["z"])
    else:
        # The fused kernel never materialises z, so recompute it (in float64, which also
        # keeps a z that overflowed float32 visible as a large finite number).
        x = np.asarray(_data(layer["x"]), dtype=np.float64)
        with np.errstate(all="ignore"):
            z = x @ W.astype(np.float64)
            if b is not None:
                z += b
    a = _data(layer["a"])
    pre_mean, pre_std, bad_z = _moments(z)
    mean, std, bad_a = _moments(a)
    sat = None
    if act in _SATURATION and a.size:
        sat = float(np.count_nonzero(_SATURATION[act](a))) / a.size
    dead = None
    if act == "relu" and a.size:
        dead = float(np.count_nonzero((a <= 0).all(axis=0))) / a.shape[1]
    grad_std = w_grad_std = w_grad_norm = update = None
    bad_g = 0
    g = None
    if backward:
        g = getattr(layer["a"], "grad", None)
        if g is not None:
            _, grad_std, bad_g = _moments(g)
        gw = dense.weight.grad
        if gw is not None:
            _, w_grad_std, bad_w = _moments(gw)
            bad_g += bad_w
            w_grad_norm = _norm(gw)
            wn = _norm(W)
            update = float("nan") if not math.isfinite(wn) else (
                float("inf") if wn == 0 and w_grad_norm > 0 else (0.0 if wn == 0 else lr * w_grad_norm / wn))
    sym, distinct = unit_similarity(W, b)
    row = {"layer": index, "name": dense._path or type(dense).__name__,
           "act": act or "linear", "pre_mean": pre_mean, "pre_std": pre_std, "mean": mean, "std": std,
           "saturated": sat, "dead": dead, "grad_std": grad_std, "w_grad_std": w_grad_std,
           "w_grad_norm": w_grad_norm, "update_ratio": update, "symmetry": sym, "distinct": distinct,
           "nonfinite": bad_z + bad_a + bad_g}
    vals = None
    if keep_values:
        vals = {"act": _sample(a, 20000), "pre": _sample(z, 20000),
                "grad": None if g is None else _sample(_data(g), 20000)}
    return row, vals

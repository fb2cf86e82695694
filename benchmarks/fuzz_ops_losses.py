"""Fuzz case builders for the losses of issue 16: ``LOSS_OPS[name](draw) -> Case``
(``l1_loss``, ``huber_loss``, ``binary_cross_entropy``, ``nll_loss`` with
``ignore_index``, ``cross_entropy`` with ``label_smoothing`` and ``ignore_index``), each
called as a function or through its ``Loss`` object, against PyTorch's formulas in
float64, forward and gradient of the input.

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> LOSS_OPS["loss_l1"](RandomDraw(0, 1)).op
    'l1_loss'
"""
import numpy as np

from microinit import losses
from benchmarks.fuzz_cases import Arr, chance, choice, dim
from benchmarks.fuzz_ops import leaf
from benchmarks.fuzz_properties import Case
from benchmarks.fuzz_refs import Ref, Refuse, result_dtype

REDUCTIONS = ("mean", "mean", "sum", "none", "avg")


def _floats(draw, shp, lo=None, hi=None):
    rng = np.random.default_rng(draw.integer(0, 2**32 - 1))
    v = rng.uniform(lo, hi, shp) if lo is not None else rng.standard_normal(shp) * 10.0 ** draw.integer(-1, 1)
    if lo is None and chance(draw, 20) and v.size:
        v.flat[0] = choice(draw, (0.0, 2.0, -1.0))
    return Arr(v, choice(draw, ("<f4", "<f4", "<f8", ">f4")), choice(draw, ("C", "fortran", "negative")))


def _reduce(rows, srows, reduction, count=None):
    """The reduced loss and its scale; ``count``: the mean's divisor (default: all rows)."""
    if reduction == "none":
        return rows, srows
    k = rows.size if count is None else count
    if reduction == "sum":
        return rows.sum(), srows.sum()
    return (rows.sum() / k, srows.sum() / k) if k else (np.float64(np.nan), np.float64(np.nan))


def _upstream(g, reduction, shape, count=None):
    k = int(np.prod(shape)) if count is None else count
    if reduction == "none":
        return np.asarray(g).reshape(shape)
    return np.broadcast_to(np.asarray(g) / (k if reduction == "mean" and k else 1), shape)


def _elementwise(name):
    """l1_loss, huber_loss, binary_cross_entropy: rows of (pred, target) pairs."""
    fn = {"l1": losses.l1_loss, "huber": losses.huber_loss, "bce": losses.binary_cross_entropy}[name]
    cls = {"l1": losses.L1Loss, "huber": losses.HuberLoss, "bce": losses.BCELoss}[name]
    op = {"l1": "l1_loss", "huber": "huber_loss", "bce": "binary_cross_entropy"}[name]

    def build(draw):
        shp = (dim(draw), dim(draw))
        probs = name == "bce"
        x = _floats(draw, shp, 0.0, 1.0) if probs else _floats(draw, shp)
        if probs and chance(draw, 5) and x.values.size:
            x.values.flat[0] = choice(draw, (-0.5, 1.5))
        t = _floats(draw, shp if chance(draw, 95) else (shp[0] + 1, shp[1]), *((0.0, 1.0) if probs else ()))
        reduction = choice(draw, REDUCTIONS)
        delta = choice(draw, (1.0, 0.5, 2.0, 0.0)) if name == "huber" else None
        as_object = chance(draw, 20) and reduction != "avg"
        kw = {} if delta is None else {"delta": delta}

        def run(xs, grad):
            tx = leaf(xs[0], grad)
            if as_object:
                return cls(reduction, **kw)(tx, xs[1]), [tx, None]
            return fn(tx, xs[1], reduction, **kw), [tx, None]

        def ref(vals):
            xv, tv = vals
            if reduction not in ("mean", "sum", "none"):
                raise Refuse("reduction", (ValueError,))
            if xv.shape != tv.shape:
                raise Refuse("shape", (ValueError,))
            if delta is not None and delta <= 0:
                raise Refuse("huber: delta", (ValueError,))
            if probs and ((xv < 0) | (xv > 1)).any():
                raise Refuse("bce: probabilities outside [0, 1]", (ValueError, RuntimeError))
            with np.errstate(all="ignore"):
                d = xv - tv
                if name == "l1":
                    rows, deriv, srows = np.abs(d), np.sign(d), np.abs(xv) + np.abs(tv)
                elif name == "huber":
                    small = np.abs(d) < delta
                    rows = np.where(small, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
                    deriv = np.clip(d, -delta, delta)
                    srows = (np.abs(xv) + np.abs(tv)) * (np.abs(d) + delta)
                else:  # PyTorch clamps each log at -100
                    lp, lq = np.maximum(np.log(xv), -100.0), np.maximum(np.log1p(-xv), -100.0)
                    rows = -(tv * lp + (1 - tv) * lq)
                    srows = np.abs(tv * lp) + np.abs((1 - tv) * lq) + 1.0
                    deriv = (xv - tv) / np.maximum(xv * (1 - xv), 1e-12)
            out, scale = _reduce(rows, srows, reduction)

            def vjp(g):
                ge = _upstream(g, reduction, xv.shape)
                with np.errstate(all="ignore"):
                    gx = ge * deriv
                    s = np.abs(gx) + np.abs(ge) * (1 + np.abs(xv) + np.abs(tv))
                    if probs:  # near p = 0 or 1 the clamp's side is the implementation's
                        s = np.where(xv * (1 - xv) < 1e-4, np.nan, s * 1e3)
                return [(gx, s), None]
            return Ref(out, scale, result_dtype(x, t), vjp)  # (a float64 target promotes, as mse)
        return Case(op, [x, t], run, ref, {"reduction": reduction, "delta": delta, "object": as_object},
                    gseed=draw.integer(0, 999), rtol=16.0, names=(op, "reduction", "delta", cls.__name__))
    return build


def _classes(name):
    """nll_loss (log-probabilities in) and cross_entropy (logits in, label smoothing)."""
    def build(draw):
        n, c = dim(draw), draw.integer(1, 4)
        x = _floats(draw, (n, c))
        rng = np.random.default_rng(draw.integer(0, 999))
        ignore = choice(draw, (-100, 0, 1))
        labels = rng.integers(0, c + (1 if chance(draw, 3) else 0), n)
        if chance(draw, 30) and n:
            labels[0] = ignore
        t = Arr(labels, choice(draw, ("<i8", "<i4")))
        reduction = choice(draw, REDUCTIONS)
        eps = choice(draw, (0.0, 0.1, 0.5)) if name == "cross_entropy" else 0.0
        as_object = chance(draw, 20) and reduction != "avg"

        def run(xs, grad):
            tx = leaf(xs[0], grad)
            if name == "nll_loss":
                f = losses.NLLLoss(reduction, ignore_index=ignore) if as_object else None
                out = f(tx, xs[1]) if f else losses.nll_loss(tx, xs[1], reduction, ignore_index=ignore)
            else:
                f = losses.CrossEntropyLoss(reduction, label_smoothing=eps, ignore_index=ignore) if as_object else None
                out = f(tx, xs[1]) if f else losses.cross_entropy(tx, xs[1], reduction, label_smoothing=eps,
                                                                     ignore_index=ignore)
            return out, [tx, None]

        def ref(vals):
            xv = vals[0]
            tv = t.native_values().astype(np.int64)
            if reduction not in ("mean", "sum", "none"):
                raise Refuse("reduction", (ValueError,))
            keep = tv != ignore
            if ((tv[keep] < 0) | (tv[keep] >= c)).any():
                raise Refuse("label out of range", (ValueError,))
            safe = np.where(keep, tv, 0)
            onehot = np.eye(c)[safe] * keep[:, None]
            with np.errstate(all="ignore"):
                if name == "nll_loss":
                    rows = -(onehot * xv).sum(axis=1)
                    srows = np.abs(rows)
                    deriv = -onehot
                else:
                    m = xv.max(axis=1, keepdims=True) if n else np.zeros((0, 1))
                    lse = m + np.log(np.exp(xv - m).sum(axis=1, keepdims=True))
                    w = (1 - eps) * onehot + eps / c * keep[:, None]
                    rows = (w * (lse - xv)).sum(axis=1)
                    srows = (np.abs(w) * (np.abs(lse) + np.abs(xv))).sum(axis=1) + 1.0
                    deriv = np.exp(xv - lse) * keep[:, None] - w
            count = int(keep.sum())
            out, scale = _reduce(rows, srows, reduction, count)

            def vjp(g):
                ge = _upstream(g, reduction, (n,), count)[:, None]
                return [(ge * deriv, np.abs(ge) * (np.abs(deriv) + 1.0)), None]
            return Ref(out, scale, x.compute_dtype, vjp)
        return Case(name, [x, t], run, ref, {"reduction": reduction, "ignore_index": ignore, "label_smoothing": eps,
                                             "object": as_object},
                    gseed=draw.integer(0, 999), rtol=16.0,
                    names=(name, "reduction", "label", "target", "NLLLoss", "CrossEntropyLoss"))
    return build


LOSS_OPS = {"loss_l1": _elementwise("l1"), "loss_huber": _elementwise("huber"),
            "loss_binary_cross_entropy": _elementwise("bce"), "loss_nll": _classes("nll_loss"),
            "loss_cross_entropy_options": _classes("cross_entropy")}

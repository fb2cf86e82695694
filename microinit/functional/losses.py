"""Losses as forward/backward pairs over numpy arrays (one fused graph node each).

Every ``*_forward`` returns ``(loss, ctx)``; the matching ``*_backward(ctx, g)``
returns the gradients given the upstream gradient ``g`` of the reduced loss.
``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-sample losses).
A mean over an empty batch is 0 with zero gradients (not NaN), so an empty final
batch cannot poison training.

Formulas (per sample, x = logits/prediction, t = target):

* cross-entropy, labels y:        lse(x) - x_y;            dx = softmax(x) - onehot(y)
* cross-entropy, probabilities t: sum_j t_j (lse(x) - x_j); dx = softmax(x) sum t - t
* mse:                            (x - t)^2;               dx = 2 (x - t)
* BCE with logits:                softplus(x) - x t;       dx = sigmoid(x) - t
* hinge (t in {-1, +1}):          max(0, 1 - t x);         dx = -t [1 - t x > 0]

Example::

    >>> loss, ctx = cross_entropy_forward(np.array([[2.0, 0.5]]), np.array([0]))
    >>> dlogits = cross_entropy_backward(ctx, 1.0)[0]   # softmax - onehot
"""
import numpy as np

from microinit._kernels import regression as _regression
from microinit._kernels import xent as _xent
from microinit.functional._validate import as_float_array, check_ndim, result_dtype
from microinit.functional.elementwise import activation_forward
from microinit.functional.linalg import _pool
from microinit.functional.softmax import log_softmax_forward

REDUCTIONS = ("mean", "sum", "none")

# The plain case -- exact C-contiguous ndarrays of one float dtype, matching shapes,
# int64 labels, reduction "mean"/"sum", a scalar upstream gradient -- runs in one
# C-level call with outputs from linalg's buffer pool; these return None for anything
# else, and the validating code below then converts, checks and raises. Module-level
# names: a global lookup is cheaper than an attribute chain per call.
_mse_forward_auto = _regression.mse_forward_auto
_mse_backward_auto = _regression.mse_backward_auto
_xent_forward_auto = _xent.forward_auto
_xent_backward_auto = _xent.backward_auto


def _check_reduction(reduction, op):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(rows, reduction):
    if reduction == "none":
        return rows
    if reduction == "sum":
        return np.asarray(rows.sum(), rows.dtype)
    n = rows.size
    return np.asarray(rows.sum() / n if n else 0.0, rows.dtype)


def _expand(g, reduction, n, dtype):
    """Per-element upstream gradient of a loss reduced with ``reduction`` over ``n``
    elements: the array itself for "none", else a 0-d array that broadcasts."""
    g = np.asarray(g, dtype)
    if reduction == "mean":
        return g * (1.0 / n) if n else g * 0
    return g


def _first(a):
    return f" (first label {a.reshape(-1)[0].item()!r})" if a.size else ""


def check_labels(labels, n, n_classes, op="cross_entropy", check_range=True):
    """Integer class labels of shape (n,) in [0, n_classes), as int64; else ValueError
    naming the bad label and n_classes (never wraparound indexing).

    ``check_range=False`` skips the value scan for callers whose kernel checks each
    label as it uses it (the xent kernel) and calls :func:`check_labels` again only
    when that kernel reports a bad one."""
    a = np.asarray(labels)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{op}: class labels must be integers in [0, {n_classes}) (n_classes "
                         f"{n_classes}), got dtype {a.dtype}{_first(a)}; pass class probabilities as an "
                         f"(N, {n_classes}) float array instead")
    if a.shape != (n,):
        raise ValueError(f"{op}: labels of shape {a.shape} do not match logits of shape ({n}, {n_classes}); "
                         f"expected labels of shape ({n},)")
    if check_range and n and (a.min() < 0 or a.max() >= n_classes):
        bad = (a < 0) | (a >= n_classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{op}: label {a[i]} at index {i} is out of range for n_classes "
                             f"{n_classes} (labels must be in [0, {n_classes - 1}])")
    return np.asarray(a, dtype=np.int64, order="C")


def cross_entropy_forward(logits, target, reduction="mean"):
    """Fused log-softmax + negative log-likelihood over (N, C) logits.

    ``target``: integer labels (N,) or class probabilities / one-hot (N, C).
    Stable for huge logits; a -inf logit whose target weight is 0 stays finite; a
    row whose logits are all -inf raises ValueError (its loss is undefined).
    """
    r = _xent_forward_auto(logits, target, reduction, _pool)
    if r is not None:
        return r
    op = "cross_entropy"
    _check_reduction(reduction, op)
    x = check_ndim(as_float_array(logits, op, "logits"), 2, op, "logits")
    n, c = x.shape
    t = np.asarray(target)
    soft = t.ndim == 2  # one-hot rows (any numeric dtype) or probabilities
    if soft:
        t = as_float_array(t, op, "target")
        if t.shape != x.shape:
            raise ValueError(f"{op}: target probabilities of shape {t.shape} do not match logits of shape "
                             f"{x.shape} (integer class labels have shape ({n},))")
        dt = result_dtype(x, t)
        x = x.astype(dt, copy=False)
        t = t.astype(dt, copy=False)
    else:
        t = check_labels(t, n, c, op, check_range=False)  # values: checked by the kernel
        dt = x.dtype
    rows = np.empty(n, dt)
    probs = np.empty((n, c), dt)
    total = 0.0
    if n:
        if c == 0:
            raise ValueError(f"{op}: logits of shape {x.shape} have no classes (n_classes 0)")
        total, bad, bad_label = (_xent.xent_forward_soft if soft else _xent.xent_forward)(x, t, rows, probs)
        if bad_label:
            check_labels(t, n, c, op)  # raises, naming the first bad label
        if bad:
            i = int(np.argmax(np.isinf(rows) & (np.max(x, axis=1) == -np.inf)))
            raise ValueError(f"{op}: row {i} has every logit -inf (n_classes {c}); its loss is undefined")
    if reduction == "none":
        loss = rows
    else:
        loss = np.asarray(total / n if reduction == "mean" and n else total, dt)
    return loss, (x, probs, t, soft, reduction)


def cross_entropy_backward(ctx, g, need_target=False):
    """(dlogits, dtarget or None) given the upstream gradient ``g`` of the loss."""
    r = _xent_backward_auto(ctx, g, _pool)  # integer labels: there is no dtarget
    if r is not None:
        return r
    x, probs, t, soft, reduction = ctx
    n = x.shape[0]
    dloss = _expand(g, reduction, n, x.dtype)
    if dloss.shape != (n,):
        dloss = np.full(n, dloss, x.dtype)
    elif not dloss.flags.c_contiguous:
        dloss = np.asarray(dloss, order="C")
    dx = np.empty_like(probs)
    if n and x.shape[1]:
        (_xent.xent_backward_soft if soft else _xent.xent_backward)(probs, t, dloss, dx)
    dt = None
    if need_target and soft:
        with np.errstate(invalid="ignore"):
            dt = -log_softmax_forward(x, 1) * dloss[:, None]
    return dx, dt


def _pair(pred, target, op):
    p = as_float_array(pred, op, "input")
    t = as_float_array(target, op, "target")
    if p.shape != t.shape:
        raise ValueError(f"{op}: input of shape {p.shape} and target of shape {t.shape} differ; "
                         "reshape one of them (no implicit broadcasting in losses)")
    return p, t


def mse_loss_forward(pred, target, reduction="mean"):
    """Mean squared error (x - t)^2 with the chosen reduction."""
    r = _mse_forward_auto(pred, target, reduction, _pool)
    if r is not None:
        return r
    op = "mse_loss"
    _check_reduction(reduction, op)
    p, t = _pair(pred, target, op)
    diff = p - t
    if reduction == "none":
        return diff * diff, (diff, reduction)
    # sum of squares as one dot product: no (x - t)^2 temporary, one pass over diff
    flat = diff.reshape(-1)
    total = np.dot(flat, flat)
    if reduction == "mean":
        total = total / flat.size if flat.size else 0.0
    return np.asarray(total, diff.dtype), (diff, reduction)


def mse_loss_backward(ctx, g, need_target=True):
    """(dpred, dtarget) = (2 (x - t) g, -2 (x - t) g), each divided by the element
    count for "mean"; dtarget is None when ``need_target`` is False (saves a pass)."""
    diff, reduction = ctx
    r = _mse_backward_auto(diff, g, reduction, need_target, _pool)
    if r is not None:
        return r
    if reduction == "none":
        d = 2 * diff * np.asarray(g, diff.dtype)
    else:
        # one scalar factor, one pass: 2 g / n (mean) or 2 g (sum)
        scale = 2.0 * float(g)
        if reduction == "mean":
            scale = scale / diff.size if diff.size else 0.0
        d = diff * diff.dtype.type(scale)
    return d, (-d if need_target else None)


def bce_with_logits_forward(logits, target, reduction="mean"):
    """softplus(x) - x t, i.e. -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], stable."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    x, t = _pair(logits, target, op)
    dt = result_dtype(x, t)
    x = x.astype(dt, copy=False)
    t = t.astype(dt, copy=False)
    rows = activation_forward("softplus", x) - x * t
    return _reduce(rows, reduction), (x, t, reduction)


def bce_with_logits_backward(ctx, g, need_target=False):
    """(dlogits, dtarget) = ((sigmoid(x) - t) g, -x g)."""
    x, t, reduction = ctx
    ge = _expand(g, reduction, x.size, x.dtype)
    dx = (activation_forward("sigmoid", x) - t) * ge
    return dx, (-x * ge if need_target else None)


def hinge_loss_forward(scores, target, reduction="mean"):
    """max(0, 1 - t s) with targets in {-1, +1} (ValueError naming any other value)."""
    op = "hinge_loss"
    _check_reduction(reduction, op)
    s, t = _pair(scores, target, op)
    if t.size:
        bad = (t != 1) & (t != -1)
        if bad.any():
            i = int(np.argmax(bad.reshape(-1)))
            raise ValueError(f"{op}: target must be -1 or +1, found {t.reshape(-1)[i].item()!r} at flat index {i}")
    dt = result_dtype(s, t)
    s = s.astype(dt, copy=False)
    t = t.astype(dt, copy=False)
    margin = 1 - t * s
    active = margin > 0
    return _reduce(np.where(active, margin, 0).astype(dt, copy=False), reduction), (s, t, active, reduction)


def hinge_loss_backward(ctx, g):
    """(dscores, dtarget) = (-t g [margin > 0], -s g [margin > 0])."""
    s, t, active, reduction = ctx
    ge = _expand(g, reduction, s.size, s.dtype) * active
    return -t * ge, -s * ge

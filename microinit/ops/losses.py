"""Losses as one graph node each: forward and backward side by side.

``reduction`` is "mean" (default), "sum" or "none" (per-sample losses). A mean over
an empty batch is 0 with zero gradients (not NaN), so an empty final batch cannot
poison training. Per sample, x = logits/prediction, t = target:

    loss                        forward                      d loss / dx
    cross-entropy, labels y     lse(x) - x_y                 softmax(x) - onehot(y)
    cross-entropy, probs t      sum_j t_j (lse(x) - x_j)     softmax(x) sum t - t
    mse                         (x - t)^2                    2 (x - t)
    BCE with logits             softplus(x) - x t            sigmoid(x) - t
    hinge (t in {-1, +1})       max(0, 1 - t x)              -t [1 - t x > 0]

Which kernel runs (the documented rule): integer-label cross-entropy with "mean" or
"sum" is one call of the fused kernel (``xent.forward_auto``), every other
cross-entropy runs the row kernels (``xent.xent_forward*``); mse "mean"/"sum" is one
call of ``regression.mse_forward_auto``. Inputs pass the boundary first, so the same
input takes the same kernel, and gives the same bits, in any memory layout. Labels
are copied when saved (an in-place change of the caller's array after forward cannot
reach backward).

    >>> loss, saved = cross_entropy_forward(np.array([[2.0, 0.5]]), np.array([0]))
    >>> round(float(loss), 4)
    0.2014
    >>> cross_entropy_backward(saved, 1.0)[0].round(4)          # softmax - onehot
    array([[-0.1824,  0.1824]])
"""
import numpy as np

from microinit._kernels import regression as _regression
from microinit._kernels import xent as _xent
from microinit.autograd.graph import record, tensor_class, wrap
from microinit.autograd.mode import grad_mode
from microinit.ops._boundary import check_ndim, floats, labels as checked_labels, promote
from microinit.ops.activations import activation_forward, log_softmax_forward
from microinit.ops.linalg import pool

__all__ = ["REDUCTIONS", "cross_entropy_forward", "cross_entropy_backward", "mse_loss_forward",
           "mse_loss_backward", "bce_with_logits_forward", "bce_with_logits_backward",
           "hinge_loss_forward", "hinge_loss_backward", "cross_entropy", "mse_loss",
           "binary_cross_entropy_with_logits", "hinge_loss", "check_labels"]

REDUCTIONS = ("mean", "sum", "none")
_pool = pool()
_XentSaved = _xent.XentSaved
_xent_forward_auto = _xent.forward_auto
_xent_backward_auto = _xent.backward_auto
_mse_forward_auto = _regression.mse_forward_auto
_mse_backward_auto = _regression.mse_backward_auto
check_labels = checked_labels


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


def _upstream(g):
    """A scalar upstream gradient as the kernels read it (a Python float)."""
    return float(np.asarray(g).reshape(-1)[0]) if np.size(g) == 1 else None


# --------------------------------------------------------------------------- cross-entropy
class CrossEntropySaved:
    """What the row-kernel cross-entropy keeps for backward (soft targets or "none")."""

    __slots__ = ("logits", "probs", "reduction", "soft", "target")

    def __init__(self, logits, probs, target, soft, reduction):
        self.logits, self.probs, self.target = logits, probs, target
        self.soft, self.reduction = soft, reduction


def _all_neg_inf_error(x, rows, op):
    i = int(np.argmax(np.isinf(rows) & (np.max(x, axis=1) == -np.inf)))
    raise ValueError(f"{op}: row {i} has every logit -inf (n_classes {x.shape[1]}); its loss is undefined")


def cross_entropy_forward(logits, target, reduction="mean"):
    """Fused log-softmax + negative log-likelihood over (N, C) logits: ``(loss, saved)``.

    ``target``: integer labels (N,) or class probabilities / one-hot rows (N, C).
    Stable for huge logits; a -inf logit whose target weight is 0 stays finite; a
    row whose logits are all -inf raises ValueError (its loss is undefined).
    """
    r = _xent_forward_auto(logits, target, reduction, _pool)  # boundary-safe already
    if r is not None:
        return r
    op = "cross_entropy"
    _check_reduction(reduction, op)
    x = check_ndim(floats(logits, op, "logits"), 2, op, "logits")
    n, c = x.shape
    if n and c == 0:
        raise ValueError(f"{op}: logits of shape {x.shape} have no classes (n_classes 0)")
    if isinstance(target, tensor_class()):
        target = target.data
    t = np.asarray(target) if not isinstance(target, np.ndarray) else target
    soft = t.ndim == 2  # one-hot rows (any numeric dtype) or probabilities
    if not soft:
        t = checked_labels(t, n, c, op)  # a private, range-checked int64 copy
        if reduction != "none":
            r = _xent_forward_auto(x, t, reduction, _pool)
            if r is None:  # only an all -inf row makes the kernel refuse checked labels
                rows = np.empty(n, x.dtype)
                _xent.xent_forward(x, t, rows, np.empty_like(x))
                _all_neg_inf_error(x, rows, op)
            return r
    else:
        t = floats(t, op, "target")
        if t.shape != x.shape:
            raise ValueError(f"{op}: target probabilities of shape {t.shape} do not match logits of shape "
                             f"{x.shape} (integer class labels have shape ({n},))")
        x, t = promote(x, t)
    rows = np.empty(n, x.dtype)
    probs = np.empty((n, c), x.dtype)
    total = 0.0
    if n:
        total, bad, bad_label = (_xent.xent_forward_soft if soft else _xent.xent_forward)(x, t, rows, probs)
        if bad:
            _all_neg_inf_error(x, rows, op)
    if reduction == "none":
        loss = rows
    else:
        loss = np.asarray(total / n if reduction == "mean" and n else total, x.dtype)
    return loss, CrossEntropySaved(x, probs, t, soft, reduction)


def cross_entropy_backward(saved, g, need_target=False):
    """(dlogits, dtarget or None) given the upstream gradient ``g`` of the loss."""
    if type(saved) is _XentSaved:
        dx = _xent_backward_auto(saved, g, _pool)
        if dx is None:
            gv = _upstream(g)
            if gv is None:
                raise ValueError(f"cross_entropy backward: the loss is a scalar, got an upstream "
                                 f"gradient of shape {np.shape(g)}")
            dx = _xent_backward_auto(saved, gv, _pool)
        return dx, None
    x, probs, t, soft = saved.logits, saved.probs, saved.target, saved.soft
    n = x.shape[0]
    dloss = _expand(g, saved.reduction, n, x.dtype)
    if dloss.shape != (n,):
        dloss = np.full(n, dloss, x.dtype)
    else:
        dloss = np.asarray(dloss, order="C")
    dx = np.empty_like(probs)
    if n and x.shape[1]:
        (_xent.xent_backward_soft if soft else _xent.xent_backward)(probs, t, dloss, dx)
    dt = None
    if need_target and soft:
        with np.errstate(invalid="ignore"):
            dt = -log_softmax_forward(x, 1) * dloss[:, None]
    return dx, dt


def cross_entropy(logits, target, reduction="mean"):
    """The Tensor op: softmax cross-entropy over (N, C) logits (see the module table).

    ``target``: integer labels (N,) -- a negative, out-of-range or float label raises
    ValueError naming it and n_classes -- or class probabilities (N, C).
    """
    T = tensor_class()
    lt = logits if isinstance(logits, T) else wrap(floats(logits, "cross_entropy", "logits"))
    tt = target if isinstance(target, T) else None
    # raw data: the fused kernel takes it as it is, or it goes through the boundary
    loss, saved = cross_entropy_forward(lt.data, target if tt is None else tt.data, reduction)
    need_t = tt is not None and tt.requires_grad and type(saved) is not _XentSaved and saved.soft
    nl = lt.requires_grad
    if grad_mode.enabled and (nl or need_t):

        def backward(g):
            dx, dt = cross_entropy_backward(saved, g, need_target=need_t)
            return (dx if nl else None), dt
        return record(loss, "CrossEntropyBackward", (lt, tt), backward, (lt,))
    return wrap(loss)


# --------------------------------------------------------------------------- pair losses
def _pair(pred, target, op):
    p = floats(pred, op, "input")
    t = floats(target, op, "target")
    if p.shape != t.shape:
        raise ValueError(f"{op}: input of shape {p.shape} and target of shape {t.shape} differ; "
                         "reshape one of them (no implicit broadcasting in losses)")
    return promote(p, t)


class PairSaved:
    """What a (prediction, target) loss keeps for backward."""

    __slots__ = ("active", "diff", "pred", "reduction", "target")

    def __init__(self, reduction, diff=None, pred=None, target=None, active=None):
        self.reduction, self.diff, self.pred, self.target, self.active = reduction, diff, pred, target, active


def mse_loss_forward(pred, target, reduction="mean"):
    """Mean squared error (x - t)^2 with the chosen reduction: ``(loss, saved)``."""
    r = _mse_forward_auto(pred, target, reduction, _pool)  # boundary-safe already
    if r is None:
        op = "mse_loss"
        _check_reduction(reduction, op)
        p, t = _pair(pred, target, op)
        if reduction == "none":
            diff = p - t
            return diff * diff, PairSaved(reduction, diff=diff)
        r = _mse_forward_auto(p, t, reduction, _pool)
    loss, diff = r
    return loss, PairSaved(reduction, diff=diff)


def mse_loss_backward(saved, g, need_target=True):
    """(dpred, dtarget) = (2 (x - t) g, -2 (x - t) g), divided by the element count
    for "mean"; dtarget is None when ``need_target`` is False (saves a pass)."""
    diff, reduction = saved.diff, saved.reduction
    if reduction == "none":
        d = 2 * diff * np.asarray(g, diff.dtype)
        return d, (-d if need_target else None)
    r = _mse_backward_auto(diff, g, reduction, need_target, _pool)
    if r is None:
        gv = _upstream(g)
        if gv is None:
            raise ValueError(f"mse_loss backward: the loss is a scalar, got an upstream gradient "
                             f"of shape {np.shape(g)}")
        r = _mse_backward_auto(diff, gv, reduction, need_target, _pool)
    return r


def bce_with_logits_forward(logits, target, reduction="mean"):
    """softplus(x) - x t, i.e. -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], stable."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    x, t = _pair(logits, target, op)
    rows = activation_forward("softplus", x) - x * t
    return _reduce(rows, reduction), PairSaved(reduction, pred=x, target=t)


def bce_with_logits_backward(saved, g, need_target=False):
    """(dlogits, dtarget) = ((sigmoid(x) - t) g, -x g)."""
    x, t = saved.pred, saved.target
    ge = _expand(g, saved.reduction, x.size, x.dtype)
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
    margin = 1 - t * s
    active = margin > 0
    rows = np.where(active, margin, 0).astype(s.dtype, copy=False)
    return _reduce(rows, reduction), PairSaved(reduction, pred=s, target=t, active=active)


def hinge_loss_backward(saved, g, need_target=True):
    """(dscores, dtarget) = (-t g [margin > 0], -s g [margin > 0])."""
    s, t = saved.pred, saved.target
    ge = _expand(g, saved.reduction, s.size, s.dtype) * saved.active
    return -t * ge, (-s * ge if need_target else None)


def _pair_loss(name, fwd, bwd, pred, target, reduction):
    """A loss of (prediction, same-shaped target) as one graph node."""
    T = tensor_class()
    pt = pred if isinstance(pred, T) else wrap(floats(pred, name, "input"))
    tt = target if isinstance(target, T) else None
    # raw data: the forward's kernel takes it as it is, or it goes through the boundary
    loss, saved = fwd(pt.data, target if tt is None else tt.data, reduction)
    if grad_mode.enabled and (pt.requires_grad or (tt is not None and tt.requires_grad)):
        npd, ntg = pt.requires_grad, tt is not None and tt.requires_grad

        def backward(g):
            dp, dtg = bwd(saved, g, ntg)
            return (dp if npd else None), (dtg if ntg else None)
        return record(loss, name, (pt, tt), backward, (pt,) if tt is None else (pt, tt))
    return wrap(loss)


def mse_loss(pred, target, reduction="mean"):
    """The Tensor op: mean((pred - target)^2); shapes must match exactly."""
    return _pair_loss("MseLossBackward", mse_loss_forward, mse_loss_backward, pred, target, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """The Tensor op: softplus(x) - x t (stable BCE on logits); d/dx = sigmoid(x) - t."""
    return _pair_loss("BceWithLogitsBackward", bce_with_logits_forward, bce_with_logits_backward,
                      logits, target, reduction)


def hinge_loss(scores, target, reduction="mean"):
    """The Tensor op: mean(relu(1 - t s)) with targets t in {-1, +1}."""
    return _pair_loss("HingeLossBackward", hinge_loss_forward, hinge_loss_backward,
                      scores, target, reduction)

"""Losses of a prediction and a same-shaped target, and the reductions every loss shares.

Forward and backward side by side; ``reduction`` is "mean" (default), "sum" or
"none". A mean over an empty batch is 0 with zero gradients (not NaN). The table of
formulas is in ``microinit/ops/losses.py``, which re-exports everything here.

    >>> loss, saved = huber_loss_forward(np.array([0.5, 3.0]), np.zeros(2), "none")
    >>> loss.tolist(), huber_loss_backward(saved, np.ones(2))[0].tolist()
    ([0.125, 2.5], [0.5, 1.0])
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit._kernels import regression as _regression
from microinit.autograd.graph import record, tensor_class, wrap
from microinit.autograd.mode import grad_mode
from microinit.ops._boundary import floats, promote
from microinit.ops.activations import activation_forward
from microinit.ops.linalg import pool

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["REDUCTIONS", "check_reduction", "reduce_rows", "expand_upstream", "scalar_upstream", "PairSaved",
           "mse_loss_forward", "mse_loss_backward", "bce_with_logits_forward", "bce_with_logits_backward",
           "hinge_loss_forward", "hinge_loss_backward", "l1_loss_forward", "l1_loss_backward",
           "huber_loss_forward", "huber_loss_backward", "bce_forward", "bce_backward", "mse_loss",
           "binary_cross_entropy_with_logits", "hinge_loss", "l1_loss", "huber_loss", "binary_cross_entropy"]

REDUCTIONS = ("mean", "sum", "none")
_pool = pool()
_mse_forward_auto = _regression.mse_forward_auto
_mse_backward_auto = _regression.mse_backward_auto


def check_reduction(reduction: str, op: str) -> None:
    """Raise ``ValueError`` naming ``op`` unless ``reduction`` is one of REDUCTIONS."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce_rows(rows: NDArray[Any], reduction: str) -> NDArray[Any]:
    """Per-element losses reduced by ``reduction`` (a 0-d array unless "none")."""
    if reduction == "none":
        return rows
    if reduction == "sum":
        return np.asarray(rows.sum(), rows.dtype)
    n = rows.size
    return np.asarray(rows.sum() / n if n else 0.0, rows.dtype)


def expand_upstream(g: ArrayLike, reduction: str, n: int, dtype: np.dtype[Any]) -> NDArray[Any]:
    """Per-element upstream gradient of a loss reduced with ``reduction`` over ``n``
    elements: the array itself for "none", else a 0-d array that broadcasts."""
    ga: NDArray[Any] = np.asarray(g, dtype)
    if reduction == "mean":
        return ga * (1.0 / n) if n else ga * 0
    return ga


def scalar_upstream(g: ArrayLike) -> float | None:
    """A scalar upstream gradient as the kernels read it (a Python float)."""
    return float(np.asarray(g).reshape(-1)[0]) if np.size(g) == 1 else None


def _pair(pred: ArrayLike, target: ArrayLike, op: str) -> tuple[NDArray[Any], NDArray[Any]]:
    p = floats(pred, op, "input")
    t = floats(target, op, "target")
    if p.shape != t.shape:
        raise ValueError(f"{op}: input of shape {p.shape} and target of shape {t.shape} differ; "
                         "reshape one of them (no implicit broadcasting in losses)")
    return promote(p, t)


class PairSaved:
    """What a (prediction, target) loss keeps for backward."""

    __slots__ = ("active", "diff", "pred", "reduction", "target")

    def __init__(self, reduction: str, diff: NDArray[Any] | None = None, pred: NDArray[Any] | None = None,
                 target: NDArray[Any] | None = None, active: Any = None) -> None:
        # active: hinge's margin mask, or huber's (quadratic mask, delta)
        self.reduction, self.diff, self.pred, self.target, self.active = reduction, diff, pred, target, active


def mse_loss_forward(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> tuple[NDArray[Any], PairSaved]:
    """Mean squared error (x - t)^2 with the chosen reduction: ``(loss, saved)``."""
    r: tuple[NDArray[Any], NDArray[Any]] | None = _mse_forward_auto(pred, target, reduction, _pool)  # boundary-safe
    if r is None:
        op = "mse_loss"
        check_reduction(reduction, op)
        p, t = _pair(pred, target, op)
        if reduction == "none":
            diff = p - t
            return diff * diff, PairSaved(reduction, diff=diff)
        r = _mse_forward_auto(p, t, reduction, _pool)
    loss, diff = r
    return loss, PairSaved(reduction, diff=diff)


def mse_loss_backward(saved: PairSaved, g: ArrayLike, need_target: bool = True) -> tuple[NDArray[Any],
                      NDArray[Any] | None]:
    """(dpred, dtarget) = (2 (x - t) g, -2 (x - t) g), divided by the element count
    for "mean"; dtarget is None when ``need_target`` is False (saves a pass)."""
    diff: NDArray[Any] = saved.diff  # type: ignore[assignment]  # set by this loss's forward
    reduction = saved.reduction
    if reduction == "none":
        d = 2 * diff * np.asarray(g, diff.dtype)
        return d, (-d if need_target else None)
    r: tuple[NDArray[Any], NDArray[Any] | None] | None = _mse_backward_auto(diff, g, reduction, need_target, _pool)
    if r is None:
        gv = scalar_upstream(g)
        if gv is None:
            raise ValueError(f"mse_loss backward: the loss is a scalar, got an upstream gradient "
                             f"of shape {np.shape(g)}")
        r = _mse_backward_auto(diff, gv, reduction, need_target, _pool)
    return r


def bce_with_logits_forward(logits: ArrayLike, target: ArrayLike, reduction: str = "mean") -> tuple[NDArray[Any],
                            PairSaved]:
    """softplus(x) - x t, i.e. -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], stable."""
    op = "binary_cross_entropy_with_logits"
    check_reduction(reduction, op)
    x, t = _pair(logits, target, op)
    rows = activation_forward("softplus", x) - x * t
    return reduce_rows(rows, reduction), PairSaved(reduction, pred=x, target=t)


def bce_with_logits_backward(saved: PairSaved, g: ArrayLike, need_target: bool = False) -> tuple[NDArray[Any],
                             NDArray[Any] | None]:
    """(dlogits, dtarget) = ((sigmoid(x) - t) g, -x g)."""
    x: NDArray[Any] = saved.pred  # type: ignore[assignment]  # set by this loss's forward
    t: NDArray[Any] = saved.target  # type: ignore[assignment]  # set by this loss's forward
    ge = expand_upstream(g, saved.reduction, x.size, x.dtype)
    dx = (activation_forward("sigmoid", x) - t) * ge
    return dx, (-x * ge if need_target else None)


def hinge_loss_forward(scores: ArrayLike, target: ArrayLike, reduction: str = "mean") -> tuple[NDArray[Any], PairSaved]:
    """max(0, 1 - t s) with targets in {-1, +1} (ValueError naming any other value)."""
    op = "hinge_loss"
    check_reduction(reduction, op)
    s, t = _pair(scores, target, op)
    if t.size:
        bad = (t != 1) & (t != -1)
        if bad.any():
            i = int(np.argmax(bad.reshape(-1)))
            raise ValueError(f"{op}: target must be -1 or +1, found {t.reshape(-1)[i].item()!r} at flat index {i}")
    margin = 1 - t * s
    active = margin > 0
    rows = np.where(active, margin, 0).astype(s.dtype, copy=False)
    return reduce_rows(rows, reduction), PairSaved(reduction, pred=s, target=t, active=active)


def hinge_loss_backward(saved: PairSaved, g: ArrayLike, need_target: bool = True) -> tuple[NDArray[Any],
                        NDArray[Any] | None]:
    """(dscores, dtarget) = (-t g [margin > 0], -s g [margin > 0])."""
    s: NDArray[Any] = saved.pred  # type: ignore[assignment]  # set by this loss's forward
    t: NDArray[Any] = saved.target  # type: ignore[assignment]  # set by this loss's forward
    ge = expand_upstream(g, saved.reduction, s.size, s.dtype) * saved.active
    return -t * ge, (-s * ge if need_target else None)


def l1_loss_forward(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> tuple[NDArray[Any], PairSaved]:
    """Mean absolute error |x - t|."""
    op = "l1_loss"
    check_reduction(reduction, op)
    p, t = _pair(pred, target, op)
    diff = p - t
    return reduce_rows(np.abs(diff), reduction), PairSaved(reduction, diff=diff)


def l1_loss_backward(saved: PairSaved, g: ArrayLike, need_target: bool = True) -> tuple[NDArray[Any],
                     NDArray[Any] | None]:
    """(dpred, dtarget) = (sign(x - t) g, -sign(x - t) g); sign(0) = 0, as PyTorch."""
    diff: NDArray[Any] = saved.diff  # type: ignore[assignment]  # set by this loss's forward
    d = np.sign(diff) * expand_upstream(g, saved.reduction, diff.size, diff.dtype)
    return d, (-d if need_target else None)


def _check_delta(delta: float, op: str) -> float:
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)):
        raise TypeError(f"{op}: delta must be a positive number, got {type(delta).__name__}")
    if not float(delta) > 0:  # also refuses NaN
        raise ValueError(f"{op}: delta must be positive, got {delta!r}")
    return float(delta)


def huber_loss_forward(pred: ArrayLike, target: ArrayLike, reduction: str = "mean",
                       delta: float = 1.0) -> tuple[NDArray[Any], PairSaved]:
    """Huber loss: quadratic for |x - t| < delta, linear (slope delta) beyond."""
    op = "huber_loss"
    check_reduction(reduction, op)
    d = _check_delta(delta, op)
    p, t = _pair(pred, target, op)
    diff = p - t
    a = np.abs(diff)
    quad = a < d
    rows = np.where(quad, 0.5 * diff * diff, d * (a - 0.5 * d)).astype(p.dtype, copy=False)
    return reduce_rows(rows, reduction), PairSaved(reduction, diff=diff, active=(quad, d))


def huber_loss_backward(saved: PairSaved, g: ArrayLike, need_target: bool = True) -> tuple[NDArray[Any],
                        NDArray[Any] | None]:
    """(dpred, dtarget) = (x - t, or delta sign(x - t) where |x - t| >= delta) g, negated for t."""
    diff: NDArray[Any] = saved.diff  # type: ignore[assignment]  # set by this loss's forward
    quad, d = saved.active
    dl = np.where(quad, diff, d * np.sign(diff)).astype(diff.dtype, copy=False)
    dl = dl * expand_upstream(g, saved.reduction, diff.size, diff.dtype)
    return dl, (-dl if need_target else None)


_LOG_FLOOR = -100.0  # PyTorch clamps each log of binary_cross_entropy to >= -100
# and each denominator x (1 - x) of its gradient to >= 1e-12, a float32 constant there
_BCE_EPS = float(np.float32(1e-12))


def bce_forward(probs: ArrayLike, target: ArrayLike, reduction: str = "mean") -> tuple[NDArray[Any], PairSaved]:
    """Binary cross-entropy on probabilities in [0, 1] (ValueError naming any other)."""
    op = "binary_cross_entropy"
    check_reduction(reduction, op)
    x, t = _pair(probs, target, op)
    bad = (x < 0) | (x > 1)
    if bad.any():
        i = int(np.argmax(bad.reshape(-1)))
        raise ValueError(f"{op}: input must hold probabilities in [0, 1], found {x.reshape(-1)[i].item()!r} "
                         f"at flat index {i} (for logits use binary_cross_entropy_with_logits)")
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), _LOG_FLOOR)
        log_1mx = np.maximum(np.log1p(-x), _LOG_FLOOR)
    rows = -(t * log_x + (1 - t) * log_1mx)
    return reduce_rows(rows, reduction), PairSaved(reduction, pred=x, target=t)


def bce_backward(saved: PairSaved, g: ArrayLike, need_target: bool = False) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """(dprobs, dtarget) = ((x - t) / max(x (1 - x), 1e-12) g, (log(1 - x) - log x) g)."""
    x: NDArray[Any] = saved.pred  # type: ignore[assignment]  # set by this loss's forward
    t: NDArray[Any] = saved.target  # type: ignore[assignment]  # set by this loss's forward
    ge = expand_upstream(g, saved.reduction, x.size, x.dtype)
    dx = (x - t) / np.maximum(x * (1 - x), _BCE_EPS) * ge
    dt: NDArray[Any] | None = None
    if need_target:
        with np.errstate(divide="ignore"):
            dt = (np.log1p(-x) - np.log(x)) * ge  # unclamped, as PyTorch
    return dx, dt


def _pair_loss(name: str, fwd: Callable[..., tuple[NDArray[Any], PairSaved]],
               bwd: Callable[[PairSaved, NDArray[Any], bool], tuple[NDArray[Any], NDArray[Any] | None]],
               pred: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str, **options: Any) -> Tensor:
    """A loss of (prediction, same-shaped target) as one graph node."""
    T = tensor_class()
    pt = pred if isinstance(pred, T) else wrap(floats(pred, name, "input"))
    tt = target if isinstance(target, T) else None
    # raw data: the forward's kernel takes it as it is, or it goes through the boundary
    loss, saved = fwd(pt.data, target if tt is None else tt.data, reduction, **options)
    if grad_mode.enabled and (pt.requires_grad or (tt is not None and tt.requires_grad)):
        npd, ntg = pt.requires_grad, tt is not None and tt.requires_grad

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, NDArray[Any] | None]:
            dp, dtg = bwd(saved, g, ntg)
            return (dp if npd else None), (dtg if ntg else None)
        return record(loss, name, (pt, tt), backward, (pt,) if tt is None else (pt, tt))
    return wrap(loss)


def mse_loss(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """The Tensor op: mean((pred - target)^2); shapes must match exactly."""
    return _pair_loss("MseLossBackward", mse_loss_forward, mse_loss_backward, pred, target, reduction)


def binary_cross_entropy_with_logits(logits: Tensor | ArrayLike, target: Tensor | ArrayLike,
                                     reduction: str = "mean") -> Tensor:
    """The Tensor op: softplus(x) - x t (stable BCE on logits); d/dx = sigmoid(x) - t."""
    return _pair_loss("BceWithLogitsBackward", bce_with_logits_forward, bce_with_logits_backward,
                      logits, target, reduction)


def hinge_loss(scores: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """The Tensor op: mean(relu(1 - t s)) with targets t in {-1, +1}."""
    return _pair_loss("HingeLossBackward", hinge_loss_forward, hinge_loss_backward,
                      scores, target, reduction)


def l1_loss(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """The Tensor op: mean(|pred - target|); shapes must match exactly."""
    return _pair_loss("L1LossBackward", l1_loss_forward, l1_loss_backward, pred, target, reduction)


def huber_loss(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """The Tensor op: Huber loss with threshold ``delta`` (> 0); shapes must match exactly."""
    return _pair_loss("HuberLossBackward", huber_loss_forward, huber_loss_backward, pred, target, reduction,
                      delta=delta)


def binary_cross_entropy(probs: Tensor | ArrayLike, target: Tensor | ArrayLike,
                         reduction: str = "mean") -> Tensor:
    """The Tensor op: BCE on probabilities in [0, 1] (logs clamped to >= -100, as PyTorch)."""
    return _pair_loss("BinaryCrossEntropyBackward", bce_forward, bce_backward, probs, target, reduction)


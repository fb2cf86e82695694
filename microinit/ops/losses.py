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
    nll, labels y (log-probs)   -x_y                         -onehot(y)
    l1                          |x - t|                      sign(x - t)
    huber (delta d)             (x-t)^2/2 if |x-t| < d,      x - t, or d sign(x - t)
                                else d (|x - t| - d/2)
    BCE on probabilities        -[t log x + (1-t) log(1-x)]  (x - t) / max(x (1 - x), 1e-12)
                                (each log clamped to >= -100, as PyTorch)

Cross-entropy with ``label_smoothing`` e mixes the target with the uniform one,
(1 - e) onehot(y) + e/C; a label equal to ``ignore_index`` (default -100, as PyTorch)
contributes 0 and is not counted by "mean", which divides by the number of counted
targets (a mean over no counted target is 0, like an empty batch). Logits of shape
(N, C, d1, ...) have their classes on axis 1 and labels of shape (N, d1, ...), as in
PyTorch; nll_loss takes the same shapes and ``ignore_index``.

Cross-entropy and nll live here; the losses of a same-shaped target in
``ops/pair_losses.py`` (re-exported here).

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
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit._kernels import xent as _xent
from microinit.autograd.graph import record, tensor_class, wrap
from microinit.autograd.mode import grad_mode
from microinit.ops._boundary import floats, labels as checked_labels, promote
from microinit.ops.activations import log_softmax_forward
from microinit.ops.linalg import pool
# the losses of a same-shaped target and the shared reductions, re-exported here so
# that this module stays the one place that names every loss op
from microinit.ops.pair_losses import (
    REDUCTIONS, PairSaved, bce_backward, bce_forward, bce_with_logits_backward, bce_with_logits_forward,
    binary_cross_entropy, binary_cross_entropy_with_logits, check_reduction, expand_upstream,
    hinge_loss, hinge_loss_backward, hinge_loss_forward, huber_loss, huber_loss_backward,
    huber_loss_forward, l1_loss, l1_loss_backward, l1_loss_forward, mse_loss, mse_loss_backward,
    mse_loss_forward, scalar_upstream,
)

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["REDUCTIONS", "cross_entropy_forward", "cross_entropy_backward", "mse_loss_forward",
           "mse_loss_backward", "bce_with_logits_forward", "bce_with_logits_backward",
           "hinge_loss_forward", "hinge_loss_backward", "cross_entropy", "mse_loss",
           "binary_cross_entropy_with_logits", "hinge_loss", "check_labels", "nll_loss_forward",
           "nll_loss_backward", "l1_loss_forward", "l1_loss_backward", "huber_loss_forward",
           "huber_loss_backward", "bce_forward", "bce_backward", "nll_loss", "l1_loss", "huber_loss",
           "binary_cross_entropy", "IGNORE_INDEX", "PairSaved", "CrossEntropySaved", "ClassAxisSaved",
           "NllSaved"]

IGNORE_INDEX = -100  # PyTorch's default ignore_index
_pool = pool()
_XentSaved = _xent.XentSaved
_xent_forward_auto = _xent.forward_auto
_xent_backward_auto = _xent.backward_auto
check_labels = checked_labels
#: what cross_entropy_forward saves: a CrossEntropySaved, a ClassAxisSaved, or the fused
#: kernel's XentSaved (a compiled class of _kernels/xent.pyx)
XentState = Any


# --------------------------------------------------------------------------- cross-entropy
class CrossEntropySaved:
    """What the row-kernel cross-entropy keeps for backward (soft targets or "none")."""

    __slots__ = ("logits", "probs", "reduction", "soft", "target")

    def __init__(self, logits: NDArray[Any], probs: NDArray[Any], target: NDArray[Any], soft: bool,
                 reduction: str) -> None:
        self.logits, self.probs, self.target = logits, probs, target
        self.soft, self.reduction = soft, reduction


def _all_neg_inf_error(x: NDArray[Any], rows: NDArray[Any], op: str) -> NoReturn:
    i = int(np.argmax(np.isinf(rows) & (np.max(x, axis=1) == -np.inf)))
    raise ValueError(f"{op}: row {i} has every logit -inf (n_classes {x.shape[1]}); its loss is undefined")


def cross_entropy_forward(logits: ArrayLike, target: ArrayLike, reduction: str = "mean", label_smoothing: float = 0.0,
                          ignore_index: int = IGNORE_INDEX) -> tuple[NDArray[Any], XentState]:
    """Fused log-softmax + negative log-likelihood: ``(loss, saved)``.

    ``logits`` (N, C) or (N, C, d1, ...); ``target``: integer labels (N,) / (N, d1, ...)
    or class probabilities / one-hot rows of the logits' shape. Stable for huge
    logits; a -inf logit whose target weight is 0 stays finite; a row whose logits
    are all -inf raises ValueError (its loss is undefined). ``label_smoothing`` and
    ``ignore_index`` as in PyTorch (the module table).
    """
    # the fused kernel refuses negative labels, so with a negative ignore_index its
    # result has no ignored target in it
    if label_smoothing == 0.0 and type(ignore_index) is int and ignore_index < 0:
        fused: tuple[NDArray[Any], XentState] | None = _xent_forward_auto(logits, target, reduction, _pool)
        if fused is not None:  # (the arguments were boundary-safe already)
            return fused
    op = "cross_entropy"
    check_reduction(reduction, op)
    smoothing = _check_smoothing(label_smoothing, op)
    _check_ignore_index(ignore_index, op)
    x = floats(logits, op, "logits")
    if isinstance(target, tensor_class()):
        target = target.data
    t: NDArray[Any] = np.asarray(target) if not isinstance(target, np.ndarray) else target
    if x.ndim != 2 or smoothing or (t.ndim == 1 and t.dtype.kind in "iu" and (t == ignore_index).any()):
        return _class_axis_xent(x, t, reduction, smoothing, ignore_index)
    n, c = x.shape
    if n and c == 0:
        raise ValueError(f"{op}: logits of shape {x.shape} have no classes (n_classes 0)")
    soft = t.ndim == 2  # one-hot rows (any numeric dtype) or probabilities
    if not soft:
        t = checked_labels(t, n, c, op)  # a private, range-checked int64 copy
        if reduction != "none":
            r: tuple[NDArray[Any], XentState] | None = _xent_forward_auto(x, t, reduction, _pool)
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
    total: float = 0.0
    if n:
        total, bad, bad_label = (_xent.xent_forward_soft if soft else _xent.xent_forward)(x, t, rows, probs)
        if bad:
            _all_neg_inf_error(x, rows, op)
    loss = rows if reduction == "none" else np.asarray(total / n if reduction == "mean" and n else total, x.dtype)
    return loss, CrossEntropySaved(x, probs, t, soft, reduction)


def cross_entropy_backward(saved: XentState, g: ArrayLike,
                           need_target: bool = False) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """(dlogits, dtarget or None) given the upstream gradient ``g`` of the loss."""
    if type(saved) is ClassAxisSaved:
        return _class_axis_xent_backward(saved, g, need_target)
    if type(saved) is _XentSaved:
        fused: NDArray[Any] | None = _xent_backward_auto(saved, g, _pool)
        if fused is None:
            gv = scalar_upstream(g)
            if gv is None:
                raise ValueError(f"cross_entropy backward: the loss is a scalar, got an upstream "
                                 f"gradient of shape {np.shape(g)}")
            fused = _xent_backward_auto(saved, gv, _pool)
        return fused, None
    x, probs, t, soft = saved.logits, saved.probs, saved.target, saved.soft
    n = x.shape[0]
    dloss = expand_upstream(g, saved.reduction, n, x.dtype)
    if dloss.shape != (n,):
        dloss = np.full(n, dloss, x.dtype)
    else:
        dloss = np.asarray(dloss, order="C")
    dx = np.empty_like(probs)
    if n and x.shape[1]:
        (_xent.xent_backward_soft if soft else _xent.xent_backward)(probs, t, dloss, dx)
    dt: NDArray[Any] | None = None
    if need_target and soft:
        with np.errstate(invalid="ignore"):
            dt = -log_softmax_forward(x, 1) * dloss[:, None]
    return dx, dt


def cross_entropy(logits: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean",
                  label_smoothing: float = 0.0, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """The Tensor op: softmax cross-entropy over (N, C) or (N, C, d1, ...) logits
    (see the module table).

    ``target``: integer labels (N,) / (N, d1, ...) -- a negative, out-of-range or float
    label raises ValueError naming it and n_classes, unless it equals ``ignore_index``
    -- or class probabilities of the logits' shape.
    """
    T = tensor_class()
    lt = logits if isinstance(logits, T) else wrap(floats(logits, "cross_entropy", "logits"))
    tt = target if isinstance(target, T) else None
    # raw data: the fused kernel takes it as it is, or it goes through the boundary
    loss, saved = cross_entropy_forward(lt.data, target if tt is None else tt.data, reduction,
                                        label_smoothing, ignore_index)
    need_t = tt is not None and tt.requires_grad and type(saved) is not _XentSaved and saved.soft
    nl = lt.requires_grad
    if grad_mode.enabled and (nl or need_t):

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, NDArray[Any] | None]:
            dx, dt = cross_entropy_backward(saved, g, need_target=need_t)
            return (dx if nl else None), dt
        return record(loss, "CrossEntropyBackward", (lt, tt), backward, (lt,))
    return wrap(loss)


# ------------------------------------------------------------ classes on axis 1, PyTorch's options
def _check_smoothing(value: float, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{op}: label_smoothing must be a float in [0, 1], got {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {value!r}")
    return float(value)


def _check_ignore_index(value: int, op: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: ignore_index must be an int, got {type(value).__name__} {value!r}")


def _rows_of(x: NDArray[Any], op: str, name: str) -> NDArray[Any]:
    """(N, C, d1, ...) -> (N d1 ..., C): one row per prediction, classes last."""
    if x.ndim < 2:
        raise ValueError(f"{op}: {name} should be 2-dimensional (N, C) or more, (N, C, d1, ...), but "
                         f"found {x.ndim} dimension(s) (shape {tuple(x.shape)})")
    if x.ndim == 2:
        return x
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, x.shape[1])


def _unrows(a: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    """The inverse of ``_rows_of``: (N d1 ..., C) rows back to ``shape`` (classes on axis 1)."""
    if len(shape) == 2:
        return a
    return np.ascontiguousarray(np.moveaxis(a.reshape(shape[:1] + shape[2:] + shape[1:2]), -1, 1))


def _counted_labels(t: NDArray[Any], shape: tuple[int, ...], ignore_index: int,
                    op: str) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Labels of shape (N, d1, ...) as flat int64 (ignored ones set to 0) and the mask of
    the counted ones; a label out of [0, C) that is not ``ignore_index`` raises."""
    c, expected = shape[1], shape[:1] + shape[2:]
    if t.dtype.kind not in "iu":
        raise ValueError(f"{op}: class labels must be integers in [0, {c}) (n_classes {c}), got dtype "
                         f"{t.dtype}; pass class probabilities of shape {shape} instead")
    if t.shape != expected:
        raise ValueError(f"{op}: labels of shape {t.shape} do not match input of shape {shape}; "
                         f"expected labels of shape {expected}")
    y = np.array(t, dtype=np.int64).reshape(-1)  # a private copy
    counted = y != ignore_index
    bad = counted & ((y < 0) | (y >= c))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{op}: label {y[i]} at flat index {i} is out of range for n_classes {c} "
                         f"(labels must be in [0, {c - 1}] or equal ignore_index={ignore_index})")
    y[~counted] = 0
    return y, counted


def _reduce_counted(rows: NDArray[Any], reduction: str, count: int, out_shape: tuple[int, ...]) -> NDArray[Any]:
    if reduction == "none":
        return rows.reshape(out_shape)
    total = rows.sum()
    if reduction == "mean":
        total = total / count if count else total * 0
    return np.asarray(total, rows.dtype)


def _rowscalar_upstream(g: ArrayLike, reduction: str, m: int, count: int, dtype: np.dtype[Any]) -> NDArray[Any]:
    """The upstream gradient of each of the ``m`` rows, as an (m,) array."""
    if reduction == "none":
        return np.ascontiguousarray(np.asarray(g, dtype).reshape(m))
    gv = scalar_upstream(g)
    if gv is None:
        raise ValueError(f"loss backward: the loss is a scalar, got an upstream gradient of shape {np.shape(g)}")
    if reduction == "mean":
        gv = gv / count if count else 0.0
    return np.full(m, gv, dtype)


class ClassAxisSaved:
    """What cross-entropy with PyTorch's options keeps: the row form's saved state."""

    __slots__ = ("count", "inner", "reduction", "shape", "smoothing", "soft")

    def __init__(self, inner: CrossEntropySaved, shape: tuple[int, ...], count: int, reduction: str,
                 smoothing: float, soft: bool) -> None:
        self.inner, self.shape, self.count = inner, shape, count
        self.reduction, self.smoothing, self.soft = reduction, smoothing, soft


def _class_axis_xent(x: NDArray[Any], t: NDArray[Any], reduction: str, smoothing: float, ignore_index: int,
                     op: str = "cross_entropy") -> tuple[NDArray[Any], ClassAxisSaved]:
    """Every cross-entropy beyond the plain (N, C) one, as the soft row kernel on the
    target distribution (1 - e) onehot + e/C (a zero row for an ignored label)."""
    shape = x.shape
    x2 = _rows_of(x, op, "logits")
    m, c = x2.shape
    if m and c == 0:
        raise ValueError(f"{op}: logits of shape {shape} have no classes (n_classes 0)")
    soft = t.ndim == x.ndim
    if soft:
        t = floats(t, op, "target")
        if t.shape != shape:
            raise ValueError(f"{op}: target probabilities of shape {t.shape} do not match logits of shape "
                             f"{shape} (integer class labels have shape {shape[:1] + shape[2:]})")
        x2, t2 = promote(x2, _rows_of(t, op, "target"))
        if smoothing:
            t2 = t2 * (1 - smoothing) + smoothing / c
        count = m
    else:
        y, counted = _counted_labels(t, shape, ignore_index, op)
        t2 = np.full((m, c), smoothing / c, x2.dtype)
        t2[np.arange(m), y] += 1 - smoothing
        t2 *= counted[:, None]
        count = int(np.count_nonzero(counted))
    rows, inner = cross_entropy_forward(x2, t2, "none")
    loss = _reduce_counted(rows, reduction, count, shape[:1] + shape[2:])
    return loss, ClassAxisSaved(inner, shape, count, reduction, smoothing, soft)


def _class_axis_xent_backward(saved: ClassAxisSaved, g: ArrayLike,
                              need_target: bool) -> tuple[NDArray[Any], NDArray[Any] | None]:
    inner = saved.inner
    m, dtype = inner.logits.shape[0], inner.logits.dtype
    gv = _rowscalar_upstream(g, saved.reduction, m, saved.count, dtype)
    dx, dt = cross_entropy_backward(inner, gv, need_target=need_target and saved.soft)
    if dt is not None:
        dt = _unrows(dt * (1 - saved.smoothing), saved.shape)
    return _unrows(dx, saved.shape), dt


# --------------------------------------------------------------------------- nll
class NllSaved:
    """What nll_loss keeps: the picked positions and which targets count."""

    __slots__ = ("count", "counted", "dtype", "labels", "reduction", "shape")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype[Any], labels: NDArray[np.int64],
                 counted: NDArray[np.bool_], count: int, reduction: str) -> None:
        self.shape, self.dtype, self.labels = shape, dtype, labels
        self.counted, self.count, self.reduction = counted, count, reduction


def nll_loss_forward(logp: ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean",
                     ignore_index: int = IGNORE_INDEX) -> tuple[NDArray[Any], NllSaved]:
    """Negative log-likelihood of log-probabilities (N, C) / (N, C, d1, ...): ``-logp[y]``.

    >>> loss, saved = nll_loss_forward(np.log([[0.5, 0.5], [0.9, 0.1]]), np.array([0, -100]))
    >>> round(float(loss), 4), nll_loss_backward(saved, 1.0).tolist()      # only row 0 counts
    (0.6931, [[-1.0, 0.0], [0.0, 0.0]])
    """
    op = "nll_loss"
    check_reduction(reduction, op)
    _check_ignore_index(ignore_index, op)
    x = floats(logp, op, "input")
    x2 = _rows_of(x, op, "input")
    if isinstance(target, tensor_class()):
        target = target.data
    t: NDArray[Any] = target if isinstance(target, np.ndarray) else np.asarray(target)
    if x2.shape[0] and x2.shape[1] == 0:
        raise ValueError(f"{op}: input of shape {x.shape} has no classes (n_classes 0)")
    y, counted = _counted_labels(t, x.shape, ignore_index, op)
    rows = np.where(counted, -x2[np.arange(y.size), y], 0).astype(x.dtype, copy=False)
    count = int(np.count_nonzero(counted))
    loss = _reduce_counted(rows, reduction, count, x.shape[:1] + x.shape[2:])
    return loss, NllSaved(x.shape, x.dtype, y, counted, count, reduction)


def nll_loss_backward(saved: NllSaved, g: ArrayLike) -> NDArray[Any]:
    """dlogp: ``-g`` at each counted (row, label), 0 elsewhere."""
    m, c = saved.labels.size, saved.shape[1]
    gv = _rowscalar_upstream(g, saved.reduction, m, saved.count, saved.dtype)
    dx = np.zeros((m, c), saved.dtype)
    dx[np.arange(m), saved.labels] = np.where(saved.counted, -gv, 0)
    return _unrows(dx, saved.shape)


def nll_loss(logp: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean",
             ignore_index: int = IGNORE_INDEX) -> Tensor:
    """The Tensor op: ``-logp[y]`` per target (feed it ``log_softmax`` outputs)."""
    xt = logp if isinstance(logp, tensor_class()) else wrap(floats(logp, "nll_loss", "input"))
    loss, saved = nll_loss_forward(xt.data, target, reduction, ignore_index)
    if grad_mode.enabled and xt.requires_grad:
        return record(loss, "NllLossBackward", (xt,), lambda g: (nll_loss_backward(saved, g),), (xt,))
    return wrap(loss)

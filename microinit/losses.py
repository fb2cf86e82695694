"""Loss functions and loss modules.

Each loss is ONE graph node with a fused backward (``microinit.tensor``'s fused ops);
this module gives them their public names, module forms, a name registry for
``fit(loss="cross_entropy")`` and the matching accuracy.

=====================================  ==========================================  ==========================
function (module)                      loss per sample                              target
=====================================  ==========================================  ==========================
``cross_entropy`` (CrossEntropyLoss)   ``logsumexp(x) - x[y]`` (fused log-softmax)  int labels (N,) or (N, C)
                                                                                    probabilities / one-hot
``mse`` (MSELoss)                      ``(pred - target)**2``                       same shape as pred
``binary_cross_entropy_with_logits``   ``softplus(x) - x * t``                      t in [0, 1], same shape
(BCEWithLogitsLoss)
``hinge`` (HingeLoss)                  ``max(0, 1 - t * s)`` (max-margin)           t in {-1, +1}
``nll_loss`` (NLLLoss)                 ``-x[y]`` (x = log-probabilities)            int labels (N,)
``l1_loss`` (L1Loss)                   ``|pred - target|``                          same shape as pred
``huber_loss`` (HuberLoss)             ``d**2/2`` if ``|d| < delta`` else           same shape as pred
                                       ``delta * (|d| - delta/2)``, d = pred - t
``binary_cross_entropy`` (BCELoss)     ``-[t log p + (1-t) log(1-p)]``, p in [0, 1] t in [0, 1], same shape
=====================================  ==========================================  ==========================

``cross_entropy`` and ``nll_loss`` also take ``(N, C, d1, ...)`` inputs (classes on
axis 1) with labels ``(N, d1, ...)``, and ``ignore_index`` (default -100: such a label
contributes 0 and "mean" divides by the number of the others); ``cross_entropy`` takes
``label_smoothing`` -- all as ``torch.nn.functional`` does. docs/losses.md has the
formulas and the names ``fit(loss=...)`` accepts.

``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"``. Class labels that are
negative, out of range or of a float dtype raise ``ValueError`` naming the label and
``n_classes`` (checked by the fused op, before anything is indexed).

Example::

    >>> import numpy as np
    >>> from microinit import losses, tensor
    >>> logits = tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], requires_grad=True)
    >>> loss = losses.cross_entropy(logits, np.array([0, 1]))
    >>> round(loss.item(), 4)
    0.3606
    >>> loss.backward()            # logits.grad = (softmax(logits) - onehot) / N
    >>> np.round(logits.grad, 3)
    array([[-0.078,  0.057,  0.021],
           [ 0.106, -0.212,  0.106]], dtype=float32)
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Union, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit import metrics
from microinit.ops import losses as loss_ops
from microinit.tensor import Tensor

__all__ = [
    "cross_entropy", "mse", "mse_loss", "binary_cross_entropy_with_logits", "hinge", "hinge_loss",
    "nll_loss", "l1_loss", "huber_loss", "binary_cross_entropy",
    "Loss", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "HingeLoss", "NLLLoss", "L1Loss",
    "HuberLoss", "BCELoss", "get", "available",
]


def cross_entropy(logits: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean",
                  label_smoothing: float = 0.0, ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy of ``(N, C)`` or ``(N, C, d1, ...)`` logits:
    ``mean_i(logsumexp(x_i) - x_i[y_i])``.

    ``target``: int labels ``(N,)`` / ``(N, d1, ...)`` or class probabilities (one-hot
    rows) of the logits' shape. Stable for huge logits (max-subtracted log-sum-exp);
    grad = ``softmax(x) - onehot(y)``. With ``label_smoothing`` e the target is
    ``(1 - e) onehot(y) + e / C``; labels equal to ``ignore_index`` are left out.

    >>> round(cross_entropy(np.array([[1000.0, 0.0]]), np.array([1])).item(), 1)
    1000.0
    >>> x = np.array([[2.0, 0.0], [0.0, 2.0]])
    >>> round(cross_entropy(x, np.array([0, -100])).item(), 4)      # only row 0 counts
    0.1269
    >>> round(cross_entropy(x, np.array([0, 1]), label_smoothing=0.1).item(), 4)
    0.2269
    """
    return loss_ops.cross_entropy(logits, target, reduction, label_smoothing, ignore_index)


def nll_loss(logp: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood ``mean_i(-logp_i[y_i])`` of log-probabilities (``log_softmax``
    outputs), ``(N, C)`` or ``(N, C, d1, ...)``; ``ignore_index`` as ``cross_entropy``.

    >>> nll_loss(np.log([[0.5, 0.5], [0.25, 0.75]]), np.array([0, 1]), reduction="none").data.round(4).tolist()
    [0.6931, 0.2877]
    """
    return loss_ops.nll_loss(logp, target, reduction, ignore_index)


def l1_loss(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``mean(|pred - target|)``; grad ``sign(pred - target)``.

    >>> l1_loss(np.array([1.0, -2.0]), np.array([0.0, 0.0])).item()
    1.5
    """
    return loss_ops.l1_loss(pred, target, reduction)


def huber_loss(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """Huber loss: ``d**2 / 2`` where ``|d| < delta``, else ``delta * (|d| - delta / 2)``
    (d = pred - target): quadratic near 0, linear for outliers.

    >>> huber_loss(np.array([0.5, 3.0]), np.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    return loss_ops.huber_loss(pred, target, reduction, delta=delta)


def binary_cross_entropy(probs: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities: ``-mean(t log p + (1 - t) log(1 - p))``, each
    log clamped to ``>= -100`` as PyTorch does (so p = 0 or 1 gives a finite loss).
    ``probs`` outside [0, 1] raise ``ValueError``; for logits use
    ``binary_cross_entropy_with_logits`` (stabler).

    >>> round(binary_cross_entropy(np.array([0.5, 0.9]), np.array([1.0, 1.0])).item(), 4)
    0.3993
    """
    return loss_ops.binary_cross_entropy(probs, target, reduction)


def mse(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((pred - target)**2)``; shapes must match exactly.

    >>> mse(np.array([1.0, 2.0]), np.array([0.0, 0.0])).item()
    2.5
    """
    return loss_ops.mse_loss(pred, target, reduction)


def binary_cross_entropy_with_logits(logits: Tensor | ArrayLike, target: Tensor | ArrayLike,
                                     reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on logits: ``mean(softplus(x) - x * t)``; grad ``sigmoid(x) - t``.

    >>> round(binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0])).item(), 4)   # log 2
    0.6931
    """
    return loss_ops.binary_cross_entropy_with_logits(logits, target, reduction)


def hinge(scores: Tensor | ArrayLike, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """Max-margin (hinge) loss ``mean(max(0, 1 - t * s))`` with ``t`` in {-1, +1}.

    >>> hinge(np.array([2.0, 0.5]), np.array([1.0, 1.0]), reduction="none").tolist()
    [0.0, 0.5]
    """
    return loss_ops.hinge_loss(scores, target, reduction)


mse_loss = mse
hinge_loss = hinge


def _data(x: Tensor | ArrayLike) -> NDArray[Any]:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Loss:
    """A loss as an object: ``loss(pred, target) -> scalar Tensor`` plus ``correct``.

    >>> loss = CrossEntropyLoss()
    >>> logits, labels = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1])
    >>> loss.correct(logits, labels)      # rows whose argmax is the label
    2
    """

    name: ClassVar[str] = ""
    #: the loss function fn(pred, target, reduction, **options) (set by each subclass)
    fn: ClassVar[Callable[..., Tensor] | None] = None

    def __init__(self, reduction: str = "mean", **options: Any) -> None:
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', "
                             f"got {reduction!r}")
        self.reduction = reduction
        self.options = options  # the loss function's keyword arguments (delta, ignore_index...)

    def __call__(self, pred: Tensor | ArrayLike, target: Tensor | ArrayLike) -> Tensor:
        return type(self).fn(pred, target, self.reduction, **self.options)  # type: ignore[misc]  # set by subclasses

    def correct(self, pred: Tensor | ArrayLike, target: Tensor | ArrayLike) -> int | None:
        """Number of correctly classified rows, or None for a regression loss."""
        return None

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}(reduction={self.reduction!r}{opts})"


class CrossEntropyLoss(Loss):
    """``cross_entropy`` as a module: ``CrossEntropyLoss(reduction, label_smoothing=0.0, ignore_index=-100)``."""
    name = "cross_entropy"
    fn: ClassVar[Callable[..., Tensor] | None] = staticmethod(cross_entropy)  # NLLLoss sets another

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0, ignore_index: int = -100) -> None:
        opts: dict[str, Any] = {}
        if label_smoothing:
            opts["label_smoothing"] = label_smoothing
        if ignore_index != -100:
            opts["ignore_index"] = ignore_index
        super().__init__(reduction, **opts)

    def correct(self, pred: Tensor | ArrayLike, target: Tensor | ArrayLike) -> int | None:
        return metrics.correct_count(_data(pred), _data(target))[0]


class NLLLoss(CrossEntropyLoss):
    """``nll_loss`` as a module (its input: log-probabilities)."""
    name = "nll_loss"
    fn = staticmethod(nll_loss)

    def __init__(self, reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__(reduction, ignore_index=ignore_index)


class MSELoss(Loss):
    name = "mse"
    fn = staticmethod(mse)


class BCEWithLogitsLoss(Loss):
    name = "binary_cross_entropy_with_logits"
    fn = staticmethod(binary_cross_entropy_with_logits)

    def correct(self, pred: Tensor | ArrayLike, target: Tensor | ArrayLike) -> int | None:
        p, t = _data(pred), _data(target)
        return int(np.count_nonzero((p > 0) == (t.reshape(p.shape) > 0.5)))


class L1Loss(Loss):
    name = "l1_loss"
    fn = staticmethod(l1_loss)


class HuberLoss(Loss):
    """``huber_loss`` as a module: ``HuberLoss(reduction, delta=1.0)``."""
    name = "huber_loss"
    fn = staticmethod(huber_loss)

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction, **({} if delta == 1.0 else {"delta": delta}))


class BCELoss(Loss):
    """``binary_cross_entropy`` (on probabilities) as a module."""
    name = "binary_cross_entropy"
    fn = staticmethod(binary_cross_entropy)

    def correct(self, pred: Tensor | ArrayLike, target: Tensor | ArrayLike) -> int | None:
        p, t = _data(pred), _data(target)
        return int(np.count_nonzero((p > 0.5) == (t.reshape(p.shape) > 0.5)))


class HingeLoss(Loss):
    name = "hinge"
    fn = staticmethod(hinge)

    def correct(self, pred: Tensor | ArrayLike, target: Tensor | ArrayLike) -> int | None:
        p, t = _data(pred), _data(target)
        return int(np.count_nonzero(np.where(p > 0, 1, -1) == t.reshape(p.shape)))


_REGISTRY: dict[str, type[Loss]] = {
    "cross_entropy": CrossEntropyLoss, "crossentropy": CrossEntropyLoss, "xent": CrossEntropyLoss,
    "mse": MSELoss, "mse_loss": MSELoss,
    "binary_cross_entropy_with_logits": BCEWithLogitsLoss, "bce": BCEWithLogitsLoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "hinge": HingeLoss, "hinge_loss": HingeLoss, "max_margin": HingeLoss,
    "nll_loss": NLLLoss, "nll": NLLLoss, "l1_loss": L1Loss, "l1": L1Loss, "mae": L1Loss,
    "huber_loss": HuberLoss, "huber": HuberLoss, "binary_cross_entropy": BCELoss, "bce_probs": BCELoss,
}
#: what ``get`` (and ``fit(loss=...)``) accepts: a name, a Loss, or fn(pred, target) -> Tensor
LossSpec = Union[str, Loss, Callable[..., Tensor]]
_CLASSES = (CrossEntropyLoss, MSELoss, BCEWithLogitsLoss, HingeLoss, NLLLoss, L1Loss, HuberLoss, BCELoss)


def available() -> list[str]:
    """Names ``get`` accepts."""
    return sorted(_REGISTRY)


@overload
def get(spec: str | Loss) -> Loss: ...
@overload
def get(spec: Callable[..., Tensor]) -> Loss | Callable[..., Tensor]: ...
def get(spec: LossSpec) -> Loss | Callable[..., Tensor]:
    """A ``Loss`` from a name (``"cross_entropy"``, ``"mse"``, ``"bce"``, ``"huber"``, ... see
    ``available()``), a
    ``Loss`` instance, or any callable ``fn(pred, target) -> scalar Tensor`` (returned as is).

    >>> get("bce"), get(mse)
    (BCEWithLogitsLoss(reduction='mean'), MSELoss(reduction='mean'))
    """
    if isinstance(spec, Loss) or (callable(spec) and not isinstance(spec, str)):
        for cls in _CLASSES:
            if spec is cls.fn:
                return cls()
        return spec
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        if key in _REGISTRY:
            return _REGISTRY[key]()
        raise ValueError(f"unknown loss {spec!r}; available: {', '.join(available())}")
    raise TypeError(f"loss must be a name, a Loss or a callable, got {type(spec).__name__}")

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
=====================================  ==========================================  ==========================

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
from importlib import import_module

import numpy as np

from microinit.tensor import Tensor

# The module microinit.tensor, whose fused loss ops these functions name: the package
# attribute ``microinit.tensor`` is the ``tensor()`` constructor, so import it by path.
tensor_ops = import_module("microinit.tensor")

__all__ = [
    "cross_entropy", "mse", "mse_loss", "binary_cross_entropy_with_logits", "hinge", "hinge_loss",
    "Loss", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "HingeLoss", "get", "available",
]


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy of ``(N, C)`` logits: ``mean_i(logsumexp(x_i) - x_i[y_i])``.

    ``target``: int labels ``(N,)`` or ``(N, C)`` class probabilities (one-hot rows).
    Stable for huge logits (max-subtracted log-sum-exp); grad = ``softmax(x) - onehot(y)``.

    >>> round(cross_entropy(np.array([[1000.0, 0.0]]), np.array([1])).item(), 1)
    1000.0
    """
    return tensor_ops.cross_entropy(logits, target, reduction)


def mse(pred, target, reduction="mean"):
    """Mean squared error ``mean((pred - target)**2)``; shapes must match exactly.

    >>> mse(np.array([1.0, 2.0]), np.array([0.0, 0.0])).item()
    2.5
    """
    return tensor_ops.mse_loss(pred, target, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Binary cross-entropy on logits: ``mean(softplus(x) - x * t)``; grad ``sigmoid(x) - t``.

    >>> round(binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0])).item(), 4)   # log 2
    0.6931
    """
    return tensor_ops.binary_cross_entropy_with_logits(logits, target, reduction)


def hinge(scores, target, reduction="mean"):
    """Max-margin (hinge) loss ``mean(max(0, 1 - t * s))`` with ``t`` in {-1, +1}.

    >>> hinge(np.array([2.0, 0.5]), np.array([1.0, 1.0]), reduction="none").tolist()
    [0.0, 0.5]
    """
    return tensor_ops.hinge_loss(scores, target, reduction)


mse_loss = mse
hinge_loss = hinge


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Loss:
    """A loss as an object: ``loss(pred, target) -> scalar Tensor`` plus ``correct``.

    >>> loss = CrossEntropyLoss()
    >>> logits, labels = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1])
    >>> loss.correct(logits, labels)      # rows whose argmax is the label
    2
    """

    name = ""
    fn = None

    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', "
                             f"got {reduction!r}")
        self.reduction = reduction

    def __call__(self, pred, target):
        return type(self).fn(pred, target, self.reduction)

    def correct(self, pred, target):
        """Number of correctly classified rows, or None for a regression loss."""
        return None

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class CrossEntropyLoss(Loss):
    name = "cross_entropy"
    fn = staticmethod(cross_entropy)

    def correct(self, pred, target):
        t = _data(target)
        if t.ndim == 2:
            t = t.argmax(axis=1)
        return int(np.count_nonzero(_data(pred).argmax(axis=1) == t))


class MSELoss(Loss):
    name = "mse"
    fn = staticmethod(mse)


class BCEWithLogitsLoss(Loss):
    name = "binary_cross_entropy_with_logits"
    fn = staticmethod(binary_cross_entropy_with_logits)

    def correct(self, pred, target):
        p, t = _data(pred), _data(target)
        return int(np.count_nonzero((p > 0) == (t.reshape(p.shape) > 0.5)))


class HingeLoss(Loss):
    name = "hinge"
    fn = staticmethod(hinge)

    def correct(self, pred, target):
        p, t = _data(pred), _data(target)
        return int(np.count_nonzero(np.where(p > 0, 1, -1) == t.reshape(p.shape)))


_REGISTRY = {
    "cross_entropy": CrossEntropyLoss, "crossentropy": CrossEntropyLoss, "xent": CrossEntropyLoss,
    "mse": MSELoss, "mse_loss": MSELoss,
    "binary_cross_entropy_with_logits": BCEWithLogitsLoss, "bce": BCEWithLogitsLoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "hinge": HingeLoss, "hinge_loss": HingeLoss, "max_margin": HingeLoss,
}


def available():
    """Names ``get`` accepts."""
    return sorted(_REGISTRY)


def get(spec):
    """A ``Loss`` from a name (``"cross_entropy"``, ``"mse"``, ``"bce"``, ``"hinge"``), a
    ``Loss`` instance, or any callable ``fn(pred, target) -> scalar Tensor`` (returned as is).

    >>> get("bce"), get(mse)
    (BCEWithLogitsLoss(reduction='mean'), MSELoss(reduction='mean'))
    """
    if isinstance(spec, Loss) or (callable(spec) and not isinstance(spec, str)):
        for cls in (CrossEntropyLoss, MSELoss, BCEWithLogitsLoss, HingeLoss):
            if spec is cls.fn:
                return cls()
        return spec
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        if key in _REGISTRY:
            return _REGISTRY[key]()
        raise ValueError(f"unknown loss {spec!r}; available: {', '.join(available())}")
    raise TypeError(f"loss must be a name, a Loss or a callable, got {type(spec).__name__}")

"""Metrics: numbers that say how good predictions are, without a gradient.

``accuracy(pred, target)`` is the fraction of predictions that name the right class,
as a Python float:

* **classes**: ``pred`` of shape ``(N, C)`` or ``(N, C, d1, ...)`` holds logits or
  probabilities (the predicted class is the argmax along axis 1, so either works),
  ``target`` integer labels ``(N,)`` / ``(N, d1, ...)`` or one-hot / probability rows
  of ``pred``'s shape (their argmax is the label). With ``ignore_index`` (as in
  ``cross_entropy``) those labels are left out of the count.
* **binary**: ``pred`` of shape ``(N,)`` or ``(N, 1)`` and ``target`` of the same size
  holding 0/1 (or bools). ``pred`` holds probabilities -- predicted 1 where
  ``pred > threshold`` -- unless a value lies outside [0, 1]: then it holds logits
  and is passed through a sigmoid first (the rule torchmetrics uses).

    >>> import numpy as np
    >>> accuracy(np.array([[2.0, 0.1], [0.3, 0.9], [1.0, 0.0]]), np.array([0, 1, 1]))
    0.6666666666666666
    >>> accuracy(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0]))        # probabilities
    0.6666666666666666
    >>> accuracy(np.array([3.0, -1.0, 0.5]), np.array([1, 0, 1]))       # logits
    1.0
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.tensor import Tensor

__all__ = ["accuracy", "correct_count"]


def _array(x: Tensor | ArrayLike, name: str) -> NDArray[Any]:
    if isinstance(x, Tensor):
        return x.data
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"accuracy: {name} must be an array or a Tensor, got {type(x).__name__}")
    return np.asarray(x)


def _binary_hits(p: NDArray[Any], t: NDArray[Any], threshold: float) -> tuple[NDArray[np.bool_], int]:
    p, t = p.reshape(-1), t.reshape(-1)
    if p.dtype.kind not in "fiub":
        raise TypeError(f"accuracy: pred has dtype {p.dtype}; expected a float array")
    if t.size and not np.isin(t, (0, 1)).all():
        bad = t[~np.isin(t, (0, 1))][0]
        raise ValueError(f"accuracy: binary targets must be 0 or 1, found {bad.item()!r}")
    if p.size and ((p < 0) | (p > 1)).any():  # logits: sigmoid(x) > threshold
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-p.astype(np.float64)))
    return (p > threshold) == (t == 1), p.size


def correct_count(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, ignore_index: int | None = None,
                  threshold: float = 0.5) -> tuple[int, int]:
    """(number of correct predictions, number counted), the two halves of ``accuracy``.

    >>> correct_count(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 0]))
    (1, 2)
    """
    p, t = _array(pred, "pred"), _array(target, "target")
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1 and t.ndim == 1):
        if p.size != t.size:
            raise ValueError(f"accuracy: binary pred of shape {p.shape} and target of shape {t.shape} "
                             "differ in size")
        hits, n = _binary_hits(p, t, threshold)
        return int(np.count_nonzero(hits)), n
    if p.ndim < 2:
        raise ValueError(f"accuracy: pred of shape {p.shape}: expected (N,), (N, C) or (N, C, d1, ...)")
    if t.shape == p.shape:  # one-hot or probability rows
        t = t.argmax(axis=1)
    expected = p.shape[:1] + p.shape[2:]
    if t.shape != expected:
        raise ValueError(f"accuracy: target of shape {t.shape} does not match pred of shape {p.shape}; "
                         f"expected labels of shape {expected} or one-hot rows of shape {p.shape}")
    if t.dtype.kind not in "iu":
        raise ValueError(f"accuracy: class labels must be integers, got dtype {t.dtype}")
    hits = p.argmax(axis=1) == t
    if ignore_index is not None:
        counted = t != ignore_index
        return int(np.count_nonzero(hits & counted)), int(np.count_nonzero(counted))
    return int(np.count_nonzero(hits)), int(t.size)


def accuracy(pred: Tensor | ArrayLike, target: Tensor | ArrayLike, ignore_index: int | None = None,
             threshold: float = 0.5) -> float:
    """Fraction of correct predictions (see the module docstring for the shapes).

    ``ignore_index``: a label left out of the count; ``threshold``: the probability
    above which a binary prediction is 1. No prediction to count raises ValueError
    (an accuracy of nothing is undefined).

    >>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.6]]), np.array([1, 0, -100]), ignore_index=-100)
    1.0
    """
    hits, n = correct_count(pred, target, ignore_index, threshold)
    if n == 0:
        raise ValueError("accuracy: no prediction to count (empty input, or every label ignored)")
    return hits / n

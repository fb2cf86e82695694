"""numpy twins of the normalization and dropout kernels (``norm.pyx``, ``dropout.pyx``): the
oracle ``tests/kernels/test_kernel_norm.py`` compares the kernels against, written from
the formulas in float64 (the same role as ``reference.py`` for the other kernels).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[Any]
Maybe = NDArray[Any] | None


# --- norm.pyx (layer and batch normalization) ----------------------------------------

def _normalize(x: Array, mean: Array, r: Array) -> Array:
    """xhat with the statistics rounded to x's dtype, as the kernels form it."""
    return np.asarray((x - mean.astype(x.dtype)) * r.astype(x.dtype))


def layer_norm_forward(x: ArrayLike, weight: Maybe, bias: Maybe, eps: float) -> tuple[Array, Array, Array]:
    """(y, mean, rstd) normalizing each row of a 2-D x (statistics in float64).

    >>> y, mean, rstd = layer_norm_forward(np.array([[1.0, 3.0]]), None, None, 0.0)
    >>> y.tolist(), mean.tolist(), rstd.tolist()
    ([[-1.0, 1.0]], [2.0], [1.0])
    """
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    d = x.shape[1]
    mean = x64.mean(axis=1) if d else np.zeros(x.shape[0])
    var = ((x64 - mean[:, None]) ** 2).mean(axis=1) if d else np.zeros(x.shape[0])
    rstd = 1.0 / np.sqrt(var + eps)
    y = _normalize(x, mean[:, None], rstd[:, None])
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype), mean.astype(x.dtype), rstd.astype(x.dtype)


def layer_norm_backward(x: ArrayLike, mean: Array, rstd: Array, weight: Maybe,
                        dy: ArrayLike) -> tuple[Array, Array, Array]:
    """(dx, dweight, dbias) of layer_norm_forward (all three computed).

    >>> dx, dw, db = layer_norm_backward(np.array([[1.0, 3.0]]), np.array([2.0]),
    ...                                  np.array([1.0]), None, np.array([[1.0, 0.0]]))
    >>> dx.tolist(), dw.tolist(), db.tolist()
    ([[0.0, 0.0]], [-1.0, 0.0], [1.0, 0.0])
    """
    x, dy = np.asarray(x), np.asarray(dy)
    d = x.shape[1]
    xh = _normalize(x, mean[:, None], rstd[:, None]).astype(np.float64)
    gh = (dy * weight if weight is not None else dy).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = gh.sum(axis=1, keepdims=True) / d
        b = (gh * xh).sum(axis=1, keepdims=True) / d
    dx = rstd[:, None].astype(np.float64) * (gh - a - xh * b)
    dw = (dy.astype(np.float64) * xh).sum(axis=0)
    db = dy.astype(np.float64).sum(axis=0)
    return dx.astype(x.dtype), dw.astype(x.dtype), db.astype(x.dtype)


def batch_norm_forward(x: ArrayLike, weight: Maybe, bias: Maybe, running_mean: Maybe, running_var: Maybe,
                       eps: float, batch_stats: bool) -> tuple[Array, Array, Array, Array]:
    """(y, mean, var, invstd) normalizing each column of a 2-D x: with its own mean and
    biased variance (``batch_stats``) or with the running ones given.

    >>> y, mean, var, invstd = batch_norm_forward(np.array([[1.0], [3.0]]), None, None,
    ...                                           None, None, 0.0, True)
    >>> y.ravel().tolist(), mean.tolist(), var.tolist(), invstd.tolist()
    ([-1.0, 1.0], [2.0], [1.0], [1.0])
    """
    x = np.asarray(x)
    if batch_stats:
        x64 = x.astype(np.float64)
        n = x.shape[0]
        mean = x64.mean(axis=0) if n else np.zeros(x.shape[1])
        var = ((x64 - mean) ** 2).mean(axis=0) if n else np.zeros(x.shape[1])
        mean, var = mean.astype(x.dtype), var.astype(x.dtype)
    else:
        mean, var = np.asarray(running_mean), np.asarray(running_var)
    invstd = (1.0 / np.sqrt(var.astype(np.float64) + eps)).astype(x.dtype)
    y = _normalize(x, mean, invstd)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype), mean, var, invstd


def batch_norm_backward(x: ArrayLike, mean: Array, invstd: Array, weight: Maybe, dy: ArrayLike,
                        batch_stats: bool) -> tuple[Array, Array, Array]:
    """(dx, dweight, dbias) of batch_norm_forward.

    >>> dx, dw, db = batch_norm_backward(np.array([[1.0], [3.0]]), np.array([2.0]),
    ...                                  np.array([1.0]), None, np.array([[1.0], [0.0]]), True)
    >>> dx.ravel().tolist(), dw.tolist(), db.tolist()
    ([0.0, 0.0], [-1.0], [1.0])
    """
    x, dy = np.asarray(x), np.asarray(dy)
    n = x.shape[0]
    xh = _normalize(x, mean, invstd).astype(np.float64)
    g = dy.astype(np.float64)
    db, dw = g.sum(axis=0), (g * xh).sum(axis=0)
    scale = invstd.astype(np.float64) * (weight if weight is not None else 1.0)
    if batch_stats and n:
        dx = scale * (g - db / n - xh * (dw / n))
    else:
        dx = scale * g
    return dx.astype(x.dtype), dw.astype(x.dtype), db.astype(x.dtype)


# --- dropout.pyx ------------------------------------------------------------------------

def dropout_forward(x: Array, u: Array, p: float) -> tuple[Array, Array]:
    """(y, keep): keep = u >= p; y = x * (scale if keep else 0), scale = 1 / (1 - p)
    (0 when p = 1) rounded to x's dtype.

    >>> y, keep = dropout_forward(np.ones(3), np.array([0.2, 0.6, 0.9]), 0.5)
    >>> y.tolist(), keep.tolist()
    ([0.0, 2.0, 2.0], [0, 1, 1])
    """
    x = np.asarray(x)
    keep = np.asarray(u) >= x.dtype.type(p)
    scale = x.dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))
    return x * np.where(keep, scale, x.dtype.type(0)), keep.astype(np.uint8)


def dropout_backward(dy: Array, keep: Array, p: float) -> Array:
    """dx = dy * (scale if keep else 0), as dropout_forward's output."""
    dy = np.asarray(dy)
    scale = dy.dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))
    return np.asarray(dy * np.where(np.asarray(keep, bool), scale, dy.dtype.type(0)))

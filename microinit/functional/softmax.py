"""Softmax and log-softmax along an axis, forward/backward over numpy arrays.

Both subtract the row maximum first, so huge logits (±1e4) stay finite
(RELIABILITY row 15). A row whose maximum is ``-inf`` (all entries ``-inf``)
follows IEEE like PyTorch: softmax gives NaN there; cross-entropy (losses.py) handles
that case itself.

Formulas (y = output, g = upstream gradient, sums along ``axis``)::

    softmax:      y = e^(x - m) / sum e^(x - m)      dx = y * (g - sum(g * y))
    log_softmax:  y = x - m - log sum e^(x - m)      dx = g - e^y * sum(g)

Example::

    >>> softmax_forward(np.array([[1.0, 2.0, 3.0]]))
    array([[0.09003057, 0.24472847, 0.66524096]])
"""
import numpy as np


def _shifted(x, axis):
    # initial=-inf lets a zero-length axis through (an empty row has no max).
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore"):
        return x - m


def softmax_forward(x, axis=-1):
    """Stable softmax of ``x`` along ``axis`` (same shape and dtype)."""
    z = _shifted(x, axis)
    np.exp(z, out=z)
    with np.errstate(invalid="ignore", divide="ignore"):
        z /= z.sum(axis=axis, keepdims=True)
    return z


def softmax_backward(y, g, axis=-1):
    """dx = y * (g - sum(g * y, axis)) given the softmax output ``y``."""
    gy = g * y
    return (gy - y * gy.sum(axis=axis, keepdims=True)).astype(y.dtype, copy=False)


def log_softmax_forward(x, axis=-1):
    """Stable log-softmax of ``x`` along ``axis`` (same shape and dtype)."""
    z = _shifted(x, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        lse = np.log(np.exp(z).sum(axis=axis, keepdims=True))
        z -= lse
    return z


def log_softmax_backward(y, g, axis=-1):
    """dx = g - exp(y) * sum(g, axis) given the log-softmax output ``y``."""
    return (g - np.exp(y) * g.sum(axis=axis, keepdims=True)).astype(y.dtype, copy=False)

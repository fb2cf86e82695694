"""Normalization and dropout: forward and backward side by side, fused kernels.

With mu, var the mean and biased variance over the normalized elements and
r = 1 / sqrt(var + eps) (``_kernels/norm.pyx`` has the backward formulas)::

    layer_norm:  y = (x - mu) r w + b   over the trailing ``normalized_shape`` of each sample
    batch_norm:  y = (x - mu) r w + b   per channel (axis 1) over the batch (and length L)
    dropout:     y = x * keep / (1 - p) with keep ~ Bernoulli(1 - p), identity when not training

batch_norm in training uses the batch's statistics and, given running buffers, updates
them in place as PyTorch does: ``running = (1 - momentum) running + momentum batch``,
with the UNBIASED variance ``var n / (n - 1)``. Otherwise (training=False) it
normalizes with the running statistics, which are then constants.

    >>> import numpy as np
    >>> import microinit as mi
    >>> x = mi.tensor([[1.0, 3.0], [3.0, 7.0]], requires_grad=True)
    >>> layer_norm(x, 2, eps=0.0).data.tolist()
    [[-1.0, 1.0], [-1.0, 1.0]]
    >>> rm, rv = np.zeros(2), np.ones(2)
    >>> batch_norm(x, rm, rv, training=True).data.round(4).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> rm.round(6).tolist(), rv.round(6).tolist()  # 0.1 batch mean; 0.9 + 0.1 unbiased var
    ([0.2, 0.5], [1.1, 1.7])
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from microinit._kernels import dropout as _dropout
from microinit._kernels import norm as _norm
from microinit.autograd.graph import needs_grad, record, tensor_class, wrap
from microinit.ops._boundary import as_tensor, fdata, floats, result_dtype
from microinit.rng import as_generator

_T = TypeVar("_T")

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["layer_norm", "batch_norm", "dropout", "normalized_shape_of", "check_dropout_p"]


def _kernel(result: _T | None, op: str) -> _T:
    # The arguments passed the boundary and the op's shape checks, which are exactly
    # what the kernel's fast lane tests; a refusal here is a bug, not bad input.
    if result is None:
        raise RuntimeError(f"{op}: the kernel refused arguments that passed the boundary (a bug)")
    return result


def _upstream(g: ArrayLike, shape: tuple[int, ...], dtype: DTypeLike) -> NDArray[Any]:
    """The upstream gradient as a C-contiguous array of the output's shape and dtype."""
    a = np.asarray(g)
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    return np.ascontiguousarray(a, dtype=dtype)


def _eps(eps: float, op: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{op}: eps must be a non-negative number, got {eps!r}")
    return float(eps)


def _param(t: Tensor | ArrayLike | None, shape: Sequence[int], op: str,
           name: str) -> tuple[NDArray[Any] | None, Tensor | None]:
    """(data, Tensor or None) of an optional affine parameter of ``shape``."""
    if t is None:
        return None, None
    tensor = t if isinstance(t, tensor_class()) else None
    a = fdata(tensor, op) if tensor is not None else floats(t, op, name)
    if a.shape != tuple(shape):
        raise ValueError(f"{op}: {name} has shape {a.shape}, expected {tuple(shape)}")
    return a, tensor


def _param_grad(t: Tensor | None, g: NDArray[Any] | None, shape: Sequence[int]) -> NDArray[Any] | None:
    """The gradient of an affine parameter Tensor ``t`` in its own dtype (None if no t)."""
    if t is None or g is None:
        return None
    return g.reshape(shape).astype(t.data.dtype, copy=False)


def _same_dtype(dtype: DTypeLike, *arrays: NDArray[Any] | None) -> list[NDArray[Any] | None]:
    return [a if a is None or a.dtype == dtype else a.astype(dtype) for a in arrays]


def normalized_shape_of(normalized_shape: int | Sequence[int], op: str = "layer_norm") -> tuple[int, ...]:
    """``normalized_shape`` (an int or a sequence of ints >= 0) as a tuple.

    >>> normalized_shape_of(4), normalized_shape_of([2, 3])
    ((4,), (2, 3))
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__") or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in shape):
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}")
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 0:
        raise ValueError(f"{op}: normalized_shape must be a non-empty sequence of ints >= 0, "
                         f"got {normalized_shape!r}")
    return shape


# ------------------------------------------------------------------ layer_norm
class LayerNormSaved:
    """What layer_norm's backward reads: the (M, D) input, its statistics, the weight."""

    __slots__ = ("x2", "mean", "rstd", "weight", "param_shape")

    x2: NDArray[Any]
    mean: NDArray[Any]
    rstd: NDArray[Any]
    weight: NDArray[Any] | None
    param_shape: tuple[int, ...]

    def __init__(self, x2: NDArray[Any], mean: NDArray[Any], rstd: NDArray[Any], weight: NDArray[Any] | None,
                 param_shape: tuple[int, ...]) -> None:
        self.x2, self.mean, self.rstd, self.weight = x2, mean, rstd, weight
        self.param_shape = param_shape


def layer_norm(x: Tensor | ArrayLike, normalized_shape: int | Sequence[int], weight: Tensor | ArrayLike | None = None,
               bias: Tensor | ArrayLike | None = None, eps: float = 1e-5) -> Tensor:
    """The Tensor op ``torch.nn.functional.layer_norm``: normalize over the trailing
    ``normalized_shape`` dimensions of ``x``, then scale by ``weight`` and shift by
    ``bias`` (both of ``normalized_shape``, optional). One graph node.

    >>> import microinit as mi
    >>> layer_norm(mi.tensor([[0.0, 2.0, 4.0]], dtype="float64"), 3, eps=0.0).data.round(4).tolist()
    [[-1.2247, 0.0, 1.2247]]
    >>> layer_norm(mi.tensor([[0.0, 2.0]]), 3)
    Traceback (most recent call last):
    ValueError: layer_norm: input of shape (1, 2) does not end in normalized_shape (3,)
    """
    op = "layer_norm"
    shape = normalized_shape_of(normalized_shape, op)
    eps = _eps(eps, op)
    xt = as_tensor(x, op)
    a = fdata(xt, op)
    k = len(shape)
    if a.ndim < k or a.shape[a.ndim - k:] != shape:
        raise ValueError(f"{op}: input of shape {a.shape} does not end in normalized_shape {shape}")
    w, wt = _param(weight, shape, op, "weight")
    b, bt = _param(bias, shape, op, "bias")
    dtype = result_dtype(a, w, b)
    a, w, b = _same_dtype(dtype, a, w, b)  # type: ignore[assignment]  # a stays an array
    d = math.prod(shape)
    m = math.prod(a.shape[:a.ndim - k])
    x2 = a.reshape(m, d)
    w1 = None if w is None else w.reshape(d)
    b1 = None if b is None else b.reshape(d)
    y, mean, rstd = _kernel(_norm.layer_norm_forward(x2, w1, b1, eps), op)
    out = y.reshape(a.shape)
    if not needs_grad(xt, wt, bt):
        return wrap(out)
    saved = LayerNormSaved(x2, mean, rstd, w1, shape)
    need_x = needs_grad(xt)
    need_params = needs_grad(wt, bt)

    def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
        dy = _upstream(g, out.shape, dtype).reshape(m, d)
        dx, dw, db = _kernel(_norm.layer_norm_backward(saved.x2, saved.mean, saved.rstd, saved.weight,
                                                       dy, need_x, need_params), op)
        return (None if dx is None else dx.reshape(out.shape),
                _param_grad(wt, dw, saved.param_shape), _param_grad(bt, db, saved.param_shape))

    parents = (xt, wt, bt)
    return record(out, "NativeLayerNormBackward", parents, backward,
                  tuple(t for t in parents if t is not None))


# ------------------------------------------------------------------ batch_norm
class BatchNormSaved:
    """What batch_norm's backward reads: the (rows, C) input, its statistics, the weight."""

    __slots__ = ("x2", "mean", "invstd", "weight", "batch_stats")

    x2: NDArray[Any]
    mean: NDArray[Any]
    invstd: NDArray[Any]
    weight: NDArray[Any] | None
    batch_stats: bool

    def __init__(self, x2: NDArray[Any], mean: NDArray[Any], invstd: NDArray[Any], weight: NDArray[Any] | None,
                 batch_stats: bool) -> None:
        self.x2, self.mean, self.invstd = x2, mean, invstd
        self.weight, self.batch_stats = weight, batch_stats


def _channels_last(a: NDArray[Any]) -> NDArray[Any]:
    """(N, C) as it is; (N, C, L) as the (N * L, C) rows the column kernel reads."""
    if a.ndim == 2:
        return a
    return np.ascontiguousarray(a.transpose(0, 2, 1)).reshape(-1, a.shape[1])


def _channels_back(y2: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    if len(shape) == 2:
        return y2
    n, c, length = shape
    return np.ascontiguousarray(y2.reshape(n, length, c).transpose(0, 2, 1))


def _running(buf: Any, c: int, op: str, name: str) -> NDArray[Any] | None:
    if buf is None:
        return None
    if isinstance(buf, tensor_class()):
        buf = buf.data
    if not isinstance(buf, np.ndarray) or buf.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: {name} must be a float32/float64 numpy array (a buffer updated in "
                        f"place), got {getattr(buf, 'dtype', type(buf).__name__)}")
    if buf.shape != (c,):
        raise ValueError(f"{op}: {name} has shape {buf.shape}, expected ({c},) for an input with {c} channels")
    return buf


def _update_running(running_mean: NDArray[Any] | None, running_var: NDArray[Any] | None, mean: NDArray[Any],
                    var: NDArray[Any], count: int, momentum: float) -> None:
    """PyTorch's update, in place: the running variance takes the UNBIASED batch variance."""
    unbiased = var.astype(np.float64) * (count / (count - 1))
    if running_mean is not None:
        running_mean *= 1.0 - momentum
        running_mean += (momentum * mean.astype(np.float64)).astype(running_mean.dtype)
    if running_var is not None:
        running_var *= 1.0 - momentum
        running_var += (momentum * unbiased).astype(running_var.dtype)


def batch_norm(x: Tensor | ArrayLike, running_mean: NDArray[Any] | None, running_var: NDArray[Any] | None,
               weight: Tensor | ArrayLike | None = None, bias: Tensor | ArrayLike | None = None, training: bool = False,
               momentum: float | None = 0.1, eps: float = 1e-5) -> Tensor:
    """The Tensor op ``torch.nn.functional.batch_norm`` for (N, C) or (N, C, L) input.

    ``running_mean``/``running_var``: float arrays of shape (C,), or None when
    training. When ``training`` the batch's own statistics normalize and, if given, the
    running buffers are updated in place with ``momentum``; otherwise the running
    statistics normalize. Training on one value per channel, or with eps = 0, is a
    ``ValueError``, as in PyTorch.

    >>> import microinit as mi
    >>> batch_norm(mi.tensor([[1.0, 2.0]]), None, None, training=True)
    Traceback (most recent call last):
    ValueError: batch_norm: expected more than 1 value per channel when training, got input of shape (1, 2)
    """
    op = "batch_norm"
    eps = _eps(eps, op)
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not math.isfinite(momentum):
        raise ValueError(f"{op}: momentum must be a finite number, got {momentum!r}")
    xt = as_tensor(x, op)
    a = fdata(xt, op)
    if a.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D (N, C) or 3-D (N, C, L) input, got shape {a.shape}")
    c = a.shape[1]
    running_mean = _running(running_mean, c, op, "running_mean")
    running_var = _running(running_var, c, op, "running_var")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must both be given or both be None")
    w, wt = _param(weight, (c,), op, "weight")
    b, bt = _param(bias, (c,), op, "bias")
    dtype = result_dtype(a, w, b)
    a, w, b = _same_dtype(dtype, a, w, b)
    batch_stats = bool(training)
    if not batch_stats and running_mean is None:
        raise ValueError(f"{op}: running_mean and running_var must be given when not training "
                         f"(evaluation normalizes with them)")
    if batch_stats and eps == 0.0:
        raise ValueError(f"{op}: eps must be positive when training, got {eps}")
    x2 = _channels_last(a)
    count = x2.shape[0]
    if batch_stats and count == 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of "
                         f"shape {a.shape}")
    rm, rv = (None, None) if batch_stats else _same_dtype(dtype, running_mean, running_var)
    y2, mean, var, invstd = _kernel(_norm.batch_norm_forward(x2, w, b, rm, rv, eps, batch_stats), op)
    if training and running_mean is not None and count > 1:
        _update_running(running_mean, running_var, mean, var, count, float(momentum))
    out = _channels_back(y2, a.shape)
    if not needs_grad(xt, wt, bt):
        return wrap(out)
    saved = BatchNormSaved(x2, mean, invstd, w, batch_stats)
    need_x = needs_grad(xt)

    def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
        dy = _channels_last(_upstream(g, out.shape, dtype))
        dx, dw, db = _kernel(_norm.batch_norm_backward(saved.x2, saved.mean, saved.invstd, saved.weight,
                                                       dy, saved.batch_stats, need_x), op)
        return (None if dx is None else _channels_back(dx, out.shape),
                _param_grad(wt, dw, (c,)), _param_grad(bt, db, (c,)))

    parents = (xt, wt, bt)
    return record(out, "NativeBatchNormBackward", parents, backward,
                  tuple(t for t in parents if t is not None))


# --------------------------------------------------------------------- dropout
class DropoutSaved:
    """What dropout's backward reads: the keep mask and the drop probability."""

    __slots__ = ("keep", "p")

    keep: NDArray[Any]
    p: float

    def __init__(self, keep: NDArray[Any], p: float) -> None:
        self.keep, self.p = keep, p


def check_dropout_p(p: float, op: str = "dropout") -> float:
    """``p`` as a float in [0, 1], else ``ValueError`` (``TypeError`` for a non-number).

    >>> check_dropout_p(1.5)
    Traceback (most recent call last):
    ValueError: dropout: probability has to be between 0 and 1, but got 1.5
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{op}: probability must be a number in [0, 1], got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def dropout(x: Tensor | ArrayLike, p: float = 0.5, training: bool = True, rng: Any = None) -> Tensor:
    """The Tensor op ``torch.nn.functional.dropout`` (inverted dropout).

    In training each element is zeroed with probability ``p`` and the kept ones are
    scaled by ``1 / (1 - p)``, so the expectation is unchanged; the mask comes from
    ``rng`` (a seed, a Generator, or None: the default Generator that
    ``microinit.manual_seed`` seeds). Not training, or p = 0, returns ``x`` itself.

    >>> import microinit as mi
    >>> x = mi.ones(8)
    >>> dropout(x, 0.5, rng=0).data.tolist()
    [2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> dropout(x, 0.5, training=False) is x
    True
    """
    op = "dropout"
    p = check_dropout_p(p, op)
    xt = as_tensor(x, op)
    if not training or p == 0.0:
        return xt
    gen = as_generator(rng, op)
    a = fdata(xt, op)
    u = gen.random(a.shape, dtype=a.dtype)
    y, keep = _kernel(_dropout.dropout_forward(a, u, p), op)
    if not needs_grad(xt):
        return wrap(y)
    saved = DropoutSaved(keep, p)

    def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
        return (_kernel(_dropout.dropout_backward(_upstream(g, y.shape, y.dtype), saved.keep, saved.p), op),)

    return record(y, "NativeDropoutBackward", (xt,), backward)

"""``BatchNorm1d`` and ``LayerNorm``: normalization layers (``microinit.ops.normalization``).

Both compute ``(x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance;
they differ in what the statistics run over. LayerNorm: each sample's trailing
``normalized_shape`` dimensions, the same in training and evaluation. BatchNorm1d: each
channel over the batch in ``train()`` mode (updating the running statistics, which
``state_dict`` saves as buffers) and the running statistics in ``eval()`` mode, as
PyTorch's layers of the same names.

    >>> import numpy as np
    >>> from microinit import nn
    >>> bn = nn.BatchNorm1d(2)
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    >>> bn(x).data.round(4).tolist()                     # training: the batch's statistics
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> bn.running_mean.tolist(), int(bn.num_batches_tracked)
    ([0.20000000298023224, 0.4000000059604645], 1)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from microinit.nn.inputs import model_input
from microinit.nn.module import Module
from microinit.ops.normalization import batch_norm, layer_norm, normalized_shape_of
from microinit.tensor import Tensor

__all__ = ["BatchNorm1d", "LayerNorm"]


def _dtype_of(dtype: DTypeLike, who: str) -> np.dtype[Any]:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{who}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _input(module: Module, x: Tensor | ArrayLike, dtype: np.dtype[Any]) -> Tensor | NDArray[Any]:
    if not ((type(x) is Tensor or type(x) is np.ndarray) and x.dtype is dtype):
        x = model_input(x, dtype, module)  # docs/reliability.md rows 60, 61
    return x


class BatchNorm1d(Module):
    """Batch normalization over the channels of (N, C) or (N, C, L) input
    (``torch.nn.BatchNorm1d``).

    Training (``train()``, the default): normalize each channel with the batch's mean and
    biased variance, and update ``running_mean``/``running_var`` with
    ``running = (1 - momentum) running + momentum batch`` using the UNBIASED batch
    variance; ``momentum=None`` makes it the cumulative average over the
    ``num_batches_tracked`` batches seen. Evaluation (``eval()``): normalize with the
    running statistics. ``track_running_stats=False`` keeps no running statistics and
    always uses the batch's. ``affine``: learn ``weight`` (ones) and ``bias`` (zeros).

    >>> import numpy as np
    >>> bn = BatchNorm1d(3).eval()                       # fresh running stats: mean 0, var 1
    >>> bn(np.ones((2, 3), np.float32)).data.round(4).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    dtype: np.dtype[Any]
    weight: Tensor | None
    bias: Tensor | None
    running_mean: NDArray[Any] | None  # buffers (register_buffer)
    running_var: NDArray[Any] | None
    num_batches_tracked: NDArray[np.int64] | None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: DTypeLike = np.float32) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) or num_features < 1:
            raise ValueError(f"BatchNorm1d: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, numbers.Real)):
            raise TypeError(f"BatchNorm1d: momentum must be a number or None, got {type(momentum).__name__}")
        dtype = _dtype_of(dtype, "BatchNorm1d")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.dtype = dtype
        if self.affine:
            self.weight = Tensor(np.ones(self.num_features, dtype), requires_grad=True)
            self.bias = Tensor(np.zeros(self.num_features, dtype), requires_grad=True)
            self._param_inits.update(weight="ones", bias="zeros")
        else:
            self.weight = self.bias = None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean[...] = 0  # type: ignore[index]  # not None: track_running_stats
            self.running_var[...] = 1  # type: ignore[index]  # not None: track_running_stats
            self.num_batches_tracked[...] = 0  # type: ignore[index]  # not None: track_running_stats

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        x = _input(self, x, self.dtype)
        shape = tuple(x.shape)
        if len(shape) not in (2, 3) or shape[1] != self.num_features:
            raise ValueError(f"{self.layer_label()} expects input of shape (batch, {self.num_features}) or "
                             f"(batch, {self.num_features}, length), but received shape {shape}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1  # type: ignore[operator,assignment]  # not None: track_running_stats
            if self.momentum is None:  # the cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)  # type: ignore[arg-type]  # not None: track_running_stats
        # Batch statistics in training, and always without running statistics (PyTorch's rule)
        use_batch = self.training or not self.track_running_stats
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_batch, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dimensions of each
    sample (``torch.nn.LayerNorm``); the same in training and evaluation.
    ``elementwise_affine``: learn ``weight`` (ones) and ``bias`` (zeros) of that shape.

    >>> import numpy as np
    >>> ln = LayerNorm(4)
    >>> y = ln(np.arange(8, dtype=np.float32).reshape(2, 4))
    >>> y.data.mean(axis=1).round(6).tolist(), y.data.std(axis=1).round(3).tolist()
    ([0.0, 0.0], [1.0, 1.0])
    """

    normalized_shape: tuple[int, ...]
    eps: float
    elementwise_affine: bool
    dtype: np.dtype[Any]
    weight: Tensor | None
    bias: Tensor | None

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype: DTypeLike = np.float32) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_of(normalized_shape, "LayerNorm")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.dtype = _dtype_of(dtype, "LayerNorm")
        if self.elementwise_affine:
            self.weight = Tensor(np.ones(self.normalized_shape, self.dtype), requires_grad=True)
            self.bias = Tensor(np.zeros(self.normalized_shape, self.dtype), requires_grad=True)
            self._param_inits.update(weight="ones", bias="zeros")
        else:
            self.weight = self.bias = None

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        x = _input(self, x, self.dtype)
        k = len(self.normalized_shape)
        if tuple(x.shape[len(x.shape) - k:]) != self.normalized_shape or len(x.shape) < k:
            raise ValueError(f"{self.layer_label()} expects input whose last dimensions are "
                             f"{self.normalized_shape}, but received shape {tuple(x.shape)}")
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

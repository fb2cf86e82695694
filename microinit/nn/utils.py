"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (``torch.nn.utils``).

Both change ``p.grad`` in place (parameters without a gradient are skipped) and run
before ``optimizer.step()``:

    >>> import microinit as mi
    >>> w = mi.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()                   # grad (6, 8): norm 10
    >>> float(clip_grad_norm_([w], max_norm=5.0))  # returns the norm before clipping
    10.0
    >>> [round(float(g), 4) for g in w.grad]
    [3.0, 4.0]
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
from numpy.typing import NDArray

from microinit.autograd.graph import tensor_class

if TYPE_CHECKING:  # annotations only
    from microinit.nn.module import Module
    from microinit.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _params(parameters: Tensor | Iterable[Tensor] | Module, op: str) -> list[Tensor]:
    if isinstance(parameters, tensor_class()):
        return [parameters]
    if hasattr(parameters, "parameters") and callable(parameters.parameters):
        parameters = parameters.parameters()
    try:
        items = list(parameters)  # type: ignore[arg-type]  # a Module became its parameters() above
    except TypeError:
        raise TypeError(f"{op}: parameters must be a Tensor or an iterable of Tensors, got "
                        f"{type(parameters).__name__}") from None
    for i, p in enumerate(items):
        if not isinstance(p, tensor_class()):
            raise TypeError(f"{op}: parameter {i} must be a Tensor, got {type(p).__name__}")
    return items


def _number(value: object, op: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def _grads(params: list[Tensor]) -> list[NDArray[Any]]:
    """Each gradient as a writable float array the clipping can scale in place."""
    out: list[NDArray[Any]] = []
    for p in params:
        g = p.grad
        if g is None:
            continue
        if not isinstance(g, np.ndarray) or not g.flags.writeable or g.dtype.kind != "f":
            g = np.array(g, dtype=p.data.dtype)
            p.grad = g
        out.append(g)
    return out


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor] | Module, max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False) -> NDArray[np.float64]:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``; returns the norm before clipping (a 0-d float64 array).

    The joint norm is the norm of the per-parameter norms (``inf``: the largest
    absolute entry). Gradients are multiplied by ``min(1, max_norm / (norm + 1e-6))``,
    PyTorch's rule. A NaN/inf norm raises ``RuntimeError`` when ``error_if_nonfinite``
    (the gradients are then unchanged); otherwise the gradients are scaled by it,
    as in PyTorch.

    >>> import microinit as mi
    >>> w = mi.tensor([1.0, -5.0], requires_grad=True)
    >>> w.grad = np.array([1.0, -5.0])
    >>> float(clip_grad_norm_([w], 1.0, norm_type="inf")), w.grad.round(4).tolist()
    (5.0, [0.2, -1.0])
    """
    op = "clip_grad_norm_"
    params = _params(parameters, op)
    max_norm = _number(max_norm, op, "max_norm")
    if isinstance(norm_type, str) and norm_type.lower() == "inf":
        norm_type = math.inf
    norm_type = _number(norm_type, op, "norm_type")
    grads = _grads(params)
    if not grads:
        return np.asarray(0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        if norm_type == math.inf:
            total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
        else:
            per = [np.linalg.norm(g.ravel().astype(np.float64), norm_type) if g.size else 0.0 for g in grads]
            total = float(np.linalg.norm(np.asarray(per, np.float64), norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"{op}: the total norm of order {norm_type} of the gradients is non-finite "
                           f"({total}), so it cannot be clipped; set error_if_nonfinite=False to scale anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as PyTorch's multiply gives
            for g in grads:
                g *= g.dtype.type(coef)
    return np.asarray(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor] | Module, clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place.

    >>> import microinit as mi
    >>> w = mi.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = np.array([-3.0, 0.5])
    >>> clip_grad_value_([w], 1.0); w.grad.tolist()
    [-1.0, 0.5]
    """
    op = "clip_grad_value_"
    params = _params(parameters, op)
    clip_value = _number(clip_value, op, "clip_value")
    for g in _grads(params):
        np.clip(g, -clip_value, clip_value, out=g)

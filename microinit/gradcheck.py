"""Finite-difference gradient checking (public), like ``torch.autograd.gradcheck``.

For every input that requires grad, the analytic Jacobian (from ``backward``) is
compared with central differences in float64::

    numeric d out_k / d x_i = (f(x + eps e_i)_k - f(x - eps e_i)_k) / (2 eps)

and each entry must satisfy ``|analytic - numeric| <= atol + rtol * |numeric|``.
On failure a :class:`GradcheckError` (an ``AssertionError``) names the input index,
the input element, the output element and both values of the worst entry.

Outputs with more than ``max_full_outputs`` elements are checked through random
projections ``v . out`` (two fixed-seed ``v``), which catches any wrong Jacobian
entry with probability 1 at a fraction of the cost (PyTorch's ``fast_mode``).

Example::

    >>> import microinit
    >>> x = microinit.randn(3, 4, dtype="float64", requires_grad=True)
    >>> gradcheck(lambda t: (t * t).tanh().sum(axis=1), [x])
    True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.tensor import Tensor

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree."""


def _prepare(inputs: Any) -> list[Any]:
    if isinstance(inputs, Tensor) or not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    out: list[Any] = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            if x.requires_grad and x.dtype != np.float64:
                raise TypeError(f"gradcheck: input {i} requires grad but has dtype {x.dtype}; "
                                "gradcheck needs float64 inputs (finite differences in float32 "
                                "are too noisy), e.g. Tensor(data, dtype='float64', requires_grad=True)")
            out.append(x)
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            out.append(Tensor(x.astype(np.float64), requires_grad=True))
        else:
            out.append(x)  # passed through unchanged (labels, flags, ...)
    return out


def _output(fn: Callable[..., Any], inputs: Sequence[Any]) -> Tensor:
    y = fn(*inputs)
    if not isinstance(y, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(y).__name__}")
    return y


def gradcheck(fn: Callable[..., Tensor], inputs: Tensor | ArrayLike | Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, max_full_outputs: int = 64, seed: int = 0) -> bool:
    """Check ``fn``'s backward against central differences; True or GradcheckError.

    ``inputs``: a Tensor or a list of Tensors/arrays (float arrays become float64
    Tensors requiring grad; anything else is passed through). Only inputs with
    ``requires_grad`` are perturbed. ``fn(*inputs)`` must return a Tensor.
    """
    inputs = _prepare(inputs)
    diff = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    y0 = _output(fn, inputs)
    if y0.dtype != np.float64:
        raise TypeError(f"gradcheck: fn returned dtype {y0.dtype}; it must compute in float64")
    n_out = y0.size
    if n_out <= max_full_outputs:
        projections: list[NDArray[np.float64] | None] = [None] * n_out  # one-hot rows: the full Jacobian
    else:
        rng = np.random.default_rng(seed)
        projections = [rng.standard_normal(y0.shape) for _ in range(2)]  # random directions

    # Numeric Jacobians first (2 forward passes per input element), then one backward
    # per projection row compared against them.
    jac = {i: _numeric_jacobian(fn, inputs, x, eps, n_out) for i, x in diff}
    for k, v in enumerate(projections):
        if v is None:
            v = np.zeros(y0.shape)
            v.reshape(-1)[k] = 1.0
        for _, x in diff:
            x.grad = None
        y = _output(fn, inputs)
        if y.requires_grad:
            y.backward(v)
        for i, x in diff:
            analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad, np.float64)
            numeric = (jac[i] @ v.reshape(-1)).reshape(x.shape)
            _compare(analytic, numeric, i, k if projections[k] is None else None,
                     y0.shape, atol, rtol)
    for _, x in diff:
        x.grad = None
    return True


def _numeric_jacobian(fn: Callable[..., Any], inputs: Sequence[Any], x: Tensor, eps: float,
                      n_out: int) -> NDArray[np.float64]:
    """(x.size, out.size) matrix of central differences, perturbing x.data in place."""
    flat = x.data.reshape(-1)
    rows: list[NDArray[np.float64]] = []
    for j in range(flat.size):
        orig = flat[j]
        try:
            flat[j] = orig + eps
            fp = np.array(fn(*inputs).data, np.float64)  # a copy: outputs may view x
            flat[j] = orig - eps
            fm = np.array(fn(*inputs).data, np.float64)
        finally:
            flat[j] = orig
        with np.errstate(invalid="ignore"):
            rows.append(((fp - fm) / (2 * eps)).reshape(-1))
    if not rows:
        return np.zeros((0, n_out))
    return np.stack(rows)


def _compare(analytic: NDArray[np.float64], numeric: NDArray[np.float64], i: int, k: int | None,
             out_shape: tuple[int, ...], atol: float, rtol: float) -> None:
    err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    bad = np.isnan(analytic) != np.isnan(numeric)
    if analytic.size == 0 or (not bad.any() and not (err > 0).any()):
        return
    score = np.where(bad, np.inf, np.nan_to_num(err, nan=-np.inf))
    j = np.unravel_index(int(np.argmax(score)), analytic.shape)
    where = (f"output element {tuple(int(t) for t in np.unravel_index(k, out_shape))}"
             if k is not None else "a random projection of the output")
    raise GradcheckError(
        f"gradcheck failed for input {i} at element {tuple(int(t) for t in j)} ({where}): "
        f"analytic {float(analytic[j])!r} vs numeric {float(numeric[j])!r} "
        f"(|diff| {abs(analytic[j] - numeric[j]):.3g} > atol {atol} + rtol {rtol} * |numeric|)")

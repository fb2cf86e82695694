"""LSUV: layer-sequential unit-variance initialization (Mishkin & Matas, ICLR 2016).

1. Pre-initialize every Dense-like layer's weight with an orthogonal matrix.
2. For each layer in the order the forward pass reaches it: run the batch, measure the
   variance of the layer's pre-activation output x @ W + b over the whole batch, and
   divide W by sqrt(variance), until |variance - 1| < tol or max_iter rescalings.

A "Dense-like layer" is any module of the model with a 2-D ``weight`` (a microinit
Tensor or ndarray of shape (in, out)) that computes ``act(x @ W + b)`` from its first
positional input: the pre-activation is recomputed from the input the forward hook
sees, so layers with a fused activation are normalized before their nonlinearity, as
in the paper. Biases are left as they are. The model only needs ``modules()`` (or
``named_modules()``), ``register_forward_hook`` on its layers and ``__call__``.
"""
from __future__ import annotations

import contextlib
import importlib
import warnings
from typing import TYPE_CHECKING, Any, Callable, ContextManager

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.init._checks import check_real
from microinit.rng import RngLike, as_generator

if TYPE_CHECKING:  # annotations only (the model may be any object with the methods above)
    from microinit.tensor import Tensor


class _Stop(Exception):
    """Raised by the hook once the watched layer has been seen: nothing downstream of
    it needs to run."""


def _array(x: Any) -> NDArray[Any]:
    data = getattr(x, "data", x)
    return np.asarray(data)


def _named_layers(model: Any) -> list[tuple[str, Any]]:
    named = model.named_modules() if hasattr(model, "named_modules") else \
        ((str(i), m) for i, m in enumerate(model.modules()))
    layers = []
    for name, module in named:
        w = getattr(module, "weight", None)
        if w is not None and _array(w).ndim == 2 and hasattr(module, "register_forward_hook"):
            layers.append((name or type(module).__name__, module))
    return layers


def _no_grad() -> ContextManager[Any]:
    try:
        from microinit.tensor import no_grad
    except ImportError:  # pragma: no cover - tensor is always there in the package
        return contextlib.nullcontext()
    return no_grad()


def _check_batch(batch: Any) -> None:
    x = _array(batch)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"lsuv: batch must be numeric, got dtype {x.dtype}")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"lsuv: batch must be a non-empty (n, features) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("lsuv: batch contains NaN/inf")
    if x.shape[0] < 2 or np.all(np.ptp(x.reshape(x.shape[0], -1), axis=0) == 0):
        raise ValueError(
            f"lsuv: batch of shape {x.shape} is constant across samples; its variance carries "
            "no information to scale the layers with"
        )


def _bump(weight: Any) -> None:
    bump = getattr(weight, "_bump_version", None)
    if callable(bump):
        bump()


def lsuv(model: Any, batch: Tensor | ArrayLike, tol: float = 0.1, max_iter: int = 10, *, orthogonal_init: bool = True,
         rng: RngLike = None) -> list[dict[str, Any]]:
    """Layer-sequential unit-variance initialization of ``model`` on ``batch``, in place.

    Returns one report per layer, in forward order: ``{"layer", "shape",
    "iterations", "variance", "converged"}`` (variance = the pre-activation variance
    reached). A layer whose output variance is 0 or not finite raises ValueError
    naming it; one that does not reach ``|var - 1| < tol`` within ``max_iter`` rescalings
    gets a RuntimeWarning naming it and the variance reached.

    >>> from microinit import nn
    >>> model = nn.MLP([20, 64, 64, 1], activation="tanh", rng=0)
    >>> report = lsuv(model, np.random.default_rng(0).normal(size=(256, 20)).astype(np.float32), rng=0)
    >>> all(abs(r["variance"] - 1) < 0.1 for r in report)
    True
    """
    tol = check_real(tol, "tol", "lsuv", positive=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"lsuv: max_iter must be a positive int, got {max_iter!r}")
    _check_batch(batch)
    gen = as_generator(rng, "lsuv")
    layers = _named_layers(model)
    if not layers:
        raise ValueError("lsuv: the model has no layer with a 2-D weight to initialize")

    # The forward order may differ from the registration order: record it once.
    order: list[str] = []
    handles = [m.register_forward_hook(lambda mod, inp, out, _n=n: order.append(_n))
               for n, m in layers]
    try:
        with _no_grad():
            model(batch)
    finally:
        for h in handles:
            h.remove()
    by_name = dict(layers)
    seen: list[str] = []
    for n in order:
        if n not in seen:
            seen.append(n)

    if orthogonal_init:
        # the package's in-place initializer (made by its registry at import; looked up
        # by name: a static import of it from inside the package trips mypy)
        orthogonal_: Callable[..., Any] = getattr(importlib.import_module("microinit.init"), "orthogonal_")
        for n in seen:
            orthogonal_(by_name[n].weight, rng=gen)

    reports: list[dict[str, Any]] = []
    for name in seen:
        layer = by_name[name]
        captured: dict[str, float] = {}

        def hook(mod: Any, inputs: tuple[Any, ...], output: Any) -> None:
            x = _array(inputs[0]).astype(np.float64, copy=False)
            w = _array(mod.weight).astype(np.float64, copy=False)
            z = x @ w
            b = getattr(mod, "bias", None)
            if b is not None:
                z = z + _array(b)
            captured["var"] = float(np.var(z))
            raise _Stop

        handle = layer.register_forward_hook(hook)
        iterations, var = 0, float("nan")
        try:
            while True:
                with _no_grad():
                    try:
                        model(batch)
                    except _Stop:
                        pass
                var = captured["var"]
                if not np.isfinite(var) or var <= 0:
                    raise ValueError(
                        f"lsuv: layer {name!r} has output variance {var!r} on this batch; "
                        "it cannot be scaled to unit variance (dead units or overflow?)"
                    )
                if abs(var - 1.0) < tol or iterations >= max_iter:
                    break
                w = _array(layer.weight)
                w /= np.sqrt(var)
                _bump(layer.weight)
                iterations += 1
        finally:
            handle.remove()
        converged = abs(var - 1.0) < tol
        if not converged:
            warnings.warn(
                f"lsuv: layer {name!r} did not reach unit variance within {max_iter} iterations "
                f"(variance {var:.4g}, tol {tol})", RuntimeWarning, stacklevel=2)
        reports.append({"layer": name, "shape": tuple(_array(layer.weight).shape),
                        "iterations": iterations, "variance": var, "converged": converged})
    return reports

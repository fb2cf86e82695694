"""``Dense`` (alias ``Linear``): the fully connected layer.

One weight layout, stated once: a Dense weight is ``(in_features, out_features)`` and
the layer computes ``act(x @ W + b)``; with an activation the whole thing is one
fused op (``microinit.tensor.dense``: matmul + bias + activation forward, and one
fused backward). Initializers come from the registry (``microinit.init``) by name,
config dict, number or callable, drawn from a ``numpy.random.Generator`` you can
seed (``rng``).

    >>> from microinit.nn import Dense
    >>> Dense(3, 2, bias=False, weight_init="lecun_normal", rng=0)
    Dense(3 -> 2, weight_init=lecun_normal, bias=False)
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Mapping, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from microinit import init
from microinit.aligned import aligned_copy
from microinit.nn.activations import DEFAULT_PARAM, canonical_activation
from microinit.nn.inputs import model_input
from microinit.nn.module import Module
from microinit.rng import RngLike, as_generator
from microinit.tensor import Tensor, dense

__all__ = ["Dense", "Linear", "init_label", "layer_generator"]

#: an initializer as ``Dense`` takes it: a registry name, a config dict, a number or a callable
InitSpec = Union[str, Mapping[str, Any], float, Callable[..., Any]]

_SPEC_FIELDS = frozenset(("weight", "bias", "activation", "activation_param"))


def init_label(spec: InitSpec) -> str:
    """A short human label for an initializer spec (for repr and summary)."""
    if isinstance(spec, str):
        return init.get(spec).name
    if isinstance(spec, dict):
        spec = dict(spec)
        name = init.get(spec).name
        spec.pop("name", None)
        args = ", ".join(f"{k}={v}" for k, v in spec.items())
        return f"{name}({args})" if args else name
    if isinstance(spec, numbers.Real):
        return f"constant({spec})"
    return getattr(spec, "__name__", None) or getattr(spec, "name", None) or type(spec).__name__


def layer_generator(rng: RngLike, where: str) -> np.random.Generator | None:
    """``rng`` as a Generator (``microinit.rng.as_generator``); None stays None (the
    initializer then draws from fresh OS entropy)."""
    return None if rng is None else as_generator(rng, where)


def _check_features(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Dense: {name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"Dense: {name} must be positive, got {value} (a zero-width layer has no weights)")
    return int(value)


class Dense(Module):
    """Fully connected layer: ``y = act(x @ W + b)``, ``W`` of shape ``(in, out)``.

    ``weight_init``/``bias_init``: an initializer name, config dict, number or callable
    from ``microinit.init`` (default He-uniform weights, zero bias). With an
    ``activation`` (``"relu"``, ``"tanh"``, ... ; ``activation_param`` is leaky_relu's
    slope or elu's alpha) the matmul, bias and activation run as one fused op.
    ``rng`` (Generator or int seed) makes the initial weights reproducible.

    >>> import numpy as np
    >>> layer = Dense(2, 8, activation="tanh", weight_init="xavier_uniform", rng=0)
    >>> layer.weight.shape, layer.bias.shape
    ((2, 8), (8,))
    >>> layer(np.ones((5, 2), np.float32)).shape
    (5, 8)
    >>> layer
    Dense(2 -> 8, activation=tanh, weight_init=xavier_uniform, bias_init=zeros)
    """

    weight: Tensor
    bias: Tensor | None
    chain_spec: tuple[Tensor, Tensor | None, str | None, float]  # kept by _refresh_chain_spec

    def __init__(self, in_features: int, out_features: int, bias: bool = True, weight_init: InitSpec = "he_uniform",
                 bias_init: InitSpec = "zeros", activation: str | Module | None = None, rng: RngLike = None,
                 dtype: DTypeLike = np.float32, activation_param: float | None = None) -> None:
        super().__init__()
        self.in_features = _check_features("in_features", in_features)
        self.out_features = _check_features("out_features", out_features)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"Dense: dtype must be float32 or float64, got {dtype}")
        act = canonical_activation(activation)
        self.activation = act
        self.activation_param = float(activation_param if activation_param is not None
                                      else DEFAULT_PARAM.get(act, 0.0))
        rng = layer_generator(rng, "Dense")
        wfn = init.get(weight_init)
        # 64-byte aligned (microinit/aligned.py): the GEMM reads W's rows in place
        self.weight = Tensor(aligned_copy(
            wfn((self.in_features, self.out_features), dtype=dtype, rng=rng), dtype=dtype),
            requires_grad=True)
        self._param_inits["weight"] = init_label(weight_init)
        if bias:
            bfn = init.get(bias_init)
            # Bias initializers that need fans (2-D) get the (1, out) view of the vector.
            try:
                b = bfn((self.out_features,), dtype=dtype, rng=rng)
            except ValueError:
                b = bfn((1, self.out_features), dtype=dtype, rng=rng)
            self.bias = Tensor(aligned_copy(np.reshape(b, (self.out_features,)), dtype=dtype),
                               requires_grad=True)
            self._param_inits["bias"] = init_label(bias_init)
        else:
            self.bias = None

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        w = self.weight
        x = model_input(x, w.data.dtype, self)  # docs/reliability.md rows 60, 61
        self.check_input_shape(x.shape)
        return dense(x, w, self.bias, self.activation, self.activation_param)

    def check_input_shape(self, shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` naming this layer unless ``shape`` is ``(batch, in_features)``."""
        if len(shape) != 2 or shape[1] != self.in_features:
            raise ValueError(f"{self.layer_label()} expects input of shape (batch, {self.in_features}) "
                             f"(in_features={self.in_features}), but received shape {tuple(shape)}")

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _SPEC_FIELDS:
            self._refresh_chain_spec()

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        if name in _SPEC_FIELDS:
            self._refresh_chain_spec()

    def _refresh_chain_spec(self) -> None:
        # ``chain_spec`` is this layer as one ``(W, b, activation, param)`` entry of
        # tensor.dense_chain, kept current here so that a Sequential's fused run reads one
        # attribute per layer per forward (tiny nets are dominated by such overhead).
        d = self.__dict__
        d["chain_spec"] = (d.get("weight"), d.get("bias"), d.get("activation"), d.get("activation_param"))

    def extra_repr(self) -> str:
        parts = [f"{self.in_features} -> {self.out_features}"]
        if self.activation:
            parts.append(f"activation={self.activation}")
        parts.append(f"weight_init={self._param_inits['weight']}")
        if self.bias is None:
            parts.append("bias=False")
        else:
            parts.append(f"bias_init={self._param_inits['bias']}")
        if self.weight.data.dtype != np.float32:
            parts.append(f"dtype={self.weight.data.dtype}")
        return ", ".join(parts)


Linear = Dense

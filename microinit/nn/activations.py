"""Activation modules and the activation names ``Dense(activation=...)`` accepts.

Each module applies the Tensor method of the same name (``ReLU()(x) == x.relu()``),
so its forward and backward are the tensor engine's one definition of that
activation. ``canonical_activation`` turns the spellings people use (``"ReLU"``,
``"leaky-relu"``, ``"linear"``, a module instance) into one name.

    >>> from microinit import tensor
    >>> from microinit.nn import ReLU, LeakyReLU, activation_module
    >>> ReLU()(tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    >>> LeakyReLU(0.5)(tensor([-2.0, 2.0])).tolist()
    [-1.0, 2.0]
    >>> activation_module("elu", 0.5)
    ELU(alpha=0.5)

SiLU, Mish, Hardswish, Hardtanh, ReLU6, LogSigmoid, Softsign and
``GELU(approximate="tanh")`` compute in numpy (``ops/activations_unfused.py``): they
are layers of their own in a Sequential, not names ``Dense(activation=...)`` fuses.

    >>> from microinit.nn import Hardtanh, GELU
    >>> Hardtanh(-2.0, 2.0)(tensor([-3.0, 1.0, 3.0])).tolist()
    [-2.0, 1.0, 2.0]
    >>> GELU(approximate="tanh")
    GELU(approximate='tanh')
"""
from __future__ import annotations

from typing import Callable

from numpy.typing import ArrayLike

from microinit.nn.module import Module
from microinit.ops.activations import ACTIVATIONS, DEFAULT_PARAM
from microinit.tensor import Tensor

__all__ = [
    "ACTIVATIONS", "DEFAULT_PARAM", "canonical_activation", "activation_module",
    "Identity", "ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "SELU", "GELU", "Softplus",
    "SiLU", "Mish", "Hardswish", "Hardtanh", "ReLU6", "LogSigmoid", "Softsign",
]

# ACTIVATIONS and DEFAULT_PARAM (PyTorch's defaults) are the one activation table of
# microinit/ops/activations.py; this module adds the spellings people use.
_SPELLINGS = {"leakyrelu": "leaky_relu", "linear": "identity", "none": "identity"}


def canonical_activation(activation: str | Module | None) -> str | None:
    """The activation's name in ``ACTIVATIONS``, or None for no activation (identity).

    >>> canonical_activation("Leaky-ReLU"), canonical_activation("linear"), canonical_activation(Tanh())
    ('leaky_relu', None, 'tanh')
    """
    if activation is None:
        return None
    if isinstance(activation, GELU) and activation.approximate != "none":
        raise ValueError("activation: Dense fuses the exact GELU only; put GELU(approximate="
                         f"{activation.approximate!r}) after the Dense layer as its own layer")
    if isinstance(activation, Module) and type(activation) in _MODULE_TO_NAME:
        name = _MODULE_TO_NAME[type(activation)]
        return None if name == "identity" else name
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a name such as 'relu' or None, got {type(activation).__name__}")
    key = activation.lower().replace("-", "_")
    key = _SPELLINGS.get(key, key)
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; available: {', '.join(ACTIVATIONS)}")
    return None if key == "identity" else key


def _as_tensor(x: Tensor | ArrayLike) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class Identity(Module):
    """y = x (the input, unchanged)."""
    name = "identity"

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x)


class ReLU(Module):
    """y = max(x, 0)."""
    name = "relu"

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).relu()


class Tanh(Module):
    """y = tanh(x)."""
    name = "tanh"

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).tanh()


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""
    name = "sigmoid"

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).sigmoid()


class SELU(Module):
    """y = scale * (x if x > 0 else alpha * (exp(x) - 1)), scale ~ 1.0507, alpha ~ 1.6733."""
    name = "selu"

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).selu()


class GELU(Module):
    """y = x * Phi(x) (``approximate="none"``, the exact erf form) or its tanh
    approximation (``approximate="tanh"``), as PyTorch's ``nn.GELU``."""
    name = "gelu"

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).gelu(self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class Softplus(Module):
    """y = log(1 + exp(x))."""
    name = "softplus"

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).softplus()


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x."""
    name = "leaky_relu"

    def __init__(self, negative_slope: float = DEFAULT_PARAM["leaky_relu"]) -> None:
        super().__init__()
        self.param = float(negative_slope)

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).leaky_relu(self.param)

    def extra_repr(self) -> str:
        return f"negative_slope={self.param}"


class ELU(Module):
    """y = x if x > 0 else alpha * (exp(x) - 1)."""
    name = "elu"

    def __init__(self, alpha: float = DEFAULT_PARAM["elu"]) -> None:
        super().__init__()
        self.param = float(alpha)

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).elu(self.param)

    def extra_repr(self) -> str:
        return f"alpha={self.param}"


class SiLU(Module):
    """y = x * sigmoid(x)."""

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).silu()


class Mish(Module):
    """y = x * tanh(softplus(x))."""

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).mish()


class Hardswish(Module):
    """y = x * relu6(x + 3) / 6."""

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).hardswish()


class Hardtanh(Module):
    """y = clamp(x, min_val, max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        if not min_val <= max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} must not exceed max_val {max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).hardtanh(self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Module):
    """y = min(max(x, 0), 6)."""

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).relu6()


class LogSigmoid(Module):
    """y = log(sigmoid(x)) = -softplus(-x)."""

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).logsigmoid()


class Softsign(Module):
    """y = x / (1 + |x|)."""

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return _as_tensor(x).softsign()


_NAME_TO_MODULE: dict[str, Callable[..., Module]] = {
    "identity": Identity, "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU, "elu": ELU, "selu": SELU, "gelu": GELU, "softplus": Softplus}
_MODULE_TO_NAME = {v: k for k, v in _NAME_TO_MODULE.items()}


def activation_module(name: str | Module | None, param: float | None = None) -> Module:
    """The activation module for a name; ``param`` is leaky_relu's slope or elu's alpha.

    >>> activation_module("relu"), activation_module("leaky_relu", 0.2)
    (ReLU(), LeakyReLU(negative_slope=0.2))
    """
    key = canonical_activation(name) or "identity"
    cls = _NAME_TO_MODULE[key]
    return cls(param) if (param is not None and key in DEFAULT_PARAM) else cls()

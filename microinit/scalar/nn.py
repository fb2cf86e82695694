"""micrograd's ``Neuron``, ``Layer`` and ``MLP`` on microinit's ``Value``.

Same constructor arguments and call conventions as ``micrograd.nn``, plus where the
weights come from: ``weight_init`` (default ``"he_uniform"``) and ``bias_init``
(default ``"zeros"``) take anything ``microinit.init.get`` accepts (a name, a
callable, a number or a config dict), and ``rng`` (an int seed or a numpy
Generator) makes them reproducible. ``weight_init="micrograd"`` is micrograd's own
``uniform(-1, 1)``.

>>> from microinit.scalar.nn import MLP
>>> model = MLP(2, [16, 16, 1], rng=0)
>>> len(model.parameters())
337
>>> score = model([0.5, -1.0])       # a Value; relu on hidden layers, linear output
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from numpy.typing import NDArray

from microinit.scalar._value import Value, neuron

if TYPE_CHECKING:  # annotations only: microinit.init is imported lazily below
    from microinit.init import Initializer

# micrograd draws every weight from uniform(-1, 1) (and starts biases at 0)
MICROGRAD_UNIFORM = {"name": "uniform", "low": -1.0, "high": 1.0}


def _init_fn(spec: Any, what: str) -> Initializer:
    from microinit import init

    if isinstance(spec, str) and spec.lower() == "micrograd":
        spec = MICROGRAD_UNIFORM
    try:
        return init.get(spec)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{what}: {err}") from None


def _draw(spec: Any, shape: tuple[int, ...], rng: np.random.Generator, what: str) -> NDArray[np.float64]:
    values = np.asarray(_init_fn(spec, what)(shape, dtype=np.float64, rng=rng), dtype=np.float64)
    if values.shape != shape:
        raise ValueError(f"{what}: initializer gave shape {values.shape}, expected {shape}")
    return values


class Module:

    def zero_grad(self) -> None:
        """Set ``grad = 0`` on every parameter."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        return []


class Neuron(Module):
    """``relu(b + sum_i w_i x_i)`` (or without relu when ``nonlin=False``)."""

    def __init__(self, nin: int, nonlin: bool = True, weight_init: Any = "he_uniform", bias_init: Any = "zeros",
                 rng: Any = None, *, _w: Any = None, _b: Any = None) -> None:
        if _w is None:
            rng = np.random.default_rng(rng)
            _w = _draw(weight_init, (nin, 1), rng, "Neuron weight_init")[:, 0]
            _b = _draw(bias_init, (1,), rng, "Neuron bias_init")[0]
        self.w = [Value(float(v)) for v in _w]
        self.b = Value(float(_b))
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"{self!r}: expected {len(self.w)} inputs, got {len(x)}")
        # the same nodes micrograd's sum((wi*xi for ...), self.b) makes, built in one call
        return neuron(self.w, x, self.b, self.nonlin)

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons on the same ``nin`` inputs. Weights are drawn as one
    ``(nin, nout)`` matrix (fan_in = nin, fan_out = nout); neuron j gets column j."""

    def __init__(self, nin: int, nout: int, nonlin: bool = True, weight_init: Any = "he_uniform",
                 bias_init: Any = "zeros", rng: Any = None) -> None:
        rng = np.random.default_rng(rng)
        W = _draw(weight_init, (nin, nout), rng, f"Layer({nin}, {nout}) weight_init")
        b = _draw(bias_init, (nout,), rng, f"Layer({nin}, {nout}) bias_init")
        self.neurons = [Neuron(nin, nonlin=nonlin, _w=W[:, j], _b=b[j]) for j in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``[nin] + nouts``; relu on all but the last, as in micrograd."""

    def __init__(self, nin: int, nouts: Sequence[int], weight_init: Any = "he_uniform", bias_init: Any = "zeros",
                 rng: Any = None) -> None:
        rng = np.random.default_rng(rng)
        sz = [nin] + list(nouts)
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1,
                             weight_init=weight_init, bias_init=bias_init, rng=rng)
                       for i in range(len(nouts))]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        h: Any = x  # the values flowing through the layers: numbers/Values in, Values out
        for layer in self.layers:
            h = layer(h)
        out: Value | list[Value] = h
        return out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"

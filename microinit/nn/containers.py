"""Containers: ``Sequential`` (modules applied in order) and ``MLP``.

    >>> import numpy as np
    >>> from microinit import nn
    >>> model = nn.Sequential(nn.Dense(2, 16, activation="relu", rng=0), nn.Dense(16, 3, rng=0))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    >>> model(np.zeros((5, 2), np.float32)).shape
    (5, 3)
"""
from __future__ import annotations

import numbers
from typing import Any, Iterator, Optional, Sequence

import numpy as np
from numpy.typing import DTypeLike, NDArray

from microinit.nn.activations import DEFAULT_PARAM, canonical_activation
from microinit.nn.inputs import model_input
from microinit.nn.layers import Dense, InitSpec, init_label
from microinit.rng import RngLike, as_generator
from microinit.nn.module import Module
from microinit.tensor import Tensor, dense_chain, enable_grad

#: one Dense layer as dense_chain takes it: (W, b, activation, activation_param)
ChainSpec = tuple[Tensor, Optional[Tensor], Optional[str], float]

__all__ = ["Sequential", "MLP", "ObservedOutput", "default_init_for"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Iterable, indexable (``seq[0]``, ``seq[-1]``, slices give a new Sequential) and
    ``len()``-able; ``append`` adds a module at the end. Children are named
    ``"0"``, ``"1"``, ... so parameters are ``"0.weight"``, ``"0.bias"``, ...

    **Fusion rule.** With ``fuse=True`` (the default) every maximal run of
    consecutive ``Dense`` layers (exactly ``Dense``, not a subclass; a run may be one
    layer) is ONE ``microinit.tensor.dense_chain`` op, whether or not the layers have
    hooks: the per-layer dispatch is most of the cost of a small layer, and the code
    that runs must not depend on who is watching. After the run, the forward hooks
    of its layers are called in layer order with ``(layer, (input,), output)``:
    ``input`` and ``output`` are Tensors holding that layer's input and output (the
    run's own input and output Tensors at its two ends, an ``ObservedOutput`` in
    between). Hooks observe; a hook that returns a replacement output (anything but
    None or the output itself) raises ``RuntimeError`` naming the layer. To replace a
    layer's output, call the layer directly or build ``Sequential(..., fuse=False)``,
    which runs every module by itself with ordinary hook semantics. Outputs and
    gradients are the same to the last bit with and without hooks.

    >>> import numpy as np
    >>> model = Sequential(Dense(2, 4, activation="tanh", rng=0), Dense(4, 1, rng=0))
    >>> seen = []
    >>> handle = model[0].register_forward_hook(lambda m, inp, out: seen.append(out.shape))
    >>> model(np.ones((3, 2), np.float32)).grad_fn, seen
    ('DenseChainBackward', [(3, 4)])
    >>> _ = model[0].register_forward_hook(lambda m, inp, out: out * 0)
    >>> model(np.ones((3, 2), np.float32))    # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: Dense layer '0': a forward hook returned a replacement output, ...
    >>> model.fuse = False                     # layer by layer: the hook replaces
    >>> float(abs(model(np.ones((3, 2), np.float32)).data - model[1].bias.data).max())
    0.0
    """

    fuse: bool
    _layers: tuple[Module, ...]  # set through __dict__ (not children of their own)
    _plan: tuple[Module | _DenseRun, ...]

    def __init__(self, *modules: Module | list[Module] | tuple[Module, ...], fuse: bool = True) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        self.fuse = bool(fuse)
        self.__dict__["_layers"] = ()
        # The forward plan: each step a Module, or a _DenseRun of consecutive Dense layers.
        self.__dict__["_plan"] = ()
        for m in modules:
            self.append(m)  # type: ignore[arg-type]  # a list/tuple given alone was unpacked above

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._layers)), module)
        self.__dict__["_layers"] = self._layers + (module,)
        plan = self._plan
        if type(module) is Dense:
            if plan and type(plan[-1]) is _DenseRun:
                plan = plan[:-1] + (plan[-1].extended(module),)
            else:
                plan = plan + (_DenseRun([module]),)
        else:
            plan = plan + (module,)
        self.__dict__["_plan"] = plan
        return self

    def forward(self, x: Any) -> Any:
        if not self.fuse:
            for layer in self._layers:
                x = layer(x)
            return x
        for step in self._plan:
            if type(step) is _DenseRun:
                x = step(x)
            else:
                # layer(x) without the extra frame when the layer has no hooks (tiny nets
                # are dominated by per-call overhead); step is a Module here (type() does
                # not narrow the union for mypy)
                x = step(x) if step._forward_hooks else step.forward(x)  # type: ignore[union-attr]
        return x

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, idx: int | slice) -> Module:
        if isinstance(idx, slice):
            sub = Sequential(fuse=self.fuse)
            for layer in self._layers[idx]:
                path = layer._path
                sub.append(layer)
                if path:  # a view of this container: errors keep naming the layers as here
                    layer._set_path(path)
            return sub
        return self._layers[idx]

    def extra_repr(self) -> str:
        return "" if self.fuse else "fuse=False"


class _DenseRun:
    """Consecutive Dense layers of a Sequential, run as one dense_chain op."""

    __slots__ = ("layers", "in_features", "chains")

    layers: tuple[Dense, ...]
    in_features: int
    chains: bool

    def __init__(self, layers: Sequence[Dense]) -> None:
        self.layers = tuple(layers)
        self.in_features = layers[0].in_features
        # widths are fixed at construction: whether they link up is known once
        self.chains = all(b.in_features == a.out_features for a, b in zip(layers, layers[1:]))

    def extended(self, layer: Dense) -> _DenseRun:
        return _DenseRun(self.layers + (layer,))

    def __call__(self, x: Any) -> Tensor:  # x: a batch (Tensor, array or rows); checked below
        run = self.layers
        layers = [d.chain_spec for d in run]
        dtype = layers[0][0].data.dtype
        x = model_input(x, dtype, run[0])  # docs/reliability.md rows 60, 61
        if type(x) is np.ndarray:
            x = Tensor(x)  # wrapped without a copy when C-contiguous
        shape = x.data.shape
        if len(shape) != 2 or shape[1] != self.in_features or not self.chains:
            self._raise_width_error(shape)
        for layer in run:
            if layer._forward_hooks:
                break
        else:
            return dense_chain(x, layers)
        y, outputs = dense_chain(x, layers, return_intermediates=True)
        _call_hooks(run, layers, x, y, outputs)
        return y

    def _raise_width_error(self, shape: tuple[int, ...]) -> None:
        """The error Dense.forward would raise: the first layer's input width, then every
        link of the chain."""
        run = self.layers
        run[0].check_input_shape(shape)
        for prev, layer in zip(run, run[1:]):
            layer.check_input_shape((shape[0], prev.out_features))


def _call_hooks(run: tuple[Dense, ...], layers: list[ChainSpec], x: Tensor, y: Tensor,
                outputs: Sequence[NDArray[Any]]) -> None:
    last = len(run) - 1
    inp = x
    for i, layer in enumerate(run):
        out = y if i == last else ObservedOutput(outputs[i], layers[i + 1:], y)
        for hook in list(layer._forward_hooks.values()):
            r = hook(layer, (inp,), out)
            if r is not None and r is not out:
                raise RuntimeError(
                    f"{layer.layer_label()}: a forward hook returned a replacement output, but the "
                    f"layer runs inside a fused run of Dense layers (one dense_chain op) whose hooks "
                    f"can only observe. Call the layer directly, or build Sequential(..., fuse=False) "
                    f"to run it by itself so that its hook may replace the output.")
        inp = out


class ObservedOutput(Tensor):
    """A Dense layer's output inside a fused run, as the layer's forward hooks see it.

    It holds the layer's output array but is not a node of the graph (the run is one
    op), so the loss does not flow through it. Its gradient can still be read: call
    ``retain_grad()`` in the hook; after a backward pass through the run's output,
    ``grad`` is dL/d(this output), computed on first read by running the rest of the
    run (``dense_chain`` on the same weights, cut from the graph) backward from the
    run output's gradient. Read it before the weights change.

    >>> import numpy as np
    >>> model = MLP([2, 3, 1], activation="tanh", rng=0, dtype=np.float64)
    >>> hidden = []
    >>> _ = model[0].register_forward_hook(lambda m, inp, out: hidden.append(out.retain_grad()))
    >>> model(np.ones((4, 2))).sum().backward()
    >>> bool(np.allclose(hidden[0].grad, np.tile(model[1].weight.data.T, (4, 1))))
    True
    """

    _grad: NDArray[Any] | None  # behind the grad property (set in __init__ through it)

    def __init__(self, data: NDArray[Any], tail: Sequence[ChainSpec], run_output: Tensor) -> None:
        super().__init__(data, requires_grad=run_output.requires_grad)
        self._tail = [(W.detach(), None if b is None else b.detach(), act, param)
                      for W, b, act, param in tail]
        self._run_output = run_output
        self._wants_grad = False

    def retain_grad(self) -> ObservedOutput:
        """Ask for ``grad`` after backward (it also makes the run output keep its own)."""
        self._wants_grad = True
        self._run_output.retain_grad()
        return self

    @property  # Tensor.grad is a plain slot; here it is computed on first read
    def grad(self) -> NDArray[Any] | None:
        if self._grad is None and self._wants_grad and self._run_output.grad is not None:
            a = Tensor(self.data, requires_grad=True)
            with enable_grad():
                out = dense_chain(a, self._tail)
            out.backward(self._run_output.grad)
            self._grad = a.grad
        return self._grad

    @grad.setter
    def grad(self, value: NDArray[Any] | None) -> None:
        self.__dict__["_grad"] = value


_HE_LIKE = {"relu", "leaky_relu", "elu", "gelu", "softplus"}


def default_init_for(activation: str | Module | None) -> tuple[InitSpec, str]:
    """The weight initializer MLP picks for an activation, and why.

    He (Kaiming) for ReLU-like activations, keeping the forward variance when half the
    units are zeroed; Xavier (Glorot) for tanh/sigmoid/linear, balancing forward and
    backward variance for activations that are linear near 0; LeCun normal for SELU,
    the initialization its self-normalising fixed point assumes.
    """
    act = canonical_activation(activation)
    if act in _HE_LIKE:
        if act == "leaky_relu":
            return {"name": "he_uniform", "negative_slope": DEFAULT_PARAM["leaky_relu"]}, "He"
        return "he_uniform", "He"
    if act == "selu":
        return "lecun_normal", "LeCun"
    return "xavier_uniform", "Xavier"


class MLP(Sequential):
    """A multi-layer perceptron: Dense layers of ``sizes[i] -> sizes[i+1]``.

    Every hidden layer applies ``activation`` (fused into its Dense op); the last layer
    is linear (logits). ``weight_init=None`` picks the initializer that matches the
    activation (``default_init_for``: He for ReLU-like, Xavier for tanh/sigmoid, LeCun
    for SELU), and the repr says which and why it was chosen. ``fuse`` is
    Sequential's (all the layers of an MLP form one fused run).

    >>> MLP([2, 64, 64, 3], activation="relu", rng=0)     # doctest: +ELLIPSIS
    MLP(sizes=[2, 64, 64, 3], activation=relu, weight_init=he_uniform (He: default for relu), ...
    """

    sizes: list[int]
    activation: str | None
    weight_init_label: str
    bias_init_label: str

    def __init__(self, sizes: Sequence[int], activation: str | Module | None = "relu",
                 weight_init: InitSpec | None = None, bias_init: InitSpec = "zeros", rng: RngLike = None,
                 dtype: DTypeLike = np.float32, fuse: bool = True) -> None:
        sizes = [int(s) if isinstance(s, numbers.Integral) and not isinstance(s, bool) else s
                 for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got sizes={sizes}")
        act = canonical_activation(activation)
        if weight_init is None:
            spec, family = default_init_for(act)
            why = f"{family}: default for {act or 'identity'}"
        else:
            spec, why = weight_init, "given"
        rng = as_generator(rng, "MLP")
        layers = [Dense(sizes[i], sizes[i + 1], weight_init=spec, bias_init=bias_init,
                        activation=act if i < len(sizes) - 2 else None, rng=rng, dtype=dtype)
                  for i in range(len(sizes) - 1)]
        super().__init__(*layers, fuse=fuse)
        self.__dict__.update(sizes=list(sizes), activation=act,
                             weight_init_label=f"{init_label(spec)} ({why})",
                             bias_init_label=init_label(bias_init))

    def extra_repr(self) -> str:
        return (f"sizes={self.sizes}, activation={self.activation or 'identity'}, "
                f"weight_init={self.weight_init_label}, bias_init={self.bias_init_label}"
                + ("" if self.fuse else ", fuse=False"))

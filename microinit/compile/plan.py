"""What a compiled step computes, read off the model, the loss and the optimizer.

``make_plan(model, loss, optimizer)`` walks the three objects once and returns a
``Plan``: the dense layers in order (each with the activation its epilogue applies),
the loss and the optimizer's rule. Anything the compiled program has no record for
raises here, naming it: ``TypeError`` for a module, loss or optimizer of a kind that
cannot be captured, ``ValueError`` for an option or a state that cannot (a frozen
parameter, ``reduction="none"``, a hook).

    >>> from microinit import losses, nn, optim
    >>> model = nn.MLP([2, 16, 1], rng=0)
    >>> plan = make_plan(model, losses.mse, optim.SGD(model.parameters(), lr=0.1))
    >>> [(d.weight.shape, d.activation) for d in plan.layers], plan.loss.kind
    ([((2, 16), 'relu'), ((16, 1), None)], 'mse')
    >>> seq = nn.Sequential(nn.Dense(2, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dense(4, 1))
    >>> [type(s).__name__ for s in make_plan(seq, "mse", optim.Adam(seq.parameters())).layers]
    ['DenseSpec', 'ModuleSpec', 'ModuleSpec', 'DenseSpec']
    >>> class Twice(nn.Module):
    ...     def forward(self, x):
    ...         return x * 2
    >>> make_plan(nn.Sequential(nn.Dense(2, 2), Twice()), "mse", optim.SGD(model.parameters(), lr=0.1))
    Traceback (most recent call last):
    ...
    TypeError: compile_step: cannot capture layer 1 (Twice): supported are Dense (Linear), Dropout, ...
"""
from __future__ import annotations

from typing import Any

import numpy as np

from microinit import losses as _losses_module
from microinit import optim
from microinit.nn import activations as _activation_modules
from microinit.nn.activations import DEFAULT_PARAM, canonical_activation
from microinit.nn.containers import Sequential
from microinit.nn.dropout import Dropout
from microinit.nn.layers import Dense
from microinit.nn.module import Module
from microinit.nn.normalization import BatchNorm1d, LayerNorm
from microinit.ops.activations import activation_code
from microinit.tensor import Tensor

__all__ = ["DenseSpec", "ModuleSpec", "LossSpec", "OptimSpec", "Plan", "make_plan"]

#: the activation modules a Dense epilogue applies (the fused activation table)
FUSED_ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus")
#: loss name -> the kind of record the program runs
LOSS_KINDS = {"mse": "mse", "cross_entropy": "cross_entropy",
              "binary_cross_entropy_with_logits": "bce_with_logits", "hinge": "hinge"}


class DenseSpec:
    """One dense layer of the program: ``act(x @ weight + bias)``."""

    __slots__ = ("layer", "weight", "bias", "activation", "code", "param")

    def __init__(self, layer: Dense, weight: Tensor, bias: Tensor | None, activation: str | None,
                 param: float) -> None:
        self.layer = layer
        self.weight = weight
        self.bias = bias
        self.activation = activation
        self.code = 0 if activation is None else activation_code(activation)
        self.param = param

    @property
    def params(self) -> list[Tensor]:
        """The layer's parameters: the weight, then the bias if it has one."""
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def with_activation(self, activation: str, param: float) -> DenseSpec:
        return DenseSpec(self.layer, self.weight, self.bias, activation, param)


#: modules that keep the width of their input, run in the program through their own
#: eager forward and backward (a Python record each way; see build.py)
RECORDED_MODULES = (Dropout, BatchNorm1d, LayerNorm) + tuple(
    getattr(_activation_modules, name) for name in _activation_modules.__all__
    if isinstance(getattr(_activation_modules, name), type)
    and issubclass(getattr(_activation_modules, name), Module))


class ModuleSpec:
    """A width-keeping module: ``kind`` "activation" (of the fused table, where no Dense
    can apply it: an activation record with ``code``/``param``), "dropout" (a dropout
    record after a draw from the module's generator), "layer_norm" (layer-norm records,
    ``param`` its eps) or "module" (BatchNorm1d, an activation computed in numpy: run
    through its own eager forward and backward)."""

    __slots__ = ("module", "params", "kind", "code", "param")

    def __init__(self, module: Module, kind: str = "module", code: int = 0, param: float = 0.0) -> None:
        self.module = module
        self.params = [p for _, p in module.named_parameters()]
        self.kind = kind
        self.code = code
        self.param = param


class LossSpec:
    """The loss: ``kind`` (a value of LOSS_KINDS) and ``mean`` (else "sum")."""

    __slots__ = ("kind", "mean", "fn")

    def __init__(self, kind: str, mean: bool, fn: Any) -> None:
        self.kind = kind
        self.mean = mean
        self.fn = fn


class OptimSpec:
    """The optimizer, the live state arrays the program updates in place, and the
    optimizer's ``hyper_version`` when the plan was read: the program holds its
    hyper-parameters other than lr as constants, and assigning one bumps that count
    (``Optimizer.HYPER_PARAMETERS``), so a different count calls for a new program."""

    __slots__ = ("optimizer", "kind", "state", "version")

    def __init__(self, optimizer: optim.Optimizer, kind: str, state: dict[str, Any]) -> None:
        self.optimizer = optimizer
        self.kind = kind
        self.state = state
        self.version = optimizer.hyper_version


class Plan:
    """What the program computes: ``layers`` (DenseSpec or ModuleSpec, input to
    output), ``loss``, ``optim``, and ``params`` (the model's parameter Tensors, in
    model order)."""

    __slots__ = ("model", "layers", "loss", "optim", "params")

    def __init__(self, model: Module, layers: list[DenseSpec | ModuleSpec], loss: LossSpec, optim_spec: OptimSpec,
                 params: list[Tensor]) -> None:
        self.model = model
        self.layers = layers
        self.loss = loss
        self.optim = optim_spec
        self.params = params

    @property
    def dense(self) -> list[DenseSpec]:
        return [s for s in self.layers if isinstance(s, DenseSpec)]

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.dense[0].weight.data.dtype

    @property
    def in_features(self) -> int:
        return int(self.dense[0].weight.data.shape[0])

    @property
    def out_features(self) -> int:
        return int(self.dense[-1].weight.data.shape[1])


def _flatten(model: Module) -> list[Module]:
    if type(model) is Dense:
        return [model]
    if isinstance(model, Sequential) and type(model).forward is Sequential.forward:
        out: list[Module] = []
        for m in model:
            out.extend(_flatten(m))
        return out
    return [model]


def _activation_name(m: Module) -> str | None:
    """The fused-table name of an activation module ("identity" for Identity), or None."""
    try:
        return canonical_activation(m) or "identity"
    except (TypeError, ValueError):  # not an activation module, or GELU(approximate="tanh")
        return None


def _layers(model: Module) -> list[DenseSpec | ModuleSpec]:
    specs: list[DenseSpec | ModuleSpec] = []
    for i, m in enumerate(_flatten(model)):
        if m.has_forward_hooks():
            raise ValueError(f"compile_step: layer {i} ({type(m).__name__}) has a forward hook; "
                             f"a compiled step cannot call hooks (remove it or train eagerly)")
        if type(m) is Dense:
            specs.append(DenseSpec(m, m.weight, m.bias, m.activation, m.activation_param))
            continue
        name = _activation_name(m)
        if name == "identity":
            continue
        last = specs[-1] if specs else None
        param = float(getattr(m, "param", DEFAULT_PARAM.get(name, 0.0))) if name else 0.0
        if name is not None and isinstance(last, DenseSpec) and last.activation is None:
            # the Dense epilogue applies it: the same formula, one pass less
            specs[-1] = last.with_activation(name, param)
            continue
        if name is not None:
            specs.append(ModuleSpec(m, "activation", activation_code(name), param))
            continue
        if type(m) is Dropout:
            specs.append(ModuleSpec(m, "dropout"))
            continue
        if type(m) is LayerNorm and len(m.normalized_shape) == 1:
            specs.append(ModuleSpec(m, "layer_norm", param=m.eps))
            continue
        if type(m) in RECORDED_MODULES:
            _check_recorded(i, m)
            specs.append(ModuleSpec(m))
            continue
        raise TypeError(f"compile_step: cannot capture layer {i} ({type(m).__name__}): supported are "
                        f"Dense (Linear), Dropout, BatchNorm1d, LayerNorm and the activation modules")
    dense = [s for s in specs if isinstance(s, DenseSpec)]
    if not dense:
        raise TypeError(f"compile_step: the model ({type(model).__name__}) has no Dense layer to capture")
    for a, b in zip(dense, dense[1:]):
        if a.weight.data.shape[1] != b.weight.data.shape[0]:
            raise ValueError(f"compile_step: layer widths do not chain: {a.weight.data.shape} "
                             f"then {b.weight.data.shape}")
    dtypes = {p.data.dtype for s in specs for p in s.params}
    if len(dtypes) != 1:
        raise TypeError(f"compile_step: the layers mix dtypes {sorted(str(d) for d in dtypes)}")
    return specs


def _check_recorded(i: int, m: Module) -> None:
    """A recorded module must keep a 2-D batch's shape."""
    if isinstance(m, LayerNorm) and len(m.normalized_shape) != 1:
        raise ValueError(f"compile_step: cannot capture layer {i} (LayerNorm over {m.normalized_shape}): "
                         f"a compiled step normalizes the feature axis of 2-D batches only")


def _loss(loss: Any) -> LossSpec:
    spec = _losses_module.get(loss)
    if not isinstance(spec, _losses_module.Loss):
        raise TypeError(f"compile_step: cannot capture the loss {getattr(loss, '__name__', loss)!r}; "
                        f"supported are {', '.join(LOSS_KINDS)} (a function, a Loss or its name)")
    kind = LOSS_KINDS.get(spec.name)
    if kind is None or type(spec) is _losses_module.NLLLoss:
        raise TypeError(f"compile_step: cannot capture the loss {type(spec).__name__}; supported are "
                        f"{', '.join(LOSS_KINDS)}")
    if spec.reduction not in ("mean", "sum"):
        raise ValueError(f"compile_step: cannot capture {type(spec).__name__}(reduction="
                         f"{spec.reduction!r}); the step needs a scalar loss ('mean' or 'sum')")
    unsupported = {k: v for k, v in spec.options.items() if k != "ignore_index"}
    if unsupported:
        raise ValueError(f"compile_step: cannot capture {type(spec).__name__} with "
                         f"{', '.join(f'{k}={v!r}' for k, v in unsupported.items())}")
    return LossSpec(kind, spec.reduction == "mean", loss)


def _optim(opt: Any) -> OptimSpec:
    kinds = {optim.SGD: "sgd", optim.Adam: "adam", optim.AdamW: "adam"}
    kind = kinds.get(type(opt))
    if kind is None:
        raise TypeError(f"compile_step: cannot capture the optimizer {type(opt).__name__}; "
                        f"supported are SGD, Adam and AdamW")
    return OptimSpec(opt, kind, opt.state_arrays())


def make_plan(model: Module, loss: Any, optimizer: Any) -> Plan:
    """The Plan of ``optimizer`` training ``model`` on ``loss`` (module docstring)."""
    if not isinstance(model, Module):
        raise TypeError(f"compile_step: model must be a microinit Module, got {type(model).__name__}")
    layers = _layers(model)
    params = [p for _, p in model.named_parameters()]
    captured = {id(p) for s in layers for p in s.params}
    if {id(p) for p in params} != captured:
        raise TypeError("compile_step: the model has parameters outside its layers")
    for name, p in model.named_parameters():
        if not p.requires_grad:
            raise ValueError(f"compile_step: parameter {name!r} is frozen (requires_grad=False); "
                             f"a compiled step trains every parameter")
    opt_spec = _optim(optimizer)
    for j, p in enumerate(optimizer.params):
        if id(p) not in captured:
            raise ValueError(f"compile_step: the optimizer's {optimizer.describe_param(j)} is not "
                             f"a parameter of the model")
    return Plan(model, layers, _loss(loss), opt_spec, params)

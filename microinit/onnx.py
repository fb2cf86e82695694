"""The way out: write a trained microinit model as an ONNX file.

``export(model, path, example_input)`` writes ``model`` (a ``Sequential``/``MLP``, or
a single layer) as an ONNX graph (opset 17 by default) that onnxruntime, PyTorch
(via ``onnx2torch``) and every ONNX runtime can load, with the trained weights
inside. It needs the ``onnx`` package: ``pip install "microinit[onnx]"``.

The model is written as it computes in eval mode (as ``torch.onnx.export`` does by
default): Dropout is left out, BatchNorm1d uses its running statistics. The batch
dimension is left free ("batch"), the feature width is the example's. Each layer type
maps to ONNX nodes through one table, ``EXPORTERS`` (class name -> function); the
activations through ``ACTIVATION_EXPORTERS`` (activation name -> function):

=================  ==========================================================
microinit          ONNX
=================  ==========================================================
Dense              ``Gemm(x, W, b)`` (W is (in, out): no transpose), or
                   ``MatMul`` without a bias; then its fused activation
LayerNorm          ``LayerNormalization`` (axis = -len(normalized_shape))
BatchNorm1d        ``BatchNormalization`` with the running mean and variance
Dropout            nothing (the identity in eval mode)
relu, tanh, ...    ``Relu``, ``Tanh``, ``Sigmoid``, ``Elu``, ``Selu``,
                   ``LeakyRelu``, ``Softplus``; gelu in its exact erf form
=================  ==========================================================

A module without an entry raises ``TypeError`` naming it (and its position).

    >>> import os, tempfile
    >>> import numpy as np
    >>> from microinit import nn
    >>> model = nn.MLP([4, 8, 3], activation="gelu", rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
    >>> export(model, path, np.zeros((2, 4), np.float32))            # doctest: +SKIP
    >>> import onnxruntime                                             # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession(path)                   # doctest: +SKIP
    >>> x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    >>> y = session.run(None, {"input": x})[0]                         # doctest: +SKIP
    >>> bool(np.allclose(y, model(x).data, atol=1e-5))                 # doctest: +SKIP
    True
"""
from __future__ import annotations

import math
import os
import tempfile
from typing import Any, Callable, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from microinit.nn.activations import canonical_activation
from microinit.nn.module import Module
from microinit.tensor import Tensor, no_grad

__all__ = ["export", "EXPORTERS", "ACTIVATION_EXPORTERS", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 17  # LayerNormalization is an ONNX op from opset 17 on
_SELU_ALPHA = 1.6732632423543772848170429916717  # PyTorch's (and the SELU paper's) constants
_SELU_SCALE = 1.0507009873554804934193349852946
_INSTALL = 'pip install "microinit[onnx]"'


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:  # an optional dependency: say how to get it
        raise ImportError(f"microinit.onnx.export needs the onnx package: {_INSTALL}") from None
    return onnx


class GraphBuilder:
    """The ONNX graph being written: nodes, weights (initializers), fresh names."""

    def __init__(self, onnx: Any, dtype: DTypeLike) -> None:
        self.onnx, self.dtype = onnx, np.dtype(dtype)  # onnx: the onnx package (a module)
        self.nodes: list[Any] = []  # onnx.NodeProto
        self.initializers: list[Any] = []  # onnx.TensorProto
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def weight(self, hint: str, array: ArrayLike) -> str:
        """An initializer holding ``array`` in the graph's dtype; returns its name."""
        name = self.name(hint)
        arr = np.ascontiguousarray(np.asarray(array, self.dtype))
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def scalar(self, hint: str, value: float) -> str:
        return self.weight(hint, np.asarray(value))

    def node(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        """Append a node with one output; returns the output's name."""
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


# --------------------------------------------------------------------------- activations
#: how an activation is written: fn(graph, input name, param) -> output name (param:
#: the layer's activation parameter as it holds it, a number for leaky_relu/elu)
Emit = Callable[[GraphBuilder, str, Any], str]


def _unary(op_type: str, **attrs: Any) -> Emit:
    def emit(g: GraphBuilder, x: str, param: float | None) -> str:
        return g.node(op_type, [x], **attrs)
    return emit


def _gelu(g: GraphBuilder, x: str, param: float | None) -> str:  # exact: x * (1 + erf(x / sqrt 2)) / 2
    erf = g.node("Erf", [g.node("Mul", [x, g.scalar("inv_sqrt2", 1 / math.sqrt(2))])])
    half_x = g.node("Mul", [x, g.scalar("half", 0.5)])
    return g.node("Mul", [half_x, g.node("Add", [erf, g.scalar("one", 1.0)])], "gelu")


def _gelu_tanh(g: GraphBuilder, x: str, param: float | None) -> str:
    # x * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
    cube = g.node("Mul", [g.node("Mul", [x, x]), x])
    inner = g.node("Add", [x, g.node("Mul", [cube, g.scalar("c", 0.044715)])])
    t = g.node("Tanh", [g.node("Mul", [inner, g.scalar("k", math.sqrt(2 / math.pi))])])
    half_x = g.node("Mul", [x, g.scalar("half", 0.5)])
    return g.node("Mul", [half_x, g.node("Add", [t, g.scalar("one", 1.0)])], "gelu_tanh")


def _silu(g: GraphBuilder, x: str, param: float | None) -> str:
    return g.node("Mul", [x, g.node("Sigmoid", [x])], "silu")


def _mish(g: GraphBuilder, x: str, param: float | None) -> str:
    return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])], "mish")


def _clip(lo: float, hi: float) -> Emit:
    def emit(g: GraphBuilder, x: str, param: float | None) -> str:
        return g.node("Clip", [x, g.scalar("min", lo), g.scalar("max", hi)])
    return emit


def _logsigmoid(g: GraphBuilder, x: str, param: float | None) -> str:  # -softplus(-x)
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [x])])], "logsigmoid")


#: activation name (microinit/ops/activations.py ACTIVATIONS) -> fn(graph, x, param) -> output name
ACTIVATION_EXPORTERS: dict[str, Emit] = {
    "identity": lambda g, x, param: x,
    "relu": _unary("Relu"),
    "tanh": _unary("Tanh"),
    "sigmoid": _unary("Sigmoid"),
    "softplus": _unary("Softplus"),
    "leaky_relu": lambda g, x, param: g.node("LeakyRelu", [x], alpha=float(param)),
    "elu": lambda g, x, param: g.node("Elu", [x], alpha=float(param)),
    "selu": _unary("Selu", alpha=_SELU_ALPHA, gamma=_SELU_SCALE),
    "gelu": _gelu,
    # the activations issue 16 adds (PyTorch's definitions)
    "gelu_tanh": _gelu_tanh,
    "silu": _silu,
    "mish": _mish,
    "hardswish": _unary("HardSwish"),
    "hardtanh": _clip(-1.0, 1.0),
    "relu6": _clip(0.0, 6.0),
    "logsigmoid": _logsigmoid,
    "softsign": _unary("Softsign"),
}


def _activation(g: GraphBuilder, x: str, name: str | None, param: float | None, where: str) -> str:
    if name is None:
        return x
    try:
        emit = ACTIVATION_EXPORTERS[name]
    except KeyError:
        raise TypeError(f"onnx.export: {where}: activation {name!r} has no ONNX mapping; mapped: "
                        f"{', '.join(sorted(ACTIVATION_EXPORTERS))}") from None
    return emit(g, x, param)


# --------------------------------------------------------------------------- layers
@overload
def _array(t: None) -> None: ...
@overload
def _array(t: Tensor | ArrayLike) -> NDArray[Any]: ...
def _array(t: Tensor | ArrayLike | None) -> NDArray[Any] | None:
    return None if t is None else (t.data if isinstance(t, Tensor) else np.asarray(t))


def _dense(g: GraphBuilder, x: str, layer: Any, where: str) -> str:
    w = g.weight("weight", _array(layer.weight))  # (in, out): x @ W needs no transpose
    if layer.bias is not None:
        y = g.node("Gemm", [x, w, g.weight("bias", _array(layer.bias))], "dense")
    else:
        y = g.node("MatMul", [x, w], "dense")
    return _activation(g, y, layer.activation, layer.activation_param, where)


def _affine(layer: Any, width: int | tuple[int, ...]) -> tuple[NDArray[Any], NDArray[Any]]:
    """(scale, bias) of a norm layer, ones and zeros when it has none."""
    w, b = _array(getattr(layer, "weight", None)), _array(getattr(layer, "bias", None))
    return (np.ones(width) if w is None else w), (np.zeros(width) if b is None else b)


def _layer_norm(g: GraphBuilder, x: str, layer: Any, where: str) -> str:
    shape = tuple(np.atleast_1d(layer.normalized_shape))
    scale, bias = _affine(layer, shape)
    return g.node("LayerNormalization", [x, g.weight("ln_scale", scale), g.weight("ln_bias", bias)],
                  "layer_norm", axis=-len(shape), epsilon=float(layer.eps))


def _batch_norm(g: GraphBuilder, x: str, layer: Any, where: str) -> str:
    mean = _array(getattr(layer, "running_mean", None))
    var = _array(getattr(layer, "running_var", None))
    if mean is None or var is None:
        raise TypeError(f"onnx.export: {where}: BatchNorm1d without running statistics "
                        "(track_running_stats=False) normalizes with batch statistics even in eval "
                        "mode; it has no ONNX export")
    scale, bias = _affine(layer, mean.shape)
    inputs = [x, g.weight("bn_scale", scale), g.weight("bn_bias", bias), g.weight("bn_mean", mean),
              g.weight("bn_var", var)]
    return g.node("BatchNormalization", inputs, "batch_norm", epsilon=float(layer.eps))


def _dropout(g: GraphBuilder, x: str, layer: Any, where: str) -> str:
    return x  # eval mode: the identity


def _sequence(g: GraphBuilder, x: str, model: Module, where: str) -> str:
    for name, child in model.named_children():
        x = _module(g, x, child, f"{where}[{name}]")
    return x


#: layer class name -> fn(graph, x, module, where) -> output name
EXPORTERS: dict[str, Callable[[GraphBuilder, str, Any, str], str]] = {
    "Sequential": _sequence,
    "MLP": _sequence,
    "Dense": _dense,
    "LayerNorm": _layer_norm,
    "BatchNorm1d": _batch_norm,
    "Dropout": _dropout,
}


def _module(g: GraphBuilder, x: str, module: Module, where: str) -> str:
    exporter = EXPORTERS.get(type(module).__name__)
    if exporter is not None:
        return exporter(g, x, module, where)
    try:
        act = canonical_activation(module)  # an activation module (ReLU(), ELU(0.5), ...)
    except (TypeError, ValueError):
        raise TypeError(f"onnx.export: {where}: {type(module).__name__} has no ONNX export; supported: "
                        f"{', '.join(sorted(EXPORTERS))} and the activation modules") from None
    return _activation(g, x, act, getattr(module, "param", None), where)


# --------------------------------------------------------------------------- export
def _model_dtype(model: Module) -> np.dtype[Any]:
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``
    (a crash never leaves half a model file)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def export(model: Module, path: str | os.PathLike[str], example_input: Tensor | ArrayLike, opset: int = DEFAULT_OPSET,
           input_name: str = "input", output_name: str = "output") -> Any:
    """Write ``model`` as an ONNX file at ``path``; returns the checked ``onnx.ModelProto``.

    ``example_input``: one batch of shape ``(batch, features)``; the model is run on
    it first (so a model that cannot take it fails here, with its own error), and it
    fixes the feature width. ``opset`` >= 17. The file is validated with
    ``onnx.checker`` and written atomically (a temporary file renamed over ``path``).
    """
    onnx = _onnx()
    if not isinstance(model, Module):
        raise TypeError(f"onnx.export: model must be a microinit Module, got {type(model).__name__}")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ValueError(f"onnx.export: opset must be an int >= {MIN_OPSET}, got {opset!r}")
    dtype = _model_dtype(model)
    x = np.asarray(_array(example_input), dtype)
    if x.ndim != 2:
        raise ValueError(f"onnx.export: example_input should have shape (batch, features), got shape {x.shape}")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            y = _array(model(x))
    finally:
        model.train(was_training)
    g = GraphBuilder(onnx, dtype)
    out = _module(g, input_name, model, type(model).__name__)
    g.nodes.append(onnx.helper.make_node("Identity", [out], [output_name]))
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    graph = onnx.helper.make_graph(
        g.nodes, "microinit_model",
        [onnx.helper.make_tensor_value_info(input_name, elem, ["batch", x.shape[1]])],
        [onnx.helper.make_tensor_value_info(output_name, elem, ["batch"] + list(y.shape[1:]))],
        g.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="microinit")
    # the oldest IR version the opset allows, so that older onnxruntime releases read the file
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(proto, full_check=True)
    _write_atomically(os.fspath(path), proto.SerializeToString())
    return proto

"""Neural-network building blocks: Module, Dense, activations, Sequential, MLP.

A ``Module`` owns parameters (``Tensor`` objects with ``requires_grad=True`` assigned
as attributes) and child modules (``Module`` attributes), in assignment order::

    >>> import numpy as np
    >>> from microinit import nn
    >>> model = nn.Sequential(nn.Dense(2, 16, activation="relu", rng=0), nn.Dense(16, 3, rng=0))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    >>> model(np.zeros((5, 2), np.float32)).shape
    (5, 3)

Weights follow DESIGN's single layout: a Dense weight is ``(in_features,
out_features)`` and the layer computes ``act(x @ W + b)``; with an activation the
whole thing is one fused op (``tensor.dense``: matmul + bias + activation forward,
and one fused backward). Initializers come from the registry (``microinit.init``) by
name, config dict, number or callable, drawn from a ``numpy.random.Generator`` you
can seed (``rng``).
"""
import numbers
from collections import OrderedDict

import numpy as np

from microinit import init as _init
from microinit.tensor import Tensor, dense, dense_chain, no_grad

__all__ = [
    "Module", "Dense", "Linear", "Sequential", "MLP", "Identity", "ReLU", "Tanh", "Sigmoid",
    "LeakyReLU", "ELU", "SELU", "GELU", "Softplus", "activation_module", "default_init_for",
]


class _HookHandle:
    """Returned by ``register_forward_hook``; ``remove()`` detaches the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters (``Tensor`` with
    ``requires_grad=True``) and sub-modules as attributes, and define ``forward``.
    Calling the module runs ``forward`` and then any forward hooks.
    """

    def __init__(self):
        d = self.__dict__
        d["_params"] = OrderedDict()
        d["_children"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["training"] = True
        d["_path"] = ""
        d["_param_inits"] = {}

    # Attribute registration: parameters and children are kept in ordered dicts for
    # traversal AND in __dict__, so reading ``layer.weight`` costs a plain lookup.
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_params" not in d:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning {name!r}")
        d["_params"].pop(name, None)
        d["_children"].pop(name, None)
        if isinstance(value, Tensor) and value.requires_grad:
            d["_params"][name] = value
        elif isinstance(value, Module):
            d["_children"][name] = value
            value._set_path(self._join(name))
        d[name] = value

    def __delattr__(self, name):
        self._params.pop(name, None)
        self._children.pop(name, None)
        del self.__dict__[name]

    def _join(self, name):
        return f"{self._path}.{name}" if self._path else name

    def _set_path(self, path):
        self.__dict__["_path"] = path
        for name, child in self._children.items():
            child._set_path(f"{path}.{name}")

    def _layer_label(self):
        return f"{type(self).__name__} layer '{self._path}'" if self._path else f"{type(self).__name__} layer"

    # ------------------------------------------------------------------ running
    def forward(self, *args):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args):
        out = self.forward(*args)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def register_forward_hook(self, fn):
        """Call ``fn(module, inputs, output)`` after every forward of this module.

        ``inputs`` is the tuple of positional arguments; if ``fn`` returns a value it
        replaces the output. Returns a handle whose ``remove()`` detaches the hook
        (it also works as a context manager).
        """
        if not callable(fn):
            raise TypeError(f"register_forward_hook needs a callable, got {type(fn).__name__}")
        handle = _HookHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = fn
        return handle

    # ------------------------------------------------------------------ traversal
    def children(self):
        """The direct sub-modules, in assignment order."""
        return iter(self._children.values())

    def named_children(self):
        return iter(self._children.items())

    def named_modules(self, prefix=""):
        """``(name, module)`` for this module ('' ) and every descendant, depth first."""
        seen = set()
        stack = [(prefix, self)]
        out = []
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            out.append((name, m))
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m._children.items()]
            stack.extend(reversed(kids))
        return iter(out)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix=""):
        """``(dotted name, Tensor)`` for every parameter, each shared tensor once."""
        seen = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._params.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self):
        """The parameters as a list (pass it to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self):
        return int(sum(p.data.size for p in self.parameters()))

    def zero_grad(self):
        """Set every parameter's ``grad`` to None. Without it gradients accumulate:
        two ``backward()`` calls add their gradients exactly (as in PyTorch)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """``{dotted name: copy of the parameter's array}``, in parameter order."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state, strict=True, source="state_dict"):
        """Copy arrays from ``state`` into the parameters, in place.

        Everything is checked before anything is written, so on error the model is
        unchanged. ``ValueError`` lists every missing key, every unexpected key (both
        only when ``strict``) and every ``size mismatch for 0.weight: file (3, 4) vs
        model (3, 5)`` (``source`` names where the state came from, e.g. the file). Values of another float dtype are cast to the parameter's dtype.
        """
        if not hasattr(state, "items"):
            raise TypeError(f"load_state_dict expects a mapping of name -> array, got {type(state).__name__}")
        own = OrderedDict(self.named_parameters())
        problems, arrays = [], {}
        where = "state" if source == "state_dict" else "file"
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(map(str, unexpected)))
        for k, p in own.items():
            if k not in state:
                continue
            v = state[k]
            a = np.asarray(v.data if isinstance(v, Tensor) else v)
            if a.dtype.kind not in "fiu":
                problems.append(f"{k}: dtype {a.dtype} cannot be loaded into a {p.data.dtype} parameter")
            elif a.shape != p.data.shape:
                problems.append(f"size mismatch for {k}: {where} {tuple(a.shape)} vs model {tuple(p.data.shape)}")
            else:
                arrays[k] = a
        if problems:
            raise ValueError(f"Error(s) loading {source} into {type(self).__name__}:\n  " + "\n  ".join(problems))
        for k, a in arrays.items():
            p = own[k]
            p.data[...] = a
            p._bump_version()
        return self

    def save(self, path):
        """Write the parameters to ``path`` (``microinit.save``: atomic .npz, checksum)."""
        from microinit.serialization import save

        save(self, path)

    def load(self, path, strict=True):
        """Read parameters written by ``save``; the model is unchanged if the file is bad."""
        from microinit.serialization import load

        load(path, self, strict=strict)
        return self

    # ------------------------------------------------------------------ display
    def extra_repr(self):
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._children:
            return head + ")"
        lines = [head]
        for name, child in self._children.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"

    def summary(self, input_shape=None, dtype=np.float32):
        """A table of layers: output shape, parameter count and each parameter's initializer.

        Output shapes come from one forward pass of a zero batch of ``input_shape``
        (default: ``(1, in_features)`` of the first Dense layer). Returns the text.
        """
        if input_shape is None:
            first = next((m for m in self.modules() if isinstance(m, Dense)), None)
            input_shape = (1, first.in_features) if first is not None else None
        shapes = {}
        if input_shape is not None:
            handles = [m.register_forward_hook(
                lambda mod, inp, out: shapes.__setitem__(id(mod), tuple(np.shape(getattr(out, "data", out)))))
                for m in self.modules()]
            try:
                with no_grad():
                    self(np.zeros(input_shape, dtype))
            finally:
                for h in handles:
                    h.remove()
        rows = [("layer", "type", "output shape", "params", "initializers")]
        for name, m in self.named_modules():
            own = list(m._params.items())
            inits = ", ".join(f"{k}={m._param_inits.get(k, '?')}" for k, _ in own)
            count = sum(p.data.size for _, p in own)
            shape = shapes.get(id(m))
            rows.append((name or "(model)", type(m).__name__,
                         "?" if shape is None else str(("batch",) + shape[1:]).replace("'", ""),
                         f"{count:,}" if own else "", inits))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [fmt.format(*rows[0]).rstrip(), "-" * (sum(widths) + 8)]
        lines += [fmt.format(*r).rstrip() for r in rows[1:]]
        lines.append("-" * (sum(widths) + 8))
        lines.append(f"total parameters: {self.num_parameters():,}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- activations
ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus")
_DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}


def _canon_activation(activation):
    if activation is None:
        return None
    if isinstance(activation, Module) and type(activation) in _MODULE_TO_NAME:
        return _MODULE_TO_NAME[type(activation)]
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a name such as 'relu' or None, got {type(activation).__name__}")
    key = activation.lower().replace("-", "_")
    key = {"leakyrelu": "leaky_relu", "linear": "identity", "none": "identity"}.get(key, key)
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; available: {', '.join(ACTIVATIONS)}")
    return None if key == "identity" else key


class _Activation(Module):
    name = "identity"
    param = 0.0

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = Tensor(x)
        return x if self.name == "identity" else x._activation(self.name, self.param)

    def extra_repr(self):
        return ""


class Identity(_Activation):
    """y = x."""
    name = "identity"


class ReLU(_Activation):
    """y = max(x, 0)."""
    name = "relu"


class Tanh(_Activation):
    """y = tanh(x)."""
    name = "tanh"


class Sigmoid(_Activation):
    """y = 1 / (1 + exp(-x))."""
    name = "sigmoid"


class SELU(_Activation):
    """y = scale * (x if x > 0 else alpha * (exp(x) - 1)), scale ~ 1.0507, alpha ~ 1.6733."""
    name = "selu"


class GELU(_Activation):
    """y = x * Phi(x) (exact erf form)."""
    name = "gelu"


class Softplus(_Activation):
    """y = log(1 + exp(x))."""
    name = "softplus"


class _ParamActivation(_Activation):
    """An activation with one named parameter (its keyword and repr name)."""
    param_name = ""

    def __init__(self, value):
        super().__init__()
        self.param = float(value)

    def extra_repr(self):
        return f"{self.param_name}={self.param}"


class LeakyReLU(_ParamActivation):
    """y = x if x > 0 else negative_slope * x."""
    name, param_name = "leaky_relu", "negative_slope"

    def __init__(self, negative_slope=0.01):
        super().__init__(negative_slope)


class ELU(_ParamActivation):
    """y = x if x > 0 else alpha * (exp(x) - 1)."""
    name, param_name = "elu", "alpha"

    def __init__(self, alpha=1.0):
        super().__init__(alpha)


_NAME_TO_MODULE = {"identity": Identity, "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid,
                   "leaky_relu": LeakyReLU, "elu": ELU, "selu": SELU, "gelu": GELU,
                   "softplus": Softplus}
_MODULE_TO_NAME = {v: k for k, v in _NAME_TO_MODULE.items()}


def activation_module(name, param=None):
    """The activation module for a name: ``activation_module("relu") -> ReLU()``."""
    key = _canon_activation(name) or "identity"
    cls = _NAME_TO_MODULE[key]
    return cls(param) if (param is not None and key in _DEFAULT_PARAM) else cls()


# ---------------------------------------------------------------------- Dense
def _init_label(spec):
    """A short human label for an initializer spec (for repr and summary)."""
    if isinstance(spec, str):
        return _init.get(spec).name
    if isinstance(spec, dict):
        spec = dict(spec)
        name = _init.get(spec).name
        spec.pop("name", None)
        args = ", ".join(f"{k}={v}" for k, v in spec.items())
        return f"{name}({args})" if args else name
    if isinstance(spec, numbers.Real):
        return f"constant({spec})"
    return getattr(spec, "__name__", None) or getattr(spec, "name", None) or type(spec).__name__


def _as_generator(rng):
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _check_features(name, value):
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

    >>> layer = Dense(2, 8, activation="tanh", weight_init="xavier_uniform", rng=0)
    >>> layer.weight.shape, layer.bias.shape
    ((2, 8), (8,))
    """

    def __init__(self, in_features, out_features, bias=True, weight_init="he_uniform",
                 bias_init="zeros", activation=None, rng=None, dtype=np.float32,
                 activation_param=None):
        super().__init__()
        self.in_features = _check_features("in_features", in_features)
        self.out_features = _check_features("out_features", out_features)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"Dense: dtype must be float32 or float64, got {dtype}")
        act = _canon_activation(activation)
        self.activation = act
        self.activation_param = float(activation_param if activation_param is not None
                                      else _DEFAULT_PARAM.get(act, 0.0))
        rng = _as_generator(rng)
        wfn = _init.get(weight_init)
        self.weight = Tensor(np.ascontiguousarray(
            wfn((self.in_features, self.out_features), dtype=dtype, rng=rng), dtype=dtype),
            requires_grad=True)
        self._param_inits["weight"] = _init_label(weight_init)
        if bias:
            bfn = _init.get(bias_init)
            # Bias initializers that need fans (2-D) get the (1, out) view of the vector.
            try:
                b = bfn((self.out_features,), dtype=dtype, rng=rng)
            except ValueError:
                b = bfn((1, self.out_features), dtype=dtype, rng=rng)
            self.bias = Tensor(np.ascontiguousarray(np.reshape(b, (self.out_features,)), dtype=dtype),
                               requires_grad=True)
            self._param_inits["bias"] = _init_label(bias_init)
        else:
            self.__dict__["bias"] = None

    def forward(self, x):
        d = x.data if isinstance(x, Tensor) else x
        shape = getattr(d, "shape", None)
        if shape is None:
            shape = np.shape(d)
        if len(shape) != 2 or shape[1] != self.in_features:
            raise ValueError(f"{self._layer_label()} expects input of shape (batch, {self.in_features}) "
                             f"(in_features={self.in_features}), but received shape {tuple(shape)}")
        return dense(x, self.weight, self.bias, self.activation, self.activation_param)

    def extra_repr(self):
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


# ---------------------------------------------------------------------- containers
class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Iterable, indexable (``seq[0]``, ``seq[-1]``, slices give a new Sequential) and
    ``len()``-able; ``append`` adds a module at the end. Children are named
    ``"0"``, ``"1"``, ... so parameters are ``"0.weight"``, ``"0.bias"``, ...
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        self.__dict__["_layers"] = ()
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._layers)), module)
        self.__dict__["_layers"] = self._layers + (module,)
        return self

    def forward(self, x):
        run = []  # consecutive hook-free Dense layers, run as one fused op
        for layer in self._layers:
            if type(layer) is Dense and not layer._forward_hooks:
                run.append(layer)
                continue
            if run:
                x = _dense_run(run, x)
                run = []
            # layer(x) without the extra frame when the layer has no hooks (tiny nets
            # are dominated by per-call overhead)
            x = layer(x) if layer._forward_hooks else layer.forward(x)
        return _dense_run(run, x) if run else x

    def __iter__(self):
        return iter(self._layers)

    def __len__(self):
        return len(self._layers)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            sub = Sequential()
            for layer in self._layers[idx]:
                path = layer._path
                sub.append(layer)
                if path:  # a view of this container: errors keep naming the layers as here
                    layer._set_path(path)
            return sub
        return self._layers[idx]


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _dense_run(layers, x):
    """Dense layers applied in order: one fused graph node (tensor.dense_chain) when
    the kernel takes the arrays as they are, else layer by layer. A forward hook on a
    layer keeps it out of the run, so hooks still see every layer's output."""
    if len(layers) > 1:
        try:
            return dense_chain(x, [(l.weight, l.bias, l.activation, l.activation_param) for l in layers])
        except (ValueError, TypeError):
            pass  # run layer by layer below, whose checks name the layer at fault
    for layer in layers:
        x = layer.forward(x)
    return x


_HE_LIKE = {"relu", "leaky_relu", "elu", "gelu", "softplus"}


def default_init_for(activation):
    """The weight initializer MLP picks for an activation, and why.

    He (Kaiming) for ReLU-like activations, keeping the forward variance when half the
    units are zeroed; Xavier (Glorot) for tanh/sigmoid/linear, balancing forward and
    backward variance for activations that are linear near 0; LeCun normal for SELU,
    the initialization its self-normalising fixed point assumes.
    """
    act = _canon_activation(activation)
    if act in _HE_LIKE:
        if act == "leaky_relu":
            return {"name": "he_uniform", "negative_slope": _DEFAULT_PARAM["leaky_relu"]}, "He"
        return "he_uniform", "He"
    if act == "selu":
        return "lecun_normal", "LeCun"
    return "xavier_uniform", "Xavier"


class MLP(Sequential):
    """A multi-layer perceptron: Dense layers of ``sizes[i] -> sizes[i+1]``.

    Every hidden layer applies ``activation`` (fused into its Dense op); the last layer
    is linear (logits). ``weight_init=None`` picks the initializer that matches the
    activation (``default_init_for``: He for ReLU-like, Xavier for tanh/sigmoid, LeCun
    for SELU), and the repr says which and why it was chosen.

    >>> MLP([2, 64, 64, 3], activation="relu", rng=0)     # doctest: +ELLIPSIS
    MLP(sizes=[2, 64, 64, 3], activation=relu, weight_init=he_uniform (He: default for relu), ...
    """

    def __init__(self, sizes, activation="relu", weight_init=None, bias_init="zeros", rng=None,
                 dtype=np.float32):
        sizes = [int(s) if isinstance(s, numbers.Integral) and not isinstance(s, bool) else s
                 for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got sizes={sizes}")
        act = _canon_activation(activation)
        if weight_init is None:
            spec, family = default_init_for(act)
            why = f"{family}: default for {act or 'identity'}"
        else:
            spec, why = weight_init, "given"
        rng = _as_generator(rng)
        if rng is None:
            rng = np.random.default_rng()
        layers = [Dense(sizes[i], sizes[i + 1], weight_init=spec, bias_init=bias_init,
                        activation=act if i < len(sizes) - 2 else None, rng=rng, dtype=dtype)
                  for i in range(len(sizes) - 1)]
        super().__init__(*layers)
        self.__dict__.update(sizes=list(sizes), activation=act,
                             weight_init_label=f"{_init_label(spec)} ({why})",
                             bias_init_label=_init_label(bias_init))

    def extra_repr(self):
        return (f"sizes={self.sizes}, activation={self.activation or 'identity'}, "
                f"weight_init={self.weight_init_label}, bias_init={self.bias_init_label}")

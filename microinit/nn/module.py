"""``Module``: the base class of every layer and model.

A ``Module`` owns parameters (``Tensor`` objects with ``requires_grad=True`` assigned
as attributes), buffers (arrays registered with ``register_buffer``: state that is
saved but not trained, such as BatchNorm's running statistics) and child modules
(``Module`` attributes), in assignment order. It gives them dotted names, a
``train()``/``eval()`` flag, forward hooks, and ``state_dict``/``load_state_dict`` for
saving and restoring parameters and buffers.

    >>> import numpy as np
    >>> from microinit.nn import Module, Dense
    >>> class TwoLayer(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = Dense(2, 4, activation="relu", rng=0)
    ...         self.out = Dense(4, 1, rng=0)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x))
    >>> model = TwoLayer()
    >>> [name for name, _ in model.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> model(np.zeros((3, 2), np.float32)).shape
    (3, 1)
    >>> model.eval().training, model.hidden.training
    (False, False)
"""
from __future__ import annotations

import os
from collections import OrderedDict
from types import TracebackType
from typing import Any, Callable, Iterator, Mapping, Union

import numpy as np
from numpy.typing import DTypeLike, NDArray

from microinit.tensor import Tensor, no_grad

#: a forward hook: ``fn(module, inputs, output)``; a value it returns replaces the output
ForwardHook = Callable[["Module", tuple[Any, ...], Any], Any]
#: what ``state_dict`` holds per name: a parameter's Tensor or a buffer's array
StateValue = Union[Tensor, NDArray[Any]]

__all__ = ["Module", "HookHandle"]


class HookHandle:
    """Returned by ``register_forward_hook``; ``remove()`` detaches the hook."""

    _next_id = 0

    def __init__(self, hooks: dict[int, ForwardHook]) -> None:
        self._hooks = hooks
        self.id = HookHandle._next_id
        HookHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters (``Tensor`` with
    ``requires_grad=True``) and sub-modules as attributes, and define ``forward``.
    Calling the module runs ``forward`` and then any forward hooks.
    """

    # Set through __dict__ in __init__ (declared here for type checkers only).
    _params: OrderedDict[str, Tensor]
    _children: OrderedDict[str, Module]
    _buffers: OrderedDict[str, NDArray[Any] | None]
    _forward_hooks: OrderedDict[int, ForwardHook]
    training: bool
    _path: str
    _param_inits: dict[str, str]

    def __init__(self) -> None:
        d = self.__dict__
        d["_params"] = OrderedDict()
        d["_children"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["training"] = True
        d["_path"] = ""
        d["_param_inits"] = {}

    # Attribute registration: parameters and children are kept in ordered dicts for
    # traversal AND in __dict__, so reading ``layer.weight`` costs a plain lookup.
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_params" not in d:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning {name!r}")
        d["_params"].pop(name, None)
        d["_children"].pop(name, None)
        if name in d["_buffers"]:
            if value is None or isinstance(value, np.ndarray):
                d["_buffers"][name] = value  # assigning a buffer's name replaces the buffer
                d[name] = value
                return
            del d["_buffers"][name]
        if isinstance(value, Tensor) and value.requires_grad:
            d["_params"][name] = value
        elif isinstance(value, Module):
            d["_children"][name] = value
            value._set_path(self._join(name))
        d[name] = value

    def __delattr__(self, name: str) -> None:
        self._params.pop(name, None)
        self._children.pop(name, None)
        self._buffers.pop(name, None)
        del self.__dict__[name]

    def _join(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _set_path(self, path: str) -> None:
        self.__dict__["_path"] = path
        for name, child in self._children.items():
            child._set_path(f"{path}.{name}")

    def layer_label(self) -> str:
        """How errors name this module: its class and its path in the model (``Dense layer '0'``)."""
        return f"{type(self).__name__} layer '{self._path}'" if self._path else f"{type(self).__name__} layer"

    # ------------------------------------------------------------------ running
    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any) -> Any:
        out = self.forward(*args)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def has_forward_hooks(self) -> bool:
        """Whether a forward hook is registered on this module (not its children)."""
        return bool(self._forward_hooks)

    def register_forward_hook(self, fn: ForwardHook) -> HookHandle:
        """Call ``fn(module, inputs, output)`` after every forward of this module.

        ``inputs`` is the tuple of positional arguments; if ``fn`` returns a value it
        replaces the output. Returns a handle whose ``remove()`` detaches the hook
        (it also works as a context manager). A ``Dense`` layer inside a fused run of a
        ``Sequential`` is observed, not replaced: see ``Sequential``.

        >>> from microinit.nn import Dense
        >>> layer, shapes = Dense(2, 3, rng=0), []
        >>> with layer.register_forward_hook(lambda m, inp, out: shapes.append(out.shape)):
        ...     _ = layer(np.zeros((4, 2), np.float32))
        >>> shapes
        [(4, 3)]
        """
        if not callable(fn):
            raise TypeError(f"register_forward_hook needs a callable, got {type(fn).__name__}")
        handle = HookHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = fn
        return handle

    # ------------------------------------------------------------------ traversal
    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in assignment order."""
        return iter(self._children.values())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return iter(self._children.items())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for this module ('' ) and every descendant, depth first."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        out: list[tuple[str, Module]] = []
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            out.append((name, m))
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m._children.items()]
            stack.extend(reversed(kids))
        return iter(out)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, Tensor)`` for every parameter, each shared tensor once."""
        seen: set[int] = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._params.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> list[Tensor]:
        """The parameters as a list (pass it to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def register_buffer(self, name: str, array: NDArray[Any] | None) -> None:
        """Keep ``array`` (a numpy array, or None) as the buffer ``name``: an attribute
        that ``state_dict`` saves and ``load_state_dict`` restores in place but no
        optimizer updates (as ``torch.nn.Module.register_buffer``).

        >>> m = Module()
        >>> m.register_buffer("count", np.zeros((), np.int64))
        >>> list(m.state_dict())
        ['count']
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: the name must be a non-empty str without '.', got {name!r}")
        if name in self._params or name in self._children:
            raise KeyError(f"register_buffer: attribute {name!r} already exists as a parameter or module")
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"register_buffer: buffer {name!r} must be a numpy array or None, "
                            f"got {type(array).__name__}")
        self._buffers[name] = array
        self.__dict__[name] = array

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, NDArray[Any]]]:
        """``(dotted name, array)`` for every buffer that is not None."""
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> list[NDArray[Any]]:
        return [b for _, b in self.named_buffers()]

    def _named_state(self) -> Iterator[tuple[str, StateValue]]:
        """Parameters (Tensors, each shared one once) and buffers (arrays), module by
        module in depth-first order: ``state_dict``'s keys and order, PyTorch's too."""
        seen: set[int] = set()
        for mname, m in self.named_modules():
            for pname, p in m._params.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None. Without it gradients accumulate:
        two ``backward()`` calls add their gradients exactly (as in PyTorch)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set the ``training`` flag of this module and every descendant; returns self.

        Layers whose forward differs between training and evaluation read it.
        """
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: evaluation mode for this module and every descendant."""
        return self.train(False)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, NDArray[Any]]:
        """``{dotted name: copy of the array}`` of every parameter and buffer (each
        module's parameters, then its buffers, depth first)."""
        return OrderedDict((name, (v.data if isinstance(v, Tensor) else v).copy())
                           for name, v in self._named_state())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True,
                        source: str = "state_dict") -> Module:
        """Copy arrays from ``state`` into the parameters and buffers, in place.

        Everything is checked before anything is written, so on error the model is
        unchanged. ``ValueError`` lists every missing key, every unexpected key (both
        only when ``strict``) and every ``size mismatch for 0.weight: file (3, 4) vs
        model (3, 5)`` (``source`` names where the state came from, e.g. the file). Values of another
        float dtype are cast to the parameter's dtype.

        >>> from microinit.nn import Dense
        >>> layer = Dense(3, 5, rng=0)
        >>> layer.load_state_dict({"weight": np.zeros((3, 4)), "bias": np.zeros(5)})
        Traceback (most recent call last):
        ...
        ValueError: Error(s) loading state_dict into Dense:
          size mismatch for weight: state (3, 4) vs model (3, 5)
        """
        if not hasattr(state, "items"):
            raise TypeError(f"load_state_dict expects a mapping of name -> array, got {type(state).__name__}")
        own = OrderedDict(self._named_state())
        problems: list[str] = []
        arrays: dict[str, NDArray[Any]] = {}
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
            dst = p.data if isinstance(p, Tensor) else p
            kind = "parameter" if isinstance(p, Tensor) else "buffer"
            if a.dtype.kind not in "fiu" or (dst.dtype.kind in "iu" and a.dtype.kind == "f"):
                problems.append(f"{k}: dtype {a.dtype} cannot be loaded into a {dst.dtype} {kind}")
            elif a.shape != dst.shape:
                problems.append(f"size mismatch for {k}: {where} {tuple(a.shape)} vs model {tuple(dst.shape)}")
            else:
                arrays[k] = a
        if problems:
            raise ValueError(f"Error(s) loading {source} into {type(self).__name__}:\n  " + "\n  ".join(problems))
        for k, a in arrays.items():
            dst_value = own[k]
            if isinstance(dst_value, Tensor):
                dst_value.copy_(a)  # in place, cast to the parameter's dtype, version bumped
            else:
                dst_value[...] = a  # a buffer: in place, cast to its dtype
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters and buffers to ``path`` (``microinit.save``: atomic .npz, checksum)."""
        from microinit.serialization import save

        save(self, path)

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Read parameters and buffers written by ``save``; the model is unchanged if the file is bad."""
        from microinit.serialization import load

        load(path, self, strict=strict)
        return self

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._children:
            return head + ")"
        lines = [head]
        for name, child in self._children.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"

    def summary(self, input_shape: tuple[int, ...] | None = None, dtype: DTypeLike = np.float32) -> str:
        """A table of layers: output shape, parameter count and each parameter's initializer.

        Output shapes come from one forward pass of a zero batch of ``input_shape``
        (default: ``(1, in_features)`` of the first module that has ``in_features``,
        e.g. a Dense layer). Returns the text.

        >>> from microinit.nn import MLP
        >>> print(MLP([2, 3, 1], rng=0).summary())    # doctest: +NORMALIZE_WHITESPACE
        layer    type   output shape  params  initializers
        -------------------------------------------------------------------
        (model)  MLP    (batch, 1)
        0        Dense  (batch, 3)    9       weight=he_uniform, bias=zeros
        1        Dense  (batch, 1)    4       weight=he_uniform, bias=zeros
        -------------------------------------------------------------------
        total parameters: 13
        """
        if input_shape is None:
            first = next((m for m in self.modules() if hasattr(m, "in_features")), None)
            input_shape = (1, first.in_features) if first is not None else None
        shapes: dict[int, tuple[int, ...]] = {}
        if input_shape is not None:
            def record_shape(mod: Module, inp: tuple[Any, ...], out: Any) -> None:
                value: Any = getattr(out, "data", out)  # a Tensor's array, or what forward returned
                shapes[id(mod)] = tuple(np.shape(value))

            handles = [m.register_forward_hook(record_shape) for m in self.modules()]
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

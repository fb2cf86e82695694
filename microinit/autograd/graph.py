"""The recorded graph: one ``Node`` per op, and the creation of op outputs.

An op that wants gradients records its output with :func:`record`: the output Tensor
gets a ``Node`` holding the op's name, its parents (the input Tensors, ``None`` for
inputs that are plain arrays or numbers), the op's ``backward`` closure and the Tensors
it saved for backward. ``backward(g)`` returns one gradient per parent (``None`` where
there is none). The engine (``autograd/backward.py``) walks these nodes.

Saved tensors are protected by version counters (PyTorch's rule, docs/reliability.md
rows 28 and 47): every in-place write to a Tensor bumps its ``_version``; the Node
remembers the versions of what it saved, and backward refuses to run when they changed.

The ops know the Tensor class only through this module: ``tensor.py`` registers it with
:func:`register_tensor_class`, and :func:`wrap`/:func:`record` build outputs of it, so
``ops/`` never imports ``tensor.py`` (dependencies point down).

    >>> import microinit as mi
    >>> x = mi.tensor([1.0, 2.0], requires_grad=True)
    >>> y = x * 3
    >>> y.grad_fn, y._ctx.parents[0] is x
    ('MulBackward', True)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from numpy import asarray, ndarray

from microinit.autograd.mode import grad_mode

if TYPE_CHECKING:  # for annotations only: tensor.py imports this module
    from microinit.tensor import Tensor

#: an op's backward: the output's gradient in, one gradient (or None) per parent out
BackwardFn = Callable[[Any], Sequence[Optional[Any]]]

__all__ = ["Node", "register_tensor_class", "tensor_class", "wrap", "record", "needs_grad", "inputs_of"]


class Node:
    """One recorded op: its name, parents, ``backward`` closure and saved tensors.

    ``saves_out``: backward also reads the op's own output, so an in-place write to it
    is refused too. ``retain``: store this (non-leaf) output's gradient in ``.grad``.
    """

    __slots__ = ("backward", "op", "parents", "retain", "saved", "saves_out", "versions")

    op: str
    parents: tuple[Tensor | None, ...]
    backward: BackwardFn | None
    saved: tuple[Tensor, ...]
    versions: list[int] | tuple[()]
    saves_out: bool
    retain: bool

    def __init__(self, op: str, parents: tuple[Tensor | None, ...], backward: BackwardFn | None,
                 saved: tuple[Tensor, ...], saves_out: bool) -> None:
        self.op = op
        self.parents = parents
        self.backward = backward
        self.saved = saved
        self.versions = [t._version for t in saved] if saved else ()
        self.saves_out = saves_out
        self.retain = False


class _Registry:
    cls: type[Tensor] | None = None


_registry = _Registry()


def register_tensor_class(cls: type[Tensor]) -> type[Tensor]:
    """Called once by ``tensor.py``: the class that :func:`wrap`/:func:`record` build."""
    _registry.cls = cls
    return cls


def tensor_class() -> type[Tensor]:
    """The registered Tensor class (for ``isinstance`` checks in ``ops/``)."""
    return _registry.cls  # type: ignore[return-value]  # set when tensor.py is imported


def wrap(data: Any) -> Tensor:
    """A new leaf Tensor around ``data`` without a copy or a check.

    Only for op outputs: ``data`` is an ndarray the op made (a numpy scalar from a
    0-d ufunc result is turned into a 0-d array).
    """
    cls: type[Tensor] = _registry.cls  # type: ignore[assignment]  # registered at import of tensor.py
    t = cls.__new__(cls)
    t.data = data if type(data) is ndarray else asarray(data)
    t.grad = None
    t._version = 0
    t.requires_grad = False
    t._ctx = None
    return t


def record(data: Any, op: str, parents: tuple[Tensor | None, ...], backward: BackwardFn,
           saved: tuple[Tensor, ...] = (), saves_out: bool = False) -> Tensor:
    """The output Tensor of an op that records a graph node (see the module docstring)."""
    t = wrap(data)
    t.requires_grad = True
    t._ctx = Node(op, parents, backward, saved, saves_out)
    return t


def needs_grad(*tensors: Tensor | None) -> bool:
    """The one grad gate: grad mode is on and some input Tensor requires grad."""
    if not grad_mode.enabled:
        return False
    for t in tensors:
        if t is not None and t.requires_grad:
            return True
    return False



def inputs_of(t: Tensor) -> tuple[Tensor, ...]:
    """The Tensors an op result was computed from (its node's parents that are Tensors;
    ``()`` for a leaf or a freed graph). For tools that walk the graph, such as ``draw``.

    >>> import microinit as mi
    >>> x = mi.tensor([1.0], requires_grad=True)
    >>> inputs_of(x * 2) == (x,), inputs_of(x)
    (True, ())
    """
    ctx = t._ctx
    return () if ctx is None else tuple(p for p in ctx.parents if p is not None)

"""Reverse-mode backward over the recorded graph.

:func:`run_backward` orders the non-leaf tensors reachable from the root
topologically (iterative depth-first search: a chain of 100,000 ops works, and a
cycle made by rewiring ``parents`` raises instead of hanging), then walks that order
from the root down, calling each node's ``backward`` once with the sum of the
gradients its output received (the chain rule: dL/dx = sum over uses of
dL/dy * dy/dx), and accumulates into the leaves' ``.grad``.

    >>> import microinit as mi
    >>> x = mi.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()            # y = sum x_i^2
    >>> y.backward()
    >>> x.grad                       # dy/dx = 2x
    array([2., 4.], dtype=float32)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, NoReturn

import numpy as np
from numpy import ndarray

if TYPE_CHECKING:  # for annotations only: tensor.py imports this module
    from microinit.autograd.graph import Node
    from microinit.tensor import Tensor

__all__ = ["run_backward", "topo_order"]


def run_backward(root: Tensor, g: Any, retain_graph: bool = False) -> None:
    """Backpropagate the gradient ``g`` (already checked: root's shape and dtype)."""
    if root._ctx is None:
        accumulate_leaf(root, g, True)
        return
    order = topo_order(root)
    grads: dict[int, Any] = {id(root): g}
    pop = grads.pop
    for t in reversed(order):
        g = pop(id(t), None)
        if g is None:
            continue
        node: Node = t._ctx  # type: ignore[assignment]  # topo_order returns non-leaves only
        fn = node.backward
        if fn is None:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (op {node.op}, "
                f"output shape {t.data.shape}); its saved values were freed by the first "
                "backward. Pass retain_graph=True to the first call to keep them.")
        if node.retain:
            t.grad = np.array(g) if t.grad is None else np.asarray(t.grad + g)
        if node.saves_out and t._version:
            _version_error(node, t, "its output", 0, t._version)
        saved = node.saved
        if saved and [s._version for s in saved] != node.versions:
            for s, v in zip(saved, node.versions):
                if s._version != v:
                    _version_error(node, s, "an input", v, s._version)
        pgrads = fn(g)
        for p, gp in zip(node.parents, pgrads):
            if gp is None or p is None or not p.requires_grad:
                continue
            if p._ctx is None:
                # accumulate_leaf's common case inline (a first gradient that is a fresh
                # array of the leaf's own shape and dtype): a tiny network's step makes
                # one such call per parameter, and the call is a fifth of its cost
                pd = p.data
                if (p.grad is None and gp is not g and type(gp) is ndarray and gp.base is None
                        and gp.dtype is pd.dtype and gp.shape == pd.shape and gp.flags.writeable):
                    p.grad = gp
                else:
                    accumulate_leaf(p, gp, gp is g)
                continue
            pd = p.data
            if gp.dtype != pd.dtype:
                gp = gp.astype(pd.dtype)
            key = id(p)
            prev = grads.get(key)
            grads[key] = gp if prev is None else prev + gp
        if not retain_graph:  # drop what backward needed (a second backward then refuses)
            node.backward = None
            node.parents = ()
            node.saved = ()


def accumulate_leaf(p: Tensor, gp: Any, aliased: bool) -> None:
    """Add ``gp`` into leaf ``p``'s ``.grad`` (out of place: a grad array someone holds
    keeps its values). ``aliased``: ``gp`` may be shared, so it is never kept as is."""
    # A leaf's .grad must be an array it owns (optimizers may write into it) with
    # its own shape and dtype (in native byte order, whatever order ``data`` was
    # assigned in); the engine itself never writes into grads in place.
    # (run_backward handles the common case itself: a first gradient that is a fresh
    # array of the leaf's shape and dtype becomes .grad as it is.)
    pd = p.data
    dt = pd.dtype
    if not dt.isnative:
        dt = dt.newbyteorder("=")
    if type(gp) is not np.ndarray:  # a numpy scalar from 0-d arithmetic
        gp = np.array(gp, dtype=dt)
    elif gp.dtype != dt:
        gp = gp.astype(dt)
    elif aliased or gp.base is not None or not gp.flags.writeable:
        gp = gp.copy()
    if gp.shape != pd.shape:  # a 0-d/broadcast result from a reduction
        gp = np.broadcast_to(gp, pd.shape).copy()
    if p.grad is None:
        p.grad = gp
    else:
        total = p.grad + gp
        p.grad = total if type(total) is np.ndarray else np.asarray(total)


def _version_error(node: Node, t: Tensor, what: str, expected: int, found: int) -> NoReturn:
    raise RuntimeError(
        f"backward: {what} of op {node.op} (tensor of shape {t.data.shape}, {t.data.dtype}) "
        f"was modified in place after it was saved for backward: version {found}, expected "
        f"{expected}. Do in-place updates after backward, or clone the tensor first.")


def topo_order(root: Tensor) -> list[Tensor]:
    """Non-leaf tensors reachable from ``root``, parents before children.

    Iterative depth-first search with grey/black marks: a grey node met again means
    the graph has a cycle (only possible if someone rewired a node's ``parents``).
    """
    GREY, BLACK = 1, 2
    state: dict[int, int] = {id(root): GREY}
    get = state.get
    order: list[Tensor] = []
    assert root._ctx is not None  # run_backward handles a leaf root itself
    stack: list[tuple[Tensor, Iterator[Tensor | None]]] = [(root, iter(root._ctx.parents))]
    push, pop = stack.append, stack.pop
    while stack:
        t, it = stack[-1]
        for p in it:
            if p is None:
                continue
            ctx = p._ctx
            if ctx is None:
                continue
            s = get(id(p))
            if s is None:
                state[id(p)] = GREY
                push((p, iter(ctx.parents)))
                break
            if s == GREY:
                raise RuntimeError(f"graph has a cycle (through op {ctx.op}, shape {p.data.shape})")
        else:
            pop()
            state[id(t)] = BLACK
            order.append(t)
    return order

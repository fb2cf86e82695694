"""The graph behind a result, in one shape whatever made it: what ``draw`` and ``trace`` read.

``graph_of(root)`` accepts the compiled ``microinit.Value``, the readable
``microinit.scalar.engine.Value`` and a ``microinit.Tensor``, and returns a ``Graph``:
its ``nodes`` in topological order (every node after its inputs, ``root`` last), each a
``GraphNode`` with a label, the op, the data and the gradient as they are now, and the
positions of its inputs. Scalars keep their numbers; a tensor node shows its shape and
the norms of its data and gradient instead.

    >>> from microinit import Value
    >>> x = Value(2.0, label="x"); y = x * 3.0 + x; y.label = "y"
    >>> g = graph_of(y)
    >>> [(n.label, n.op, n.inputs) for n in g.nodes]
    [('x', 'leaf', ()), ('#1', 'a * 3', (0,)), ('y', 'a + b', (1, 0))]

``ScalarTape`` is the tape of a scalar graph from either engine (its ops, inputs and
values, the gradients backpropagation gives, the local derivatives), computed without
touching any ``.grad``: ``trace`` is built on it.

Graphs larger than ``max_nodes`` (500 by default) are refused with a ValueError: a
drawing that large is unreadable, and a page with it slow.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from microinit.autograd.graph import inputs_of
from microinit.scalar import Value
from microinit.scalar import engine
from microinit.scalar.tape import FORMULA, OP_NAMES, local_derivatives, record, replay
from microinit.tensor import Tensor

MAX_NODES = 500
#: a node of either scalar engine
AnyValue = Union[Value, engine.Value]


def fmt(x: float | str, digits: int = 6) -> str:
    """A number as short text: ``digits`` significant digits; inf and nan as Python writes them.

    >>> fmt(2.0), fmt(1 / 3), fmt(1 / 3, 3), fmt(float("-inf"))
    ('2', '0.333333', '0.333', '-inf')
    """
    if isinstance(x, str):
        return x
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.{digits}g}"


def op_text(op_name: str, constant: float | None) -> str:
    """The op as a formula of its inputs ``a``, ``b`` with its constant filled in.

    >>> op_text("addc", -1.0), op_text("mul", None), op_text("leaf", None)
    ('a - 1', 'a * b', 'leaf')
    """
    formula = FORMULA[op_name]
    if constant is not None and "c" in formula:
        formula = formula.replace("c", fmt(constant)).replace("+ -", "- ")
    return formula or "leaf"


def node_labels(nodes: Sequence[AnyValue]) -> list[str]:
    """A printable name per node: its label, or ``#i`` (its position in topological order)."""
    return [n.label if n.label else f"#{i}" for i, n in enumerate(nodes)]


@dataclass
class GraphNode:
    index: int            # position in Graph.nodes
    label: str            # the node's label, or #index
    op: str               # scalars: the formula ("a * b", "tanh(a)", "leaf"); tensors: grad_fn
    data: float | str     # scalars: the float; tensors: text (shape, dtype, norm)
    grad: float | str     # scalars: the float; tensors: text (norm), "none" before backward
    inputs: tuple[int, ...] = ()    # positions of the inputs, in the op's order (a, b, ...)


@dataclass
class Graph:
    nodes: list[GraphNode] = field(default_factory=list)   # topological order, root last
    kind: str = "value"                         # "value" (a scalar engine) or "tensor"

    def users(self) -> list[list[int]]:
        """For each node, the positions of the nodes that take it as an input."""
        out: list[list[int]] = [[] for _ in self.nodes]
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.index)
        return out


# --- scalar graphs -----------------------------------------------------------------------------

class ScalarTape:
    """The tape of a scalar graph from either engine, in topological order (root last).

    ``nodes`` the Values, ``ops`` the op names, ``inputs`` the ``(a, b)`` positions
    (-1 where there is none), ``values`` the data. ``gradients()`` is d root / d node
    for every node and ``local()`` the ``(d node/d a, d node/d b)`` pairs, both computed
    by the engine's own backward code into fresh arrays: no ``.grad`` changes.

    >>> from microinit.scalar.engine import Value as ReadableValue
    >>> x = ReadableValue(3.0); t = ScalarTape(x * x)
    >>> t.ops, t.gradients()
    (['leaf', 'mul'], [6.0, 1.0])
    """

    def __init__(self, root: AnyValue, max_nodes: int = MAX_NODES, what: str = "trace") -> None:
        self.tape: Any  # the compiled engine's Tape or the readable engine's PyTape
        if isinstance(root, Value):
            self.tape = root.tape()        # the compiled engine's snapshot
            self.compiled = True
        elif isinstance(root, engine.Value):
            self.tape = record(root)       # the readable engine's PyTape
            self.compiled = False
        else:
            raise TypeError(f"{what}: expected a microinit Value (microinit.Value or "
                            f"microinit.scalar.engine.Value), got {type(root).__name__}")
        self.nodes: list[AnyValue] = list(self.tape.nodes)
        if len(self.nodes) > max_nodes:
            raise ValueError(f"{what}: the graph has {len(self.nodes)} nodes, more than "
                             f"max_nodes={max_nodes}; a picture that large is unreadable "
                             "(pass a larger max_nodes= to draw it anyway)")
        self.ops = [OP_NAMES[int(c)] for c in _as_list(self.tape.ops)]
        self.inputs = [(int(a), int(b)) for a, b in _as_list(self.tape.inputs)]
        self.values = [float(v) for v in _as_list(self.tape.values)]
        self.labels = node_labels(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def gradients(self) -> list[float]:
        if self.compiled:
            grads: list[float] = self.tape.backward().tolist()    # into the tape's own buffer
            return grads
        return replay(self.tape)

    def local(self) -> list[tuple[float, float]]:
        if self.compiled:
            return [(row[0], row[1]) for row in self.tape.local_derivatives().tolist()]
        out: list[tuple[float, float]] = []
        for i, op in enumerate(self.ops):
            if op == "leaf":
                out.append((0.0, 0.0))
                continue
            a, b = self.inputs[i]
            c = self.nodes[i].constant
            out.append(local_derivatives(op, self.values[a], self.values[b] if b >= 0 else 0.0,
                                         self.values[i], c if c is not None else 0.0))
        return out

    def op_texts(self) -> list[str]:
        return [op_text(op, node.constant) for op, node in zip(self.ops, self.nodes)]

    def graph(self, grads: Sequence[float] | None = None) -> Graph:
        """The ``Graph``: each node's grad is ``grads[i]`` if given, else its ``.grad``."""
        texts = self.op_texts()
        nodes: list[GraphNode] = []
        for i, node in enumerate(self.nodes):
            ins = tuple(k for k in self.inputs[i] if k >= 0)
            grad = float(grads[i]) if grads is not None else float(node.grad)
            nodes.append(GraphNode(i, self.labels[i], texts[i], self.values[i], grad, ins))
        return Graph(nodes, "value")


def _as_list(column: Any) -> list[Any]:
    return list(column.tolist() if hasattr(column, "tolist") else column)


# --- tensor graphs -----------------------------------------------------------------------------

def tensor_order(root: Tensor, max_nodes: int = MAX_NODES, what: str = "draw") -> list[Tensor]:
    """The Tensors of ``root``'s graph, leaves included, each after its parents."""
    GREY, BLACK = 1, 2
    state = {id(root): GREY}
    order: list[Tensor] = []
    stack = [(root, iter(inputs_of(root)))]
    while stack:
        t, it = stack[-1]
        for p in it:
            s = state.get(id(p))
            if s is None:
                if len(state) >= max_nodes:
                    raise ValueError(f"{what}: the Tensor graph has more than max_nodes={max_nodes} "
                                     "nodes; a picture that large is unreadable (draw a smaller "
                                     "graph, or pass a larger max_nodes=)")
                state[id(p)] = GREY
                stack.append((p, iter(inputs_of(p))))
                break
            if s == GREY:
                raise RuntimeError(f"{what}: the Tensor graph has a cycle (through op {p.grad_fn})")
        else:
            stack.pop()
            state[id(t)] = BLACK
            order.append(t)
    return order


def _norm_text(array: ArrayLike) -> str:
    a = np.asarray(array, dtype=np.float64)
    return fmt(float(np.sqrt(np.sum(a * a))), 4)


def tensor_graph(root: Tensor, max_nodes: int = MAX_NODES, what: str = "draw") -> Graph:
    """The ``Graph`` of a Tensor: shapes and norms (``|x|``, ``|g|``: Frobenius) as text."""
    order = tensor_order(root, max_nodes, what)
    slot = {id(t): i for i, t in enumerate(order)}
    nodes: list[GraphNode] = []
    for i, t in enumerate(order):
        op = t.grad_fn or ("leaf" if t.requires_grad else "constant")
        data = f"{tuple(t.shape)} {t.dtype} |x| {_norm_text(t.data)}"
        grad = "none" if t.grad is None else f"|g| {_norm_text(t.grad)}"
        ins = tuple(slot[id(p)] for p in inputs_of(t))
        nodes.append(GraphNode(i, f"#{i}", op, data, grad, ins))
    return Graph(nodes, "tensor")


def graph_of(root: AnyValue | Tensor, max_nodes: int = MAX_NODES, what: str = "draw") -> Graph:
    """The ``Graph`` of a Value (either engine) or a Tensor, with grads as they are now."""
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, numbers.Integral) or max_nodes < 1:
        raise ValueError(f"{what}: max_nodes must be a positive int, got {max_nodes!r}")
    if isinstance(root, Tensor):
        return tensor_graph(root, int(max_nodes), what)
    if isinstance(root, (Value, engine.Value)):
        return ScalarTape(root, int(max_nodes), what).graph()
    raise TypeError(f"{what}: expected a microinit Value (microinit.Value or "
                    f"microinit.scalar.engine.Value) or a microinit.Tensor, got {type(root).__name__}")


__all__ = ["MAX_NODES", "Graph", "GraphNode", "ScalarTape", "graph_of", "tensor_graph", "tensor_order",
           "fmt", "op_text", "node_labels"]

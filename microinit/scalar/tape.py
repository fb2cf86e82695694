"""The tape of a scalar graph, and backpropagation replayed over it in plain Python.

A *tape* (a Wengert list) lists the nodes of a graph in topological order: every
node comes after its inputs and the output is last. Entry ``i`` holds

    ops[i]      what made node i: an op code (``OPS``), 0 for a leaf
    inputs[i]   the slots of its inputs, ``(a, b)``, -1 where there is none
    params[i]   the constant the op saved (c in x + c, p in x ** p, the slope)
    values[i]   the node's data

Backpropagation is then a single loop over the tape in reverse (``replay``)::

    grads = [0] * n;  grads[n - 1] = 1          # d out / d out
    for i from n - 1 down to 0:                  # every node after all its users
        for each input slot k of node i, with local derivative d = d node_i / d node_k:
            grads[k] += d * grads[i]             # the chain rule, summed over paths

Because every node comes after all of the nodes that use it (reversed), ``grads[i]``
is complete when node ``i`` is reached. The compiled engine
(``microinit.scalar._wengert``) runs the same loop in C; this module is its readable
reference and the tests check that the two agree. The local derivatives are
``microinit.scalar.engine.DERIVATIVES``.

>>> from microinit.scalar.engine import Value
>>> x = Value(3.0); y = x * x + x
>>> t = record(y); replay(t)[0]     # d y / d x = 2 x + 1
7.0
"""
from __future__ import annotations

from typing import Any

from microinit.scalar.engine import DERIVATIVES, pow_grad, topological_order
from microinit.scalar.ieee import INF, NAN, ieee_div, ieee_exp, ieee_log, ieee_pow, ieee_sqrt, sigmoid

# The op codes, shared with the compiled engine (microinit/scalar/_ops.pxd; a test
# checks they agree).
OPS = {
    "leaf": 0, "add": 1, "mul": 2, "sub": 3, "div": 4, "neg": 5, "addc": 6, "mulc": 7,
    "rsubc": 8, "rdivc": 9, "pow": 10, "relu": 11, "tanh": 12, "sigmoid": 13, "exp": 14,
    "log": 15, "sqrt": 16, "abs": 17, "leaky_relu": 18,
}
OP_NAMES = {code: name for name, code in OPS.items()}
BINARY = frozenset({"add", "mul", "sub", "div"})
# How each op reads in a formula ("a", "b" the inputs, "c" the constant).
FORMULA = {
    "leaf": "", "add": "a + b", "mul": "a * b", "sub": "a - b", "div": "a / b",
    "neg": "-a", "addc": "a + c", "mulc": "a * c", "rsubc": "c - a", "rdivc": "c / a",
    "pow": "a ** c", "relu": "relu(a)", "tanh": "tanh(a)", "sigmoid": "sigmoid(a)",
    "exp": "exp(a)", "log": "log(a)", "sqrt": "sqrt(a)", "abs": "abs(a)",
    "leaky_relu": "leaky_relu(a, c)",
}
# the IEEE helpers are part of this module's API (microinit.trace uses them)
__all__ = ["OPS", "OP_NAMES", "BINARY", "FORMULA", "PyTape", "record", "replay",
           "local_derivatives", "pow_grad", "ieee_div", "ieee_pow", "ieee_exp", "ieee_log",
           "ieee_sqrt", "sigmoid", "INF", "NAN"]


def local_derivatives(op: str, a: float, b: float, y: float, c: float) -> tuple[float, float]:
    """``(d y/d a, d y/d b)`` for ``y = op(a, b; c)``; 0.0 for an input that is absent.
    The formulas are ``microinit.scalar.engine.DERIVATIVES`` (see its conventions).

    >>> local_derivatives("mul", 2.0, 5.0, 10.0, 0.0)
    (5.0, 2.0)
    """
    if op not in DERIVATIVES:
        raise ValueError(f"local_derivatives: unknown op {op!r}")
    pair: tuple[float, float] = DERIVATIVES[op](a, b, y, c)
    return pair


# --- the tape -------------------------------------------------------------------------

class PyTape:
    """A tape held in Python lists (same fields as the compiled ``Tape``)."""

    ops: list[int]
    inputs: list[tuple[int, int]]
    params: list[float]
    values: list[float]
    nodes: list[Any]  # the engine's Values

    def __init__(self) -> None:
        self.ops, self.inputs, self.params, self.values, self.nodes = [], [], [], [], []

    def __len__(self) -> int:
        return len(self.ops)


def record(root: Any) -> PyTape:
    """The tape of the graph that ends at ``root`` (an ``engine.Value``), in the
    order of ``engine.topological_order`` (which raises on a cycle).

    >>> from microinit.scalar.engine import Value
    >>> t = record(Value(2.0) * 3.0); t.ops, t.inputs
    ([0, 7], [(-1, -1), (0, -1)])
    """
    tape = PyTape()
    slot: dict[int, int] = {}
    for node in topological_order(root):
        slot[id(node)] = len(tape.ops)
        ins = [slot[id(kid)] for kid in node._inputs] + [-1, -1]
        tape.ops.append(OPS[node.op])
        tape.inputs.append((ins[0], ins[1]))
        tape.params.append(node.constant if node.constant is not None else 0.0)
        tape.values.append(node.data)
        tape.nodes.append(node)
    return tape


def replay(tape: Any, seed: float = 1.0) -> list[float]:
    """Backpropagation over ``tape`` in plain Python: the list of d out / d node_i.

    ``tape`` is a ``PyTape`` or the compiled ``Tape`` (anything with ``ops``,
    ``inputs``, ``params``, ``values``). The output is the last entry.
    """
    ops = [OP_NAMES[code] for code in _as_list(tape.ops)]
    inputs = _as_list(tape.inputs)
    params = _as_list(tape.params)
    values = _as_list(tape.values)
    n = len(ops)
    grads = [0.0] * n
    if n:
        grads[-1] = seed
    for i in range(n - 1, -1, -1):
        if ops[i] == "leaf":
            continue
        a, b = inputs[i]
        da, db = local_derivatives(ops[i], values[a], values[b] if b >= 0 else 0.0,
                                   values[i], params[i])
        grads[a] += da * grads[i]
        if b >= 0:
            grads[b] += db * grads[i]
    return grads


def _as_list(column: Any) -> list[Any]:
    # numpy arrays (the compiled Tape) become lists of Python numbers
    as_list: list[Any] = column.tolist() if hasattr(column, "tolist") else column
    return as_list

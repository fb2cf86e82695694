"""A scalar autograd engine in plain Python: the one to read.

``Value`` wraps one number and remembers how it was made: which op, from which
input Values, with which constant. ``backward()`` applies the chain rule from the
output back to every node, using one table of local derivatives (``DERIVATIVES``).
The ``Value`` that ``microinit`` exports (``microinit.scalar._value``) does
exactly the same in compiled code; the tests check the two agree number for number.

>>> from microinit.scalar.engine import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> y = (a * b + a).tanh()
>>> y.backward()
>>> round(a.grad, 6), round(b.grad, 6)     # dy/da = (1 - y**2)(b + 1), dy/db = (1 - y**2) a
(-0.002682, 0.002682)

The differences from micrograd's ``engine.py`` are deliberate:

* The graph is put in topological order without recursion (``topological_order``),
  so a chain of 100,000 nodes is fine, and a cycle (possible only by rewiring
  ``_prev``) raises ``RuntimeError`` instead of looping.
* Gradients are summed in a fresh list, then *added* to ``.grad``: a second
  ``backward()`` adds exactly the same amounts again (micrograd would also re-add
  the intermediate nodes' old gradients).
* Numbers follow IEEE rules, as in C: ``1 / Value(0.0)`` is ``inf``,
  ``Value(0.0).log()`` is ``-inf``, ``Value(-1.0).sqrt()`` is ``nan``.
* ``a - b`` and ``a / b`` are one node each (micrograd makes two), and a number
  operand is a constant saved in the node (``a + 1``, ``2 * a``), not a leaf. The
  numbers are micrograd's: ``a / b`` is computed as ``a * b**-1``, as micrograd does.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Iterable

from microinit.scalar.ieee import ieee_div, ieee_exp, ieee_log, ieee_pow, ieee_sqrt, sigmoid


def pow_grad(x: float, p: float) -> float:
    """d/dx x**p = p * x**(p - 1), and 0 when p == 0 (never 0 * inf at x = 0).

    >>> pow_grad(3.0, 2.0), pow_grad(0.0, 0.0)
    (6.0, 0.0)
    """
    return 0.0 if p == 0 else p * ieee_pow(x, p - 1)


# The local derivatives: for y = op(a, b; c), DERIVATIVES[op](a, b, y, c) is
# (dy/da, dy/db), 0.0 for an input the op does not have. The one table backward
# uses. Where the derivative does not exist or is infinite, IEEE decides, as in
# PyTorch: relu'(0) = 0, leaky_relu'(0) = slope, abs'(0) = 0, log'(0) = 1/0 = inf,
# sqrt'(0) = 0.5/0 = inf, d(x**0)/dx = 0 (docs/reliability.md row 18).
DERIVATIVES: dict[str, Callable[[float, float, float, float], tuple[float, float]]] = {
    "add": lambda a, b, y, c: (1.0, 1.0),
    "mul": lambda a, b, y, c: (b, a),
    "sub": lambda a, b, y, c: (1.0, -1.0),
    "div": lambda a, b, y, c: (ieee_pow(b, -1.0), pow_grad(b, -1.0) * a),  # y = a * b**-1
    "neg": lambda a, b, y, c: (-1.0, 0.0),
    "addc": lambda a, b, y, c: (1.0, 0.0),
    "mulc": lambda a, b, y, c: (c, 0.0),
    "rsubc": lambda a, b, y, c: (-1.0, 0.0),
    "rdivc": lambda a, b, y, c: (pow_grad(a, -1.0) * c, 0.0),              # y = c * a**-1
    "pow": lambda a, b, y, c: (pow_grad(a, c), 0.0),
    "relu": lambda a, b, y, c: (1.0 if a > 0 else 0.0, 0.0),
    "tanh": lambda a, b, y, c: (1.0 - y * y, 0.0),
    "sigmoid": lambda a, b, y, c: (y * (1.0 - y), 0.0),
    "exp": lambda a, b, y, c: (y, 0.0),
    "log": lambda a, b, y, c: (ieee_div(1.0, a), 0.0),
    "sqrt": lambda a, b, y, c: (ieee_div(0.5, y), 0.0),
    "abs": lambda a, b, y, c: (1.0 if a > 0 else -1.0 if a < 0 else 0.0, 0.0),
    "leaky_relu": lambda a, b, y, c: (1.0 if a > 0 else c, 0.0),
}

# How `_op` shows an op, as in micrograd ('+', '*', 'ReLU', '**2', ...).
_SYMBOLS: dict[str, str] = {"leaf": "", "add": "+", "addc": "+", "mul": "*", "mulc": "*", "sub": "-",
            "rsubc": "-", "div": "/", "rdivc": "/", "relu": "ReLU"}


class Value:
    """A scalar and its gradient. ``Value(data, label="")``.

    >>> x = Value(3.0); y = x * x + x; y.backward(); x.grad     # 2 x + 1
    7.0
    """

    __slots__ = ("data", "grad", "op", "constant", "_inputs", "label")
    data: float
    grad: float
    op: str
    constant: float | None
    _inputs: tuple[Value, ...]
    label: str

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "leaf", label: str = "",
                 _constant: float | None = None) -> None:
        if isinstance(data, Value) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value(data): data must be a real number (int or float), "
                            f"got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.op = _op                  # "leaf", "add", "mul", ... (a key of DERIVATIVES)
        self.constant = _constant      # the number an op saved, or None
        self._inputs = tuple(_children)
        self.label = label

    @property
    def _prev(self) -> set[Value]:
        return set(self._inputs)

    @_prev.setter
    def _prev(self, children: Iterable[Value]) -> None:
        self._inputs = tuple(children)

    @property
    def _op(self) -> str:
        if self.op == "pow":
            return f"**{self.constant:g}"
        return _SYMBOLS.get(self.op, self.op)

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    # -- ops between two Values, or a Value and a number (saved as a constant) ------
    def __add__(self, other: Value | float) -> Value:
        if isinstance(other, Value):
            return Value(self.data + other.data, (self, other), "add")
        if isinstance(other, numbers.Real):
            return Value(self.data + other, (self,), "addc", _constant=float(other))
        return NotImplemented

    def __mul__(self, other: Value | float) -> Value:
        if isinstance(other, Value):
            return Value(self.data * other.data, (self, other), "mul")
        if isinstance(other, numbers.Real):
            return Value(self.data * other, (self,), "mulc", _constant=float(other))
        return NotImplemented

    def __sub__(self, other: Value | float) -> Value:
        if isinstance(other, Value):
            return Value(self.data - other.data, (self, other), "sub")
        if isinstance(other, numbers.Real):
            return self + (-other)          # a - c is a + (-c), bit for bit
        return NotImplemented

    def __truediv__(self, other: Value | float) -> Value:
        if isinstance(other, Value):        # a * b**-1, as micrograd computes it
            return Value(self.data * ieee_pow(other.data, -1.0), (self, other), "div")
        if isinstance(other, numbers.Real):
            return self * ieee_pow(float(other), -1.0)
        return NotImplemented

    def __radd__(self, other: Value | float) -> Value:              # other + self
        return self + other

    def __rmul__(self, other: Value | float) -> Value:              # other * self
        return self * other

    def __rsub__(self, other: Value | float) -> Value:              # other - self
        if isinstance(other, numbers.Real):
            return Value(other - self.data, (self,), "rsubc", _constant=float(other))
        return NotImplemented

    def __rtruediv__(self, other: Value | float) -> Value:          # other / self = self**-1 * other
        if isinstance(other, numbers.Real):
            return Value(ieee_pow(self.data, -1.0) * other, (self,), "rdivc",
                         _constant=float(other))
        return NotImplemented

    def __neg__(self) -> Value:
        return Value(-self.data, (self,), "neg")

    def __pow__(self, p: float) -> Value:
        if isinstance(p, Value) or not isinstance(p, numbers.Real):
            raise TypeError(f"Value ** {type(p).__name__}: the exponent must be an int "
                            "or float (for a Value exponent y use (y * x.log()).exp())")
        return Value(ieee_pow(self.data, float(p)), (self,), "pow", _constant=float(p))

    def __abs__(self) -> Value:
        return self.abs()

    # -- functions of one Value ------------------------------------------------------
    def relu(self) -> Value:
        # "<= 0" so that relu(nan) is nan (IEEE), as in activations.pxd
        return Value(0.0 if self.data <= 0 else self.data, (self,), "relu")

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        s = float(negative_slope)
        return Value(self.data if self.data > 0 else s * self.data, (self,), "leaky_relu",
                     _constant=s)

    def tanh(self) -> Value:
        return Value(math.tanh(self.data), (self,), "tanh")

    def sigmoid(self) -> Value:
        return Value(sigmoid(self.data), (self,), "sigmoid")

    def exp(self) -> Value:
        return Value(ieee_exp(self.data), (self,), "exp")

    def log(self) -> Value:
        return Value(ieee_log(self.data), (self,), "log")

    def sqrt(self) -> Value:
        return Value(ieee_sqrt(self.data), (self,), "sqrt")

    def abs(self) -> Value:
        return Value(abs(self.data), (self,), "abs")

    # -- backpropagation ---------------------------------------------------------------
    def backward(self) -> None:
        """Add d self / d node to ``node.grad`` for every node of the graph."""
        order = topological_order(self)      # every node after its inputs; self last
        slot = {id(node): i for i, node in enumerate(order)}
        grads = [0.0] * len(order)           # d self / d node, summed over all paths
        grads[-1] = 1.0                      # d self / d self
        for i in range(len(order) - 1, -1, -1):   # every node after all of its users
            node = order[i]
            if not node._inputs:
                continue                     # a leaf: nothing to pass on
            local = DERIVATIVES[node.op](*operands(node))
            for child, d in zip(node._inputs, local):
                grads[slot[id(child)]] += d * grads[i]    # the chain rule
        for node, g in zip(order, grads):
            node.grad += g

    def zero_grad(self) -> None:
        """Set ``grad = 0`` on this node and every node it depends on."""
        for node in topological_order(self):
            node.grad = 0.0


def operands(node: Value) -> tuple[float, float, float, float]:
    """``(a, b, y, c)`` for ``DERIVATIVES[node.op]``: the inputs' data (0.0 where
    there is none), the node's own data and its constant (0.0 if none)."""
    ins = node._inputs
    a = ins[0].data if len(ins) > 0 else 0.0
    b = ins[1].data if len(ins) > 1 else 0.0
    c = node.constant if node.constant is not None else 0.0
    return a, b, node.data, c


def topological_order(root: Value) -> list[Value]:
    """The nodes of the graph ending at ``root``, each after its inputs (``root``
    last). An iterative depth-first search, inputs in order -- no recursion, so a
    100,000-node chain is fine. A node is "open" while its inputs are being
    visited; meeting an open node again means the graph has a cycle.

    >>> x = Value(2.0, label="x"); y = x * x + 1.0
    >>> [node.op for node in topological_order(y)]
    ['leaf', 'mul', 'addc']
    """
    order: list[Value] = []
    done: set[int] = set()
    open_ = {id(root)}
    stack = [(root, 0)]                 # (node, index of the next input to visit)
    while stack:
        node, k = stack.pop()
        if k < len(node._inputs):
            stack.append((node, k + 1))
            kid = node._inputs[k]
            if id(kid) in open_:
                raise RuntimeError(f"graph has a cycle: {kid!r} is its own ancestor "
                                   "(was _prev rewired?)")
            if id(kid) not in done:
                open_.add(id(kid))
                stack.append((kid, 0))
            continue
        open_.discard(id(node))
        done.add(id(node))
        order.append(node)
    return order

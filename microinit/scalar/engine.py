"""A scalar autograd engine in plain Python: the one to read.

``Value`` wraps one number and remembers how it was made: which op, from which
input Values, with which constant. ``backward()`` then applies the chain rule from
the output back to every input. This file is the readable version; the ``Value``
that ``microinit`` exports (``microinit._kernels.tape.Value``) does exactly the same
thing in compiled code, and the tests check that the two agree number for number.

    >>> from microinit.scalar.engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> y = (a * b + a).tanh()
    >>> y.backward()
    >>> round(a.grad, 6), round(b.grad, 6)     # dy/da = (1 - y**2)(b + 1), dy/db = (1 - y**2) a
    (-0.002682, 0.002682)

The differences from micrograd's ``engine.py`` are deliberate:

* Backward goes through a *tape* (``microinit.scalar.tape``): the graph is listed in
  topological order without recursion, gradients are summed in a fresh list, then
  *added* to ``.grad``. So a second ``backward()`` adds exactly the same amounts
  again; micrograd would also re-add the intermediate nodes' old gradients.
* Numbers are operated on with IEEE rules, as in C: ``1 / Value(0.0)`` is ``inf``,
  ``Value(0.0).log()`` is ``-inf``, ``Value(-1.0).sqrt()`` is ``nan``.
* ``a - b`` and ``a / b`` are one node each (micrograd makes two), and a number
  operand is a constant saved in the node (``a + 1``, ``2 * a``), not a leaf. The
  numbers are micrograd's: ``a / b`` is computed as ``a * b**-1``, as micrograd does.
"""
import math
import numbers

from microinit.scalar import tape as _tape
from microinit.scalar.tape import ieee_exp, ieee_log, ieee_pow, ieee_sqrt, sigmoid


class Value:
    """A scalar and its gradient. ``Value(data, label="")``."""

    __slots__ = ("data", "grad", "op", "constant", "_inputs", "label")

    def __init__(self, data, _children=(), _op="leaf", label="", _constant=None):
        if isinstance(data, Value) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value(data): data must be a real number (int or float), "
                            f"got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.op = _op                  # "leaf", "add", "mul", ... (tape.OPS)
        self.constant = _constant      # the number an op saved, or None
        self._inputs = tuple(_children)
        self.label = label

    @property
    def _prev(self):
        return set(self._inputs)

    @_prev.setter
    def _prev(self, children):
        self._inputs = tuple(children)

    @property
    def _op(self):
        if self.op == "pow":
            return f"**{self.constant:g}"
        return {"leaf": "", "add": "+", "addc": "+", "mul": "*", "mulc": "*", "sub": "-",
                "rsubc": "-", "div": "/", "rdivc": "/", "relu": "ReLU"}.get(self.op, self.op)

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    # -- ops between two Values, or a Value and a number (saved as a constant) ------
    def __add__(self, other):
        if isinstance(other, Value):
            return Value(self.data + other.data, (self, other), "add")
        if isinstance(other, numbers.Real):
            return Value(self.data + other, (self,), "addc", _constant=float(other))
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, Value):
            return Value(self.data * other.data, (self, other), "mul")
        if isinstance(other, numbers.Real):
            return Value(self.data * other, (self,), "mulc", _constant=float(other))
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, Value):
            return Value(self.data - other.data, (self, other), "sub")
        if isinstance(other, numbers.Real):
            return self + (-other)          # a - c is a + (-c), bit for bit
        return NotImplemented

    def __truediv__(self, other):
        if isinstance(other, Value):        # a * b**-1, as micrograd computes it
            return Value(self.data * ieee_pow(other.data, -1.0), (self, other), "div")
        if isinstance(other, numbers.Real):
            return self * ieee_pow(float(other), -1.0)
        return NotImplemented

    def __radd__(self, other):              # other + self
        return self + other

    def __rmul__(self, other):              # other * self
        return self * other

    def __rsub__(self, other):              # other - self
        if isinstance(other, numbers.Real):
            return Value(other - self.data, (self,), "rsubc", _constant=float(other))
        return NotImplemented

    def __rtruediv__(self, other):          # other / self = self**-1 * other
        if isinstance(other, numbers.Real):
            return Value(ieee_pow(self.data, -1.0) * other, (self,), "rdivc",
                         _constant=float(other))
        return NotImplemented

    def __neg__(self):
        return Value(-self.data, (self,), "neg")

    def __pow__(self, p):
        if isinstance(p, Value) or not isinstance(p, numbers.Real):
            raise TypeError(f"Value ** {type(p).__name__}: the exponent must be an int "
                            "or float (for a Value exponent y use (y * x.log()).exp())")
        return Value(ieee_pow(self.data, float(p)), (self,), "pow", _constant=float(p))

    def __abs__(self):
        return self.abs()

    # -- functions of one Value ------------------------------------------------------
    def relu(self):
        # "<= 0" so that relu(nan) is nan (IEEE), as in activations.pxd
        return Value(0.0 if self.data <= 0 else self.data, (self,), "relu")

    def leaky_relu(self, negative_slope=0.01):
        s = float(negative_slope)
        return Value(self.data if self.data > 0 else s * self.data, (self,), "leaky_relu",
                     _constant=s)

    def tanh(self):
        return Value(math.tanh(self.data), (self,), "tanh")

    def sigmoid(self):
        return Value(sigmoid(self.data), (self,), "sigmoid")

    def exp(self):
        return Value(ieee_exp(self.data), (self,), "exp")

    def log(self):
        return Value(ieee_log(self.data), (self,), "log")

    def sqrt(self):
        return Value(ieee_sqrt(self.data), (self,), "sqrt")

    def abs(self):
        return Value(abs(self.data), (self,), "abs")

    # -- backpropagation ---------------------------------------------------------------
    def backward(self):
        """Add d self / d node to ``node.grad`` for every node of the graph."""
        t = _tape.record(self)               # the nodes in topological order
        grads = _tape.replay(t)              # the chain rule, in reverse
        for node, g in zip(t.nodes, grads):
            node.grad += g

    def zero_grad(self):
        """Set ``grad = 0`` on this node and every node it depends on."""
        for node in _tape.record(self).nodes:
            node.grad = 0.0

# cython: language_level=3
"""The compiled scalar autograd engine: ``microinit.Value``.

``microinit/scalar/engine.py`` holds the same class written in plain Python -- the
one to read; this is that class made fast, and the tests check the two against
each other number for number. The pieces:

* ``_graph.pyx``: ``Node`` (the C fields this ``Value`` adds its API to) and the
  per-thread recording tape every op appends to;
* ``_wengert.pyx``: the one backward loop (the chain rule over a Wengert list);
* ``_snapshot.pyx``: ``Tape``, a snapshot of the graph below one node, found by a
  depth-first search (for ``Value.tape()``, ``microinit.trace``, rewired graphs);
* ``_ops.pxd``: op codes and local derivatives, taken from
  ``microinit/_kernels/activations.pxd`` where each activation's is defined once.
"""
cimport cython
from libc.math cimport pow as c_pow, log as c_log, sqrt as c_sqrt, exp as c_exp

import numbers

from microinit._kernels.activations cimport (
    relu_fwd, tanh_fwd, sigmoid_fwd, leaky_relu_fwd, f_abs,
)
from microinit.scalar._graph cimport (
    Node, note_rewired, needs_snapshot, record, recorded_backward, seal_current,
    check_for_cycle,
)
from microinit.scalar._ops cimport (
    OP_LEAF, OP_ADD, OP_MUL, OP_SUB, OP_DIV, OP_NEG, OP_ADDC, OP_MULC, OP_RSUBC, OP_RDIVC,
    OP_POW, OP_RELU, OP_TANH, OP_SIGMOID, OP_EXP, OP_LOG, OP_SQRT, OP_ABS, OP_LEAKY_RELU,
    local_derivatives,
)
from microinit.scalar._snapshot cimport Tape, linearize as snapshot_of

# Op names -> codes. microinit/scalar/tape.py repeats this table for the pure-Python
# replay; a test checks that the two agree.
OPS = {
    "leaf": OP_LEAF, "add": OP_ADD, "mul": OP_MUL, "sub": OP_SUB, "div": OP_DIV,
    "neg": OP_NEG, "addc": OP_ADDC, "mulc": OP_MULC, "rsubc": OP_RSUBC,
    "rdivc": OP_RDIVC, "pow": OP_POW, "relu": OP_RELU, "tanh": OP_TANH,
    "sigmoid": OP_SIGMOID, "exp": OP_EXP, "log": OP_LOG, "sqrt": OP_SQRT,
    "abs": OP_ABS, "leaky_relu": OP_LEAKY_RELU,
}
OP_NAMES = {code: name for name, code in OPS.items()}
# What `_op` shows, as in micrograd ('+', '*', 'ReLU', '**2', ...).
_SYMBOL = ("", "+", "*", "-", "/", "neg", "+", "*", "-", "/", "**", "ReLU", "tanh",
           "sigmoid", "exp", "log", "sqrt", "abs", "leaky_relu")
_BINARY = frozenset({OP_ADD, OP_MUL, OP_SUB, OP_DIV})
_HAS_CONSTANT = frozenset({OP_ADDC, OP_MULC, OP_RSUBC, OP_RDIVC, OP_POW, OP_LEAKY_RELU})

cdef object _Real = numbers.Real


cdef inline bint _is_number(object o):
    # bool/int/float/numpy scalars; str is refused although float("1") would work
    return type(o) is float or type(o) is int or isinstance(o, _Real)


@cython.final
@cython.no_gc   # Node's fields only: no reference cycles (see _graph.pyx)
@cython.auto_pickle(False)   # a node is part of a graph and a tape: not picklable alone
cdef class Value(Node):
    """A scalar with a gradient: ``Value(data, label="")`` (micrograd-compatible).

    ``a + b``, ``a * b``, ``a - b``, ``a / b``, ``-a``, ``a ** p`` (p an int/float),
    reflected ops with numbers, ``relu``, ``tanh``, ``sigmoid``, ``exp``, ``log``,
    ``sqrt``, ``abs``, ``leaky_relu``; ``backward()`` adds d(output)/d(node) to the
    ``.grad`` of every node the output depends on (use ``zero_grad`` between steps).

    >>> from microinit.scalar import Value
    >>> x = Value(2.0); y = (x * x + 1).tanh(); y.backward(); round(x.grad, 6)
    0.000726
    """
    # numpy scalars on the left (np.float64(2) * v) must defer to __rmul__ instead
    # of building an object array
    __array_ufunc__ = None

    def __init__(self, data, _children=(), _op="", label=""):
        if isinstance(data, Value) or not _is_number(data):
            raise TypeError(f"Value(data): data must be a real number (int or float), "
                            f"got {type(data).__name__}")
        if _children:
            raise TypeError("Value(data, _children): nodes with inputs are made by "
                            "operations (a + b, a.tanh(), ...), not by the constructor")
        self.data = data
        self._label = label if label else None

    # -- introspection (micrograd's names) --------------------------------------
    @property
    def label(self):
        return self._label if self._label is not None else ""

    @label.setter
    def label(self, value):
        self._label = str(value) if value else None

    @property
    def _op(self):
        if self._code == OP_POW:
            p = self._param
            return f"**{int(p) if p == int(p) else p}"
        return _SYMBOL[self._code]

    @property
    def op_name(self):
        """The op that made this node: 'leaf', 'add', 'mul', ..., 'leaky_relu'."""
        return OP_NAMES[self._code]

    @property
    def constant(self):
        """The number saved by the op (c in x + c, p in x ** p, slope), else None."""
        return self._param if self._code in _HAS_CONSTANT else None

    @property
    def _inputs(self):
        """The input nodes in order: (), (a,) or (a, b)."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._a,)
        return (self._a, self._b)

    @property
    def _prev(self):
        """The input nodes as a set, as in micrograd. A new set each time: to rewire
        the graph, assign to ``_prev``."""
        return set(self._inputs)

    @_prev.setter
    def _prev(self, children):
        kids = list(children)
        arity = 0 if self._code == OP_LEAF else (2 if self._code in _BINARY else 1)
        for k in kids:
            if not isinstance(k, Value):
                raise TypeError(f"_prev: inputs must be Values, got {type(k).__name__}")
        if len(kids) != arity:
            raise ValueError(f"_prev: op {OP_NAMES[self._code]!r} takes {arity} "
                             f"input(s), got {len(kids)}")
        # The recorded tape assumes creation order is topological, which rewiring
        # can break: backward() through this tape takes the snapshot path instead,
        # which checks for cycles.
        note_rewired(self)
        self._a = kids[0] if arity >= 1 else None
        self._b = kids[1] if arity == 2 else None
        check_for_cycle(self)

    def __repr__(self):
        if self._label is not None:
            return f"Value(data={self.data}, grad={self.grad}, label={self._label!r})"
        return f"Value(data={self.data}, grad={self.grad})"

    # -- arithmetic ----------------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, Value):
            return _node(self.data + (<Value>other).data, OP_ADD, self, other, 0.0)
        if _is_number(other):
            c = <double>other
            return _node(self.data + c, OP_ADDC, self, None, c)
        return NotImplemented

    def __radd__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(self.data + c, OP_ADDC, self, None, c)
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, Value):
            return _node(self.data * (<Value>other).data, OP_MUL, self, other, 0.0)
        if _is_number(other):
            c = <double>other
            return _node(self.data * c, OP_MULC, self, None, c)
        return NotImplemented

    def __rmul__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(self.data * c, OP_MULC, self, None, c)
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, Value):
            return _node(self.data - (<Value>other).data, OP_SUB, self, other, 0.0)
        if _is_number(other):
            # a - c is a + (-c), bit for bit, with the same derivative
            c = -<double>other
            return _node(self.data + c, OP_ADDC, self, None, c)
        return NotImplemented

    def __rsub__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(c - self.data, OP_RSUBC, self, None, c)
        return NotImplemented

    def __truediv__(self, other):
        if isinstance(other, Value):
            return _node(self.data * c_pow((<Value>other).data, -1.0), OP_DIV, self,
                         other, 0.0)
        if _is_number(other):
            # a / c is a * c**-1, as micrograd computes it; IEEE: a / 0 is +-inf
            c = c_pow(<double>other, -1.0)
            return _node(self.data * c, OP_MULC, self, None, c)
        return NotImplemented

    def __rtruediv__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(c_pow(self.data, -1.0) * c, OP_RDIVC, self, None, c)
        return NotImplemented

    def __neg__(self):
        return _node(-self.data, OP_NEG, self, None, 0.0)

    def __pos__(self):
        return self

    def __pow__(self, other, modulo=None):
        if not isinstance(self, Value):
            return NotImplemented
        if isinstance(other, Value) or not _is_number(other):
            raise TypeError(f"Value ** {type(other).__name__}: the exponent must be an "
                            "int or float (for a Value exponent y use (y * x.log()).exp())")
        if modulo is not None:
            raise TypeError("pow(Value, p, modulo) is not supported")
        p = <double>other
        return _node(c_pow((<Value>self).data, p), OP_POW, self, None, p)

    def __rpow__(self, other, modulo=None):
        raise TypeError(f"{type(other).__name__} ** Value is not supported: the exponent "
                        "must be a number (for c ** x use (x * log(c)).exp())")

    def __abs__(self):
        return _node(f_abs(self.data), OP_ABS, self, None, 0.0)

    # -- functions -----------------------------------------------------------------
    def relu(self):
        """max(x, 0); derivative 1 for x > 0, else 0 (relu'(0) = 0)."""
        return _node(relu_fwd(self.data), OP_RELU, self, None, 0.0)

    def leaky_relu(self, negative_slope=0.01):
        """x for x > 0, else slope * x; derivative 1 or slope (slope at 0)."""
        s = <double>negative_slope
        return _node(leaky_relu_fwd(self.data, s), OP_LEAKY_RELU, self, None, s)

    def tanh(self):
        """tanh(x); derivative 1 - tanh(x)**2."""
        return _node(tanh_fwd(self.data), OP_TANH, self, None, 0.0)

    def sigmoid(self):
        """1 / (1 + e^-x); derivative s (1 - s)."""
        return _node(sigmoid_fwd(self.data), OP_SIGMOID, self, None, 0.0)

    def exp(self):
        """e^x (IEEE: overflows to inf); derivative e^x."""
        return _node(c_exp(self.data), OP_EXP, self, None, 0.0)

    def log(self):
        """Natural log, IEEE: log(0) = -inf, log(x < 0) = nan; derivative 1/x."""
        return _node(c_log(self.data), OP_LOG, self, None, 0.0)

    def sqrt(self):
        """Square root, IEEE: sqrt(x < 0) = nan; derivative 0.5/sqrt(x) (inf at 0)."""
        return _node(c_sqrt(self.data), OP_SQRT, self, None, 0.0)

    def abs(self):
        """|x|; derivative sign(x), 0 at 0."""
        return _node(f_abs(self.data), OP_ABS, self, None, 0.0)

    # -- autograd --------------------------------------------------------------------
    def backward(self):
        """Add d(self)/d(node) to ``node.grad`` for every node ``self`` depends on.

        One compiled loop over the recorded tape in reverse
        (``_wengert.chain_rule``; after ``_prev`` was rewired, the same loop over a
        ``Tape`` snapshot). Calling it twice adds the same gradients twice, exactly.
        Raises RuntimeError("graph has a cycle") if ``_prev`` was rewired into a loop.
        """
        cdef Tape t
        if self._rec == NULL:
            self.grad += 1.0      # a leaf: d self / d self
        elif needs_snapshot(self):
            t = snapshot_of(self)   # raises if rewiring made a cycle
            t.run(1.0)
            t.add_to_nodes()
        else:
            recorded_backward(self)
        # the next forward pass records onto a new tape, so that this graph's tape
        # is freed with it instead of growing with every step
        seal_current()

    def tape(self):
        """A ``Tape`` snapshot of the graph ending at this node (see ``Tape``)."""
        return snapshot_of(self)

    def zero_grad(self):
        """Set ``.grad = 0`` on this node and on every node it depends on."""
        cdef Tape t = snapshot_of(self)
        cdef Py_ssize_t i
        for i in range(t.n):
            (<Node>t.nodes[i]).grad = 0.0

    def _backward(self):
        """One step of the chain rule, micrograd's way: add this node's ``grad``
        times each local derivative to its inputs' ``grad``."""
        cdef double d0 = 0.0, d1 = 0.0
        if self._code == OP_LEAF:
            return
        local_derivatives(self._code, self._a.data,
                          self._b.data if self._b is not None else 0.0,
                          self.data, self._param, &d0, &d1)
        self._a.grad += d0 * self.grad
        if self._b is not None:
            self._b.grad += d1 * self.grad


cdef inline Value _node(double data, int code, Node a, Node b, double param):
    # Value.__new__ skips __init__: no argument parsing on the hot path
    cdef Value out = Value.__new__(Value)
    out.data = data
    out._code = code
    out._a = a
    out._b = b
    out._param = param
    record(out)
    return out


def neuron(w, x, Value b, bint relu):
    """``b + w[0]*x[0] + w[1]*x[1] + ...`` (then ``relu()`` if ``relu``), node by node.

    Builds exactly the nodes -- and, in the same order, exactly the numbers -- that
    micrograd's ``sum((wi*xi for wi, xi in zip(w, x)), b)`` builds, in one compiled
    call instead of 2 n interpreted ones. ``w`` is a list of Values; ``x`` a
    sequence of Values or numbers of the same length (checked by the caller).

    >>> from microinit.scalar import Value
    >>> w, b = [Value(2.0), Value(-1.0)], Value(0.5)
    >>> neuron(w, [Value(1.0), 3.0], b, relu=False).data    # 0.5 + 2 - 3
    -0.5
    """
    cdef Value act = b
    cdef Value prod, wi
    cdef Py_ssize_t i, n = len(w)
    cdef list wl = w if type(w) is list else list(w)
    for i in range(n):
        wi = <Value?>wl[i]
        xi = x[i]
        if isinstance(xi, Value):
            prod = _node(wi.data * (<Value>xi).data, OP_MUL, wi, xi, 0.0)
        else:
            prod = wi * xi
        act = _node(act.data + prod.data, OP_ADD, act, prod, 0.0)
    if relu:
        return _node(relu_fwd(act.data), OP_RELU, act, None, 0.0)
    return act


def zero_grad(values):
    """Set ``.grad = 0`` on each Value in ``values`` (e.g. ``model.parameters()``).

    >>> from microinit.scalar import Value
    >>> a = Value(1.0); (a * a).backward(); zero_grad([a]); a.grad
    0.0
    """
    for v in values:
        if not isinstance(v, Value):
            raise TypeError(f"zero_grad: expected Values, got {type(v).__name__}")
        (<Value>v).grad = 0.0


def linearize(Value root):
    """The ``Tape`` snapshot of the graph ending at ``root`` (same as ``root.tape()``).

    >>> from microinit.scalar import Value
    >>> len(linearize(Value(1.0) + 2.0))
    2
    """
    return snapshot_of(root)

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
(``microinit._kernels.tape``) runs the same loop in C; this module is its readable
reference and the tests check that the two agree. The local derivatives below are
the Python twins of ``_kernels/activations.pxd``.

>>> from microinit.scalar.engine import Value
>>> x = Value(3.0); y = x * x + x
>>> t = record(y); replay(t)[0]     # d y / d x = 2 x + 1
7.0
"""
import math

# The op codes, shared with microinit/_kernels/tape.pyx (a test checks they agree).
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
INF = math.inf
NAN = math.nan


# --- IEEE arithmetic in Python ------------------------------------------------------
# Python raises where C returns inf/nan (1/0, 0.0**-1, math.log(0), math.exp(1000)).
# The engine follows IEEE like the compiled one, so these helpers do too.

def ieee_div(a, b):
    """a / b with IEEE results for b == 0: +-inf, or nan for 0/0."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def ieee_pow(x, p):
    """C's pow(x, p): 0 ** -1 = inf, (-8) ** 0.5 = nan, overflow = inf."""
    try:
        return math.pow(x, p)
    except (ValueError, OverflowError):
        import numpy as np  # the corner cases of C99 pow, exactly

        with np.errstate(all="ignore"):
            return float(np.power(np.float64(x), np.float64(p)))


def ieee_exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def ieee_log(x):
    """log(0) = -inf, log(x < 0) = nan."""
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else NAN


def ieee_sqrt(x):
    return math.sqrt(x) if x >= 0 else NAN


def sigmoid(x):
    # two branches so exp never overflows (the same formula as activations.pxd)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


# --- local derivatives: d out / d input, the Python twin of activations.pxd ---------

def local_derivatives(op, a, b, y, c):
    """``(d y/d a, d y/d b)`` for ``y = op(a, b; c)``; 0.0 for an input that is absent.

    Conventions where the derivative does not exist or is infinite (IEEE decides,
    as in PyTorch): relu'(0) = 0, leaky_relu'(0) = slope, abs'(0) = 0,
    log'(0) = 1/0 = inf, sqrt'(0) = 0.5/0 = inf, d(x**0)/dx = 0.
    """
    if op == "add":
        return 1.0, 1.0
    if op == "mul":
        return b, a
    if op == "sub":
        return 1.0, -1.0
    if op == "div":                     # y = a * b**-1
        return ieee_pow(b, -1.0), pow_grad(b, -1.0) * a
    if op in ("neg", "rsubc"):
        return -1.0, 0.0
    if op == "addc":
        return 1.0, 0.0
    if op == "mulc":
        return c, 0.0
    if op == "rdivc":                   # y = c * a**-1
        return pow_grad(a, -1.0) * c, 0.0
    if op == "pow":
        return pow_grad(a, c), 0.0
    if op == "relu":
        return (1.0 if a > 0 else 0.0), 0.0
    if op == "tanh":
        return 1.0 - y * y, 0.0
    if op == "sigmoid":
        return y * (1.0 - y), 0.0
    if op == "exp":
        return y, 0.0
    if op == "log":
        return ieee_div(1.0, a), 0.0
    if op == "sqrt":
        return ieee_div(0.5, y), 0.0
    if op == "abs":
        return (1.0 if a > 0 else -1.0 if a < 0 else 0.0), 0.0
    if op == "leaky_relu":
        return (1.0 if a > 0 else c), 0.0
    raise ValueError(f"local_derivatives: unknown op {op!r}")


def pow_grad(x, p):
    """d/dx x**p = p * x**(p - 1), and 0 when p == 0."""
    return 0.0 if p == 0 else p * ieee_pow(x, p - 1)


# --- the tape -------------------------------------------------------------------------

class PyTape:
    """A tape held in Python lists (same fields as the compiled ``Tape``)."""

    def __init__(self):
        self.ops, self.inputs, self.params, self.values, self.nodes = [], [], [], [], []

    def __len__(self):
        return len(self.ops)


def record(root):
    """The tape of the graph that ends at ``root`` (an ``engine.Value``).

    An iterative depth-first search -- no recursion, so a 100,000-node chain is
    fine. A node is "open" while its inputs are being visited; meeting an open node
    again means the graph has a cycle (possible only by rewiring ``_prev``).
    """
    tape = PyTape()
    slot = {}                      # id(node) -> its entry; also marks "done"
    open_ = set()                  # ids of nodes whose inputs are being visited
    stack = [(root, 0)]
    open_.add(id(root))
    while stack:
        node, k = stack.pop()
        kids = node._inputs
        if k < len(kids):
            stack.append((node, k + 1))
            kid = kids[k]
            if id(kid) in open_:
                raise RuntimeError(f"graph has a cycle: {kid!r} is its own ancestor "
                                   "(was _prev rewired?)")
            if id(kid) not in slot:
                open_.add(id(kid))
                stack.append((kid, 0))
            continue
        open_.discard(id(node))
        slot[id(node)] = len(tape.ops)
        ins = [slot[id(kid)] for kid in kids] + [-1, -1]
        tape.ops.append(OPS[node.op])
        tape.inputs.append((ins[0], ins[1]))
        tape.params.append(node.constant if node.constant is not None else 0.0)
        tape.values.append(node.data)
        tape.nodes.append(node)
    return tape


def replay(tape, seed=1.0):
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


def _as_list(column):
    # numpy arrays (the compiled Tape) become lists of Python numbers
    return column.tolist() if hasattr(column, "tolist") else column

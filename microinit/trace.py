"""Step-through backpropagation for the scalar engine, and the ``microinit trace`` command.

``trace(y)`` lists the backward pass of ``y``'s graph one node at a time, in reverse
topological order (the order backpropagation visits them): for each node its label,
op, data, the *upstream gradient* ``d y / d node`` (complete by the time the node is
reached), the *local derivative* of the node with respect to each of its inputs, and
the product of the two -- the amount the chain rule adds to that input's gradient.

    >>> from microinit import Value
    >>> from microinit.trace import trace
    >>> x = Value(2.0, label="x"); w = Value(-3.0, label="w")
    >>> y = (x * w).tanh(); y.label = "y"
    >>> steps = trace(y)
    >>> steps[0].op, round(steps[0].inputs[0].local, 6)      # y = tanh(a), dy/da = 1 - y**2
    ('tanh(a)', 2.5e-05)
    >>> print(steps)
    step  node  op               data      upstream  input       local d  adds to input
    -----------------------------------------------------------------------------------
       0  y     tanh(a)     -0.999988             1  #2     2.45765e-05   2.45765e-05
       1  #2    a * b              -6   2.45765e-05  x               -3  -7.37296e-05
                                                     w                2   4.91531e-05
       2  w     leaf               -3   4.91531e-05  (leaf)
       3  x     leaf                2  -7.37296e-05  (leaf)

It does not change any ``.grad``: it replays the same tape as ``backward()``
(``Value.tape()``) with the compiled loop and the same local derivatives.
``to_dot(y)`` gives Graphviz DOT text of the graph (data and grad on every node);
``to_svg``/``to_png`` render it when Graphviz's ``dot`` program is installed.

Command line: ``microinit trace "tanh(x1*w1 + x2*w2 + b)" --var x1=2 --var x2=0
--var w1=-3 --var w2=1 --var b=6.8813735870195432 [--step] [--dot graph.dot]``.
Expressions are parsed with Python's ``ast`` module and only a whitelist of node types
is accepted (numbers, names, + - * / **, unary minus, and the functions below); nothing
is ever evaluated as Python.
"""
import ast
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from microinit._atomic import atomic_write
from microinit.scalar import Value
from microinit.scalar.tape import FORMULA, OP_NAMES, ieee_div, ieee_pow

FUNCTIONS = {
    "tanh": (1, 1), "relu": (1, 1), "sigmoid": (1, 1), "exp": (1, 1), "log": (1, 1),
    "sqrt": (1, 1), "abs": (1, 1), "leaky_relu": (1, 2),
}


# --- the steps ---------------------------------------------------------------------------

@dataclass
class Contribution:
    """What one step adds to one input's gradient: ``local * upstream``."""
    name: str            # "a" or "b": which input of the op
    node: object         # the input Value
    label: str
    local: float         # d node / d input
    amount: float        # local * upstream: added to the input's gradient


@dataclass
class Step:
    index: int           # 0 for the output, then in backward order
    node: object
    label: str
    op: str              # the op as a formula of its inputs a, b and constant, e.g. "a * 2"
    data: float
    upstream: float      # d output / d node, complete when this step runs
    inputs: list = field(default_factory=list)

    def __str__(self):
        head = (f"step {self.index}: {self.label} = {self.op} = {_fmt(self.data)}, "
                f"upstream grad d out/d {self.label} = {_fmt(self.upstream)}")
        if not self.inputs:
            return head + " (a leaf: its gradient is complete)"
        lines = [head]
        for c in self.inputs:
            lines.append(f"    {c.name} = {c.label}: local derivative d({self.op})/d{c.name} = "
                         f"{_fmt(c.local)}; adds {_fmt(c.local)} * {_fmt(self.upstream)} = "
                         f"{_fmt(c.amount)} to the grad of {c.label}")
        return "\n".join(lines)


class Trace:
    """The backward pass of one output, as a sequence of ``Step``s (iterable,
    indexable); ``str()`` is the table; ``step_through()`` shows one step at a time."""

    def __init__(self, steps, output):
        self.steps = steps
        self.output = output

    def __iter__(self):
        return iter(self.steps)

    def __len__(self):
        return len(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<Trace of {len(self.steps)} steps, output {self.output!r}>"

    def table(self, width=12):
        """The steps as a text table: one row per (node, input) pair."""
        lw = max([len("node")] + [len(s.label) for s in self.steps] +
                 [len(c.label) for s in self.steps for c in s.inputs])
        lw = min(lw, 28)
        ow = min(max([len("op")] + [len(s.op) for s in self.steps]), 24)
        cols = (f"{'step':>4}  {'node':<{lw}}  {'op':<{ow}}  {'data':>{width}}  "
                f"{'upstream':>{width}}  {'input':<{lw}}  {'local d':>{width}}  "
                f"{'adds to input':>{width}}")
        lines = [cols, "-" * len(cols)]
        for s in self.steps:
            first = (f"{s.index:>4}  {_cut(s.label, lw):<{lw}}  {_cut(s.op, ow):<{ow}}  "
                     f"{_fmt(s.data):>{width}}  {_fmt(s.upstream):>{width}}  ")
            if not s.inputs:
                lines.append(first + f"{'(leaf)':<{lw}}")
                continue
            for k, c in enumerate(s.inputs):
                lead = first if k == 0 else " " * len(first)
                lines.append(lead + f"{_cut(c.label, lw):<{lw}}  {_fmt(c.local):>{width}}  "
                             f"{_fmt(c.amount):>{width}}")
        return "\n".join(lines)

    def step_through(self, wait=input, out=print):
        """Print one step at a time, calling ``wait()`` (Enter) between steps."""
        for s in self.steps:
            out(str(s))
            if s is not self.steps[-1]:
                try:
                    wait("  -- Enter for the next step --")
                except EOFError:   # not interactive: just go on
                    pass


def _fmt(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    return f"{x:.6g}"


def _cut(text, width):
    return text if len(text) <= width else text[: width - 1] + "~"


def _op_text(op_name, constant):
    formula = FORMULA[op_name]
    if constant is not None and "c" in formula:
        formula = formula.replace("c", _fmt(constant)).replace("+ -", "- ")
    return formula or "leaf"


def _labels(nodes):
    """A printable name per node: its label, or #i (its position on the tape)."""
    return [n.label if n.label else f"#{i}" for i, n in enumerate(nodes)]


def trace(value):
    """The backward pass of ``value`` as a ``Trace`` (see the module docstring)."""
    if not isinstance(value, Value):
        raise TypeError(f"trace: expected a microinit Value, got {type(value).__name__}")
    tape = value.tape()
    nodes = tape.nodes
    grads = tape.backward()
    local = tape.local_derivatives()
    ins = tape.inputs.tolist()
    ops = tape.ops.tolist()
    labels = _labels(nodes)
    steps = []
    for k, i in enumerate(range(len(nodes) - 1, -1, -1)):
        node = nodes[i]
        op = OP_NAMES[ops[i]]
        contribs = []
        for slot, name, d in ((ins[i][0], "a", local[i, 0]), (ins[i][1], "b", local[i, 1])):
            if slot >= 0:
                contribs.append(Contribution(name, nodes[slot], labels[slot], float(d),
                                             float(d * grads[i])))
        steps.append(Step(k, node, labels[i], _op_text(op, node.constant), node.data,
                          float(grads[i]), contribs))
    return Trace(steps, value)


# --- Graphviz ------------------------------------------------------------------------------

def _dot_escape(text):
    out = str(text)
    for ch in ("\\", '"', "{", "}", "|", "<", ">"):
        out = out.replace(ch, "\\" + ch)
    return out


def to_dot(value, rankdir="LR"):
    """Graphviz DOT text of ``value``'s graph: one record per node with its label,
    data and grad (as they are now), and one small node per op, as micrograd draws it."""
    if not isinstance(value, Value):
        raise TypeError(f"to_dot: expected a microinit Value, got {type(value).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"to_dot: rankdir must be LR, TB, RL or BT, got {rankdir!r}")
    tape = value.tape()
    nodes = tape.nodes
    ops, ins = tape.ops.tolist(), tape.inputs.tolist()
    labels = _labels(nodes)
    lines = ["digraph microinit {", f"  rankdir={rankdir};", '  node [fontname="monospace"];']
    for i, node in enumerate(nodes):
        text = (f"{{ {_dot_escape(labels[i])} | data {_dot_escape(_fmt(node.data))} | "
                f"grad {_dot_escape(_fmt(node.grad))} }}")
        lines.append(f'  n{i} [shape=record, label="{text}"];')
        op = OP_NAMES[ops[i]]
        if op != "leaf":
            op_label = _dot_escape(_op_text(op, node.constant))
            lines.append(f'  n{i}op [shape=ellipse, label="{op_label}"];')
            lines.append(f"  n{i}op -> n{i};")
            for slot in ins[i]:
                if slot >= 0:
                    lines.append(f"  n{slot} -> n{i}op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render(value, fmt, path):
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"to_{fmt}: Graphviz's `dot` program was not found on PATH. Install Graphviz "
            "(e.g. `apt install graphviz` or `brew install graphviz`), or write the text of "
            "to_dot() to a file and render it elsewhere.")
    proc = subprocess.run([dot, f"-T{fmt}"], input=to_dot(value).encode(), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"to_{fmt}: dot failed: {proc.stderr.decode(errors='replace').strip()}")
    if path is not None:
        atomic_write(path, proc.stdout)
    return proc.stdout


def to_svg(value, path=None):
    """SVG bytes of the graph (written to ``path`` if given); needs Graphviz's ``dot``."""
    return _render(value, "svg", path)


def to_png(value, path=None):
    """PNG bytes of the graph (written to ``path`` if given); needs Graphviz's ``dot``."""
    return _render(value, "png", path)


# --- the expression language of `microinit trace` ---------------------------------------------

class ExpressionError(ValueError):
    """A bad expression; the message shows where."""


def _where(source, node, message):
    col = getattr(node, "col_offset", 0)
    return ExpressionError(f"{message} (column {col + 1})\n  {source}\n  {' ' * col}^")


def parse_expression(source, variables):
    """Build the graph of ``source`` over ``variables`` (name -> number).

    Grammar: numbers, variable names, ``+ - * / **``, unary ``-``/``+``, parentheses
    and ``tanh relu sigmoid exp log sqrt abs leaky_relu(x[, slope])``. Every
    variable becomes a leaf Value labelled with its name, every other node is
    labelled with the text it came from. Returns the output Value and the leaves.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("empty expression")
    source = source.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        col = (err.offset or 1) - 1
        raise ExpressionError(f"invalid syntax: {err.msg} (column {col + 1})\n  {source}\n"
                              f"  {' ' * col}^") from None
    leaves = {}

    def leaf(name):
        if name not in leaves:
            leaves[name] = Value(float(variables[name]), label=name)
        return leaves[name]

    def labelled(v, node):
        if isinstance(v, Value) and not v.label:
            v.label = ast.get_source_segment(source, node) or ""
        return v

    def ev(node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise _where(source, node, f"only numbers are allowed, not {node.value!r}")
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise _where(source, node, f"{node.id} is a function: write {node.id}(...)")
            if node.id not in variables:
                known = ", ".join(sorted(variables)) or "none"
                raise _where(source, node, f"unknown variable {node.id!r} (defined: {known}; "
                                           f"add --var {node.id}=VALUE)")
            return leaf(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return labelled(-v, node) if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
            kind = ops.get(type(node.op))
            if kind is None:
                raise _where(source, node, f"operator {type(node.op).__name__} is not allowed "
                                           "(use + - * / **)")
            a, b = ev(node.left), ev(node.right)
            if kind == "**":
                if isinstance(b, Value):
                    raise _where(source, node.right, "the exponent of ** must be a number")
                if not isinstance(a, Value):
                    return ieee_pow(a, b)
                return labelled(a ** b, node)
            if not isinstance(a, Value) and not isinstance(b, Value):
                return _number_op(kind, a, b)
            result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                      "/": lambda: a / b}[kind]()
            return labelled(result, node)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = getattr(node.func, "id", type(node.func).__name__)
                raise _where(source, node, f"unknown function {name!r} (allowed: "
                                           f"{', '.join(sorted(FUNCTIONS))})")
            if node.keywords:
                raise _where(source, node, "keyword arguments are not allowed")
            lo, hi = FUNCTIONS[node.func.id]
            if not lo <= len(node.args) <= hi:
                count = lo if lo == hi else f"{lo} or {hi}"
                raise _where(source, node, f"{node.func.id} takes {count} argument(s), "
                                           f"got {len(node.args)}")
            args = [ev(a) for a in node.args]
            x = args[0]
            if not isinstance(x, Value):
                x = Value(x, label=ast.get_source_segment(source, node.args[0]) or "")
            if node.func.id == "leaky_relu" and len(args) == 2:
                if isinstance(args[1], Value):
                    raise _where(source, node.args[1], "the slope of leaky_relu must be a number")
                return labelled(x.leaky_relu(args[1]), node)
            return labelled(getattr(x, node.func.id)(), node)
        raise _where(source, node, f"{type(node).__name__} is not allowed in an expression")

    out = ev(tree.body)
    if not isinstance(out, Value):
        out = Value(out, label=source)
    return out, leaves


def _number_op(kind, a, b):
    # numbers combined with numbers stay numbers (IEEE, as in the engine)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    return ieee_div(a, b)


# --- the command ---------------------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("expression", help='e.g. "tanh(x1*w1 + x2*w2 + b)"')
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="a variable's value (repeat for each variable)")
    parser.add_argument("--dot", metavar="FILE",
                        help="write the graph as Graphviz DOT text (.svg/.png: render with dot)")
    parser.add_argument("--step", action="store_true",
                        help="show one step at a time; press Enter for the next")


def _parse_vars(pairs):
    out = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ExpressionError(f"--var {pair!r}: expected NAME=VALUE, e.g. --var x=2.0")
        try:
            out[name] = float(text)
        except ValueError:
            raise ExpressionError(f"--var {pair!r}: {text!r} is not a number") from None
    return out


def run(args, out=None, wait=input):
    out = out or sys.stdout

    def say(text=""):
        print(text, file=out)

    try:
        variables = _parse_vars(args.var)
        y, leaves = parse_expression(args.expression, variables)
    except ExpressionError as err:
        print(f"microinit trace: {err}", file=sys.stderr)
        return 2
    y.backward()
    steps = trace(y)
    given = ", ".join(f"{k}={_fmt(v)}" for k, v in variables.items())
    say(f"forward:  {args.expression} = {_fmt(y.data)}" + (f"   with {given}" if given else ""))
    say(f"backward: {len(steps)} steps, from the output back to the inputs "
        "(upstream = d out/d node; each input gets local d * upstream)")
    say()
    if args.step:
        steps.step_through(wait=wait, out=say)
    else:
        say(steps.table())
    if leaves:
        say()
        say("gradients: " + ", ".join(f"d out/d {k} = {_fmt(v.grad)}" for k, v in leaves.items()))
    if args.dot:
        try:
            if args.dot.endswith((".svg", ".png")):
                _render(y, args.dot[-3:], args.dot)
            else:
                atomic_write(args.dot, to_dot(y))
        except (OSError, RuntimeError) as err:
            print(f"microinit trace: cannot write {args.dot}: {err}", file=sys.stderr)
            return 1
        say(f"graph written to {args.dot}")
    return 0

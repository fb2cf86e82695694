"""Step-through backpropagation for the scalar engines: ``microinit.trace(y)``.

``trace(y)`` lists the backward pass of ``y``'s graph one node at a time, in reverse
topological order (the order backpropagation visits them): for each node its label,
op, data, the *upstream gradient* ``d y / d node`` (complete by the time the node is
reached), the *local derivative* of the node with respect to each of its inputs, and
the product of the two -- the amount the chain rule adds to that input's gradient.

    >>> from microinit import Value, trace
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

It takes the compiled ``microinit.Value`` and the readable
``microinit.scalar.engine.Value`` alike, and does not change any ``.grad``: it replays
the engine's own tape (the compiled loop, or ``microinit.scalar.tape.replay``) with
the same local derivatives. ``Trace.save_html(path)`` writes the same walk -- forward
pass, then backward -- as one clickable page (``microinit.viz.html``); in Jupyter the
trace shows itself as that page.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterator

from microinit._atomic import atomic_write
from microinit.viz.graph import MAX_NODES, AnyValue, Graph, ScalarTape, fmt

# The local derivative of each op with respect to its inputs, as a formula (y the op's
# output, a and b its inputs, c its constant): the "why" beside each number.
LOCAL_FORMULA: dict[str, tuple[str, ...]] = {
    "add": ("1", "1"), "mul": ("b", "a"), "sub": ("1", "-1"), "div": ("1/b", "-a/b**2"),
    "neg": ("-1",), "addc": ("1",), "mulc": ("c",), "rsubc": ("-1",), "rdivc": ("-c/a**2",),
    "pow": ("c * a**(c-1)",), "relu": ("1 if a > 0 else 0",), "tanh": ("1 - y**2",),
    "sigmoid": ("y * (1 - y)",), "exp": ("y",), "log": ("1/a",), "sqrt": ("0.5/y",),
    "abs": ("sign(a)",), "leaky_relu": ("1 if a > 0 else c",),
}


# --- the steps ---------------------------------------------------------------------------

@dataclass
class Contribution:
    """What one step adds to one input's gradient: ``local * upstream``."""
    name: str            # "a" or "b": which input of the op
    node: AnyValue       # the input Value
    label: str
    local: float         # d node / d input
    amount: float        # local * upstream: added to the input's gradient
    formula: str = ""    # the local derivative as a formula, e.g. "1 - y**2"
    slot: int = -1       # the input's position in topological order (Trace.graph)


@dataclass
class Step:
    index: int           # 0 for the output, then in backward order
    node: AnyValue
    label: str
    op: str              # the op as a formula of its inputs a, b and constant, e.g. "a * 2"
    data: float
    upstream: float      # d output / d node, complete when this step runs
    inputs: list[Contribution] = field(default_factory=list)
    slot: int = -1       # the node's position in topological order (Trace.graph)

    def __str__(self) -> str:
        head = (f"step {self.index}: {self.label} = {self.op} = {fmt(self.data)}, "
                f"upstream grad d out/d {self.label} = {fmt(self.upstream)}")
        if not self.inputs:
            return head + " (a leaf: its gradient is complete)"
        lines = [head]
        for c in self.inputs:
            lines.append(f"    {c.name} = {c.label}: local derivative d({self.op})/d{c.name} = "
                         f"{fmt(c.local)}; adds {fmt(c.local)} * {fmt(self.upstream)} = "
                         f"{fmt(c.amount)} to the grad of {c.label}")
        return "\n".join(lines)


class Trace:
    """The backward pass of one output, as a sequence of ``Step``s (iterable,
    indexable); ``str()`` is the table; ``step_through()`` shows one step at a time.
    ``graph`` is the graph (``microinit.viz.graph.Graph``, topological order) with the
    traced gradients; ``html()``/``save_html(path)`` the clickable page."""

    def __init__(self, steps: list[Step], output: AnyValue, graph: Graph | None = None) -> None:
        self.steps = steps
        self.output = output
        self.graph = graph

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Trace of {len(self.steps)} steps, output {self.output!r}>"

    def html(self, title: str = "microinit trace") -> str:
        """The step-through page: one self-contained HTML document (see ``microinit.viz.html``)."""
        from microinit.viz.html import trace_page

        return trace_page(self, title)

    def _repr_html_(self) -> str:
        # inline in Jupyter: the same page in a sandboxed iframe (see microinit.viz.html)
        from microinit.viz.html import notebook_frame

        return notebook_frame(self)

    def save_html(self, path: str | os.PathLike[str], title: str = "microinit trace") -> str:
        """Write ``html()`` to ``path`` (atomically); returns the path."""
        return atomic_write(path, self.html(title))

    def table(self, width: int = 12) -> str:
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
                     f"{fmt(s.data):>{width}}  {fmt(s.upstream):>{width}}  ")
            if not s.inputs:
                lines.append(first + f"{'(leaf)':<{lw}}")
                continue
            for k, c in enumerate(s.inputs):
                lead = first if k == 0 else " " * len(first)
                lines.append(lead + f"{_cut(c.label, lw):<{lw}}  {fmt(c.local):>{width}}  "
                             f"{fmt(c.amount):>{width}}")
        return "\n".join(lines)

    def step_through(self, wait: Callable[[str], object] = input, out: Callable[[str], object] = print) -> None:
        """Print one step at a time, calling ``wait()`` (Enter) between steps."""
        for s in self.steps:
            out(str(s))
            if s is not self.steps[-1]:
                try:
                    wait("  -- Enter for the next step --")
                except EOFError:   # not interactive: just go on
                    pass




def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def trace(value: AnyValue, max_nodes: int = MAX_NODES) -> Trace:
    """The backward pass of ``value`` (a ``microinit.Value`` or a readable
    ``microinit.scalar.engine.Value``) as a ``Trace``; see the module docstring."""
    tape = ScalarTape(value, max_nodes, "trace")
    grads = tape.gradients()
    local = tape.local()
    texts = tape.op_texts()
    nodes, labels = tape.nodes, tape.labels
    steps: list[Step] = []
    for k, i in enumerate(range(len(nodes) - 1, -1, -1)):
        formulas = LOCAL_FORMULA.get(tape.ops[i], ())
        contribs: list[Contribution] = []
        for port, (slot, name) in enumerate(zip(tape.inputs[i], "ab")):
            if slot >= 0:
                d = float(local[i][port])
                contribs.append(Contribution(name, nodes[slot], labels[slot], d, float(d * grads[i]),
                                             formulas[port], slot))
        steps.append(Step(k, nodes[i], labels[i], texts[i], tape.values[i], float(grads[i]), contribs, i))
    return Trace(steps, value, tape.graph(grads))

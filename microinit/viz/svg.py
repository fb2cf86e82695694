"""``draw(root)``: a picture of a graph, as SVG laid out by microinit itself.

No Graphviz program is needed: the layout is ``microinit.viz.layout`` and the SVG is
written here, self-contained (inline style, no fonts or images fetched). Every node is
a box with its label and op, its data and its grad; an arrow runs from each input to
the node that uses it (labelled ``a``/``b`` where an op has two inputs).

    >>> from microinit import Value
    >>> x = Value(2.0, label="x"); w = Value(-3.0, label="w")
    >>> y = (x * w).tanh(); y.label = "y"; y.backward()
    >>> d = draw(y)
    >>> text = d.svg()
    >>> text.startswith("<svg") and 'data-node="x"' in text and ">-7.373e-05<" in text   # x.grad
    True

In Jupyter the object shows itself (``_repr_svg_``); ``d.save("graph.svg")`` writes the
SVG, ``.dot`` Graphviz text, ``.png`` a raster drawn with matplotlib (the ``plot``
extra) from the same layout.
"""
from __future__ import annotations

import os
from typing import Sequence
from xml.sax.saxutils import escape, quoteattr

from microinit._atomic import atomic_write
from microinit.tensor import Tensor
from microinit.viz.graph import MAX_NODES, AnyValue, Graph, GraphNode, fmt, graph_of
from microinit.viz.layout import Layout, Point, layered

FONT_SIZE = 12
CHAR_WIDTH = 7.3        # advance of one monospace character at FONT_SIZE (DejaVu Sans Mono: 0.602 em)
LINE_HEIGHT = 16
PAD = 8
DIGITS = 4              # significant digits of data and grad in the boxes

STYLE = """
.mi-graph { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
.mi-graph .node rect { fill: #ffffff; stroke: #445; stroke-width: 1.2; rx: 4; }
.mi-graph .node .title { font-weight: bold; fill: #111; }
.mi-graph .node .op { fill: #6a3d9a; }
.mi-graph .node .data { fill: #1f4e79; }
.mi-graph .node .grad { fill: #a33; }
.mi-graph .edge { fill: none; stroke: #889; stroke-width: 1.3; }
.mi-graph .port { fill: #667; font-size: 10px; }
.mi-graph .arrow { fill: #889; }
"""


def node_lines(node: GraphNode) -> list[str]:
    """The three lines of text in a node's box: label and op, data, grad."""
    head = node.label if node.op == "leaf" else f"{node.label} = {node.op}"
    return [head, f"data {fmt(node.data, DIGITS)}", f"grad {fmt(node.grad, DIGITS)}"]


def box_size(lines: Sequence[str]) -> tuple[float, float]:
    return (max(len(s) for s in lines) * CHAR_WIDTH + 2 * PAD, len(lines) * LINE_HEIGHT + PAD)


def layout_of(graph: Graph) -> Layout:
    """The ``Layout`` of a ``Graph``: boxes sized to their text."""
    sizes = [box_size(node_lines(n)) for n in graph.nodes]
    return layered([n.inputs for n in graph.nodes], sizes)


def _path(points: Sequence[Point]) -> str:
    # a smooth curve through the points, leaving and entering each one horizontally; the
    # last piece stops short so that the arrowhead ends on the box's edge
    parts = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for k in range(1, len(points)):
        (x0, y0), (x1, y1) = points[k - 1], points[k]
        end = x1 - 6 if k == len(points) - 1 else x1
        mid = (x0 + x1) / 2
        parts.append(f"C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {end:.1f},{y1:.1f}")
    return " ".join(parts)


def _node_text(node: GraphNode) -> list[str]:
    """The three <text> lines of a node's box; data and grad values sit in tspans of class
    data-value/grad-value, which the trace page rewrites as it steps."""
    def baseline(k: int) -> str:
        return f'x="{PAD}" y="{PAD / 2 + LINE_HEIGHT * (k + 1) - 4:.1f}"'

    title = f'<tspan class="title">{escape(node.label)}</tspan>'
    if node.op != "leaf":
        title += f'<tspan class="op"> = {escape(node.op)}</tspan>'
    lines = [f"<text {baseline(0)}>{title}</text>"]
    for k, part in ((1, "data"), (2, "grad")):
        value = fmt(getattr(node, part), DIGITS)
        lines.append(f'<text {baseline(k)} class="{part}">{part} '
                     f'<tspan class="{part}-value">{escape(value)}</tspan></text>')
    return lines


def render(graph: Graph, layout: Layout | None = None, standalone: bool = True,
           css_class: str = "mi-graph") -> str:
    """SVG text of ``graph``. ``standalone`` adds the XML namespace (a file of its own);
    inline in HTML it is left out, so the page holds no URL at all."""
    layout = layout or layout_of(graph)
    w, h = layout.width, layout.height
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out = [f'<svg{ns} class="{css_class}" width="{w:.0f}" height="{h:.0f}" '
           f'viewBox="0 0 {w:.0f} {h:.0f}" role="img">',
           f"<style>{STYLE}</style>",
           '<defs><marker id="mi-arrow" viewBox="0 0 10 10" refX="2" refY="5" markerWidth="8" '
           'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
           '<path class="arrow" d="M0,0 L10,5 L0,10 z"/></marker></defs>',
           f'<rect width="{w:.0f}" height="{h:.0f}" fill="#fafafa"/>']
    for e in layout.edges:
        out.append(f'<path class="edge" data-from="{e.source}" data-to="{e.target}" '
                   f'd="{_path(e.points)}" marker-end="url(#mi-arrow)"/>')
        if len(graph.nodes[e.target].inputs) == 2:
            x, y = e.points[-1]
            out.append(f'<text class="port" x="{x - 14:.1f}" y="{y - 3:.1f}">{"ab"[e.port]}</text>')
    for node, box in zip(graph.nodes, layout.boxes):
        out.append(f'<g class="node" id="node-{node.index}" data-node={quoteattr(node.label)} '
                   f'data-index="{node.index}" transform="translate({box.x:.1f},{box.y:.1f})">')
        out.append(f'<rect width="{box.width:.1f}" height="{box.height:.1f}"/>')
        out.extend(_node_text(node))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_dot_text(graph: Graph, rankdir: str = "LR") -> str:
    """Graphviz DOT text of a ``Graph``: one record per node (label, data, grad) and one
    small ellipse per op, as micrograd draws it."""
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"to_dot: rankdir must be LR, TB, RL or BT, got {rankdir!r}")
    lines = ["digraph microinit {", f"  rankdir={rankdir};", '  node [fontname="monospace"];']
    for n in graph.nodes:
        text = (f"{{ {dot_escape(n.label)} | data {dot_escape(fmt(n.data))} | "
                f"grad {dot_escape(fmt(n.grad))} }}")
        lines.append(f'  n{n.index} [shape=record, label="{text}"];')
        if n.op != "leaf":
            lines.append(f'  n{n.index}op [shape=ellipse, label="{dot_escape(n.op)}"];')
            lines.append(f"  n{n.index}op -> n{n.index};")
            for k in n.inputs:
                lines.append(f"  n{k} -> n{n.index}op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_escape(text: object) -> str:
    out = str(text)
    for ch in ("\\", '"', "{", "}", "|", "<", ">"):
        out = out.replace(ch, "\\" + ch)
    return out


class Drawing:
    """A laid-out graph: ``svg()``, ``dot()``, ``save(path)``; Jupyter shows it as SVG."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.layout = layout_of(graph)

    def __repr__(self) -> str:
        return (f"<Drawing of {len(self.graph.nodes)} nodes, "
                f"{self.layout.width:.0f}x{self.layout.height:.0f} px>")

    def svg(self) -> str:
        """The SVG text (a complete file)."""
        return render(self.graph, self.layout)

    def _repr_svg_(self) -> str:
        return self.svg()

    def dot(self, rankdir: str = "LR") -> str:
        """Graphviz DOT text of the same graph."""
        return to_dot_text(self.graph, rankdir)

    def png(self, dpi: int = 100) -> bytes:
        """PNG bytes drawn with matplotlib from the same layout (needs the ``plot`` extra)."""
        from microinit.viz.png import render_png

        return render_png(self.graph, self.layout, dpi=dpi)

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the drawing; the extension picks the format: ``.svg``, ``.dot`` (or
        ``.gv``) or ``.png``. Returns the path."""
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext == ".svg":
            return atomic_write(path, self.svg())
        if ext in (".dot", ".gv"):
            return atomic_write(path, self.dot())
        if ext == ".png":
            return atomic_write(path, self.png())
        raise ValueError(f"Drawing.save: unknown extension {ext or '(none)'!r} in {os.fspath(path)!r}; "
                         "use .svg, .dot or .png")


def draw(root: AnyValue | Tensor, max_nodes: int = MAX_NODES) -> Drawing:
    """A ``Drawing`` of the graph that ends at ``root``: a ``microinit.Value``, a readable
    ``microinit.scalar.engine.Value`` or a ``microinit.Tensor`` (shapes and norms shown
    instead of numbers; draw a Tensor graph before ``backward()`` frees it, or use
    ``retain_graph=True``). Data and grad are shown as they are now. Graphs of more than
    ``max_nodes`` nodes are refused with a ValueError."""
    return Drawing(graph_of(root, max_nodes, "draw"))

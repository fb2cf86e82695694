"""A ``Drawing`` as PNG, drawn with matplotlib from the same layout as the SVG.

No Graphviz and no SVG renderer: boxes, text and curved edges are matplotlib patches
placed at the layout's pixel coordinates (one pixel per unit at ``dpi=100``), so the PNG
matches the SVG. Needs matplotlib (the ``plot`` extra); without it, ImportError says how
to install it.

    >>> from microinit import Value, draw
    >>> y = Value(2.0, label="x") * 3.0
    >>> draw(y).png()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

from microinit.diagnostics import require_matplotlib
from microinit.viz.svg import FONT_SIZE, LINE_HEIGHT, PAD, node_lines

if TYPE_CHECKING:  # annotations only
    from microinit.viz.graph import Graph
    from microinit.viz.layout import Layout

COLOURS = {"title": "#111111", "data": "#1f4e79", "grad": "#aa3333", "edge": "#888899", "box": "#444455"}


def _edge_path(points: Sequence[tuple[float, float]]) -> tuple[list[tuple[float, float]], list[int]]:
    # the same curve as svg._path: horizontal tangents at every point
    verts, codes = [points[0]], [1]                       # 1 = MOVETO, 4 = CURVE4
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        mid = (x0 + x1) / 2
        verts += [(mid, y0), (mid, y1), (x1, y1)]
        codes += [4, 4, 4]
    return verts, codes


def render_png(graph: Graph, layout: Layout, dpi: int = 100) -> bytes:
    """PNG bytes of ``graph`` placed by ``layout``."""
    try:
        require_matplotlib()
    except ImportError as err:
        raise ImportError(f"Drawing.png / save('....png'): {err}; or save as .svg, which needs "
                          "nothing") from None
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
    from matplotlib.path import Path

    w, h = layout.width, layout.height
    fig = Figure(figsize=(w / 100, h / 100), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)                                     # y down, as in SVG
    ax.axis("off")
    fig.patch.set_facecolor("#fafafa")
    points_per_px = 72 / 100                              # font sizes in points, layout in pixels
    for e in layout.edges:
        verts, codes = _edge_path(e.points)
        ax.add_patch(PathPatch(Path(verts, codes), fill=False, edgecolor=COLOURS["edge"], linewidth=1.0))
        x, y = e.points[-1]
        ax.add_patch(Polygon([(x, y), (x - 7, y - 3.5), (x - 7, y + 3.5)], closed=True,
                             facecolor=COLOURS["edge"], edgecolor="none"))
    for node, box in zip(graph.nodes, layout.boxes):
        ax.add_patch(FancyBboxPatch((box.x, box.y), box.width, box.height, boxstyle="round,pad=0,rounding_size=4",
                                    facecolor="white", edgecolor=COLOURS["box"], linewidth=1.0))
        for k, (part, line) in enumerate(zip(("title", "data", "grad"), node_lines(node))):
            ax.text(box.x + PAD, box.y + PAD / 2 + LINE_HEIGHT * (k + 1) - 4, line, family="monospace",
                    fontsize=FONT_SIZE * points_per_px, color=COLOURS[part],
                    fontweight="bold" if part == "title" else "normal", va="baseline", ha="left")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    return buffer.getvalue()

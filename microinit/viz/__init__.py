"""Teaching visuals: ``draw`` a graph as SVG, ``trace`` backpropagation step by step.

- ``draw(root)`` (``svg.py``): a ``Drawing`` of the graph of a ``microinit.Value``, a
  readable ``microinit.scalar.engine.Value`` or a small ``microinit.Tensor``, laid out by
  ``layout.py`` (no Graphviz needed): ``.svg()``, ``.save("g.svg" | "g.dot" | "g.png")``,
  shown inline by Jupyter.
- ``trace(root)`` (``steps.py``): the backward pass as steps (a text table), and as one
  self-contained clickable page (``html.py``): ``.save_html(path)``, inline in Jupyter.
- ``graph.py`` reads the three kinds of graph into one shape; ``dot.py`` is Graphviz
  output; ``expression.py`` and ``command.py`` are ``microinit trace "EXPR"``.

    >>> import microinit
    >>> x = microinit.Value(3.0, label="x"); y = x * x; y.label = "y"
    >>> len(microinit.trace(y)), microinit.draw(y).svg().count("data-node=")
    (2, 2)
"""
from microinit.viz.dot import to_dot, to_png, to_svg  # noqa: F401
from microinit.viz.expression import ExpressionError, parse_expression  # noqa: F401
from microinit.viz.steps import Contribution, Step, Trace, trace  # noqa: F401
from microinit.viz.svg import Drawing, draw  # noqa: F401

__all__ = ["draw", "Drawing", "trace", "Trace", "Step", "Contribution", "to_dot", "to_svg", "to_png",
           "parse_expression", "ExpressionError"]

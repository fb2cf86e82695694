"""Graphviz output: ``to_dot(y)`` text, and ``to_svg``/``to_png`` rendered by Graphviz's
``dot`` program when it is installed (``draw(y)`` needs no program at all).

    >>> from microinit import Value
    >>> x = Value(2.0, label="x"); y = x * x; y.label = "y"
    >>> print(to_dot(y), end="")
    digraph microinit {
      rankdir=LR;
      node [fontname="monospace"];
      n0 [shape=record, label="{ x | data 2 | grad 0 }"];
      n1 [shape=record, label="{ y | data 4 | grad 0 }"];
      n1op [shape=ellipse, label="a * b"];
      n1op -> n1;
      n0 -> n1op;
      n0 -> n1op;
    }
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from microinit._atomic import atomic_write
from microinit.viz.graph import MAX_NODES, graph_of
from microinit.viz.svg import to_dot_text


def to_dot(value: Any, rankdir: str = "LR", max_nodes: int = MAX_NODES) -> str:
    """Graphviz DOT text of ``value``'s graph (a Value of either engine, or a Tensor): one
    record per node with its label, data and grad (as they are now), and one small node
    per op, as micrograd draws it."""
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"to_dot: rankdir must be LR, TB, RL or BT, got {rankdir!r}")
    return to_dot_text(graph_of(value, max_nodes, "to_dot"), rankdir)


def render_with_graphviz(value: Any, fmt: str, path: str | os.PathLike[str] | None) -> bytes:
    """``value``'s graph rendered by Graphviz's ``dot`` as ``fmt`` bytes (written to
    ``path`` if given); RuntimeError when ``dot`` is not installed or fails."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"to_{fmt}: Graphviz's `dot` program was not found on PATH. Install Graphviz "
            "(e.g. `apt install graphviz` or `brew install graphviz`), write the text of "
            "to_dot() to a file and render it elsewhere, or use microinit.draw(), which needs "
            "no program.")
    proc = subprocess.run([dot, f"-T{fmt}"], input=to_dot(value).encode(), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"to_{fmt}: dot failed: {proc.stderr.decode(errors='replace').strip()}")
    if path is not None:
        atomic_write(path, proc.stdout)
    return proc.stdout


def to_svg(value: Any, path: str | os.PathLike[str] | None = None) -> bytes:
    """SVG bytes of the graph (written to ``path`` if given); needs Graphviz's ``dot``."""
    return render_with_graphviz(value, "svg", path)


def to_png(value: Any, path: str | os.PathLike[str] | None = None) -> bytes:
    """PNG bytes of the graph (written to ``path`` if given); needs Graphviz's ``dot``."""
    return render_with_graphviz(value, "png", path)

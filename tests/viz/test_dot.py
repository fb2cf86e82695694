"""Graphviz output: to_dot text, and to_svg/to_png through Graphviz's dot (was tests/test_trace.py)."""
import shutil

import pytest

from microinit import Value
from microinit.viz import dot as tr


def test_to_dot_text(neuron):
    o, _ = neuron()
    o.backward()
    dot = tr.to_dot(o)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("shape=record") == 10 and dot.count("shape=ellipse") == 5
    assert "{ w1 | data -3 | grad 1 }" in dot
    weird = Value(1.0, label='a"|{b}<c>')
    assert '\\"' in tr.to_dot(weird * 2.0) and "\\|" in tr.to_dot(weird * 2.0)
    with pytest.raises(ValueError, match="rankdir"):
        tr.to_dot(o, rankdir="sideways")


def test_to_svg_needs_graphviz(neuron, monkeypatch, tmp_path):
    o, _ = neuron()
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="`dot` program was not found"):
            tr.to_svg(o)
    else:
        svg = tr.to_svg(o, tmp_path / "g.svg")
        assert b"<svg" in svg and (tmp_path / "g.svg").read_bytes() == svg
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Install Graphviz"):
        tr.to_png(o)

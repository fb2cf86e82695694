"""microinit.draw: a self-contained SVG laid out by microinit, and .save as svg/dot/png."""
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import microinit as mi
from microinit.scalar.engine import Value as ReadableValue

SVG = "{http://www.w3.org/2000/svg}"


def _labels_in(svg_text):
    root = ET.fromstring(svg_text)           # parses as XML, or raises
    assert root.tag == SVG + "svg"
    return [g.get("data-node") for g in root.iter(SVG + "g") if g.get("data-node") is not None]


@pytest.mark.parametrize("cls", [mi.Value, ReadableValue])
def test_svg_parses_and_shows_every_node(neuron, cls):
    o, v = neuron(cls)
    o.backward()
    d = mi.draw(o)
    text = d.svg()
    assert d._repr_svg_() == text
    labels = _labels_in(text)
    assert sorted(labels) == sorted(n.label for n in d.graph.nodes) and len(labels) == 10
    assert {"x1", "x2", "w1", "w2", "b", "n", "o"} <= set(labels)
    assert "tanh(a)" in text and ">-1.5<" in text and ">0.7071<" in text   # op, x1.grad, o.data
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in text and "href=\"http" not in text


def test_labels_are_escaped():
    x = mi.Value(1.0, label='<b>&"x"</b>')
    text = mi.draw(x * 2.0).svg()
    assert sorted(_labels_in(text)) == ["#1", '<b>&"x"</b>']


def test_tensor_graph_draws_shapes_and_norms():
    x = mi.tensor(np.array([[3.0, 4.0]]), requires_grad=True)
    w = mi.tensor(np.ones((2, 3)), requires_grad=True)
    y = (x @ w).relu().sum()
    text = mi.draw(y).svg()
    labels = _labels_in(text)
    assert len(labels) == 5
    assert "(1, 2) float64 |x| " in text and y.grad_fn in text


def test_a_large_tensor_graph_is_refused():
    t = mi.tensor([1.0], requires_grad=True)
    for _ in range(600):
        t = t * 1.0
    with pytest.raises(ValueError, match="draw: the Tensor graph has more than max_nodes=500"):
        mi.draw(t)
    with pytest.raises(TypeError, match="draw: expected a microinit Value"):
        mi.draw([1.0])


def test_save_picks_the_format_by_extension(neuron, tmp_path):
    o, _ = neuron()
    o.backward()
    d = mi.draw(o)
    assert d.save(tmp_path / "g.svg") == str(tmp_path / "g.svg")
    assert _labels_in((tmp_path / "g.svg").read_text())
    d.save(tmp_path / "g.dot")
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph") and "{ w1 | data -3 | grad 1 }" in dot
    with pytest.raises(ValueError, match="unknown extension '.jpg'"):
        d.save(tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="unknown extension '\\(none\\)'"):
        d.save(tmp_path / "g")


def test_png_is_drawn_with_matplotlib(neuron, tmp_path):
    pytest.importorskip("matplotlib")
    o, _ = neuron()
    d = mi.draw(o)
    d.save(tmp_path / "g.png")
    data = (tmp_path / "g.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert abs(width - d.layout.width) <= 1 and abs(height - d.layout.height) <= 1   # one px per unit


def test_png_without_matplotlib_says_how_to_get_it(neuron, monkeypatch, tmp_path):
    o, _ = neuron()
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib -> ImportError
    with pytest.raises(ImportError, match="needs matplotlib.*or save as .svg"):
        mi.draw(o).save(tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()

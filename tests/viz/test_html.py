"""The step-through page of microinit.trace, checked as text and clicked through in a real
headless Chromium (tests/browser.py): every data-grad is the engine's gradient, #prev goes
back, no console errors, no request to anything but the file itself."""
import html
import json
import math
import re
import subprocess
import sys

import pytest

import browser
import microinit as mi
from microinit.scalar.engine import Value as ReadableValue
from microinit.viz.graph import graph_of
from microinit.viz.html import trace_page
from microinit.viz.steps import Trace

browser_page = browser.browser_page  # the shared fixture

NODES = "[data-node]"
GRADED = "els => els.filter(e => e.hasAttribute('data-grad')).map(e => e.getAttribute('data-node'))"
PAIRS = "els => els.map(e => [e.getAttribute('data-node'), e.getAttribute('data-grad')])"


def shared_and_odd_labels(cls):
    """x used three times, constants, a division and a label that tries to close the script."""
    x = cls(1.5, label="x")
    w = cls(-0.75, label='</script><b>"w"</b>')
    y = ((x * x + x) / (w * w + 1.0)).sigmoid() - x
    y.label = "y"
    return y


def _expected_grads(root):
    root.backward()
    return {n.label: n.grad for n in graph_of(root).nodes}


# --- the page as text -------------------------------------------------------------------------

def test_the_page_is_self_contained(neuron):
    o, _ = neuron()
    page = mi.trace(o).html()
    assert "://" not in page and "http" not in page
    assert not re.search(r"\s(src|href)\s*=", page, re.I)
    assert "<script>" in page and "<style>" in page and page.count("<svg") == 1
    assert len(re.findall(r"\bdata-node=", page)) == 10
    assert 'id="next"' in page and 'id="prev"' in page and '<span id="step">0 / 20</span>' in page


def test_labels_cannot_break_out_of_the_script():
    y = shared_and_odd_labels(mi.Value)
    page = mi.trace(y).html()
    assert page.count("</script>") == 2           # the JSON's and the code's: nothing from a label
    data = page.split('<script type="application/json" id="trace-steps">')[1].split("</script>")[0]
    steps = json.loads(data)
    assert any('</script><b>"w"</b>' in line for s in steps for line in s["lines"])
    assert "data-node='&lt;/script&gt;&lt;b&gt;\"w\"&lt;/b&gt;'" in page and '<b>"w"' not in page


def test_repr_html_is_a_sandboxed_frame_and_save_html_writes_the_page(neuron, tmp_path):
    o, _ = neuron()
    t = mi.trace(o)
    frame = t._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in frame
    assert html.unescape(frame.split('srcdoc="')[1].split('" sandbox')[0]) == t.html()
    assert t.save_html(tmp_path / "t.html") == str(tmp_path / "t.html")
    assert (tmp_path / "t.html").read_text(encoding="utf-8") == t.html()
    with pytest.raises(ValueError, match="has no graph"):
        trace_page(Trace(t.steps, o))


# --- the page in a browser --------------------------------------------------------------------

def click_through(page, path, expected):
    """Open ``path``, click #next to the end and #prev back to the start, checking the DOM
    contract at every step; ``expected``: label -> the engine's gradient."""
    page.goto(path.as_uri())
    n = len(page.query_selector_all(NODES))
    assert n == len(expected)
    total = 2 * n                                   # n forward steps, then n backward steps
    assert page.text_content("#step") == f"0 / {total}"
    assert page.is_disabled("#prev") and page.eval_on_selector_all(NODES, GRADED) == []
    order = []                                      # labels in the order they got data-grad
    for k in range(1, total + 1):
        page.click("#next")
        assert page.text_content("#step") == f"{k} / {total}"
        graded = page.eval_on_selector_all(NODES, GRADED)
        assert len(graded) == max(0, k - n)         # only backprop sets data-grad, one per step
        new = [g for g in graded if g not in order]
        assert len(new) == (1 if k > n else 0)
        order += new
    assert page.is_disabled("#next")
    for label, grad in page.eval_on_selector_all(NODES, PAIRS):
        assert float(grad) == pytest.approx(expected[label], rel=1e-12, abs=0.0), label
    for k in range(total - 1, -1, -1):
        page.click("#prev")
        assert page.text_content("#step") == f"{k} / {total}"
        assert sorted(page.eval_on_selector_all(NODES, GRADED)) == sorted(order[: max(0, k - n)])
    assert page.is_disabled("#prev")
    return order


@pytest.mark.parametrize("cls", [mi.Value, ReadableValue], ids=["compiled", "readable"])
def test_click_through_the_neuron(browser_page, neuron, cls, tmp_path):
    o, v = neuron(cls)
    path = tmp_path / "trace.html"
    mi.trace(o).save_html(path)
    assert all(x.grad == 0.0 for x in v.values())       # trace ran its own backward
    order = click_through(browser_page, path, _expected_grads(o))
    assert order[0] == "o"                               # backprop starts at the output
    browser.assert_clean(browser_page)


@pytest.mark.parametrize("cls", [mi.Value, ReadableValue], ids=["compiled", "readable"])
def test_click_through_shared_nodes_and_odd_labels(browser_page, cls, tmp_path):
    y = shared_and_odd_labels(cls)
    path = tmp_path / "trace.html"
    mi.trace(y).save_html(path)
    expected = _expected_grads(y)
    assert len(expected) == len(graph_of(y).nodes)       # the labels are unique here
    click_through(browser_page, path, expected)
    text = browser_page.text_content("#explain")
    assert "Press next" in text
    browser_page.keyboard.press("ArrowRight")
    assert browser_page.text_content("#step").startswith("1 / ")
    browser.assert_clean(browser_page)


def test_the_command_writes_the_same_page(browser_page, tmp_path):
    path = tmp_path / "cli.html"
    proc = subprocess.run([sys.executable, "-m", "microinit", "trace", "tanh(x*w + 1)", "--var", "x=2",
                           "--var", "w=0.25", "--html", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"step-through page written to {path}" in proc.stdout
    x, w = mi.Value(2.0, label="x"), mi.Value(0.25, label="w")
    xw = x * w
    xw.label = "x*w"
    s = xw + 1
    s.label = "x*w + 1"
    y = s.tanh()
    y.label = "tanh(x*w + 1)"
    click_through(browser_page, path, _expected_grads(y))
    browser.assert_clean(browser_page)


def test_non_finite_gradients_reach_the_page(browser_page, tmp_path):
    # log(0) = -inf with d/dx = inf; sqrt(-1) = nan: the page carries them as Python writes them
    x = mi.Value(0.0, label="x")
    z = mi.Value(-1.0, label="z")
    y = x.log() * 2.0 + z.sqrt()
    y.label = "y"
    path = tmp_path / "trace.html"
    mi.trace(y).save_html(path)
    expected = _expected_grads(y)
    browser_page.goto(path.as_uri())
    for _ in range(2 * len(expected)):
        browser_page.click("#next")
    got = dict(browser_page.eval_on_selector_all(NODES, PAIRS))
    assert got["x"] == "inf" and float(got["x"]) == expected["x"]
    assert got["z"] == "nan" and math.isnan(expected["z"])
    browser.assert_clean(browser_page)

"""Step-through backprop: trace(), to_dot/to_svg, and the `microinit trace` command."""
import argparse
import doctest
import importlib
import io
import math
import shutil
import subprocess
import sys

import pytest

from microinit import Value
from microinit import trace as tr


def neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, n=n)


def test_trace_steps_are_the_chain_rule():
    o, v = neuron()
    steps = tr.trace(o)
    assert len(steps) == 10
    first = steps[0]
    assert first.label == "o" and first.op == "tanh(a)" and first.upstream == 1.0
    (c,) = first.inputs
    assert c.label == "n" and c.local == pytest.approx(1 - o.data ** 2, rel=1e-12)
    assert c.amount == pytest.approx(0.5, rel=1e-9)
    # reverse topological order: a node's step comes before the steps of its inputs,
    # and its upstream gradient equals the sum of what its users added
    order = {id(s.node): k for k, s in enumerate(steps)}
    added = {}
    for s in steps:
        for c in s.inputs:
            assert order[id(c.node)] > order[id(s.node)]
            added[id(c.node)] = added.get(id(c.node), 0.0) + c.amount
    for s in steps[1:]:
        assert s.upstream == pytest.approx(added[id(s.node)], rel=1e-12)
    # the leaves' upstream gradients are the gradients backward() computes
    by_label = {s.label: s for s in steps}
    o.backward()
    for name in ("x1", "x2", "w1", "w2", "b"):
        assert by_label[name].upstream == pytest.approx(v[name].grad, rel=1e-12)
        assert by_label[name].inputs == []


def test_trace_does_not_touch_grads_and_iterates():
    o, v = neuron()
    steps = tr.trace(o)
    assert all(x.grad == 0.0 for x in v.values())
    assert [s.index for s in steps] == list(range(len(steps)))
    assert list(iter(steps))[3] is steps[3]
    table = str(steps)
    assert "upstream" in table and "local d" in table and "w1" in table
    assert len(table.splitlines()) == 2 + sum(max(1, len(s.inputs)) for s in steps)
    shown = []
    waits = []
    steps.step_through(wait=waits.append, out=shown.append)
    assert len(shown) == len(steps) and len(waits) == len(steps) - 1
    assert "adds" in shown[0]


def test_trace_unlabelled_nodes_and_constants():
    a = Value(3.0)
    y = (a - 1.0) * 2.0
    steps = tr.trace(y)
    assert steps[0].op == "a * 2" and steps[1].op == "a - 1"
    assert steps[-1].label == "#0"
    with pytest.raises(TypeError, match="expected a microinit Value"):
        tr.trace(3.0)


def test_to_dot_text():
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


def test_to_svg_needs_graphviz(monkeypatch, tmp_path):
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


# --- the expression parser -----------------------------------------------------------------

def test_parse_expression_builds_the_graph():
    y, leaves = tr.parse_expression("tanh(x1*w1 + x2*w2 + b)",
                                    dict(x1=2, x2=0, w1=-3, w2=1, b=6.8813735870195432))
    assert y.data == pytest.approx(math.tanh(2 * -3 + 6.8813735870195432), rel=1e-15)
    assert set(leaves) == {"x1", "x2", "w1", "w2", "b"}
    assert y.label == "tanh(x1*w1 + x2*w2 + b)"
    y2, _ = tr.parse_expression("-x ** 2 / 4 + leaky_relu(x - 3, 0.2) + sqrt(abs(x)) "
                                "+ exp(log(x)) + sigmoid(x) + relu(-x) + 2 ** 3", {"x": 2.0})
    expected = (-(2.0 ** 2) / 4 + 0.2 * (2.0 - 3) + math.sqrt(2.0) + 2.0
                + 1 / (1 + math.exp(-2.0)) + 0.0 + 8.0)
    assert y2.data == pytest.approx(expected, rel=1e-14)
    y3, leaves3 = tr.parse_expression("3 * 4", {})
    assert y3.data == 12.0 and leaves3 == {}


@pytest.mark.parametrize("expr,message", [
    ("x +", "invalid syntax"),
    ("x + (3", "never closed"),
    ("x.data", "Attribute is not allowed"),
    ("__import__('os').system('true')", "unknown function"),
    ("open('f')", "unknown function"),
    ("x if x else 1", "IfExp is not allowed"),
    ("x ** y", "exponent of \\*\\* must be a number"),
    ("z * 2", "unknown variable 'z'"),
    ("'a' * x", "only numbers"),
    ("True + x", "only numbers"),
    ("x // 2", "FloorDiv is not allowed"),
    ("tanh(x, 2)", "takes 1 argument"),
    ("tanh(x=1)", "keyword arguments"),
    ("tanh + x", "is a function"),
    ("leaky_relu(x, y)", "slope of leaky_relu must be a number"),
    ("[x]", "List is not allowed"),
    ("", "empty expression"),
])
def test_parse_errors_name_the_position(expr, message):
    with pytest.raises(tr.ExpressionError, match=message):
        tr.parse_expression(expr, {"x": 1.0, "y": 2.0})


def test_error_message_points_at_the_column():
    with pytest.raises(tr.ExpressionError) as err:
        tr.parse_expression("x + foo(x)", {"x": 1.0})
    text = str(err.value)
    assert "(column 5)" in text and text.splitlines()[-1] == "      ^"


# --- the command -------------------------------------------------------------------------

def _args(expr, *var, dot=None, step=False):
    p = argparse.ArgumentParser()
    tr.add_arguments(p)
    argv = [expr] + [f"--var={v}" for v in var] + (["--dot", dot] if dot else []) + (["--step"] if step else [])
    return p.parse_args(argv)


def test_run_prints_the_table_and_gradients(tmp_path):
    out = io.StringIO()
    dot = tmp_path / "g.dot"
    rc = tr.run(_args("tanh(x1*w1 + x2*w2 + b)", "x1=2", "x2=0", "w1=-3", "w2=1",
                      "b=6.8813735870195432", dot=str(dot)), out=out)
    text = out.getvalue()
    assert rc == 0
    assert "= 0.707107" in text and "d out/d w1 = 1" in text and "d out/d x1 = -1.5" in text
    assert dot.read_text().startswith("digraph")


def test_run_step_mode_waits_between_steps():
    out = io.StringIO()
    waits = []
    assert tr.run(_args("x * y + x", "x=3", "y=4", step=True), out=out, wait=waits.append) == 0
    assert len(waits) == 3                 # 4 steps (x*y + x, x*y, y, x), a wait between each
    assert "local derivative" in out.getvalue()


def test_run_bad_input_exit_code(capsys):
    assert tr.run(_args("x + ", "x=1")) == 2
    assert "invalid syntax" in capsys.readouterr().err
    assert tr.run(_args("x", "x=abc")) == 2
    assert "not a number" in capsys.readouterr().err
    assert tr.run(_args("x", "1x=2")) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_run_unwritable_dot_file(tmp_path, capsys):
    assert tr.run(_args("x * 2", "x=1", dot=str(tmp_path / "missing" / "g.dot"))) == 1
    assert "cannot write" in capsys.readouterr().err


def test_command_line_subprocess():
    proc = subprocess.run([sys.executable, "-m", "microinit", "trace", "relu(x*w) + 1",
                           "--var", "x=2", "--var", "w=-0.5"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "d out/d x = 0" in proc.stdout and "ReLU" not in proc.stdout
    assert "relu(a)" in proc.stdout


def test_run_svg_without_graphviz_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    target = tmp_path / "g.svg"
    assert tr.run(_args("x * 2", "x=1", dot=str(target))) == 1
    assert "`dot` program was not found" in capsys.readouterr().err
    assert not target.exists()


def test_docstring_examples_pass():
    result = doctest.testmod(importlib.import_module("microinit.trace"), verbose=False, report=False)
    assert result.failed == 0 and result.attempted > 0

"""Step-through backprop: microinit.trace() as steps and as a text table (was tests/test_trace.py)."""
import doctest
import importlib

import pytest

from microinit import Value
from microinit.viz import steps as tr


def test_trace_steps_are_the_chain_rule(neuron):
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


def test_trace_does_not_touch_grads_and_iterates(neuron):
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



def test_docstring_examples_pass():
    result = doctest.testmod(importlib.import_module("microinit.viz.steps"), verbose=False, report=False)
    assert result.failed == 0 and result.attempted > 0

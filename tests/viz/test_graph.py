"""microinit.viz.graph: one graph shape for the compiled Value, the readable Value and Tensor."""
import numpy as np
import pytest

import microinit as mi
from microinit.scalar.engine import Value as ReadableValue
from microinit.viz.graph import ScalarTape, graph_of, tensor_graph

ENGINES = [mi.Value, ReadableValue]


@pytest.mark.parametrize("cls", ENGINES)
def test_scalar_graph_is_topological_with_ops_data_and_grads(neuron, cls):
    o, v = neuron(cls)
    o.backward()
    g = graph_of(o)
    assert len(g.nodes) == 10 and g.kind == "value"
    assert g.nodes[-1].label == "o" and g.nodes[-1].op == "tanh(a)"
    by_label = {n.label: n for n in g.nodes}
    for name, value in v.items():
        assert by_label[name].data == value.data and by_label[name].grad == value.grad
    for n in g.nodes:
        assert all(k < n.index for k in n.inputs)
    assert by_label["n"].op == "a + b" and len(by_label["n"].inputs) == 2
    users = g.users()
    assert users[g.nodes.index(by_label["n"])] == [9]


def test_both_engines_give_the_same_graph(neuron):
    a, _ = neuron(mi.Value)
    b, _ = neuron(ReadableValue)
    ga, gb = graph_of(a), graph_of(b)
    assert [(n.label, n.op, n.inputs, n.data) for n in ga.nodes] == \
           [(n.label, n.op, n.inputs, n.data) for n in gb.nodes]


@pytest.mark.parametrize("cls", ENGINES)
def test_scalar_tape_gradients_match_backward_and_leave_grads_alone(neuron, cls):
    o, v = neuron(cls)
    tape = ScalarTape(o)
    grads = tape.gradients()
    assert all(x.grad == 0.0 for x in v.values())
    o.backward()
    for node, g in zip(tape.nodes, grads):
        assert g == node.grad            # the engine's own numbers, bit for bit
    local = tape.local()
    assert local[-1][0] == pytest.approx(1 - o.data ** 2, rel=1e-15)


def test_tensor_graph_shows_shapes_and_norms():
    x = mi.tensor(np.array([[3.0, 4.0]]), requires_grad=True)
    w = mi.tensor(np.ones((2, 3)), requires_grad=True)
    c = mi.tensor(np.full((1, 3), 2.0))                      # a constant: no grad
    y = ((x @ w) * c).sum()
    g = tensor_graph(y)
    assert g.kind == "tensor" and len(g.nodes) == 6
    ops = [n.op for n in g.nodes]
    assert ops.count("leaf") == 2 and ops.count("constant") == 1 and ops[-1] == y.grad_fn
    first = g.nodes[0]
    assert first.data == "(1, 2) float64 |x| 5" and first.grad == "none"
    y.backward(retain_graph=True)
    assert graph_of(y).nodes[0].grad == f"|g| {np.linalg.norm(x.grad):.4g}"


def test_refusals():
    with pytest.raises(TypeError, match="expected a microinit Value .* or a microinit.Tensor, got float"):
        graph_of(3.0)
    with pytest.raises(TypeError, match="trace: expected a microinit Value"):
        ScalarTape(np.float64(1.0))
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        graph_of(mi.Value(1.0), max_nodes=0)
    x = mi.Value(1.0)
    y = x
    for _ in range(20):
        y = y * 1.0
    with pytest.raises(ValueError, match="21 nodes, more than max_nodes=10"):
        graph_of(y, max_nodes=10)
    t = mi.tensor([1.0], requires_grad=True)
    s = t
    for _ in range(20):
        s = s * 2.0
    with pytest.raises(ValueError, match="Tensor graph has more than max_nodes=10"):
        graph_of(s, max_nodes=10)
    assert len(graph_of(s, max_nodes=21).nodes) == 21

"""microinit.scalar.nn: micrograd's Neuron/Layer/MLP with registry-initialized weights."""
import numpy as np
import pytest

from microinit import Value
from microinit import init
from microinit.scalar.nn import MLP, Layer, Neuron


def test_shapes_and_repr_match_micrograd():
    model = MLP(2, [16, 16, 1], rng=0)
    assert len(model.parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert repr(model).startswith("MLP of [Layer of [ReLUNeuron(2)")
    assert "LinearNeuron(16)" in repr(model)
    out = model([0.5, -1.0])
    assert isinstance(out, Value)
    assert len(Layer(3, 4, rng=0)([1.0, 2.0, 3.0])) == 4


def test_weights_come_from_the_registry_seeded():
    a = [p.data for p in MLP(3, [5, 2], rng=7).parameters()]
    b = [p.data for p in MLP(3, [5, 2], rng=7).parameters()]
    c = [p.data for p in MLP(3, [5, 2], rng=8).parameters()]
    assert a == b and a != c
    # layer 1 is exactly he_uniform((3, 5)) then zeros((5,)) from the same generator
    rng = np.random.default_rng(7)
    W = init.get("he_uniform")((3, 5), dtype=np.float64, rng=rng)
    layer = MLP(3, [5, 2], rng=7).layers[0]
    for j, neuron in enumerate(layer.neurons):
        assert [w.data for w in neuron.w] == W[:, j].tolist()
        assert neuron.b.data == 0.0
    bound = np.sqrt(6.0 / 3)
    assert all(abs(v) <= bound for v in a[:15])


def test_micrograd_uniform_and_other_specs():
    ws = [w.data for n in Layer(4, 50, weight_init="micrograd", rng=0).neurons for w in n.w]
    assert -1.0 <= min(ws) < -0.8 and 0.8 < max(ws) <= 1.0
    n = Neuron(3, weight_init=0.5, bias_init={"name": "constant", "value": 0.1})
    assert [w.data for w in n.w] == [0.5] * 3 and n.b.data == pytest.approx(0.1)
    with pytest.raises(ValueError, match="weight_init"):
        Neuron(3, weight_init="xavier_unifrom")


def test_neuron_builds_the_same_nodes_and_numbers_as_micrograd_code():
    n = Neuron(3, rng=1)
    x = [Value(0.3), Value(-1.2), Value(2.0)]
    fast = n(x)
    slow = sum((wi * xi for wi, xi in zip(n.w, x)), n.b).relu()
    assert fast.data == slow.data
    assert len(fast.tape()) == len(slow.tape())
    assert [t for t in fast.tape().ops.tolist()] == slow.tape().ops.tolist()
    fast.backward()
    g_fast = [w.grad for w in n.w]
    n.zero_grad()
    slow.backward()
    assert [w.grad for w in n.w] == g_fast
    # plain numbers as inputs work too (micrograd allows them)
    assert n([0.3, -1.2, 2.0]).data == fast.data


def test_wrong_input_size_is_an_error():
    n = Neuron(3, rng=0)
    with pytest.raises(ValueError, match=r"ReLUNeuron\(3\): expected 3 inputs, got 2"):
        n([1.0, 2.0])
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        MLP(2, [4, 1], rng=0)([1.0, 2.0, 3.0])
    with pytest.raises(TypeError):
        n([1.0, "a", 2.0])


def test_training_reduces_the_loss():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (30, 2)).tolist()
    y = [1.0 if a + b > 0 else -1.0 for a, b in X]
    model = MLP(2, [8, 1], rng=0)
    losses = []
    for k in range(15):
        scores = [model(row) for row in X]
        loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(X))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.5 * losses[0]

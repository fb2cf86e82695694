"""Shared graphs for the microinit.viz tests."""
import pytest

from microinit import Value


def build_neuron(cls=Value):
    """micrograd's neuron example, o = tanh(x1*w1 + x2*w2 + b), in either engine."""
    x1, x2 = cls(2.0, label="x1"), cls(0.0, label="x2")
    w1, w2 = cls(-3.0, label="w1"), cls(1.0, label="w2")
    b = cls(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, n=n)


@pytest.fixture
def neuron():
    """``neuron()`` builds the example graph: ``(o, {name: Value})``; ``neuron(microinit.scalar.engine.Value)``
    in the readable engine."""
    return build_neuron

"""Drop-in parity with the installed micrograd: the same code gives the same numbers."""
import numpy as np
import pytest

from microinit import Value
from microinit.scalar.nn import MLP

micrograd = pytest.importorskip("micrograd")
from micrograd.engine import Value as MValue  # noqa: E402
from micrograd.nn import MLP as MMLP  # noqa: E402


def expression(V):
    x = V(0.7)
    w = V(-1.3)
    u = x * w + 2.0
    v = (u - x / w) ** 3 / (w * w + 1)
    z = 1 - v + 3 * u - 2 / x
    h = (z * z + (u * -x).relu()) ** 0.5 - w / 4 + (x - w).relu() * v
    h.backward()
    return h, x, w


def test_same_numbers_as_micrograd():
    h1, a1, b1 = expression(Value)
    h2, a2, b2 = expression(MValue)
    assert h1.data == pytest.approx(h2.data, rel=1e-12)
    assert a1.grad == pytest.approx(a2.grad, rel=1e-12)
    assert b1.grad == pytest.approx(b2.grad, rel=1e-12)


def test_micrograd_stale_gradient_bug_is_not_reproduced():
    for V, expected in ((MValue, 18.0), (Value, 12.0)):
        x = V(1.5)
        y = (2 * x) * 3
        y.backward()
        y.backward()
        assert x.grad == expected


def test_training_matches_micrograd_step_by_step():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 2)).tolist()
    y = [1.0 if a * b > 0 else -1.0 for a, b in X]
    ours = MLP(2, [6, 6, 1], rng=0)
    theirs = MMLP(2, [6, 6, 1])
    for p, q in zip(theirs.parameters(), ours.parameters()):
        p.data = q.data

    def step(model, V, k):
        scores = [model(list(map(V, row))) for row in X]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        return loss.data

    for k in range(5):
        assert step(ours, Value, k) == pytest.approx(step(theirs, MValue, k), rel=1e-12)
    for p, q in zip(theirs.parameters(), ours.parameters()):
        assert q.data == pytest.approx(p.data, rel=1e-12, abs=1e-15)

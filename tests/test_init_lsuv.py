"""LSUV (Mishkin & Matas 2016) on microinit.nn models, and docs/reliability.md row 38."""
import numpy as np
import pytest

from microinit import init, nn
from microinit.tensor import Tensor


def _batch(n=256, d=20, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).normal(size=(n, d)) * scale + shift).astype(np.float32)


def _preactivation_vars(model, x):
    """Variance of x @ W + b at each Dense, computed by hand through the network."""
    out = []
    h = x.astype(np.float64)
    for layer in model:
        z = h @ layer.weight.data.astype(np.float64) + layer.bias.data
        out.append(z.var())
        h = np.asarray(layer(Tensor(h.astype(np.float32))).data, dtype=np.float64)
    return out


@pytest.mark.parametrize("activation", ["tanh", "relu", "selu"])
def test_every_layer_reaches_unit_variance(activation):
    model = nn.MLP([20, 64, 64, 32, 1], activation=activation, rng=0)
    x = _batch(scale=4.0, shift=2.0)
    report = init.lsuv(model, x, tol=0.05, rng=0)
    assert [r["layer"] for r in report] == ["0", "1", "2", "3"]
    assert [r["shape"] for r in report] == [(20, 64), (64, 64), (64, 32), (32, 1)]
    assert all(r["converged"] and abs(r["variance"] - 1) < 0.05 for r in report)
    for v in _preactivation_vars(model, x):
        assert abs(v - 1) < 0.05


def test_orthogonal_pre_init_then_only_rescaling():
    model = nn.MLP([16, 32, 8], activation="tanh", rng=0)
    x = _batch(d=16)
    init.lsuv(model, x, rng=3)
    w = model[0].weight.data.astype(np.float64)
    gram = w @ w.T  # (16, 32): orthonormal rows times one scale factor
    scale = gram[0, 0]
    np.testing.assert_allclose(gram, scale * np.eye(16), atol=1e-5 * scale)


def test_non_trivial_bias_needs_several_iterations_and_is_reported():
    model = nn.MLP([10, 30, 1], activation="relu", rng=0)
    model[0].bias.data[...] = np.linspace(-0.5, 0.5, 30)
    report = init.lsuv(model, _batch(d=10, scale=3.0), tol=0.01, max_iter=20, rng=0)
    assert report[0]["iterations"] >= 2 and report[0]["converged"]


def test_same_seed_same_result_and_version_bumped():
    x = _batch()
    a, b = nn.MLP([20, 16, 4], rng=0), nn.MLP([20, 16, 4], rng=1)
    v0 = a[0].weight._version
    init.lsuv(a, x, rng=7)
    init.lsuv(b, x, rng=7)
    assert a[0].weight._version > v0
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_bad_batches_raise():  # row 38
    model = nn.MLP([4, 8, 1], rng=0)
    with pytest.raises(ValueError, match="non-empty"):
        init.lsuv(model, np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match="NaN/inf"):
        init.lsuv(model, np.array([[0, 1, 2, np.nan], [1, 2, 3, 4]], np.float32))
    with pytest.raises(ValueError, match="constant"):
        init.lsuv(model, np.ones((32, 4), np.float32))
    with pytest.raises(ValueError, match="constant"):
        init.lsuv(model, np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match="tol must be > 0"):
        init.lsuv(model, _batch(d=4), tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        init.lsuv(model, _batch(d=4), max_iter=0)
    with pytest.raises(ValueError, match="no layer"):
        init.lsuv(nn.Sequential(nn.ReLU()), _batch(d=4))


def test_dead_layer_raises_naming_it():
    model = nn.MLP([4, 8, 8, 1], activation="relu", rng=0)
    model[0].bias.data[...] = -100.0      # every ReLU of layer 0 is off: layer 1 sees zeros
    with pytest.raises(ValueError, match="layer '1' has output variance 0"):
        init.lsuv(model, _batch(d=4), orthogonal_init=False)


def test_non_convergence_warns_naming_layer_and_variance():
    model = nn.MLP([4, 8, 1], activation="tanh", rng=0)
    model[0].bias.data[...] = np.linspace(-3, 3, 8)   # the bias alone has variance > 1
    with pytest.warns(RuntimeWarning, match=r"layer '0' did not reach unit variance within 3 iterations \(variance"):
        report = init.lsuv(model, _batch(d=4), max_iter=3)
    assert not report[0]["converged"] and report[0]["iterations"] == 3
    assert np.isfinite(model[0].weight.data).all()


def test_works_on_a_minimal_duck_typed_model():
    class Layer:
        def __init__(self, w):
            self.weight, self.bias, self.hooks = w, None, []

        def register_forward_hook(self, fn):
            self.hooks.append(fn)
            hooks = self.hooks

            class Handle:
                def remove(self_inner):
                    hooks.remove(fn)
            return Handle()

        def __call__(self, x):
            y = np.asarray(x) @ self.weight
            for h in list(self.hooks):
                h(self, (x,), y)
            return y

    class Model:
        def __init__(self):
            self.layers = [Layer(np.ones((5, 7))), Layer(np.ones((7, 3)))]

        def modules(self):
            return iter([self] + self.layers)

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    m = Model()
    report = init.lsuv(m, _batch(d=5).astype(np.float64), rng=0)
    assert [r["shape"] for r in report] == [(5, 7), (7, 3)]
    assert all(abs(r["variance"] - 1) < 0.1 for r in report)

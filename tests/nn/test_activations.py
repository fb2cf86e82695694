"""Activation modules: each agrees with the numpy reference and maps to its name."""
import numpy as np
import pytest

from microinit import nn
from microinit._kernels import reference as ref
from microinit.tensor import Tensor


def _np_act(name, z, param):
    return ref.activation_forward(name or "identity", z, param)


@pytest.mark.parametrize("name, cls, kw", [
    ("relu", nn.ReLU, {}), ("tanh", nn.Tanh, {}), ("sigmoid", nn.Sigmoid, {}),
    ("leaky_relu", nn.LeakyReLU, {"negative_slope": 0.2}), ("elu", nn.ELU, {"alpha": 0.7}),
    ("selu", nn.SELU, {}), ("gelu", nn.GELU, {}), ("softplus", nn.Softplus, {}),
    ("identity", nn.Identity, {}),
])
def test_activation_modules(rng, name, cls, kw):
    m = cls(**kw)
    x = rng.standard_normal((4, 5))
    param = next(iter(kw.values()), 0.0)
    np.testing.assert_allclose(m(Tensor(x)).data, _np_act(name, x, param), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m(x).data, _np_act(name, x, param), rtol=1e-12, atol=1e-12)
    assert type(nn.activation_module(name, param if kw else None)) is cls
    assert list(m.parameters()) == []
    if kw:
        assert f"={param}" in repr(m)


TF_NAMES = [("SiLU", {}, "silu"), ("Mish", {}, "mish"), ("Hardswish", {}, "hardswish"),
            ("Hardtanh", {"min_val": -2.0, "max_val": 0.5}, "hardtanh"), ("ReLU6", {}, "relu6"),
            ("LogSigmoid", {}, "logsigmoid"), ("Softsign", {}, "softsign"),
            ("GELU", {"approximate": "tanh"}, "gelu"), ("GELU", {"approximate": "none"}, "gelu")]


@pytest.mark.parametrize("cls, kw, fn", TF_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_issue16_modules_match_torch_modules(cls, kw, fn, dtype):
    torch = pytest.importorskip("torch")
    x = np.linspace(-7, 7, 29).astype(dtype)
    m, tm = getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
    t, tt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(t), tm(tt)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), **tol)
    assert list(m.parameters()) == [] and y.dtype == dtype
    assert m(x).shape == x.shape  # arrays are accepted like every activation module


def test_issue16_modules_in_a_sequential_and_their_reprs():
    model = nn.Sequential(nn.Dense(3, 4, rng=0), nn.SiLU(), nn.Dense(4, 2, rng=1), nn.GELU(approximate="tanh"))
    assert model(np.ones((5, 3), np.float32)).shape == (5, 2)
    assert repr(nn.Hardtanh(-2, 2)) == "Hardtanh(min_val=-2.0, max_val=2.0)"
    assert repr(nn.GELU()) == "GELU()" and repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"


def test_issue16_module_errors():
    with pytest.raises(ValueError, match=r"^GELU: approximate must be 'none' or 'tanh'"):
        nn.GELU(approximate="fast")
    with pytest.raises(ValueError, match=r"^Hardtanh: min_val 1 must not exceed max_val 0"):
        nn.Hardtanh(1, 0)
    # Dense fuses the kernel table only: the exact GELU, never its tanh approximation
    assert nn.activations.canonical_activation(nn.GELU()) == "gelu"
    with pytest.raises(ValueError, match=r"Dense fuses the exact GELU only"):
        nn.Dense(2, 2, activation=nn.GELU(approximate="tanh"))

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

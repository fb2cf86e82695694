"""nn.Dense: layout, initializers, forward against numpy and PyTorch, gradients, shape errors."""
import math
import re

import numpy as np
import pytest

from microinit import init, nn
from microinit._kernels import reference as ref
from microinit.gradcheck import gradcheck
from microinit.tensor import Tensor

ACTS = [None, "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus"]


def _np_act(name, z, param):
    return ref.activation_forward(name or "identity", z, param)


def test_dense_shapes_layout_and_default_init():
    layer = nn.Dense(4, 3, rng=0)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    bound = math.sqrt(6 / 4)  # he_uniform: fan_in = in_features
    assert np.abs(layer.weight.data).max() <= bound
    assert not layer.bias.data.any()
    assert nn.Linear is nn.Dense
    assert nn.Dense(4, 3, bias=False, rng=0).bias is None
    assert [n for n, _ in nn.Dense(4, 3, bias=False).named_parameters()] == ["weight"]


@pytest.mark.parametrize("spec", ["xavier_normal", {"name": "normal", "std": 0.01}, 0.5,
                                  init.get("lecun_uniform")])
def test_dense_initializer_from_registry(spec):
    layer = nn.Dense(8, 5, weight_init=spec, bias_init=0.1, rng=3)
    expect = init.get(spec)((8, 5), dtype=np.float32, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(layer.weight.data, expect)
    np.testing.assert_allclose(layer.bias.data, 0.1)


def test_dense_seeding():
    a, b, c = nn.Dense(3, 4, rng=7), nn.Dense(3, 4, rng=7), nn.Dense(3, 4, rng=8)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    assert not np.array_equal(nn.Dense(3, 4).weight.data, nn.Dense(3, 4).weight.data)


def test_dense_bad_initializer_and_sizes():
    with pytest.raises(ValueError, match="xavier_unifrom"):
        nn.Dense(2, 3, weight_init="xavier_unifrom")
    with pytest.raises(ValueError, match="out_features must be positive, got 0"):
        nn.Dense(2, 0)
    with pytest.raises(ValueError, match="in_features must be positive"):
        nn.Dense(0, 3)
    with pytest.raises(TypeError, match="in_features must be an int"):
        nn.Dense(2.0, 3)
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        nn.Dense(2, 3, activation="relu6")
    with pytest.raises(TypeError, match="dtype"):
        nn.Dense(2, 3, dtype=np.float16)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_forward_matches_numpy(rng, act, dtype):
    layer = nn.Dense(5, 4, activation=act, bias_init="normal", rng=1, dtype=dtype)
    x = rng.standard_normal((6, 5)).astype(dtype)
    y = layer(x)
    assert isinstance(y, Tensor) and y.dtype == dtype and y.shape == (6, 4)
    param = layer.activation_param
    expect = _np_act(act, x.astype(np.float64) @ layer.weight.data + layer.bias.data, param)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.data, expect, rtol=tol, atol=tol)


@pytest.mark.parametrize("act", ACTS)
def test_dense_gradcheck(rng, act):
    layer = nn.Dense(4, 3, activation=act, bias_init="normal", rng=2, dtype=np.float64)
    # keep pre-activations away from relu's kink
    x = Tensor(rng.standard_normal((5, 4)) + 0.05, requires_grad=True)
    # the layer's own tensors are the inputs, so perturbing them perturbs the layer
    assert gradcheck(lambda x, W, b: layer(x), [x, layer.weight, layer.bias])


@pytest.mark.parametrize("act", ["relu", "tanh", "gelu", None])
def test_dense_matches_torch_forward_and_backward(rng, act):
    torch = pytest.importorskip("torch")
    layer = nn.Dense(5, 3, activation=act, bias_init="uniform", rng=0, dtype=np.float64)
    x = rng.standard_normal((7, 5))
    g = rng.standard_normal((7, 3))
    xt = Tensor(x.copy(), requires_grad=True)
    out = layer(xt)
    (out * Tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.weight.data.T.copy(), requires_grad=True)  # torch stores (out, in)
    tb = torch.tensor(layer.bias.data.copy(), requires_grad=True)
    tout = torch.nn.functional.linear(tx, tw, tb)
    tout = {"relu": torch.relu, "tanh": torch.tanh, "gelu": torch.nn.functional.gelu,
            None: lambda t: t}[act](tout)
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, tw.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, tb.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (4,), (2, 4, 2), ()])
def test_dense_wrong_input_shape_names_layer(shape):
    model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.Dense(8, 2, rng=0))
    with pytest.raises(ValueError, match=rf"Dense layer '0' expects input of shape \(batch, 4\) "
                                         rf"\(in_features=4\), but received shape {re_shape(shape)}"):
        model(np.zeros(shape, np.float32))
    outer = nn.Sequential(nn.Dense(3, 3, rng=0), model)
    with pytest.raises(ValueError, match=r"Dense layer '1.0'.*received shape \(2, 3\)"):
        outer[1](np.zeros((2, 3), np.float32))


def re_shape(shape):
    return re.escape(str(tuple(shape)))


def test_dense_empty_batch_forward_and_backward():
    layer = nn.Dense(3, 2, activation="tanh", bias_init="normal", rng=0)
    x = Tensor(np.zeros((0, 3), np.float32), requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 2)
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    np.testing.assert_array_equal(layer.weight.grad, 0)
    np.testing.assert_array_equal(layer.bias.grad, 0)


def test_zero_grad_forgotten_accumulates_exactly(rng):
    layer = nn.Dense(3, 2, rng=0, dtype=np.float64)
    x = rng.standard_normal((4, 3))
    layer(x).sum().backward()
    g1 = layer.weight.grad.copy()
    layer(x).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad, 2 * g1)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None

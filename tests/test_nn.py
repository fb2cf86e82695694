import math

import numpy as np
import pytest

from microinit import init, nn
from microinit._kernels import reference as ref
from microinit.gradcheck import gradcheck
from microinit.tensor import Tensor

ACTS = [None, "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus"]


def _np_act(name, z, param):
    return ref.activation_forward(name or "identity", z, param)


# ---------------------------------------------------------------- Dense
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
    import re

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


# ---------------------------------------------------------------- activation modules
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


# ---------------------------------------------------------------- containers
def test_sequential_container_protocol():
    a, b, c = nn.Dense(2, 3, rng=0), nn.ReLU(), nn.Dense(3, 1, rng=0)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[0] is a and seq[-1] is c
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c]
    assert c._path == "2"  # slicing does not rename the layers
    assert nn.Sequential([a, b]).__len__() == 2
    assert list(seq.children()) == [a, b, c]
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1", "2"]
    with pytest.raises(TypeError, match="expected a Module"):
        seq.append("relu")
    x = np.ones((4, 2), np.float32)
    np.testing.assert_allclose(seq(x).data, c(b(a(x))).data)


def test_shared_parameters_counted_once():
    shared = nn.Dense(3, 3, rng=0)
    seq = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(seq.parameters()) == 2
    assert seq.num_parameters() == 12


def test_custom_module_registration_and_train_eval():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.MLP([2, 4, 4], rng=0)
            self.head = nn.Dense(4, 1, rng=0)
            self.scale = Tensor(np.ones(1, np.float32), requires_grad=True)
            self.note = "not a parameter"
            self.buffer = Tensor(np.zeros(3))  # requires_grad False: not a parameter

        def forward(self, x):
            return self.head(self.body(x)) * self.scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
                     "head.weight", "head.bias"]
    assert net(np.zeros((2, 2), np.float32)).shape == (2, 1)
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.head = nn.Dense(4, 2, rng=0)  # replacing keeps one entry
    assert [n for n, _ in net.named_parameters()][-2:] == ["head.weight", "head.bias"]
    del net.scale
    assert "scale" not in dict(net.named_parameters())

    class Forgot(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Forgot()


# ---------------------------------------------------------------- MLP
@pytest.mark.parametrize("act, family, name", [
    ("relu", "He", "he_uniform"), ("leaky_relu", "He", "he_uniform"), ("gelu", "He", "he_uniform"),
    ("tanh", "Xavier", "xavier_uniform"), ("sigmoid", "Xavier", "xavier_uniform"),
    ("selu", "LeCun", "lecun_normal"),
])
def test_mlp_picks_initializer_for_activation_and_says_so(act, family, name):
    m = nn.MLP([3, 16, 16, 2], activation=act, rng=0)
    r = repr(m)
    assert f"weight_init={name}" in r and f"({family}: default for {act})" in r
    assert [layer.activation for layer in m] == [act, act, None]
    spec, fam = nn.default_init_for(act)
    expect = init.get(spec)((3, 16), dtype=np.float32, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(m[0].weight.data, expect)
    assert fam == family


def test_mlp_given_initializer_and_reproducibility():
    m = nn.MLP([2, 8, 1], weight_init={"name": "normal", "std": 0.01}, rng=5)
    assert "weight_init=normal(std=0.01) (given)" in repr(m)
    assert np.abs(m[0].weight.data).max() < 0.1
    m2 = nn.MLP([2, 8, 1], weight_init={"name": "normal", "std": 0.01}, rng=5)
    for (_, p), (_, q) in zip(m.named_parameters(), m2.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(ValueError, match="at least an input and an output"):
        nn.MLP([3])


def test_mlp_repr_and_summary():
    m = nn.MLP([2, 64, 64, 3], rng=0)
    r = repr(m)
    assert r.startswith("MLP(sizes=[2, 64, 64, 3], activation=relu, weight_init=he_uniform "
                        "(He: default for relu), bias_init=zeros")
    assert "(1): Dense(64 -> 64, activation=relu, weight_init=he_uniform, bias_init=zeros)" in r
    s = m.summary()
    assert "(batch, 64)" in s and "(batch, 3)" in s
    assert "weight=he_uniform, bias=zeros" in s
    assert "4,160" in s  # 64*64 + 64
    assert f"total parameters: {2 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3:,}" in s
    assert m[0]._forward_hooks == {}  # summary's hooks are removed


# ---------------------------------------------------------------- state_dict
def test_state_dict_is_a_copy_and_round_trips():
    a, b = nn.MLP([3, 5, 2], rng=0), nn.MLP([3, 5, 2], rng=1)
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    sd["0.weight"][...] = 7
    assert not (a[0].weight.data == 7).any()
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_errors_list_everything_and_change_nothing():
    m = nn.MLP([3, 5, 2], rng=0)
    before = m.state_dict()
    bad = m.state_dict()
    bad["0.weight"] = np.zeros((3, 4), np.float32)
    del bad["1.bias"]
    bad["extra.weight"] = np.zeros(2)
    with pytest.raises(ValueError) as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    assert "missing keys: 1.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "size mismatch for 0.weight: state (3, 4) vs model (3, 5)" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="size mismatch"):
        m.load_state_dict(bad, strict=False)  # shapes are checked even when not strict
    del bad["0.weight"]
    m.load_state_dict(bad, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([1, 2])
    with pytest.raises(ValueError, match="dtype"):
        m.load_state_dict({**before, "0.bias": np.array(["a"] * 5)})


def test_load_state_dict_casts_dtype_in_place():
    m = nn.Dense(2, 2, rng=0)
    arr = m.weight.data
    m.load_state_dict({"weight": np.ones((2, 2)), "bias": Tensor(np.ones(2))})
    assert m.weight.data is arr and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, 1)


# ---------------------------------------------------------------- hooks
def test_forward_hooks():
    m = nn.MLP([2, 4, 3], rng=0)
    seen = []
    h = m[0].register_forward_hook(lambda mod, inp, out: seen.append((mod, inp[0].shape, out.shape)))
    x = np.zeros((5, 2), np.float32)
    m(x)
    assert seen == [(m[0], (5, 2), (5, 4))]
    h.remove()
    m(x)
    assert len(seen) == 1
    h.remove()  # removing twice is harmless
    with m.register_forward_hook(lambda mod, inp, out: out * 0):
        assert not m(x).data.any()  # a returned value replaces the output
    assert m._forward_hooks == {}
    with pytest.raises(TypeError, match="callable"):
        m.register_forward_hook(3)


@pytest.mark.parametrize("loss_name", ["mse", "cross_entropy"])
def test_mlp_training_step_allocates_nothing_new_in_steady_state(loss_name, traced_growth):
    """Issue 6: with a fixed batch shape, a full step (forward, loss, backward, SGD)
    reuses the previous step's buffers: traced memory does not grow across steps."""
    from microinit import losses, optim

    rng = np.random.default_rng(0)
    model = nn.MLP([8, 32, 32, 4], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    if loss_name == "mse":
        y, fn = rng.standard_normal((16, 4)).astype(np.float32), losses.mse
    else:
        y, fn = rng.integers(0, 4, 16), losses.cross_entropy

    def step():
        opt.zero_grad()
        loss = fn(model(x), y)
        loss.backward()
        opt.step()

    grown = traced_growth(step, warmup=5, steps=20)
    # one (16, 32) float32 activation is 2 KiB: 20 steps that each kept one new
    # buffer would grow by 40 KiB
    assert grown < 2048, f"20 steady-state steps grew traced memory by {grown} bytes"

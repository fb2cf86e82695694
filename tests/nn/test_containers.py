"""nn.Sequential and nn.MLP: container protocol, initializer choice, repr/summary, steady-state memory."""
import numpy as np
import pytest

from microinit import init, nn


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

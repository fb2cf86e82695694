"""nn.Module: registration, traversal, train/eval, state_dict, forward hooks."""
import numpy as np
import pytest

from microinit import nn
from microinit.tensor import Tensor


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

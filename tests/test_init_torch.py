"""Parity with torch.nn.init: same distribution for the same layer, by a two-sample KS
test, after converting PyTorch's (out, in, *kernel) layout to microinit's
(*kernel, in, out); exact equality for the deterministic ones and for calculate_gain."""
import math

import numpy as np
import pytest

from microinit import init

torch = pytest.importorskip("torch")

ALPHA = 1e-4
IN, OUT = 300, 500          # asymmetric, so a fan mix-up changes the std by 29%


def _two_sample_ks(a, b):
    a, b = np.sort(np.ravel(a).astype(np.float64)), np.sort(np.ravel(b).astype(np.float64))
    grid = np.concatenate([a, b])
    return np.abs(np.searchsorted(a, grid, side="right") / a.size
                  - np.searchsorted(b, grid, side="right") / b.size).max()


def _critical(n, m):
    return math.sqrt(-math.log(ALPHA / 2) / 2) * math.sqrt((n + m) / (n * m))


def _torch_weight(fn, torch_shape, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    t = torch.empty(torch_shape)
    fn(t, generator=g, **kw)
    return t.numpy()


CASES = [
    # (id, microinit spec, torch function, torch kwargs)
    ("uniform", {"name": "uniform", "low": -0.2, "high": 0.6}, "uniform_", {"a": -0.2, "b": 0.6}),
    ("normal", {"name": "normal", "mean": 0.1, "std": 0.3}, "normal_", {"mean": 0.1, "std": 0.3}),
    ("trunc_normal", {"name": "truncated_normal", "mean": 0.1, "std": 1.0, "low": -1.0, "high": 2.5},
     "trunc_normal_", {"mean": 0.1, "std": 1.0, "a": -1.0, "b": 2.5}),
    ("xavier_uniform", {"name": "xavier_uniform", "gain": 1.3}, "xavier_uniform_", {"gain": 1.3}),
    ("xavier_normal", {"name": "xavier_normal", "gain": 0.7}, "xavier_normal_", {"gain": 0.7}),
    ("kaiming_uniform", "kaiming_uniform", "kaiming_uniform_", {}),
    ("kaiming_uniform_fan_out", {"name": "kaiming_uniform", "a": 0.1, "mode": "fan_out"},
     "kaiming_uniform_", {"a": 0.1, "mode": "fan_out"}),
    ("kaiming_normal", {"name": "kaiming_normal", "nonlinearity": "relu"}, "kaiming_normal_",
     {"nonlinearity": "relu"}),
    ("kaiming_normal_tanh_fan_out", {"name": "kaiming_normal", "mode": "fan_out", "nonlinearity": "tanh"},
     "kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}),
    ("kaiming_normal_selu", {"name": "kaiming_normal", "nonlinearity": "selu"}, "kaiming_normal_",
     {"nonlinearity": "selu"}),
    ("orthogonal", {"name": "orthogonal", "gain": 2.0}, "orthogonal_", {"gain": 2.0}),
    ("sparse", {"name": "sparse", "sparsity": 0.3, "std": 0.05}, "sparse_", {"sparsity": 0.3, "std": 0.05}),
]


@pytest.mark.parametrize("label,spec,torch_fn,kw", CASES, ids=[c[0] for c in CASES])
def test_same_distribution_as_torch(label, spec, torch_fn, kw):
    ours = init.get(spec)((IN, OUT), rng=0)                         # (in, out)
    theirs = _torch_weight(getattr(torch.nn.init, torch_fn), (OUT, IN), **kw).T   # (out, in) -> (in, out)
    assert ours.shape == theirs.shape
    assert _two_sample_ks(ours, theirs) < _critical(ours.size, theirs.size)
    if label == "sparse":
        # Zeros per input unit: torch zeroes within each column of (out, in).
        assert ((ours == 0).sum(axis=1) == (theirs == 0).sum(axis=1)).all()


def test_a_layout_mistake_would_be_caught():
    # kaiming fan_in on the untransposed torch shape is a different distribution.
    wrong = init.he_normal((OUT, IN), rng=0)
    theirs = _torch_weight(torch.nn.init.kaiming_normal_, (OUT, IN))
    assert _two_sample_ks(wrong, theirs) > _critical(wrong.size, theirs.size)


def test_conv_kernels_same_distribution():
    # torch conv weight (out, in, kh, kw) <-> microinit (kh, kw, in, out)
    ours = init.he_uniform((3, 3, 64, 128), rng=0)
    theirs = _torch_weight(torch.nn.init.kaiming_uniform_, (128, 64, 3, 3)).transpose(2, 3, 1, 0)
    assert _two_sample_ks(ours, theirs) < _critical(ours.size, theirs.size)
    ours = init.orthogonal((3, 3, 64, 128), rng=0)
    theirs = _torch_weight(torch.nn.init.orthogonal_, (128, 64, 3, 3)).transpose(2, 3, 1, 0)
    assert _two_sample_ks(ours, theirs) < _critical(ours.size, theirs.size)


def test_orthogonal_square_matches_torch_entries_and_trace():
    ours = np.concatenate([init.orthogonal((8, 8), rng=i).ravel() for i in range(1500)])
    g = torch.Generator().manual_seed(1)
    theirs = []
    for _ in range(1500):
        t = torch.empty(8, 8)
        torch.nn.init.orthogonal_(t, generator=g)
        theirs.append(t.numpy().T.ravel())
    theirs = np.concatenate(theirs)
    assert _two_sample_ks(ours, theirs) < _critical(ours.size, theirs.size)
    tr_ours = ours.reshape(-1, 8, 8).trace(axis1=1, axis2=2)
    tr_theirs = theirs.reshape(-1, 8, 8).trace(axis1=1, axis2=2)
    assert _two_sample_ks(tr_ours, tr_theirs) < _critical(1500, 1500)


@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (6, 3)])
def test_eye_equals_torch(shape):
    t = torch.empty(shape[::-1])
    torch.nn.init.eye_(t)
    np.testing.assert_array_equal(init.eye(shape), t.numpy().T)


@pytest.mark.parametrize("groups", [1, 2])
def test_dirac_equals_torch(groups):
    t = torch.empty(8, 3, 3, 3)               # (out, in/groups, kh, kw)
    torch.nn.init.dirac_(t, groups=groups)
    np.testing.assert_array_equal(init.dirac((3, 3, 3, 8), groups=groups), t.numpy().transpose(2, 3, 1, 0))


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_constant_fills_equal_torch(name):
    t = torch.empty(5, 3)
    getattr(torch.nn.init, name + "_")(t)
    np.testing.assert_array_equal(getattr(init, name)((3, 5)), t.numpy().T)


NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("nl", NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0, 0.2, 3, -0.5])
def test_calculate_gain_equals_torch(nl, param):
    assert init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)


@pytest.mark.parametrize("nl,param", [("bogus", None), ("leaky_relu", True), ("leaky_relu", [1]),
                                      ("leaky_relu", {"a": 1})])
def test_calculate_gain_errors_like_torch(nl, param):
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nl, param)
    with pytest.raises(ValueError):
        init.calculate_gain(nl, param)


def test_fewer_than_two_dims_same_message_as_torch():
    with pytest.raises(ValueError) as theirs:
        torch.nn.init.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError) as ours:
        init.xavier_uniform((5,))
    assert str(theirs.value) in str(ours.value)


def test_zero_element_warning_like_torch():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        torch.nn.init.kaiming_uniform_(torch.empty(0, 3))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform((3, 0))

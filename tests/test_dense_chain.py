"""tensor.dense_chain: gradients (finite differences, PyTorch), equality with folded
dense, the numpy twin and fallbacks. The fused Dense runs of Sequential/MLP are tested
in tests/nn/test_containers_fusion.py."""
import numpy as np
import pytest

import microinit as mi
from microinit._kernels import reference as R
from microinit.tensor import dense, dense_chain

ACTS = ["identity", "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus"]
PARAM = {"leaky_relu": 0.2, "elu": 1.4}


def _params(rng, widths, biases, dtype=np.float64, requires_grad=True):
    """One (W, b) per layer as Tensors; W scaled by 1/sqrt(fan_in)."""
    out = []
    for i, has_b in enumerate(biases):
        k, o = widths[i], widths[i + 1]
        W = mi.Tensor((rng.standard_normal((k, o)) / np.sqrt(k)).astype(dtype), requires_grad=requires_grad)
        b = mi.Tensor((0.3 * rng.standard_normal(o)).astype(dtype), requires_grad=requires_grad) if has_b else None
        out.append((W, b))
    return out


def _layers(params, acts):
    return [(W, b, a, PARAM.get(a)) for (W, b), a in zip(params, acts)]


def _leaves(x, params):
    return [x] + [t for Wb in params for t in Wb if t is not None]


# --------------------------------------------------------------------------- dense_chain
@pytest.mark.parametrize("acts", [("tanh", "gelu", "softplus"), ("elu", "selu", "sigmoid"),
                                  ("leaky_relu", "identity", "relu"), ("relu",)])
def test_dense_chain_gradcheck(rng, acts):
    widths = [3, 4, 3, 2][: len(acts) + 1]
    biases = [True, False, True][: len(acts)]
    params = _params(rng, widths, biases)
    # relu / leaky_relu kinks: keep |x| away from 0 on the input side is not enough for
    # later layers, but eps=1e-6 only crosses a kink with probability ~1e-5 per entry
    x = mi.Tensor(rng.standard_normal((5, widths[0])), requires_grad=True)
    leaves = _leaves(x, params)

    def fn(*ts):
        it = iter(ts[1:])
        ps = [(next(it), next(it) if b is not None else None) for _, b in params]
        return dense_chain(ts[0], _layers(ps, acts))

    assert fn(*leaves).grad_fn == ("DenseBackward" if len(acts) == 1 else "DenseChainBackward")
    assert mi.gradcheck(fn, leaves)


def test_dense_chain_equals_folded_dense(rng):
    params = _params(rng, [4, 6, 5, 3], [True, False, True], np.float32)
    acts = ["gelu", "leaky_relu", "elu"]
    x = mi.Tensor(rng.standard_normal((7, 4)).astype(np.float32), requires_grad=True)
    y = dense_chain(x, _layers(params, acts))
    assert y.grad_fn == "DenseChainBackward" and y.dtype == np.float32
    h = x
    for (W, b), a in zip(params, acts):
        h = dense(h, W, b, a, PARAM.get(a))
    np.testing.assert_allclose(y.data, h.data, rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    fused = [t.grad.copy() for t in _leaves(x, params)]
    for t in _leaves(x, params):
        t.grad = None
    h.backward(g)
    for a, t in zip(fused, _leaves(x, params)):
        np.testing.assert_allclose(a, t.grad, rtol=1e-5, atol=1e-6)


def test_dense_chain_matches_numpy_twin(rng):
    params = _params(rng, [3, 0, 2], [True, True])  # a zero-width middle layer
    x = mi.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = dense_chain(x, _layers(params, ["relu", "tanh"]))
    raw = [(W.data, None if b is None else b.data, a, PARAM.get(a, 0.0))
           for (W, b), a in zip(params, ["relu", "tanh"])]
    np.testing.assert_allclose(y.data, R.dense_chain_forward(x.data, raw)[0], atol=1e-12)
    y.backward(np.ones(y.shape))
    want = R.dense_chain_backward(x.data, raw, np.ones(y.shape))
    for t, w in zip(_leaves(x, params), want):
        np.testing.assert_allclose(t.grad, w, atol=1e-12)


def test_dense_chain_falls_back_for_plain_inputs_it_cannot_fuse(rng):
    # float64 x into float32 weights: per-layer dense, which promotes like Dense does
    params = _params(rng, [3, 4, 2], [True, True], np.float32)
    x64 = rng.standard_normal((5, 3))
    y = dense_chain(x64, _layers(params, ["tanh", None]))
    want = dense(dense(x64, *params[0], "tanh"), *params[1])
    assert y.dtype == want.dtype
    np.testing.assert_array_equal(y.data, want.data)
    with pytest.raises(ValueError):
        dense_chain(x64, _layers(_params(rng, [3, 4], [True], np.float32) * 2, ["relu", "relu"]))


# --------------------------------------------------------------------------- torch parity
TORCH_ACT = {
    "identity": lambda t, F, p: t,
    "relu": lambda t, F, p: F.relu(t),
    "tanh": lambda t, F, p: t.tanh(),
    "sigmoid": lambda t, F, p: t.sigmoid(),
    "leaky_relu": lambda t, F, p: F.leaky_relu(t, p),
    "elu": lambda t, F, p: F.elu(t, p),
    "selu": lambda t, F, p: F.selu(t),
    "gelu": lambda t, F, p: F.gelu(t),
    "softplus": lambda t, F, p: F.softplus(t),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("acts", [ACTS[0:3], ACTS[3:6], ACTS[6:9], ["relu", "gelu", "selu", "identity"]])
def test_dense_chain_torch_parity(rng, dtype, acts):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    n = len(acts)
    widths = [5, 7, 3, 6, 2][: n + 1]
    biases = [True, False, True, True][:n]
    params = _params(rng, widths, biases, dtype)
    x = mi.Tensor(rng.standard_normal((8, widths[0])).astype(dtype), requires_grad=True)
    y = dense_chain(x, _layers(params, acts))
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g)

    tx = torch.tensor(x.data, requires_grad=True)
    tparams = [(torch.tensor(W.data, requires_grad=True),
                None if b is None else torch.tensor(b.data, requires_grad=True)) for W, b in params]
    h = tx
    for (W, b), a in zip(tparams, acts):
        z = h @ W + (b if b is not None else 0)
        h = TORCH_ACT[a](z, F, PARAM.get(a, 0.0))
    h.backward(torch.tensor(g))
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(y.data, h.detach().numpy(), **tol)
    for ours, theirs in zip(_leaves(x, params), [tx] + [t for Wb in tparams for t in Wb if t is not None]):
        assert ours.grad.dtype == dtype
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **tol)

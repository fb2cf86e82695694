"""Every Tensor op passes a float64 finite-difference gradcheck over hypothesis-drawn
shapes, including broadcasting and size-0/size-1 dimensions."""
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microinit as mi
from microinit import F, gradcheck

T = sys.modules["microinit.tensor"]

CHECK = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(0, 2**31 - 1)
shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)
nonempty_shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)


@st.composite
def broadcast_pairs(draw):
    """(shape_a, shape_b) that broadcast: b drops leading dims of a and sets some to 1."""
    base = draw(st.lists(st.integers(0, 3), min_size=0, max_size=3))
    other = base[draw(st.integers(0, len(base))):]
    other = [1 if draw(st.booleans()) else d for d in other]
    pair = (tuple(base), tuple(other))
    return pair[::-1] if draw(st.booleans()) else pair


def leaf(rng, shape, away_from_zero=False, positive=False):
    x = rng.standard_normal(shape)
    if away_from_zero or positive:
        # keep finite differences clear of kinks/poles at 0
        x = np.sign(x + (x == 0)) * (0.3 + np.abs(x))
    if positive:
        x = np.abs(x)
    return mi.tensor(x, requires_grad=True, dtype=np.float64)


# ------------------------------------------------------------------ binary arithmetic
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", list(BINARY))
@CHECK
@given(pair=broadcast_pairs(), seed=seeds)
def test_binary_broadcasting(name, pair, seed):
    rng = np.random.default_rng(seed)
    a = leaf(rng, pair[0])
    b = leaf(rng, pair[1], away_from_zero=name == "div")
    assert gradcheck(BINARY[name], [a, b])


@CHECK
@given(shape=shapes, seed=seeds)
def test_scalar_and_array_operands(shape, seed):
    rng = np.random.default_rng(seed)
    x = leaf(rng, shape, away_from_zero=True)
    arr = rng.standard_normal(shape[-1:] if shape else ())
    assert gradcheck(lambda t: 2.0 - t, [x])
    assert gradcheck(lambda t: 3.0 / t, [x])
    assert gradcheck(lambda t: -t * 1.5 + 0.5, [x])
    assert gradcheck(lambda t: arr * t - t / (arr * arr + 1.0), [x])
    assert gradcheck(lambda t: 2.0 ** t, [x])


@pytest.mark.parametrize("p", [2, 3, 0.5, -1.5, 0])
@CHECK
@given(shape=shapes, seed=seeds)
def test_pow(p, shape, seed):
    x = leaf(np.random.default_rng(seed), shape, positive=True)
    assert gradcheck(lambda t: t ** p, [x])


# ------------------------------------------------------------------ unary math + activations
UNARY = {
    "neg": (lambda t: -t, {}),
    "exp": (lambda t: t.exp(), {}),
    "log": (lambda t: t.log(), {"positive": True}),
    "sqrt": (lambda t: t.sqrt(), {"positive": True}),
    "abs": (lambda t: abs(t), {"away_from_zero": True}),
    "tanh": (lambda t: t.tanh(), {}),
    "sigmoid": (lambda t: t.sigmoid(), {}),
    "relu": (lambda t: t.relu(), {"away_from_zero": True}),
    "leaky_relu": (lambda t: t.leaky_relu(0.2), {"away_from_zero": True}),
    "elu": (lambda t: t.elu(0.7), {"away_from_zero": True}),
    "selu": (lambda t: t.selu(), {"away_from_zero": True}),
    "gelu": (lambda t: t.gelu(), {}),
    "softplus": (lambda t: t.softplus(), {}),
}


@pytest.mark.parametrize("name", list(UNARY))
@CHECK
@given(shape=shapes, seed=seeds)
def test_unary(name, shape, seed):
    fn, kw = UNARY[name]
    x = leaf(np.random.default_rng(seed), shape, **kw)
    assert gradcheck(fn, [x])


@CHECK
@given(shape=shapes, seed=seeds)
def test_clip(shape, seed):
    x = mi.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True, dtype=np.float64)
    near = np.abs(np.abs(x.data) - 0.5) < 0.05
    x.data[near] += 0.2  # keep clear of the clamp boundaries
    assert gradcheck(lambda t: t.clip(-0.5, 0.5), [x])
    assert gradcheck(lambda t: t.clip(lo=-0.5), [x])
    assert gradcheck(lambda t: t.clip(hi=0.5), [x])


# ------------------------------------------------------------------ reductions
@st.composite
def shape_and_axis(draw, nonempty=False):
    shape = draw(nonempty_shapes if nonempty else shapes)
    nd = len(shape)
    choices = [None]
    if nd:
        choices += list(range(-nd, nd))
        choices.append(tuple(sorted(set(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd))))))
    return shape, draw(st.sampled_from(choices)), draw(st.booleans())


@pytest.mark.parametrize("name", ["sum", "mean"])
@CHECK
@given(sak=shape_and_axis(), seed=seeds)
def test_sum_mean(name, sak, seed):
    shape, axis, keepdims = sak
    x = leaf(np.random.default_rng(seed), shape)
    if name == "mean":
        n = x.size if axis is None else int(np.prod([shape[a] for a in np.atleast_1d(axis)]))
        if n == 0:
            return  # an empty mean is NaN by definition (IEEE), nothing to check
    assert gradcheck(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("name", ["max", "min"])
@CHECK
@given(sak=shape_and_axis(nonempty=True), seed=seeds)
def test_max_min(name, sak, seed):
    shape, axis, keepdims = sak
    x = leaf(np.random.default_rng(seed), shape)
    assert gradcheck(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [x])


# ------------------------------------------------------------------ shape ops
@CHECK
@given(shape=shapes, seed=seeds, data=st.data())
def test_reshape_transpose(shape, seed, data):
    x = leaf(np.random.default_rng(seed), shape)
    assert gradcheck(lambda t: t.reshape(-1), [x])
    assert gradcheck(lambda t: t.reshape(1, *shape, 1), [x])
    assert gradcheck(lambda t: t.T, [x])
    perm = data.draw(st.permutations(range(len(shape))))
    assert gradcheck(lambda t: t.transpose(*perm) * np.arange(x.size).reshape(np.shape(x.data.transpose(perm))), [x])


@CHECK
@given(shape=nonempty_shapes, seed=seeds, data=st.data())
def test_getitem(shape, seed, data):
    rng = np.random.default_rng(seed)
    x = leaf(rng, shape)
    weights = rng.standard_normal  # distinct weights expose a wrong scatter
    start = data.draw(st.integers(0, shape[0]))
    step = data.draw(st.integers(1, 2))
    sl = x.data[start::step]
    w1 = weights(sl.shape)
    assert gradcheck(lambda t: t[start::step] * w1, [x])
    idx = rng.integers(-shape[0], shape[0], size=data.draw(st.integers(0, 5)))  # repeats, negatives
    w2 = weights(x.data[idx].shape)
    assert gradcheck(lambda t: t[idx] * w2, [x])
    if len(shape) >= 2:
        rows = rng.integers(0, shape[0], size=3)
        cols = rng.integers(0, shape[1], size=3)
        w3 = weights(x.data[rows, cols].shape)
        assert gradcheck(lambda t: t[rows, cols] * w3, [x])
        assert gradcheck(lambda t: t[:, -1], [x])
    mask = rng.random(shape) > 0.5
    assert gradcheck(lambda t: t[mask] * 2.0, [x])


@CHECK
@given(shape=st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple), seed=seeds, data=st.data())
def test_concatenate_stack(shape, seed, data):
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(1, 3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(n):
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 3))
        parts.append(leaf(rng, tuple(s)))
    w = rng.standard_normal(np.concatenate([p.data for p in parts], axis=axis).shape)
    assert gradcheck(lambda *ts: mi.concatenate(ts, axis=axis) * w, parts)
    same = [leaf(rng, shape) for _ in range(n)]
    sax = data.draw(st.integers(-len(shape) - 1, len(shape)))
    w2 = rng.standard_normal(np.stack([p.data for p in same], axis=sax).shape)
    assert gradcheck(lambda *ts: mi.stack(ts, axis=sax) * w2, same)


@CHECK
@given(pair=broadcast_pairs(), seed=seeds)
def test_where(pair, seed):
    rng = np.random.default_rng(seed)
    a = leaf(rng, pair[0])
    b = leaf(rng, pair[1])
    cond = rng.random(np.broadcast_shapes(pair[0], pair[1])) > 0.5
    assert gradcheck(lambda x, y: mi.where(cond, x, y), [a, b])
    assert gradcheck(lambda x: mi.where(cond, x, 0.0), [a])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@CHECK
@given(shape=nonempty_shapes, seed=seeds, data=st.data())
def test_softmax(name, shape, seed, data):
    rng = np.random.default_rng(seed)
    x = leaf(rng, shape)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    w = rng.standard_normal(shape)  # a non-uniform upstream gradient
    assert gradcheck(lambda t: getattr(t, name)(axis=axis) * w, [x])


# ------------------------------------------------------------------ matmul, dense
@CHECK
@given(m=st.integers(0, 3), k=st.integers(0, 3), n=st.integers(1, 3),
       batch=st.sampled_from([None, (2, 2), (1, 2), (2, 1)]), seed=seeds)
def test_matmul(m, k, n, batch, seed):
    rng = np.random.default_rng(seed)
    if batch is None:
        a, b = leaf(rng, (m, k)), leaf(rng, (k, n))
    else:
        a, b = leaf(rng, (batch[0], m, k)), leaf(rng, (batch[1], k, n))
    assert gradcheck(lambda x, y: x @ y, [a, b])


@pytest.mark.skipif(not hasattr(F, "dense_forward"), reason="functional.linalg (engineer E) not committed yet")
@pytest.mark.parametrize("act", [None, "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus"])
@CHECK
@given(n=st.integers(0, 3), fin=st.integers(1, 3), fout=st.integers(1, 3), bias=st.booleans(), seed=seeds)
def test_dense(act, n, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    x, W = leaf(rng, (n, fin)), leaf(rng, (fin, fout))
    inputs = [x, W] + ([leaf(rng, (fout,))] if bias else [])
    param = 0.3 if act in ("leaky_relu", "elu") else 0.0
    # keep pre-activations clear of the relu-family kink at 0
    pre = x.data @ W.data + (inputs[2].data if bias else 0)
    if act in ("relu", "leaky_relu", "elu", "selu") and (np.abs(pre) < 1e-3).any():
        return
    assert gradcheck(lambda *ts: T.dense(*ts, activation=act, param=param), inputs)


# ------------------------------------------------------------------ losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@CHECK
@given(n=st.integers(0, 4), c=st.integers(1, 4), seed=seeds)
def test_cross_entropy(reduction, n, c, seed):
    rng = np.random.default_rng(seed)
    x = leaf(rng, (n, c))
    labels = rng.integers(0, c, n)
    assert gradcheck(lambda t: T.cross_entropy(t, labels, reduction=reduction), [x])
    probs = rng.dirichlet(np.ones(c), n) if n else np.zeros((0, c))
    p = mi.tensor(probs, requires_grad=True, dtype=np.float64)
    assert gradcheck(lambda t, q: T.cross_entropy(t, q, reduction=reduction), [x, p])


@pytest.mark.parametrize("name", ["mse_loss", "binary_cross_entropy_with_logits", "hinge_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@CHECK
@given(shape=shapes, seed=seeds)
def test_pair_losses(name, reduction, shape, seed):
    rng = np.random.default_rng(seed)
    x = leaf(rng, shape)
    fn = getattr(T, name)
    if name == "hinge_loss":
        y = np.where(rng.random(shape) > 0.5, 1.0, -1.0)
        x.data[np.abs(1 - y * x.data) < 1e-2] += 0.1  # clear of the hinge kink
        assert gradcheck(lambda t: fn(t, y, reduction=reduction), [x])
        return
    y = leaf(rng, shape)
    if name == "binary_cross_entropy_with_logits":
        y.data[...] = rng.random(shape)
    assert gradcheck(lambda t, u: fn(t, u, reduction=reduction), [x, y])


# ------------------------------------------------------------------ composite expression
@CHECK
@given(seed=seeds, n=st.integers(0, 4))
def test_small_network(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    y = rng.integers(0, 2, n)
    W1, b1, W2 = leaf(rng, (3, 4)), leaf(rng, (4,)), leaf(rng, (4, 2))
    assert gradcheck(lambda w1, c1, w2: T.cross_entropy(((x @ w1 + c1).tanh() @ w2), y), [W1, b1, W2])

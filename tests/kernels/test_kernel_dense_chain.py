"""dense.forward_chain / dense.backward_chain agree with their numpy twins in reference.py,
and refuse (return None, computing nothing) whatever they cannot take plainly."""
import weakref

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microinit._kernels import ACTIVATION_CODES
from microinit._kernels import dense as K
from microinit._kernels import matmul as M
from microinit._kernels import reference as R

DTYPES = [np.float32, np.float64]
# a few layers compound float32 rounding, hence a little more slack than one dense layer
TOL = {np.float32: 1e-4, np.float64: 1e-10}
NAMES = sorted(ACTIVATION_CODES)
NO_BLAS = 1 << 40  # every product in the own kernel
WIDTHS = [0, 1, 2, 3, 5, 8, 17]


def _close(got, want, dtype, what=""):
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * 10, err_msg=what)


def _param(name, rng):
    # leaky_relu slope and elu alpha are real parameters; the others ignore param
    if name == "leaky_relu":
        return float(rng.uniform(0.01, 0.5))
    if name == "elu":
        return float(rng.uniform(0.5, 2.0))
    return 0.0


def _chain(rng, n, widths, names, biases, dtype):
    """x (n, widths[0]) and one (W, b, name, param) per layer, W scaled by 1/sqrt(fan_in)."""
    x = rng.standard_normal((n, widths[0])).astype(dtype)
    layers = []
    for i, name in enumerate(names):
        k, o = widths[i], widths[i + 1]
        W = (rng.standard_normal((k, o)) / np.sqrt(max(k, 1))).astype(dtype)
        b = (0.3 * rng.standard_normal(o)).astype(dtype) if biases[i] else None
        layers.append((W, b, name, _param(name, rng)))
    return x, layers


def _codes(layers):
    return tuple((W, b, ACTIVATION_CODES[name], p) for W, b, name, p in layers)


class Spy:
    """np.matmul that counts its calls (the BLAS branch of the kernels goes through it)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return np.matmul(*args, **kwargs)


def _check_chain(rng, n, widths, names, biases, dtype, need_x, need, blas_min):
    x, layers = _chain(rng, n, widths, names, biases, dtype)
    pool = M.BufferPool()
    r = K.forward_chain(x, _codes(layers), blas_min, pool, np.matmul)
    assert r is not None
    y, ctxs = r
    y_ref, _, _ = R.dense_chain_forward(x, layers)
    assert y.dtype == dtype and y.shape == (n, widths[-1])
    assert len(ctxs) == len(layers)
    _close(y, y_ref, dtype, "y")
    y_keep = y.copy()
    dy = rng.standard_normal(y.shape).astype(dtype)
    dy_keep = dy.copy()
    got = K.backward_chain(ctxs, dy, need_x, tuple(need), pool, np.matmul)
    want = R.dense_chain_backward(x, layers, dy, need_x, need)
    assert len(got) == len(want) == 2 * len(layers) + 1
    for j, (g, w) in enumerate(zip(got, want)):
        what = "dx" if j == 0 else f"{'dW' if j % 2 else 'db'}_{(j - 1) // 2}"
        if w is None:
            assert g is None, f"{what} should be None"
        else:
            assert g is not None, f"{what} missing"
            assert g.dtype == dtype and g.shape == w.shape, what
            _close(g, w, dtype, what)
    # the caller's dy and the forward's result (still held) are never written over
    np.testing.assert_array_equal(dy, dy_keep)
    np.testing.assert_array_equal(y, y_keep)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), nl=st.integers(1, 4), n=st.sampled_from([0, 1, 2, 7, 33]),
       dtype=st.sampled_from(DTYPES), need_x=st.booleans(),
       blas=st.booleans(), seed=st.integers(0, 2**31))
def test_random_chains_match_reference(data, nl, n, dtype, need_x, blas, seed):
    widths = data.draw(st.lists(st.sampled_from(WIDTHS), min_size=nl + 1, max_size=nl + 1))
    names = data.draw(st.lists(st.sampled_from(NAMES), min_size=nl, max_size=nl))
    biases = data.draw(st.lists(st.booleans(), min_size=nl, max_size=nl))
    need = data.draw(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=nl, max_size=nl))
    _check_chain(np.random.default_rng(seed), n, widths, names, biases, dtype, need_x, need,
                 0 if blas else NO_BLAS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_every_activation_in_a_three_layer_chain(rng, dtype, name):
    # the activation in every position, with and without bias, all gradients wanted
    _check_chain(rng, 6, [4, 5, 3, 2], [name, name, name], [True, False, True], dtype,
                 True, [(True, True)] * 3, NO_BLAS)


@pytest.mark.parametrize("dtype", DTYPES)
def test_blas_layers_agree_with_own_kernel_layers(rng, dtype):
    # blas_min=0 sends every product to matmul (numpy's BLAS); the epilogues stay fused
    x, layers = _chain(rng, 9, [6, 7, 5, 3], ["gelu", "leaky_relu", "elu"],
                       [True, True, False], dtype)
    spy = Spy()
    out = {}
    for blas_min, mm in ((0, spy), (NO_BLAS, np.matmul)):
        pool = M.BufferPool()
        y, ctxs = K.forward_chain(x, _codes(layers), blas_min, pool, mm)
        dy = np.linspace(-1, 1, y.size).reshape(y.shape).astype(dtype)
        out[blas_min] = [y.copy()] + [g.copy() for g in
                                      K.backward_chain(ctxs, dy, True, ((True, True),) * 3, pool, mm)
                                      if g is not None]
    assert spy.calls == 3 + 6  # one product per layer forward, two per layer backward
    for a, b in zip(out[0], out[NO_BLAS]):
        _close(a, b, dtype)
    y_ref, _, _ = R.dense_chain_forward(x, layers)
    _close(out[0][0], y_ref, dtype)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_blas_rule_per_product(rng, threads):
    # Above the crossover (and 2^27 multiply-adds) the forward x @ W goes to BLAS; on
    # one thread with the AVX-512 tile the backward's x^T dz and dz W^T stay on the
    # own kernel at any size (matmul.uses_blas, transposed=True), on two they go to
    # BLAS too; either way the results agree with the own kernel's.
    x, layers = _chain(rng, 512, [512, 600], ["relu"], [True], np.float32)  # 157M MACs
    before = M.get_num_threads()
    M.set_num_threads(threads)
    try:
        spy = Spy()
        own_backward = threads == 1 and M.gemm_isa() == "avx512"
        assert M.uses_blas(512 * 512 * 600, 1 << 21, True) != own_backward
        out = {}
        for blas_min, mm in ((1 << 21, spy), (NO_BLAS, np.matmul)):
            pool = M.BufferPool()
            y, ctxs = K.forward_chain(x, _codes(layers), blas_min, pool, mm)
            dy = np.linspace(-1, 1, y.size).reshape(y.shape).astype(np.float32)
            out[blas_min] = [y.copy()] + [g.copy() for g in K.backward_chain(
                ctxs, dy, True, ((True, True),), pool, mm)]
        assert spy.calls == 1 + (0 if own_backward else 2)
        for a, b in zip(out[1 << 21], out[NO_BLAS]):
            _close(a, b, np.float32)
    finally:
        M.set_num_threads(before)


def test_single_layer_chain_equals_forward_auto(rng):
    x, layers = _chain(rng, 5, [3, 4], ["tanh"], [True], np.float64)
    pool = M.BufferPool()
    y, (ctx,) = K.forward_chain(x, _codes(layers), NO_BLAS, pool, np.matmul)
    y1, ctx1 = K.forward_auto(x, *_codes(layers)[0], NO_BLAS, pool, np.matmul)
    np.testing.assert_array_equal(y, y1)
    dy = rng.standard_normal(y.shape)
    dx, dW, db = K.backward_chain((ctx,), dy, True, ((True, True),), pool, np.matmul)
    for a, b in zip((dx, dW, db), K.backward_auto(ctx1, dy, True, True, True, pool, np.matmul)):
        np.testing.assert_array_equal(a, b)


def test_results_survive_a_second_chain_on_the_same_pool(rng):
    # buffers still held by the caller (y, the saved intermediates) are never handed out again
    x, layers = _chain(rng, 4, [3, 3, 3], ["relu", "identity"], [True, True], np.float64)
    pool = M.BufferPool()
    y1, ctxs1 = K.forward_chain(x, _codes(layers), NO_BLAS, pool, np.matmul)
    keep = y1.copy()
    y2, _ = K.forward_chain(2 * x, _codes(layers), NO_BLAS, pool, np.matmul)
    assert not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(y1, keep)
    dy = np.ones_like(y1)
    g1 = K.backward_chain(ctxs1, dy, True, ((True, True),) * 2, pool, np.matmul)
    want = R.dense_chain_backward(x, layers, dy)
    for a, b in zip(g1, want):
        _close(a, b, np.float64)


class _Sub(np.ndarray):
    """An ndarray subclass: its methods may do anything, so the fast path must not take it."""


def _refusals(rng):
    """(why, x, layers as codes) the kernel must refuse; the fault is in the LAST layer
    where possible, so a kernel that ran the first layers before checking would show it."""
    x, layers = _chain(rng, 4, [3, 5, 2, 4], ["relu", "elu", "tanh"], [True, True, True],
                       np.float32)
    good = list(_codes(layers))
    W2, b2, c2, p2 = good[2]
    cases = [
        ("non-contiguous x", np.asfortranarray(x), good),
        ("strided x", np.repeat(x, 2, axis=1)[:, ::2], good),
        ("float64 x into float32 layers", x.astype(np.float64), good),
        ("float16 x", x.astype(np.float16), good),
        ("1-D x", x[0].copy(), good),
        ("list x", x.tolist(), good),
        ("no layers", x, []),
        ("mixed dtype W", x, good[:2] + [(W2.astype(np.float64), b2, c2, p2)]),
        ("mixed dtype b", x, good[:2] + [(W2, b2.astype(np.float64), c2, p2)]),
        ("width mismatch", x, good[:2] + [(np.ones((3, 4), np.float32), b2, c2, p2)]),
        ("bias of wrong width", x, good[:2] + [(W2, np.ones(5, np.float32), c2, p2)]),
        ("2-D bias", x, good[:2] + [(W2, b2[None, :].copy(), c2, p2)]),
        ("non-contiguous W", x, good[:2] + [(np.asfortranarray(W2), b2, c2, p2)]),
        ("W a subclass", x, good[:2] + [(W2.view(_Sub), b2, c2, p2)]),
        ("code too large", x, good[:2] + [(W2, b2, len(ACTIVATION_CODES), p2)]),
        ("negative code", x, good[:2] + [(W2, b2, -1, p2)]),
        ("layer of 3 items", x, good[:2] + [(W2, b2, c2)]),
    ]
    return x, good, cases


def test_forward_chain_refuses_and_computes_nothing(rng):
    x, good, cases = _refusals(rng)
    pool = M.BufferPool()
    for why, xx, layers in cases:
        # a parked pool buffer of every shape the chain would take, marked with 7s:
        # a refused call must neither hand it out nor write into it
        parked = []
        for W, _, _, _ in good:
            a = pool.get((4, W.shape[1]), np.float32)
            a.fill(7)
            parked.append(weakref.ref(a))
            del a
        spy = Spy()
        assert K.forward_chain(xx, tuple(layers), 0, pool, spy) is None, why
        assert spy.calls == 0, f"{why}: matmul ran before the refusal"
        for ref in parked:
            assert ref() is not None and (ref() == 7).all(), f"{why}: a pool buffer was written"
    # the same pool then serves the good chain, and it is right
    y, _ = K.forward_chain(x, tuple(good), 0, pool, np.matmul)
    layers = [(W, b, n, p) for (W, b, _, p), n in zip(good, ["relu", "elu", "tanh"])]
    _close(y, R.dense_chain_forward(x, layers)[0], np.float32)


def test_forward_chain_rejects_a_non_tuple_layer_list(rng):
    x, good, _ = _refusals(rng)
    with pytest.raises(TypeError):
        K.forward_chain(x, list(good), 0, M.BufferPool(), np.matmul)


def test_backward_chain_refuses_a_dy_that_is_not_plain(rng):
    x, layers = _chain(rng, 4, [3, 5, 2], ["sigmoid", "softplus"], [True, False], np.float32)
    pool = M.BufferPool()
    y, ctxs = K.forward_chain(x, _codes(layers), NO_BLAS, pool, np.matmul)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    need = ((True, True), (True, True))
    spy = Spy()
    for why, bad in [("float64 dy", dy.astype(np.float64)),
                     ("wrong shape", np.ones((4, 3), np.float32)),
                     ("transposed shape", np.ones((2, 4), np.float32)),
                     ("non-contiguous", np.asfortranarray(np.ones((4, 2), np.float32))),
                     ("strided", np.ones((4, 4), np.float32)[:, ::2]),
                     ("1-D", dy.ravel().copy()),
                     ("list", dy.tolist()),
                     ("scalar", 1.0)]:
        assert K.backward_chain(ctxs, bad, True, need, pool, spy) is None, why
    assert K.backward_chain(ctxs, dy, True, need[:1], pool, spy) is None, "need too short"
    assert K.backward_chain((), dy, True, (), pool, spy) is None, "no layers"
    assert spy.calls == 0
    # and the ctxs are still good afterwards
    got = K.backward_chain(ctxs, dy, True, need, pool, np.matmul)
    for g, w in zip(got, R.dense_chain_backward(x, layers, dy)):
        assert (g is None) == (w is None)
        if w is not None:
            _close(g, w, np.float32)


def test_empty_batch_and_zero_width_give_exact_zero_grads(rng):
    for n, widths in ((0, [3, 4, 2]), (5, [3, 0, 2]), (5, [0, 4, 2])):
        x, layers = _chain(rng, n, widths, ["relu", "gelu"], [True, True], np.float64)
        pool = M.BufferPool()
        # pool buffers of the gradient shapes, poisoned with NaN: zeros must be written
        for shape in ((n, widths[0]), (widths[0], 4 if widths[1] else 0), (widths[1],), (widths[1], 2), (2,)):
            pool.get(shape, np.float64).fill(np.nan)
        y, ctxs = K.forward_chain(x, _codes(layers), NO_BLAS, pool, np.matmul)
        dy = np.ones(y.shape)
        got = K.backward_chain(ctxs, dy, True, ((True, True), (True, True)), pool, np.matmul)
        want = R.dense_chain_backward(x, layers, dy)
        for g, w in zip(got, want):
            assert g.shape == w.shape and not np.isnan(g).any()
            np.testing.assert_allclose(g, w, atol=1e-12)

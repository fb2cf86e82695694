"""layer_norm, batch_norm and dropout (microinit/ops/normalization.py): forward and
gradients against torch.nn.functional in float32 and float64 (skipped without torch),
float64 finite-difference gradchecks, and bad input named by the op."""
import numpy as np
import pytest

import microinit as mi
from microinit.ops.normalization import batch_norm, dropout, layer_norm

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _leaf(a):
    return None if a is None else mi.tensor(a, requires_grad=True)


def _torch_leaf(torch, a):
    return None if a is None else torch.tensor(a, requires_grad=True)


def _check_grads(pairs, dtype):
    for ours, theirs in pairs:
        if ours is None:
            continue
        assert ours.grad.dtype == dtype
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((3, 1), (1,)), ((6,), (6,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(dtype, shape, normalized, affine):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    w = rng.standard_normal(normalized).astype(dtype) if affine else None
    b = rng.standard_normal(normalized).astype(dtype) if affine else None
    g = rng.standard_normal(shape).astype(dtype)
    xs, ws, bs = _leaf(x), _leaf(w), _leaf(b)
    y = layer_norm(xs, normalized, ws, bs, eps=1e-5)
    tx, tw, tb = (_torch_leaf(torch, a) for a in (x, w, b))
    ty = torch.nn.functional.layer_norm(tx, normalized, tw, tb, eps=1e-5)
    assert y.dtype == dtype and y.grad_fn == "NativeLayerNormBackward"
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
    y.backward(g)
    ty.backward(torch.tensor(g))
    _check_grads([(xs, tx), (ws, tw), (bs, tb)], dtype)


def _bn_case(rng, shape, dtype, affine):
    x = (rng.standard_normal(shape) * 3 - 1).astype(dtype)
    c = shape[1]
    w = rng.uniform(0.5, 2, c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    rm = rng.standard_normal(c).astype(dtype)
    rv = rng.uniform(0.5, 2, c).astype(dtype)
    return x, w, b, rm, rv


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 1)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_torch_and_updates_running_stats_as_torch(dtype, shape, training, affine):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b, rm, rv = _bn_case(rng, shape, dtype, affine)
    g = rng.standard_normal(shape).astype(dtype)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    xs, ws, bs = _leaf(x), _leaf(w), _leaf(b)
    y = batch_norm(xs, rm, rv, ws, bs, training=training, momentum=0.3, eps=1e-5)
    tx, tw, tb = (_torch_leaf(torch, a) for a in (x, w, b))
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=0.3, eps=1e-5)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(rm, trm.numpy(), **TOL[dtype])  # unbiased variance in the update
    np.testing.assert_allclose(rv, trv.numpy(), **TOL[dtype])
    y.backward(g)
    ty.backward(torch.tensor(g))
    _check_grads([(xs, tx), (ws, tw), (bs, tb)], dtype)


def test_batch_norm_evaluation_needs_running_stats_and_training_a_positive_eps_as_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((5, 2))
    with pytest.raises(RuntimeError, match="running_mean must be defined"):
        torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=False)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var must be given when not training"):
        batch_norm(mi.tensor(x), None, None, training=False)
    with pytest.raises(ValueError, match="eps must be positive"):
        torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True, eps=0.0)
    with pytest.raises(ValueError, match="batch_norm: eps must be positive when training, got 0.0"):
        batch_norm(mi.tensor(x), None, None, training=True, eps=0.0)


def test_gradchecks_in_float64():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    mi.gradcheck(lambda x, w, b: layer_norm(x, 4, w, b), [x, w, b])
    x3 = rng.standard_normal((2, 3, 2))
    mi.gradcheck(lambda x: layer_norm(x, (3, 2)), [x3])
    xb = rng.standard_normal((5, 4))
    mi.gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), [xb, w, b])
    mi.gradcheck(lambda x, w, b: batch_norm(x, np.zeros(4), np.ones(4), w, b, training=False), [xb, w, b])
    mi.gradcheck(lambda x: batch_norm(x, None, None, training=True), [rng.standard_normal((3, 2, 4))])
    # a seed as rng: every call draws the same mask
    mi.gradcheck(lambda x: dropout(x, 0.4, rng=7), [rng.standard_normal((4, 5))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_is_inverted_and_backward_uses_the_forward_mask(dtype):
    x = mi.tensor(np.ones((200, 50), dtype), requires_grad=True)
    y = dropout(x, 0.3, rng=0)
    assert y.dtype == dtype and y.grad_fn == "NativeDropoutBackward"
    kept = y.data != 0
    np.testing.assert_array_equal(y.data[kept], dtype(1 / 0.7))
    # the kept fraction: binomial(10000, 0.7), 4 standard deviations
    assert abs(kept.mean() - 0.7) < 4 * np.sqrt(0.7 * 0.3 / kept.size)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # d/dx of x * mask * scale


def test_dropout_p0_eval_and_p1_as_torch():
    torch = pytest.importorskip("torch")
    x = mi.tensor(np.array([1.0, np.nan, -2.0]), requires_grad=True)
    assert dropout(x, 0.0) is x and dropout(x, 0.7, training=False) is x
    assert torch.nn.functional.dropout(torch.tensor(x.data), 0.7, training=False).tolist()[0] == 1.0
    y = dropout(x, 1.0)
    ty = torch.nn.functional.dropout(torch.tensor(x.data), 1.0)
    np.testing.assert_array_equal(y.data, ty.numpy())  # zeros; NaN * 0 stays NaN in both
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_the_default_generator_draws_the_mask():
    mi.manual_seed(5)
    a = dropout(mi.ones((4, 4)), 0.5).data
    mi.manual_seed(5)
    np.testing.assert_array_equal(dropout(mi.ones((4, 4)), 0.5).data, a)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: dropout(mi.ones(3), 1.5), ValueError, r"dropout: probability has to be between 0 and 1, but got 1.5"),
    (lambda: dropout(mi.ones(3), -0.1), ValueError, r"dropout: probability .* got -0.1"),
    (lambda: dropout(mi.ones(3), "0.5"), TypeError, r"dropout: probability must be a number"),
    (lambda: layer_norm(mi.ones((2, 3)), 4), ValueError, r"layer_norm: input of shape \(2, 3\) does not end in "
                                                         r"normalized_shape \(4,\)"),
    (lambda: layer_norm(mi.ones((2, 3)), 3, np.ones(2)), ValueError, r"layer_norm: weight has shape \(2,\), "
                                                                     r"expected \(3,\)"),
    (lambda: layer_norm(mi.ones((2, 3)), 3, eps=-1), ValueError, r"layer_norm: eps must be a non-negative"),
    (lambda: layer_norm(mi.ones((2, 3)), "3"), TypeError, r"layer_norm: normalized_shape"),
    (lambda: layer_norm(np.ones((2, 3), complex), 3), TypeError, r"layer_norm: input has unsupported dtype complex"),
    (lambda: batch_norm(mi.ones(3), None, None, training=True), ValueError,
     r"batch_norm: expected a 2-D \(N, C\) or 3-D \(N, C, L\) input, got shape \(3,\)"),
    (lambda: batch_norm(mi.ones((1, 3)), None, None, training=True), ValueError,
     r"batch_norm: expected more than 1 value per channel when training"),
    (lambda: batch_norm(mi.ones((2, 3)), np.zeros(2), np.ones(2), training=True), ValueError,
     r"batch_norm: running_mean has shape \(2,\), expected \(3,\)"),
    (lambda: batch_norm(mi.ones((2, 3)), [0.0] * 3, [1.0] * 3), TypeError, r"batch_norm: running_mean must be"),
    (lambda: batch_norm(mi.ones((2, 3)), np.zeros(3), None), ValueError, r"both be given or both be None"),
])
def test_bad_input_names_the_op(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_empty_batches_are_empty_not_errors():
    assert layer_norm(mi.ones((0, 3)), 3).shape == (0, 3)
    rm, rv = np.zeros(3), np.ones(3)
    assert batch_norm(mi.ones((0, 3)), rm, rv, training=False).shape == (0, 3)
    x = mi.tensor(np.ones((0, 3)), requires_grad=True)
    layer_norm(x, 3).sum().backward()
    assert x.grad.shape == (0, 3)

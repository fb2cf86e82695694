import numpy as np
import pytest

from microinit import losses
from microinit.gradcheck import gradcheck
from microinit.tensor import Tensor


def _torch_loss(torch, name, x, t, reduction):
    F = torch.nn.functional
    if name == "cross_entropy":
        return F.cross_entropy(x, t, reduction=reduction)
    if name == "mse":
        return F.mse_loss(x, t, reduction=reduction)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(x, t, reduction=reduction)
    return torch.clamp(1 - t * x, min=0).mean() if reduction == "mean" else (
        torch.clamp(1 - t * x, min=0).sum() if reduction == "sum" else torch.clamp(1 - t * x, min=0))


def _inputs(rng, name):
    x = rng.standard_normal((6, 4))
    if name == "cross_entropy":
        t = rng.integers(0, 4, 6)
    elif name == "mse":
        t = rng.standard_normal((6, 4))
    elif name == "bce":
        t = rng.random((6, 4))
    else:
        t = np.where(rng.random((6, 4)) > 0.5, 1.0, -1.0)
    return x, t


FUNCS = {"cross_entropy": losses.cross_entropy, "mse": losses.mse,
         "bce": losses.binary_cross_entropy_with_logits, "hinge": losses.hinge}


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(rng, name, reduction):
    torch = pytest.importorskip("torch")
    x, t = _inputs(rng, name)
    xt = Tensor(x.copy(), requires_grad=True)
    out = FUNCS[name](xt, t, reduction=reduction)
    g = rng.standard_normal(out.shape)
    (out * Tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tout = _torch_loss(torch, name, tx, torch.tensor(t), reduction)
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(FUNCS))
def test_losses_gradcheck(rng, name):
    x, t = _inputs(rng, name)
    if name == "hinge":  # keep away from the kink at t*s = 1
        x = np.where(np.abs(1 - t * x) < 0.05, x + 0.2, x)
    assert gradcheck(lambda a: FUNCS[name](a, t), [Tensor(x, requires_grad=True)])


@pytest.mark.parametrize("bad, match", [
    (np.array([0, 1, 3]), "label 3 at index 2 is out of range for n_classes 3"),
    (np.array([0, -1, 2]), "label -1"),
    (np.array([0.0, 1.0, 2.0]), "dtype float64"),
])
def test_bad_labels_raise_naming_label(bad, match):
    logits = Tensor(np.zeros((3, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        losses.cross_entropy(logits, bad)
    with pytest.raises(ValueError, match=match):
        losses.CrossEntropyLoss()(logits, bad)


def test_huge_logits_stay_finite():
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), requires_grad=True)
    loss = losses.cross_entropy(logits, np.array([1, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad).all()
    np.testing.assert_allclose(logits.grad.sum(axis=1), 0, atol=1e-12)


def test_one_hot_targets_equal_labels(rng):
    x = rng.standard_normal((5, 3))
    y = rng.integers(0, 3, 5)
    a = losses.cross_entropy(Tensor(x), y).item()
    b = losses.cross_entropy(Tensor(x), np.eye(3)[y]).item()
    assert a == pytest.approx(b, rel=1e-12)


def test_loss_modules_registry_and_accuracy():
    assert isinstance(losses.get("cross_entropy"), losses.CrossEntropyLoss)
    assert isinstance(losses.get("MSE"), losses.MSELoss)
    assert isinstance(losses.get("bce"), losses.BCEWithLogitsLoss)
    assert isinstance(losses.get("max-margin"), losses.HingeLoss)
    assert isinstance(losses.get(losses.cross_entropy), losses.CrossEntropyLoss)

    def custom(p, t):
        return losses.mse(p, t)

    assert losses.get(custom) is custom
    with pytest.raises(ValueError, match="unknown loss 'crossentropyy'.*available"):
        losses.get("crossentropyy")
    with pytest.raises(TypeError):
        losses.get(3)
    with pytest.raises(ValueError, match="reduction"):
        losses.MSELoss(reduction="avg")
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    assert losses.CrossEntropyLoss().correct(logits, np.array([0, 1, 1])) == 2
    assert losses.CrossEntropyLoss().correct(logits, np.eye(2)[[0, 1, 1]]) == 2
    assert losses.BCEWithLogitsLoss().correct(np.array([[1.0], [-1.0]]), np.array([1.0, 1.0])) == 1
    assert losses.HingeLoss().correct(np.array([0.5, -2.0, 1.0]), np.array([1, -1, -1])) == 2
    assert losses.MSELoss().correct(logits, logits) is None
    r = losses.CrossEntropyLoss(reduction="sum")
    assert repr(r) == "CrossEntropyLoss(reduction='sum')"
    x = Tensor(logits)
    assert r(x, np.array([0, 1, 1])).item() == pytest.approx(
        3 * losses.cross_entropy(x, np.array([0, 1, 1])).item())


def test_minus_inf_logits():
    x = Tensor(np.array([[0.0, -np.inf, 1.0]]), requires_grad=True)
    loss = losses.cross_entropy(x, np.array([0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad).all() and x.grad[0, 1] == 0
    with pytest.raises(ValueError, match="every logit -inf"):
        losses.CrossEntropyLoss()(Tensor(np.full((1, 2), -np.inf)), np.array([0]))


# --- the one-call fast paths (regression.mse_*_auto, xent.*_auto) vs the validating path

import microinit.functional as F  # noqa: E402
import microinit.ops.losses as FL  # noqa: E402
import microinit.ops.pair_losses as PL  # noqa: E402  (mse lives there)

MSE_SHAPES = [(), (0,), (1,), (7,), (0, 3), (3, 0), (1, 1), (100, 1), (4, 5), (2, 0, 3), (2, 3, 4)]


def _mse_pass(pred, target, reduction, g, need_target=True):
    loss, saved = FL.mse_loss_forward(pred, target, reduction)
    return (loss, *FL.mse_loss_backward(saved, g, need_target))


def _relayouts(a):
    """The same values in other memory layouts: Fortran order, a strided view,
    byte-swapped (big-endian), read-only."""
    strided = np.repeat(a[..., None], 2, axis=-1)[..., 0] if a.ndim else a
    swapped = a.astype(a.dtype.newbyteorder(">"))
    ro = a.copy()
    ro.flags.writeable = False
    fortran = np.asfortranarray(a) if a.ndim else a  # asfortranarray makes 0-d 1-d
    return {"fortran": fortran, "strided": strided, "byteswapped": swapped, "readonly": ro}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", MSE_SHAPES)
def test_mse_same_bits_in_every_layout(dtype, reduction, shape, rng):
    """One path: every layout reaches the one kernel through the boundary and gives
    the bits of the C-order input (it used to take a second, numpy path)."""
    p = rng.standard_normal(shape).astype(dtype)
    t = rng.standard_normal(shape).astype(dtype)
    g = np.asarray(1.3, dtype)
    ref = _mse_pass(p, t, reduction, g)
    exact = ((p.astype(np.float64) - t) ** 2).sum()
    if reduction == "mean":
        exact = exact / p.size if p.size else 0.0
    assert ref[0].shape == () and ref[0].dtype == dtype
    np.testing.assert_allclose(ref[0], exact, rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(ref[2], -ref[1])
    for name, p2 in _relayouts(p).items():
        for t2 in (t, _relayouts(t)[name]):
            got = _mse_pass(p2, t2, reduction, g)
            for a, b in zip(ref, got):
                assert a.dtype == b.dtype == dtype and a.shape == b.shape, name
                np.testing.assert_array_equal(a, b, err_msg=name)
    got = _mse_pass(p, t, reduction, g, need_target=False)
    assert got[2] is None
    np.testing.assert_array_equal(got[1], ref[1])


def test_mse_empty_mean_is_zero_with_zero_grads():
    for dtype in (np.float32, np.float64):
        e = np.zeros((0, 4), dtype)
        loss, ctx = FL.mse_loss_forward(e, e)
        assert loss == 0 and loss.dtype == dtype and not np.isnan(loss)
        dp, dt = FL.mse_loss_backward(ctx, np.ones((), dtype))
        assert dp.shape == dt.shape == (0, 4)
    x = Tensor(np.zeros((0, 1), np.float32), requires_grad=True)
    loss = losses.mse(x, np.zeros((0, 1), np.float32))
    loss.backward()
    assert loss.item() == 0 and x.grad.shape == (0, 1) and x.grad.dtype == np.float32


@pytest.mark.parametrize("layout", ["strided", "transposed", "fortran", "list", "int"])
def test_mse_non_plain_inputs_fall_back_and_agree(layout, rng):
    big = rng.standard_normal((6, 8)).astype(np.float32)
    t = rng.standard_normal((6, 4)).astype(np.float32)
    p = {"strided": big[:, ::2], "transposed": big.T[:4].T, "fortran": np.asfortranarray(big[:, :4]),
         "list": big[:, :4].tolist(), "int": np.round(big[:, :4] * 3).astype(np.int64)}[layout]
    assert PL._mse_forward_auto(p, t, "mean", PL._pool) is None
    # what the validating path converts p to: lists become float64, ints float32
    plain = np.ascontiguousarray(p, np.float64 if layout == "list" else np.float32)
    for reduction in ("mean", "sum", "none"):
        loss, ctx = FL.mse_loss_forward(p, t, reduction)
        loss_c, ctx_c = FL.mse_loss_forward(plain, t, reduction)
        np.testing.assert_array_equal(loss, loss_c)  # one path: the same bits
        assert loss.dtype == loss_c.dtype == (np.float64 if layout == "list" else np.float32)
        g = np.ones(np.shape(loss), np.float32)
        for a, b in zip(FL.mse_loss_backward(ctx, g), FL.mse_loss_backward(ctx_c, g)):
            np.testing.assert_array_equal(a, b)


def _loss_inputs(name, rng, dtype):
    """(x, target) for a loss: labels for cross_entropy, the same float dtype otherwise."""
    x = rng.standard_normal((6, 4)).astype(dtype)
    if name == "cross_entropy":
        return x, rng.integers(0, 4, 6)
    if name == "cross_entropy_probs":
        t = rng.random((6, 4))
        return x, (t / t.sum(1, keepdims=True)).astype(dtype)
    if name == "hinge":
        return x, np.where(rng.random((6, 4)) > 0.5, 1.0, -1.0).astype(dtype)
    return x, (rng.random((6, 4)) if name == "bce" else rng.standard_normal((6, 4))).astype(dtype)


FUNCTIONAL = {  # name: (forward, backward giving every gradient it can)
    "cross_entropy": (F.cross_entropy_forward, lambda ctx, g: F.cross_entropy_backward(ctx, g, True)),
    "cross_entropy_probs": (F.cross_entropy_forward, lambda ctx, g: F.cross_entropy_backward(ctx, g, True)),
    "mse": (F.mse_loss_forward, lambda ctx, g: F.mse_loss_backward(ctx, g, True)),
    "bce": (F.bce_with_logits_forward, lambda ctx, g: F.bce_with_logits_backward(ctx, g, True)),
    "hinge": (F.hinge_loss_forward, F.hinge_loss_backward),
}


def _read_only_copy(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_read_only_inputs_work_stay_unchanged_and_are_never_returned(name, reduction, dtype, rng):
    # docs/reliability.md row 10: read-only arrays are accepted by every loss (kernels
    # take them as const), are never written to, and no output is a view of one of them.
    # The writeable copies are separate arrays, so the results are compared between two
    # inputs that differ only in the flag (and the memory they live in).
    writeable = _loss_inputs(name, rng, dtype)
    kept = [a.copy() for a in writeable]
    read_only = [_read_only_copy(a) for a in writeable]
    forward, backward = FUNCTIONAL[name]
    results = []
    for args in (read_only, writeable):
        loss, ctx = forward(*args, reduction)
        g = np.ones(np.shape(loss), dtype)
        results.append([loss, *backward(ctx, g)])
    for got, want in zip(*results):
        assert (got is None) == (want is None)
        if got is not None:
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype
            assert got.flags.writeable
            assert not any(np.shares_memory(got, a) for a in read_only)
    for a, before in zip(read_only, kept):
        np.testing.assert_array_equal(a, before)
        assert not a.flags.writeable
    # through the Tensor API: the read-only array as a leaf's data and as the target
    x = Tensor(read_only[0], requires_grad=True)
    public = FUNCS["cross_entropy" if name.startswith("cross_entropy") else name]
    loss = public(x, read_only[1], reduction=reduction)
    (loss.sum() if reduction == "none" else loss).backward()
    np.testing.assert_allclose(x.grad, results[1][1], rtol=1e-6)  # the same upstream gradient, 1
    assert not np.shares_memory(x.grad, read_only[0])
    for a, before in zip(read_only, kept):
        np.testing.assert_array_equal(a, before)


def test_mse_mixed_dtypes_promote_to_float64(rng):
    p = rng.standard_normal((5, 2)).astype(np.float32)
    t = rng.standard_normal((5, 2))
    assert PL._mse_forward_auto(p, t, "mean", PL._pool) is None
    for a, b in ((p, t), (t, p)):
        loss, ctx = FL.mse_loss_forward(a, b)
        assert loss.dtype == np.float64
        np.testing.assert_allclose(loss, ((a.astype(np.float64) - b) ** 2).mean(), rtol=1e-13)
        dp, dt = FL.mse_loss_backward(ctx, 1.0)
        assert dp.dtype == dt.dtype == np.float64


def test_mse_errors_unchanged(rng):
    p = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"input of shape \(3, 2\) and target of shape \(2, 3\) differ"):
        FL.mse_loss_forward(p, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="reduction must be one of"):
        FL.mse_loss_forward(p, p, "avg")
    with pytest.raises(TypeError, match="complex"):
        FL.mse_loss_forward(p.astype(np.complex64), p)
    assert FL.mse_loss_forward(p.astype(np.float16), p)[0].dtype == np.float32  # float16 -> float32


def test_mse_none_reduction_and_array_gradient(rng):
    p = rng.standard_normal((4, 3))
    t = rng.standard_normal((4, 3))
    loss, ctx = FL.mse_loss_forward(p, t, "none")
    np.testing.assert_allclose(loss, (p - t) ** 2)
    g = rng.standard_normal((4, 3))
    dp, dt = FL.mse_loss_backward(ctx, g)
    np.testing.assert_allclose(dp, 2 * (p - t) * g)
    assert FL.mse_loss_backward(ctx, g, need_target=False)[1] is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tensor_losses_through_fast_paths(dtype, rng):
    # two steps back to back: the pooled gradient buffers of the second step must not
    # overwrite the first step's gradients, which are still held
    x = rng.standard_normal((10, 3)).astype(dtype)
    t = rng.standard_normal((10, 3)).astype(dtype)
    y = rng.integers(0, 3, 10)
    grads = []
    for step in range(2):
        a = Tensor(x * (step + 1), requires_grad=True)
        b = Tensor(x * (step + 1), requires_grad=True)
        (losses.mse(a, t) + losses.cross_entropy(b, y)).backward()
        grads.append((a.grad, a.grad.copy(), b.grad, b.grad.copy()))
        assert a.grad.dtype == b.grad.dtype == dtype
        p = np.exp(b.data - b.data.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(10), y] -= 1
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12)
        np.testing.assert_allclose(b.grad, p / 10, **tol)
        np.testing.assert_allclose(a.grad, 2 * (a.data - t) / a.data.size, **tol)
    for held, copy, held_b, copy_b in grads:
        np.testing.assert_array_equal(held, copy)
        np.testing.assert_array_equal(held_b, copy_b)


def test_mse_target_gradient_through_tensor(rng):
    p = Tensor(rng.standard_normal((5, 1)), requires_grad=True)
    t = Tensor(rng.standard_normal((5, 1)), requires_grad=True)
    losses.mse(p, t).backward()
    np.testing.assert_array_equal(t.grad, -p.grad)
    assert gradcheck(lambda a, b: losses.mse(a, b, reduction="sum"),
                     [Tensor(rng.standard_normal((3, 2)), requires_grad=True),
                      Tensor(rng.standard_normal((3, 2)), requires_grad=True)])

"""RMSprop and Adagrad (microinit/optim.py, kernels in _kernels/updates.pyx): each
kernel agrees with its numpy twin in reference.py, the optimizers follow torch.optim
step by step in float32 and float64 over every option, and non-finite gradients raise
FloatingPointError before anything changes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microinit as mi
from microinit import optim
from microinit._kernels import reference as R
from microinit._kernels import updates as U

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

RMSPROP_CASES = [dict(), dict(momentum=0.9), dict(centered=True), dict(centered=True, momentum=0.5, weight_decay=0.1),
                 dict(alpha=0.5, eps=1e-3, weight_decay=0.01)]
ADAGRAD_CASES = [dict(), dict(lr_decay=0.1), dict(weight_decay=0.05, eps=1e-6)]


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10, deadline=None)
@given(n=st.integers(0, 40), case=st.sampled_from(RMSPROP_CASES), seed=st.integers(0, 2**32 - 1))
def test_rmsprop_kernel_matches_reference(dtype, n, case, seed):
    rng = np.random.default_rng(seed)
    p, g = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    v, a, b = (rng.uniform(0, 1, n).astype(dtype) for _ in range(3))
    a *= 0.1  # keep v - a^2 > 0 in the centered case
    want = R.rmsprop_update(p, g, v, a, b, 0.01, **case)
    pk, vk, ak, bk = p.copy(), v.copy(), a.copy(), b.copy()
    assert U.rmsprop_foreach([pk], [g], [vk], [ak], [bk], 0.01, **case) is None
    for got, ref in zip((pk, vk, ak, bk), want):
        if ref is not None:
            np.testing.assert_allclose(got, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10, deadline=None)
@given(n=st.integers(0, 40), case=st.sampled_from(ADAGRAD_CASES), step=st.integers(0, 5),
       seed=st.integers(0, 2**32 - 1))
def test_adagrad_kernel_matches_reference(dtype, n, case, step, seed):
    rng = np.random.default_rng(seed)
    p, g = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    s = rng.uniform(0, 1, n).astype(dtype)
    want = R.adagrad_update(p, g, s, step + 1, 0.1, **case)
    pk, sk, steps = p.copy(), s.copy(), np.array([step], np.int64)
    assert U.adagrad_foreach([pk], [g], [sk], steps, 0.1, **case) is None
    assert steps[0] == step + 1
    np.testing.assert_allclose(pk, want[0], **TOL[dtype])
    np.testing.assert_allclose(sk, want[1], **TOL[dtype])


def _run(make, torch_make, dtype, steps=6):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(4).astype(dtype)]
    ours = [mi.tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = make(ours), torch_make(theirs)
    for _ in range(steps):
        g = [rng.standard_normal(a.shape).astype(dtype) for a in init]
        for p, t, gi in zip(ours, theirs, g):
            p.grad = gi.copy()
            t.grad = torch.tensor(gi.copy())
        opt.step()
        topt.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-5 if dtype == np.float32 else 1e-11,
                                       atol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", RMSPROP_CASES)
def test_rmsprop_follows_torch(dtype, case):
    torch = pytest.importorskip("torch")
    _run(lambda ps: optim.RMSprop(ps, lr=0.01, **case), lambda ps: torch.optim.RMSprop(ps, lr=0.01, **case), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ADAGRAD_CASES)
def test_adagrad_follows_torch(dtype, case):
    torch = pytest.importorskip("torch")
    _run(lambda ps: optim.Adagrad(ps, lr=0.1, **case), lambda ps: torch.optim.Adagrad(ps, lr=0.1, **case), dtype)


@pytest.mark.parametrize("make", [lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.9, centered=True),
                                  lambda ps: optim.Adagrad(ps, lr=0.1)])
def test_nonfinite_gradient_raises_before_any_change_and_state_round_trips(make):
    a, b = mi.tensor([1.0, 2.0], requires_grad=True), mi.tensor([3.0], requires_grad=True)
    opt = make([("a", a), ("b", b)])
    a.grad, b.grad = np.array([0.5, -0.5]), np.array([np.nan])
    with pytest.raises(FloatingPointError, match=r"step 1: the gradient of parameter 'b' \(shape \(1,\), "
                                                 r"float32\) contains NaN/inf; no parameter was updated"):
        opt.step()
    assert a.data.tolist() == [1.0, 2.0] and opt.step_count == 0
    b.grad = np.array([1.0])
    opt.step()
    state = opt.state_dict()
    twin_a, twin_b = mi.tensor(a.data.copy(), requires_grad=True), mi.tensor(b.data.copy(), requires_grad=True)
    twin = make([twin_a, twin_b])
    twin.load_state_dict(state)
    for opt_, ps in ((opt, (a, b)), (twin, (twin_a, twin_b))):
        ps[0].grad, ps[1].grad = np.array([0.1, 0.2]), np.array([0.3])
        opt_.step()
    np.testing.assert_array_equal(a.data, twin_a.data)
    np.testing.assert_array_equal(b.data, twin_b.data)


def test_a_parameter_without_gradient_is_skipped_and_bad_hyperparameters_named():
    a, b = mi.tensor([1.0], requires_grad=True), mi.tensor([1.0], requires_grad=True)
    opt = optim.Adagrad([a, b], lr=0.1)
    a.grad = np.array([1.0])
    opt.step()
    assert b.data.tolist() == [1.0] and opt._steps.tolist() == [1, 0]
    with pytest.raises(ValueError, match="Invalid alpha value: -0.1"):
        optim.RMSprop([a], lr=0.1, alpha=-0.1)
    with pytest.raises(ValueError, match="Invalid lr_decay value"):
        optim.Adagrad([a], lr=0.1, lr_decay=float("inf"))
    assert "RMSprop(1 parameters, lr=0.1, alpha=0.99" in repr(optim.RMSprop([a], lr=0.1))

"""clip_grad_norm_ and clip_grad_value_ (microinit/nn/utils.py) against torch.nn.utils."""
import math

import numpy as np
import pytest

import microinit as mi
from microinit.nn.utils import clip_grad_norm_, clip_grad_value_


def _pair(torch, dtype, scale=3.0):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(dtype) * scale for s in [(3, 4), (4,), (2, 2, 2)]]
    ours, theirs = [], []
    for g in grads:
        p = mi.tensor(np.zeros_like(g), requires_grad=True)
        p.grad = g.copy()
        ours.append(p)
        t = torch.zeros(g.shape, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                        requires_grad=True)
        t.grad = torch.tensor(g.copy())
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(float(total), float(ttotal), rtol=1e-5)
    for p, t in zip(ours, theirs):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_nonfinite_as_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, np.float64)
    ours[0].grad[0, 0] = np.inf
    theirs[0].grad[0, 0] = np.inf
    before = [p.grad.copy() for p in ours]
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 .* is non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    for p, b in zip(ours, before):
        np.testing.assert_array_equal(p.grad, b)  # unchanged on error
    total = clip_grad_norm_(ours, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isinf(float(total)) and math.isinf(float(ttotal))
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(p.grad), np.isnan(t.grad.numpy()))


def test_clip_grad_value_matches_torch_and_skips_missing_grads():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, np.float32)
    extra = mi.tensor([1.0], requires_grad=True)  # no grad: skipped
    clip_grad_value_(ours + [extra], 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    assert extra.grad is None
    assert float(clip_grad_norm_([extra], 1.0)) == 0.0


def test_a_module_or_a_single_tensor_is_accepted_and_bad_input_named():
    model = mi.nn.Dense(2, 2, rng=0)
    model(np.ones((1, 2), np.float32)).sum().backward()
    assert float(clip_grad_norm_(model, 1e-3)) > 1e-3
    assert np.linalg.norm(np.concatenate([p.grad.ravel() for p in model.parameters()])) <= 1e-3 * (1 + 1e-5)
    w = mi.tensor([3.0, 4.0], requires_grad=True)
    w.grad = np.array([3.0, 4.0])
    assert float(clip_grad_norm_(w, 1.0)) == 5.0
    with pytest.raises(TypeError, match="clip_grad_norm_: parameter 0 must be a Tensor, got ndarray"):
        clip_grad_norm_([np.ones(2)], 1.0)
    with pytest.raises(TypeError, match="clip_grad_value_: clip_value must be a number"):
        clip_grad_value_([w], "1")

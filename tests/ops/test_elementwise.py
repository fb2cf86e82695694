"""Elementwise ops at their edge cases, pinned against PyTorch's conventions
(issue 13's findings from peers' suites: pow at 0, clip without bounds)."""

import numpy as np
import pytest

import microinit as mi


def _grad(fn, values):
    x = mi.tensor(np.array(values, np.float64), requires_grad=True)
    fn(x).sum().backward()
    return x.grad


def _torch_grad(fn, values):
    torch = pytest.importorskip("torch")
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


POINTS = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]


@pytest.mark.parametrize("p", [0, 0.0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5])
def test_pow_gradient_matches_torch_everywhere(p):
    ours = _grad(lambda x: x ** p, POINTS)
    theirs = _torch_grad(lambda x: x ** p, POINTS)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_x_to_the_zero_has_zero_gradient_even_at_zero():
    np.testing.assert_array_equal(_grad(lambda x: x ** 0, [0.0, 2.0, -1.0]), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("base", [0.0, 2.0, 0.5, -2.0, 1.0])
def test_rpow_gradient_matches_torch_including_base_zero_and_negative(base):
    ours = _grad(lambda x: base ** x, POINTS)
    theirs = _torch_grad(lambda x: base ** x, POINTS)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_zero_to_the_x_gradient_is_zero_or_minus_inf():
    np.testing.assert_array_equal(_grad(lambda x: 0.0 ** x, [-1.0, 0.0, 2.0]), [-np.inf, 0.0, 0.0])


def test_integer_tensor_powers():
    t = mi.tensor([1, 2, 3])
    sq = t ** 2
    assert sq.dtype == np.int64 and sq.tolist() == [1, 4, 9]
    assert (t ** 0).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match=r"pow: integers to negative integer powers are not allowed "
                                         r"\(tensor of dtype int64, exponent -2\)"):
        t ** -2
    half = t ** 0.5
    assert half.dtype == np.float32
    np.testing.assert_allclose(half.data, np.sqrt([1, 2, 3]), rtol=1e-6)
    with pytest.raises(TypeError, match="pow: the exponent must be a Python number"):
        t ** "2"


def test_clip_without_bounds_is_refused():
    x = mi.tensor([1.0, -3.0])
    with pytest.raises(ValueError, match=r"clip: at least one of lo \(min\) and hi \(max\) must be given"):
        x.clip(None, None)
    with pytest.raises(ValueError):
        x.clip()
    with pytest.raises(TypeError, match="clip: hi must be a number or an array, not a Tensor"):
        x.clip(0.0, mi.tensor(1.0))
    assert x.clip(None, 0.0).tolist() == [0.0, -3.0]
    assert x.clip(0.0).tolist() == [1.0, 0.0]

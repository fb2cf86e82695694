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


def test_division_by_a_python_zero_has_ieee_gradients():
    # forward and backward follow IEEE (1/0 = inf), as PyTorch does; no ZeroDivisionError
    np.testing.assert_array_equal(_grad(lambda x: x / 0, [1.0, 2.0]), [np.inf, np.inf])
    np.testing.assert_array_equal(_grad(lambda x: x / 0, [1.0, 2.0]), _torch_grad(lambda x: x / 0, [1.0, 2.0]))


def test_div_gradient_of_mixed_dtypes_is_computed_in_the_result_dtype():
    # a float64 numerator over a float32 divisor: the forward promotes, so does backward
    bv = np.float32(0.1516353059022126)
    a = mi.tensor(np.array([3.0]), requires_grad=True)
    b = mi.tensor(np.array([bv]), requires_grad=True)
    (a / b).sum().backward()
    assert a.grad.dtype == np.float64 and b.grad.dtype == np.float32
    assert a.grad[0] == 1.0 / np.float64(bv)
    assert b.grad[0] == np.float32(-(3.0 / np.float64(bv)) / np.float64(bv))


@pytest.mark.parametrize("op, fn", [
    ("add", lambda x, y: x + y), ("sub", lambda x, y: x - y), ("mul", lambda x, y: x * y),
    ("div", lambda x, y: x / y), ("less", lambda x, y: x < y), ("greater_equal", lambda x, y: x >= y),
])
def test_shapes_that_do_not_broadcast_name_the_op_and_both_shapes(op, fn):
    x = mi.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"^{op}: shapes \(2, 3\) and \(4,\) do not broadcast together$"):
        fn(x, np.ones(4))
    with pytest.raises(ValueError, match=r"^where: shapes \(4,\) and \(2, 3\) and \(\) do not broadcast"):
        mi.where(np.ones(4, bool), x, 0.0)


def test_reflected_div_by_a_tensor_of_another_shape_names_the_op():
    # found by the fuzz suite: array / tensor raised numpy's message, which names no op
    with pytest.raises(ValueError, match=r"^div: shapes \(2,\) and \(3,\) do not broadcast"):
        np.ones(2) / mi.Tensor(np.array([1, 2, 3], np.int64))


def test_a_zero_gradient_through_a_scalar_beyond_float32_stays_zero():
    # found by the fuzz suite: 2.7e40 is finite as a Python float but inf in float32, so
    # g * c gave 0 * inf = NaN where g is 0 (the masked rule of every other product)
    x = mi.tensor([1.0, 2.0], requires_grad=True)
    (x * 2.7e40).backward(np.array([0.0, 1.0], np.float32))
    assert x.grad[0] == 0.0 and np.isinf(x.grad[1])

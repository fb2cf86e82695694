"""microinit.gradcheck: passes correct gradients, and for wrong ones raises a
GradcheckError (an AssertionError) naming the input, the worst element and both values."""

import numpy as np
import pytest

import microinit as mi
from microinit import GradcheckError, gradcheck
from microinit.autograd import record



def _broken_square(bad_index, factor=1.5):
    """x**2 whose backward is wrong by `factor` at one element only."""
    def fn(t):
        x = t.data

        def backward(g):
            d = 2 * x * g
            d[bad_index] *= factor
            return (d,)
        return record(x * x, "BrokenSquare", (t,), backward)
    return fn


def _x(shape, seed=0):
    return mi.tensor(np.random.default_rng(seed).standard_normal(shape) + 3, requires_grad=True, dtype=np.float64)


def test_passes_correct_gradients():
    x, w = _x((3, 4)), _x((4, 2), 1)
    assert gradcheck(lambda a, b: (a @ b).tanh().sum(axis=0), [x, w]) is True
    assert x.grad is None and w.grad is None  # leaves no gradients behind


def test_names_worst_element_and_values():
    x = _x((3, 4))
    with pytest.raises(GradcheckError) as err:
        gradcheck(_broken_square((1, 2)), [x])
    msg = str(err.value)
    assert "input 0" in msg and "element (1, 2)" in msg
    a = 2 * x.data[1, 2] * 1.5
    assert f"analytic {float(a)!r}" in msg and f"numeric {float(a) / 1.5:.6f}"[:16] in msg
    assert isinstance(err.value, AssertionError)


def test_names_the_input_index():
    x, y = _x((2, 2)), _x((2, 2), 1)
    broken = _broken_square((0, 1), factor=-1.0)
    with pytest.raises(GradcheckError, match=r"input 1 at element \(0, 1\)"):
        gradcheck(lambda a, b: a * 2 + broken(b), [x, y])


def test_projection_mode_for_large_outputs():
    x = _x((10, 10))  # 100 outputs > max_full_outputs: random projections
    assert gradcheck(lambda t: t.exp() * 0.1, [x])
    with pytest.raises(GradcheckError, match=r"element \(7, 3\).*random projection"):
        gradcheck(_broken_square((7, 3)), [x])


def test_leaves_input_data_unchanged():
    x = _x((3,))
    before = x.data.copy()
    gradcheck(lambda t: t.sigmoid(), [x])
    np.testing.assert_array_equal(x.data, before)


def test_detects_nan_gradient():
    def fn(t):
        return record(t.data * 2, "NanGrad", (t,), lambda g: (g * np.nan,))
    with pytest.raises(GradcheckError):
        gradcheck(fn, [_x((2,))])


def test_input_conversion_and_errors():
    assert gradcheck(lambda t: (t * t).sum(), [np.arange(3.0)])  # float arrays become float64 leaves
    assert gradcheck(lambda t, k: t * k, [_x((2,)), 3.0])        # non-tensors pass through
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [mi.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, [mi.ones(2, dtype=np.float64)])
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda t: 1.0, [_x((2,))])


def test_tolerances_are_respected():
    x = _x((2,))
    broken = _broken_square((0,), factor=1 + 1e-2)  # a 1% relative error
    with pytest.raises(GradcheckError):
        gradcheck(broken, [x])          # default rtol 1e-3
    assert gradcheck(broken, [x], rtol=5e-2)

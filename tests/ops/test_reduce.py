"""Reductions' axis argument (microinit/ops/reduce.py): checked and named before numpy
sees it, with PyTorch's rule that a 0-d tensor has axis 0."""
import numpy as np
import pytest

import microinit as mi

REDUCTIONS = ["sum", "mean", "max", "min"]


@pytest.mark.parametrize("op", REDUCTIONS)
@pytest.mark.parametrize("axis, err, msg", [
    (2, ValueError, r"axis 2 is out of range for a tensor with 2 dimension\(s\)"),
    (-3, ValueError, r"axis -3 is out of range"),
    ((0, 0), ValueError, r"axis \(0, 0\) names the same dimension twice"),
    ((1, -1), ValueError, r"axis \(1, -1\) names the same dimension twice"),
    (1.5, TypeError, r"axis must be an int, a tuple of ints or None, got 1.5"),
    (True, TypeError, r"axis must be an int"),
    ("0", TypeError, r"axis must be an int"),
])
def test_bad_axes_name_the_op(op, axis, err, msg):
    t = mi.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    with pytest.raises(err, match=rf"^{op}: {msg}"):
        getattr(t, op)(axis=axis)


@pytest.mark.parametrize("op", REDUCTIONS)
@pytest.mark.parametrize("axis", [0, -1, None])
def test_a_0d_tensor_reduces_over_axis_0_as_in_torch(op, axis):
    torch = pytest.importorskip("torch")
    x = mi.tensor(np.float64(2.5), requires_grad=True)
    y = getattr(x, op)(axis=axis)
    tx = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    ty = getattr(torch, {"max": "amax", "min": "amin"}.get(op, op))(tx, **({} if axis is None else {"dim": axis}))
    assert y.shape == () and y.item() == ty.item()
    y.backward()
    ty.backward()
    assert x.grad.item() == tx.grad.item()
    with pytest.raises(ValueError, match=rf"{op}: axis 1 is out of range for a tensor with 0 dimension"):
        getattr(x, op)(axis=1)


@pytest.mark.parametrize("op", REDUCTIONS)
@pytest.mark.parametrize("axis", [(0, 2), (-1,), [1], 1, (), None])
@pytest.mark.parametrize("keepdims", [False, True])
def test_valid_axes_match_numpy_and_torch_gradients(op, axis, keepdims):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4))
    x = mi.tensor(a, requires_grad=True)
    y = getattr(x, op)(axis=axis, keepdims=keepdims)
    ref = getattr(np, op)(a, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
    np.testing.assert_allclose(y.data, ref, rtol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    tx = torch.tensor(a, requires_grad=True)
    name = {"max": "amax", "min": "amin"}.get(op, op)
    dims = list(range(3)) if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    ty = getattr(torch, name)(tx, dim=dims, keepdim=keepdims) if dims else tx * 1.0
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)


def test_int_max_min_of_an_empty_batch_reduce_to_an_empty_result():
    # found by the fuzz suite: an empty int tensor was refused even when the reduced axis is not empty
    t = mi.Tensor(np.zeros((0, 2, 3), np.int64))
    assert t.max(axis=-1).shape == (0, 2) and t.min(axis=-1).dtype == np.int64
    with pytest.raises(ValueError, match="max"):
        t.max(axis=0)


@pytest.mark.parametrize("op", ["argmax", "argmin", "cumsum"])
def test_a_0d_tensor_takes_axis_0_or_minus_1_only(op):
    # found by the fuzz suite: any axis of a 0-d tensor was silently accepted (PyTorch: IndexError)
    t = mi.Tensor(np.float32(2.0))
    assert float(getattr(t, op)(axis=-1).data) == (2.0 if op == "cumsum" else 0.0)
    with pytest.raises(ValueError, match=op):
        getattr(t, op)(axis=1)

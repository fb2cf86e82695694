"""arange, full, eye, linspace and the *_like creators (microinit/ops/creation.py):
values and dtypes as PyTorch makes them, requires_grad, and clear errors."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("args, kw", [((5,), {}), ((2, 7), {}), ((1, 2, 0.25), {}), ((0, -3, -1), {}),
                                      ((0.0, 1.0, 0.1), {}), ((3,), {"dtype": "float64"}), ((4, 1, -1.5), {}),
                                      ((2, 2), {})])
def test_arange_matches_torch(args, kw):
    y = mi.arange(*args, **kw)
    ty = torch.arange(*args, **({"dtype": getattr(torch, kw["dtype"])} if kw else {}))
    assert y.dtype == ty.numpy().dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.numpy(), rtol=1e-6)


@pytest.mark.parametrize("fill", [7, 2.5, True, np.float64(1.5)])
def test_full_infers_the_dtype_as_torch(fill):
    y, ty = mi.full((2, 3), fill), torch.full((2, 3), fill)
    assert y.dtype == ty.numpy().dtype and y.tolist() == ty.tolist()


def test_eye_linspace_and_likes():
    assert mi.eye(3).tolist() == torch.eye(3).tolist() and mi.eye(2, 4).shape == (2, 4)
    np.testing.assert_allclose(mi.linspace(-1, 2, 7).data, torch.linspace(-1, 2, 7).numpy(), rtol=1e-6)
    assert mi.linspace(0, 1, 0).shape == (0,) and mi.linspace(3, 3, 1).tolist() == [3.0]
    t = mi.tensor(np.zeros((2, 3), np.float64))
    for y, v in ((mi.zeros_like(t), 0.0), (mi.ones_like(t), 1.0), (mi.full_like(t, -2.0), -2.0)):
        assert y.shape == (2, 3) and y.dtype == np.float64 and (y.data == v).all()
    assert mi.ones_like(mi.tensor([1, 2])).dtype == np.int64
    assert mi.zeros_like(t, dtype="float32").dtype == np.float32
    assert mi.full_like(np.zeros(2, np.float32), 3).tolist() == [3.0, 3.0]


def test_requires_grad_makes_a_leaf_that_learns():
    w = mi.full((2,), 0.5, requires_grad=True)
    (w * mi.arange(1.0, 3.0)).sum().backward()
    assert w.is_leaf and w.grad.tolist() == [1.0, 2.0]
    assert mi.eye(2, dtype="float64", requires_grad=True).requires_grad


@pytest.mark.parametrize("call, err, msg", [
    (lambda: mi.arange(0, 5, 0), ValueError, r"^arange: step must be nonzero"),
    (lambda: mi.arange(0, 5, -1), ValueError, r"^arange: the range \[0, 5\) cannot be walked with step -1"),
    (lambda: mi.arange("3"), TypeError, r"^arange: stop must be a number"),
    (lambda: mi.arange(float("inf")), ValueError, r"^arange: stop must be finite"),
    (lambda: mi.arange(3, requires_grad=True), TypeError, r"^arange: only float tensors can require grad"),
    (lambda: mi.full((2,), "a"), TypeError, r"^full: fill_value must be a number"),
    (lambda: mi.full((2, -1), 1.0), ValueError, r"^full: negative dimension in shape \(2, -1\)"),
    (lambda: mi.full((2.5,), 1.0), TypeError, r"^full: shape must be an int or a tuple of ints"),
    (lambda: mi.full((2,), 1.0, dtype="float16"), TypeError, r"^full: unsupported dtype float16"),
    (lambda: mi.eye(2, dtype="complex64"), TypeError, r"^eye: unsupported dtype complex64"),
    (lambda: mi.eye(-1), ValueError, r"^eye: negative dimension"),
    (lambda: mi.linspace(0, 1, -2), ValueError, r"^linspace: num must be a non-negative int"),
    (lambda: mi.zeros_like([1, 2]), TypeError, r"^zeros_like: expected a Tensor or an array, got list"),
    (lambda: mi.full_like(mi.zeros(2), None), TypeError, r"^full_like: fill_value must be a number"),
    (lambda: mi.ones_like(mi.zeros(2), dtype="nope"), TypeError, r"^ones_like: 'nope' is not a dtype"),
])
def test_bad_arguments_name_the_op(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def test_0d_shapes_stay_0d():
    assert mi.full((), 2.0).shape == () and mi.zeros_like(mi.tensor(1.0)).shape == ()

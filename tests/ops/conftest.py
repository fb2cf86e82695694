"""Helpers of the op tests: parity with torch.autograd (forward and gradients, in the
input's dtype) and float64 finite-difference gradchecks."""
import numpy as np
import pytest

import microinit as mi

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _torch_parity(mi_fn, torch_fn, arrays, dtype, grad=True, seed=0):
    """mi_fn(*tensors) and torch_fn(*torch tensors) agree: values, dtype, and the
    gradients of every float input under one random upstream gradient."""
    torch = pytest.importorskip("torch")
    arrays = [np.asarray(a) for a in arrays]
    cast = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    xs = [mi.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in cast]
    ts = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in cast]
    y, ty = mi_fn(*xs), torch_fn(*ts)
    want = ty.detach().numpy()
    assert y.shape == tuple(want.shape) and y.dtype == want.dtype, (y.shape, y.dtype, want.shape, want.dtype)
    np.testing.assert_allclose(y.data, want, **TOL[dtype], equal_nan=True)
    if not (grad and y.requires_grad):
        return y
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        if x.requires_grad:
            tg = np.zeros_like(x.data) if t.grad is None else t.grad.numpy()
            assert x.grad.dtype == x.dtype
            np.testing.assert_allclose(x.grad, tg, **TOL[dtype], equal_nan=True)
    return y


def _gradcheck(fn, arrays, **kw):
    # copies: two inputs made from one array must not share memory while perturbed
    ins = [mi.tensor(np.array(a, np.float64), requires_grad=True) if np.asarray(a).dtype.kind == "f" else a
           for a in arrays]
    assert mi.gradcheck(fn, ins, **kw)


@pytest.fixture
def torch_parity():
    return _torch_parity


@pytest.fixture
def fd_gradcheck():
    return _gradcheck

"""elementwise.pyx (through functional.elementwise) agrees with its numpy twin in
reference.py: every activation, float32 and float64, 0/1-sized and non-contiguous
inputs, read-only buffers, and the parallel (prange) path."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microinit import F
from microinit._kernels import elementwise as K
from microinit._kernels import reference as R

ACTS = list(K.CODES)
PARAM = {"leaky_relu": 0.1, "elu": 0.8}
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}

shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)


def _data(rng, shape, dtype):
    x = rng.standard_normal(shape) * 3
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTS)
@settings(max_examples=8, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_forward_backward_match_reference(name, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    x = _data(rng, shape, dtype)
    dy = _data(rng, shape, dtype)
    p = PARAM.get(name, 0.0)
    y = F.activation_forward(name, x, p)
    assert y.shape == x.shape and y.dtype == dtype
    np.testing.assert_allclose(y, R.activation_forward(name, x, p), **TOL[dtype])
    dx = F.activation_backward(name, x, y, dy, p)
    assert dx.shape == x.shape and dx.dtype == dtype
    np.testing.assert_allclose(dx, R.activation_backward(name, x, y, dy, p), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTS)
def test_non_contiguous_and_readonly_inputs(name, dtype, rng):
    base = _data(rng, (6, 8), dtype)
    p = PARAM.get(name, 0.0)
    views = {"strided": base[:, ::2], "transposed": base.T, "reversed": base[::-1],
             "fortran": np.asfortranarray(base)}
    ro = base.copy()
    ro.flags.writeable = False
    views["readonly"] = ro
    for label, v in views.items():
        y = F.activation_forward(name, v, p)
        np.testing.assert_array_equal(y, F.activation_forward(name, np.ascontiguousarray(v), p), err_msg=label)
        xc = np.ascontiguousarray(v)
        dy = _data(rng, xc.shape[::-1], dtype).T  # a non-contiguous upstream gradient too
        np.testing.assert_array_equal(F.activation_backward(name, xc, y, dy, p),
                                      F.activation_backward(name, xc, y, np.ascontiguousarray(dy), p),
                                      err_msg=label)
        np.testing.assert_allclose(F.activation_backward(name, xc, y, dy, p),
                                   R.activation_backward(name, xc, y, dy, p), **TOL[dtype], err_msg=label)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTS)
def test_raw_kernel_and_parallel_path(name, dtype, rng):
    # 1 << 16 elements crosses the kernel's prange threshold (1 << 15)
    x = _data(rng, (1 << 16,), dtype)
    p = PARAM.get(name, 0.0)
    out = np.empty_like(x)
    K.activation_forward(K.CODES[name], x, out, p)
    np.testing.assert_allclose(out, R.activation_forward(name, x, p), **TOL[dtype])
    dy = _data(rng, x.shape, dtype)
    dx = np.empty_like(x)
    K.activation_backward(K.CODES[name], x, out, dy, dx, p)
    np.testing.assert_allclose(dx, R.activation_backward(name, x, out, dy, p), **TOL[dtype])


def test_conventions_at_zero():
    x = np.zeros(1)
    one = np.ones(1)
    d = {n: F.activation_backward(n, x, F.activation_forward(n, x, PARAM.get(n, 0.0)), one, PARAM.get(n, 0.0))[0]
         for n in ACTS}
    assert d["relu"] == 0.0            # PyTorch's relu'(0)
    assert d["leaky_relu"] == 0.1      # slope at 0
    assert d["elu"] == pytest.approx(0.8)  # alpha (left limit)
    assert d["identity"] == 1.0
    assert d["tanh"] == 1.0 and d["sigmoid"] == 0.25 and d["gelu"] == 0.5 and d["softplus"] == 0.5


def test_extreme_inputs_stay_finite():
    x = np.array([-1e4, -100.0, 100.0, 1e4])
    for name in ("sigmoid", "tanh", "softplus", "gelu", "elu", "selu"):
        y = F.activation_forward(name, x, PARAM.get(name, 1.0))
        assert np.isfinite(y).all(), name
        assert np.isfinite(F.activation_backward(name, x, y, np.ones(4), PARAM.get(name, 1.0))).all(), name
    np.testing.assert_allclose(F.activation_forward("softplus", x)[-1], 1e4)


def test_unknown_activation_and_bad_dtype():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        F.activation_forward("swish", np.zeros(2))
    # float16 is upcast to float32 by the boundary's stated rule; complex is refused
    half = F.activation_forward("relu", np.array([1.5, -2.0], np.float16))
    assert half.dtype == np.float32 and half.tolist() == [1.5, 0.0]
    with pytest.raises(TypeError, match="complex"):
        F.activation_forward("relu", np.zeros(2, np.complex64))
    assert F.activation_forward("relu", [1, -2]).dtype == np.float32  # ints/lists -> float32


def test_zero_size_never_reaches_kernel():
    for shape in [(0,), (0, 5), (3, 0, 2)]:
        x = np.zeros(shape)
        y = F.activation_forward("tanh", x)
        assert y.shape == shape
        assert F.activation_backward("tanh", x, y, np.zeros(shape)).shape == shape



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(K.CODES))
def test_nan_propagates_through_every_activation(name, dtype):
    # IEEE semantics for raw ops (docs/reliability.md row 13): a NaN input gives a NaN output; it is
    # never silently turned into a number (relu used to map NaN to 0).
    x = np.array([np.nan, -1.0, 0.0, 2.0], dtype=dtype)
    out = np.empty_like(x)
    K.activation_forward(K.CODES[name], x, out, 0.01)
    assert np.isnan(out[0])
    assert np.isnan(R.activation_forward(name, x, 0.01)[0])
    assert np.all(np.isfinite(out[1:]))

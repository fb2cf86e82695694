"""dense.forward / dense.backward agree with their numpy twins in reference.py."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microinit._kernels import ACTIVATION_CODES
from microinit._kernels import dense as K
from microinit._kernels import matmul as M
from microinit._kernels import reference as R

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 3e-5, np.float64: 1e-11}
PARAMS = {"leaky_relu": 0.1, "elu": 1.3}
NEEDS_Z = {"leaky_relu", "elu", "selu", "gelu", "softplus"}
SHAPES = [(1, 1, 1), (5, 3, 7), (6, 16, 16), (13, 40, 9), (100, 2, 16), (33, 70, 20)]


def _close(got, want, dtype):
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATION_CODES))
@pytest.mark.parametrize("bias", [True, False])
def test_forward_backward_match_reference(rng, dtype, name, bias, dense_case):
    code, p = ACTIVATION_CODES[name], PARAMS.get(name, 0.0)
    for n, i, o in SHAPES:
        x, W, b = dense_case(rng, n, i, o, dtype, bias)
        y = np.empty((n, o), dtype)
        z = np.empty((n, o), dtype) if name in NEEDS_Z else y
        K.forward(x, W, b, z, y, code, p)
        z_ref, y_ref = R.dense_forward(x, W, b, name, p)
        _close(y, y_ref, dtype)
        if z is not y:
            _close(z, z_ref, dtype)
        dy = rng.standard_normal((n, o)).astype(dtype)
        dx, dW, db, dz = (np.empty((n, i), dtype), np.empty((i, o), dtype),
                          np.empty(o, dtype), np.empty((n, o), dtype))
        K.backward(x, W, z, y, dy, dz, dx, dW, db, code, p)
        for got, want in zip((dx, dW, db), R.dense_backward(x, W, z_ref, y_ref, dy, name, p)):
            _close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_epilogue_only_path_matches_full_kernel(rng, dtype, dense_case):
    # do_matmul=False: the caller did the products (BLAS); only the fused epilogues run.
    x, W, b = dense_case(rng, 20, 30, 10, dtype)
    code = ACTIVATION_CODES["gelu"]
    y_full, z_full = np.empty((20, 10), dtype), np.empty((20, 10), dtype)
    K.forward(x, W, b, z_full, y_full, code, 0.0)
    z = x @ W
    y = np.empty_like(z)
    K.forward(None, None, b, z, y, code, 0.0, False)
    _close(y, y_full, dtype)
    _close(z, z_full, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dz, db = np.empty_like(dy), np.empty(10, dtype)
    K.backward(None, None, z, y, dy, dz, None, None, db, code, 0.0, False)
    want_dz = R.activation_backward("gelu", z, y, dy)
    _close(dz, want_dz, dtype)
    _close(db, want_dz.sum(axis=0), dtype)


def test_identity_backward_in_place_and_partial_outputs(rng, dense_case):
    x, W, b = dense_case(rng, 9, 4, 3, np.float64)
    y = np.empty((9, 3))
    K.forward(x, W, b, y, y, ACTIVATION_CODES["identity"])
    dy = rng.standard_normal((9, 3))
    keep = dy.copy()
    db = np.empty(3)
    # dz aliases dy for identity: nothing is copied or modified; only db is wanted here.
    K.backward(x, W, y, y, dy, dy, None, None, db, ACTIVATION_CODES["identity"])
    np.testing.assert_array_equal(dy, keep)
    _close(db, dy.sum(axis=0), np.float64)


def test_empty_batch_gives_zero_parameter_grads():
    x = np.empty((0, 4))
    W = np.ones((4, 3))
    y = np.empty((0, 3))
    K.forward(x, W, np.ones(3), y, y, 1)
    dW, db = np.full((4, 3), np.nan), np.full(3, np.nan)
    K.backward(x, W, y, y, np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 4)), dW, db, 1)
    assert not dW.any() and not db.any()


def test_kernel_refuses_bad_calls():
    x, W = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    y = np.empty((2, 4), np.float32)
    with pytest.raises(TypeError, match="dtype"):
        K.forward(x.astype(np.float64), W, None, y, y, 0)
    with pytest.raises(ValueError, match=r"expected shape \(3, 4\)"):
        K.forward(x, np.ones((3, 5), np.float32), None, y, y, 0)
    with pytest.raises(ValueError, match="activation code"):
        K.forward(x, W, None, y, y, 99)
    with pytest.raises(ValueError, match=r"b: expected shape \(4,\)"):
        K.forward(x, W, np.ones(3, np.float32), y, y, 0)


def test_auto_paths_decline_what_they_cannot_take_plainly(rng):
    pool = M.BufferPool()
    x = rng.standard_normal((4, 3)).astype(np.float32)
    W = rng.standard_normal((3, 2)).astype(np.float32)
    # mixed dtypes, non-contiguous input, wrong inner size, bad bias: None, never a guess
    assert K.forward_auto(x, W.astype(np.float64), None, 1, 0.0, 1 << 21, pool, np.matmul) is None
    assert K.forward_auto(np.asfortranarray(x), W, None, 1, 0.0, 1 << 21, pool, np.matmul) is None
    assert K.forward_auto(x, W.T.copy(), None, 1, 0.0, 1 << 21, pool, np.matmul) is None
    assert K.forward_auto(x, W, np.ones(3, np.float32), 1, 0.0, 1 << 21, pool, np.matmul) is None
    assert K.forward_auto([[1.0]], W, None, 1, 0.0, 1 << 21, pool, np.matmul) is None
    y, ctx = K.forward_auto(x, W, None, 1, 0.0, 1 << 21, pool, np.matmul)
    np.testing.assert_allclose(y, np.maximum(x @ W, 0), rtol=1e-5)  # float32 sums: -O0 (no FMA) rounds differently
    assert K.backward_auto(ctx, np.ones((4, 3), np.float32), True, True, True, pool, np.matmul) is None
    assert K.backward_auto(ctx, np.ones((4, 2)), True, True, True, pool, np.matmul) is None
    dx, dW, db = K.backward_auto(ctx, np.ones((4, 2), np.float32), True, False, True, pool, np.matmul)
    assert dW is None and db is None and dx.shape == (4, 3)


@settings(max_examples=60, deadline=None)
@given(n=st.sampled_from([0, 1, 2, 5, 6, 7, 16, 17, 40]), i=st.sampled_from([0, 1, 3, 6, 17, 33]),
       o=st.sampled_from([0, 1, 2, 8, 16, 17, 35]), name=st.sampled_from(sorted(ACTIVATION_CODES)),
       dtype=st.sampled_from(DTYPES), bias=st.booleans(), seed=st.integers(0, 2**31))
def test_random_shapes_match_reference(n, i, o, name, dtype, bias, seed, dense_case):
    rng = np.random.default_rng(seed)
    code, p = ACTIVATION_CODES[name], PARAMS.get(name, 0.0)
    x, W, b = dense_case(rng, n, i, o, dtype, bias)
    y = np.full((n, o), np.nan, dtype)
    z = np.full((n, o), np.nan, dtype) if name in NEEDS_Z else y
    K.forward(x, W, b, z, y, code, p)
    z_ref, y_ref = R.dense_forward(x, W, b, name, p)
    _close(y, y_ref, dtype)
    dy = rng.standard_normal((n, o)).astype(dtype)
    dx, dW, db = (np.full((n, i), np.nan, dtype), np.full((i, o), np.nan, dtype),
                  np.full(o, np.nan, dtype))
    K.backward(x, W, z, y, dy, np.empty((n, o), dtype), dx, dW, db, code, p)
    for got, want in zip((dx, dW, db), R.dense_backward(x, W, z_ref, y_ref, dy, name, p)):
        _close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("o", [1, 7, 8, 16, 31, 32, 57, 63, 100])
def test_bias_gradient_adds_rows_in_order(o, dtype):
    # db is each column added up row by row from 0, in blocks of 32/16/8/1 columns
    # (dense_core.pxd: dense_column_sums): bit for bit the running sum in the dtype
    rng = np.random.default_rng(o)
    n, i = 37, 3
    x = rng.standard_normal((n, i)).astype(dtype)
    W = rng.standard_normal((i, o)).astype(dtype)
    dy = (rng.standard_normal((n, o)) * 10.0 ** rng.integers(-3, 4, (n, o))).astype(dtype)
    y = np.empty((n, o), dtype)
    K.forward(x, W, None, y, y, ACTIVATION_CODES["identity"], 0.0)
    db = np.full(o, np.nan, dtype)
    K.backward(x, W, y, y, dy, np.empty((n, o), dtype), None, None, db, ACTIVATION_CODES["identity"], 0.0)
    running = np.zeros(o, dtype)
    for row in dy:
        running += row  # one rounding per add, in the dtype
    np.testing.assert_array_equal(db, running)

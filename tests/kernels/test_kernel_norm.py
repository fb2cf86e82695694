"""norm.pyx and dropout.pyx agree with their numpy twins in reference_norm.py over random
shapes (0- and 1-sized dimensions included), float32 and float64, affine or not; they
return None (the boundary's cue) for every argument that is not plain, and the ops give
the same bits for Fortran-ordered, strided and byte-swapped input as for C-ordered."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microinit as mi
from microinit._kernels import dropout as D
from microinit._kernels import norm as K
from microinit._kernels import reference_norm as R
from microinit.ops.normalization import batch_norm, dropout, layer_norm

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
dims = st.integers(0, 9)
seeds = st.integers(0, 2**32 - 1)


def _data(seed, shape, dtype, affine):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    d = shape[1]
    w = rng.standard_normal(d).astype(dtype) if affine else None
    b = rng.standard_normal(d).astype(dtype) if affine else None
    return x, dy, w, b


def _close(got, want, dtype):
    for g, r in zip(got, want):
        if g is None:
            continue
        assert g.dtype == dtype
        np.testing.assert_allclose(g, r, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(m=dims, d=dims, affine=st.booleans(), seed=seeds)
def test_layer_norm_matches_reference(dtype, m, d, affine, seed):
    x, dy, w, b = _data(seed, (m, d), dtype, affine)
    y, mean, rstd = K.layer_norm_forward(x, w, b, 1e-5)
    _close((y, mean, rstd), R.layer_norm_forward(x, w, b, 1e-5), dtype)
    dx, dw, db = K.layer_norm_backward(x, mean, rstd, w, dy, True, True)
    _close((dx, dw, db), R.layer_norm_backward(x, mean, rstd, w, dy), dtype)
    dx2, none_w, none_b = K.layer_norm_backward(x, mean, rstd, w, dy, True, False)
    assert none_w is None and none_b is None
    np.testing.assert_array_equal(dx2, dx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_stats", [True, False])
@settings(max_examples=15, deadline=None)
@given(n=dims, c=dims, affine=st.booleans(), seed=seeds)
def test_batch_norm_matches_reference(dtype, batch_stats, n, c, affine, seed):
    x, dy, w, b = _data(seed, (n, c), dtype, affine)
    rng = np.random.default_rng(seed + 1)
    rm = rng.standard_normal(c).astype(dtype)
    rv = rng.uniform(0.5, 2.0, c).astype(dtype)
    y, mean, var, invstd = K.batch_norm_forward(x, w, b, rm, rv, 1e-5, batch_stats)
    _close((y, mean, var, invstd), R.batch_norm_forward(x, w, b, rm, rv, 1e-5, batch_stats), dtype)
    if not batch_stats:
        assert mean is rm and var is rv  # the running statistics, as given
    got = K.batch_norm_backward(x, mean, invstd, w, dy, batch_stats, True)
    _close(got, R.batch_norm_backward(x, mean, invstd, w, dy, batch_stats), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple),
       p=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), seed=seeds)
def test_dropout_matches_reference_exactly(dtype, shape, p, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    u = rng.random(shape, dtype=dtype)
    y, keep = D.dropout_forward(x, u, p)
    ry, rkeep = R.dropout_forward(x, u, p)
    np.testing.assert_array_equal(y, ry)  # one product each: exact
    np.testing.assert_array_equal(keep, rkeep)
    dy = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(D.dropout_backward(dy, keep, p), R.dropout_backward(dy, keep, p))


def test_dropout_keeps_nan_and_drops_by_multiplying():
    x = np.array([np.nan, np.inf, 1.0])
    y, keep = D.dropout_forward(x, np.array([0.0, 0.0, 0.0]), 0.5)  # everything dropped
    assert keep.tolist() == [0, 0, 0] and np.isnan(y[:2]).all() and y[2] == 0


def _variants(a):
    """The same values as Fortran-ordered, strided, and byte-swapped arrays."""
    f = np.asfortranarray(a)
    s = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)[:, ::2]
    s[...] = a
    return [f, s, a.astype(a.dtype.newbyteorder(">" if a.dtype.isnative and np.little_endian else "<"))]


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_plain_arguments_are_refused_and_the_ops_give_the_same_bits(dtype):
    x, dy, w, b = _data(0, (5, 4), dtype, True)
    ln = layer_norm(x, 4, w, b).data
    bn = batch_norm(x, None, None, w, b, training=True).data
    for v in _variants(x):
        assert K.layer_norm_forward(v, w, b, 1e-5) is None
        assert K.batch_norm_forward(v, w, b, None, None, 1e-5, True) is None
        assert D.dropout_forward(v, np.zeros_like(x), 0.5) is None
        np.testing.assert_array_equal(layer_norm(v, 4, w, b).data, ln)
        np.testing.assert_array_equal(batch_norm(v, None, None, w, b, training=True).data, bn)
        np.testing.assert_array_equal(dropout(mi.tensor(v), 0.5, rng=3).data,
                                      dropout(mi.tensor(x), 0.5, rng=3).data)
    # other dtypes, lengths and missing statistics: None, never a crash
    assert K.layer_norm_forward(x, w[:3], b, 1e-5) is None
    assert K.layer_norm_forward(x, w.astype(np.float16), b, 1e-5) is None
    assert K.layer_norm_forward(x.reshape(-1), None, None, 1e-5) is None
    assert K.layer_norm_backward(x, None, None, w, dy, True, True) is None
    assert K.layer_norm_backward(x, np.zeros(4, dtype), np.zeros(5, dtype), w, dy, True, True) is None
    assert K.batch_norm_forward(x, w, b, None, None, 1e-5, False) is None
    assert K.batch_norm_backward(x, np.zeros(4, dtype), np.zeros(4, dtype), w, dy[:2], True, True) is None
    assert D.dropout_forward(x, np.zeros((5, 3), dtype), 0.5) is None
    assert D.dropout_forward(x, np.zeros_like(x), 1.5) is None
    assert D.dropout_backward(dy, np.zeros((5, 4), bool), 0.5) is None


def test_float32_statistics_accumulate_in_double():
    # a large mean with a small spread: a float32 running sum would lose the spread
    x = (np.float32(1e4) + np.arange(4096, dtype=np.float32) % 3)[None, :]
    _, mean, rstd = K.layer_norm_forward(x, None, None, 0.0)
    x64 = x.astype(np.float64)
    assert mean[0] == np.float32(x64.mean())
    np.testing.assert_allclose(rstd[0], 1 / x64.std(), rtol=1e-6)


@pytest.mark.parametrize("module", [K, D], ids=lambda m: m.__name__)
def test_module_examples_pass(module):
    import doctest

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

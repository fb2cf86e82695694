"""matmul.gemm / gemm_batched agree with their numpy twins (reference.py) and refuse bad calls."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microinit._kernels import matmul as K
from microinit._kernels import reference as R

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _close(got, want, dtype, k):
    scale = max(1.0, np.sqrt(max(k, 1)))
    np.testing.assert_allclose(got, want, rtol=TOL[dtype] * scale, atol=TOL[dtype] * scale * 4)


def _operands(rng, m, k, n, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


# Sizes straddle the register tile (6 x 16 / 6 x 8), the KC=256 depth block and the
# MC=72 row block, and include 0 and 1.
SIZES = [0, 1, 2, 5, 6, 7, 16, 17, 33, 73, 257]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_matches_reference_on_edge_sizes(rng, dtype, ta, tb):
    for m, k, n in [(1, 1, 1), (0, 3, 4), (3, 0, 4), (3, 4, 0), (6, 16, 16), (7, 17, 17),
                    (13, 257, 33), (73, 5, 2), (2, 300, 75), (100, 2, 16)]:
        a, b = _operands(rng, m, k, n, ta, tb, dtype)
        out = np.full((m, n), np.nan, dtype)
        K.gemm(a, b, out, ta, tb)
        _close(out, R.gemm(a, b, ta, tb), dtype, k)


@settings(max_examples=40, deadline=None)
@given(m=st.sampled_from(SIZES), k=st.sampled_from(SIZES), n=st.sampled_from(SIZES),
       ta=st.booleans(), tb=st.booleans(), dtype=st.sampled_from(DTYPES),
       acc=st.booleans(), seed=st.integers(0, 2**31))
def test_gemm_random_shapes(m, k, n, ta, tb, dtype, acc, seed):
    rng = np.random.default_rng(seed)
    a, b = _operands(rng, m, k, n, ta, tb, dtype)
    start = rng.standard_normal((m, n)).astype(dtype)
    out = start.copy()
    K.gemm(a, b, out, ta, tb, acc)
    want = R.gemm(a, b, ta, tb) + (start if acc else 0)
    _close(out, want, dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["direct", "packed"])
def test_gemm_forced_paths_match_reference(rng, dtype, path):
    # gemm picks the A access by size; both must agree with the twin on ragged shapes,
    # with one and two threads (row blocks split across threads).
    for m, k, n in [(1, 1, 1), (7, 3, 17), (13, 257, 33), (150, 300, 40)]:
        for ta in (False, True):
            for tb in (False, True):
                a, b = _operands(rng, m, k, n, ta, tb, dtype)
                for nt in (1, 2):
                    out = np.full((m, n), np.nan, dtype)
                    K.gemm_path(a, b, out, ta, tb, path, nt)
                    _close(out, R.gemm(a, b, ta, tb), dtype, k)
    with pytest.raises(ValueError, match="path must be"):
        K.gemm_path(np.ones((2, 2)), np.ones((2, 2)), np.empty((2, 2)), False, False, "fast")


def test_gemm_large_block_and_threads(rng):
    # Deeper than KC (two depth blocks accumulate), more rows than two MC blocks, more
    # columns than one NC panel would need with both thread counts.
    a = rng.standard_normal((150, 600)).astype(np.float32)
    b = rng.standard_normal((600, 130)).astype(np.float32)
    want = a.astype(np.float64) @ b
    before = K.get_num_threads()
    try:
        for nt in (1, 2):
            K.set_num_threads(nt)
            out = np.empty((150, 130), np.float32)
            K.gemm(a, b, out)
            np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-3)
    finally:
        K.set_num_threads(before)


def test_gemm_reads_read_only_inputs(rng):
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal((3, 5))
    a.flags.writeable = False
    b.flags.writeable = False
    out = np.empty((4, 5))
    K.gemm(a, b, out)
    _close(out, a @ b, np.float64, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_batched_with_broadcast_operands(rng, dtype):
    a = rng.standard_normal((1, 5, 7)).astype(dtype)
    b = rng.standard_normal((4, 7, 3)).astype(dtype)
    a_b = np.broadcast_to(a, (4, 5, 7))  # batch stride 0, read-only
    out = np.empty((4, 5, 3), dtype)
    K.gemm_batched(a_b, b, out)
    _close(out, R.gemm_batched(a_b, b), dtype, 7)
    # transposed flags on a batched call
    out_t = np.empty((4, 7, 7), dtype)
    K.gemm_batched(a_b, a_b, out_t, True, False)
    _close(out_t, R.gemm_batched(a_b, a_b, True, False), dtype, 5)


def test_gemm_rejects_mismatched_dtypes_and_shapes(rng):
    a = np.ones((2, 3), np.float32)
    b = np.ones((3, 4), np.float64)
    with pytest.raises(TypeError, match="dtype"):
        K.gemm(a, b, np.empty((2, 4), np.float32))
    with pytest.raises(TypeError, match="float16"):
        K.gemm(a, a, np.empty((2, 3), np.float16))
    with pytest.raises(ValueError, match=r"expected shape \(3, 4\)"):
        K.gemm(a, np.ones((5, 4), np.float32), np.empty((2, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        K.gemm(a, np.ones((4, 3), np.float32).T, np.empty((2, 4), np.float32))
    ro = np.empty((2, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        K.gemm(a, np.ones((3, 4), np.float32), ro)
    with pytest.raises(ValueError, match="2-D"):
        K.gemm(np.ones(3, np.float32), np.ones((3, 4), np.float32), np.empty((1, 4), np.float32))


def test_num_threads_roundtrip():
    before = K.get_num_threads()
    try:
        K.set_num_threads(1)
        assert K.get_num_threads() == 1
        with pytest.raises(ValueError, match=">= 1"):
            K.set_num_threads(0)
    finally:
        K.set_num_threads(before)


def test_buffer_pool_reuses_only_idle_arrays():
    pool = K.BufferPool(per_key=2)
    a = pool.get((3, 4), np.float32)
    b = pool.get((3, 4), np.float32)
    assert a is not b                                   # a is held by this test
    a_id = id(a)
    del a
    c = pool.get((3, 4), np.float32)
    assert id(c) == a_id                                # idle again: handed out
    view = b[1:]
    del b
    d = pool.get((3, 4), np.float32)
    assert d.base is None and view.base is not d        # a live view pins its base
    assert pool.get((3, 4), np.float64).dtype == np.float64
    assert pool.get((5,), np.float32).shape == (5,)
    assert pool.get((2, 2, 2), np.float32).shape == (2, 2, 2)   # 3-D: plain allocation
    assert pool.nbytes() > 0
    pool.clear()
    assert pool.nbytes() == 0


def test_matmul_auto_declines_non_plain_arguments(rng):
    pool = K.BufferPool()
    a = rng.standard_normal((5, 4)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    assert K.matmul_auto(a, b.astype(np.float64), 1 << 21, pool, np.matmul) is None
    assert K.matmul_auto(a, b.T.copy(), 1 << 21, pool, np.matmul) is None
    assert K.matmul_auto(np.asfortranarray(a), b, 1 << 21, pool, np.matmul) is None
    assert K.matmul_auto(a[None], b, 1 << 21, pool, np.matmul) is None
    for blas_min in (1 << 21, -1):   # own kernel, then BLAS
        out = K.matmul_auto(a, b, blas_min, pool, np.matmul)
        np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-6)


def test_buffer_pool_keeps_a_bounded_number_of_shapes():
    pool = K.BufferPool(per_key=2, max_keys=3)
    for n in range(1, 10):           # nine batch sizes, nothing held
        pool.get((n, 4), np.float32)
    assert pool.nbytes() == sum(4 * 4 * n for n in (7, 8, 9))   # only the newest three

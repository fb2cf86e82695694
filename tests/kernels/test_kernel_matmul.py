"""matmul.gemm / gemm_batched agree with their numpy twins (reference.py) and refuse bad calls."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microinit._kernels import matmul as K
from microinit._kernels import reference as R

from guard_pages import gemm_operands_at_end, guarded_region

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _close(got, want, dtype, k):
    scale = max(1.0, np.sqrt(max(k, 1)))
    np.testing.assert_allclose(got, want, rtol=TOL[dtype] * scale, atol=TOL[dtype] * scale * 4)


def _operands(rng, m, k, n, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


# Sizes straddle the direct path's register tile (6 x 16 / 6 x 8), the KC=256 depth
# block and the MC=72 row block, and include 0 and 1 (the packed path's tiles and
# blocks: test_kernel_gemm_packed.py).
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


# --- the small-product paths of gemm.pxd (mi_gemm_direct) -------------------------
# Every shape up to 20 in each dimension reaches one of: the dot-product path (one
# output column or row), row-exact tiles of 1..6 rows against 8- or 16-lane panels
# read in place or packed (ragged or transposed B), and C^T = op(B)^T op(A)^T with a
# transposed store (op(A) transposed, few columns). 0..20 straddles both register
# widths (8/16 floats, 4/8 doubles) and the 6-row tile.

SMALL = range(21)


def _pool(rng, dtype, size=4096):
    return rng.standard_normal(size).astype(dtype)


def _within(got, want, dtype, k):
    # assert_allclose's bound without its per-call cost (this loop runs ~9000 shapes)
    tol = TOL[dtype] * max(1.0, np.sqrt(max(k, 1)))
    return bool(np.all(np.abs(got - want) <= tol * 4 + tol * np.abs(want)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_every_small_shape_matches_reference(rng, dtype, ta, tb):
    pool = _pool(rng, dtype)
    bad = []
    for m in SMALL:
        for n in SMALL:
            for k in SMALL:
                a = pool[: m * k].reshape((k, m) if ta else (m, k))
                b = pool[1000: 1000 + k * n].reshape((n, k) if tb else (k, n))
                acc = (m + n + k) % 2 == 1
                start = pool[2000: 2000 + m * n].reshape(m, n)
                out = start.copy() if acc else np.full((m, n), np.nan, dtype)
                K.gemm(a, b, out, ta, tb, acc)
                want = R.gemm(a, b, ta, tb) + (start if acc else 0)
                if not _within(out, want, dtype, k):
                    bad.append((m, k, n, acc))
    assert not bad, f"gemm disagrees with the twin at (m, k, n, accumulate) = {bad[:10]}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_small_paths_with_strided_batched_operands(rng, dtype):
    # gemm_batched passes row strides larger than the row length (column slices of a
    # wider array): one-column products then cannot take the contiguous dot path and
    # go through packed panels instead; transposed stores see ldc = n.
    for m, k, n in [(9, 7, 1), (1, 7, 9), (17, 5, 3), (5, 17, 2), (20, 300, 1), (1, 300, 20)]:
        for ta in (False, True):
            for tb in (False, True):
                a_full = rng.standard_normal((3,) + ((k, m + 3) if ta else (m, k + 3))).astype(dtype)
                b_full = rng.standard_normal((3,) + ((n, k + 2) if tb else (k, n + 2))).astype(dtype)
                a = a_full[:, :, :m] if ta else a_full[:, :, :k]
                b = b_full[:, :, :k] if tb else b_full[:, :, :n]
                for acc in (False, True):
                    start = rng.standard_normal((3, m, n)).astype(dtype)
                    out = start.copy()
                    K.gemm_batched(a, b, out, ta, tb, acc)
                    want = R.gemm_batched(a, b, ta, tb) + (start if acc else 0)
                    _close(out, want, dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_narrow_shapes_deep_and_threaded(rng, dtype):
    # Depth beyond one KC=256 block accumulates into C (also through the transposed
    # store of the C^T path), and two threads split the column panels of whichever
    # product (C or C^T) runs; the forced packed path runs the same tiles on packed
    # operands.
    for m, k, n in [(150, 300, 3), (3, 300, 150), (40, 600, 1), (1, 600, 40), (130, 20, 10),
                    (5, 20, 3), (20, 5, 9)]:
        for ta in (False, True):
            for tb in (False, True):
                a, b = _operands(rng, m, k, n, ta, tb, dtype)
                want = R.gemm(a, b, ta, tb)
                for path in ("direct", "packed"):
                    for nt in (1, 2):
                        out = np.full((m, n), np.nan, dtype)
                        K.gemm_path(a, b, out, ta, tb, path, nt)
                        _close(out, want, dtype, k)
                start = rng.standard_normal((m, n)).astype(dtype)
                out = start.copy()
                K.gemm(a, b, out, ta, tb, True)
                _close(out, want + start, dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_never_touches_memory_past_its_operands(rng, dtype):
    # Operands and output end right before an inaccessible page: a kernel that reads
    # a full vector or tile past the last row/column (instead of a zero-padded copy)
    # faults here. Shapes cover ragged tiles, panels and dot-product tails.
    regions = [guarded_region(64 * 1024) for _ in range(3)]
    if any(r is None for r in regions):
        pytest.skip("needs Linux mprotect")
    sizes = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17]
    for m in sizes:
        for n in sizes:
            for k in sizes:
                for ta in (False, True):
                    for tb in (False, True):
                        a, b, out = gemm_operands_at_end(regions, rng, m, k, n, ta, tb, dtype)
                        K.gemm(a, b, out, ta, tb, (m + n) % 2 == 0)
                        if (m + n) % 2 == 1:
                            assert _within(out, R.gemm(a, b, ta, tb), dtype, k), (m, k, n, ta, tb)

"""microinit.set_num_threads / get_num_threads govern the OpenMP kernels and numpy's BLAS."""
import os
import subprocess
import sys

import numpy as np
import pytest

import microinit
from microinit import threads
from microinit._kernels import matmul as K


@pytest.fixture
def restore_threads():
    before = microinit.get_num_threads()
    yield
    microinit.set_num_threads(before)


def test_set_get_roundtrip_governs_kernels_and_blas(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    for n in (1, 2):
        microinit.set_num_threads(n)
        assert microinit.get_num_threads() == n
        # a build without OpenMP runs every kernel on one thread
        assert K.get_num_threads() == (n if K.HAS_OPENMP else 1)
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == n for p in blas)


def test_results_do_not_depend_on_thread_count(rng, restore_threads):
    # Forced paths with 2 threads (gemm itself only starts a team from 2^23 MACs):
    # "packed": threads split row blocks of a packed A; "direct": A is read in place and
    # threads split the column panels of B. Plus gemm on a product above the threshold.
    for m, k, n in [(200, 150, 120), (100, 128, 130)]:
        a = rng.standard_normal((m, k))
        b = rng.standard_normal((k, n))
        for path in ("packed", "direct"):
            outs = []
            for nt in (1, 2):
                out = np.empty((m, n))
                K.gemm_path(a, b, out, False, False, path, nt)
                outs.append(out)
            np.testing.assert_array_equal(outs[0], outs[1])
            np.testing.assert_allclose(outs[0], a @ b, rtol=1e-12, atol=1e-12)
    for m, k, n in [(260, 200, 170)]:
        a = rng.standard_normal((m, k))
        b = rng.standard_normal((k, n))
        outs = []
        for nt in (1, 2):
            microinit.set_num_threads(nt)
            out = np.empty((m, n))
            K.gemm(a, b, out)
            outs.append(out)
        # each output element is summed in the same order whichever thread computes it
        np.testing.assert_array_equal(outs[0], outs[1])
        np.testing.assert_allclose(outs[0], a @ b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad,err", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                     ("2", TypeError), (None, TypeError), (True, TypeError)])
def test_bad_thread_counts_are_refused(bad, err, restore_threads):
    with pytest.raises(err, match="set_num_threads"):
        microinit.set_num_threads(bad)


def test_default_comes_from_omp_num_threads_or_cores():
    code = "import microinit; print(microinit.get_num_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    env.pop("OMP_NUM_THREADS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == len(os.sched_getaffinity(0))


def test_threads_module_default_parses_env(monkeypatch):
    monkeypatch.setattr(threads, "_current", None)
    monkeypatch.setenv("OMP_NUM_THREADS", "3,2")
    assert threads.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "garbage")
    assert threads.get_num_threads() == len(os.sched_getaffinity(0))


def test_dense_parallel_epilogue_matches_one_thread(rng, restore_threads, monkeypatch):
    # 300 x 512 outputs: above the epilogue's parallel threshold (2^17 elements). The
    # own kernel is forced (OpenBLAS may split sums differently with two threads).
    from microinit.ops import linalg as L

    monkeypatch.setattr(L, "DENSE_BLAS_MIN", 1 << 62)
    x = rng.standard_normal((300, 20)).astype(np.float32)
    W = rng.standard_normal((20, 512)).astype(np.float32)
    b = rng.standard_normal(512).astype(np.float32)
    dy = rng.standard_normal((300, 512)).astype(np.float32)
    results = []
    for nt in (1, 2):
        microinit.set_num_threads(nt)
        y, ctx = L.dense_forward(x, W, b, "gelu")
        results.append([y.copy()] + [g.copy() for g in L.dense_backward(ctx, dy)])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_without_threadpoolctl_kernels_are_still_governed(restore_threads, monkeypatch):
    import sys as _sys

    monkeypatch.setitem(_sys.modules, "threadpoolctl", None)  # import now fails
    with pytest.warns(RuntimeWarning, match="threadpoolctl is not installed"):
        microinit.set_num_threads(1)
    assert microinit.get_num_threads() == 1 and K.get_num_threads() == 1

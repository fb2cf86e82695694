"""regression.pyx (MSE in one call each way) agrees with its numpy twins in reference.py
over shapes with 0- and 1-sized dims, 0-d to 3-d, float32 and float64, both reductions;
it returns None (the validating path's cue) for every non-plain argument, its pooled
outputs never overwrite an array a caller still holds, and on large inputs its loops
release the GIL (another Python thread runs meanwhile)."""
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microinit._kernels import reference as R
from microinit._kernels import regression as K
from microinit._kernels.matmul import BufferPool

LOSS_TOL = {np.float32: dict(rtol=1e-6, atol=0), np.float64: dict(rtol=1e-13, atol=0)}
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum"]


def _pair(rng, shape, dtype):
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple),
       g=st.floats(-3, 3), seed=st.integers(0, 2**32 - 1))
def test_matches_reference(dtype, reduction, shape, g, seed):
    rng = np.random.default_rng(seed)
    p, t = _pair(rng, shape, dtype)
    pool = BufferPool()
    loss, diff = K.mse_forward_auto(p, t, reduction, pool)
    ref_loss, ref_diff = R.mse_forward(p, t, reduction)
    assert loss.shape == () and loss.dtype == dtype and diff.dtype == dtype and diff.shape == shape
    np.testing.assert_array_equal(diff, ref_diff)  # one subtraction each: exact
    np.testing.assert_allclose(loss, ref_loss, **LOSS_TOL[dtype])
    dp, dt = K.mse_backward_auto(diff, g, reduction, True, pool)
    ref_dp, ref_dt = R.mse_backward(ref_diff, g, reduction)
    assert dp.dtype == dtype and dp.shape == shape
    np.testing.assert_array_equal(dp, ref_dp)  # s rounded once, one product: exact
    np.testing.assert_array_equal(dt, ref_dt)
    dp2, none = K.mse_backward_auto(diff, g, reduction, False, pool)
    assert none is None
    np.testing.assert_array_equal(dp2, ref_dp)


@pytest.mark.parametrize("dtype", DTYPES)
def test_known_values_and_empty(dtype):
    pool = BufferPool()
    p = np.array([[1.0], [3.0]], dtype)
    t = np.zeros((2, 1), dtype)
    loss, diff = K.mse_forward_auto(p, t, "mean", pool)
    assert loss == 5.0
    assert K.mse_forward_auto(p, t, "sum", pool)[0] == 10.0
    np.testing.assert_array_equal(K.mse_backward_auto(diff, 1.0, "mean", False, pool)[0], [[1.0], [3.0]])
    np.testing.assert_array_equal(K.mse_backward_auto(diff, 0.5, "sum", True, pool)[1], [[-1.0], [-3.0]])
    # an empty input: mean 0 (not NaN) and empty gradients
    e = np.zeros((0, 3), dtype)
    for reduction in REDUCTIONS:
        loss, diff = K.mse_forward_auto(e, e, reduction, pool)
        assert loss == 0 and loss.dtype == dtype and diff.shape == (0, 3)
        dp, dt = K.mse_backward_auto(diff, 1.0, reduction, True, pool)
        assert dp.shape == dt.shape == (0, 3)


def test_float32_sum_accumulates_in_double():
    # 1e4^2 + 64 * 1^2 = 100000064 is a float32 (a multiple of its ulp 8 there), but a
    # float32 running sum drops every 1 added to 1e8; the double sum keeps them all.
    p = np.array([1e4] + [1.0] * 64, np.float32)
    t = np.zeros_like(p)
    loss, _ = K.mse_forward_auto(p, t, "sum", BufferPool())
    assert loss == np.float32(100000064)
    acc = np.float32(0)
    for v in p * p:  # the premise: a float32 running sum loses every 1
        acc = np.float32(acc + v)
    assert acc == np.float32(1e8)


def _other_thread_runs_during(call, budget):
    """Whether another Python thread gets to run while ``call()`` runs in this one.

    The other thread blocks (GIL released) until signalled, then needs the GIL for one
    line of Python. This thread signals and at once calls ``call`` again and again, for up
    to ``budget`` seconds or until the other thread has run. The switch interval is set far
    above the budget meanwhile, so the interpreter does not hand the GIL over between
    bytecodes: the other thread can only run while ``call`` itself has released the GIL.
    """
    ready, go, ran = threading.Event(), threading.Event(), threading.Event()

    def other():
        ready.set()
        go.wait()
        ran.set()

    interval = sys.getswitchinterval()
    thread = threading.Thread(target=other, daemon=True)
    sys.setswitchinterval(100 * budget)
    try:
        thread.start()
        ready.wait()
        deadline = time.perf_counter() + budget
        go.set()
        while not ran.is_set() and time.perf_counter() < deadline:
            call()
        return ran.is_set()
    finally:
        go.set()
        sys.setswitchinterval(interval)
        thread.join()


def test_gil_probe_sees_a_call_that_holds_the_gil():
    # the probe's control: sorting floats is one C call that never releases the GIL
    values = np.random.default_rng(0).random(50_000).tolist()
    assert not _other_thread_runs_during(lambda: sorted(values), budget=0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_input_releases_the_gil(dtype, rng):
    p, t = _pair(rng, (1000, 500), dtype)  # 500000 elements: far above NOGIL_MIN
    pool = BufferPool()
    loss, diff = K.mse_forward_auto(p, t, "mean", pool)
    np.testing.assert_allclose(loss, R.mse_forward(p, t)[0], **LOSS_TOL[dtype])
    np.testing.assert_array_equal(K.mse_backward_auto(diff, 1.5, "mean", True, pool)[1],
                                  R.mse_backward(diff, 1.5)[1])
    # another thread runs while the loops run: forward and backward release the GIL
    assert _other_thread_runs_during(lambda: K.mse_forward_auto(p, t, "mean", pool), budget=10.0)
    assert _other_thread_runs_during(lambda: K.mse_backward_auto(diff, 1.5, "sum", True, pool), budget=10.0)


class _Sub(np.ndarray):
    pass


def _not_plain(rng):
    p = rng.standard_normal((4, 6))
    yield "strided", p[:, ::2], np.zeros((4, 3))
    yield "transposed", p.T, np.zeros((6, 4))
    yield "fortran", np.asfortranarray(p), np.zeros((4, 6))
    yield "float32 vs float64", p.astype(np.float32), p
    yield "float16", p.astype(np.float16), p.astype(np.float16)
    yield "int", np.ones((4, 6), np.int64), np.ones((4, 6), np.int64)
    yield "list", p.tolist(), p
    yield "shape", p, np.zeros((6, 4))
    yield "ndim", p, np.zeros((4, 6, 1))
    yield "subclass", p.view(_Sub), p
    yield "scalar", 1.0, 2.0


def test_returns_none_unless_plain(rng):
    pool = BufferPool()
    for name, p, t in _not_plain(rng):
        assert K.mse_forward_auto(p, t, "mean", pool) is None, name
        assert K.mse_forward_auto(t, p, "sum", pool) is None, name
    p, t = _pair(rng, (3, 2), np.float64)
    for reduction in ("none", "avg", None):
        assert K.mse_forward_auto(p, t, reduction, pool) is None
    diff = p - t
    for g in (np.ones(1), np.ones((3, 2)), np.float32(1.0), np.ones((), np.float16), "1", None):
        assert K.mse_backward_auto(diff, g, "mean", True, pool) is None, repr(g)
    assert K.mse_backward_auto(diff, 1.0, "none", True, pool) is None
    assert K.mse_backward_auto(diff[:, ::2], 1.0, "mean", True, pool) is None
    assert K.mse_backward_auto(diff.astype(np.float16), 1.0, "mean", True, pool) is None


@pytest.mark.parametrize("g", [2, 2.0, np.float64(2.0), np.array(2.0), np.array(2.0, np.float32)])
def test_scalar_gradient_forms(g):
    diff = np.array([1.0, -2.0], np.float32)
    dp, _ = K.mse_backward_auto(diff, g, "sum", False, BufferPool())
    np.testing.assert_array_equal(dp, [4.0, -8.0])
    assert dp.dtype == np.float32


def test_huge_int_gradient_overflows_like_float():
    with pytest.raises(OverflowError):
        float(10**400)
    with pytest.raises(OverflowError):
        K.mse_backward_auto(np.ones(2), 10**400, "sum", False, BufferPool())


def test_pooled_outputs_never_overwrite_held_arrays(rng):
    pool = BufferPool()
    p, t = _pair(rng, (5, 2), np.float32)
    _, d1 = K.mse_forward_auto(p, t, "mean", pool)
    kept = d1.copy()
    _, d2 = K.mse_forward_auto(t, p, "mean", pool)  # d1 still held: a new buffer
    assert d2 is not d1
    np.testing.assert_array_equal(d1, kept)
    g1, n1 = K.mse_backward_auto(d1, 1.0, "mean", True, pool)
    assert g1 is not n1 and g1 is not d1 and n1 is not d2
    # once released, the buffer is handed out again: a steady state allocates nothing
    ident = id(d2)
    del d2
    _, d3 = K.mse_forward_auto(p, t, "mean", pool)
    assert id(d3) == ident

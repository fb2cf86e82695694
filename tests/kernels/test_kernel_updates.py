"""updates.pyx against its numpy twins in reference.py."""
import numpy as np
import pytest

from microinit._kernels import reference as ref
from microinit._kernels import updates

SHAPES = [(0,), (1,), (7,), (3, 4), (1, 5), (4, 0), (2, 3, 5)]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-13, atol=1e-13)}


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum, nesterov, wd, damp", [
    (0.0, False, 0.0, 0.0), (0.9, False, 0.0, 0.0), (0.9, True, 0.01, 0.0),
    (0.5, False, 0.1, 0.3), (0.0, False, 0.05, 0.0),
])
def test_sgd_matches_twin(rng, dtype, momentum, nesterov, wd, damp):
    ps = [_rand(rng, s, dtype) for s in SHAPES]
    bufs = [np.zeros(s, dtype) for s in SHAPES]
    exp_p = [p.copy() for p in ps]
    exp_b = [b.copy() for b in bufs]
    for step in range(3):
        gs = [_rand(rng, s, dtype) for s in SHAPES]
        assert updates.sgd_foreach(ps, gs, bufs, 0.1, momentum, damp, wd, nesterov, step == 0) is None
        for j in range(len(SHAPES)):
            exp_p[j], nb = ref.sgd_update(exp_p[j], gs[j], exp_b[j], 0.1, momentum, damp, wd,
                                          nesterov, step == 0)
            exp_b[j] = nb if nb is not None else exp_b[j]
    for j in range(len(SHAPES)):
        assert ps[j].dtype == dtype
        np.testing.assert_allclose(ps[j], exp_p[j], **TOL[dtype])
        if momentum:
            np.testing.assert_allclose(bufs[j], exp_b[j], **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wd, decoupled", [(0.0, False), (0.1, False), (0.1, True)])
def test_adam_matches_twin(rng, dtype, wd, decoupled):
    ps = [_rand(rng, s, dtype) for s in SHAPES]
    ms = [np.zeros(s, dtype) for s in SHAPES]
    vs = [np.zeros(s, dtype) for s in SHAPES]
    steps = np.zeros(len(SHAPES), np.int64)
    exp = [(p.copy(), m.copy(), v.copy()) for p, m, v in zip(ps, ms, vs)]
    for step in range(1, 5):
        gs = [_rand(rng, s, dtype) for s in SHAPES]
        assert updates.adam_foreach(ps, gs, ms, vs, steps, 0.01, 0.9, 0.99, 1e-8, wd, decoupled) is None
        exp = [ref.adam_update(p, g, m, v, step, 0.01, 0.9, 0.99, 1e-8, wd, decoupled)
               for (p, m, v), g in zip(exp, gs)]
    assert steps.tolist() == [4] * len(SHAPES)
    for j in range(len(SHAPES)):
        for got, want in zip((ps[j], ms[j], vs[j]), exp[j]):
            np.testing.assert_allclose(got, want, **TOL[dtype])


def test_none_gradient_is_skipped_and_state_untouched(rng):
    ps = [_rand(rng, (3,), np.float64) for _ in range(3)]
    before = [p.copy() for p in ps]
    ms = [np.zeros(3) for _ in range(3)]
    vs = [np.zeros(3) for _ in range(3)]
    steps = np.zeros(3, np.int64)
    g = _rand(rng, (3,), np.float64)
    updates.adam_foreach(ps, [None, g, None], ms, vs, steps, 0.1)
    assert steps.tolist() == [0, 1, 0]
    np.testing.assert_array_equal(ps[0], before[0])
    np.testing.assert_array_equal(ps[2], before[2])
    assert not np.array_equal(ps[1], before[1])
    assert not ms[0].any() and not vs[2].any()


def test_non_contiguous_or_other_dtype_gradient_is_converted(rng):
    p = _rand(rng, (4, 3), np.float32)
    expect = p.copy()
    g = rng.standard_normal((3, 4)).T  # float64, Fortran order
    updates.sgd_foreach([p], [g], [], 0.5)
    np.testing.assert_allclose(p, expect - 0.5 * g.astype(np.float32), rtol=1e-6)
    p2 = _rand(rng, (5,), np.float64)
    e2 = p2.copy()
    g2 = rng.standard_normal(10)[::-2]  # negative stride
    updates.sgd_foreach([p2], [g2], [], 0.5)
    np.testing.assert_allclose(p2, e2 - 0.5 * g2)
    p3 = np.zeros(3, np.float32)
    updates.sgd_foreach([p3], [np.array([1, 2, 3])], [], 1.0)  # int grads are cast
    np.testing.assert_array_equal(p3, [-1, -2, -3])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_gradient_reported_before_any_update(rng, bad, dtype):
    ps = [_rand(rng, (2, 3), dtype), _rand(rng, (5,), dtype)]
    before = [p.copy() for p in ps]
    gs = [_rand(rng, (2, 3), dtype), _rand(rng, (5,), dtype)]
    gs[1][4] = bad
    assert updates.sgd_foreach(ps, gs, [], 0.1) == (1, "gradient")
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    steps = np.zeros(2, np.int64)
    assert updates.adam_foreach(ps, gs, ms, vs, steps, 0.1) == (1, "gradient")
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p, b)
    assert steps.tolist() == [0, 0] and not ms[0].any()


def test_parameter_overflow_reported():
    p = np.array([3e38, 1.0], np.float32)
    g = np.array([-3e38, 0.0], np.float32)
    assert updates.sgd_foreach([p], [g], [], 10.0) == (0, "parameter")
    assert np.isinf(p[0])


@pytest.mark.parametrize("make, exc, match", [
    (lambda: ([np.zeros(3, np.int64)], [np.zeros(3)]), TypeError, "dtype int64"),
    (lambda: ([np.zeros(3, np.float16)], [np.zeros(3)]), TypeError, "float16"),
    (lambda: ([np.zeros((3, 4))[:, ::2]], [np.zeros((3, 2))]), ValueError, "C-contiguous"),
    (lambda: ([np.zeros((3, 4))], [np.zeros((4, 3))]), ValueError, r"\(4, 3\).*\(3, 4\)"),
    (lambda: ([np.zeros(3)], [np.zeros((3, 1))]), ValueError, "shape"),
    (lambda: ([[0.0, 1.0]], [np.zeros(2)]), TypeError, "numpy array"),
    (lambda: ([np.zeros(2)], [[0.0, 1.0]]), TypeError, "numpy array"),
    (lambda: ([np.zeros(2)], [np.array(["a", "b"])]), TypeError, "dtype"),
    (lambda: ([np.zeros(2)], []), ValueError, "1 params but 0 grads"),
])
def test_bad_arguments_raise_before_touching_anything(make, exc, match):
    ps, gs = make()
    with pytest.raises(exc, match=match):
        updates.sgd_foreach(ps, gs, [], 0.1)


def test_read_only_parameter_refused():
    p = np.zeros(3)
    p.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        updates.sgd_foreach([p], [np.ones(3)], [], 0.1)
    # a read-only gradient is fine: it is only read
    q = np.zeros(3)
    g = np.ones(3)
    g.setflags(write=False)
    updates.sgd_foreach([q], [g], [], 0.1)
    np.testing.assert_allclose(q, -0.1)


def test_state_buffer_must_match_exactly():
    p = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="momentum buffer 0"):
        updates.sgd_foreach([p], [np.ones(3, np.float32)], [np.zeros(3)], 0.1, 0.9)
    with pytest.raises(ValueError, match="exp_avg_sq 0"):
        updates.adam_foreach([p], [np.ones(3, np.float32)], [np.zeros(3, np.float32)],
                             [np.zeros(4, np.float32)], np.zeros(1, np.int64), 0.1)

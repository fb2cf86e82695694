"""sampling.pyx against its scalar twins in reference.py: same raw words in, same
samples out, same number of words consumed."""
import numpy as np
import pytest

from microinit._kernels import reference as ref
from microinit._kernels import sampling

DTYPES = [np.float32, np.float64]
SIZES = [0, 1, 2, 3, 64, 1001]
# One interval per proposal method of truncnorm_method, plus both mirror images.
INTERVALS = [(-2.0, 2.0), (0.0, 0.5), (3.0, 5.0), (5.0, np.inf), (-0.1, 0.1), (-8.0, -6.0),
             (-np.inf, -4.0), (-1.0, np.inf)]


def _pair(seed=7):
    return np.random.default_rng(seed), np.random.default_rng(seed)


def _same_state(g1, g2):
    return g1.bit_generator.random_raw(4).tolist() == g2.bit_generator.random_raw(4).tolist()


def _tol(dtype):
    # The build may fuse multiply-adds (-ffp-contract=fast): one rounding apart at most.
    return dict(rtol=2e-7, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_normal_matches_twin(dtype, n):
    g1, g2 = _pair()
    out = np.empty(n, dtype)
    sampling.normal_fill(g1, out, 0.25, 1.5)
    np.testing.assert_allclose(out, ref.sampling_normal(g2, n, 0.25, 1.5, dtype), **_tol(dtype))
    assert _same_state(g1, g2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_uniform_matches_twin(dtype, n):
    g1, g2 = _pair()
    out = np.empty(n, dtype)
    sampling.uniform_fill(g1, out, -0.5, 2.0)
    np.testing.assert_allclose(out, ref.sampling_uniform(g2, n, -0.5, 2.0, dtype), **_tol(dtype))
    assert _same_state(g1, g2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_redraws_values_rounding_onto_high(dtype):
    # [1, nextafter(1)) holds one value of the dtype: about half the raw draws round
    # onto `high` and must be redrawn, exercising the rare path of the paired loop.
    high = float(np.nextafter(dtype(1), dtype(2)))
    g1, g2 = _pair(3)
    out = np.empty(501, dtype)
    sampling.uniform_fill(g1, out, 1.0, high)
    assert (out == 1.0).all()
    np.testing.assert_array_equal(out, ref.sampling_uniform(g2, 501, 1.0, high, dtype))
    assert _same_state(g1, g2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("low,high", INTERVALS)
def test_truncnorm_matches_twin_and_stays_inside(dtype, low, high):
    g1, g2 = _pair()
    out = np.empty(701, dtype)
    sampling.truncnorm_fill(g1, out, 0.0, 1.0, low, high)
    assert ((out > low) & (out < high)).all()
    np.testing.assert_allclose(out, ref.sampling_truncnorm(g2, 701, 0.0, 1.0, low, high, dtype),
                               **_tol(dtype))
    assert _same_state(g1, g2)


def test_truncnorm_methods_cover_every_proposal():
    methods = {sampling.truncnorm_method(a, b)[0] for a, b in INTERVALS}
    assert methods == {sampling.TN_NORMAL, sampling.TN_EXPONENTIAL, sampling.TN_UNIFORM}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k", [((50, 37), 9), ((3, 5), 5), ((4, 1), 1), ((0, 6), 2), ((6, 8), 0)])
def test_zero_random_per_row_matches_twin(dtype, shape, k):
    g1, g2 = _pair()
    out = np.ones(shape, dtype)
    sampling.zero_random_per_row(g1, out, k)
    np.testing.assert_array_equal(out, ref.sampling_zero_random_per_row(g2, np.ones(shape, dtype), k))
    assert ((out == 0).sum(axis=1) == k).all()
    assert _same_state(g1, g2)


def test_zero_random_per_row_rejects_bad_k():
    with pytest.raises(ValueError, match="k=6"):
        sampling.zero_random_per_row(np.random.default_rng(0), np.ones((2, 5)), 6)


def test_same_seed_same_bits_and_other_bit_generators():
    for bitgen in (np.random.PCG64, np.random.Philox, np.random.SFC64, np.random.MT19937):
        a, b = np.empty(999, np.float32), np.empty(999, np.float32)
        sampling.normal_fill(np.random.Generator(bitgen(11)), a, 0.0, 1.0)
        sampling.normal_fill(np.random.Generator(bitgen(11)), b, 0.0, 1.0)
        assert a.tobytes() == b.tobytes()
        if bitgen is np.random.MT19937:
            continue  # its random_raw() gives 32-bit words, not next_uint64's 64-bit ones
        np.testing.assert_allclose(a, ref.sampling_normal(np.random.Generator(bitgen(11)), 999, 0.0, 1.0,
                                                          np.float32), **_tol(np.float32))


def test_kernel_boundary_errors():
    out = np.empty(4, np.float32)
    with pytest.raises(TypeError, match="Generator"):
        sampling.normal_fill(np.random.RandomState(0), out, 0.0, 1.0)
    with pytest.raises(ValueError):  # a strided view never reaches a ::1 memoryview
        sampling.normal_fill(np.random.default_rng(0), np.empty(8, np.float32)[::2], 0.0, 1.0)
    with pytest.raises(ValueError):  # read-only output
        ro = np.empty(4, np.float64)
        ro.flags.writeable = False
        sampling.uniform_fill(np.random.default_rng(0), ro, 0.0, 1.0)


def test_ziggurat_tables_match_twin():
    for bits in (23, 52):
        k, w, f = sampling.ziggurat_tables(bits)
        rk, rw, rf = ref.ziggurat_tables(bits)
        np.testing.assert_array_equal(k, rk)
        np.testing.assert_allclose(w, rw, rtol=1e-15)
        np.testing.assert_allclose(f, rf, rtol=1e-15)
        # The layer edges decrease upward and every fast-accept threshold is below 2^bits.
        assert (np.diff(w[1:]) > 0).all() and (k <= 2.0 ** bits).all()


def test_threads_with_own_generators_match_sequential_and_shared_one_is_safe():
    import threading

    def fill(seed, out):
        sampling.normal_fill(np.random.default_rng(seed), out, 0.0, 1.0)

    outs = [np.empty(200_000, np.float32) for _ in range(4)]
    threads = [threading.Thread(target=fill, args=(s, o)) for s, o in enumerate(outs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed, out in enumerate(outs):
        expected = np.empty_like(out)
        fill(seed, expected)
        assert out.tobytes() == expected.tobytes()

    # One Generator shared by threads: its lock serializes the fills, so together they
    # consume exactly the words of one sequential fill of the same total size.
    shared = np.random.default_rng(9)
    parts = [np.empty(50_000) for _ in range(4)]
    threads = [threading.Thread(target=sampling.uniform_fill, args=(shared, p, 0.0, 1.0)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    whole = np.empty(200_000)
    sampling.uniform_fill(np.random.default_rng(9), whole, 0.0, 1.0)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.sort(whole))


@pytest.mark.parametrize("call", [
    lambda g, o: sampling.uniform_fill(g, o, 1.0, 1.0),
    lambda g, o: sampling.uniform_fill(g, o, 0.0, np.inf),
    lambda g, o: sampling.normal_fill(g, o, 0.0, -1.0),
    lambda g, o: sampling.normal_fill(g, o, np.nan, 1.0),
    lambda g, o: sampling.truncnorm_fill(g, o, 0.0, 1.0, 2.0, 1.0),
    lambda g, o: sampling.truncnorm_fill(g, o, 0.0, 0.0, -1.0, 1.0),
    lambda g, o: sampling.truncnorm_fill(g, o, 0.0, 1.0, 1.0, 1.0 + 1e-12),
])
def test_kernels_refuse_arguments_that_would_hang_or_give_nan(call):
    with pytest.raises(ValueError):
        call(np.random.default_rng(0), np.empty(8, np.float32))


@pytest.mark.parametrize("call,match", [
    # [low, high) holding no float32 value: every draw would be redrawn forever.
    (lambda g: sampling.uniform_fill(g, np.empty(8, np.float32), 1 + 1e-12, 1 + 2e-12),
     r"uniform_fill: no float32 value lies in \[low=1.000000000001, high=1.000000000002\)"),
    # high - low overflows float64: every draw would be inf or NaN.
    (lambda g: sampling.uniform_fill(g, np.empty(8), -1e308, 1e308), "finite high - low"),
    # Bounds beyond float32: almost every draw would round to inf.
    (lambda g: sampling.uniform_fill(g, np.empty(8, np.float32), -1e300, 1e300),
     r"low=-1e\+300 and high=1e\+300 must lie in float32's range"),
    # Samples that would overflow the dtype (docs/reliability.md row 53).
    (lambda g: sampling.normal_fill(g, np.empty(8, np.float32), 1e300, 1.0), "outside float32's range"),
    (lambda g: sampling.normal_fill(g, np.empty(8, np.float32), 0.0, 1e38), r"std=1e\+38 reach"),
    # An interval beyond the dtype's range holds none of its values.
    (lambda g: sampling.truncnorm_fill(g, np.empty(8, np.float32), 0.0, 1.0, 1e39, np.inf),
     "no float32 value lies strictly between low=1e\\+39 and high=inf"),
    (lambda g: sampling.truncnorm_fill(g, np.empty(8, np.float32), 0.0, 1.0, 0.9999, 1.0, np.float16),
     "no float16 value lies strictly between"),
])
def test_kernels_refuse_with_a_message_naming_the_interval(call, match):  # rows 52, 53
    with pytest.raises(ValueError, match=match):
        call(np.random.default_rng(0))
    with pytest.raises(TypeError, match="inside=.* no wider than out's float32"):
        sampling.truncnorm_fill(np.random.default_rng(0), np.empty(2, np.float32), 0.0, 1.0, -1.0, 1.0, np.float64)


def _words_consumed(gen, seed, limit):
    """How many 64-bit words gen consumed since it was seeded with `seed`."""
    fresh = np.random.default_rng(seed)
    for k in range(limit):
        if fresh.bit_generator.state == gen.bit_generator.state:
            return k
        fresh.bit_generator.random_raw(1)
    raise AssertionError(f"more than {limit} words consumed")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mean,std,low,high", [
    (0.0, 1e-9, 1.0, 2.0),            # a billion std out, float-wide interval
    (0.0, 1.0, 30.0, 30.0 + 1e-5),    # far out and narrow (uniform proposal)
    (0.0, 1.0, 1e6, np.inf),          # one-sided, a million std out (exponential proposal)
    (1e30, 1.0, -2.0, 2.0),           # the mean 1e30 std beyond the interval: mirrored tail
    (0.0, 1.0, -0.1, 0.1),            # narrow around the mean (uniform, c = 0)
    (0.0, 1.0, -2.0, 2.0),            # the plain normal
    *[(0.0, 1.0, lo, hi) for lo, hi in INTERVALS],
])
def test_truncnorm_work_per_sample_is_bounded(dtype, mean, std, low, high):  # row 52
    # Every proposal keeps a draw with probability >= 0.3 and a try costs at most two
    # words (or one normal), so the words consumed per sample stay small wherever the
    # interval is; before, the first case never ended.
    n = 2000
    out = np.empty(n, dtype)
    g = np.random.default_rng(5)
    sampling.truncnorm_fill(g, out, mean, std, low, high)
    assert (out > low).all() and (out < high).all() and np.isfinite(out).all()
    assert _words_consumed(g, 5, 8 * n) <= 7 * n


@pytest.mark.parametrize("dtype", DTYPES)
def test_truncnorm_far_tails_give_the_nearest_values_exactly(dtype):  # row 52
    g = np.random.default_rng(0)
    out = np.empty(1000, dtype)
    first_above_1 = np.nextafter(dtype(1), dtype(2))
    sampling.truncnorm_fill(g, out, 0.0, 1e-9, 1.0, 2.0)
    assert (out == first_above_1).all()
    sampling.truncnorm_fill(g, out, 0.0, 5e-324, 1.0, 2.0)  # (1 - 0) / std overflows to inf
    assert (out == first_above_1).all()
    sampling.truncnorm_fill(g, out, 1e30, 1.0, -2.0, 2.0)
    assert (out == np.nextafter(dtype(2), dtype(0))).all()
    if dtype == np.float32:
        # A mean beyond float32's range with open bounds: the law is cut at the range,
        # every sample the largest finite value (init refuses such a mean, row 53).
        sampling.truncnorm_fill(g, out, 1e39, 1e-3, -np.inf, np.inf)
        assert (out == np.finfo(dtype).max).all()


def test_truncnorm_inside_float16_gives_float16_values_strictly_inside():
    g = np.random.default_rng(2)
    out = np.empty(20_000, np.float32)
    sampling.truncnorm_fill(g, out, 1.0, 0.01, 0.999, 1.001, np.float16)
    half = out.astype(np.float16)                   # the copy init makes for float16
    assert ((half > 0.999) & (half < 1.001)).all()  # also in numpy's float16 comparison
    # float16 steps are 2^-11 below 1 and 2^-10 above: 0.99902 and 1.00098 are the bounds
    # rounded to float16, left out; the two values strictly between remain.
    assert set(half.tolist()) == {0.99951171875, 1.0}


def test_a_signal_interrupts_a_large_fill():
    # Fills run in chunks of sampling.CHUNK samples with a signal check between chunks,
    # so Ctrl-C (here: SIGALRM raising KeyboardInterrupt) stops a long fill.
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    out = np.full(40 * sampling.CHUNK, np.nan, np.float32)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            sampling.truncnorm_fill(np.random.default_rng(0), out, 0.0, 1.0, 1.0, 1.5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # Stopped part-way: without the checks the signal would only be handled after the
    # whole fill returned, and no NaN would be left.
    assert np.isnan(out[-sampling.CHUNK:]).all()

"""Statistical tests at fixed seeds: every distribution against its exact formula.

For each initializer the expected distribution is written here from the papers'
formulas (independently of microinit's code), and the samples must have mean/std
within 3% of it and a Kolmogorov-Smirnov statistic against its exact CDF below the
critical value at alpha = 1e-4. The same check run against the formula with the scale
off by x1.1 must fail, which shows the test has the power to catch a wrong formula.
"""
import math
import time

import numpy as np
import pytest

from microinit import init

ALPHA = 1e-4
SHAPE = (400, 500)          # 200,000 samples; fan_in 400, fan_out 500
FAN_IN, FAN_OUT = SHAPE
TRUNC = 0.87962566103423978
_erf = np.frompyfunc(math.erf, 1, 1)


def ks_critical(n, alpha=ALPHA):
    """Asymptotic one-sample KS critical value sqrt(-ln(alpha/2) / 2) / sqrt(n)."""
    return math.sqrt(-math.log(alpha / 2) / 2) / math.sqrt(n)


def ks_statistic(samples, cdf):
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    f = cdf(x)
    i = np.arange(1, n + 1)
    return max(np.max(i / n - f), np.max(f - (i - 1) / n))


def normal_cdf(mean, std):
    return lambda x: 0.5 * (1 + _erf((x - mean) / (std * math.sqrt(2))).astype(np.float64))


def uniform_cdf(low, high):
    return lambda x: np.clip((x - low) / (high - low), 0.0, 1.0)


def truncnorm_cdf(mean, std, low, high):
    phi = normal_cdf(mean, std)
    lo, hi = phi(np.array([low]))[0], phi(np.array([high]))[0]
    return lambda x: np.clip((phi(x) - lo) / (hi - lo), 0.0, 1.0)


def truncnorm_std(std, low_z, high_z):
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))  # noqa: E731
    z = cdf(high_z) - cdf(low_z)
    m = (pdf(low_z) - pdf(high_z)) / z
    return std * math.sqrt(1 + (low_z * pdf(low_z) - high_z * pdf(high_z)) / z - m * m)


# Each case: spec, shape, (family, parameters) of the exact target distribution.
# family: "uniform" (a, b) | "normal" (mean, std) | "truncnorm" (mean, std, low, high)
def _cases():
    g = {"relu": math.sqrt(2), "tanh": 5 / 3, "leaky0.2": math.sqrt(2 / (1 + 0.2 ** 2))}
    b_he = math.sqrt(3) * g["relu"] / math.sqrt(FAN_IN)
    s_vs = math.sqrt(2.5 / ((FAN_IN + FAN_OUT) / 2)) / TRUNC
    conv = (3, 3, 16, 32)          # fan_in 144, fan_out 288
    return [
        ("uniform", {"name": "uniform", "low": -0.3, "high": 0.7}, SHAPE, ("uniform", (-0.3, 0.7))),
        ("normal", {"name": "normal", "mean": 0.2, "std": 1.7}, SHAPE, ("normal", (0.2, 1.7))),
        ("truncated_normal", {"name": "truncated_normal", "mean": 0.5, "std": 2.0, "low": -1.0, "high": 3.0},
         SHAPE, ("truncnorm", (0.5, 2.0, -1.0, 3.0))),
        ("truncated_normal_tail", {"name": "truncated_normal", "low": 2.5, "high": 6.0}, SHAPE,
         ("truncnorm", (0.0, 1.0, 2.5, 6.0))),
        ("truncated_normal_narrow", {"name": "truncated_normal", "std": 3.0, "low": -0.5, "high": 0.2}, SHAPE,
         ("truncnorm", (0.0, 3.0, -0.5, 0.2))),
        ("he_uniform", "he_uniform", SHAPE, ("uniform", (-b_he, b_he))),
        ("he_normal", "kaiming_normal", SHAPE, ("normal", (0.0, g["relu"] / math.sqrt(FAN_IN)))),
        ("he_normal_fan_out_leaky", {"name": "he_normal", "mode": "fan_out", "negative_slope": 0.2}, SHAPE,
         ("normal", (0.0, g["leaky0.2"] / math.sqrt(FAN_OUT)))),
        ("he_normal_tanh", {"name": "he_normal", "nonlinearity": "tanh"}, SHAPE,
         ("normal", (0.0, g["tanh"] / math.sqrt(FAN_IN)))),
        ("he_normal_keras", {"name": "he_normal", "distribution": "truncated_normal"}, SHAPE,
         ("truncnorm", (0.0, math.sqrt(2 / FAN_IN) / TRUNC, -2 * math.sqrt(2 / FAN_IN) / TRUNC,
                        2 * math.sqrt(2 / FAN_IN) / TRUNC))),
        ("xavier_uniform", {"name": "xavier_uniform", "gain": 5 / 3}, SHAPE,
         ("uniform", (-(5 / 3) * math.sqrt(6 / 900), (5 / 3) * math.sqrt(6 / 900)))),
        ("xavier_normal", "glorot_normal", SHAPE, ("normal", (0.0, math.sqrt(2 / 900)))),
        ("lecun_uniform", "lecun_uniform", SHAPE,
         ("uniform", (-math.sqrt(3 / FAN_IN), math.sqrt(3 / FAN_IN)))),
        ("lecun_normal", "lecun_normal", SHAPE, ("normal", (0.0, math.sqrt(1 / FAN_IN)))),
        ("variance_scaling_trunc", {"name": "variance_scaling", "scale": 2.5, "mode": "fan_avg"}, SHAPE,
         ("truncnorm", (0.0, s_vs, -2 * s_vs, 2 * s_vs))),
        ("variance_scaling_geo_uniform",
         {"name": "variance_scaling", "mode": "fan_geo_avg", "distribution": "uniform"}, SHAPE,
         ("uniform", (-math.sqrt(3 / math.sqrt(FAN_IN * FAN_OUT)), math.sqrt(3 / math.sqrt(FAN_IN * FAN_OUT))))),
        ("variance_scaling_conv_fan_out",
         {"name": "variance_scaling", "scale": 2.0, "mode": "fan_out", "distribution": "normal"}, (3, 3, 16, 32 * 50),
         ("normal", (0.0, math.sqrt(2.0 / (9 * 32 * 50))))),
        ("he_uniform_conv", "he_uniform", (3, 3, 16, 32 * 50),
         ("uniform", (-math.sqrt(6 / 144), math.sqrt(6 / 144)))),
    ], conv


CASES, _ = _cases()


def _cdf_and_moments(family, params, scale=1.0):
    """Target CDF, mean and std; scale multiplies the distribution's spread."""
    if family == "uniform":
        a, b = params
        mid, half = (a + b) / 2, (b - a) / 2 * scale
        return uniform_cdf(mid - half, mid + half), mid, 2 * half / math.sqrt(12)
    if family == "normal":
        mean, std = params
        return normal_cdf(mean, std * scale), mean, std * scale
    mean, std, low, high = params
    std, low, high = std * scale, mean + (low - mean) * scale, mean + (high - mean) * scale
    lz, hz = (low - mean) / std, (high - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    z = 0.5 * (math.erfc(-hz / math.sqrt(2)) - math.erfc(-lz / math.sqrt(2)))
    tmean = mean + std * (pdf(lz) - pdf(hz)) / z
    return truncnorm_cdf(mean, std, low, high), tmean, truncnorm_std(std, lz, hz)


@pytest.mark.parametrize("label,spec,shape,target", CASES, ids=[c[0] for c in CASES])
def test_distribution_matches_formula(label, spec, shape, target):
    family, params = target
    w = init.get(spec)(shape, rng=20240601)
    assert w.dtype == np.float32 and w.shape == shape
    cdf, mean, std = _cdf_and_moments(family, params)
    assert abs(w.mean(dtype=np.float64) - mean) < 0.03 * std
    assert abs(w.std(dtype=np.float64) / std - 1) < 0.03
    assert ks_statistic(w, cdf) < ks_critical(w.size)
    # The same check against the formula off by x1.1 must fail.
    wrong_cdf, _, wrong_std = _cdf_and_moments(family, params, scale=1.1)
    assert ks_statistic(w, wrong_cdf) > ks_critical(w.size)
    if family == "truncnorm":
        low, high = params[2], params[3]
        assert ((w > low) & (w < high)).all()  # strictly inside: nothing clamped onto a bound


def test_ks_check_rejects_a_wrong_mode():
    # fan_in vs fan_out differ by 25% in std on SHAPE: a mixed-up layout must be caught.
    w = init.he_normal(SHAPE, mode="fan_out", rng=1)
    assert ks_statistic(w, normal_cdf(0.0, math.sqrt(2 / FAN_IN))) > ks_critical(w.size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float64_draws_match_too(dtype):
    w = init.normal((200_000,), mean=-1.0, std=0.5, dtype=dtype, rng=3)
    assert w.dtype == dtype
    assert ks_statistic(w, normal_cdf(-1.0, 0.5)) < ks_critical(w.size)
    u = init.uniform((200_000,), low=2.0, high=2.5, dtype=dtype, rng=4)
    assert u.min() >= 2.0 and u.max() < 2.5
    assert ks_statistic(u, uniform_cdf(2.0, 2.5)) < ks_critical(u.size)


def test_truncated_normal_far_tail_and_bounds_exactly_representable():
    w = init.truncated_normal((100_000,), mean=0.0, std=1.0, low=4.0, high=4.5, rng=5)
    assert ((w > 4.0) & (w < 4.5)).all()
    assert ks_statistic(w, truncnorm_cdf(0.0, 1.0, 4.0, 4.5)) < ks_critical(w.size)
    # float32 bounds that the affine map could round onto are still never reached.
    w = init.truncated_normal((100_000,), mean=1.0, std=1e-3, low=1.0 - 1e-7, high=1.0 + 1e-7, rng=6)
    assert ((w > 1.0 - 1e-7) & (w < 1.0 + 1e-7)).all()


def test_sparse_nonzeros_are_normal():
    w = init.sparse((1000, 400), sparsity=0.3, std=0.02, rng=7)
    nz = w[w != 0]
    assert nz.size == 1000 * (400 - 120)
    assert ks_statistic(nz, normal_cdf(0.0, 0.02)) < ks_critical(nz.size)


# --------------------------------------------------------------------- orthogonal


@pytest.mark.parametrize("shape", [(64, 64), (300, 40), (40, 300), (3, 3, 16, 32), (2, 5, 7, 3), (1, 9), (9, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal_is_semi_orthogonal_times_gain(shape, dtype, gain):  # row 36
    w = init.orthogonal(shape, gain=gain, dtype=dtype, rng=11)
    assert w.shape == shape and w.dtype == dtype
    m = w.reshape(-1, shape[-1]).astype(np.float64)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    assert np.abs(gram - gain ** 2 * np.eye(len(gram))).max() < 1e-5 * gain ** 2


def test_orthogonal_large_float32_keeps_orthogonality():
    m = init.orthogonal((1024, 700), rng=2).astype(np.float64)
    assert np.abs(m.T @ m - np.eye(700)).max() < 1e-5


def _trace_stats(draw, n_draws=3000, n=6):
    tr = np.array([np.trace(draw(i, n)) for i in range(n_draws)])
    return tr.mean(), tr.var()


def test_orthogonal_is_haar_distributed():
    # For Haar-distributed Q in O(n): E[tr Q] = 0 and E[tr(Q)^2] = 1 exactly.
    mean, var = _trace_stats(lambda i, n: init.orthogonal((n, n), dtype=np.float64, rng=i))
    se = 1 / math.sqrt(3000)
    assert abs(mean) < 4 * se and abs(var - 1) < 0.12
    # The same check catches a QR without the sign correction (not Haar).
    def unsigned(i, n):
        return np.linalg.qr(np.random.default_rng(i).standard_normal((n, n)))[0]

    mean_u, var_u = _trace_stats(unsigned)
    assert abs(mean_u) > 4 * se or abs(var_u - 1) > 0.12


def test_orthogonal_matches_sign_corrected_householder_in_distribution():
    from microinit._kernels.reference import householder_orthogonal

    ours = np.concatenate([init.orthogonal((30, 8), dtype=np.float64, rng=i)[:, 0] for i in range(800)])
    rng = np.random.default_rng(99)
    theirs = np.concatenate([householder_orthogonal(rng.standard_normal((30, 8)))[:, 0] for _ in range(800)])
    assert _two_sample_ks(ours, theirs) < _two_sample_critical(ours.size, theirs.size)


def _two_sample_ks(a, b):
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return np.abs(np.searchsorted(a, grid, side="right") / a.size
                  - np.searchsorted(b, grid, side="right") / b.size).max()


def _two_sample_critical(n, m, alpha=ALPHA):
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def test_truncated_normal_one_sided_infinite_bounds():
    w = init.truncated_normal((100_000,), mean=1.0, std=2.0, low=-np.inf, high=0.0, rng=8)
    assert (w < 0.0).all()
    assert ks_statistic(w, truncnorm_cdf(1.0, 2.0, -np.inf, 0.0)) < ks_critical(w.size)
    d = init.describe({"name": "truncated_normal", "low": 1.0, "high": np.inf}, (3, 3))
    assert math.isfinite(d["std"]) and d["mean"] > 1.0
    with pytest.raises(ValueError, match="low must be a number"):
        init.truncated_normal((3,), low=float("nan"))


def test_truncated_normal_float16_never_rounds_onto_bounds():
    # float16 steps are 2^-10 near 1: many float32 draws near the bounds round onto them.
    w = init.truncated_normal((50_000,), mean=1.0, std=0.01, low=0.999, high=1.001, dtype=np.float16, rng=9)
    assert w.dtype == np.float16 and ((w > 0.999) & (w < 1.001)).all()
    with pytest.raises(ValueError, match="no float16 value"):
        init.truncated_normal((3,), mean=1.0, std=0.01, low=1.0, high=1.0005, dtype=np.float16)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_uniform_stays_in_half_open_interval_in_every_dtype(dtype):
    # Bounds that are not representable: rounding could leave [low, high) without the redraw.
    low, high = 0.1, 0.1 + 3e-3
    w = init.uniform((50_000,), low=low, high=high, dtype=dtype, rng=10)
    assert ((w >= low) & (w < high)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_tails_beyond_the_ziggurat_base(dtype):
    # Beyond r = 3.654 every sample comes from the ziggurat's tail algorithm, which the
    # KS statistic barely sees: count them against the exact tail probability.
    n = 4_000_000
    w = init.normal((n,), dtype=dtype, rng=12)
    for t in (3.6541528853610088, 4.0, 4.5):
        expected = n * math.erfc(t / math.sqrt(2))
        observed = np.count_nonzero(np.abs(w) > t)
        assert abs(observed - expected) < 5 * math.sqrt(expected), (t, observed, expected)
    assert np.count_nonzero(w > 0) == pytest.approx(n / 2, abs=5 * math.sqrt(n / 4))


# ------------------------------------------- far tails (docs/reliability.md row 52)


def _log_upper_tail(z):
    """log P(Z > z) for a standard normal, exact in log space for every z: erfc while it
    does not underflow, else the asymptotic series (its error at z >= 20 is < 1e-20)."""
    if z < 20:
        return math.log(0.5 * math.erfc(z / math.sqrt(2)))
    s = 1 - 1 / z ** 2 + 3 / z ** 4 - 15 / z ** 6 + 105 / z ** 8
    return -z * z / 2 - math.log(z * math.sqrt(2 * math.pi)) + math.log(s)


def tail_truncnorm_cdf(mean, std, low, high):
    """CDF of N(mean, std^2) truncated to (low, high) with mean <= low, written with
    upper-tail probabilities in log space so that intervals 40 std out still work:
    F(x) = (1 - Q(x)/Q(a)) / (1 - Q(b)/Q(a)), Q(z) = P(Z > z)."""
    a, b = (low - mean) / std, (high - mean) / std
    la = _log_upper_tail(a)
    lb = _log_upper_tail(b) if math.isfinite(b) else -math.inf
    denom = -math.expm1(lb - la)

    def cdf(x):
        z = (np.asarray(x, np.float64) - mean) / std
        lq = np.array([_log_upper_tail(v) for v in np.clip(z, a, b if math.isfinite(b) else 1e300)])
        return np.clip(-np.expm1(lq - la) / denom, 0.0, 1.0)

    return cdf


def _exponential_cdf(low, rate):
    """The CDF of low + Exp(rate): the classic wrong formula for a normal's tail."""
    return lambda x: -np.expm1(-rate * np.maximum(np.asarray(x, np.float64) - low, 0.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mean,std,low,high", [
    (0.0, 1.0, 1.5, np.inf),          # exponential proposal, one-sided
    (0.0, 1.0, 8.0, 9.0),             # exponential proposal, 8 std out
    (0.0, 1e-3, 0.04, 0.05),          # 40 std out: erfc underflows there, log space does not
    (1.0, 1.0, -np.inf, -1.5),        # the mirror image: lower tail
])
def test_truncated_normal_tails_match_exact_cdf_and_moments(dtype, mean, std, low, high):  # row 52
    n = 20_000
    w = init.truncated_normal((n,), mean=mean, std=std, low=low, high=high, dtype=dtype, rng=21)
    assert ((w > low) & (w < high)).all() and np.isfinite(w).all()
    x = w.astype(np.float64)
    if low == -np.inf:  # mirror so that the tail is an upper one
        x, (mean, low, high) = -x, (-mean, -high, -low)
    cdf = tail_truncnorm_cdf(mean, std, low, high)
    assert ks_statistic(x, cdf) < ks_critical(n)
    # The test has the power to reject a wrong formula: std off by x1.1, and (near the
    # mean, where it differs) the exponential approximation of the tail.
    assert ks_statistic(x, tail_truncnorm_cdf(mean, 1.1 * std, low, high)) > ks_critical(n)
    a = (low - mean) / std
    if a < 2:
        assert ks_statistic(x, _exponential_cdf(low, a / std)) > ks_critical(n)
    if a < 20:  # moments against the exact formula (where erfc is representable)
        m, s = _moments(mean, std, low, high)
        se = s / math.sqrt(n)
        assert abs(x.mean() - m) < 5 * se and abs(x.std() / s - 1) < 0.05


def _moments(mean, std, low, high):
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    a, b = (low - mean) / std, (high - mean) / std
    qa, qb = 0.5 * math.erfc(a / math.sqrt(2)), (0.5 * math.erfc(b / math.sqrt(2)) if math.isfinite(b) else 0.0)
    pb = pdf(b) if math.isfinite(b) else 0.0
    tb = b * pb if math.isfinite(b) else 0.0
    z = qa - qb
    m = (pdf(a) - pb) / z
    var = 1 + (a * pdf(a) - tb) / z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_truncated_normal_interval_far_in_the_tail_takes_bounded_time(dtype):  # row 52
    # std=1e-9 on (1, 2): a billion std out. Rejection from the normal never accepts;
    # the exact law puts all its mass within 1e-18 of 1, so every sample is the first
    # value of the dtype above 1.
    t0 = time.perf_counter()
    w = init.truncated_normal((100_000,), std=1e-9, low=1.0, high=2.0, dtype=dtype, rng=3)
    assert time.perf_counter() - t0 < 5.0
    assert (w == np.nextafter(dtype(1), dtype(2))).all()
    # A mean far beyond the interval (within the dtype's range, but 1e7-1e310 std away):
    # the mass sits at the nearer bound.
    mean = 0.9 * float(np.finfo(dtype).max)
    w = init.truncated_normal((1000,), mean=mean, std=1e-3, low=-2.0, high=2.0, dtype=dtype, rng=3)
    assert (w == np.nextafter(dtype(2), dtype(0))).all()


def test_truncated_normal_mean_outside_the_dtype_range_is_refused():  # rows 52, 53
    with pytest.raises(ValueError, match=r"mean=1e\+39 is too large, outside float32's range"):
        init.truncated_normal((10,), mean=1e39, std=1.0, low=-np.inf, high=np.inf)
    with pytest.raises(ValueError, match=r"mean=70000.0 is too large, outside float16's range"):
        init.truncated_normal((10,), mean=7e4, std=1.0, dtype=np.float16)

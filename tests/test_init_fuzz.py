"""Hypothesis fuzzing of every built-in initializer (docs/reliability.md rows 32-34, 52,
53): random shapes (0-D and 1-D, zero sizes), dtypes and parameters, huge, tiny, NaN,
inf and of the wrong type. Every case either returns finite weights of the asked shape
and dtype, or raises ValueError/TypeError whose message names the initializer."""
import math

import numpy as np
import pytest

from microinit import init

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

NAMES = sorted(init.available())
NUMBERS = [0.0, -0.0, 1.0, -1.0, 0.5, 2, -3, 1e-300, -1e-300, 5e-324, 1e-45, 1e300, -1e300, 1e39, -1e39, 7e4,
           -7e4, 6e4, 3.4e38, 1.7976931348623157e308, 10 ** 400, math.nan, math.inf, -math.inf, np.float32(1.5),
           np.float16(2.0), True, None, "1.0", [1.0]]
CHOICES = {
    "mode": ["fan_in", "fan_out", "fan_avg", "fan_geo_avg", "FAN_IN", "fan_sideways", 3],
    "distribution": ["normal", "truncated_normal", "untruncated_normal", "uniform", "gaussian", None],
    "nonlinearity": ["relu", "leaky_relu", "tanh", "selu", "linear", "sigmoid", "bogus", 1],
    "in_axis": [-2, -1, 0, 1, 2, 5, (), (0,), (0, 1), "x", None],
    "out_axis": [-1, -2, 0, 1, 3, (), (1,), (-1, -2), 1.5],
    "batch_axis": [(), 0, (0,), (2, 3), -7],
    "groups": [1, 2, 3, 0, -1, 2.0, True, 10 ** 30],
}


def _value(param):
    return st.sampled_from(CHOICES.get(param, NUMBERS))


@st.composite
def cases(draw):
    name = draw(st.sampled_from(NAMES))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=5)))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    params = {}
    for param in init.serialize(name):
        if param != "name" and draw(st.booleans()):
            params[param] = draw(_value(param))
    return name, shape, dtype, params, draw(st.integers(0, 2 ** 32 - 1))


def _run(name, shape, dtype, params, seed):
    try:
        w = init.get(name)(shape, dtype=dtype, rng=seed, **params)
    except (ValueError, TypeError) as err:
        assert name in str(err), f"{name}{shape} {params}: the error does not name it: {err}"
        return None
    assert w.shape == shape and w.dtype == dtype, (name, shape, dtype, params)
    assert np.isfinite(w).all(), f"{name}{shape} {dtype.__name__} {params}: non-finite weights"
    return w


@pytest.mark.filterwarnings("ignore:.*zero-element tensors is a no-op")  # as in torch
@hypothesis.settings(max_examples=400, deadline=None, derandomize=True)
@hypothesis.given(case=cases())
def test_fuzz_every_initializer_finite_or_named_error(case):
    name, shape, dtype, params, seed = case
    w = _run(name, shape, dtype, params, seed)
    if w is not None and name not in ("zeros", "ones", "constant", "identity", "dirac"):
        # Seeded: the same case gives bitwise the same weights.
        assert w.tobytes() == init.get(name)(shape, dtype=dtype, rng=seed, **params).tobytes()


@hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
@hypothesis.given(mean=st.floats(-1e6, 1e6), log_std=st.floats(-12, 3), lo=st.floats(-30, 30),
                  width=st.floats(1e-9, 40), dtype=st.sampled_from([np.float16, np.float32, np.float64]))
def test_fuzz_truncated_normal_intervals_anywhere(mean, log_std, lo, width, dtype):  # row 52
    # Intervals anywhere relative to the mean, down to 1e-12 std: samples strictly inside
    # the bounds (in the dtype's own comparison too) or a ValueError naming the interval.
    std = 10.0 ** log_std
    low, high = mean + lo, mean + lo + width
    if not low < high:
        return
    try:
        w = init.truncated_normal((64,), mean=mean, std=std, low=low, high=high, dtype=dtype, rng=0)
    except ValueError as err:  # no value of the dtype inside, or beyond its range (row 53)
        msg = str(err)
        assert ("no float" in msg and repr(low) in msg and repr(high) in msg) or "range" in msg, msg
        return
    x = w.astype(np.float64)
    assert np.isfinite(x).all() and (x > low).all() and (x < high).all()
    # Also as numpy compares (the bounds rounded to the dtype), unless the only value of
    # the dtype inside is a rounded bound itself (float16 0.0 in (-1e-197, 1e-9)).
    if not ((w > low).all() and (w < high).all()):
        v = w[0]
        assert (w == v).all()
        assert float(np.nextafter(v, dtype(-np.inf))) <= low and float(np.nextafter(v, dtype(np.inf))) >= high

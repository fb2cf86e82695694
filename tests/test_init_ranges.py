"""Initializer parameters that overflow the weights' dtype (docs/reliability.md row 53):
ValueError naming the parameter and the dtype's range, never inf weights and never a
bare OverflowError; and the non-finite last guard on what an initializer returns."""
import numpy as np
import pytest

from microinit import init

F32 = r"float32's range \[-3\.40282e\+38, 3\.40282e\+38\]"
F16 = r"float16's range \[-65504, 65504\]"

OVERFLOWING = [
    ("normal_mean", lambda: init.normal((3, 3), mean=1e300), rf"normal: mean=1e\+300 is too large, outside {F32}"),
    ("normal_mean_f16", lambda: init.normal((3, 3), mean=7e4, dtype=np.float16),
     rf"normal: mean=70000\.0 is too large, outside {F16}"),
    ("normal_std", lambda: init.normal((3, 3), std=1e300), rf"normal: std=1e\+300 gives samples up to .*{F32}"),
    ("normal_std_f16", lambda: init.normal((3, 3), std=1e4, dtype=np.float16), rf"normal: std=10000\.0 .*{F16}"),
    ("normal_std0_mean", lambda: init.normal((3,), mean=1e39, std=0.0), rf"normal: mean=1e\+39 is too large, .*{F32}"),
    ("constant", lambda: init.constant((3,), value=1e39), rf"constant: value=1e\+39 is too large, outside {F32}"),
    ("constant_f16", lambda: init.constant((3,), value=-7e4, dtype=np.float16), rf"value=-70000\.0 .*{F16}"),
    ("uniform_low", lambda: init.uniform((3,), a=-1e39, b=0.0), rf"uniform: low=-1e\+39 .*{F32}"),
    ("uniform_high", lambda: init.uniform((3,), high=1e39), rf"uniform: high=1e\+39 .*{F32}"),
    ("uniform_equal", lambda: init.uniform((3,), low=1e39, high=1e39), rf"uniform: low=high=1e\+39 .*{F32}"),
    ("uniform_span", lambda: init.uniform((3,), low=-1e308, high=1e308, dtype=np.float64),
     r"uniform: high - low = inf overflows float64 \(low=-1e\+308, high=1e\+308\)"),
    ("truncnorm_mean", lambda: init.truncated_normal((3,), mean=1e39, low=-np.inf, high=np.inf),
     rf"truncated_normal: mean=1e\+39 is too large, outside {F32}"),
    ("truncnorm_std", lambda: init.truncated_normal((3,), std=1e38, low=0.0, high=np.inf),
     rf"truncated_normal: std=1e\+38 with low=0\.0, high=inf reaches .*{F32}"),
    ("orthogonal_gain", lambda: init.orthogonal((3, 3), gain=1e300), rf"orthogonal: gain=1e\+300 .*{F32}"),
    ("orthogonal_gain_f16", lambda: init.orthogonal((3, 3), gain=1e5, dtype=np.float16),
     rf"orthogonal: gain=100000\.0 .*{F16}"),
    ("identity_gain", lambda: init.identity((3, 3), gain=1e39), rf"identity: gain=1e\+39 .*{F32}"),
    ("dirac_gain", lambda: init.dirac((3, 3, 2, 2), gain=1e39), rf"dirac: gain=1e\+39 .*{F32}"),
    ("delta_orthogonal_gain", lambda: init.delta_orthogonal((3, 3, 2, 2), gain=1e39), rf"gain=1e\+39 .*{F32}"),
    ("sparse_std", lambda: init.sparse((4, 4), std=1e38), rf"sparse: std=1e\+38 .*{F32}"),
    ("xavier_gain", lambda: init.xavier_uniform((3, 3), gain=1e300),
     r"xavier_uniform: gain=1e\+300 is out of range: gain\*\*2 = inf"),
    ("xavier_gain_f32", lambda: init.xavier_normal((3, 3), gain=1e38), rf"xavier_normal: gain=1e\+38 .*{F32}"),
    ("xavier_gain_tiny", lambda: init.xavier_uniform((3, 3), gain=1e-200), r"gain=1e-200 is out of range"),
    ("variance_scaling_scale", lambda: init.variance_scaling((3, 3), scale=1e300),
     rf"variance_scaling: scale=1e\+300 .*{F32}"),
    ("kaiming_slope", lambda: init.kaiming_normal((3, 3), a=1e300),
     r"he_normal: calculate_gain: negative_slope 1e\+300 is too large: .* float64's range"),
    ("calculate_gain", lambda: init.calculate_gain("leaky_relu", 1e300),
     r"calculate_gain: negative_slope 1e\+300 is too large: negative_slope\*\*2 overflows float64's range"),
    ("calculate_gain_int", lambda: init.calculate_gain("leaky_relu", 10 ** 400), "negative_slope .* is too large"),
]


@pytest.mark.parametrize("call,match", [c[1:] for c in OVERFLOWING], ids=[c[0] for c in OVERFLOWING])
def test_parameters_overflowing_the_dtype_name_parameter_and_range(call, match):  # row 53
    with pytest.raises(ValueError, match=match):
        call()


def test_the_same_parameters_are_fine_where_the_dtype_holds_them():  # row 53, the other side
    assert np.isfinite(init.normal((3, 3), mean=1e300, dtype=np.float64)).all()
    assert np.isfinite(init.orthogonal((3, 3), gain=1e300, dtype=np.float64)).all()
    assert np.isfinite(init.normal((3, 3), mean=6e4, std=10.0, dtype=np.float16)).all()
    assert init.constant((2,), value=3.4e38)[0] == np.float32(3.4e38)
    w = init.kaiming_normal((300, 200), a=1e150, dtype=np.float64, rng=0)  # gain ~1.4e-150
    assert np.isfinite(w).all() and 0 < w.std() < 1e-150
    # Checked before anything is drawn: the in-place form leaves the tensor untouched.
    t = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="mean=1e\\+300"):
        init.normal_(t, mean=1e300)
    assert (t == 1).all()
    with pytest.raises(ValueError, match="outside float16's range"):
        init.normal((0, 3), mean=7e4, dtype=np.float16)  # zero elements: still checked


def test_non_finite_weights_from_a_user_initializer_are_refused():  # row 53, last guard
    def spiky(shape, *, dtype, rng, value=np.inf):
        return np.full(shape, value)  # float64, whatever dtype was asked for

    ini = init.get(spiky)
    with pytest.raises(ValueError, match=r"spiky: produced non-finite weights \(inf or NaN\) with value=inf"):
        ini((2, 2))
    with pytest.raises(ValueError, match="value=nan"):
        ini((2, 2), value=np.nan)
    assert (ini((2, 2), value=1.0) == 1).all()
    # float64 values that only overflow when cast to the asked dtype are caught too.
    with pytest.raises(ValueError, match="non-finite weights .* dtype float16"):
        ini((2,), value=1e5, dtype=np.float16)

"""The initializer registry: names, configs, errors (docs/reliability.md rows 12, 31-37, 39),
seeding, in-place forms and describe. Statistics live in test_init_stats.py, PyTorch
parity in test_init_torch.py, LSUV in test_init_lsuv.py."""
import json
import math
import warnings

import numpy as np
import pytest

from microinit import init

ALL = sorted(init.available())
CONV_ONLY = {"dirac", "delta_orthogonal"}


def _shape_for(name):
    return (3, 3, 4, 6) if name in CONV_ONLY else (7, 5)


# ------------------------------------------------------------------------ registry


def test_every_builtin_is_registered_and_documented():
    expected = {"zeros", "ones", "constant", "uniform", "normal", "truncated_normal", "xavier_uniform",
                "xavier_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
                "variance_scaling", "orthogonal", "identity", "sparse", "dirac", "delta_orthogonal"}
    assert expected <= set(ALL)
    for name in ALL:
        fn = getattr(init, name)
        assert fn.__doc__ and len(fn.__doc__) > 40, name
        assert callable(getattr(init, name + "_"))
        for alias in init.available()[name]:
            assert getattr(init, alias) is fn


@pytest.mark.parametrize("spelling", ["he_normal", "HeNormal", "kaiming_normal", "KAIMING_NORMAL",
                                      "kaimingNormal", "he-normal", "he_normal_"])
def test_names_are_case_and_underscore_insensitive(spelling):
    assert init.get(spelling).name == "he_normal"


@pytest.mark.parametrize("keras,name", [("GlorotUniform", "xavier_uniform"), ("RandomNormal", "normal"),
                                        ("TruncatedNormal", "truncated_normal"), ("Identity", "identity"),
                                        ("VarianceScaling", "variance_scaling"), ("eye", "identity"),
                                        ("trunc_normal", "truncated_normal"), ("LecunNormal", "lecun_normal")])
def test_keras_and_torch_names(keras, name):
    assert init.get(keras).name == name


def test_unknown_name_suggests_nearest():  # row 31
    with pytest.raises(ValueError) as err:
        init.get("xavier_unifrom")
    msg = str(err.value)
    assert msg.startswith("unknown initializer 'xavier_unifrom'; did you mean 'xavier_uniform'?")
    assert "available: " in msg and "he_normal" in msg
    with pytest.raises(ValueError, match=r"^unknown initializer 'qqqq'; available: constant, "):
        init.get("qqqq")


def test_unknown_parameter_names_accepted_ones():
    with pytest.raises(TypeError, match="accepted parameters: gain"):
        init.get({"name": "xavier_uniform", "gian": 2.0})
    with pytest.raises(TypeError, match="did you mean 'gain'"):
        init.xavier_uniform((3, 3), gian=2.0)


def test_get_accepts_number_callable_dict_initializer_and_kwargs():
    assert (init.get(0.5)((2, 3)) == 0.5).all()
    assert init.get(init.he_normal).name == "he_normal"
    ini = init.get({"name": "normal", "stddev": 0.5}, mean=2.0)  # Keras' parameter name
    assert ini.params == {"std": 0.5, "mean": 2.0}
    assert init.get(ini) is ini
    keras = init.get({"class_name": "VarianceScaling",
                      "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform", "seed": None}})
    assert keras.params == {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}
    with pytest.raises(TypeError, match="cannot interpret"):
        init.get(True)
    with pytest.raises(ValueError, match="'name' key"):
        init.get({"scale": 2.0})


def test_anonymous_callable_works_but_does_not_serialize():
    def halves(shape, *, dtype, rng):
        return np.full(shape, 0.5, dtype)

    ini = init.get(halves)
    assert ini((2, 2), dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="register"):
        init.serialize(halves)


def test_register_user_initializer_roundtrip():
    name = "test_init_scaled_ones"

    @init.register(name, "test_init_scaled")
    def scaled_ones(size, *, dtype, rng, factor=1.0):  # the shape argument may have any name
        assert isinstance(rng, np.random.Generator) and isinstance(size, tuple)
        return np.full(size, factor)

    try:
        cfg = init.serialize({"name": "TestInitScaled", "factor": 3.0})
        assert cfg == {"name": name, "factor": 3.0}
        out = init.get(json.loads(json.dumps(cfg)))((2, 2))
        assert out.dtype == np.float32 and (out == 3.0).all()
        with pytest.raises(ValueError, match="already taken"):
            init.register("TEST_INIT_SCALED_ONES")(scaled_ones)
        with pytest.raises(ValueError, match="'kaiming_normal' is the built-in initializer 'he_normal'"):
            init.register("my_kaiming", "kaiming_normal")(scaled_ones)
        init.register(name, overwrite=True)(lambda shape, *, dtype, rng: np.zeros(shape) + 7)
        assert (init.get(name)((1, 1)) == 7).all()
    finally:
        init.unregister(name)
    with pytest.raises(ValueError, match="unknown initializer"):
        init.get(name)
    with pytest.raises(ValueError, match="built-in"):
        init.unregister("glorot_uniform")


def test_user_initializer_returning_a_wrong_shape():
    init.register("test_init_bad_shape")(lambda shape, *, dtype, rng: np.zeros(3))
    try:
        with pytest.raises(ValueError, match=r"returned an array of shape \(3,\), expected \(2, 2\)"):
            init.get("test_init_bad_shape")((2, 2))
    finally:
        init.unregister("test_init_bad_shape")


@pytest.mark.parametrize("name", ALL)
def test_serialize_json_roundtrip_reproduces_weights(name):  # row 39
    cfg = init.serialize(name)
    back = init.get(json.loads(json.dumps(cfg)))
    assert back == init.get(name) and init.serialize(back) == cfg
    shape = _shape_for(name)
    a = back(shape, rng=123)
    b = init.get(name)(shape, rng=123)
    assert a.tobytes() == b.tobytes()


def test_serialize_keeps_non_default_parameters():
    cfg = init.serialize({"name": "kaiming_uniform", "a": 0.2, "mode": "FAN_OUT"})
    assert cfg == {"name": "he_uniform", "negative_slope": 0.2, "mode": "FAN_OUT", "nonlinearity": "leaky_relu"}
    cfg = init.serialize({"name": "variance_scaling", "batch_axis": (0,)})
    assert json.loads(json.dumps(cfg))["batch_axis"] == [0]
    assert init.get(cfg)((2, 3, 4), rng=0).shape == (2, 3, 4)


# -------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "lecun_uniform",
                                  "lecun_normal", "variance_scaling", "orthogonal"])
@pytest.mark.parametrize("shape", [(), (5,), 5])
def test_fewer_than_two_dims(name, shape):  # row 32
    with pytest.raises(ValueError,
                       match="Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"):
        init.get(name)(shape)


@pytest.mark.parametrize("shape,axes,fans", [
    ((64,), dict(in_axis=0, out_axis=()), (64, 1)),
    ((64,), dict(in_axis=(), out_axis=0), (1, 64)),
    ((), dict(in_axis=(), out_axis=()), (1, 1)),
    ((6,), dict(in_axis=(), out_axis=(), batch_axis=0), (1, 1)),
])
def test_variance_scaling_low_rank_shapes_with_explicit_axes_use_those_fans(shape, axes, fans):
    # As JAX's variance_scaling(scale, mode, distribution, in_axis, out_axis): fans from the
    # explicit axes (size 1 for ()), receptive field = the remaining axes.
    assert init.compute_fans(shape, **axes) == fans
    w = init.variance_scaling(shape, scale=2.0, mode="fan_in", distribution="uniform", rng=0, **axes)
    assert w.shape == shape and w.dtype == np.float32
    limit = math.sqrt(3 * 2.0 / fans[0])
    assert (np.abs(w) < limit).all()
    d = init.describe({"name": "variance_scaling", "scale": 2.0, "distribution": "normal", **axes}, shape)
    assert (d["fan_in"], d["fan_out"]) == fans and d["std"] == pytest.approx(math.sqrt(2.0 / fans[0]))
    # A statistic with power: the std of many draws from a 1-D shape is sqrt(scale / fan_in).
    if shape == (64,):
        many = init.variance_scaling((4096,), scale=2.0, distribution="normal", rng=1, **axes)
        fan = 4096 if axes["in_axis"] == 0 else 1
        assert abs(many.std() / math.sqrt(2.0 / fan) - 1) < 0.05
    # Explicit axes that collide or do not exist are refused, naming them.
    with pytest.raises(ValueError, match="must be distinct|out of range"):
        init.variance_scaling(shape, in_axis=0, out_axis=0) if shape else init.variance_scaling(shape, in_axis=0)


def test_get_none_is_the_dense_default():  # docs/reliability.md row 31: get(None) as in Keras
    import inspect

    from microinit.nn import Dense

    assert init.get(None) == init.get(init.DEFAULT_WEIGHT_INIT) == init.get("he_uniform")
    assert inspect.signature(Dense).parameters["weight_init"].default == init.DEFAULT_WEIGHT_INIT
    assert init.get(None, negative_slope=0.2).params == {"negative_slope": 0.2}
    a = init.get(None)((5, 4), rng=3)
    assert a.tobytes() == init.he_uniform((5, 4), rng=3).tobytes()


@pytest.mark.parametrize("keras,ours", [
    ("OrthogonalInitializer", "orthogonal"), ("IdentityInitializer", "identity"),
    ("GlorotUniform", "xavier_uniform"), ("GlorotNormal", "xavier_normal"), ("HeNormal", "he_normal"),
    ("HeUniform", "he_uniform"), ("LecunNormal", "lecun_normal"), ("LecunUniform", "lecun_uniform"),
    ("VarianceScaling", "variance_scaling"), ("TruncatedNormal", "truncated_normal"),
    ("RandomNormal", "normal"), ("RandomUniform", "uniform"), ("Zeros", "zeros"), ("Ones", "ones"),
    ("Constant", "constant"), ("Orthogonal", "orthogonal"), ("Identity", "identity"),
])
def test_keras_class_names_resolve(keras, ours):  # docs/reliability.md row 31
    assert init.get(keras).name == ours
    assert init.get({"class_name": keras, "config": {"seed": None}}).name == ours


@pytest.mark.parametrize("shape", [(3, -1), (2.5, 3), ("a", 3), (True, 3), (3, None), "abc", None, 3.0])
def test_bad_shapes_name_the_shape(shape):  # row 33
    with pytest.raises(ValueError, match="shape"):
        init.he_normal(shape)


@pytest.mark.parametrize("spec,match", [
    ({"name": "variance_scaling", "scale": 0}, "scale must be > 0"),
    ({"name": "variance_scaling", "scale": -1.0}, "scale must be > 0"),
    ({"name": "variance_scaling", "mode": "fan_sideways"}, "mode='fan_sideways'.*'fan_in', 'fan_out', 'fan_avg'"),
    ({"name": "variance_scaling", "distribution": "foo"}, "distribution='foo'.*'truncated_normal'"),
    ({"name": "he_normal", "mode": "fan_avg"}, "mode='fan_avg'.*allowed values: 'fan_in', 'fan_out'"),
    ({"name": "he_normal", "nonlinearity": "relux"}, "nonlinearity 'relux'; did you mean 'relu'"),
    ({"name": "xavier_normal", "distribution": "uniform"}, "distribution='uniform'"),
    ({"name": "normal", "std": -0.1}, "std must be >= 0"),
    ({"name": "truncated_normal", "low": 1.0, "high": 1.0}, "low must be < high"),
    ({"name": "truncated_normal", "a": 2.0, "b": -2.0}, "low must be < high"),
    ({"name": "truncated_normal", "std": 0.0}, "std must be > 0"),
    ({"name": "uniform", "low": 1.0, "high": 0.0}, "low must be <= high"),
    ({"name": "orthogonal", "gain": -1.0}, "gain must be > 0"),
    ({"name": "xavier_uniform", "gain": -2.0}, "gain must be > 0"),
    ({"name": "identity", "gain": float("nan")}, "gain must be finite"),
    ({"name": "sparse", "sparsity": 1.5}, r"sparsity must be in \[0.0, 1.0\]"),
    ({"name": "constant", "value": "x"}, "value must be a real number"),
    ({"name": "normal", "std": True}, "std must be a real number"),
    ({"name": "dirac", "groups": 0}, "groups must be a positive int"),
])
def test_bad_parameters_name_argument_and_allowed_values(spec, match):  # row 34
    with pytest.raises(ValueError, match=match):
        init.get(spec)  # checked when the config is read, before any shape is known
    name = spec.pop("name")
    with pytest.raises(ValueError, match=match):  # and by the function itself
        getattr(init, name)(_shape_for(name), **spec)


def test_truncated_normal_interval_without_values_of_the_dtype():
    with pytest.raises(ValueError, match="no float32 value lies strictly between"):
        init.truncated_normal((4,), low=1.0, high=1.0 + 1e-9)
    assert init.truncated_normal((4,), low=1.0, high=1.0 + 1e-9, dtype=np.float64).min() > 1.0


def test_dtype_and_rng_errors():
    with pytest.raises(TypeError, match="dtype must be one of float16, float32, float64"):
        init.he_normal((3, 3), dtype=np.int32)
    with pytest.raises(TypeError, match="dtype"):
        init.zeros((3, 3), dtype="complex64")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        init.he_normal((3, 3), rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="Generator"):
        init.he_normal((3, 3), rng=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        init.he_normal((3, 3), rng=-3)


# ---------------------------------------------------------------- shapes and layouts


def test_fans_follow_the_layout():
    assert init.compute_fans((784, 256)) == (784, 256)
    assert init.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert init.compute_fans((5, 3, 4), in_axis=0, out_axis=1, batch_axis=()) == (20, 12)
    assert init.compute_fans((8, 3, 4), batch_axis=0) == (3, 4)
    with pytest.raises(ValueError, match="distinct"):
        init.compute_fans((3, 4), in_axis=0, out_axis=0)
    with pytest.raises(ValueError, match="out of range"):
        init.compute_fans((3, 4), in_axis=5)
    d = init.describe("he_normal", (3, 3, 16, 32))
    assert (d["fan_in"], d["fan_out"]) == (144, 288)
    assert d["std"] == pytest.approx(math.sqrt(2 / 144))
    assert init.describe({"name": "he_normal", "mode": "fan_out"}, (3, 3, 16, 32))["std"] == \
        pytest.approx(math.sqrt(2 / 288))


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_identity_is_eye_like(shape):  # row 37
    w = init.identity(shape, gain=2.0)
    expected = 2.0 * np.eye(*shape, dtype=np.float32)
    np.testing.assert_array_equal(w, expected)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4)])
def test_identity_rejects_non_2d(shape):
    with pytest.raises(ValueError, match="only 2-D shapes"):
        init.identity(shape)


def test_dirac_and_delta_orthogonal_layouts():
    w = init.dirac((3, 3, 2, 4), groups=2)
    assert w.sum() == 4 and w[1, 1, 0, 0] == w[1, 1, 1, 1] == w[1, 1, 0, 2] == w[1, 1, 1, 3] == 1
    with pytest.raises(ValueError, match="divisible by groups"):
        init.dirac((3, 3, 2, 5), groups=2)
    with pytest.raises(ValueError, match="3-, 4- or 5-D"):
        init.dirac((3, 3))
    d = init.delta_orthogonal((3, 3, 4, 6), gain=1.5, rng=0, dtype=np.float64)
    centre = d[1, 1]
    np.testing.assert_allclose(centre @ centre.T, 1.5 ** 2 * np.eye(4), atol=1e-12)
    assert np.count_nonzero(d) == np.count_nonzero(centre)
    with pytest.raises(ValueError, match="in <= out"):
        init.delta_orthogonal((3, 6, 4))


def test_sparse_zeros_per_input_unit():
    w = init.sparse((40, 30), sparsity=0.25, std=0.5, rng=0)
    assert ((w == 0).sum(axis=1) == math.ceil(0.25 * 30)).all()
    assert init.describe({"name": "sparse", "sparsity": 0.25, "std": 0.5}, (40, 30))["std"] == \
        pytest.approx(0.5 * math.sqrt(1 - 8 / 30))
    assert (init.sparse((4, 5), sparsity=1.0, rng=0) == 0).all()
    with pytest.raises(ValueError, match="only 2-D"):
        init.sparse((2, 3, 4))


@pytest.mark.parametrize("name", ALL)
def test_zero_element_shapes_warn_no_op(name):  # row 12
    shape = (3, 3, 0, 6) if name in CONV_ONLY else (0, 5)
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        out = init.get(name)(shape, rng=0)
    assert out.shape == shape and out.dtype == np.float32
    arr = np.empty((5, 0), np.float64) if name not in CONV_ONLY else np.empty((3, 3, 0, 6))
    with pytest.warns(UserWarning, match="no-op"):
        assert getattr(init, name + "_")(arr) is arr


def test_zero_element_still_checks_parameters():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="mode"):
            init.he_normal((0, 4), mode="sideways")
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            init.xavier_uniform((0,))


# ------------------------------------------------------------------------ seeding


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_same_seed_bitwise_equal_and_unseeded_differ(name, dtype):  # row 39
    shape = _shape_for(name)
    a = init.get(name)(shape, dtype=dtype, rng=np.random.default_rng(42))
    b = init.get(name)(shape, dtype=dtype, rng=42)
    assert a.dtype == dtype and a.shape == shape and np.isfinite(a).all()
    assert a.tobytes() == b.tobytes()
    if name in {"zeros", "ones", "constant", "identity", "dirac"}:
        return
    assert init.get(name)(shape, dtype=dtype).tobytes() != init.get(name)(shape, dtype=dtype).tobytes()


def test_no_global_random_state():
    state = np.random.get_state()[1].copy()
    g = np.random.default_rng(0)
    before = g.bit_generator.state
    init.he_normal((10, 10))
    init.orthogonal((10, 10), rng=3)
    assert (np.random.get_state()[1] == state).all()
    assert g.bit_generator.state == before  # a Generator not passed in is never touched


def test_a_shared_generator_advances():
    g = np.random.default_rng(0)
    first, second = init.normal((100,), rng=g), init.normal((100,), rng=g)
    assert not np.array_equal(first, second)
    g2 = np.random.default_rng(0)
    np.testing.assert_array_equal(init.normal((100,), rng=g2), first)


# ------------------------------------------------------------------ in-place forms


def test_inplace_fills_numpy_arrays_of_every_layout():
    for arr in (np.zeros((30, 20), np.float32), np.zeros((30, 20)), np.zeros((30, 20), np.float16),
                np.zeros((20, 30), np.float32).T, np.zeros((30, 40))[:, ::2]):
        expected = init.he_uniform(arr.shape, dtype=arr.dtype, rng=5)
        assert init.kaiming_uniform_(arr, rng=5) is arr
        np.testing.assert_array_equal(arr, expected)


def test_inplace_positional_parameters_like_torch():
    w = np.empty((50, 40), np.float64)
    init.kaiming_normal_(w, 0.2, "fan_out", rng=1)
    np.testing.assert_array_equal(w, init.he_normal(w.shape, negative_slope=0.2, mode="fan_out",
                                                    dtype=np.float64, rng=1))
    init.uniform_(w, -3.0, -2.0, rng=0)
    assert w.min() >= -3.0 and w.max() < -2.0
    init.constant_(w, 0.25)
    assert (w == 0.25).all()
    with pytest.raises(TypeError, match="multiple values"):
        init.uniform_(w, 0.0, low=1.0)
    with pytest.raises(TypeError, match="at most 1 positional"):
        init.xavier_uniform_(w, 1.0, 2.0)


def test_inplace_rejects_bad_targets():
    with pytest.raises(TypeError, match="floating"):
        init.normal_(np.zeros((3, 3), np.int64))
    ro = np.zeros((3, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        init.normal_(ro)
    with pytest.raises(TypeError, match="Tensor or a numpy array"):
        init.normal_([[0.0, 1.0]])


def test_inplace_on_tensor_records_nothing_and_bumps_version():
    from microinit.tensor import Tensor

    t = Tensor(np.zeros((6, 4), np.float32), requires_grad=True)
    storage = t.data
    v0 = t._version
    assert init.xavier_uniform_(t, gain=2.0, rng=0) is t
    assert t.data is storage and t._version > v0
    np.testing.assert_array_equal(t.data, init.xavier_uniform((6, 4), gain=2.0, rng=0))
    assert t.grad is None and t.is_leaf
    (t * 2.0).sum().backward()  # still an ordinary leaf
    np.testing.assert_array_equal(t.grad, np.full((6, 4), 2.0, np.float32))


# ------------------------------------------------------------------------ describe


def test_describe_reports_distribution_and_std():
    d = init.describe("xavier_uniform", (784, 256))
    limit = math.sqrt(6 / (784 + 256))
    assert d["distribution"] == "uniform"
    assert d["distribution_params"] == pytest.approx({"low": -limit, "high": limit})
    assert d["std"] == pytest.approx(limit / math.sqrt(3))
    vs = init.describe("variance_scaling", (300, 200))
    assert vs["distribution"] == "truncated_normal"
    assert vs["std"] == pytest.approx(math.sqrt(1 / 300), rel=1e-9)  # the 0.8796 correction
    assert vs["distribution_params"]["std"] == pytest.approx(math.sqrt(1 / 300) / 0.87962566103423978)
    tn = init.describe("truncated_normal", (3, 3))
    assert tn["std"] == pytest.approx(0.87962566103423978, rel=1e-12)
    assert init.describe("orthogonal", (400, 100))["std"] == pytest.approx(math.sqrt(1 / 400))
    assert init.describe(0.3, (2, 2))["mean"] == 0.3


@pytest.mark.parametrize("name", ALL)
def test_describe_matches_samples(name):
    shape = (3, 3, 40, 60) if name in CONV_ONLY else (300, 200)
    d = init.describe(name, shape)
    w = init.get(name)(shape, rng=0, dtype=np.float64)
    assert w.std() == pytest.approx(d["std"], rel=0.03, abs=1e-12)
    assert w.mean() == pytest.approx(d["mean"], abs=0.03 * d["std"] + 1e-12)


# ------------------------------------------------------------------------- gains


def test_calculate_gain_table_and_errors():  # row 35
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("ReLU") == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / (1 + 0.2 ** 2))
    assert init.calculate_gain("leaky_relu", 1) == 1.0
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'bogus'"):
        init.calculate_gain("bogus")
    for bad in (True, [1], {"a": 1}, "0.1"):
        with pytest.raises(ValueError, match="not a valid number"):
            init.calculate_gain("leaky_relu", bad)


def test_builtins_cannot_be_overwritten_and_anonymous_results_are_checked():
    with pytest.raises(ValueError, match="built-in initializer 'he_normal'"):
        init.register("he_normal", overwrite=True)(lambda shape, *, dtype, rng: np.zeros(shape))
    with pytest.raises(ValueError, match=r"returned an array of shape \(3,\), expected \(2, 2\)"):
        init.get(lambda shape, *, dtype, rng: np.zeros(3))((2, 2))


def test_random_shapes_every_initializer_property():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(shape=st.lists(st.integers(1, 6), min_size=2, max_size=5).map(tuple),
                      name=st.sampled_from(ALL), seed=st.integers(0, 2 ** 32 - 1),
                      dtype=st.sampled_from([np.float32, np.float64]))
    def check(shape, name, seed, dtype):
        try:
            init.describe(name, shape)
        except ValueError:
            return  # rank/shape constraints of identity, sparse, dirac, delta_orthogonal
        a = init.get(name)(shape, dtype=dtype, rng=seed)
        assert a.shape == shape and a.dtype == dtype and np.isfinite(a).all()
        assert a.tobytes() == init.get(name)(shape, dtype=dtype, rng=seed).tobytes()
        fan_in, fan_out = init.compute_fans(shape)
        assert fan_in * fan_out * shape[-1] * shape[-2] == math.prod(shape) ** 2

    check()

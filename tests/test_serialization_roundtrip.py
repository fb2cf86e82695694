"""save -> load is exact for every shape and dtype, 0-d included (docs/reliability.md row 54)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from microinit import nn
from microinit import serialization as S
from microinit.tensor import Tensor

SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
DTYPES = st.sampled_from([np.float32, np.float64, np.int64])


def _bits_equal(a, b):
    """Same dtype, same shape, same bytes: NaN payloads and -0.0 included."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


class Scaled(nn.Module):
    """A model whose only parameter is 0-d, the case that used to save as shape (1,)."""

    def __init__(self, value, dtype=np.float32):
        super().__init__()
        self.scale = Tensor(np.array(value, dtype=dtype), requires_grad=True)

    def forward(self, x):
        return x * self.scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_d_parameter_loads_back_as_zero_d(tmp_path, dtype):
    path = tmp_path / "scaled.npz"
    Scaled(2.5, dtype).save(path)
    assert S.load(path)["scale"].shape == ()
    model = Scaled(-1.0, dtype)
    param = model.scale.data
    model.load(path)
    assert model.scale.data is param  # copied in place, still 0-d
    assert model.scale.data.shape == () and model.scale.data.dtype == dtype
    assert model.scale.data == dtype(2.5)


def test_zero_d_numpy_scalars_and_python_numbers_stay_zero_d(tmp_path):
    S.save({"f": np.float64(-0.0), "i": np.int64(-7), "p": 1.5, "n": 3}, tmp_path / "s.npz")
    back = S.load(tmp_path / "s.npz")
    assert {k: (v.shape, v.dtype) for k, v in back.items()} == {
        "f": ((), np.float64), "i": ((), np.int64), "p": ((), np.float64), "n": ((), np.int64)}
    assert np.signbit(back["f"]) and back["i"] == -7


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_round_trip_is_bitwise_exact_for_every_shape(tmp_path_factory, data):
    """Every shape (0-d, zero-size dims), dtype, layout and value (NaN, inf, -0.0) survives."""
    n = data.draw(st.integers(1, 3))
    state = {}
    for i in range(n):
        dtype = data.draw(DTYPES)
        a = data.draw(hnp.arrays(dtype, SHAPES))
        if a.ndim >= 2 and data.draw(st.booleans()):
            a = np.asfortranarray(a)
        if a.ndim >= 1 and data.draw(st.booleans()):
            a = a[::-1]  # a negative-stride view
        state[f"p{i}"] = a
    path = tmp_path_factory.mktemp("rt") / "w.npz"
    S.save(state, path)
    back = S.load(path)
    assert list(back) == list(state)
    for k, a in state.items():
        assert _bits_equal(back[k], np.ascontiguousarray(a).reshape(a.shape)), k
        assert back[k].flags.c_contiguous and back[k].flags.writeable


@settings(max_examples=25, deadline=None)
@given(shape=SHAPES, dtype=st.sampled_from([np.float32, np.float64]))
def test_model_parameter_of_any_shape_round_trips_into_a_model(tmp_path_factory, shape, dtype):
    values = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    src = Scaled(0.0, dtype)
    src.scale = Tensor(values, requires_grad=True)
    dst = Scaled(0.0, dtype)
    dst.scale = Tensor(np.zeros(shape, dtype), requires_grad=True)
    path = tmp_path_factory.mktemp("model") / "m.npz"
    src.save(path)
    dst.load(path)
    assert _bits_equal(dst.scale.data, values)

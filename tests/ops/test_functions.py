"""The package functions of microinit/ops/functions.py: each is its Tensor method
behind one conversion of the first argument (arrays and lists accepted, integer kinds
kept, anything else a TypeError naming the op)."""
import numpy as np
import pytest

import microinit as mi
from microinit.ops import functions

X = np.random.default_rng(0).standard_normal((2, 3))
# public name -> (positional args after x, Tensor method name)
CALLS = {
    "argmax": ((), "argmax"), "argmin": ((), "argmin"), "var": ((1,), "var"), "std": ((), "std"),
    "prod": ((0,), "prod"), "logsumexp": ((1,), "logsumexp"), "cumsum": ((1,), "cumsum"), "all_": ((), "all"),
    "any_": ((), "any"), "maximum": ((0.1,), "maximum"), "minimum": ((0.1,), "minimum"),
    "squeeze": ((), "squeeze"), "unsqueeze": ((0,), "unsqueeze"), "expand": ((2, 2, 3), "expand"),
    "flip": ((), "flip"), "pad": (((1, 1),), "pad"), "tril": ((), "tril"), "triu": ((), "triu"),
    "gather": ((1, np.array([[0], [2]])), "gather"), "masked_fill": ((X > 0, 0.0), "masked_fill"),
    "sin": ((), "sin"), "cos": ((), "cos"), "erf": ((), "erf"), "rsqrt": ((), "rsqrt"), "log2": ((), "log2"),
    "exp2": ((), "exp2"), "sign": ((), "sign"), "floor": ((), "floor"), "ceil": ((), "ceil"),
    "round_": ((), "round"), "isnan": ((), "isnan"), "isinf": ((), "isinf"), "isfinite": ((), "isfinite"),
    "silu": ((), "silu"), "mish": ((), "mish"), "hardswish": ((), "hardswish"), "hardtanh": ((), "hardtanh"),
    "relu6": ((), "relu6"), "logsigmoid": ((), "logsigmoid"), "softsign": ((), "softsign"), "gelu": ((), "gelu"),
}


def test_every_function_is_tested_here():
    assert set(CALLS) == set(functions.__all__) - {"as_input_tensor"}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_function_equals_method_on_tensors_and_arrays(name):
    args, method = CALLS[name]
    fn = getattr(functions, name)
    want = getattr(mi.tensor(X), method)(*args)
    with np.errstate(invalid="ignore", divide="ignore"):
        for x in (mi.tensor(X), X, X.tolist()):
            got = fn(x, *args)
            assert isinstance(got, mi.Tensor) and got.shape == want.shape
            np.testing.assert_allclose(got.data.astype(np.float64), want.data.astype(np.float64), rtol=1e-6)
    assert getattr(mi, name.rstrip("_")) is fn


def test_integer_inputs_keep_their_kind_and_bad_inputs_name_the_op():
    assert mi.maximum(np.array([1, 5]), 2).dtype == np.int64
    assert mi.argmax([3, 9, 1]).item() == 1 and mi.all([True, False]).item() is False
    for bad in ("abc", None, [[1.0], [2.0, 3.0]], np.zeros(2, np.complex64)):
        with pytest.raises(TypeError, match=r"^sin: input"):
            mi.sin(bad)

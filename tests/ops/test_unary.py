"""Elementwise math of microinit/ops/unary.py: values and gradients against torch,
float64 gradchecks, integer inputs, and the bool tests isnan/isinf/isfinite."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
DTYPES = [np.float32, np.float64]
ANY = np.random.default_rng(0).standard_normal((3, 4)) * 2
POS = np.abs(ANY) + 0.1

# (name, microinit fn, torch fn, input)
CASES = [
    ("sin", lambda t: t.sin(), torch.sin, ANY),
    ("cos", lambda t: t.cos(), torch.cos, ANY),
    ("erf", lambda t: t.erf(), torch.erf, ANY),
    ("rsqrt", lambda t: t.rsqrt(), torch.rsqrt, POS),
    ("log2", lambda t: t.log2(), torch.log2, POS),
    ("exp2", lambda t: t.exp2(), torch.exp2, ANY),
    ("sign", lambda t: t.sign(), torch.sign, ANY),
    ("floor", lambda t: t.floor(), torch.floor, ANY),
    ("ceil", lambda t: t.ceil(), torch.ceil, ANY),
    ("round", lambda t: t.round(), torch.round, ANY),
    ("module_fns", lambda t: mi.sin(t) * mi.cos(t) + mi.erf(t) + mi.exp2(t),
     lambda t: t.sin() * t.cos() + t.erf() + t.exp2(), ANY),
]
SMOOTH = [c for c in CASES if c[0] not in ("sign", "floor", "ceil", "round")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, f, tf, x", CASES, ids=[c[0] for c in CASES])
def test_forward_and_gradients_match_torch(torch_parity, name, f, tf, x, dtype):
    torch_parity(f, tf, [x], dtype)


@pytest.mark.parametrize("name, f, tf, x", SMOOTH, ids=[c[0] for c in SMOOTH])
def test_float64_gradcheck(fd_gradcheck, name, f, tf, x):
    fd_gradcheck(f, [x[:2]])


def test_round_is_half_to_even_and_steps_keep_integers():
    halves = [0.5, 1.5, 2.5, -2.5]
    assert mi.tensor(halves).round().tolist() == torch.round(torch.tensor(halves)).tolist() == [0.0, 2.0, 2.0, -2.0]
    i = mi.tensor([-2, 0, 3])
    for fn in ("floor", "ceil", "round", "sign"):
        y = getattr(i, fn)()
        assert y.dtype == np.int64 and y.tolist() == getattr(torch.tensor([-2, 0, 3]), fn)().tolist()


def test_ieee_edges_match_torch():
    a = np.array([0.0, -1.0, np.inf, np.nan], np.float32)
    for fn in ("rsqrt", "log2", "exp2", "sin", "erf", "sign"):
        np.testing.assert_allclose(getattr(mi.tensor(a), fn)().data,  # same inf/NaN places, ulp-close values
                                   getattr(torch, fn)(torch.tensor(a)).numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", ["isnan", "isinf", "isfinite"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_float_classes_are_bool_tensors(fn, dtype):
    a = np.array([1.0, np.nan, np.inf, -np.inf, 0.0]) if dtype in DTYPES else np.array([1, 0, 1])
    a = a.astype(dtype)
    y = getattr(mi, fn)(mi.tensor(a))
    assert y.dtype == np.bool_ and y.tolist() == getattr(torch, fn)(torch.tensor(a)).tolist()
    assert not y.requires_grad


@pytest.mark.parametrize("shape", [(0,), (0, 3), (1, 1), ()])
def test_zero_and_one_sized(shape, torch_parity):
    a = np.full(shape, 0.3)
    for name, f, tf, _ in SMOOTH[:-1]:
        torch_parity(f, tf, [a], np.float64)


def test_bad_dtype_names_the_op():
    t = mi.zeros(2)
    t.data = np.zeros(2, np.complex64)
    for fn in ("sin", "erf", "rsqrt", "floor"):
        with pytest.raises(TypeError, match=rf"^{fn}: tensor data has unsupported dtype complex64"):
            getattr(t, fn)()
    with pytest.raises(TypeError, match=r"^isnan: unsupported dtype complex64"):
        t.isnan()

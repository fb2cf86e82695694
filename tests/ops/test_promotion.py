"""PyTorch's dtype rules (microinit/ops/promotion.py; docs/ops.md) through the ops of
microinit/ops/elementwise.py, unary.py and reduce.py: integer and bool tensors keep an
integer/bool dtype as torch does (int + int stays int, a Python or numpy number never
promotes, sum/prod/cumsum give int64), and where torch refuses (mean/var/std of
integers, bool negation, subtraction, abs, floor/ceil/round) microinit raises TypeError
naming the op. No integer result requires grad. Each case is run through torch itself."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microinit as mi

torch = pytest.importorskip("torch")

B = np.array([True, False, True])
I64 = np.array([1, -2, 3])
I32 = np.array([1, -2, 3], np.int32)
U8 = np.array([0, 2, 250], np.uint8)
F32 = np.array([0.5, -1.5, 2.0], np.float32)
SCALAR_I32 = np.array(5, np.int32)  # a 0-d operand


def _run(fn, arrays, lib):
    if lib == "torch":
        return fn(*[torch.from_numpy(np.array(a)) for a in arrays])
    return fn(*[mi.tensor(np.array(a)) for a in arrays])


def _np_dtype(tdtype):
    return torch.empty(0, dtype=tdtype).numpy().dtype


def assert_matches_torch(fn, *arrays):
    """fn on microinit tensors gives torch's dtype and values, or both refuse (microinit
    with TypeError, torch with RuntimeError/NotImplementedError)."""
    try:
        expected = _run(fn, arrays, "torch")
    except (RuntimeError, NotImplementedError, TypeError) as err:
        with pytest.raises(TypeError):
            _run(fn, arrays, "mi")
        return str(err)
    got = _run(fn, arrays, "mi")
    assert got.dtype == _np_dtype(expected.dtype), (got.dtype, expected.dtype)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert not got.requires_grad
    return None


# (name, fn applied to microinit and torch tensors alike, operands)
CASES = [
    ("bool ** 2", lambda b: b ** 2, [B]),
    ("int32 ** 2", lambda i: i ** 2, [I32]),
    ("2 ** int", lambda i: 2 ** i, [np.array([0, 1, 5])]),
    ("2 ** negative int", lambda i: 2 ** i, [np.array([-1, 0, 2])]),
    ("-1 ** negative int", lambda i: (-1) ** i, [np.array([-3, -2, 0])]),
    ("2 ** bool", lambda b: 2 ** b, [B]),
    ("int.prod", lambda i: i.prod(), [I64]),
    ("int32.prod axis", lambda i: i.reshape(3, 1).prod(0), [I32]),
    ("bool.prod", lambda b: b.prod(), [B]),
    ("int32.sum", lambda i: i.sum(), [I32]),
    ("bool.sum", lambda b: b.sum(), [B]),
    ("uint8.sum", lambda u: u.sum(), [U8]),
    ("int.mean", lambda i: i.mean(), [I64]),
    ("bool.mean", lambda b: b.mean(), [B]),
    ("int.var", lambda i: i.var(), [I64]),
    ("int.std", lambda i: i.std(), [I64]),
    ("int32.max", lambda i: i.max(), [I32]),
    ("bool.min", lambda b: b.min(), [B]),
    ("int32.cumsum", lambda i: i.cumsum(0), [I32]),
    ("bool.cumsum", lambda b: b.cumsum(0), [B]),
    ("abs int32", lambda i: abs(i), [I32]),
    ("abs bool", lambda b: abs(b), [B]),
    ("neg int32", lambda i: -i, [I32]),
    ("neg uint8", lambda u: -u, [U8]),
    ("neg bool", lambda b: -b, [B]),
    ("int32 + int64", lambda i, j: i + j, [I32, I64]),
    ("int32 + 0-d int32", lambda i, s: i + s, [I32, SCALAR_I32]),
    ("int32 * 2", lambda i: i * 2, [I32]),
    ("2 * int32", lambda i: 2 * i, [I32]),
    ("int32 + True", lambda i: i + True, [I32]),
    ("int + bool", lambda i, b: i + b, [I64, B]),
    ("bool + bool", lambda a, b: a + b, [B, ~B]),
    ("bool * bool", lambda a, b: a * b, [B, ~B]),
    ("bool + 1", lambda b: b + 1, [B]),
    ("bool - bool", lambda a, b: a - b, [B, ~B]),
    ("int - bool", lambda i, b: i - b, [I64, B]),
    ("1 - bool", lambda b: 1 - b, [B]),
    ("int - int32", lambda i, j: i - j, [I64, I32]),
    ("5 - int32", lambda i: 5 - i, [I32]),
    ("5.5 - uint8", lambda u: 5.5 - u, [U8]),
    ("int / int", lambda i, j: i / j, [I64, I64]),
    ("int * 2.5", lambda i: i * 2.5, [I32]),
    ("int + float32", lambda i, f: i + f, [I64, F32]),
    ("sign int32", lambda i: i.sign(), [I32]),
    ("sign bool", lambda b: b.sign(), [B]),
    ("floor int", lambda i: i.floor(), [I64]),
    ("floor bool", lambda b: b.floor(), [B]),
    ("ceil bool", lambda b: b.ceil(), [B]),
    ("round int32", lambda i: i.round(), [I32]),
    ("round bool", lambda b: b.round(), [B]),
    ("clip int32", lambda i: i.clip(0, 2), [I32]),
    ("clip int32 float bound", lambda i: i.clip(0.5, 2), [I32]),
    ("clip bool int bounds", lambda b: b.clip(0, 1), [B]),
    ("clip bool bool bounds", lambda b: b.clip(False, True), [B]),
    ("maximum int32 0-d int64", lambda i, s: i.maximum(s), [I32, np.array(2)]),
    # exponents and bases that are bools
    ("bool ** True", lambda b: b ** True, [B]),
    ("int ** True", lambda i: i ** True, [I64]),
    ("True ** int", lambda i: True ** i, [I64]),
    ("True ** bool", lambda b: True ** b, [B]),
    ("-1 ** bool", lambda b: (-1) ** b, [B]),
    # numpy scalars count as the Python numbers they hold
    ("float32 * np.float64", lambda f: f * np.float64(2.5), [F32]),
    ("np.float64 * float32", lambda f: np.float64(2.5) * f, [F32]),
    ("float32 - np.float64", lambda f: f - np.float64(0.5), [F32]),
    ("np.float64 - float32", lambda f: np.float64(0.5) - f, [F32]),
    ("float32 / np.float64", lambda f: f / np.float64(4.0), [F32]),
    ("np.float64 / float32", lambda f: np.float64(4.0) / f, [F32]),
    ("float32 ** np.float64", lambda f: f ** np.float64(2.0), [F32]),
    ("int + np.float64", lambda i: i + np.float64(1.5), [I64]),
    ("int32 + np.int64", lambda i: i + np.int64(1), [I32]),
    ("np.int64 ** int", lambda i: np.int64(2) ** i, [np.array([0, 1, 5])]),
    ("maximum bool bool", lambda a, b: a.maximum(b), [B, ~B]),
    ("minimum bool int32", lambda b, i: b.minimum(i), [B, I32]),
    # a Python int or a 0-d operand is cast to the result dtype first, wrapping around
    # (found by the fuzz's torch oracle: numpy raised OverflowError, or compared in int64)
    ("uint8 + -2", lambda u: u + (-2), [U8]),
    ("uint8 * -2", lambda u: u * (-2), [U8]),
    ("-2 - uint8", lambda u: -2 - u, [U8]),
    ("-2 ** uint8", lambda u: (-2) ** u, [U8]),
    ("uint8 clip -2 below", lambda u: u.clip(-2, None), [U8]),
    ("uint8 clip -2 above", lambda u: u.clip(None, -2), [U8]),
    ("maximum uint8 0-d int64 -11", lambda u, s: u.maximum(s), [U8, np.array(-11)]),
    ("minimum 0-d int64 -11 uint8", lambda s, u: s.minimum(u), [np.array(-11), U8]),
    ("uint8 + 0-d int64 300", lambda u, s: u + s, [U8, np.array(300)]),
]


@pytest.mark.parametrize("name, fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_dtype_and_values_match_torch(name, fn, arrays):
    assert_matches_torch(fn, *arrays)


def test_cases_cover_both_outcomes():
    """The table holds results torch computes and inputs torch refuses (so the test
    sees both paths of assert_matches_torch)."""
    refused = [name for name, fn, arrays in CASES if assert_matches_torch(fn, *arrays) is not None]
    assert {"int.mean", "bool.mean", "int.var", "neg bool", "bool - bool", "floor bool", "abs bool"} <= set(refused)
    assert "bool ** 2" not in refused and "int.prod" not in refused


@pytest.mark.parametrize("a, b, dtype", [
    (1.0, 2.0, np.float32), (1, 2.0, np.float32), (1, 2, np.int64), (True, False, np.bool_),
])
def test_where_with_python_numbers_has_torchs_dtype(a, b, dtype):
    cond = np.array([True, False])
    out = mi.where(mi.tensor(cond), a, b)
    expected = torch.where(torch.from_numpy(cond), a, b)
    assert out.dtype == dtype == _np_dtype(expected.dtype)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_where_and_maximum_take_numpy_scalars_as_numbers():
    cond = np.array([True, False])
    out = mi.where(mi.tensor(cond), mi.tensor(F32[:2]), np.float64(3.0))
    assert out.dtype == np.float32 == _np_dtype(torch.where(torch.from_numpy(cond), torch.from_numpy(F32[:2]),
                                                            np.float64(3.0)).dtype)
    assert mi.maximum(mi.tensor(F32), np.float64(0.0)).dtype == np.float32
    assert mi.maximum(mi.tensor(I32), np.int64(0)).dtype == np.int32


def test_a_float32_gradient_through_a_numpy_scalar_stays_float32():
    x = mi.tensor(F32, requires_grad=True)
    (x * np.float64(3.0)).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0, 3.0]


def test_where_keeps_a_float64_branch():
    out = mi.where(mi.tensor([True, False]), 1.0, mi.tensor([1.0, 2.0], dtype="float64"))
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0]


def test_integer_results_never_require_grad_next_to_float_ones():
    """An integer result is a constant: it joins a float graph without a gradient."""
    x = mi.tensor([1.0, 2.0, 3.0], requires_grad=True)
    k = mi.tensor(I64) * 2 + 1
    assert k.dtype == np.int64 and not k.requires_grad
    (x * k).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, -3.0, 7.0])


def test_refusals_name_the_op():
    with pytest.raises(TypeError, match="mean: input dtype int64 is not a float dtype"):
        mi.tensor(I64).mean()
    with pytest.raises(TypeError, match="sub: subtraction with a bool operand"):
        mi.tensor(B) - mi.tensor(B)
    with pytest.raises(TypeError, match="neg: not supported on a bool tensor"):
        -mi.tensor(B)
    with pytest.raises(TypeError, match="floor: not supported on a bool tensor"):
        mi.tensor(B).floor()
    with pytest.raises(ValueError, match="add: shapes"):
        mi.tensor(I64) + mi.tensor(np.arange(2))


INT_DTYPES = st.sampled_from([np.int32, np.int64, np.uint8, np.bool_])
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "maximum": lambda a, b: a.maximum(b), "minimum": lambda a, b: a.minimum(b)}
UNARY = {"neg": lambda a: -a, "abs": lambda a: abs(a), "sum": lambda a: a.sum(), "prod": lambda a: a.prod(),
         "sign": lambda a: a.sign(), "floor": lambda a: a.floor(), "round": lambda a: a.round(),
         "square": lambda a: a ** 2, "mean": lambda a: a.mean(), "clip": lambda a: a.clip(0, 3)}


def _ints(dtype, shape, seed):
    values = np.random.default_rng(seed).integers(0 if dtype in (np.uint8, np.bool_) else -4, 5, shape)
    return values.astype(dtype)


@settings(max_examples=60)
@given(op=st.sampled_from(sorted(BINARY)), da=INT_DTYPES, db=INT_DTYPES,
       sa=st.sampled_from([(), (3,), (2, 3), (1, 3)]), sb=st.sampled_from([(), (3,), (2, 1)]),
       scalar=st.sampled_from([None, 2, True]), seed=st.integers(0, 2 ** 16))
def test_fuzz_integer_binary_ops_against_torch(op, da, db, sa, sb, scalar, seed):
    a = _ints(da, sa, seed)
    if scalar is None:
        assert_matches_torch(BINARY[op], a, _ints(db, sb, seed + 1))
    elif op not in ("maximum", "minimum"):  # torch.maximum takes two tensors
        assert_matches_torch(lambda x: BINARY[op](x, scalar), a)


@settings(max_examples=60)
@given(op=st.sampled_from(sorted(UNARY)), dtype=INT_DTYPES, shape=st.sampled_from([(), (4,), (2, 3)]),
       seed=st.integers(0, 2 ** 16))
def test_fuzz_integer_unary_ops_against_torch(op, dtype, shape, seed):
    assert_matches_torch(UNARY[op], _ints(dtype, shape, seed))


def test_an_int_beyond_int64_is_refused_naming_the_op():
    with pytest.raises(OverflowError):  # torch's refusal
        torch.from_numpy(I64) + 2**70
    for fn, op in [(lambda t: t + 2**70, "add"), (lambda t: t * -2**70, "mul"), (lambda t: t.clip(2**64), "clip"),
                   (lambda t: t.maximum(2**80), "maximum")]:
        with pytest.raises(ValueError, match=f"{op}: the integer .* beyond the range of int64"):
            fn(mi.tensor(I64))


@pytest.mark.parametrize("dtype, bound, fits", [
    (np.uint8, -255, True), (np.uint8, -256, False), (np.uint8, 255, True), (np.uint8, 256, False),
    (np.int8, -128, True), (np.int8, -129, False), (np.int8, 127, True), (np.int8, 128, False),
    (np.int16, -300, True)])
@pytest.mark.parametrize("side", ["lo", "hi"])
def test_an_int_clip_bound_that_overflows_the_dtype_is_refused_as_in_torch(dtype, bound, fits, side):
    kw = {"min" if side == "lo" else "max": bound}
    data = np.array([1, 0, 100], dtype)
    if fits:
        assert_matches_torch(lambda t: t.clip(**kw), data)
        return
    with pytest.raises(RuntimeError, match="overflow"):
        torch.from_numpy(data).clip(**kw)
    with pytest.raises(ValueError, match=f"clip: {side}={bound} does not fit the tensor's dtype"):
        mi.tensor(data).clip(**kw)

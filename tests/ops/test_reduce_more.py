"""The reductions issue 16 adds (microinit/ops/reduce.py): argmax/argmin, var/std,
prod, logsumexp, all/any, cumsum, and integer dtypes kept through max/min."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
DTYPES = [np.float32, np.float64]
X = np.random.default_rng(0).standard_normal((3, 4, 5))

# (name, microinit fn, torch fn); every case runs on X
CASES = [
    ("var", lambda t: t.var(), lambda t: t.var()),
    ("var_axis1_ddof0", lambda t: t.var(axis=1, ddof=0), lambda t: t.var(1, correction=0)),
    ("var_axes_keep", lambda t: t.var(axis=(0, 2), keepdims=True), lambda t: t.var((0, 2), keepdim=True)),
    ("std", lambda t: t.std(axis=-1), lambda t: t.std(-1)),
    ("std_keep_ddof2", lambda t: t.std(axis=0, keepdims=True, ddof=2), lambda t: t.std(0, correction=2, keepdim=True)),
    ("prod", lambda t: t.prod(axis=1), lambda t: t.prod(1)),
    ("prod_all", lambda t: (t * 0.5 + 1).prod(), lambda t: (t * 0.5 + 1).prod()),
    ("prod_keep", lambda t: t.prod(axis=(0, 2), keepdims=True),
     lambda t: t.prod(2, keepdim=True).prod(0, keepdim=True)),
    ("logsumexp", lambda t: t.logsumexp(axis=2), lambda t: t.logsumexp(2)),
    ("logsumexp_all", lambda t: t.logsumexp(), lambda t: t.logsumexp((0, 1, 2))),
    ("logsumexp_keep", lambda t: t.logsumexp(axis=0, keepdims=True), lambda t: t.logsumexp(0, keepdim=True)),
    ("cumsum0", lambda t: t.cumsum(axis=0), lambda t: t.cumsum(0)),
    ("cumsum_last", lambda t: t.cumsum(axis=-1), lambda t: t.cumsum(-1)),
    ("module_fns", lambda t: mi.var(t, 1) + mi.logsumexp(t, 1) + mi.prod(t, 1),
     lambda t: t.var(1) + t.logsumexp(1) + t.prod(1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, f, tf", CASES, ids=[c[0] for c in CASES])
def test_forward_and_gradients_match_torch(torch_parity, name, f, tf, dtype):
    torch_parity(f, tf, [X], dtype)


@pytest.mark.parametrize("name, f, tf", CASES, ids=[c[0] for c in CASES])
def test_float64_gradcheck(fd_gradcheck, name, f, tf):
    fd_gradcheck(f, [X[:3, :3, :2]])


def test_prod_gradient_is_exact_at_zeros(torch_parity):
    a = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    torch_parity(lambda t: t.prod(axis=1), lambda t: t.prod(1), [a], np.float64)


def test_var_defaults_to_unbiased_like_torch():
    a = mi.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64")
    assert a.var().item() == pytest.approx(np.var(a.data, ddof=1))
    assert a.std(ddof=0).item() == pytest.approx(np.std(a.data))
    one = mi.tensor([3.0]).var()  # n - ddof = 0: NaN, as in torch
    assert np.isnan(one.item())


def test_logsumexp_stays_finite_and_handles_infinities():
    big = mi.tensor([1e4, 1e4], dtype="float64")
    assert big.logsumexp().item() == pytest.approx(1e4 + np.log(2))
    assert mi.tensor([-np.inf, -np.inf]).logsumexp().item() == -np.inf
    assert mi.tensor([np.inf, 0.0]).logsumexp().item() == np.inf


@pytest.mark.parametrize("fn", ["argmax", "argmin"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (0, False), (-1, True), (1, False)])
def test_argmax_argmin_match_torch_with_ties(fn, axis, keepdims):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    y = getattr(mi.tensor(a), fn)(axis=axis, keepdims=keepdims)
    ty = getattr(torch.tensor(a), fn)(dim=axis, keepdim=keepdims)
    assert y.dtype == np.int64 and y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y.data, ty.numpy())
    assert getattr(mi, fn)(mi.tensor(a), axis).tolist() == y.tolist() if not keepdims else True


def test_argmax_on_ints_and_scalars():
    assert mi.tensor([3, 9, 1]).argmax().item() == 1
    assert mi.tensor(2.0).argmax(axis=0).item() == 0


@pytest.mark.parametrize("fn", ["all", "any"])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_all_any_match_torch(fn, axis):
    a = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]])
    for keepdims in (False, True):
        y = getattr(mi.tensor(a), fn)(axis=axis, keepdims=keepdims)
        t = torch.tensor(a)
        ty = getattr(t, fn)() if axis is None else getattr(t, fn)(dim=axis, keepdim=keepdims)
        if axis is None and keepdims:
            continue  # torch's all() has no keepdim without a dim
        assert y.dtype == np.bool_
        np.testing.assert_array_equal(y.data, ty.numpy())
    assert getattr(mi, fn)(mi.tensor([True, False])).item() == (fn == "any")


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_max_min_cumsum_keep_integer_dtypes_as_torch(dtype):
    a = np.array([[1, 0, 1], [0, 1, 1]]).astype(dtype)
    t = torch.tensor(a)
    for fn, tfn in (("max", "amax"), ("min", "amin")):
        y = getattr(mi.tensor(a), fn)(axis=1)
        ty = getattr(t, tfn)(1)
        assert y.dtype == ty.numpy().dtype
        np.testing.assert_array_equal(y.data, ty.numpy())
    assert mi.tensor(a).max().dtype == a.dtype
    c = mi.tensor(a).cumsum(axis=1)
    assert c.dtype == np.int64 and c.tolist() == t.cumsum(1).tolist()


@pytest.mark.parametrize("shape", [(0, 3), (1, 3), (3, 1), (1,)])
@pytest.mark.filterwarnings("ignore:var\\(\\)")  # torch warns on an empty var; microinit gives NaN silently
def test_zero_and_one_sized_dims(torch_parity, shape):
    a = np.random.default_rng(1).standard_normal(shape)
    torch_parity(lambda t: t.logsumexp(axis=-1), lambda t: t.logsumexp(-1), [a], np.float64)
    torch_parity(lambda t: t.prod(axis=0), lambda t: t.prod(0), [a], np.float64)
    torch_parity(lambda t: t.cumsum(axis=0), lambda t: t.cumsum(0), [a], np.float64)
    torch_parity(lambda t: t.var(axis=0, ddof=0), lambda t: t.var(0, correction=0), [a], np.float64)


@pytest.mark.parametrize("op, kw", [("argmax", {}), ("argmin", {}), ("var", {}), ("std", {}), ("prod", {}),
                                    ("logsumexp", {}), ("all", {}), ("any", {}), ("cumsum", {})])
def test_bad_axis_names_the_op(op, kw):
    t = mi.ones(2, 3)
    with pytest.raises(ValueError, match=rf"^{op}: axis 2 is out of range for a tensor with 2 dimension"):
        getattr(t, op)(axis=2)
    with pytest.raises(TypeError, match=rf"^{op}: axis"):
        getattr(t, op)(axis=1.5)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"^argmax: cannot take the argmax of an empty tensor"):
        mi.zeros(0).argmax()
    with pytest.raises(ValueError, match=r"^argmin: cannot reduce an empty axis 0"):
        mi.zeros(0, 2).argmin(axis=0)
    with pytest.raises(TypeError, match=r"^argmax: axis must be one int"):
        mi.zeros(2, 2).argmax(axis=(0, 1))
    with pytest.raises(TypeError, match=r"^var: ddof must be a number"):
        mi.zeros(3).var(ddof="1")
    with pytest.raises(TypeError, match=r"^logsumexp: tensor data has unsupported dtype complex128"):
        mi.logsumexp(_complex_tensor())
    with pytest.raises(ValueError, match=r"^max: cannot reduce an empty tensor"):
        mi.tensor(np.zeros(0, np.int64)).max()


def _complex_tensor():
    t = mi.zeros(2)
    t.data = np.zeros(2, np.complex128)  # data may be reassigned: the boundary checks it
    return t

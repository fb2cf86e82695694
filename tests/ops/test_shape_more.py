"""squeeze, unsqueeze, expand, flip, pad, tril, triu (microinit/ops/shape.py) against
torch, with gradchecks, 0-/1-sized dimensions and errors that name the op."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
TF = torch.nn.functional
DTYPES = [np.float32, np.float64]
X = np.random.default_rng(0).standard_normal((2, 1, 3))
SQ = np.random.default_rng(1).standard_normal((3, 3))

CASES = [
    ("squeeze", lambda t: t.squeeze(), lambda t: t.squeeze(), X),
    ("squeeze1", lambda t: t.squeeze(axis=1), lambda t: t.squeeze(1), X),
    ("squeeze_not1", lambda t: t.squeeze(axis=0), lambda t: t.squeeze(0), X),
    ("unsqueeze", lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(0), X),
    ("unsqueeze_end", lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1), X),
    ("expand", lambda t: t.expand(4, 2, 5, 3), lambda t: t.expand(4, 2, 5, 3), X),
    ("expand_keep", lambda t: t.expand((-1, 2, -1)), lambda t: t.expand(-1, 2, -1), X),
    ("flip", lambda t: t.flip(axis=(0, 2)), lambda t: t.flip((0, 2)), X),
    ("flip_all", lambda t: t.flip(), lambda t: t.flip((0, 1, 2)), X),
    ("pad_last", lambda t: t.pad((1, 2)), lambda t: TF.pad(t, (1, 2)), X),
    ("pad_two_value", lambda t: t.pad((0, 1, 2, 0), value=-1.5), lambda t: TF.pad(t, (0, 1, 2, 0), value=-1.5), X),
    ("pad_crop", lambda t: t.pad((-1, 1, 1, 0)), lambda t: TF.pad(t, (-1, 1, 1, 0)), X),
    ("tril", lambda t: t.tril(), torch.tril, SQ),
    ("triu1", lambda t: t.triu(1), lambda t: torch.triu(t, 1), SQ),
    ("tril_batched", lambda t: t.tril(-1), lambda t: torch.tril(t, -1), X.reshape(2, 3, 1) * SQ[0]),
    ("module_fns", lambda t: mi.flip(mi.squeeze(mi.unsqueeze(t, 0)), 0) + mi.tril(t) + mi.triu(t),
     lambda t: t.unsqueeze(0).squeeze().flip(0) + t.tril() + t.triu(), SQ),
    ("module_expand_pad", lambda t: mi.pad(mi.expand(t, 2, 2, 3), (1, 1)),
     lambda t: TF.pad(t.expand(2, 2, 3), (1, 1)), X),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, f, tf, x", CASES, ids=[c[0] for c in CASES])
def test_forward_and_gradients_match_torch(torch_parity, name, f, tf, x, dtype):
    torch_parity(f, tf, [x], dtype)


@pytest.mark.parametrize("name, f, tf, x", CASES, ids=[c[0] for c in CASES])
def test_float64_gradcheck(fd_gradcheck, name, f, tf, x):
    fd_gradcheck(f, [x])


@pytest.mark.parametrize("name, f, tf", [
    ("squeeze", lambda t: t.squeeze(), lambda t: t.squeeze()),
    ("expand", lambda t: t.expand(2, 0, 3), lambda t: t.expand(2, 0, 3)),
    ("flip", lambda t: t.flip(axis=1), lambda t: t.flip(1)),
    ("pad", lambda t: t.pad((1, 1)), lambda t: TF.pad(t, (1, 1))),
    ("tril", lambda t: t.tril(), torch.tril),
])
def test_zero_sized_dims(torch_parity, name, f, tf):
    torch_parity(f, tf, [np.zeros((2, 0, 3))[:, :, :] if name != "expand" else np.zeros((1, 0, 3))], np.float32)


def test_integer_tensors_keep_their_dtype():
    i = mi.tensor([[1, 2], [3, 4]])
    for y in (i.flip(axis=0), i.tril(), i.unsqueeze(0), i.expand(2, 2, 2), i.pad((1, 0))):
        assert y.dtype == np.int64


@pytest.mark.parametrize("call, err, msg", [
    (lambda t: t.squeeze(axis=3), ValueError, r"^squeeze: axis 3 is out of range"),
    (lambda t: t.unsqueeze(4), ValueError, r"^unsqueeze: axis 4 is out of range for a tensor with 4"),
    (lambda t: t.flip(axis=(0, 0)), ValueError, r"^flip: axis \(0, 0\) names the same dimension twice"),
    (lambda t: t.expand(3, 1, 3),
     ValueError, r"^expand: a tensor of shape \(2, 1, 3\) cannot be expanded to \(3, 1, 3\)"),
    (lambda t: t.expand(1, 3), ValueError, r"^expand: the target shape \(1, 3\) has fewer dimensions"),
    (lambda t: t.expand(2.0, 1, 3), TypeError, r"shape entries must be ints"),
    (lambda t: t.pad((1,)), ValueError, r"^pad: pad \(1,\) must hold \(before, after\) pairs"),
    (lambda t: t.pad((1, 1, 1, 1, 1, 1, 1, 1)), ValueError, r"^pad: pad .* at most the 3 dimension"),
    (lambda t: t.pad((1.5, 1)), TypeError, r"^pad: pad must be a sequence of ints"),
    (lambda t: t.pad((-2, -2)), ValueError, r"^pad: pad \(-2, -2\) crops more"),
    (lambda t: t.pad((1, 1), value="x"), TypeError, r"^pad: value must be a number"),
    (lambda t: t[0, 0].tril(), ValueError, r"^tril: the tensor must have at least 2 dimensions, got shape \(3,\)"),
    (lambda t: t.triu(0.5), TypeError, r"^triu: diagonal must be an int"),
])
def test_bad_arguments_name_the_op(call, err, msg):
    with pytest.raises(err, match=msg):
        call(mi.tensor(X, requires_grad=True))


def test_mixed_integer_and_advanced_indexing_follows_torch():
    a = np.arange(24.0).reshape(2, 3, 4)
    t, ta = mi.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for idx in [(0, slice(None), [1, 2]), (slice(None), 1, [0, 3]), ([1, 0], slice(None), 2),
                (0, [2, 1], slice(1, 3)), (Ellipsis, 0, [1, 1]), (1, None, slice(None), [3]),
                (0, np.array([[True, False, True, True]] * 3))]:
        y, ty = t[idx], ta[idx]
        assert y.shape == tuple(ty.shape), idx
        np.testing.assert_array_equal(y.data, ty.detach().numpy())
        g = np.random.default_rng(0).standard_normal(y.shape)
        t.grad = None
        ta.grad = None
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(t.grad, ta.grad.numpy(), rtol=1e-12)
    assert t[0, :, [1, 2]].shape == (3, 2)
    assert t[mi.tensor(0), :, mi.tensor([1, 2])].shape == tuple(ta[torch.tensor(0), :, torch.tensor([1, 2])].shape)
    assert t[[0, 1], [1, 2]].shape == (2, 4)  # no integer: numpy's rule, same as torch's


def test_assignment_with_integers_and_an_advanced_index_follows_torch():
    a = np.arange(24.0).reshape(2, 3, 4)
    t, ta = mi.tensor(a.copy()), torch.tensor(a.copy())
    v = np.arange(6.0).reshape(3, 2) + 100
    t[0, :, [1, 2]] = v
    ta[0, :, [1, 2]] = torch.tensor(v)
    np.testing.assert_array_equal(t.data, ta.numpy())
    t[mi.tensor(1), 0, mi.tensor([0, 3])] = -1.0
    assert t.data[1, 0, 0] == t.data[1, 0, 3] == -1.0 and t._version == 2


def test_pad_of_a_0d_tensor_and_a_nan_value_for_an_int_tensor():
    # found by the fuzz suite: pad(()) of a 0-d tensor raised numpy's "`pad_width` must be of
    # integral type", a NaN value for an int tensor numpy's message without the op
    t = mi.Tensor(np.float32(1.5), requires_grad=True)
    y = t.pad(())
    assert y.shape == () and float(y.data) == 1.5
    y.backward(np.float32(2.0))
    assert float(t.grad) == 2.0
    with pytest.raises(ValueError, match="^pad: value nan"):
        mi.Tensor(np.ones(2, np.int32)).pad((1, 1), value=float("nan"))
    with pytest.raises(ValueError, match="^pad: value nan"):  # (numpy stored it as 0)
        mi.Tensor(np.ones(2, np.uint8)).pad((1, 1), value=float("nan"))

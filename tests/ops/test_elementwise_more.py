"""maximum/minimum, elementwise ==/!= and integer dtypes through where
(microinit/ops/elementwise.py), against torch."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
R = np.random.default_rng(0)
A = np.round(R.standard_normal((3, 4)), 1)
B = np.round(R.standard_normal((4,)), 1)
B[0] = A[0, 0]  # a tie: each side gets half the gradient, as in torch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_maximum_minimum_match_torch_with_broadcasting_and_ties(torch_parity, fn, dtype):
    torch_parity(lambda a, b: getattr(mi, fn)(a, b), lambda a, b: getattr(torch, fn)(a, b), [A, B], dtype)
    torch_parity(lambda a: getattr(a, fn)(0.3), lambda a: getattr(torch, fn)(a, torch.tensor(0.3, dtype=a.dtype)),
                 [A], dtype)
    torch_parity(lambda a: getattr(mi, fn)(a, a), lambda a: getattr(torch, fn)(a, a), [A], dtype)


@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_maximum_minimum_gradcheck_and_arrays(fd_gradcheck, fn):
    fd_gradcheck(lambda a, b: getattr(mi, fn)(a, b), [A + 0.05, B])  # no ties: differentiable
    y = getattr(mi, fn)(np.ones(2), mi.tensor([0.0, 2.0]))  # an array first: still a Tensor op
    assert y.tolist() == getattr(np, fn)(np.ones(2), [0.0, 2.0]).tolist()


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_integer_operands_keep_their_dtype_as_torch(dtype):
    a, b = np.array([0, 1, 1]).astype(dtype), np.array([1, 0, 1]).astype(dtype)
    ta, tb = torch.tensor(a), torch.tensor(b)
    for fn in ("maximum", "minimum"):
        y, ty = getattr(mi, fn)(mi.tensor(a), mi.tensor(b)), getattr(torch, fn)(ta, tb)
        assert y.dtype == ty.numpy().dtype and y.tolist() == ty.tolist()
    c = np.array([True, False, True])
    y, ty = mi.where(c, mi.tensor(a), mi.tensor(b)), torch.where(torch.tensor(c), ta, tb)
    assert y.dtype == ty.numpy().dtype and y.tolist() == ty.tolist()
    assert mi.where(c, mi.tensor(a), 0.5).dtype == np.float32  # a float branch: float, as in torch


def test_equality_is_elementwise_and_hashing_by_identity():
    a, b = mi.tensor([1.0, 2.0, 3.0]), mi.tensor([1.0, 0.0, 3.0])
    assert (a == b).tolist() == [True, False, True] and (a != b).tolist() == [False, True, False]
    assert (a == 2.0).tolist() == [False, True, False]
    assert (mi.tensor([1, 2]) == np.array([1, 5])).tolist() == [True, False]
    assert (a == b).dtype == np.bool_ and not (a == b).requires_grad
    assert (a == None) is False and (a != None) is True  # noqa: E711  (torch's answer)
    assert len({a, b, a}) == 2 and {a: 1}[a] == 1  # hashing stays by identity
    assert a in [a, b]  # identity is checked first ...
    with pytest.raises(ValueError, match="ambiguous"):  # ... then ==, whose truth is ambiguous (torch too)
        a in [b, a]  # noqa: B015
    with pytest.raises(ValueError, match=r"^equal: shapes \(3,\) and \(2,\) do not broadcast together"):
        a == mi.tensor([1.0, 2.0])  # noqa: B015


def test_bad_operands_name_the_op():
    with pytest.raises(ValueError, match=r"^maximum: shapes \(3, 4\) and \(3,\) do not broadcast together"):
        mi.maximum(mi.tensor(A), np.ones(3))
    with pytest.raises(TypeError, match=r"^minimum: other operand has unsupported dtype <U1"):
        mi.minimum(mi.tensor(A), np.array(["a"]))

"""gather, one_hot and masked_fill (microinit/ops/indexing.py) against torch, with
gradchecks, repeated indices, empty inputs and range/dtype errors naming the op."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
TF = torch.nn.functional
DTYPES = [np.float32, np.float64]
X = np.random.default_rng(0).standard_normal((3, 4))
IDX0 = np.array([[2, 0, 0, 1], [2, 2, 1, 0]])  # repeats: the gradient adds up
IDX1 = np.array([[3, 3], [0, 1], [2, 2]])
MASK = np.array([[True, False, False, True]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis, idx", [(0, IDX0), (1, IDX1), (-1, IDX1[:2, :1])])
def test_gather_matches_torch(torch_parity, fd_gradcheck, axis, idx, dtype):
    torch_parity(lambda t: t.gather(axis, mi.tensor(idx)), lambda t: t.gather(axis, torch.tensor(idx)), [X], dtype)
    torch_parity(lambda t: mi.gather(t, axis, idx), lambda t: torch.gather(t, axis, torch.tensor(idx)), [X], dtype)
    fd_gradcheck(lambda t: t.gather(axis, idx), [X])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", [MASK, MASK.T[:, :1].repeat(4, 1)[:3], np.array(True)])
def test_masked_fill_matches_torch(torch_parity, fd_gradcheck, mask, dtype):
    torch_parity(lambda t: t.masked_fill(mi.tensor(mask), -2.5), lambda t: t.masked_fill(torch.tensor(mask), -2.5),
                 [X], dtype)
    fd_gradcheck(lambda t: mi.masked_fill(t, mask, 0.0), [X])


def test_masked_fill_keeps_integers_and_takes_a_0d_tensor_value():
    y = mi.tensor([1, 2, 3]).masked_fill(mi.tensor([False, True, False]), mi.tensor(7))
    assert y.dtype == np.int64 and y.tolist() == [1, 7, 3]


@pytest.mark.parametrize("labels, n", [([0, 2, 1], 3), ([[1], [0]], -1), ([], 4), ([3, 3], 5)])
def test_one_hot_matches_torch(labels, n):
    a = np.array(labels, np.int64)
    y = mi.one_hot(mi.tensor(a), n)
    ty = TF.one_hot(torch.tensor(a), n)
    assert y.dtype == np.int64 and y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y.data, ty.numpy())


def test_zero_sized_gather():
    y = mi.tensor(np.zeros((0, 3)), requires_grad=True).gather(1, np.zeros((0, 2), np.int64))
    assert y.shape == (0, 2)
    y.sum().backward()


@pytest.mark.parametrize("call, err, msg", [
    (lambda t: t.gather(0, mi.tensor([[0.0]])),
     TypeError, r"^gather: index must be an integer tensor, got dtype float32"),
    (lambda t: t.gather(0, np.array([[3, 0]])),
     ValueError, r"^gather: index 3 is out of range for a dimension of size 3"),
    (lambda t: t.gather(1, np.array([[-1]])), ValueError, r"^gather: index -1 is out of range"),
    (lambda t: t.gather(0, np.array([0, 1])),
     ValueError, r"^gather: index of shape \(2,\) does not fit a tensor of shape \(3, 4\)"),
    (lambda t: t.gather(0, np.zeros((4, 5), np.int64)), ValueError, r"^gather: index of shape \(4, 5\)"),
    (lambda t: t.gather(2, np.zeros((1, 1), np.int64)), ValueError, r"^gather: axis 2 is out of range"),
    (lambda t: t.masked_fill(np.array([1, 0]), 0.0),
     TypeError, r"^masked_fill: mask must be a bool tensor, got dtype int64"),
    (lambda t: t.masked_fill(np.ones((2, 4), bool), 0.0),
     ValueError, r"^masked_fill: mask of shape \(2, 4\) does not broadcast to the tensor's shape \(3, 4\)"),
    (lambda t: t.masked_fill(MASK, "a"), TypeError, r"^masked_fill: value must be a number"),
    (lambda t: mi.one_hot(mi.tensor([0.0, 1.0])), TypeError, r"^one_hot: labels must be an integer tensor"),
    (lambda t: mi.one_hot(mi.tensor([0, 3]), 3),
     ValueError, r"^one_hot: index 3 is out of range for a dimension of size 3"),
    (lambda t: mi.one_hot(mi.tensor([-1]), 3), ValueError, r"^one_hot: index -1 is out of range"),
    (lambda t: mi.one_hot(mi.tensor(np.zeros(0, np.int64))), ValueError, r"^one_hot: cannot infer num_classes"),
    (lambda t: mi.one_hot(mi.tensor([0]), 2.0), TypeError, r"^one_hot: num_classes must be an int"),
])
def test_bad_input_names_the_op(call, err, msg):
    with pytest.raises(err, match=msg):
        call(mi.tensor(X, requires_grad=True))

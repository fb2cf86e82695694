"""``@`` with 1-D operands and N-D broadcast batch dimensions, numpy's rules
(microinit/ops/linalg.py matmul_op): shapes, values and gradients against torch,
gradchecks, and the 2-D/3-D operands still on the kernel path."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
R = np.random.default_rng(0)

SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3,)), ((3,), (5, 3, 4)),
    ((2, 1, 2, 3), (5, 3, 4)), ((4, 2, 3), (1, 4, 3, 2)), ((2, 3, 2, 3), (2, 3, 3, 1)),
    ((0, 2, 3), (3, 4)), ((2, 0, 2, 3), (3, 4)), ((3, 0), (0,)), ((1, 1, 3), (1, 3, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa, sb", SHAPES, ids=[f"{a}@{b}" for a, b in SHAPES])
def test_matmul_follows_numpy_and_torch(torch_parity, sa, sb, dtype):
    a, b = R.standard_normal(sa), R.standard_normal(sb)
    y = torch_parity(lambda x, w: x @ w, lambda x, w: x @ w, [a, b], dtype)
    assert y.shape == np.matmul(a, b).shape


@pytest.mark.parametrize("sa, sb", SHAPES[:8], ids=[f"{a}@{b}" for a, b in SHAPES[:8]])
def test_matmul_gradcheck(fd_gradcheck, sa, sb):
    fd_gradcheck(lambda x, w: mi.matmul(x, w), [R.standard_normal(sa), R.standard_normal(sb)])


def test_two_and_three_d_operands_keep_the_kernel_node():
    w = mi.ones(3, 4, requires_grad=True)
    assert (mi.ones(2, 3) @ w).grad_fn == "MmBackward"
    assert (mi.ones(5, 2, 3) @ w).grad_fn == "MmBackward"
    assert (mi.ones(3) @ w).grad_fn == "MatmulBackward"


def test_mixed_dtypes_promote_and_arrays_work():
    y = mi.ones(3) @ np.ones((2, 3, 2))
    assert y.dtype == np.float64 and y.shape == (2, 2)
    y = np.ones(3, np.float32) @ mi.ones(3)
    assert y.dtype == np.float32 and y.item() == 3.0


@pytest.mark.parametrize("sa, sb, msg", [
    ((3,), (4,), r"^matmul: inner dims differ: \(3,\) @ \(4,\)"),
    ((2, 2, 3), (3, 3, 4, 2), r"^matmul: inner dims differ"),
    ((2, 2, 3), (3, 3, 3, 2), r"^matmul: batch dims do not broadcast: \(2, 2, 3\) @ \(3, 3, 3, 2\)"),
    ((), (3,), r"^matmul: both operands need at least 1 dimension, got \(\) @ \(3,\)"),
])
def test_bad_shapes_name_matmul(sa, sb, msg):
    with pytest.raises(ValueError, match=msg):
        mi.tensor(np.ones(sa)) @ mi.tensor(np.ones(sb))


def test_1d_nd_gradients_of_byte_swapped_operands_are_native():
    # found by the fuzz suite: a '>f4' operand of a 1-D/N-D product got a '>f4' gradient
    a = mi.Tensor(np.ones(2, np.float32), requires_grad=True)
    a.data = np.ones(2, ">f4")
    b = mi.Tensor(np.ones((2, 2, 2), np.float32), requires_grad=True)
    b.data = np.ones((2, 2, 2), ">f4")
    (a @ b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32
    assert a.grad.tolist() == [4.0, 4.0]

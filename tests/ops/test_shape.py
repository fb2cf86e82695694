"""Shape ops' arguments (microinit/ops/shape.py): a bad permutation, shape or index is an
error naming the op and the tensor's shape, never a silently wrapped axis."""
import numpy as np
import pytest

import microinit as mi


@pytest.mark.parametrize("axes", [(0, 5), (0, 0), (0,), (0, 1, 2), (1.0, 0), (-3, 0)])
def test_transpose_refuses_what_is_not_a_permutation(axes):
    t = mi.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"transpose: axes .* are not a permutation of the 2 dimension\(s\) "
                                         r"of a tensor of shape \(2, 3\)"):
        t.transpose(*axes)


def test_transpose_valid_permutations_and_gradient():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = mi.tensor(a, requires_grad=True)
    for axes in [(2, 0, 1), (-1, 0, 1), ((1, 2, 0),)]:
        y = x.transpose(*axes)
        perm = axes[0] if len(axes) == 1 else tuple(i % 3 for i in axes)
        np.testing.assert_array_equal(y.data, a.transpose(perm))
    x.transpose(2, 0, 1).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones_like(a))
    assert mi.tensor(2.0).T.item() == 2.0


@pytest.mark.parametrize("shape, err", [((4,), ValueError), ((2.5, 2), TypeError), ((True, 6), TypeError),
                                        ((-1, -1), ValueError)])
def test_reshape_errors_name_the_op_and_both_shapes(shape, err):
    t = mi.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    with pytest.raises(err, match=r"reshape: a tensor of shape \(2, 3\) \(6 elements\) cannot take the shape"):
        t.reshape(*shape)


@pytest.mark.parametrize("idx", [5, (0, 0, 0), 1.5, (slice(None), 7)])
def test_bad_index_is_an_indexerror_naming_getitem(idx):
    t = mi.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(IndexError, match=r"getitem: .*\(tensor of shape \(2, 3\)\)"):
        t[idx]
    assert [r.tolist() for r in t] == [[1.0] * 3] * 2  # iteration still ends on IndexError

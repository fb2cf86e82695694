"""einsum (microinit/ops/einsum.py) against torch.einsum: values and gradients, the
gradient's special cases (a letter summed inside one operand, a repeated letter, '...'
broadcasting, implicit output), gradchecks and subscript errors."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
R = np.random.default_rng(0)
A, B, C = R.standard_normal((2, 3)), R.standard_normal((3, 4)), R.standard_normal((4,))
SQ = R.standard_normal((3, 3))
BA, BB = R.standard_normal((5, 2, 3)), R.standard_normal((1, 3, 4))

CASES = [
    ("ij,jk->ik", [A, B]),
    ("ij,jk,k->i", [A, B, C]),
    ("ij,jk", [A, B]),            # implicit output
    ("ij->", [A]),
    ("ij->j", [A]),               # i is summed inside the one operand
    ("ij,k->ik", [A, C]),         # j summed inside the first operand only
    ("ii->i", [SQ]),              # diagonal
    ("ii", [SQ]),                 # trace (implicit)
    ("ij->ji", [A]),
    ("i,i->", [C, C]),
    ("i,j->ij", [C, A[0]]),
    ("...ij,...jk->...ik", [BA, BB]),  # '...' with a broadcast batch
    ("bij,bjk->bik", [BA, np.broadcast_to(BB, (5, 3, 4)).copy()]),
    ("...i->...", [BA]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec, arrays", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_torch(torch_parity, spec, arrays, dtype):
    torch_parity(lambda *ts: mi.einsum(spec, *ts), lambda *ts: torch.einsum(spec, *ts), arrays, dtype)


@pytest.mark.parametrize("spec, arrays", CASES, ids=[c[0] for c in CASES])
def test_einsum_gradcheck(fd_gradcheck, spec, arrays):
    fd_gradcheck(lambda *ts: mi.einsum(spec, *ts), arrays)


def test_einsum_takes_a_list_arrays_and_mixed_dtypes():
    y = mi.einsum("i,i->", [np.ones(3, np.float32), mi.tensor(np.ones(3))])
    assert y.dtype == np.float64 and y.item() == 3.0
    assert mi.einsum("ij->", mi.zeros(0, 3)).item() == 0.0


@pytest.mark.parametrize("call, err, msg", [
    (lambda: mi.einsum("ij,jk->ik", mi.ones(2, 3)),
     ValueError, r"^einsum: subscripts 'ij,jk->ik' name 2 operand\(s\) but 1"),
    (lambda: mi.einsum("ij->i", mi.ones(3)),
     ValueError, r"^einsum: subscripts 'ij' do not match an operand of shape \(3,\)"),
    (lambda: mi.einsum("ij,jk->ik", mi.ones(2, 3), mi.ones(4, 2)),
     ValueError, r"^einsum: 'ij,jk->ik' with shapes \[\(2, 3\), \(4, 2\)\]"),
    (lambda: mi.einsum("i1->", mi.ones(2, 3)), ValueError, r"^einsum: subscripts 'i1->' may hold only letters"),
    (lambda: mi.einsum(3, mi.ones(2)), TypeError, r"^einsum: subscripts must be a str"),
    (lambda: mi.einsum("i->"), ValueError, r"^einsum: needs at least one operand"),
    (lambda: mi.einsum("i->", np.array(["a"])), TypeError, r"^einsum: input has unsupported dtype"),
])
def test_bad_input_names_einsum(call, err, msg):
    with pytest.raises(err, match=msg):
        call()


def test_gradient_through_a_broadcast_size_1_letter():
    # found by the fuzz suite: j has size 2 in a and 1 in b (numpy broadcasts it); the
    # backward of a raised "cannot reshape array of size 1 into shape (1,2)"
    a = mi.tensor(np.ones((1, 2)), requires_grad=True)
    b = mi.tensor(np.full((1, 3), 2.0), requires_grad=True)
    mi.einsum("ij,jk->ik", a, b).sum().backward()
    assert a.grad.tolist() == [[6.0, 6.0]] and b.grad.tolist() == [[2.0, 2.0, 2.0]]


def test_a_repeated_letter_with_unequal_sizes_is_refused():
    # found by the fuzz suite: numpy's einsum("ii->i") of a (0, 1) array returns one element
    # of uninitialised memory
    with pytest.raises(ValueError, match=r"^einsum: letter 'i' is repeated"):
        mi.einsum("ii->i", mi.zeros(0, 1))
    with pytest.raises(ValueError, match=r"^einsum: letter 'i' is repeated"):
        mi.einsum("ii", mi.zeros(2, 3))


def test_three_operand_float32_products_do_not_overflow_in_intermediates():
    # fuzz seed 2026, cases 590776 and 684302: 1.6e38 * -32 overflows float32 in an
    # intermediate (and inf * 0 gives NaN) although the result is finite; intermediates
    # of three or more operands are computed in float64, the result rounded to float32
    a = np.array([[1.589e38], [1.0]], np.float32)
    b = np.array([[-32.0]], np.float32)
    c = np.array([[0.0, 2.0]], np.float32)
    ta, tb, tc = (mi.tensor(x, requires_grad=True) for x in (a, b, c))
    out = mi.einsum("ij,jk,kl->il", ta, tb, tc)
    ref = np.einsum("ij,jk,kl->il", a.astype(np.float64), b.astype(np.float64), c.astype(np.float64))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, ref.astype(np.float32))  # [[0, -inf], [0, -64]]: no NaN
    out.backward(np.ones((2, 2), np.float32))
    assert ta.grad.dtype == tb.grad.dtype == tc.grad.dtype == np.float32
    assert not np.isnan(ta.grad).any() and not np.isnan(tc.grad).any()


def test_a_sum_over_an_empty_letter_is_zero_even_beside_inf():
    # fuzz seed 77, case 3373: k has size 0, so every output is a sum of no terms (0);
    # a pairwise contraction order gave inf * 0 = NaN
    a = np.array([[0.5], [np.inf]], np.float32)
    out = mi.einsum("ij,jk,kl->il", a, np.zeros((1, 0), np.float32), np.zeros((0, 2), np.float32))
    np.testing.assert_array_equal(out.data, np.zeros((2, 2), np.float32))

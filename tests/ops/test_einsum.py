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

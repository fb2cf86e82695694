"""In-place arithmetic (microinit/ops/inplace.py; docs/reliability.md rows 28 and 57),
checked against PyTorch's rules and gradients."""
import operator
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microinit as mi
from microinit import nn, optim

OPS = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv}


@pytest.mark.parametrize("op", list(OPS))
def test_under_no_grad_updates_the_same_array_in_place(op):
    w = mi.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    data, version = w.data, w._version
    with mi.no_grad():
        w2 = OPS[op](w, mi.tensor([2.0, 4.0]))
    assert w2 is w and w.data is data and w._version == version + 1
    ref = {"+=": [[3, 6], [5, 8]], "-=": [[-1, -2], [1, 0]], "*=": [[2, 8], [6, 16]],
           "/=": [[0.5, 0.5], [1.5, 1.0]]}[op]
    np.testing.assert_array_equal(w.data, np.array(ref, np.float32))
    assert w.data.dtype == np.float32 and w.is_leaf and w.requires_grad


def test_plain_sgd_loop_with_isub_learns():
    # the loop every PyTorch tutorial writes; before __isub__ it silently did nothing
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = X @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    model = nn.Dense(3, 1, rng=0)
    first = last = None
    for _ in range(200):
        loss = mi.losses.mse(model(X), y)
        first = first if first is not None else loss.item()
        last = loss.item()
        for p in model.parameters():
            p.grad = None
        loss.backward()
        with mi.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert last < 1e-4 * first
    np.testing.assert_allclose(model.weight.data.ravel(), [1.0, -2.0, 0.5], atol=1e-3)


@pytest.mark.parametrize("op", list(OPS))
def test_leaf_that_requires_grad_is_refused_with_grad_mode_on(op):
    w = mi.tensor([1.0, 2.0], requires_grad=True)
    before = w.data.copy()
    with pytest.raises(RuntimeError, match=rf"{re.escape(op)}: a leaf tensor that requires grad \(shape \(2,\)\)"):
        OPS[op](w, 1.0)
    np.testing.assert_array_equal(w.data, before)
    assert w._version == 0


@pytest.mark.parametrize("op", list(OPS))
def test_recorded_on_a_non_leaf_and_gradients_match_out_of_place(op):
    rng = np.random.default_rng(1)
    xv, bv = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (4,))
    x, b = mi.tensor(xv, requires_grad=True), mi.tensor(bv, requires_grad=True)
    h = x * 1.5
    h = OPS[op](h, b)
    assert h.grad_fn is not None and h._version == 1
    (h * h).sum().backward()
    x2, b2 = mi.tensor(xv, requires_grad=True), mi.tensor(bv, requires_grad=True)
    plain = {"+=": operator.add, "-=": operator.sub, "*=": operator.mul, "/=": operator.truediv}[op]
    h2 = plain(x2 * 1.5, b2)
    (h2 * h2).sum().backward()
    np.testing.assert_array_equal(h.data, h2.data)
    np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-6)
    np.testing.assert_allclose(b.grad, b2.grad, rtol=1e-6)


def test_parity_with_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    xv, bv = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (3, 1))
    x, b = mi.tensor(xv, requires_grad=True), mi.tensor(bv, requires_grad=True)
    tx = torch.tensor(xv, requires_grad=True)
    tb = torch.tensor(bv, requires_grad=True)
    h, th = x.tanh(), tx.tanh()
    h = h * 1.0
    th = th * 1.0
    h *= b
    th *= tb
    h += 2.0
    th += 2.0
    h /= b
    th /= tb
    h -= x
    th -= tx
    (h * h).sum().backward()
    (th * th).sum().backward()
    np.testing.assert_allclose(h.data, th.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-10)


def test_modifying_a_saved_tensor_in_place_makes_backward_refuse():
    # docs/reliability.md row 28, reached through +=/*= (not only the *_ methods)
    x = mi.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    u = h * h            # saves h
    h += 1
    with pytest.raises(RuntimeError, match=r"an input of op MulBackward \(tensor of shape \(2,\).*in place"):
        u.sum().backward()
    e = x.exp()          # saves its output
    s = e.sum()
    e *= 2
    with pytest.raises(RuntimeError, match=r"its output of op ExpBackward"):
        s.backward()
    # an op that saved nothing it needs is fine (as in PyTorch)
    x.grad = None
    h = x * 2
    v = (h + 1).sum()
    h += 1
    v.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_dtype_and_shape_are_kept_or_refused():
    t = mi.tensor([1.0, 2.0])
    t += np.array([1.0, 1.0])             # a float64 operand: the result stays float32
    assert t.dtype == np.float32 and t.tolist() == [2.0, 3.0]
    with pytest.raises(ValueError, match=r"\+=: the result has shape \(2, 2\).*keep the tensor's shape \(2,\)"):
        t += np.ones((2, 2))
    assert t.tolist() == [2.0, 3.0]
    i = mi.tensor([1, 2, 3])
    i += 2
    i *= 3
    assert i.dtype == np.int64 and i.tolist() == [9, 12, 15]
    with pytest.raises(TypeError, match=r"\+=: the result cannot be stored in a tensor of dtype int64"):
        i += 0.5
    with pytest.raises(TypeError, match=r"/=: true division cannot be done in place on an integer tensor"):
        i /= 2
    with pytest.raises(TypeError):
        t += "a"
    frozen = np.ones(2, np.float32)
    frozen.flags.writeable = False
    r = mi.Tensor(frozen)
    if not r.data.flags.writeable:
        with pytest.raises(ValueError, match=r"\+=: the tensor's data .* read-only"):
            r += 1


def test_optimizer_and_inplace_update_agree():
    w1 = mi.tensor([[1.0, -1.0]], requires_grad=True)
    w2 = mi.tensor([[1.0, -1.0]], requires_grad=True)
    for w in (w1, w2):
        (w * w * 3).sum().backward()
    optim.SGD([w1], lr=0.1).step()
    with mi.no_grad():
        w2 -= 0.1 * w2.grad
    np.testing.assert_array_equal(w1.data, w2.data)


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from([(0,), (1,), (3,), (2, 3), (2, 0), (1, 4)]),
       bshape_kind=st.sampled_from(["same", "row", "scalar"]),
       op=st.sampled_from(list(OPS)), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_fuzz_inplace_equals_out_of_place(shape, bshape_kind, op, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2, shape).astype(dtype)
    b = {"same": rng.uniform(0.5, 2, shape).astype(dtype),
         "row": rng.uniform(0.5, 2, shape[-1:]).astype(dtype),
         "scalar": float(rng.uniform(0.5, 2))}[bshape_kind]
    t = mi.tensor(a.copy())
    OPS[op](t, b)
    plain = {"+=": np.add, "-=": np.subtract, "*=": np.multiply, "/=": np.divide}[op]
    np.testing.assert_array_equal(t.data, plain(a, b).astype(dtype))


def test_the_read_only_hint_names_the_operator():
    # found by the fuzz suite: the hint was printed as a literal "{op[0]}"
    frozen = np.ones(2, np.float32)
    frozen.flags.writeable = False
    t = mi.Tensor(np.ones(2, np.float32))
    t.data = frozen
    with pytest.raises(ValueError, match=r"^\*=: .* read-only .*use t = t \* \.\.\. instead"):
        t *= 2.0

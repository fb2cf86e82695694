"""Tensor core behaviour: construction, dtypes, backward semantics and the
docs/reliability.md rows of the tensor engine (8, 9, 11, 19-28, 46)."""
import gc
import subprocess
import sys
import threading
import weakref

import numpy as np
import pytest

import microinit as mi
from microinit import Tensor, no_grad, enable_grad, is_grad_enabled

T = sys.modules["microinit.tensor"]


# ------------------------------------------------------------------ construction
def test_construction_dtypes():
    assert mi.tensor([1.0, 2.0]).dtype == np.float32
    assert mi.tensor(3.0).shape == ()
    assert mi.tensor(np.zeros(3)).dtype == np.float64
    assert mi.tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert mi.tensor([1, 2]).dtype.kind == "i"  # labels stay integer
    assert mi.tensor([1, 2], dtype="float64").dtype == np.float64
    assert mi.tensor(np.float64(2.0)).dtype == np.float64


def test_construction_shares_contiguous_and_copies_views():
    a = np.arange(6.0).reshape(2, 3)
    t = Tensor(a)
    assert np.shares_memory(t.data, a)
    v = Tensor(a[:, ::2])
    assert v.data.flags.c_contiguous and v.shape == (2, 2)
    r = Tensor(a[::-1])
    assert r.data.flags.c_contiguous
    np.testing.assert_array_equal(r.data, a[::-1])
    f = Tensor(np.asfortranarray(a))
    assert f.data.flags.c_contiguous


@pytest.mark.parametrize("bad", [None, "abc", np.ones(2, complex),
                                 np.array(["a"]), np.array([1, None], dtype=object)])
def test_construction_rejects_bad_dtypes(bad):
    with pytest.raises(TypeError):
        Tensor(bad)


def test_float16_and_big_endian_data_are_converted():
    """The boundary's rule: float16 becomes float32; big-endian becomes native order."""
    half = Tensor(np.array([1.5, -2.0], np.float16))
    assert half.dtype == np.float32 and half.tolist() == [1.5, -2.0]
    big = Tensor(np.array([[1.0, 2.0]], ">f8"))
    assert big.dtype == np.float64 and big.data.dtype.isnative and big.tolist() == [[1.0, 2.0]]


def test_int_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="float"):
        Tensor([1, 2], requires_grad=True)


def test_properties_and_conversions():
    t = mi.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.is_leaf and t.grad is None and t.requires_grad
    assert np.asarray(t).dtype == np.float32
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert mi.tensor([[7.0]]).item() == 7.0
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    d = t.detach()
    assert not d.requires_grad and np.shares_memory(d.data, t.data)
    assert t.numpy() is t.data
    with pytest.raises(TypeError):
        len(mi.tensor(1.0))


def test_repr_like_torch():
    t = mi.tensor([[1.0, 2.0]], requires_grad=True)
    assert repr(t) == "tensor([[1., 2.]], requires_grad=True)"
    assert repr(t * 2) == "tensor([[2., 4.]], grad_fn=<MulBackward>)"
    assert repr(mi.tensor(np.array([1.5]))) == "tensor([1.5], dtype=float64)"


def test_factories(rng):
    assert mi.zeros(2, 3).shape == (2, 3) and mi.zeros((2, 3)).dtype == np.float32
    assert mi.ones(4, dtype=np.float64).dtype == np.float64
    a = mi.randn(3, 4, rng=np.random.default_rng(5))
    b = mi.randn(3, 4, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)
    r = mi.rand(1000, rng=rng)
    assert r.dtype == np.float32 and 0 <= r.data.min() and r.data.max() < 1
    with pytest.raises(TypeError):
        mi.randn(2, rng="seed")
    with pytest.raises(TypeError):
        mi.zeros(2, dtype=np.float16)


# ------------------------------------------------------------------ dtype rules (docs/reliability.md row 7, 8)
def test_promotion_rule():
    f32 = mi.ones(2)
    f64 = mi.ones(2, dtype=np.float64)
    assert (f32 * f64).dtype == np.float64
    assert (f32 * 2.5).dtype == np.float32          # python scalars never promote
    assert (f32 + np.ones(2)).dtype == np.float64   # a float64 array does
    assert (f32 + np.ones(2, np.int64)).dtype == np.float32  # ints cast to float32
    assert (mi.tensor([1, 2]) * f32).dtype == np.float32
    assert (np.ones(2) + f32).dtype == np.float64   # reflected ops from numpy


def test_grad_dtype_follows_tensor_dtype():
    w = mi.ones(3, requires_grad=True)          # float32 leaf
    x = mi.tensor(np.arange(3.0))               # float64 input promotes the product
    (w * x).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad, [0, 1, 2])


def test_scalars_and_arrays_on_both_sides():
    x = mi.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = (2 - x) + (3 * x) - (x / 2) + (8 / x) + np.array([1.0, 1.0, 1.0], np.float32) * x
    y.sum().backward()
    np.testing.assert_allclose(y.data, 2 - x.data + 3 * x.data - x.data / 2 + 8 / x.data + x.data)
    np.testing.assert_allclose(x.grad, -1 + 3 - 0.5 - 8 / x.data ** 2 + 1, rtol=1e-6)


def test_unsupported_operand_raises_typeerror():
    x = mi.ones(2)
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        x * None
    with pytest.raises(TypeError):
        x ** mi.ones(2)


# ------------------------------------------------------------------ backward semantics
def test_leaf_accumulates_and_intermediates_do_not_keep_grad():
    x = mi.tensor(3.0, requires_grad=True)
    y = x * x
    z = y * 2
    z.backward()
    assert x.grad == pytest.approx(12.0) and y.grad is None


def test_reused_nodes_accumulate_exactly():  # docs/reliability.md row 24
    a = mi.tensor(1.5, requires_grad=True, dtype=np.float64)
    (a + a).backward()
    assert a.grad == 2
    a.zero_grad()
    (a * a).backward()
    assert a.grad == pytest.approx(3.0)
    a.zero_grad()
    total = a
    for _ in range(10_000 - 1):
        total = total + a
    total.backward()
    assert a.grad == 10_000
    a.zero_grad()
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4


def test_backward_twice_raises_and_retain_graph_accumulates():  # docs/reliability.md row 20, 30
    x = mi.tensor(2.0, requires_grad=True)
    y = (2 * x) * 3
    y.backward()
    assert x.grad == 6
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    x.zero_grad()
    y = (2 * x) * 3
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 12  # never micrograd's 18


def test_freed_intermediate_raises_for_second_root():
    x = mi.tensor(2.0, requires_grad=True)
    h = x * 3
    (h * 2).backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 5).backward()


def test_zero_grad_forgotten_adds_exactly():  # docs/reliability.md row 30
    x = mi.tensor([1.0, -2.0], requires_grad=True, dtype=np.float64)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * 2 * x.data)


def test_non_scalar_backward_needs_grad():  # docs/reliability.md row 21
    x = mi.ones(4, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"backward of non-scalar output of shape \(4, 3\) needs grad="):
        y.backward()
    y.backward(np.ones((4, 3)))
    np.testing.assert_array_equal(x.grad, np.full((4, 3), 2.0))


def test_grad_shape_mismatch():  # docs/reliability.md row 22
    y = mi.ones(4, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        y.backward(np.ones((3, 4)))


def test_no_graph():  # docs/reliability.md row 23
    with pytest.raises(RuntimeError, match="has no graph"):
        (mi.ones(2) * 2).sum().backward()
    x = mi.ones(2, requires_grad=True)
    with no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="has no graph"):
        y.backward()


def test_backward_on_leaf_itself():
    x = mi.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_only_tensors_needing_grad_get_one():
    a = mi.ones(2, requires_grad=True)
    b = mi.ones(2)
    (a * b).sum().backward()
    assert a.grad is not None and b.grad is None


def test_leaf_grads_are_owned_arrays():
    # add's backward passes the same array to both parents; each leaf must own its grad
    a = mi.ones(3, requires_grad=True)
    b = mi.ones(3, requires_grad=True)
    g = np.ones(3, np.float32)
    (a + b).backward(g)
    assert not np.shares_memory(a.grad, b.grad) and not np.shares_memory(a.grad, g)
    a.grad *= 10  # an optimizer writing in place must not touch b's grad
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_retain_grad_for_non_leaf():
    x = mi.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_long_chain_backward_and_free():  # docs/reliability.md row 25
    x = mi.tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0 and y.item() == 100_001.0


def test_long_chain_free_without_backward_in_subprocess():  # docs/reliability.md row 25
    # Dropping an un-backwarded 100k chain must not recurse in deallocation
    # (a crash would kill the interpreter, hence the subprocess).
    code = ("import microinit as mi\n"
            "x = mi.tensor(1.0, requires_grad=True)\n"
            "y = x\n"
            "for _ in range(100_000):\n    y = y + 1.0\n"
            "del y\nprint('freed')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "freed" in out.stdout


def test_graph_is_released_after_backward():
    x = mi.ones(3, requires_grad=True)
    h = x * 2
    ref = weakref.ref(h)
    y = (h * 3).sum()
    del h
    assert ref() is not None  # kept alive by y's graph
    y.backward()
    gc.collect()
    assert ref() is None  # freed: backward dropped the node's parents


def test_cycle_detected():  # docs/reliability.md row 27
    x = mi.tensor(1.0, requires_grad=True)
    a = x * 2
    b = a * 3
    a._ctx.parents = (b, None)  # rewire: a <- b <- a
    with pytest.raises(RuntimeError, match="graph has a cycle"):
        b.backward()


def test_version_counter_input_modified():  # docs/reliability.md row 28
    x = mi.tensor([1.0, 2.0], requires_grad=True)
    w = mi.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    w.mul_(2)
    with pytest.raises(RuntimeError, match=r"MulBackward.*shape \(2,\).*in place"):
        y.backward()


def test_version_counter_output_modified():
    x = mi.tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()
    s = e.sum()
    e.add_(1.0)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        s.backward()


def test_version_counter_ignores_unsaved_inputs():
    # add does not save its inputs: modifying them is harmless (as in PyTorch)
    x = mi.tensor([1.0, 2.0], requires_grad=True)
    b = mi.tensor([1.0, 1.0])
    y = (x + b).sum()
    b.fill_(5.0)
    y.backward()
    np.testing.assert_array_equal(x.grad, [1, 1])


def test_in_place_ops_bump_version():
    t = mi.zeros(3)
    v = t._version
    t.fill_(2.0).add_(np.ones(3), alpha=0.5).mul_(2.0)
    np.testing.assert_array_equal(t.data, [5, 5, 5])
    t.copy_(np.arange(3))
    np.testing.assert_array_equal(t.data, [0, 1, 2])
    t.zero_()
    t._bump_version()
    assert t._version == v + 6
    with pytest.raises(ValueError, match="copy_"):
        t.copy_(np.ones(4))


# ------------------------------------------------------------------ grad mode (docs/reliability.md row 46)
def test_no_grad_context_decorator_and_nesting():
    x = mi.ones(2, requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        with enable_grad():
            assert is_grad_enabled()
            assert (x * 2).requires_grad
        assert not is_grad_enabled()
        assert not (x * 2).requires_grad
    assert is_grad_enabled()

    @no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad and is_grad_enabled()


def test_no_grad_restored_on_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert is_grad_enabled()

    @no_grad()
    def boom():
        raise KeyError
    with pytest.raises(KeyError):
        boom()
    assert is_grad_enabled()


def test_no_grad_is_thread_local():
    seen = {}
    entered = threading.Event()
    release = threading.Event()

    def worker():
        with no_grad():
            entered.set()
            release.wait(5)
            seen["worker"] = is_grad_enabled()

    th = threading.Thread(target=worker)
    th.start()
    entered.wait(5)
    seen["main"] = is_grad_enabled()  # the worker's no_grad must not leak here
    release.set()
    th.join()
    assert seen == {"main": True, "worker": False}


# ------------------------------------------------------------------ NaN safety (docs/reliability.md row 19)
def test_where_inactive_branch_nan_does_not_leak():
    x = mi.tensor([-4.0, -1.0, 0.0, 1.0, 4.0], requires_grad=True, dtype=np.float64)
    y = mi.where(x.data > 0, x.sqrt(), 0.0)  # sqrt(<0) = NaN in the inactive branch
    assert np.isfinite(y.data).all()
    y.sum().backward()
    assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad, [0, 0, 0, 0.5, 0.25])


def test_where_log_inactive_branch():
    x = mi.tensor([0.0, 2.0], requires_grad=True, dtype=np.float64)
    y = mi.where(x.data > 0, x.log(), x)  # log(0) = -inf, 1/0 = inf, both inactive
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 0.5])


def test_active_nan_still_propagates():
    x = mi.tensor([-1.0], requires_grad=True, dtype=np.float64)
    x.sqrt().sum().backward()
    assert np.isnan(x.grad).all()  # IEEE on the active path: no silent fix-up


def test_where_with_tensor_condition_and_broadcast():
    a = mi.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = mi.tensor([10.0, 20.0], requires_grad=True)
    cond = mi.tensor(np.array([[True, False], [False, True]]))
    y = mi.where(cond, a, b)
    np.testing.assert_array_equal(y.data, [[1, 20], [10, 4]])
    y.sum().backward()
    np.testing.assert_array_equal(a.grad, [[1, 0], [0, 1]])
    np.testing.assert_array_equal(b.grad, [1, 1])


# ------------------------------------------------------------------ empty batches (docs/reliability.md row 11)
def test_empty_batch_forward_backward():
    x = mi.zeros(0, 4, requires_grad=True)
    w = mi.randn(4, 3, rng=0, requires_grad=True)
    b = mi.zeros(3, requires_grad=True)
    h = (x @ w + b).relu().tanh().sigmoid().softmax()
    assert h.shape == (0, 3)
    loss = mi.tensor(0.0) + h.sum()
    loss.backward()
    assert x.grad.shape == (0, 4)
    np.testing.assert_array_equal(w.grad, np.zeros((4, 3)))
    np.testing.assert_array_equal(b.grad, np.zeros(3))


def test_empty_batch_losses_are_zero_not_nan():
    x = mi.zeros(0, 3, requires_grad=True)
    for loss in (T.cross_entropy(x, np.zeros(0, np.int64)),
                 T.mse_loss(x, np.zeros((0, 3))),
                 T.binary_cross_entropy_with_logits(x, np.zeros((0, 3))),
                 T.hinge_loss(x, np.ones((0, 3)))):
        assert loss.item() == 0.0
        loss.backward()
        assert x.grad.shape == (0, 3)


# ------------------------------------------------------------------ op-specific behaviour
def test_getitem_scatter_adds_repeated_indices():
    x = mi.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 1])
    x.zero_grad()
    x[mi.tensor([2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 2])


def test_getitem_slices_bool_mask_and_copy():
    x = mi.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    s = x[1:, ::2]
    assert s.data.flags.c_contiguous and not np.shares_memory(s.data, x.data)
    s.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]])
    x.zero_grad()
    x[x.data > 5].sum().backward()
    np.testing.assert_array_equal(x.grad, (x.data > 5).astype(float))


def test_max_ties_share_gradient():
    x = mi.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1, 0, 0]])
    x.zero_grad()
    x.min().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty axis .*\(0, 3\)"):
        mi.zeros(0, 3).max()
    e = mi.zeros(0, 3, requires_grad=True)  # an empty batch reduces fine along the features
    m = e.max(axis=1)
    assert m.shape == (0,)
    m.sum().backward()
    assert e.grad.shape == (0, 3)


def test_concatenate_stack_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        mi.stack([mi.ones(2, 3), mi.ones(2, 4)])
    with pytest.raises(ValueError):
        mi.concatenate([mi.ones(2, 3), mi.ones(3, 4)], axis=0)
    with pytest.raises(ValueError):
        mi.concatenate([])


def test_loss_input_validation():
    x = mi.zeros(4, 3)
    with pytest.raises(ValueError, match=r"label 3 .*n_classes 3"):
        T.cross_entropy(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"label -1 .*n_classes 3"):
        T.cross_entropy(x, np.array([0, -1, 2, 2]))
    with pytest.raises(ValueError, match=r"float64.*first label 0.0"):
        T.cross_entropy(x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        T.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="2-dimensional"):
        T.cross_entropy(mi.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        T.cross_entropy(x, np.array([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        T.mse_loss(mi.zeros(4, 1), np.zeros(4))
    with pytest.raises(ValueError, match="-1 or \\+1"):
        T.hinge_loss(mi.zeros(3), np.array([1.0, 0.0, -1.0]))


def test_cross_entropy_extremes():  # docs/reliability.md row 15, 16
    x = mi.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], requires_grad=True)
    loss = T.cross_entropy(x, np.array([1, 2]))
    # row 0: lse = 1e4, loss 1e4 - (-1e4); row 1: lse = 1e4, loss 1e4 - 3
    assert loss.item() == pytest.approx((2e4 + 1e4 - 3.0) / 2, rel=1e-6)
    loss.backward()
    assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad.sum(axis=1), 0, atol=1e-6)
    # a -inf logit whose target weight is 0 stays finite
    y = mi.tensor([[-np.inf, 1.0, 2.0]], requires_grad=True, dtype=np.float64)
    for tgt in (np.array([1]), np.array([[0.0, 0.5, 0.5]])):
        y.zero_grad()
        loss = T.cross_entropy(y, tgt)
        loss.backward()
        assert np.isfinite(loss.item()) and np.isfinite(y.grad).all()
    # every logit -inf: undefined, refused
    with pytest.raises(ValueError, match="row 1 has every logit -inf"):
        T.cross_entropy(mi.tensor([[0.0, 1.0], [-np.inf, -np.inf]]), np.array([0, 1]))


def test_entropy_pattern_no_nan_from_inactive_branch():  # docs/reliability.md row 19, through mul
    p = mi.tensor([0.0, 0.25, 0.75], requires_grad=True, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = -mi.where(p > 0, p * p.log(), 0.0).sum()
    h.backward()
    np.testing.assert_allclose(p.grad, [0.0, -(np.log(0.25) + 1), -(np.log(0.75) + 1)])


def test_comparisons_astype_requires_grad_():
    x = mi.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal((x <= 0).data, [True, True, False])
    np.testing.assert_array_equal((x >= mi.tensor([0.0, 0.0, 0.0])).data, [False, True, True])
    np.testing.assert_array_equal((x < 2).data, [True, True, False])
    d = x.astype(np.float64)
    assert d.dtype == np.float64
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 2 * x.data)
    assert x.astype("float32") is x
    t = mi.zeros(2).requires_grad_()
    assert t.requires_grad
    with pytest.raises(TypeError):
        mi.tensor([1, 2]).requires_grad_()


def test_wide_graph_memory_is_linear():  # docs/reliability.md row 26 (scaled down: tracemalloc is slow)
    import tracemalloc

    def peak(n):
        tracemalloc.start()
        x = mi.tensor(1.0, requires_grad=True, dtype=np.float64)
        parts = [x * float(i) for i in range(n)]
        total = mi.stack(parts).sum()
        total.backward()
        _, pk = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert x.grad == pytest.approx(n * (n - 1) / 2)
        return pk

    small, big = peak(1_000), peak(10_000)
    assert big < 14 * small  # 10x the nodes, ~10x the memory: O(nodes)
    assert big / 10_000 < 4096  # bytes per node stay bounded


def test_one_hot_integer_targets():
    x = mi.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]], requires_grad=True)
    onehot = np.array([[1, 0, 0], [0, 0, 1]])
    a = T.cross_entropy(x, onehot)
    b = T.cross_entropy(x.detach(), np.array([0, 2]))
    assert a.item() == pytest.approx(b.item())
    with pytest.raises(ValueError, match=r"\(2, 1\).*class labels have shape \(2,\)"):
        T.cross_entropy(x, np.array([[0], [2]]))


def test_readonly_data_and_ieee_ops():  # docs/reliability.md row 10, 13
    ro = np.array([[1.0, -2.0], [np.nan, np.inf]], np.float32)
    ro.flags.writeable = False
    x = mi.tensor(ro, requires_grad=True)
    with np.errstate(invalid="ignore", over="ignore"):
        y = (x.tanh() * 2 + x.exp()).sum(axis=0)  # NaN/inf flow through, nothing raises
    assert np.isnan(y.data[0]) and np.isinf(y.data[1])
    y.backward(np.ones(2))
    assert x.grad.shape == (2, 2) and x.grad.flags.writeable
    np.testing.assert_allclose(x.grad[0], 2 * (1 - np.tanh(ro[0]) ** 2) + np.exp(ro[0]), rtol=1e-6)


def test_setitem_is_in_place_and_versioned():
    x = mi.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    x[1] = 10.0
    x[mi.tensor([0, 2])] = mi.tensor([7.0, 8.0])
    np.testing.assert_array_equal(x.data, [7, 10, 8])
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_kernels_never_see_zero_size_buffers(monkeypatch):  # docs/reliability.md row 11 (cython #2093)
    import microinit.ops.activations as E
    import microinit.ops.losses as L

    calls = []

    def guard(fn):
        def wrapped(*args):
            sizes = [a.size for a in args if isinstance(a, np.ndarray)]
            assert all(sizes), f"kernel called with a zero-size buffer: {sizes}"
            calls.append(fn)
            return fn(*args)
        return wrapped

    monkeypatch.setattr(E, "_fwd", guard(E._fwd))
    monkeypatch.setattr(E, "_bwd", guard(E._bwd))

    real_xent = L._xent

    class GuardedXent:
        def __getattr__(self, name):
            return guard(getattr(real_xent, name))

    monkeypatch.setattr(L, "_xent", GuardedXent())
    # reduction="none" runs the row kernels (xent_forward/xent_backward): the
    # memoryview kernels are the ones checked here.
    for n in (0, 3):
        x = mi.zeros(n, 4, requires_grad=True)
        loss = T.cross_entropy(x.tanh().relu().gelu(), np.zeros(n, np.int64), reduction="none").sum()
        loss.backward()
        assert x.grad.shape == (n, 4)
    assert len(calls) == 8  # 3 activations x (fwd, bwd) + xent (fwd, bwd), only for n = 3


def test_matmul_shape_errors_at_tensor_level():  # docs/reliability.md row 1, 3
    with pytest.raises(ValueError, match=r"matmul: inner dims differ: \(2, 3\) @ \(4, 5\)"):
        mi.ones(2, 3) @ mi.ones(4, 5)
    # 1-D operands follow numpy (issue 16); a 0-d one is refused, naming the op
    with pytest.raises(ValueError, match=r"matmul: inner dims differ: \(3,\) @ \(4, 2\)"):
        mi.ones(3) @ mi.ones(4, 2)
    with pytest.raises(ValueError, match=r"matmul: both operands need at least 1 dimension"):
        mi.tensor(2.0) @ mi.ones(3, 2)
    half = mi.ones(2, 3) @ np.ones((3, 2), np.float16)  # float16 -> float32 (the boundary's rule)
    assert half.dtype == np.float32 and half.tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_zero_dim_results_are_arrays():
    # numpy turns 0-d ufunc results into scalars; data and grads must stay ndarrays
    x = mi.tensor(2.0, requires_grad=True)
    y = (x * 3.0 + 1.0).tanh() * x
    assert type(y.data) is np.ndarray and y.shape == ()
    y.backward()
    assert type(x.grad) is np.ndarray and x.grad.dtype == np.float32 and x.grad.shape == ()
    x.grad += 1.0  # an optimizer may write into it

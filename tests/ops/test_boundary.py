"""ops/_boundary.py: the one place arrays are made safe, and what it guarantees.

Every op gives the same bits for the same values whatever memory layout they arrive in
(C, Fortran, transposed, strided, negative-stride, byte-swapped), forward and backward,
in both dtypes, through the Tensor API and through ``microinit.functional``; the
inputs that used to crash or return garbage (issue "one path per op") get the right
result or a clear error.
"""
import numpy as np
import pytest

import microinit as mi
import microinit.functional as F
from microinit import nn
from microinit._kernels import dense as kdense
from microinit._kernels import xent as kxent
from microinit.ops import _boundary as B
from microinit.ops.linalg import pool

DTYPES = [np.float32, np.float64]


def layouts(a):
    """The values of ``a`` (2-D) in every layout the boundary must normalise."""
    return {
        "C": a,
        "fortran": np.asfortranarray(a),
        "transposed": np.ascontiguousarray(a.T).T,
        "strided": np.repeat(a, 2, axis=1)[:, ::2],
        "negative-stride": np.ascontiguousarray(a[::-1])[::-1],
        "byte-swapped": a.astype(a.dtype.newbyteorder(">")),
        "read-only": _read_only(a),
    }


def _read_only(a):
    r = a.copy()
    r.flags.writeable = False
    return r


# ------------------------------------------------------------------ the boundary itself
@pytest.mark.parametrize("dtype", DTYPES)
def test_floats_gives_native_c_contiguous_arrays_of_the_same_values(dtype):
    a = np.arange(12, dtype=dtype).reshape(3, 4) - 5.5
    for name, v in layouts(a).items():
        out = B.floats(v, "op")
        assert out.dtype == dtype and out.dtype.isnative and out.flags.c_contiguous, name
        np.testing.assert_array_equal(out, a, err_msg=name)
    assert B.floats(a, "op") is a  # already safe: no copy


def test_floats_conversion_rules():
    assert B.floats(np.ones(2, np.float16), "op").dtype == np.float32
    assert B.floats(np.ones(2, np.int64), "op").dtype == np.float32
    assert B.floats(np.ones(2, bool), "op").dtype == np.float32
    assert B.floats([1.5, 2.5], "op").dtype == np.float64  # as np.asarray makes it
    assert B.floats(np.ones(2, ">i4"), "op").dtype == np.float32
    for bad, what in [(None, "None"), ("ab", "str"), ({}, "dict"), (np.ones(2, complex), "complex128"),
                      (np.array(["a"]), "<U1"), (np.array([1, None], dtype=object), "object")]:
        with pytest.raises(TypeError, match=rf"myop: x .*{what}"):
            B.floats(bad, "myop", "x")


def test_labels_are_a_checked_private_copy():
    y = np.array([2, 0, 1])
    out = B.labels(y, 3, 3)
    assert out.dtype == np.int64 and out is not y and not np.shares_memory(out, y)
    assert B.labels(y.astype(">i4"), 3, 3).tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match=r"label -1 at index 1 is out of range for n_classes 3"):
        B.labels(np.array([0, -1, 2]), 3, 3)
    with pytest.raises(ValueError, match="class labels must be integers"):
        B.labels(np.array([0.0, 1.0, 2.0]), 3, 3)
    with pytest.raises(ValueError, match=r"labels of shape \(2,\)"):
        B.labels(np.array([0, 1]), 3, 3)


# ------------------------------------------------------------------ same bits in every layout
def _tensor_ops():
    """name -> (function of Tensors, number of inputs, input transform)."""
    pos = np.abs
    labels = np.array([0, 2, 1, 3, 0])
    return {
        "add": (lambda a, b: a + b, 2, None), "sub": (lambda a, b: a - b, 2, None),
        "mul": (lambda a, b: a * b, 2, None), "div": (lambda a, b: a / (b * b + 1), 2, None),
        "neg_pow": (lambda a: (-a) ** 3, 1, None), "exp": (lambda a: a.exp(), 1, None),
        "log": (lambda a: a.log(), 1, pos), "sqrt": (lambda a: a.sqrt(), 1, pos),
        "abs_clip": (lambda a: a.abs().clip(0.1, 0.9), 1, None),
        "sum": (lambda a: a.sum(axis=0), 1, None), "mean": (lambda a: a.mean(axis=1), 1, None),
        "max": (lambda a: a.max(axis=1), 1, None), "min": (lambda a: a.min(), 1, None),
        "relu": (lambda a: a.relu(), 1, None), "tanh": (lambda a: a.tanh(), 1, None),
        "sigmoid": (lambda a: a.sigmoid(), 1, None), "gelu": (lambda a: a.gelu(), 1, None),
        "softplus": (lambda a: a.softplus(), 1, None), "selu": (lambda a: a.selu(), 1, None),
        "leaky_relu": (lambda a: a.leaky_relu(0.2), 1, None), "elu": (lambda a: a.elu(0.7), 1, None),
        "softmax": (lambda a: a.softmax(), 1, None), "log_softmax": (lambda a: a.log_softmax(0), 1, None),
        "matmul": (lambda a, b: a @ b.T, 2, None),
        "dense": (lambda a, b: _dense(a, b.T), 2, None),
        "dense_chain": (lambda a, b: _chain(a, b), 2, None),
        "cross_entropy": (lambda a: mi.losses.cross_entropy(a, labels), 1, None),
        "cross_entropy_probs": (lambda a, b: mi.losses.cross_entropy(a, b.softmax()), 2, None),
        "mse": (lambda a, b: mi.losses.mse(a, b), 2, None),
        "bce": (lambda a, b: mi.losses.binary_cross_entropy_with_logits(a, b.sigmoid()), 2, None),
        "reshape_T_index": (lambda a: a.reshape(2, 10).T[1:7:2], 1, None),
        "where": (lambda a, b: mi.where(a > 0, a, b), 2, None),
    }


def _dense(x, W):
    from microinit.tensor import dense
    return dense(x, W, None, "tanh")


def _chain(x, W):
    from microinit.tensor import dense_chain
    return dense_chain(x, [(W.T, None, "relu", None), (W, None, "sigmoid", None)])


def _run(fn, arrays, dtype, set_data):
    """Forward output and the inputs' gradients. ``set_data``: give each Tensor the raw
    array through ``t.data = ...`` (any layout), instead of through the constructor."""
    ts = []
    for a in arrays:
        t = mi.tensor(np.zeros((1,), dtype), requires_grad=True) if set_data else mi.tensor(a, requires_grad=True)
        if set_data:
            t.data = a
        ts.append(t)
    out = fn(*ts)
    out.sum().backward() if out.data.size != 1 else out.backward()
    return [np.array(out.data)] + [t.grad for t in ts]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(_tensor_ops()))
def test_tensor_ops_same_bits_in_every_layout(name, dtype):
    fn, n_in, transform = _tensor_ops()[name]
    rng = np.random.default_rng(7)
    base = [rng.standard_normal((5, 4)).astype(dtype) for _ in range(n_in)]
    if transform is not None:
        base = [transform(a) + 0.5 for a in base]
    ref = _run(fn, base, dtype, set_data=False)
    assert all(r.dtype == dtype for r in ref), name
    for how in (False, True):
        for layout in layouts(base[0]):
            arrays = [layouts(a)[layout] for a in base]
            got = _run(fn, arrays, dtype, set_data=how)
            for r, g in zip(ref, got):
                assert g.dtype == r.dtype and g.shape == r.shape, (name, layout)
                np.testing.assert_array_equal(g, r, err_msg=f"{name} {layout} set_data={how}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_pairs_same_bits_in_every_layout(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5)).astype(dtype)
    W = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    dy = rng.standard_normal((6, 3)).astype(dtype)
    labels = np.array([0, 1, 2, 0, 1, 2])

    def all_results(x, W, dy):
        y, saved = F.dense_forward(x, W, b, "gelu")
        out = [y.copy(), *[g.copy() for g in F.dense_backward(saved, dy)]]
        out += [F.matmul(x, W).copy(), *[g.copy() for g in F.matmul_backward(x, W, dy)]]
        a = F.activation_forward("elu", x, 0.5)
        out += [a, F.activation_backward("elu", x, a, x, 0.5)]
        loss, saved = F.cross_entropy_forward(dy, labels)
        out += [loss, F.cross_entropy_backward(saved, 1.0)[0].copy()]
        loss, saved = F.mse_loss_forward(dy, dy[::-1].copy())
        out += [loss, *[g.copy() for g in F.mse_loss_backward(saved, np.ones((), dtype))]]
        s = F.softmax_forward(x)
        out += [s, F.softmax_backward(s, x), F.log_softmax_backward(F.log_softmax_forward(x), x)]
        return out

    ref = all_results(x, W, dy)
    for layout in layouts(x):
        got = all_results(layouts(x)[layout], layouts(W)[layout], layouts(dy)[layout])
        for i, (r, g) in enumerate(zip(ref, got)):
            assert g.dtype == r.dtype and g.shape == r.shape, (layout, i)
            np.testing.assert_array_equal(g, r, err_msg=f"{layout} result {i}")


# ------------------------------------------------------------------ the cases that used to crash
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_labels_changed_in_place_after_forward_cannot_reach_backward(dtype, as_tensor):
    """docs/reliability.md row 47: labels are copied when saved (it used to segfault)."""
    rng = np.random.default_rng(0)
    logits = mi.tensor(rng.standard_normal((8, 4)).astype(dtype), requires_grad=True)
    y = np.array([0, 1, 2, 3, 3, 2, 1, 0])
    ref = mi.tensor(logits.data.copy(), requires_grad=True)
    mi.losses.cross_entropy(ref, y).backward()
    labels = mi.tensor(y.copy()) if as_tensor else y.copy()
    loss = mi.losses.cross_entropy(logits, labels)
    (labels.data if as_tensor else labels)[:] = 10**9  # far out of range
    loss.backward()
    np.testing.assert_array_equal(logits.grad, ref.grad)
    saved = F.cross_entropy_forward(logits.data, y.copy())[1]
    np.testing.assert_array_equal(F.cross_entropy_backward(saved, 1.0)[0], ref.grad * 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_backward_checks_shapes_and_layouts(dtype):
    """docs/reliability.md row 50: mismatched y/dy shapes are a ValueError (they used to
    read out of bounds); a transposed x gives the C-order result (it used to give
    uninitialised memory)."""
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
    y = F.activation_forward("tanh", x)
    with pytest.raises(ValueError, match=r"tanh backward: x has shape \(4, 6\) but y has shape \(2, 6\)"):
        F.activation_backward("tanh", x, y[:2], np.ones_like(x))
    with pytest.raises(ValueError, match=r"x has shape \(4, 6\) but dy has shape \(24,\)"):
        F.activation_backward("tanh", x, y, np.ones(24, dtype))
    xt = np.ascontiguousarray(x.T).T
    np.testing.assert_array_equal(F.activation_forward("tanh", xt), y)
    np.testing.assert_array_equal(F.activation_backward("tanh", xt, y, x), F.activation_backward("tanh", x, y, x))


def test_where_with_a_fortran_mask_and_scalar_branches():
    """It used to return uninitialised memory from a Fortran-order output."""
    c = np.random.default_rng(2).standard_normal((5, 3)) > 0
    ref = mi.where(c, 1.0, -1.0)
    got = mi.where(np.asfortranarray(c), 1.0, -1.0)
    assert got.data.flags.c_contiguous
    np.testing.assert_array_equal(got.data, ref.data)
    np.testing.assert_array_equal((got * 2).relu().data, (ref * 2).relu().data)


@pytest.mark.parametrize("a_shape, b_shape, want", [
    ((0, 6, 4), (4, 0), (0, 6, 0)), ((1, 2, 3), (0, 3, 4), (0, 2, 4)), ((0, 2, 3), (1, 3, 4), (0, 2, 4)),
    ((2, 0, 3), (3, 4), (2, 0, 4)), ((2, 3, 0), (0, 4), (2, 3, 4)), ((3, 0), (0, 2), (3, 2))])
def test_matmul_zero_size_dims_give_numpys_shape(a_shape, b_shape, want):
    """docs/reliability.md row 51 ((0,6,4) @ (4,0) used to give (1, 6, 0))."""
    a = np.ones(a_shape, np.float32)
    b = np.ones(b_shape, np.float32)
    assert np.matmul(a, b).shape == want
    out = F.matmul(a, b)
    assert out.shape == want and not out.any()
    at, bt = mi.tensor(a, requires_grad=True), mi.tensor(b, requires_grad=True)
    y = at @ bt
    assert y.shape == want
    y.backward(np.ones(want, np.float32))
    assert at.grad.shape == a_shape and bt.grad.shape == b_shape and not at.grad.any()


@pytest.mark.parametrize("dtype", [">f4", ">f8"])
def test_big_endian_through_layers_losses_and_fit(dtype):
    """docs/reliability.md row 48: big-endian floats are read by value everywhere."""
    X, y = mi.data.moons(64, rng=0)
    Xb = X.astype(dtype)
    native_dtype = np.dtype(dtype).newbyteorder("=")  # the model computes in the data's precision
    model = nn.MLP([2, 8, 2], rng=0, dtype=native_dtype)
    np.testing.assert_array_equal(model(Xb).data, model(X.astype(np.dtype(dtype).newbyteorder("="))).data)
    results = []
    for data in (X.astype(np.dtype(dtype).newbyteorder("=")), Xb):
        m = nn.MLP([2, 8, 2], rng=0, dtype=native_dtype)
        opt = mi.optim.SGD(m.parameters(), lr=0.1)
        loader = mi.data.DataLoader(data, y, batch_size=16, shuffle=False)
        hist = mi.fit(m, "cross_entropy", opt, loader, epochs=2, verbose=False)
        results.append((hist, [p.data.copy() for p in m.parameters()]))
    assert results[0][0]["loss"] == results[1][0]["loss"]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_private_kernel_entry_points_refuse_what_a_forward_did_not_make():
    """A context is a typed object made by the forward (no tuple read by position):
    anything else is a clean error, never a read of arbitrary memory."""
    x = np.ones((2, 3), np.float32)
    W = np.ones((3, 4), np.float32)
    y, saved = kdense.forward_auto(x, W, None, 0, 0.0, 1 << 21, pool(), np.matmul)
    dy = np.ones_like(y)
    for bad in [(x, W, False, y, y, 0, 0.0, False), None, "ctx", 3]:
        with pytest.raises(TypeError):
            kdense.backward_auto(bad, dy, True, True, True, pool(), np.matmul)
    with pytest.raises(ValueError, match="not made by a dense forward"):
        kdense.backward_auto(kdense.DenseSaved(), dy, True, True, True, pool(), np.matmul)
    with pytest.raises(TypeError):
        kdense.backward_chain((saved, "x"), dy, True, ((True, True), (True, True)), pool(), np.matmul)
    with pytest.raises(AttributeError):
        saved.x = np.ones(100)  # read-only fields: a context cannot be rewired
    logits = np.zeros((3, 4), np.float32)
    loss, xs = kxent.forward_auto(logits, np.array([0, 1, 3]), "mean", pool())
    for bad in [(logits, logits, np.array([0, 9, 3]), False, "mean"), None]:
        with pytest.raises(TypeError):
            kxent.backward_auto(bad, 1.0, pool())
    with pytest.raises(ValueError, match="not made by forward_auto"):
        kxent.backward_auto(kxent.XentSaved(), 1.0, pool())
    with pytest.raises(ValueError, match=r"label 9 at index 1 is out of range for n_classes 4"):
        kxent.xent_backward(logits, np.array([0, 9, 3]), np.ones(3, np.float32), np.empty_like(logits))
    with pytest.raises(ValueError, match="do not match"):
        kxent.xent_backward(logits, np.array([0, 1]), np.ones(3, np.float32), np.empty_like(logits))

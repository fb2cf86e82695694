"""ops/linalg.py: matmul / dense forward-backward pairs, dispatch, validation, buffers."""
import gc

import numpy as np
import pytest

from microinit._kernels import reference as R
from microinit.ops import linalg as L

ACTS = [None, "identity", "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus"]
PARAM = {"leaky_relu": 0.05, "elu": 0.7}


@pytest.fixture(params=["kernel", "blas"])
def path(request, monkeypatch):
    """Run a test once on the own-kernel path and once with BLAS forced for every size."""
    if request.param == "blas":
        monkeypatch.setattr(L, "MATMUL_BLAS_MIN", -1)
        monkeypatch.setattr(L, "DENSE_BLAS_MIN", -1)
    else:
        monkeypatch.setattr(L, "MATMUL_BLAS_MIN", 1 << 62)
        monkeypatch.setattr(L, "DENSE_BLAS_MIN", 1 << 62)
    return request.param


# ------------------------------------------------------------------ matmul
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_2d_and_backward(rng, path, dtype):
    for m, k, n in [(1, 1, 1), (3, 5, 2), (17, 9, 33), (0, 4, 3), (4, 0, 3), (64, 64, 64)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        out = L.matmul(a, b)
        assert out.dtype == dtype and out.shape == (m, n)
        np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
        g = rng.standard_normal((m, n)).astype(dtype)
        da, db = L.matmul_backward(a, b, g)
        np.testing.assert_allclose(da, g @ b.T, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(db, a.T @ g, rtol=1e-5, atol=1e-5)
        assert da.dtype == dtype and db.dtype == dtype


@pytest.mark.parametrize("sa,sb", [((4, 3, 5), (4, 5, 2)), ((1, 3, 5), (4, 5, 2)),
                                   ((4, 3, 5), (5, 2)), ((3, 5), (4, 5, 2)), ((4, 3, 5), (1, 5, 2)),
                                   ((0, 3, 5), (0, 5, 2))])
def test_matmul_batched_broadcast(rng, path, sa, sb):
    a = rng.standard_normal(sa)
    b = rng.standard_normal(sb)
    out = L.matmul(a, b)
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    da, db = L.matmul_backward(a, b, g)
    assert da.shape == a.shape and db.shape == b.shape
    # the numpy derivation, summed over the broadcast batch entries
    full_da = np.matmul(g, np.swapaxes(np.broadcast_to(b, out.shape[:1] + b.shape[-2:]), 1, 2))
    full_db = np.matmul(np.swapaxes(np.broadcast_to(a, out.shape[:1] + a.shape[-2:]), 1, 2), g)
    np.testing.assert_allclose(da, full_da.sum(0).reshape(a.shape) if da.shape != full_da.shape else full_da,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, full_db.sum(0).reshape(b.shape) if db.shape != full_db.shape else full_db,
                               rtol=1e-12, atol=1e-12)


def test_matmul_backward_transposed_and_partial(rng, path):
    # the plain 2-D fast path: each gradient alone, both dtypes, against numpy
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((7, 5)).astype(dtype)
        b = rng.standard_normal((5, 3)).astype(dtype)
        g = rng.standard_normal((7, 3)).astype(dtype)
        da, db = L.matmul_backward(a, b, g, need_a=True, need_b=False)
        assert db is None and da.dtype == dtype
        np.testing.assert_allclose(da, g @ b.T, rtol=1e-5, atol=1e-6)
        da, db = L.matmul_backward(a, b, g, need_a=False)
        assert da is None
        np.testing.assert_allclose(db, a.T @ g, rtol=1e-5, atol=1e-6)


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"^matmul: inner dims differ: \(2, 3\) @ \(4, 5\)$"):
        L.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"should be 2- or 3-dimensional, but found 1"):
        L.matmul(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"should be 2- or 3-dimensional, but found 0"):
        L.matmul(np.ones((2, 3)), np.float64(2.0))
    with pytest.raises(ValueError, match=r"batch dims differ: \(2, 3, 4\) @ \(3, 4, 5\)"):
        L.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 2\)"):
        L.matmul_backward(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 2)))


def test_matmul_dtypes_and_conversions():
    f32, f64 = np.ones((2, 3), np.float32), np.ones((3, 2), np.float64)
    assert L.matmul(f32, f64).dtype == np.float64          # one promotion rule
    da, db = L.matmul_backward(f32, f64, np.ones((2, 2)))
    assert da.dtype == np.float32 and db.dtype == np.float64  # grads in their input's dtype
    da, none = L.matmul_backward(f32, f64, np.ones((2, 2)), need_b=False)
    assert da.dtype == np.float32 and none is None
    none, db = L.matmul_backward(f32, f64, np.ones((2, 2), np.float32), need_a=False)
    assert none is None and db.dtype == np.float64
    out = L.matmul([[1, 2]], np.array([[3], [4]], dtype=np.int64))  # lists and ints -> float32
    assert out.dtype == np.float32 and out[0, 0] == 11
    half = L.matmul(np.ones((2, 2), np.float16), np.ones((2, 2), np.float32))  # float16 -> float32
    assert half.dtype == np.float32 and half.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    with pytest.raises(TypeError, match="complex"):
        L.matmul(np.ones((2, 2), complex), np.ones((2, 2)))
    with pytest.raises(TypeError):
        L.matmul(None, np.ones((2, 2)))
    with pytest.raises(TypeError):
        L.matmul(np.array([["a"]]), np.ones((1, 1)))


def test_matmul_non_contiguous_and_read_only_inputs(rng, path):
    base = rng.standard_normal((8, 12))
    b = rng.standard_normal((6, 5))
    for a in (base[:, ::2], base[::-1, :6], np.asfortranarray(base[:, :6]), base.T[:8, :6]):
        np.testing.assert_allclose(L.matmul(a, b), np.ascontiguousarray(a) @ b, rtol=1e-12)
        da, db = L.matmul_backward(a, b, np.ones((8, 5)))
        np.testing.assert_allclose(db, np.ascontiguousarray(a).T @ np.ones((8, 5)), rtol=1e-12)
    ro = base[:, :6].copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(L.matmul(ro, b), ro @ b, rtol=1e-12)


# ------------------------------------------------------------------ dense

@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_matches_reference(rng, path, act, dtype, dense_case):
    p = PARAM.get(act, 0.0)
    name = act or "identity"
    tol = 3e-5 if dtype == np.float32 else 1e-11
    for n, i, o in [(1, 1, 1), (7, 3, 5), (40, 33, 18), (3, 70, 4)]:
        for bias in (True, False):
            x, W, b = dense_case(rng, n, i, o, dtype, bias)
            y, ctx = L.dense_forward(x, W, b, act, p)
            z_ref, y_ref = R.dense_forward(x, W, b, name, p)
            np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
            dy = rng.standard_normal(y.shape).astype(dtype)
            dx, dW, db = L.dense_backward(ctx, dy)
            rdx, rdW, rdb = R.dense_backward(x, W, z_ref, y_ref, dy, name, p)
            np.testing.assert_allclose(dx, rdx, rtol=tol, atol=tol)
            np.testing.assert_allclose(dW, rdW, rtol=tol, atol=tol)
            if bias:
                np.testing.assert_allclose(db, rdb, rtol=tol, atol=tol)
            else:
                assert db is None


@pytest.mark.parametrize("act", ["relu", "tanh", "gelu", "elu", "softplus", None])
def test_dense_gradcheck_float64(rng, act, dense_case):
    """Central finite differences of L = sum(w * dense(x, W, b)) against dense_backward."""
    x, W, b = dense_case(rng, 4, 3, 5, np.float64)
    x += 0.05 * np.sign(x)  # keep relu's kink away from the finite-difference step
    wts = rng.standard_normal((4, 5))
    p = PARAM.get(act, 0.0)

    def loss(x_, W_, b_):
        return float((wts * L.dense_forward(x_, W_, b_, act, p)[0]).sum())

    _, ctx = L.dense_forward(x, W, b, act, p)
    grads = L.dense_backward(ctx, wts)
    eps = 1e-6
    for idx, arr in enumerate((x, W, b)):
        num = np.zeros_like(arr)
        for j in np.ndindex(arr.shape):
            args = [x.copy(), W.copy(), b.copy()]
            args[idx][j] += eps
            up = loss(*args)
            args[idx][j] -= 2 * eps
            num[j] = (up - loss(*args)) / (2 * eps)
        np.testing.assert_allclose(grads[idx], num, rtol=1e-5, atol=1e-7)


def test_dense_torch_parity(rng, dense_case):
    torch = pytest.importorskip("torch")
    x, W, b = dense_case(rng, 16, 8, 6, np.float64)
    for act, tf in [("relu", torch.relu), ("tanh", torch.tanh), ("gelu", torch.nn.functional.gelu),
                    ("sigmoid", torch.sigmoid), ("softplus", torch.nn.functional.softplus),
                    ("selu", torch.selu), ("leaky_relu", lambda t: torch.nn.functional.leaky_relu(t, 0.05)),
                    ("elu", lambda t: torch.nn.functional.elu(t, 0.7))]:
        y, ctx = L.dense_forward(x, W, b, act, PARAM.get(act, 0.0))
        tx, tW, tb = (torch.tensor(v, requires_grad=True) for v in (x, W, b))
        ty = tf(tx @ tW + tb)
        dy = rng.standard_normal(y.shape)
        ty.backward(torch.tensor(dy))
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        for got, want in zip(L.dense_backward(ctx, dy), (tx.grad, tW.grad, tb.grad)):
            np.testing.assert_allclose(got, want.numpy(), rtol=1e-9, atol=1e-11)


def test_matmul_torch_parity(rng):
    torch = pytest.importorskip("torch")
    a, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 6))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = ta @ tb
    g = rng.standard_normal(out.shape)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(L.matmul(a, b), out.detach().numpy(), rtol=1e-12)
    da, db = L.matmul_backward(a, b, g)
    np.testing.assert_allclose(da, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-12)


def test_dense_validation_messages():
    x, W = np.ones((4, 3)), np.ones((3, 2))
    with pytest.raises(ValueError, match=r"x has 5 features \(shape \(4, 5\)\) but W \(3, 2\) expects 3"):
        L.dense_forward(np.ones((4, 5)), W)
    with pytest.raises(ValueError, match=r"x should be 2-dimensional, but found 1 dimension"):
        L.dense_forward(np.ones(3), W)
    with pytest.raises(ValueError, match=r"x should be 2-dimensional, but found 3 dimension"):
        L.dense_forward(np.ones((1, 4, 3)), W)
    with pytest.raises(ValueError, match=r"bias has shape \(3,\)"):
        L.dense_forward(x, W, np.ones(3))
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        L.dense_forward(x, W, None, "relux")
    half, _ = L.dense_forward(x.astype(np.float16), W)  # float16 -> float32, then as float32
    np.testing.assert_array_equal(half, L.dense_forward(x.astype(np.float16).astype(np.float32), W)[0])
    _, ctx = L.dense_forward(x, W)
    with pytest.raises(ValueError, match=r"dy has shape \(4, 3\) but the layer output has shape \(4, 2\)"):
        L.dense_backward(ctx, np.ones((4, 3)))


def test_dense_dtype_promotion_and_non_contiguous(rng, path):
    x = rng.standard_normal((6, 8)).astype(np.float32)
    W = rng.standard_normal((4, 5))
    y, _ = L.dense_forward(x[:, ::2], W, np.zeros(5, np.float32), "tanh")
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, np.tanh(x[:, ::2].astype(np.float64) @ W), rtol=1e-6)
    y2, _ = L.dense_forward(np.asfortranarray(x[::-1, :4]), W.T.copy().T, None, "relu")
    np.testing.assert_allclose(y2, np.maximum(x[::-1, :4].astype(np.float64) @ W, 0), rtol=1e-6)


def test_dense_empty_batch_and_zero_width(path):
    W = np.ones((3, 2))
    y, ctx = L.dense_forward(np.empty((0, 3)), W, np.ones(2), "relu")
    assert y.shape == (0, 2)
    dx, dW, db = L.dense_backward(ctx, np.empty((0, 2)))
    assert dx.shape == (0, 3) and not dW.any() and not db.any()
    # zero input features: x @ W is an exact zero, so y = act(b)
    y, ctx = L.dense_forward(np.empty((4, 0)), np.empty((0, 2)), np.array([-1.0, 2.0]), "relu")
    np.testing.assert_array_equal(y, [[0, 2]] * 4)
    dx, dW, db = L.dense_backward(ctx, np.ones((4, 2)))
    assert dx.shape == (4, 0) and dW.shape == (0, 2)
    np.testing.assert_array_equal(db, [0, 4])
    # zero output features
    y, ctx = L.dense_forward(np.ones((4, 3)), np.empty((3, 0)))
    assert y.shape == (4, 0)
    dx, dW, db = L.dense_backward(ctx, np.empty((4, 0)))
    np.testing.assert_array_equal(dx, np.zeros((4, 3)))


def test_ieee_nan_propagates_without_raising():
    y, _ = L.dense_forward(np.array([[np.nan, 1.0]]), np.ones((2, 2)), np.zeros(2), "tanh")
    assert np.isnan(y).all()
    out = L.matmul(np.array([[np.inf, 1.0]]), np.ones((2, 1)))
    assert np.isinf(out[0, 0])


def test_buffers_are_reused_but_never_while_held(rng, dense_case):
    x, W, b = dense_case(rng, 8, 4, 3, np.float32)
    y1, ctx = L.dense_forward(x, W, b, "relu")
    keep = y1.copy()
    del ctx
    y2, ctx2 = L.dense_forward(x * 2, W, b, "relu")   # y1 still held: must not be reused
    assert y2 is not y1
    np.testing.assert_array_equal(y1, keep)
    addr = y2.__array_interface__["data"][0]
    del y2, ctx2
    gc.collect()
    y3, _ = L.dense_forward(x, W, b, "relu")           # released: the buffer comes back
    assert y3.__array_interface__["data"][0] == addr
    view = y3[:2]
    del y3, _
    y4, _ = L.dense_forward(x * 3, W, b, "relu")       # a live view pins its base
    np.testing.assert_array_equal(view, np.maximum(x[:2] @ W + b, 0))
    assert y4.base is None


def test_steady_state_step_allocates_no_new_arrays(rng, dense_case, traced_growth):
    x, W, b = dense_case(rng, 64, 32, 32, np.float32)

    def step():
        y, ctx = L.dense_forward(x, W, b, "gelu")
        return L.dense_backward(ctx, y)

    grown = traced_growth(step)
    assert grown < 64 * 32 * 4, f"steady-state steps grew traced memory by {grown} bytes"


def test_dense_accepts_read_only_and_list_inputs(rng, path, dense_case):
    x, W, b = dense_case(rng, 5, 4, 3, np.float32)
    for a in (x, W, b):
        a.flags.writeable = False
    y, ctx = L.dense_forward(x, W, b, "relu")
    np.testing.assert_allclose(y, np.maximum(x @ W + b, 0), rtol=1e-6, atol=1e-6)
    dx, dW, db = L.dense_backward(ctx, np.ones((5, 3), np.float32))
    assert dx.shape == (5, 4) and dW.shape == (4, 3) and db.shape == (3,)
    # lists convert like np.asarray (Python floats -> float64, _validate's rule)
    y2, _ = L.dense_forward(x.tolist(), W.tolist(), b.tolist(), "relu")
    assert y2.dtype == np.float64
    np.testing.assert_allclose(y2, y, rtol=1e-5, atol=1e-6)


def test_dense_default_param_is_pytorchs():
    # leaky_relu without a slope uses 0.01 and elu alpha 1.0, as torch.nn.functional does
    x = np.array([[-2.0, 1.0]])
    W = np.eye(2)
    y, _ = L.dense_forward(x, W, None, "leaky_relu")
    np.testing.assert_allclose(y, [[-0.02, 1.0]])
    y, _ = L.dense_forward(x, W, None, "elu")
    np.testing.assert_allclose(y, [[np.expm1(-2.0), 1.0]])
    y, _ = L.dense_forward(x, W, None, "leaky_relu", 0.2)
    np.testing.assert_allclose(y, [[-0.4, 1.0]])

"""program.pyx: records checked when added (no call can reach outside an array), and a
small program against a numpy reference of the same step."""
import numpy as np
import pytest

from microinit._kernels import program as kp
from microinit._kernels import reference as ref


def _linear_program(x, y, W, b, loss="mse", momentum=0.0):
    """One relu layer, the loss, backward and SGD: (program, dW, db)."""
    P = kp.Program(x, y)
    n, o = x.shape[0], W.shape[1]
    w, bs = P.add_slot(W), P.add_slot(b)
    out, d, g = (P.add_slot(np.zeros((n, o), W.dtype)) for _ in range(3))
    dW, db = np.zeros_like(W), np.zeros_like(b)
    dws, dbs = P.add_slot(dW), P.add_slot(db)
    P.add(kp.OP_DENSE_FWD, (0, w, bs, out, out), n, o, x.shape[1], act=1)
    if loss == "mse":
        P.add(kp.OP_MSE, (out, 1, d, g), n, o, flag=1)
    else:
        P.add(kp.OP_XENT, (out, 1, d, g), n, o, flag=1)
    P.add(kp.OP_DENSE_BWD, (0, w, out, out, g, g, -1, dws, dbs), n, o, x.shape[1], act=1)
    P.add(kp.OP_CHECK_GRAD, (dws,), W.size, k=0)
    P.add(kp.OP_CHECK_GRAD, (dbs,), b.size, k=1)
    P.add(kp.OP_SGD, (w, dws, -1), W.size, k=0, f=(0.0, 0.0, 0.0))
    P.add(kp.OP_SGD, (bs, dbs, -1), b.size, k=1, f=(0.0, 0.0, 0.0))
    return P, dW, db


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["mse", "xent"])
def test_program_matches_numpy_reference(rng, dtype, loss):
    x = rng.standard_normal((7, 5)).astype(dtype)
    W = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    y = rng.standard_normal((7, 3)).astype(dtype) if loss == "mse" else rng.integers(0, 3, 7)
    W0, b0 = W.copy(), b.copy()
    P, dW, db = _linear_program(x, y, W, b, loss)
    got = P.step(x, y, 0.1)
    z = x.astype(np.float64) @ W0 + b0
    h = np.maximum(z, 0)
    if loss == "mse":
        want = np.mean((h - y) ** 2)
        dh = 2 * (h - y) / h.size
    else:
        p = np.exp(h - h.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        want = -np.mean(np.log(p[np.arange(7), y]))
        dh = p.copy()
        dh[np.arange(7), y] -= 1
        dh /= 7
    dz = dh * (z > 0)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(dW, x.T @ dz, **tol)
    np.testing.assert_allclose(db, dz.sum(0), **tol)
    np.testing.assert_allclose(W, ref.sgd_update(W0, x.T @ dz, None, 0.1, 0.0, 0.0, 0.0, False, False)[0], **tol)
    np.testing.assert_allclose(b, b0 - 0.1 * dz.sum(0), **tol)


def test_run_steps_over_a_stack(rng):
    x = rng.standard_normal((3, 6, 5)).astype(np.float32)
    y = rng.standard_normal((3, 6, 2)).astype(np.float32)
    W, b = rng.standard_normal((5, 2)).astype(np.float32), np.zeros(2, np.float32)
    W2, b2 = W.copy(), b.copy()
    P, _, _ = _linear_program(x[0], y[0], W, b)
    Q, _, _ = _linear_program(x[0], y[0], W2, b2)
    losses = np.empty(3)
    P.run(x, y, 0.05, losses)
    assert P.steps_done == 3 and P.status == kp.ST_OK
    assert losses.tolist() == [Q.step(x[i], y[i], 0.05) for i in range(3)]
    np.testing.assert_array_equal(W, W2)


def test_statuses(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0])
    W, b = rng.standard_normal((3, 2)).astype(np.float32), np.zeros(2, np.float32)
    P, _, _ = _linear_program(x, y, W, b, "xent")
    before = W.copy()
    assert P.step(x, np.array([0, 1, 2, 0]), 0.1) is None and P.status == kp.ST_BAD_LABEL
    assert P.step(x.astype(np.float64), y, 0.1) is None and P.status == kp.ST_INPUT
    assert P.step(x[:3], y[:3], 0.1) is None and P.status == kp.ST_INPUT
    bad = x.copy()
    bad[0, 0] = np.nan
    assert P.step(bad, y, 0.1) is None and P.status == kp.ST_GRAD_NONFINITE
    assert P.status_index in (0, 1)
    np.testing.assert_array_equal(W, before)
    assert P.step(x, y, 1e39) is None and P.status == kp.ST_PARAM_NONFINITE and P.steps_done == 1


def test_add_checks_every_slot(rng):
    x = np.zeros((4, 3), np.float32)
    y = np.zeros((4, 2), np.float32)
    P = kp.Program(x, y)
    W = P.add_slot(np.zeros((3, 2), np.float32))
    small = P.add_slot(np.zeros((2, 2), np.float32))
    wide = P.add_slot(np.zeros((4, 2), np.float64))
    out = P.add_slot(np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="unknown op code"):
        P.add(99, ())
    with pytest.raises(ValueError, match="no slot 40"):
        P.add(kp.OP_DENSE_FWD, (0, W, -1, out, 40), 4, 2, 3)
    with pytest.raises(ValueError, match="holds 4 elements"):
        P.add(kp.OP_DENSE_FWD, (0, W, -1, small, out), 4, 2, 3)
    with pytest.raises(TypeError, match="wrong dtype"):
        P.add(kp.OP_DENSE_FWD, (0, W, -1, wide, out), 4, 2, 3)
    with pytest.raises(ValueError, match="needs slot 0"):
        P.add(kp.OP_DENSE_FWD, (-1, W, -1, out, out), 4, 2, 3)
    with pytest.raises(ValueError, match="takes 5 slots"):
        P.add(kp.OP_DENSE_FWD, (0, W), 4, 2, 3)
    with pytest.raises(ValueError, match="unknown activation"):
        P.add(kp.OP_DENSE_FWD, (0, W, -1, out, out), 4, 2, 3, act=42)
    with pytest.raises(TypeError, match="needs a callable"):
        P.add(kp.OP_PYCALL, ())
    with pytest.raises(ValueError, match="aligned, C-contiguous and writeable"):
        P.add_slot(np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="x has dtype int64"):
        kp.Program(np.zeros((2, 2), np.int64), y)


def test_docstring_example_runs():
    import doctest

    result = doctest.testmod(kp, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", ["relu", "tanh", "elu", "softplus"])
def test_activation_and_dropout_records_match_references(rng, name):
    from microinit._kernels import elementwise
    from microinit._kernels import reference_norm as ref_norm

    x = rng.standard_normal((6, 5))
    P = kp.Program(x, np.zeros((6, 5)))
    h, u, y, dy, dh, dx = (P.add_slot(np.zeros((6, 5))) for _ in range(6))
    keep = P.add_slot(np.zeros((6, 5), np.uint8))
    p = P.add_slot(np.array([0.25]))
    P.add(kp.OP_ACT_FWD, (0, h), 30, act=elementwise.CODES[name], param=0.5)
    P.add(kp.OP_DROPOUT_FWD, (h, u, y, keep, p), 30)
    P.add(kp.OP_DROPOUT_BWD, (dy, keep, dh, p), 30)
    P.add(kp.OP_ACT_BWD, (0, h, dh, dx), 30, act=elementwise.CODES[name], param=0.5)
    U, G = P.array(u), P.array(dy)
    U[...] = rng.random((6, 5))
    G[...] = rng.standard_normal((6, 5))
    P.step(x, np.zeros((6, 5)), 0.0)
    want_h = ref.activation_forward(name, x, 0.5)
    want_y, want_keep = ref_norm.dropout_forward(want_h, U, 0.25)
    want_dh = ref_norm.dropout_backward(G, want_keep, 0.25)
    np.testing.assert_allclose(P.array(y), want_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(P.array(keep), want_keep)
    np.testing.assert_allclose(P.array(dx), ref.activation_backward(name, x, want_h, want_dh, 0.5),
                               rtol=1e-12, atol=1e-12)


def test_a_running_program_refuses_a_second_run(rng):
    """The buffers are shared: a program is never run twice at once (another thread, or
    here a record calling it again) -- RuntimeError, kept as the record's error."""
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.zeros((4, 2), np.float32)
    P = kp.Program(x, y)
    P.add(kp.OP_PYCALL, (), call=lambda xx, yy: P.step(xx, yy, 0.0))
    assert P.step(x, y, 0.0) is None and P.status == kp.ST_PYERR
    assert isinstance(P.error, RuntimeError) and "already running" in str(P.error)
    with pytest.raises(ValueError, match="do not match"):
        P.run(np.zeros((0, 4, 3), np.float32), np.zeros((0, 4, 2), np.float32), 0.0, np.zeros(0))

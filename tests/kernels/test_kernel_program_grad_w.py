"""program.pyx's fused weight update: OP_MAXABS bounds, OP_PROVE, and OP_GRAD_W running
the SGD update on the rows of dW as the GEMM finishes them (gemm.pxd's rows_done).

The fused update must give the same bits as the product followed by the OP_SGD record,
on every path of the GEMM (dot products, the direct tiles, C stored transposed, the
packed blocks, two threads), and must not run when the bounds do not prove the
gradients finite."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microinit._kernels import matmul as kmm
from microinit._kernels import program as kp

SGD_SETTINGS = {  # (momentum, dampening, weight decay), nesterov
    "plain": ((0.0, 0.0, 0.0), 0),
    "decay": ((0.0, 0.0, 0.01), 0),
    "momentum": ((0.9, 0.1, 0.0), 0),
    "nesterov": ((0.9, 0.0, 0.001), 1),
}


def _weight_program(x, dz, W, buf, settings, fused):
    """x (batch, in), dz (batch, out): dW = x^T dz and W's SGD update, fused into the
    product (OP_GRAD_W flag 2 after OP_PROVE) or as a record of its own."""
    f, nesterov = SGD_SETTINGS[settings]
    P = kp.Program(x, np.zeros((x.shape[0], 1), x.dtype))
    n, k = x.shape
    o = W.shape[1]
    dzs, ws = P.add_slot(dz), P.add_slot(W)
    dW = np.zeros_like(W)
    dws = P.add_slot(dW)
    bufs = P.add_slot(buf) if f[0] else -1
    bounds = P.add_slot(np.zeros(2))
    P.add(kp.OP_MAXABS, (0, bounds), n * k, k=0)
    P.add(kp.OP_MAXABS, (dzs, bounds), n * o, k=1)
    P.add(kp.OP_PROVE, (bounds,), 1, n)
    P.add(kp.OP_GRAD_W, (0, dzs, dws, ws, bufs), k, o, n, f=f, index=0,
          flag=nesterov | (2 if fused else 0))
    P.add(kp.OP_CHECK_GRAD, (dws,), W.size, k=0)
    P.add(kp.OP_SGD, (ws, dws, bufs), W.size, k=0, f=f, flag=nesterov | (2 if fused else 0))
    return P, dW


def _step_both_ways(x, dz, W0, buf0, settings, lr):
    """One step of the weight program unfused and fused, each from copies of W0 and
    buf0: {fused: (the step's return, status, W, buf, dW)}."""
    out = {}
    for fused in (False, True):
        W, buf = W0.copy(), buf0.copy()
        P, dW = _weight_program(x, dz, W, buf, settings, fused)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = P.step(x, np.zeros((x.shape[0], 1), x.dtype), lr)
        out[fused] = (loss, P.status, W, buf, dW)
    return out


# (in, out, batch): which GEMM path dW = x^T dz takes (gemm.pxd)
SHAPES = [
    (1, 1, 1), (5, 3, 7), (1, 9, 4), (9, 1, 4), (16, 16, 1),  # dot products, tiny tiles
    (64, 128, 32), (300, 40, 24),                            # direct tiles, several row blocks
    (256, 10, 128), (130, 3, 64),                            # few columns: C stored transposed
    (400, 96, 64), (784, 256, 128), (97, 300, 200),          # packed blocks (ragged ones too)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("settings", sorted(SGD_SETTINGS))
def test_fused_update_is_the_update_record_bit_for_bit(rng, dtype, shape, settings):
    k, o, n = shape
    x = rng.standard_normal((n, k)).astype(dtype)
    dz = rng.standard_normal((n, o)).astype(dtype)
    W0 = rng.standard_normal((k, o)).astype(dtype)
    buf0 = rng.standard_normal((k, o)).astype(dtype)
    out = _step_both_ways(x, dz, W0, buf0, settings, 0.05)
    for loss, status, *_ in out.values():
        assert loss is not None, status
    for a, b in zip(out[False][2:], out[True][2:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(out[True][4], x.T.astype(np.float64) @ dz, rtol=1e-4, atol=1e-4)
    assert not np.array_equal(out[True][2], W0)


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_update_on_threads(rng, threads):
    # products of at least GEMM_NOGIL_MIN multiply-adds take the kernels' thread count;
    # with two threads the rows are handed over once, at the end
    before = kmm.get_num_threads()
    kmm.set_num_threads(threads)
    try:
        test_fused_update_is_the_update_record_bit_for_bit(rng, np.float32, (512, 512, 64), "momentum")
    finally:
        kmm.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 1000])
def test_maxabs_is_the_largest_magnitude_or_inf(rng, dtype, n):
    a = rng.standard_normal(max(n, 1)).astype(dtype) * 3
    a[0] = -abs(a).max() * 2 if n else 0  # a negative value has the largest magnitude
    P = kp.Program(np.zeros((1, 1), dtype), np.zeros((1, 1), dtype))
    s, bounds = P.add_slot(a), P.add_slot(np.full(3, -1.0))
    P.add(kp.OP_MAXABS, (s, bounds), n, k=2)
    P.step(np.zeros((1, 1), dtype), np.zeros((1, 1), dtype), 0.0)
    got = P.array(bounds)
    assert got[2] == (np.abs(a[:n]).max() if n else 0.0)
    assert got[0] == got[1] == -1.0  # only entry k is written
    for bad in (np.nan, np.inf, -np.inf):
        if n:
            a[n // 2] = bad
            P.step(np.zeros((1, 1), dtype), np.zeros((1, 1), dtype), 0.0)
            assert got[2] == np.inf
            a[n // 2] = 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unproven_bounds_leave_the_update_to_its_record(rng, dtype):
    # 2 * rows * max|x| * max|dz| reaches the type's largest value: the bound cannot rule
    # out an overflow (the gradient, rows * big * big/8 = max/2, is still finite), so
    # OP_GRAD_W only computes dW and the OP_SGD record updates (or refuses) as before
    big = np.sqrt(np.finfo(dtype).max)
    x = np.full((4, 3), big, dtype)
    dz = np.full((4, 2), big / 8, dtype)
    W = np.ones((3, 2), dtype)
    P, dW = _weight_program(x, dz, W, np.zeros_like(W), "plain", fused=True)
    lr = 1 / np.finfo(dtype).max
    P.step(x, np.zeros((4, 1), dtype), lr)
    assert P.status == kp.ST_OK
    np.testing.assert_array_equal(dW, np.full((3, 2), 4 * big * (big / 8), dtype))
    np.testing.assert_array_equal(W, np.ones((3, 2), dtype) - dtype(lr) * dW)
    dz[:] = big  # now dW overflows: caught by the scan, nothing updated
    W[:] = 1
    P.step(x, np.zeros((4, 1), dtype), 0.1)
    assert P.status == kp.ST_GRAD_NONFINITE
    assert np.isinf(dW).all() and (W == 1).all()
    dz[:] = 1
    dz[0, 0] = np.nan  # NaN in dz: unproven, scanned, refused
    P.step(x, np.zeros((4, 1), dtype), 0.1)
    assert P.status == kp.ST_GRAD_NONFINITE and (W == 1).all()


def test_overflow_in_fused_updates_names_the_first_parameter(rng):
    # two fused updates run in the order 1, 0 (as the backward runs them) and both
    # overflow: the status names parameter 0, the first in the optimizer's order
    x = np.ones((2, 2), np.float32)
    dz = np.ones((2, 2), np.float32)
    P = kp.Program(x, np.zeros((2, 1), np.float32))
    dzs, bounds = P.add_slot(dz), P.add_slot(np.zeros(4))
    Ws = [np.full((2, 2), 3e38, np.float32) for _ in range(2)]
    slots = [(P.add_slot(W), P.add_slot(np.zeros_like(W))) for W in Ws]
    for e, s in ((0, 0), (1, dzs), (2, 0), (3, dzs)):
        P.add(kp.OP_MAXABS, (s, bounds), 4, k=e)
    P.add(kp.OP_PROVE, (bounds,), 2, 2)
    for j in (1, 0):
        w, g = slots[j]
        P.add(kp.OP_GRAD_W, (0, dzs, g, w, -1), 2, 2, 2, f=(0.0, 0.0, 0.0), index=j, flag=2)
    for j in (0, 1):
        w, g = slots[j]
        P.add(kp.OP_SGD, (w, g, -1), 4, k=j, f=(0.0, 0.0, 0.0), flag=2)
    P.step(x, np.zeros((2, 1), np.float32), -1e38)  # 3e38 + 1e38 * 2 overflows float32
    assert P.status == kp.ST_PARAM_NONFINITE and P.status_index == 0
    assert all(np.isinf(W).all() for W in Ws)


def test_new_records_check_their_slots():
    x = np.zeros((3, 4), np.float32)
    P = kp.Program(x, np.zeros((3, 1), np.float32))
    b32 = P.add_slot(np.zeros(2, np.float32))
    b64 = P.add_slot(np.zeros(2))
    with pytest.raises(TypeError, match="wrong dtype"):
        P.add(kp.OP_MAXABS, (0, b32), 12, k=0)
    with pytest.raises(ValueError, match="holds 2 elements"):
        P.add(kp.OP_MAXABS, (0, b64), 12, k=2)
    with pytest.raises(ValueError, match="holds 2 elements"):
        P.add(kp.OP_PROVE, (b64,), 2, 3)
    W = P.add_slot(np.zeros((4, 5), np.float32))
    dz = P.add_slot(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="holds 15 elements"):
        P.add(kp.OP_GRAD_W, (0, dz, dz, W, -1), 4, 5, 3)  # dz is too small to be dW
    with pytest.raises(ValueError, match="needs slot 3"):
        P.add(kp.OP_GRAD_W, (0, dz, W, -1, -1), 4, 5, 3)


@settings(deadline=None, max_examples=60)
@given(k=st.integers(1, 70), o=st.integers(1, 70), n=st.integers(1, 40),
       dtype=st.sampled_from([np.float32, np.float64]), name=st.sampled_from(sorted(SGD_SETTINGS)),
       level=st.integers(-4, 40), seed=st.integers(0, 2**16))
def test_fused_update_fuzzed(k, o, n, dtype, name, level, seed):
    # any shape, either dtype and SGD setting, values from tiny to near overflow:
    # fused or not, the same bits -- or, where a gradient overflows, the same refusal
    # with nothing updated
    rng = np.random.default_rng(seed)
    # values of magnitude ~sqrt(max) ** (level / 40): from ~1 to where products overflow
    scale = float(np.finfo(dtype).max) ** (0.5 * level / 40)
    x = (rng.standard_normal((n, k)) * scale).astype(dtype)
    dz = (rng.standard_normal((n, o)) * scale).astype(dtype)
    W0 = rng.standard_normal((k, o)).astype(dtype)
    buf0 = rng.standard_normal((k, o)).astype(dtype)
    out = _step_both_ways(x, dz, W0, buf0, name, 1e-3)
    assert out[False][1] == out[True][1]
    for a, b in zip(out[False][2:], out[True][2:]):
        np.testing.assert_array_equal(a, b)
    if out[True][1] == kp.ST_GRAD_NONFINITE:
        np.testing.assert_array_equal(out[True][2], W0)

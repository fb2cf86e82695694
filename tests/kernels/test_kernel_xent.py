"""xent.pyx (fused softmax cross-entropy) agrees with its numpy twins in reference.py:
labels and probability targets, float32 and float64, 1-sized and large (prange)
buffers, non-contiguous logits through functional.losses, and the -inf/huge-logit
cases of docs/reliability.md rows 15-17."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microinit import F
from microinit._kernels import reference as R
from microinit._kernels import xent as K

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _case(rng, n, c, dtype, scale=3.0):
    x = (rng.standard_normal((n, c)) * scale).astype(dtype)
    labels = rng.integers(0, c, n).astype(np.int64)
    t = rng.dirichlet(np.ones(c), n).astype(dtype) if n else np.zeros((0, c), dtype)
    return x, labels, t


def _kernel_fwd(x, target, soft):
    n, c = x.shape
    loss = np.empty(n, x.dtype)
    probs = np.empty((n, c), x.dtype)
    total, bad, bad_label = (K.xent_forward_soft if soft else K.xent_forward)(x, target, loss, probs)
    assert bad_label == 0
    finite = np.isfinite(loss)
    np.testing.assert_allclose(total, loss[finite].astype(np.float64).sum(), rtol=1e-6)
    return loss, probs, bad


def _kernel_bwd(probs, target, dloss, soft):
    dx = np.empty_like(probs)
    (K.xent_backward_soft if soft else K.xent_backward)(probs, target, dloss, dx)
    return dx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("soft", [False, True])
@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_kernel_matches_reference(dtype, soft, n, c, seed):
    rng = np.random.default_rng(seed)
    x, labels, t = _case(rng, n, c, dtype)
    target = t if soft else labels
    loss, probs, bad = _kernel_fwd(x, target, soft)
    ref_loss, ref_probs = (R.xent_forward_soft if soft else R.xent_forward)(x, target)
    assert bad == 0
    np.testing.assert_allclose(loss, ref_loss, **TOL[dtype])
    np.testing.assert_allclose(probs, ref_probs, **TOL[dtype])
    dloss = rng.standard_normal(n).astype(dtype)
    dx = _kernel_bwd(probs, target, dloss, soft)
    ref_dx = (R.xent_backward_soft if soft else R.xent_backward)(probs, target, dloss)
    np.testing.assert_allclose(dx, ref_dx, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("soft", [False, True])
def test_parallel_path(dtype, soft, rng):
    x, labels, t = _case(rng, 512, 64, dtype)  # 32768 logits: above the prange threshold
    target = t if soft else labels
    loss, probs, _ = _kernel_fwd(x, target, soft)
    ref_loss, ref_probs = (R.xent_forward_soft if soft else R.xent_forward)(x, target)
    np.testing.assert_allclose(loss, ref_loss, **TOL[dtype])
    dloss = np.full(512, 1 / 512, dtype)
    np.testing.assert_allclose(_kernel_bwd(probs, target, dloss, soft),
                               (R.xent_backward_soft if soft else R.xent_backward)(probs, target, dloss),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["strided", "transposed", "reversed", "fortran", "readonly"])
def test_non_contiguous_logits_through_functional(dtype, layout, rng):
    big = (rng.standard_normal((8, 10)) * 2).astype(dtype)
    x = {"strided": big[:, ::2], "transposed": big.T[:5, :8].T, "reversed": big[::-1, :5],
         "fortran": np.asfortranarray(big[:, :5])}.get(layout)
    if layout == "readonly":
        x = big[:, :5].copy()
        x.flags.writeable = False
    labels = rng.integers(0, 5, x.shape[0])
    for reduction in ("mean", "sum", "none"):
        loss, ctx = F.cross_entropy_forward(x, labels, reduction)
        loss_c, ctx_c = F.cross_entropy_forward(np.ascontiguousarray(x), labels, reduction)
        np.testing.assert_array_equal(loss, loss_c)
        g = np.ones(loss.shape, dtype)
        np.testing.assert_array_equal(F.cross_entropy_backward(ctx, g)[0], F.cross_entropy_backward(ctx_c, g)[0])
    ref = R.xent_forward(np.ascontiguousarray(x), labels)[0]
    np.testing.assert_allclose(F.cross_entropy_forward(x, labels, "none")[0], ref, **TOL[dtype])


def test_huge_logits_finite_rows_sum_to_zero():  # docs/reliability.md row 15
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [3e4, 3e4, -3e4]], np.float32)
    labels = np.array([1, 2, 0])
    loss, probs, bad = _kernel_fwd(x, labels.astype(np.int64), False)
    assert bad == 0 and np.isfinite(loss).all()
    np.testing.assert_allclose(loss, [2e4, 1e4 - 5.0, np.log(2.0)], rtol=1e-6)
    dx = _kernel_bwd(probs, labels.astype(np.int64), np.ones(3, np.float32), False)
    assert np.isfinite(dx).all()
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-6)


def test_neg_inf_logits():  # docs/reliability.md row 16
    x = np.array([[-np.inf, 1.0, 2.0]])
    loss, probs, bad = _kernel_fwd(x, np.array([2], np.int64), False)
    assert bad == 0 and np.isfinite(loss).all() and probs[0, 0] == 0
    loss, probs, bad = _kernel_fwd(x, np.array([[0.0, 0.25, 0.75]]), True)
    assert bad == 0 and np.isfinite(loss).all()
    # every logit -inf: the kernel reports the row, functional raises
    allinf = np.array([[0.0, 1.0], [-np.inf, -np.inf]])
    loss, probs, bad = _kernel_fwd(allinf, np.array([0, 1], np.int64), False)
    assert bad == 1 and loss[1] == np.inf and not np.isnan(probs).any()
    with pytest.raises(ValueError, match="row 1 has every logit -inf"):
        F.cross_entropy_forward(allinf, np.array([0, 1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", [[-np.inf, np.nan], [np.nan, -np.inf, -np.inf], [np.nan, 1.0], [1.0, np.nan]])
def test_a_nan_logit_gives_a_nan_row_not_an_all_neg_inf_one(row, dtype):
    # IEEE: a NaN logit makes its row's loss NaN, as numpy's reference and PyTorch give;
    # only a row of nothing but -inf is refused (fuzz finding F6)
    x = np.array([row, [1.0] + [0.0] * (len(row) - 1)], dtype)
    labels = np.array([0, 0], np.int64)
    loss, probs = np.empty(2, dtype), np.empty_like(x)
    total, bad, bad_label = K.xent_forward(x, labels, loss, probs)
    ref_loss, ref_probs = R.xent_forward(x, labels)
    assert bad == bad_label == 0 and np.isnan(total)
    assert np.isnan(loss[0]) and np.isnan(probs[0]).all() and np.isfinite(loss[1])
    np.testing.assert_array_equal(np.isnan(ref_loss), np.isnan(loss))
    out = F.cross_entropy_forward(x, labels)
    assert np.isnan(out[0] if isinstance(out, tuple) else out)


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 3]), "label 3 at index 1 .*n_classes 3"),
    (np.array([-1, 0]), "label -1 at index 0 .*n_classes 3"),
    (np.array([0.0, 1.0]), "integers.*n_classes 3.*float64"),
    (np.array([True, False]), "integers.*n_classes 3.*bool"),
    (np.array([[0], [1]]), r"shape \(2, 1\)"),
])
def test_label_validation(labels, match):  # docs/reliability.md row 17
    with pytest.raises(ValueError, match=match):
        F.cross_entropy_forward(np.zeros((2, 3)), labels)


def test_empty_batch_and_dtypes():
    loss, ctx = F.cross_entropy_forward(np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    assert loss == 0 and loss.dtype == np.float32
    dx, _ = F.cross_entropy_backward(ctx, 1.0)
    assert dx.shape == (0, 4)
    # float32 logits with float64 probabilities: one promotion rule -> float64
    loss, _ = F.cross_entropy_forward(np.zeros((2, 3), np.float32), np.full((2, 3), 1 / 3))
    assert loss.dtype == np.float64
    np.testing.assert_allclose(loss, np.log(3.0))
    with pytest.raises(ValueError, match="no classes"):
        F.cross_entropy_forward(np.zeros((2, 0)), np.zeros((2, 0)))
    with pytest.raises(TypeError, match="complex"):
        F.cross_entropy_forward(np.zeros((2, 3), np.complex64), np.array([0, 1]))
    half, _ = F.cross_entropy_forward(np.zeros((2, 3), np.float16), np.array([0, 1]))  # -> float32
    assert half.dtype == np.float32 and np.isclose(half, np.log(3.0))


def test_kernel_never_indexes_with_a_bad_label():
    # The kernel checks each label before using it as an index: out-of-range rows get
    # NaN and are counted; in-range rows are still computed.
    x = np.zeros((3, 4))
    loss = np.empty(3)
    probs = np.empty((3, 4))
    total, bad, bad_label = K.xent_forward(x, np.array([1, 4, -7], np.int64), loss, probs)
    assert (bad, bad_label) == (0, 2)
    assert loss[0] == pytest.approx(np.log(4)) and np.isnan(loss[1:]).all()
    assert total == pytest.approx(np.log(4))


# --- forward_auto / backward_auto: the one-call plain-label fast path ----------------

from microinit._kernels.matmul import BufferPool  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 6), c=st.integers(1, 6), g=st.floats(-3, 3), seed=st.integers(0, 2**32 - 1))
def test_auto_matches_reference_and_memoryview_kernels(dtype, reduction, n, c, g, seed):
    rng = np.random.default_rng(seed)
    x, labels, _ = _case(rng, n, c, dtype)
    pool = BufferPool()
    loss, ctx = K.forward_auto(x, labels, reduction, pool)
    # a typed context holding a private copy of the labels (docs/reliability.md row 47)
    assert ctx.labels is not labels and np.array_equal(ctx.labels, labels)
    assert ctx.red == (0 if reduction == "mean" else 1)
    probs = ctx.probs
    assert loss.shape == () and loss.dtype == dtype and probs.shape == (n, c) and probs.dtype == dtype
    ref_loss, ref_probs = R.xent_forward_reduced(x, labels, reduction)
    np.testing.assert_allclose(loss, ref_loss, **TOL[dtype])
    np.testing.assert_allclose(probs, ref_probs, **TOL[dtype])
    # the same row loop as xent_forward: identical probabilities and total
    if n:
        rows, probs_mv, _ = _kernel_fwd(x, labels, False)
        np.testing.assert_array_equal(probs, probs_mv)
        total = rows.astype(np.float64).sum()
        assert loss == dtype(total / n if reduction == "mean" else total)
    dx = K.backward_auto(ctx, g, pool)
    assert dx.shape == (n, c) and dx.dtype == dtype
    np.testing.assert_allclose(dx, R.xent_backward_reduced(probs, labels, g, reduction), **TOL[dtype])
    # exactly what the validating path computes from the same ctx
    d = np.asarray(g, dtype)
    d = d * (1.0 / n) if reduction == "mean" and n else d
    if n:
        np.testing.assert_array_equal(dx, _kernel_bwd(probs, labels, np.full(n, d, dtype), False))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_auto_parallel_path(dtype, rng):
    x, labels, _ = _case(rng, 512, 64, dtype)  # above PARALLEL_MIN: prange rows
    pool = BufferPool()
    loss, ctx = K.forward_auto(x, labels, "mean", pool)
    ref_loss, ref_probs = R.xent_forward_reduced(x, labels)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(ctx.probs, ref_probs, **TOL[dtype])
    dx = K.backward_auto(ctx, np.ones((), dtype), pool)
    np.testing.assert_allclose(dx, R.xent_backward_reduced(ctx.probs, labels, 1.0), **TOL[dtype])


def test_auto_returns_none_unless_plain(rng):
    pool = BufferPool()
    x, labels, t = _case(rng, 4, 6, np.float64)
    allinf = x.copy()
    allinf[2] = -np.inf
    cases = {
        "bad label high": (x, np.array([0, 6, 1, 2], np.int64)),
        "bad label negative": (x, np.array([0, -1, 1, 2], np.int64)),
        "all -inf row": (allinf, labels),
        "int32 labels": (x, labels.astype(np.int32)),
        "uint64 labels": (x, labels.astype(np.uint64)),
        "list labels": (x, labels.tolist()),
        "strided labels": (x, np.repeat(labels, 2)[::2]),
        "label count": (x, labels[:3]),
        "soft target": (x, t),
        "strided logits": (np.repeat(x, 2, axis=1)[:, ::2], labels),
        "fortran logits": (np.asfortranarray(x), labels),
        "float16 logits": (x.astype(np.float16), labels),
        "1-d logits": (x[0], labels[:1]),
        "no classes": (np.zeros((4, 0)), np.zeros(4, np.int64)),
    }
    for name, (logits, lab) in cases.items():
        assert K.forward_auto(logits, lab, "mean", pool) is None, name
    for reduction in ("none", "avg", None):
        assert K.forward_auto(x, labels, reduction, pool) is None
    _, ctx = K.forward_auto(x, labels, "sum", pool)
    for g in (np.ones(4), np.float32(1.0), np.ones((), np.float16), None):
        assert K.backward_auto(ctx, g, pool) is None, repr(g)
    # a context must be one forward_auto made: anything else is refused, never read
    for bad in ((x, ctx.probs, labels, False, "sum"), None, K.XentSaved()):
        with pytest.raises((TypeError, ValueError)):
            K.backward_auto(bad, 1.0, pool)


def test_auto_empty_batch():
    pool = BufferPool()
    for reduction in ("mean", "sum"):
        loss, ctx = K.forward_auto(np.zeros((0, 3), np.float32), np.zeros(0, np.int64), reduction, pool)
        assert loss == 0 and loss.dtype == np.float32 and ctx.probs.shape == (0, 3)
        dx = K.backward_auto(ctx, 1.0, pool)
        assert dx.shape == (0, 3) and dx.dtype == np.float32
    # no rows and no classes is an empty batch too (the validating path agrees)
    loss, ctx = K.forward_auto(np.zeros((0, 0)), np.zeros(0, np.int64), "mean", pool)
    assert loss == 0 and F.cross_entropy_forward(np.zeros((0, 0)), np.zeros(0, np.int64))[0] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_functional_same_bits_in_every_layout(dtype, reduction, rng):
    """One path: Fortran, strided and byte-swapped logits (and labels) reach the one
    kernel through the boundary and give the bits of the C-order input."""
    x, labels, _ = _case(rng, 7, 5, dtype)
    g = np.ones((), dtype) * 0.7
    loss, ctx = F.cross_entropy_forward(x, labels, reduction)
    dx, dt = F.cross_entropy_backward(ctx, g, need_target=True)
    variants = {"fortran": np.asfortranarray(x), "strided": np.repeat(x, 2, axis=1)[:, ::2],
                "byteswapped": x.astype(x.dtype.newbyteorder(">"))}
    for name, x2 in variants.items():
        for lab in (labels, labels.astype(">i8"), labels.astype(np.int32)):
            loss_s, ctx_s = F.cross_entropy_forward(x2, lab, reduction)
            dx_s, dt_s = F.cross_entropy_backward(ctx_s, g, need_target=True)
            np.testing.assert_array_equal(loss, loss_s, err_msg=name)
            assert loss.dtype == loss_s.dtype == dtype and loss.shape == loss_s.shape == ()
            np.testing.assert_array_equal(ctx.probs, ctx_s.probs)
            np.testing.assert_array_equal(dx, dx_s)
            assert dx.dtype == dx_s.dtype and dt is None and dt_s is None


def test_functional_errors_unchanged_by_fast_path():
    # a bad label or an all -inf row makes forward_auto return None; the validating
    # path then raises its usual message
    with pytest.raises(ValueError, match="label 3 at index 1 .*n_classes 3"):
        F.cross_entropy_forward(np.zeros((2, 3)), np.array([0, 3], np.int64))
    with pytest.raises(ValueError, match="label -2 at index 0 .*n_classes 3"):
        F.cross_entropy_forward(np.zeros((2, 3), np.float32), np.array([-2, 0], np.int64), "sum")
    with pytest.raises(ValueError, match="row 0 has every logit -inf"):
        F.cross_entropy_forward(np.full((2, 3), -np.inf, np.float32), np.array([0, 1], np.int64))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy_forward(np.zeros((2, 3)), np.array([0, 1], np.int64), "avg")


@pytest.mark.parametrize("c", [1, 2, 7, 8, 9, 10, 15, 16, 17, 33])
def test_float32_softmax_exp_is_accurate(c, rng):
    # float32 rows take the 8-lane polynomial exp (whole blocks, an overlapping last
    # block, or one zero-padded block below 8): within ~2 float32 ulps of float64
    x = rng.uniform(-87, 0, (300, c)).astype(np.float32)
    x[:, rng.integers(0, c)] = 0  # x - max spans the whole [-87, 0] range
    labels = rng.integers(0, c, 300).astype(np.int64)
    _, ctx = K.forward_auto(x, labels, "sum", BufferPool())
    ref = R.xent_forward(x, labels)[1].astype(np.float64)
    exact = np.exp(x - x.max(1, keepdims=True).astype(np.float64))
    exact /= exact.sum(1, keepdims=True)
    big = exact > 1e-37  # normal float32 results
    np.testing.assert_allclose(ctx.probs[big], exact[big], rtol=2.5e-7, atol=0)
    np.testing.assert_allclose(ctx.probs, ref, rtol=1e-6, atol=1e-38)
    rows, probs, _ = _kernel_fwd(x, labels, False)  # the memoryview kernel: same loop
    np.testing.assert_array_equal(probs, ctx.probs)


def test_float32_softmax_exp_edges():
    x = np.array([[0.0, -86.0, -88.0, -100.0, -np.inf, 1.0, -1e30, -3.0, 0.5]], np.float32)
    _, ctx = K.forward_auto(x, np.array([0], np.int64), "sum", BufferPool())
    p = ctx.probs[0]
    # far below the max: exactly 0 (never garbage from the exponent bits), never NaN
    assert p[2] == p[3] == p[4] == p[6] == 0 and p[1] > 0
    np.testing.assert_allclose(p.sum(), 1, rtol=1e-6)
    # a NaN logit poisons its row as before (the loss is NaN, not a silent number)
    loss, _ = K.forward_auto(np.array([[0.0, np.nan, 1.0]], np.float32), np.array([0], np.int64),
                             "sum", BufferPool())
    assert np.isnan(loss)


def test_parallel_rows_do_not_share_scratch(rng):
    # each prange thread needs its own per-row loss scratch; sharing one is a race
    # that shows (rarely) as rows off the reference or a total that is not their
    # sum, so the parallel path runs repeatedly on two threads
    from microinit.threads import get_num_threads, set_num_threads
    before = get_num_threads()
    set_num_threads(2)
    try:
        x, labels, _ = _case(rng, 2048, 16, np.float32)  # 32768 logits: prange
        ref_rows = R.xent_forward(x, labels)[0]
        for _ in range(10):
            rows, _, _ = _kernel_fwd(x, labels, False)  # checks total == sum(rows)
            np.testing.assert_allclose(rows, ref_rows, **TOL[np.float32])
            loss, _ = K.forward_auto(x, labels, "sum", BufferPool())
            np.testing.assert_allclose(loss, ref_rows.astype(np.float64).sum(), rtol=1e-5)
    finally:
        set_num_threads(before)

"""Every kernel entry point agrees with its numpy twin in microinit/_kernels/reference.py
over random shapes (0- and 1-sized dimensions included), in float32 and float64.

Inputs are C-contiguous native-order arrays, as the boundary hands them to the kernels.
The twins are evaluated in float64, so the difference measures the kernel's own
rounding, and each tolerance is a rounding-error bound with u = eps / 2 (the unit
roundoff of the kernel's dtype):

* products: |fl(op(A) op(B)) - op(A) op(B)| <= gamma_k (|op(A)| |op(B)|), elementwise,
  gamma_k = k u / (1 - k u) for a length-k dot product in any summation order
  (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); accumulating into C0
  makes it a sum of k + 1 terms: gamma_(k+1) (|C0| + |op(A)| |op(B)|).
* activations: a few ulp of the result (libm's float functions are within ~1-2 ulp,
  plus the final rounding), with tanh, sigmoid, elu and selu derivatives formed from
  y by a subtraction, so their error is a few ulp of the terms (1, |y|, the
  parameter), not of the difference; GELU is x * (1 + erf(x / sqrt 2)) / 2, whose
  float32 error is a few ulp of |x|.
* optimizer steps: a few ulp of the sizes of the terms summed into each value.

Sampling is statistical and tested by moments in test_kernel_sampling.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microinit._kernels import elementwise as E
from microinit._kernels import matmul as M
from microinit._kernels import reference as R
from microinit._kernels import updates as U

DTYPES = [np.float32, np.float64]
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)
# dimensions: small ones (the register tile is 6 x 16 / 6 x 8) with 0 and 1 likely,
# and sometimes past the KC = 256 depth block and the MC = 72 row block
dims = st.one_of(st.integers(0, 20), st.integers(0, 80))
depths = st.one_of(st.integers(0, 20), st.sampled_from([255, 256, 257, 300]))


def _u(dtype):
    return float(np.finfo(dtype).eps) / 2


def _assert_within(got, want, tol, what):
    got64 = np.asarray(got, np.float64)
    err = np.abs(got64 - want)
    tol = np.broadcast_to(tol, err.shape)
    bad = ~(err <= tol)
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} outside the bound: got "
                           f"{got64[bad][:3]}, want {want[bad][:3]}, tol {tol[bad][:3]}")


def _gamma(terms, dtype):
    u = _u(dtype)
    return terms * u / (1 - terms * u)


def _product_bound(a, b, ta, tb, k, dtype, start=None):
    """gamma_k |op(a)| |op(b)|, or gamma_(k+1) (|start| + ...) when accumulating."""
    mag = R.gemm(np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64)), ta, tb)
    # In float64 the numpy reference rounds as much as the kernel does (in float32 it
    # is exact by comparison), so the two can differ by twice the bound of one.
    both = 2.0 if np.dtype(dtype) == np.float64 else 1.0
    if start is None:
        return both * _gamma(k, dtype) * mag
    return both * _gamma(k + 1, dtype) * (np.abs(start.astype(np.float64)) + mag)


@settings(max_examples=120, deadline=None)
@given(m=dims, n=dims, k=depths, ta=st.booleans(), tb=st.booleans(), acc=st.booleans(),
       dtype=dtypes, seed=seeds)
def test_gemm_agrees_with_reference(m, n, k, ta, tb, acc, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    start = rng.standard_normal((m, n)).astype(dtype)
    out = start.copy()
    M.gemm(a, b, out, ta, tb, acc)
    want = R.gemm(a.astype(np.float64), b.astype(np.float64), ta, tb)
    if acc:
        want = want + start
    _assert_within(out, want, _product_bound(a, b, ta, tb, k, dtype, start if acc else None),
                   f"gemm {m}x{k}x{n} ta={ta} tb={tb} acc={acc} {np.dtype(dtype).name}")


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, k=depths, ta=st.booleans(), tb=st.booleans(),
       path=st.sampled_from(["direct", "packed"]), nthreads=st.sampled_from([1, 2]),
       dtype=dtypes, seed=seeds)
def test_gemm_path_agrees_with_reference(m, n, k, ta, tb, path, nthreads, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    M.gemm_path(a, b, out, ta, tb, path, nthreads)
    want = R.gemm(a.astype(np.float64), b.astype(np.float64), ta, tb)
    _assert_within(out, want, _product_bound(a, b, ta, tb, k, dtype),
                   f"gemm_path {path} {m}x{k}x{n} ta={ta} tb={tb} {np.dtype(dtype).name}")


@settings(max_examples=80, deadline=None)
@given(nb=st.integers(0, 4), m=st.integers(0, 12), n=st.integers(0, 12), k=st.integers(0, 12),
       ta=st.booleans(), tb=st.booleans(), acc=st.booleans(),
       broadcast=st.sampled_from([None, "a", "b"]), dtype=dtypes, seed=seeds)
def test_gemm_batched_agrees_with_reference(nb, m, n, k, ta, tb, acc, broadcast, dtype, seed):
    rng = np.random.default_rng(seed)
    a_shape = (k, m) if ta else (m, k)
    b_shape = (n, k) if tb else (k, n)
    a = rng.standard_normal((nb,) + a_shape).astype(dtype)
    b = rng.standard_normal((nb,) + b_shape).astype(dtype)
    # a broadcast operand has batch stride 0 and is read in place, never copied
    if broadcast == "a":
        a = np.broadcast_to(rng.standard_normal((1,) + a_shape).astype(dtype), a.shape)
    elif broadcast == "b":
        b = np.broadcast_to(rng.standard_normal((1,) + b_shape).astype(dtype), b.shape)
    start = rng.standard_normal((nb, m, n)).astype(dtype)
    out = start.copy()
    M.gemm_batched(a, b, out, ta, tb, acc)
    want = R.gemm_batched(a.astype(np.float64), b.astype(np.float64), ta, tb)
    if acc:
        want = want + start
    mag = R.gemm_batched(np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64)), ta, tb)
    if acc:
        tol = _gamma(k + 1, dtype) * (np.abs(start.astype(np.float64)) + mag)
    else:
        tol = _gamma(k, dtype) * mag
    _assert_within(out, want, tol, f"gemm_batched {nb}x{m}x{k}x{n} ta={ta} tb={tb} acc={acc}")


# --- activations -------------------------------------------------------------------

PARAM = {"leaky_relu": [0.01, 0.2], "elu": [1.0, 0.5]}
activations = st.sampled_from(sorted(E.CODES))


def _activation_input(rng, n, dtype):
    # mostly moderate values, some large ones (saturation, overflow guards), exact zeros
    x = rng.standard_normal(n) * rng.choice([1.0, 4.0, 30.0], size=n)
    x[rng.random(n) < 0.1] = 0.0
    return x.astype(dtype)


@settings(max_examples=150, deadline=None)
@given(name=activations, n=st.integers(0, 64), dtype=dtypes, seed=seeds, which=st.integers(0, 1))
def test_activation_forward_agrees_with_reference(name, n, dtype, seed, which):
    rng = np.random.default_rng(seed)
    param = PARAM.get(name, [0.0])[which % len(PARAM.get(name, [0.0]))]
    x = _activation_input(rng, n, dtype)
    out = np.full(n, np.nan, dtype)
    E.activation_forward(E.CODES[name], x, out, param)
    x64 = x.astype(np.float64)
    want = R.activation_forward(name, x64, param)
    u, tiny = _u(dtype), float(np.finfo(dtype).tiny)
    # relative: a few ulp of the result; below the normal range, absolute precision only
    tol = 8 * u * np.abs(want) + tiny
    if name == "gelu":
        tol = tol + 8 * u * np.abs(x64)
    _assert_within(out, want, tol, f"{name} forward {np.dtype(dtype).name} param={param}")


@settings(max_examples=150, deadline=None)
@given(name=activations, n=st.integers(0, 64), dtype=dtypes, seed=seeds, which=st.integers(0, 1))
def test_activation_backward_agrees_with_reference(name, n, dtype, seed, which):
    rng = np.random.default_rng(seed)
    param = PARAM.get(name, [0.0])[which % len(PARAM.get(name, [0.0]))]
    x = _activation_input(rng, n, dtype)
    y = np.empty_like(x)
    E.activation_forward(E.CODES[name], x, y, param)
    dy = rng.standard_normal(n).astype(dtype)
    dx = np.full(n, np.nan, dtype)
    E.activation_backward(E.CODES[name], x, y, dy, dx, param)
    x64, y64, dy64 = (v.astype(np.float64) for v in (x, y, dy))
    want = R.activation_backward(name, x64, y64, dy64, param)
    u, tiny = _u(dtype), float(np.finfo(dtype).tiny)
    # derivatives built from y by a sum of terms of size <= 1 + |y| + |selu scale*alpha|
    terms = 1 + np.abs(y64) + 2 * abs(param) + (2 * R.SELU_SCALE * R.SELU_ALPHA if name == "selu" else 0)
    tol = 8 * u * np.abs(dy64) * terms + tiny
    _assert_within(dx, want, tol, f"{name} backward {np.dtype(dtype).name} param={param}")


def test_every_activation_code_is_covered():
    # the strategies above draw from E.CODES: it must name every code the kernel accepts
    assert sorted(E.CODES.values()) == list(range(len(E.CODES)))


# --- optimizer updates -------------------------------------------------------------

shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)


@settings(max_examples=100, deadline=None)
@given(shape_list=st.lists(shapes, min_size=1, max_size=3), dtype=dtypes, seed=seeds,
       momentum=st.sampled_from([0.0, 0.9]), dampening=st.sampled_from([0.0, 0.1]),
       weight_decay=st.sampled_from([0.0, 0.01]), nesterov=st.booleans(), init=st.booleans(),
       lr=st.sampled_from([0.1, 1e-3]))
def test_sgd_foreach_agrees_with_reference(shape_list, dtype, seed, momentum, dampening,
                                           weight_decay, nesterov, init, lr):
    rng = np.random.default_rng(seed)
    ps = [rng.standard_normal(s).astype(dtype) for s in shape_list]
    gs = [rng.standard_normal(s).astype(dtype) for s in shape_list]
    bufs = [rng.standard_normal(s).astype(dtype) for s in shape_list] if momentum else []
    before_p = [p.astype(np.float64) for p in ps]
    before_b = [b.astype(np.float64) for b in bufs]
    assert U.sgd_foreach(ps, gs, bufs, lr, momentum, dampening, weight_decay, nesterov, init) is None
    u = _u(dtype)
    for j, p in enumerate(ps):
        g64 = gs[j].astype(np.float64)
        want_p, want_b = R.sgd_update(before_p[j], g64, before_b[j] if momentum else None, lr,
                                      momentum, dampening, weight_decay, nesterov, init)
        d = np.abs(g64) + weight_decay * np.abs(before_p[j])
        if momentum:
            bmag = momentum * np.abs(before_b[j]) + d
            _assert_within(bufs[j], want_b, 8 * u * bmag, f"sgd buffer {j}")
            d = d + (1 + momentum) * bmag
        _assert_within(p, want_p, 8 * u * (np.abs(before_p[j]) + lr * d), f"sgd parameter {j}")


@settings(max_examples=100, deadline=None)
@given(shape_list=st.lists(shapes, min_size=1, max_size=3), dtype=dtypes, seed=seeds,
       weight_decay=st.sampled_from([0.0, 0.01]), decoupled=st.booleans(),
       step=st.integers(0, 50), lr=st.sampled_from([0.1, 1e-3]))
def test_adam_foreach_agrees_with_reference(shape_list, dtype, seed, weight_decay, decoupled,
                                            step, lr):
    rng = np.random.default_rng(seed)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    ps = [rng.standard_normal(s).astype(dtype) for s in shape_list]
    gs = [rng.standard_normal(s).astype(dtype) for s in shape_list]
    # (np.asarray: a 0-d array times a float is a numpy scalar)
    ms = [np.asarray(rng.standard_normal(s) * 0.1 * (step > 0), dtype) for s in shape_list]
    vs = [np.asarray(rng.random(s) * 0.01 * (step > 0), dtype) for s in shape_list]
    steps = np.full(len(ps), step, np.int64)
    before = [[a.astype(np.float64) for a in arrs] for arrs in (ps, ms, vs)]
    assert U.adam_foreach(ps, gs, ms, vs, steps, lr, beta1, beta2, eps, weight_decay, decoupled) is None
    assert steps.tolist() == [step + 1] * len(ps)
    u = _u(dtype)
    for j in range(len(ps)):
        p0, m0, v0 = (b[j] for b in before)
        g64 = gs[j].astype(np.float64)
        want_p, want_m, want_v = R.adam_update(p0, g64, m0, v0, step + 1, lr, beta1, beta2, eps,
                                               weight_decay, decoupled)
        gmag = np.abs(g64) + weight_decay * np.abs(p0)
        _assert_within(ms[j], want_m, 8 * u * (np.abs(m0) + gmag), f"adam exp_avg {j}")
        _assert_within(vs[j], want_v, 8 * u * (np.abs(v0) + gmag * gmag), f"adam exp_avg_sq {j}")
        # the step: m / (sqrt(v)/bc2 + eps) scaled by lr / bc1, each factor a few ulp
        # of its size; m carries the absolute error of its terms (|m0| + |g|)
        bc1 = 1 - beta1 ** (step + 1)
        bc2 = np.sqrt(1 - beta2 ** (step + 1))
        upd = lr / bc1 * (np.abs(m0) + gmag) / (np.sqrt(want_v) / bc2 + eps)
        # v's own rounding (8u of |v0| + g^2, as bounded above) reaches the step through
        # sqrt(v): relative error halved, large where v is much smaller than its terms
        v_rel = (np.abs(v0) + gmag * gmag) / np.maximum(want_v, np.finfo(np.float64).tiny)
        _assert_within(ps[j], want_p, 16 * u * (np.abs(p0) + upd * (1 + v_rel)), f"adam parameter {j}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_updates_accept_empty_parameter_lists(dtype):
    assert U.sgd_foreach([], [], [], 0.1) is None
    assert U.adam_foreach([], [], [], [], np.zeros(0, np.int64), 0.1) is None

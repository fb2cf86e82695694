"""Turning a Plan (distribution + parameters) into an array.

Every initializer is planned first (pure arithmetic on shape and parameters: see
_builtins.py) and drawn here. The draws come from the caller's numpy Generator only.
"""
import math

import numpy as np

__all__ = ["Plan", "draw", "truncnorm_moments", "orthogonalize"]


class Plan:
    """What an initializer will draw for one shape: kind + parameters + fans.

    kind is one of constant, uniform, normal, truncated_normal (absolute bounds,
    pre-truncation std), orthogonal, identity, dirac, delta_orthogonal, sparse.
    """

    __slots__ = ("kind", "params", "fans")

    def __init__(self, kind, fans=None, **params):
        self.kind = kind
        self.params = params
        self.fans = fans

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Plan({self.kind}, {args})"


def _phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def truncnorm_moments(mean, std, low, high):
    """Exact mean and std of N(mean, std^2) truncated to (low, high)."""
    a, b = (low - mean) / std, (high - mean) / std
    z = _Phi(b) - _Phi(a)
    if z <= 0:  # both bounds far in one tail: the truncated law is ~ the bound nearest the mean
        return mean + std * (a if a > 0 else b), 0.0
    pa, pb = _phi(a) if math.isfinite(a) else 0.0, _phi(b) if math.isfinite(b) else 0.0
    ta = a * pa if math.isfinite(a) else 0.0
    tb = b * pb if math.isfinite(b) else 0.0
    m = (pa - pb) / z
    var = 1 + (ta - tb) / z - m * m
    return mean + std * m, std * math.sqrt(max(var, 0.0))


def _fill_uniform(out, low, high, gen):
    out[...] = gen.uniform(low, high, out.shape)


def _fill_normal(out, mean, std, gen):
    out[...] = gen.normal(mean, std, out.shape)


def _fill_truncated_normal(out, mean, std, low, high, gen):
    flat = out.reshape(-1)
    filled = 0
    while filled < flat.size:
        z = gen.normal(mean, std, flat.size - filled).astype(out.dtype)
        z = z[(z > low) & (z < high)]
        flat[filled:filled + z.size] = z
        filled += z.size


def orthogonalize(a):
    """The Q factor of a tall (m >= n) float64 matrix with R's diagonal made positive.

    CholeskyQR2: R1 = chol(A^T A), Q1 = A R1^-1, then once more on Q1. Two passes of
    BLAS-3 work (syrk, a small Cholesky, a blocked triangular solve) instead of
    Householder's panel-by-panel sweeps. A Cholesky factor has a positive diagonal, so
    Q is exactly the sign-corrected Householder Q (the Haar-distributed one when A is
    Gaussian). If A is too ill-conditioned for the first pass (Cholesky fails, or
    Q1^T Q1 is far from I), it falls back to Householder QR with the sign correction.
    """
    from microinit.init import _ortho

    return _ortho.orthogonalize(a)


def _draw_orthogonal(shape, gain, dtype, gen):
    rows = int(np.prod(shape[:-1]))
    cols = shape[-1]
    tall = rows >= cols
    m, n = (rows, cols) if tall else (cols, rows)
    a = np.empty((m, n), dtype=np.float64)
    _fill_normal(a, 0.0, 1.0, gen)
    q = orthogonalize(a)
    if not tall:
        q = q.T
    if gain != 1.0:
        q *= gain
    return np.ascontiguousarray(q, dtype=dtype).reshape(shape)


def draw(plan, shape, dtype, gen):
    """Sample an array of `shape` and `dtype` according to `plan` from Generator gen."""
    p = plan.params
    kind = plan.kind
    # Kernels work in float32/float64; float16 is drawn in float32 and rounded once.
    work = np.float64 if dtype == np.float64 else np.float32
    if kind == "constant":
        return np.full(shape, p["value"], dtype=dtype)
    if kind == "orthogonal":
        return _draw_orthogonal(shape, p["gain"], dtype, gen)
    if kind == "delta_orthogonal":
        # Xiao et al. 2018: zero everywhere except the spatial centre, which holds an
        # orthogonal (in, out) matrix; as in JAX, in <= out is required.
        out = np.zeros(shape, dtype=dtype)
        centre = tuple(d // 2 for d in shape[:-2])
        out[centre] = _draw_orthogonal(shape[-2:], p["gain"], dtype, gen)
        return out
    if kind == "identity":
        out = np.zeros(shape, dtype=dtype)
        k = min(shape)
        out[np.arange(k), np.arange(k)] = p["gain"]
        return out
    if kind == "dirac":
        out = np.zeros(shape, dtype=dtype)
        groups = p["groups"]
        n_in, n_out = shape[-2], shape[-1]
        per_group = n_out // groups
        k = min(per_group, n_in)
        centre = tuple(d // 2 for d in shape[:-2])
        for g in range(groups):
            for d in range(k):
                out[centre + (d, g * per_group + d)] = p["gain"]
        return out
    out = np.empty(shape, dtype=work)
    if out.size:
        if kind == "uniform":
            _fill_uniform(out, p["low"], p["high"], gen)
        elif kind in ("normal", "sparse"):
            _fill_normal(out, p.get("mean", 0.0), p["std"], gen)
        elif kind == "truncated_normal":
            _fill_truncated_normal(out, p["mean"], p["std"], p["low"], p["high"], gen)
        else:  # pragma: no cover - plans are built only in _builtins.py
            raise AssertionError(f"unknown plan kind {kind!r}")
    if kind == "sparse":
        _zero_per_row(out, p["n_zeros"], gen)
    return out if out.dtype == dtype else out.astype(dtype)


def _zero_per_row(out, n_zeros, gen):
    """Zero n_zeros entries of every row (input unit) at uniformly random positions.

    PyTorch's sparse_ zeroes ceil(sparsity * out) entries in each column of its
    (out, in) weight, i.e. in each row of microinit's (in, out) weight. Random keys +
    argpartition pick a uniform random subset per row in one vectorized pass."""
    rows, cols = out.shape
    if n_zeros <= 0 or rows == 0:
        return
    if n_zeros >= cols:
        out[...] = 0
        return
    keys = gen.random((rows, cols))
    idx = np.argpartition(keys, n_zeros - 1, axis=1)[:, :n_zeros]
    np.put_along_axis(out, idx, 0, axis=1)

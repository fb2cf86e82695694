"""Plain-numpy twins of every compiled kernel: the oracle the tests compare against.

Each function here computes what its kernel computes, in the clearest numpy, with the
same argument order (outputs returned instead of written). Nothing here is fast and
nothing here is used by the library at run time; tests/kernels/test_kernel_reference.py
checks the kernels against these over random shapes.

>>> gemm(np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]]), trans_b=True).tolist()
[[1.0, 3.0], [2.0, 4.0]]
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

Arr = NDArray[Any]  # an array of any float dtype
#: one dense layer as the chain twins take it: (W, b or None, activation name, param)
Layer = tuple[ArrayLike, "ArrayLike | None", str, float]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _erf(x: ArrayLike) -> NDArray[np.float64]:
    # numpy has no erf; math.erf elementwise is exact enough for an oracle.
    import math

    out: NDArray[np.float64] = np.vectorize(math.erf, otypes=[np.float64])(x)
    return out


def activation_forward(name: str, x: ArrayLike, param: float = 0.0) -> Arr:
    """act(x) for the activation called `name` (see elementwise.CODES).

    >>> activation_forward("relu", np.array([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]
    """
    x = np.asarray(x)
    y: Arr
    with np.errstate(over="ignore"):
        if name == "identity":
            y = x.copy()
        elif name == "relu":
            y = np.where(x <= 0, 0, x)  # NaN propagates
        elif name == "tanh":
            y = np.tanh(x)
        elif name == "sigmoid":
            y = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
        elif name == "leaky_relu":
            y = np.where(x > 0, x, param * x)
        elif name == "elu":
            y = np.where(x > 0, x, param * np.expm1(np.minimum(x, 0)))
        elif name == "selu":
            y = SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
        elif name == "gelu":
            y = 0.5 * x * (1 + _erf(x / np.sqrt(2.0)))
        elif name == "softplus":
            y = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        else:
            raise ValueError(f"unknown activation {name!r}")
    return np.asarray(y, dtype=x.dtype)


def activation_backward(name: str, x: ArrayLike, y: Arr, dy: ArrayLike, param: float = 0.0) -> Arr:
    """dy * act'(x), given x and y = act(x); same conventions as activations.pxd.

    >>> x = np.array([-1.0, 0.0, 2.0])
    >>> activation_backward("relu", x, activation_forward("relu", x), np.ones(3)).tolist()
    [0.0, 0.0, 1.0]
    """
    x = np.asarray(x)
    d: Arr
    if name == "identity":
        d = np.ones_like(x)
    elif name == "relu":
        d = (x > 0).astype(x.dtype)
    elif name == "tanh":
        d = 1 - y * y
    elif name == "sigmoid":
        d = y * (1 - y)
    elif name == "leaky_relu":
        d = np.where(x > 0, 1.0, param)
    elif name == "elu":
        d = np.where(x > 0, 1.0, y + param)
    elif name == "selu":
        d = np.where(x > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)
    elif name == "gelu":
        xd = x.astype(np.float64)
        d = 0.5 * (1 + _erf(xd / np.sqrt(2.0))) + xd * np.exp(-0.5 * xd * xd) / np.sqrt(2 * np.pi)
    elif name == "softplus":
        d = activation_forward("sigmoid", x)
    else:
        raise ValueError(f"unknown activation {name!r}")
    return np.asarray(dy * d, dtype=x.dtype)


# --- updates.pyx (optimizer steps) -------------------------------------------------

def sgd_update(p: Arr, g: Arr, buf: Arr | None, lr: float, momentum: float = 0.0, dampening: float = 0.0,
               weight_decay: float = 0.0, nesterov: bool = False,
               init_buf: bool = False) -> tuple[Arr, Arr | None]:
    """One SGD step (torch.optim.SGD semantics); returns (new_p, new_buf).

    >>> p, buf = sgd_update(np.ones(2), np.array([1.0, -1.0]), None, lr=0.5)
    >>> p.tolist(), buf
    ([0.5, 1.5], None)
    """
    d = g + weight_decay * p
    if momentum:
        buf = d.copy() if init_buf else momentum * buf + (1 - dampening) * d  # type: ignore[operator]
        d = d + momentum * buf if nesterov else buf
    return (p - lr * d).astype(p.dtype), (None if buf is None else np.asarray(buf, p.dtype))


def adam_update(p: Arr, g: Arr, m: Arr, v: Arr, step: int, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False) -> tuple[Arr, Arr, Arr]:
    """One Adam/AdamW step at step number `step` (1-based); returns (new_p, new_m, new_v).

    >>> p, m, v = adam_update(np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), 1, lr=0.1)
    >>> p.round(6).tolist(), m.round(6).tolist(), v.round(6).tolist()
    ([0.9], [0.1], [0.001])
    """
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    denom = np.sqrt(v) / np.sqrt(1 - beta2 ** step) + eps
    p = p - lr / (1 - beta1 ** step) * m / denom
    return p.astype(g.dtype), m.astype(g.dtype), v.astype(g.dtype)


# --- xent.pyx (fused softmax cross-entropy) -------------------------------------------

def _xent_softmax(logits: ArrayLike) -> tuple[Arr, Arr]:
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    return e / s, (m + np.log(s))[:, 0]


def xent_forward(logits: ArrayLike, labels: Arr) -> tuple[Arr, Arr]:
    """(per-row loss, softmax probs): loss_i = logsumexp(x_i) - x_i[labels_i]."""
    x = np.asarray(logits)
    p, lse = _xent_softmax(x)
    loss = lse - x[np.arange(x.shape[0]), labels].astype(np.float64)
    return loss.astype(x.dtype), p.astype(x.dtype)


def xent_forward_soft(logits: ArrayLike, target: ArrayLike) -> tuple[Arr, Arr]:
    """(per-row loss, softmax probs): loss_i = sum_j t_ij (logsumexp(x_i) - x_ij),
    skipping t_ij == 0 terms."""
    x = np.asarray(logits)
    t = np.asarray(target, dtype=np.float64)
    p, lse = _xent_softmax(x)
    with np.errstate(invalid="ignore"):
        terms = np.where(t != 0, t * (lse[:, None] - x.astype(np.float64)), 0.0)
    return terms.sum(axis=1).astype(x.dtype), p.astype(x.dtype)


def xent_backward(probs: ArrayLike, labels: Arr, dloss: ArrayLike) -> Arr:
    """dlogits = dloss[:, None] * (probs - onehot(labels))."""
    p = np.asarray(probs)
    onehot = np.zeros_like(p)
    onehot[np.arange(p.shape[0]), labels] = 1
    out: Arr = (np.asarray(dloss)[:, None] * (p - onehot)).astype(p.dtype)
    return out


def xent_backward_soft(probs: ArrayLike, target: ArrayLike, dloss: ArrayLike) -> Arr:
    """dlogits = dloss[:, None] * (probs * sum_k target[:, k] - target)."""
    p = np.asarray(probs)
    t = np.asarray(target)
    out: Arr = (np.asarray(dloss)[:, None] * (p * t.sum(axis=1, keepdims=True) - t)).astype(p.dtype)
    return out


# --- matmul.pyx / dense.pyx (engineer E) -----------------------------------------

def gemm(a: ArrayLike, b: ArrayLike, trans_a: bool = False, trans_b: bool = False) -> Arr:
    """op(a) @ op(b), op = transpose when the flag is set (matmul.gemm's twin)."""
    x, y = np.asarray(a), np.asarray(b)
    out: Arr = (x.T if trans_a else x) @ (y.T if trans_b else y)
    return out


def gemm_batched(a: ArrayLike, b: ArrayLike, trans_a: bool = False, trans_b: bool = False) -> Arr:
    """op(a[i]) @ op(b[i]) for every batch entry i (matmul.gemm_batched's twin).

    >>> gemm_batched(np.ones((2, 1, 3)), np.ones((2, 2, 3)), trans_b=True).shape
    (2, 1, 2)
    """
    x = np.swapaxes(a, 1, 2) if trans_a else np.asarray(a)
    y = np.swapaxes(b, 1, 2) if trans_b else np.asarray(b)
    out: Arr = x @ y
    return out


def dense_forward(x: ArrayLike, W: ArrayLike, b: ArrayLike | None, name: str,
                  param: float = 0.0) -> tuple[Arr, Arr]:
    """(z, y) with z = x @ W (+ b) and y = act(z) (dense.forward's twin)."""
    z: Arr = np.asarray(x) @ np.asarray(W)
    if b is not None:
        z = z + b
    return z, activation_forward(name, z, param)


def dense_backward(x: ArrayLike, W: ArrayLike, z: Arr, y: Arr, dy: ArrayLike, name: str,
                   param: float = 0.0) -> tuple[Arr, Arr, Arr]:
    """(dx, dW, db) of y = act(x @ W + b) given dy (dense.backward's twin)."""
    dz = activation_backward(name, z, y, dy, param)
    return dz @ np.asarray(W).T, np.asarray(x).T @ dz, dz.sum(axis=0)


# --- sampling.pyx (engineer B: initializers) ---------------------------------------
# Scalar twins: the same transforms from the same raw 64-bit words, read one by one
# from Generator.bit_generator.random_raw(). Slow; for small n in tests only.

class RawStream:
    """Words of a Generator's bit generator, with sampling.pyx's 32-bit half buffer."""

    def __init__(self, gen: np.random.Generator) -> None:
        self.bitgen = gen.bit_generator
        self.half: int | None = None

    def next64(self) -> int:
        return int(self.bitgen.random_raw())

    def next32(self) -> int:
        if self.half is not None:
            h, self.half = self.half, None
            return h
        r = self.next64()
        self.half = r >> 32
        return r & 0xFFFFFFFF

    def next_double(self) -> float:
        return (self.next64() >> 11) * 2.0 ** -53

    def next_open(self) -> float:
        return 1.0 - self.next_double()


#: the ziggurat's (k, w, f) layer tables
Tables = tuple[list[float], list[float], list[float]]
ZIG_R = 3.6541528853610088
ZIG_V = 0.00492867323399


def ziggurat_tables(bits: int) -> Tables:
    """Marsaglia & Tsang's 256-layer tables (k, w, f) for a bits-bit magnitude."""
    import math

    m1 = 2.0 ** bits
    dn = tn = ZIG_R
    q = ZIG_V / math.exp(-0.5 * dn * dn)
    k, w, f = [0.0] * 256, [0.0] * 256, [0.0] * 256
    k[0], k[1] = math.floor(dn / q * m1), 0.0
    w[0], w[255] = q / m1, dn / m1
    f[0], f[255] = 1.0, math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(ZIG_V / dn + math.exp(-0.5 * dn * dn)))
        k[i + 1] = math.floor(dn / tn * m1)
        tn = dn
        f[i] = math.exp(-0.5 * dn * dn)
        w[i] = dn / m1
    return k, w, f


def _std_normal(stream: RawStream, single: bool, tables: Tables) -> float:
    import math

    k, w, f = tables
    while True:
        if single:
            r = stream.next32()
            hz = (r >> 8) - (1 << 24) if r >> 31 else r >> 8   # arithmetic shift of an int32
        else:
            r = stream.next64()
            hz = (r >> 11) - (1 << 53) if r >> 63 else r >> 11  # arithmetic shift of an int64
        idx = r & 0xFF
        mag = abs(hz)
        if mag < k[idx]:
            return hz * w[idx]
        x = mag * w[idx]
        if idx == 0:
            while True:
                xx = -math.log(stream.next_open()) / ZIG_R
                yy = -math.log(stream.next_open())
                if yy + yy > xx * xx:
                    x = ZIG_R + xx
                    break
            return x if hz >= 0 else -x
        if f[idx] + stream.next_double() * (f[idx - 1] - f[idx]) < math.exp(-0.5 * x * x):
            return x if hz >= 0 else -x


def sampling_normal(gen: np.random.Generator, n: int, mean: float, std: float, dtype: DTypeLike) -> Arr:
    """sampling.normal_fill's twin: n samples of N(mean, std^2) in dtype."""
    dt: np.dtype[Any] = np.dtype(dtype)
    single = dt == np.float32
    tables = ziggurat_tables(23 if single else 52)
    s = RawStream(gen)
    return np.array([mean + std * _std_normal(s, single, tables) for _ in range(n)], dtype=dt)


def sampling_uniform(gen: np.random.Generator, n: int, low: float, high: float, dtype: DTypeLike) -> Arr:
    """sampling.uniform_fill's twin: n samples of U[low, high) in dtype."""
    dt: np.dtype[Any] = np.dtype(dtype)
    single = dt == np.float32
    s = RawStream(gen)
    out: list[Any] = []
    while len(out) < n:
        u = (s.next32() >> 8) * 2.0 ** -24 if single else s.next_double()
        x = dt.type(low + (high - low) * u)
        if low <= x < high:
            out.append(x)
    return np.array(out, dtype=dt)


def sampling_truncnorm(gen: np.random.Generator, n: int, mean: float, std: float, low: float, high: float,
                       dtype: DTypeLike) -> Arr:
    """sampling.truncnorm_fill's twin: N(mean, std^2) restricted to (low, high)."""
    import math

    dt: np.dtype[Any] = np.dtype(dtype)
    single = dt == np.float32
    tables = ziggurat_tables(23 if single else 52)
    alpha, beta = (low - mean) / std, (high - mean) / std
    mass = 0.5 * (math.erfc(-beta / math.sqrt(2)) - math.erfc(-alpha / math.sqrt(2)))
    a, b, flip, c = alpha, beta, False, 0.0
    if mass >= 0.3:
        method = "normal"
    else:
        if beta <= 0:
            a, b, flip = -beta, -alpha, True
        if a >= 0 and math.exp(0.5 * (a * a - b * b)) >= 0.3:
            method, c = "uniform", a
        elif a >= 0:
            method = "exponential"
        else:
            method = "uniform"
    s = RawStream(gen)

    def candidate() -> float:
        if method == "normal":
            while True:
                x = _std_normal(s, single, tables)
                if a < x < b:
                    return x
        if method == "exponential":
            lam = 0.5 * (a + math.sqrt(a * a + 4.0))
            while True:
                x = a - math.log(s.next_open()) / lam
                if x < b and s.next_double() <= math.exp(-0.5 * (x - lam) ** 2) and x > a:
                    return x
        while True:
            x = a + (b - a) * s.next_double()
            if a < x < b and s.next_double() <= math.exp(0.5 * (c * c - x * x)):
                return x

    out: list[Any] = []
    while len(out) < n:
        z = candidate()
        x = dt.type(mean + std * (-z if flip else z))
        if low < x < high:
            out.append(x)
    return np.array(out, dtype=dt)


def sampling_zero_random_per_row(gen: np.random.Generator, out: ArrayLike, k: int) -> Arr:
    """sampling.zero_random_per_row's twin: k zeros per row by partial Fisher-Yates."""
    res = np.array(out, copy=True)
    rows, cols = res.shape
    perm = list(range(cols))
    s = RawStream(gen)

    def bounded(n: int) -> int:
        m = s.next32() * n
        if (m & 0xFFFFFFFF) < n:
            threshold = (-n % (1 << 32)) % n
            while (m & 0xFFFFFFFF) < threshold:
                m = s.next32() * n
        return m >> 32

    if k == 0 or rows == 0:
        return res
    for i in range(rows):
        for j in range(k):
            t = j + bounded(cols - j)
            perm[j], perm[t] = perm[t], perm[j]
            res[i, perm[j]] = 0
    return res


def householder_orthogonal(a: ArrayLike) -> Arr:
    """Sign-corrected Householder Q of a tall matrix (diag(R) >= 0): what torch's
    orthogonal_ computes, the oracle for init._ortho.haar_orthogonal's distribution."""
    q, r = np.linalg.qr(np.asarray(a, dtype=np.float64))
    d = np.sign(np.diagonal(r)).copy()
    d[d == 0] = 1
    out: Arr = q * d
    return out


# --- dense.forward_chain / dense.backward_chain (the fused dense stack) -------------

def dense_chain_forward(x: ArrayLike, layers: Sequence[Layer]) -> tuple[Arr, list[Arr],
                        list[Arr]]:
    """(y, zs, ys) of dense layers back to back (dense.forward_chain's twin).

    ``layers``: ``(W, b_or_None, name, param)`` per layer; ``zs``/``ys`` hold each
    layer's pre-activation and output, ``y = ys[-1]``.
    """
    h = np.asarray(x)
    zs: list[Arr] = []
    ys: list[Arr] = []
    for W, b, name, param in layers:
        z, h = dense_forward(h, W, b, name, param)
        zs.append(z)
        ys.append(h)
    return h, zs, ys


def dense_chain_backward(x: ArrayLike, layers: Sequence[Layer], dy: ArrayLike, need_x: bool = True,
                         need: Sequence[tuple[bool, bool]] | None = None) -> list[Arr | None]:
    """[dx, dW_0, db_0, dW_1, db_1, ...] of a dense chain given dy (backward_chain's twin).

    ``need``: ``(need_W, need_b)`` per layer (default all True); entries not needed,
    biases of layers without bias, and dx unless ``need_x`` are None.
    """
    _, zs, ys = dense_chain_forward(x, layers)
    need = [(True, True)] * len(layers) if need is None else need
    out: list[Arr | None] = [None] * (2 * len(layers) + 1)
    g = np.asarray(dy)
    for i in range(len(layers) - 1, -1, -1):
        W, b, name, param = layers[i]
        h = np.asarray(x) if i == 0 else ys[i - 1]
        g, dW, db = dense_backward(h, W, zs[i], ys[i], g, name, param)
        out[2 * i + 1] = dW if need[i][0] else None
        out[2 * i + 2] = db if (need[i][1] and b is not None) else None
    out[0] = g if need_x else None
    return out


# --- regression.pyx (MSE) and xent.pyx's one-call entry points ---------------------------

def mse_forward(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> tuple[Arr, Arr]:
    """(loss, diff) of mse_forward_auto: diff = pred - target in the inputs' dtype;
    loss = sum(diff^2) in float64 ("sum"), divided by the size for "mean" (0 when
    empty), returned as a 0-d array of the inputs' dtype."""
    p = np.asarray(pred)
    diff = p - np.asarray(target)
    total: Any = np.sum(diff.astype(np.float64) ** 2)
    if reduction == "mean":
        total = total / diff.size if diff.size else 0.0
    return np.asarray(total, p.dtype), diff


def mse_backward(diff: ArrayLike, g: float, reduction: str = "mean") -> tuple[Arr, Arr]:
    """(dpred, dtarget) of mse_backward_auto: dpred = s diff with s = 2 g, divided by
    the size for "mean", rounded to diff's dtype; dtarget = -dpred."""
    d = np.asarray(diff)
    s = 2.0 * float(g)
    if reduction == "mean":
        s = s / d.size if d.size else 0.0
    out = d * d.dtype.type(s)
    return out, -out


def xent_forward_reduced(logits: ArrayLike, labels: Arr, reduction: str = "mean") -> tuple[Arr,
                         Arr]:
    """(loss, probs) of xent.forward_auto: the float64 sum of the per-row losses
    (each rounded to the logits' dtype, as xent_forward stores them), over N for
    "mean" (0 for an empty batch), as a 0-d array of the logits' dtype."""
    x = np.asarray(logits)
    rows, probs = xent_forward(x, labels)
    total: Any = rows.astype(np.float64).sum()
    if reduction == "mean":
        total = total / x.shape[0] if x.shape[0] else 0.0
    return np.asarray(total, x.dtype), probs


def xent_backward_reduced(probs: ArrayLike, labels: Arr, g: ArrayLike,
                          reduction: str = "mean") -> Arr:
    """dlogits of xent.backward_auto: d (probs - onehot(labels)) with d = g / N
    ("mean") or g, formed in the probs' dtype."""
    p = np.asarray(probs)
    n = p.shape[0]
    d = np.asarray(g, p.dtype)
    if reduction == "mean":
        d = d * (1.0 / n) if n else d * 0
    return xent_backward(p, labels, np.full(n, d, p.dtype))


# --- updates.pyx: RMSprop and Adagrad ----------------------------------------------

def rmsprop_update(p: Arr, g: Arr, square_avg: Arr, grad_avg: Arr | None, buf: Arr | None, lr: float,
                   alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                   centered: bool = False) -> tuple[Arr | None, Arr | None, Arr | None, Arr | None]:
    """One RMSprop step (torch.optim.RMSprop); returns (new_p, square_avg, grad_avg, buf)
    with grad_avg/buf None when not centered / without momentum.

    >>> p, v, _, _ = rmsprop_update(np.ones(1), np.ones(1), np.zeros(1), None, None,
    ...                             lr=0.1, alpha=0.75, eps=0.0)
    >>> p.tolist(), v.tolist()
    ([0.8], [0.25])
    """
    g = g + weight_decay * p
    square_avg = alpha * square_avg + (1 - alpha) * g * g
    v = square_avg
    if centered:
        grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)  # type: ignore[operator]  # given when centered
        v = square_avg - grad_avg * grad_avg
    avg = np.sqrt(v) + eps
    if momentum > 0:
        buf = momentum * buf + g / avg  # type: ignore[operator]  # given with momentum
        p = p - lr * buf
    else:
        p = p - lr * (g / avg)
    dt = np.asarray(g).dtype

    def cast(a: Arr | None) -> Arr | None:
        return None if a is None else np.asarray(a, dt)
    return cast(p), cast(square_avg), cast(grad_avg if centered else None), cast(buf if momentum > 0 else None)


def adagrad_update(p: Arr, g: Arr, state_sum: Arr, step: int, lr: float, lr_decay: float = 0.0,
                   weight_decay: float = 0.0, eps: float = 1e-10) -> tuple[Arr, Arr]:
    """One Adagrad step at step number `step` (1-based); returns (new_p, new_state_sum).

    >>> p, s = adagrad_update(np.ones(1), np.full(1, 2.0), np.zeros(1), 1, lr=0.1, eps=0.0)
    >>> p.tolist(), s.tolist()
    ([0.9], [4.0])
    """
    g = g + weight_decay * p
    state_sum = state_sum + g * g
    clr = lr / (1 + (step - 1) * lr_decay)
    p = p - clr * (g / (np.sqrt(state_sum) + eps))
    return np.asarray(p, g.dtype), np.asarray(state_sum, g.dtype)

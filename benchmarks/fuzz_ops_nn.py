"""Fuzz case builders for the fused ops, layers, losses and ``microinit.functional``.

Same contract as ``benchmarks/fuzz_ops.py``: ``NN_OPS[name](draw) -> Case``. The
dense family shares one float64 reference (:func:`dense_ref`) that folds the layers;
its gradient is left unchecked when a pre-activation lies within rounding of a kink
(relu at 0: float32 and float64 may pick different sides).

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> NN_OPS["Dense"](RandomDraw(0, 4)).op      # one of Dense, Linear, Sequential, MLP
    'Linear'
"""
import numpy as np

import microinit as mi
import microinit.functional as F
from microinit import losses, nn
from benchmarks.fuzz_cases import Arr, arr, chance, choice, dim
from benchmarks.fuzz_ops import leaf, tensor_ops
from benchmarks.fuzz_properties import Case
from benchmarks.fuzz_refs import ACTIVATIONS, Ref, act_grad_scale, Refuse, masked, result_dtype

KINKED = {"relu", "leaky_relu", "elu", "selu"}
ACTS = (None, "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus", "identity")


def dense_ref(x, layers, kink_tol=1e-4, dtype=np.float64):
    """Fold ``act(h @ W + b)`` over ``layers`` [(W, b or None, act, param)] in float64:
    (y, scale, vjp or None). ``vjp(g)`` -> [dx, dW0, db0, dW1, ...] as (grad, scale).
    Elements whose magnitude leaves ``dtype``'s range on the way (float32 sums of 1e38
    terms overflow where float64 ones do not) are left open, and so is the gradient."""
    info = np.finfo(dtype)
    h, s, tape = x, np.abs(x), []
    rows_overflow = np.zeros(x.shape[:1], bool)
    with np.errstate(all="ignore"):
        for W, b, act, p in layers:
            z = h @ W + (0.0 if b is None else b)
            # + a subnormal term: results below the normal range lose relative precision
            sz = (np.abs(h) + s) @ np.abs(W) + (0.0 if b is None else np.abs(b)) + info.smallest_subnormal * 1e5
            rows_overflow |= (sz > info.max / 16).any(axis=1) if sz.ndim == 2 else False
            name = act or "identity"
            p = {"leaky_relu": 0.01, "elu": 1.0}.get(name, 0.0) if p is None else p
            y, d, _, dscale = ACTIVATIONS[name](z, p)
            # a kink within rounding of z, or a smooth derivative whose argument is uncertain
            # (z cancelled from huge terms): float32 and float64 may see different slopes
            near_kink = name in KINKED and bool((np.abs(z) <= kink_tol * sz).any()) or (
                name != "identity" and bool((sz * info.eps > 1e-4).any()))
            tape.append((h, s, W, b, d, dscale, near_kink))
            s = sz * np.maximum(np.abs(np.where(np.isfinite(d), d, 1.0)), 1.0)
            h = y
    s = s + np.abs(h)  # the last activation's own rounding
    # a row that overflowed the dtype in any layer is open (inf * 0 downstream is NaN)
    overflow = bool(rows_overflow.any()) or bool((s > info.max / 16).any())
    if overflow:
        s = np.where((s > info.max / 16) | rows_overflow.reshape((-1,) + (1,) * (s.ndim - 1)), np.nan, s)
    if any(t[6] for t in tape) or not np.isfinite(s).all() or overflow:
        return h, s, None

    def vjp(g):
        out, sg = [], np.abs(g)
        with np.errstate(all="ignore"):
            for h_, s_, W, b, d, ds, _ in reversed(tape):
                dz, sdz = masked(g, d), act_grad_scale(sg, ds)
                dW = (h_.T @ dz, (np.abs(h_) + s_).T @ sdz)
                db = None if b is None else (dz.sum(axis=0), sdz.sum(axis=0))
                out = [dW, db] + out
                g, sg = dz @ W.T, sdz @ np.abs(W.T)
        return [(g, sg)] + out
    return h, s, vjp


def _dense_args(draw, n_layers):
    n, width = dim(draw), draw.integer(1, 4)
    x = arr(draw, (n, width) if chance(draw, 95) else (n, width + 1), float_only=True)
    layers = []
    for _ in range(n_layers):
        out = draw.integer(1, 4)
        W = arr(draw, (width, out), float_only=True)
        b = arr(draw, (out,) if chance(draw, 97) else (out + 1,), float_only=True) if chance(draw, 75) else None
        act = choice(draw, ACTS)
        p = {"leaky_relu": choice(draw, (None, 0.1)), "elu": choice(draw, (None, 0.5))}.get(act)
        layers.append((W, b, act, p))
        width = out
    return x, layers


def _check_chain(x, layers, op):
    width = x.shape[1] if x.ndim == 2 else None
    if x.ndim != 2:
        raise Refuse(f"{op}: x not 2-D", (ValueError,))
    for W, b, _, _ in layers:
        if W.shape[0] != width or (b is not None and b.shape != (W.shape[1],)):
            raise Refuse(f"{op}: shapes", (ValueError,))
        width = W.shape[1]


def _dense_op(chain):
    op = "dense_chain" if chain else "dense"

    def build(draw):
        x, layers = _dense_args(draw, draw.integer(1, 3) if chain else 1)
        flat = [x] + [v for W, b, _, _ in layers for v in (W, b)]
        specs = [(act, p) for _, _, act, p in layers]

        def run(xs, grad):
            ts = [None if a is None else leaf(a, grad) for a in xs]
            ls = [(ts[1 + 2 * i], ts[2 + 2 * i], act, p) for i, (act, p) in enumerate(specs)]
            out = tensor_ops.dense(ts[0], *ls[0]) if not chain else tensor_ops.dense_chain(ts[0], ls)
            return out, ts

        def ref(vals):
            lv = [(vals[1 + 2 * i], vals[2 + 2 * i], act, p) for i, (act, p) in enumerate(specs)]
            _check_chain(vals[0], lv, op)
            dt = result_dtype(*[a for a in flat if a is not None])
            y, s, vjp = dense_ref(vals[0], lv, dtype=dt)
            return Ref(y, s, dt, vjp)
        return Case(op, flat, run, ref, {"activations": specs}, gseed=draw.integer(0, 999), rtol=16.0,
                    names=("dense",))
    return build


def _model(draw):
    """Dense / Linear / Sequential (fused or not) / MLP on a drawn batch: the model's own
    parameters are the reference's weights; fused and unfused give the same bits."""
    kind = choice(draw, ("Dense", "Linear", "Sequential", "MLP"))
    dt = choice(draw, (np.float32, np.float64))
    sizes = [draw.integer(1, 4) for _ in range(draw.integer(2, 4))]
    acts = [choice(draw, ACTS) for _ in sizes[1:]]
    fuse, seed = chance(draw, 50), draw.integer(0, 99)
    n = dim(draw)
    bad = choice(draw, (None,) * 12 + ("none", "str", "dict", "width", "1d"))
    x = arr(draw, (n, sizes[0] + (bad == "width")) if bad != "1d" else (sizes[0],))

    def make():
        if kind in ("Dense", "Linear"):
            return getattr(nn, kind)(sizes[0], sizes[1], activation=acts[0], rng=seed, dtype=dt)
        if kind == "MLP":
            return nn.MLP(sizes, activation=acts[0] or "relu", rng=seed, dtype=dt, fuse=fuse)
        return nn.Sequential(*[nn.Dense(a, b, activation=act, rng=seed + i, dtype=dt)
                               for i, (a, b, act) in enumerate(zip(sizes, sizes[1:], acts))], fuse=fuse)
    model = make()

    def run(xs, grad):
        m = make()
        inp = {"none": None, "str": "ab", "dict": {}}.get(bad, xs[0])
        y = m(inp)
        run.params = list(m.parameters())
        return y, [None]

    def ref(vals):
        if bad in ("none", "str", "dict"):
            raise Refuse("model: not an array", (TypeError,))
        layers = [(W.data.astype(np.float64), None if b is None else b.data.astype(np.float64), act, p)
                  for W, b, act, p in _layers_of(model)]
        _check_chain(vals[0], layers, kind)
        y, s, _ = dense_ref(vals[0], layers, dtype=np.float32 if dt == np.float32 and x.compute_dtype == np.float32
                            else np.float64)
        return Ref(y, s, None)
    return Case(kind, [x], run, ref, {"sizes": sizes, "activations": acts, "fuse": fuse, "dtype": np.dtype(dt).name,
                                      "bad": bad}, grad=False, rtol=16.0,
                names=("dense", "linear", "sequential", "mlp", "input", "model"))


def _layers_of(model):
    mods = [model] if isinstance(model, nn.Dense) else list(model)
    return [(m.weight, m.bias, m.activation, m.activation_param) for m in mods]


def _act_module(draw):
    name = choice(draw, ("ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "SELU", "GELU", "Softplus", "Identity"))
    a = arr(draw, (dim(draw), dim(draw)))
    key = {"LeakyReLU": "leaky_relu", "Identity": "identity"}.get(name, name.lower())
    p = {"leaky_relu": 0.01, "elu": 1.0}.get(key, 0.0)

    def run(xs, grad):
        # Identity returns its input as it is: hand it a Tensor made by the constructor
        t = mi.Tensor(xs[0], requires_grad=grad and a.is_float) if name == "Identity" else leaf(xs[0], grad)
        return getattr(nn, name)()(t), [t]

    def ref(vals):
        y, d, scale, dscale = ACTIVATIONS[key](vals[0], p)
        dt = None if name == "Identity" else a.compute_dtype  # Identity hands back its input
        return Ref(y, scale, dt, lambda g: [(masked(g, d), act_grad_scale(g, dscale))])
    return Case(name, [a], run, ref, gseed=draw.integer(0, 999), rtol=8.0, names=(name, key))


# ------------------------------------------------------------------ losses
def _open_where(scale, d, big):
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(np.broadcast_to(d, np.shape(scale))) > big, np.nan, scale)


def _xent_ref(x, t, soft, reduction):
    with np.errstate(all="ignore"):
        m = np.max(x, axis=1, keepdims=True, initial=-np.inf)
        e = np.exp(x - m)
        s = e.sum(axis=1, keepdims=True)
        lse, p = m + np.log(s), e / s  # (not exp(x - lse): lse absorbs log s next to -1e30)
        w = t if soft else np.eye(x.shape[1])[t]
        rows = (w * (lse - x)).sum(axis=1) if soft else (lse[:, 0] - x[np.arange(len(t)), t])
        srows = (np.abs(w) * (np.abs(lse) + np.abs(x))).sum(axis=1)
        d = p * w.sum(axis=1, keepdims=True) - w
    return rows, srows, d


def _loss(name):
    fn = {"cross_entropy": losses.cross_entropy, "mse": losses.mse, "bce": losses.binary_cross_entropy_with_logits,
          "hinge": losses.hinge}[name]
    cls = {"cross_entropy": losses.CrossEntropyLoss, "mse": losses.MSELoss, "bce": losses.BCEWithLogitsLoss,
           "hinge": losses.HingeLoss}[name]

    def build(draw):
        n, c = dim(draw), draw.integer(0 if chance(draw, 5) else 1, 4)
        reduction = choice(draw, ("mean", "mean", "sum", "none", "avg"))
        as_object = chance(draw, 20) and reduction != "avg"
        soft = name == "cross_entropy" and chance(draw, 30)
        x = arr(draw, (n, c) if chance(draw, 95) else (n,), float_only=True)
        rng = np.random.default_rng(draw.integer(0, 999))
        if name == "cross_entropy" and not soft:
            hi = c + (1 if chance(draw, 5) else 0)
            t = Arr(rng.integers(-(chance(draw, 3)), max(hi, 1), n), choice(draw, ("<i8", ">i4", "|u1")))
        elif name == "hinge":
            t = Arr(rng.choice((-1.0, 1.0, 1.0, -1.0, 0.0 if chance(draw, 3) else 1.0), (n, c)), "<f4")
        else:
            t = arr(draw, (n, c), float_only=True)
            if soft or name == "bce":
                t = Arr(np.abs(np.nan_to_num(t.values)) % 1.0, t.dtype, t.layout)
        t_grad = name in ("mse", "bce", "hinge") and chance(draw, 50)

        def run(xs, grad):
            tx = leaf(xs[0], grad)
            tt = leaf(xs[1], grad) if t_grad else xs[1]
            out = cls(reduction)(tx, tt) if as_object else fn(tx, tt, reduction)
            return out, [tx, tt if t_grad else None]

        def ref(vals):
            xv, tv = vals
            if reduction not in ("mean", "sum", "none"):
                raise Refuse("reduction", (ValueError,))
            if name == "cross_entropy":
                if xv.ndim != 2 or (n and c == 0):
                    raise Refuse("xent: shape", (ValueError,))
                if not soft:
                    tv = t.native_values().astype(np.int64)
                    if tv.size and (tv.min() < 0 or tv.max() >= c):
                        raise Refuse("label range", (ValueError,))
                rows, srows, d = _xent_ref(xv, tv, soft, reduction)
                if n and np.isneginf(xv).all(axis=1).any():
                    raise Refuse("all -inf row", (ValueError,))
                dt = x.compute_dtype if not soft else None
            else:
                if xv.shape != tv.shape:
                    raise Refuse("shape", (ValueError,))
                if name == "hinge" and ((tv != 1) & (tv != -1)).any():
                    raise Refuse("hinge targets", (ValueError,))
                with np.errstate(all="ignore"):
                    if name == "mse":
                        rows, d, dtg = (xv - tv) ** 2, 2 * (xv - tv), -2 * (xv - tv)
                        srows = rows + 4 * np.abs(xv - tv) * (np.abs(xv) + np.abs(tv))
                    elif name == "bce":
                        sp = ACTIVATIONS["softplus"](xv, 0.0)[0]
                        rows, srows = sp - xv * tv, np.abs(sp) + np.abs(xv * tv)
                        d, dtg = ACTIVATIONS["sigmoid"](xv, 0.0)[0] - tv, -xv
                    else:
                        m = 1 - tv * xv
                        rows, srows = np.where(m > 0, m, 0.0), 1 + np.abs(xv)
                        d, dtg = -tv * (m > 0), -xv * (m > 0)
                dt = result_dtype(x, t)
            k = rows.size if name != "cross_entropy" else n
            if reduction == "none":
                out, scale = rows, srows
            else:
                out, scale = rows.sum(), srows.sum()
                if reduction == "mean":  # an empty batch's mean is 0 (docs: not NaN)
                    out, scale = (out / k, scale / k) if k else (0.0, 0.0)

            def vjp(g):
                ge = (np.broadcast_to(g / k if reduction == "mean" and k else g, rows.shape)
                      if reduction != "none" else g)
                if name == "cross_entropy":
                    ge = ge[:, None]
                with np.errstate(all="ignore"):  # losses multiply plainly: 0 * inf is NaN
                    gx = ge * d
                    gt = ge * dtg if t_grad else None
                # a local derivative near the dtype's range (2 (x - t) of huge values) may
                # overflow before g multiplies it, as in PyTorch: left open
                big = np.finfo(x.compute_dtype).max / 8
                return [(gx, _open_where(np.abs(gx) + np.abs(ge), d, big)),
                        gt if gt is None else (gt, _open_where(np.abs(gt) + np.abs(ge), dtg, big))]
            return Ref(out, scale, dt, vjp)
        return Case(name, [x, t], run, ref, {"reduction": reduction, "object": as_object, "soft": soft},
                    gseed=draw.integer(0, 999), rtol=16.0,
                    names=({"bce": "binary_cross_entropy", "mse": "mse"}.get(name, name), "reduction"))
    return build


# ------------------------------------------------------------------ functional (arrays in, arrays out)
class _Out:
    """A functional result in the shape the property expects (``.data``, no graph)."""

    requires_grad = False

    def __init__(self, data):
        self.data = data


def _functional_activation(draw):
    name = choice(draw, ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus", "identity"))
    x = arr(draw, (dim(draw), dim(draw)))
    dy = arr(draw, x.values.shape if chance(draw, 95) else (dim(draw) + 5,))
    backward = chance(draw, 50)
    p = {"leaky_relu": 0.01, "elu": 1.0}.get(name, 0.0)

    def run(xs, grad):
        y = F.activation_forward(name, xs[0])
        return _Out(F.activation_backward(name, xs[0], y, xs[1]) if backward else y), [None, None]

    def ref(vals):
        y, d, scale, dscale = ACTIVATIONS[name](vals[0], p)
        if not backward:
            return Ref(y, scale, x.compute_dtype)
        if vals[1].shape != vals[0].shape:
            raise Refuse("dy shape", (ValueError,))
        with np.errstate(over="ignore"):  # dy is brought to x's dtype (may overflow to inf)
            dy = vals[1].astype(x.compute_dtype).astype(np.float64)
        gx = masked(dy, d)
        # inf * a zero derivative: NaN from the kernel, 0 from PyTorch's relu: left open
        scale = np.where(np.isinf(dy) & (d == 0), np.nan, act_grad_scale(dy, dscale))
        return Ref(gx, scale, x.compute_dtype)
    return Case("activation_forward" if not backward else "activation_backward", [x, dy], run, ref,
                {"name": name}, grad=False, rtol=8.0, names=(name, "activation", "backward"))


def _functional_matmul(draw):
    n, k, m = dim(draw), dim(draw), dim(draw)
    a, b = arr(draw, (n, k)), arr(draw, (k if chance(draw, 95) else k + 2, m))

    def run(xs, grad):
        return _Out(F.matmul(xs[0], xs[1])), [None, None]

    def ref(vals):
        if vals[0].shape[1] != vals[1].shape[0]:
            raise Refuse("inner dims", (ValueError,))
        with np.errstate(all="ignore"):
            return Ref(vals[0] @ vals[1], 4 * (np.abs(vals[0]) @ np.abs(vals[1])), result_dtype(a, b))
    return Case("F.matmul", [a, b], run, ref, grad=False, rtol=4.0, names=("matmul",))


NN_OPS = {
    "dense": _dense_op(False), "dense_chain": _dense_op(True), "Dense": _model, "activation_module": _act_module,
    "F.activation": _functional_activation, "F.matmul": _functional_matmul,
}
NN_OPS.update({f"loss_{name}": _loss(name) for name in ("cross_entropy", "mse", "bce", "hinge")})


def _functional_of(builder, op, call):
    """The case of ``builder`` with the op called through ``microinit.functional``
    (arrays in, array out, no graph): ``call(arrays, case) -> array``."""
    def build(draw):
        case = builder(draw)

        def run(xs, grad):
            return _Out(call(xs, case)), [None] * len(xs)
        return Case(op, case.inputs, run, case.ref, case.params, grad=False, names=case.names, rtol=case.rtol)
    return build


def _f_softmax(xs, case):
    fn = F.log_softmax_forward if case.op == "log_softmax" else F.softmax_forward
    return fn(xs[0], case.params["axis"])


def _f_dense(xs, case):
    layers = [(xs[1 + 2 * i], xs[2 + 2 * i], act, p) for i, (act, p) in enumerate(case.params["activations"])]
    return F.dense_forward(xs[0], *layers[0])[0]


def _f_loss(xs, case):
    fn = {"cross_entropy": F.cross_entropy_forward, "mse": F.mse_loss_forward,
          "bce": F.bce_with_logits_forward, "hinge": F.hinge_loss_forward}[case.op]
    return fn(xs[0], xs[1], case.params["reduction"])[0]


def _f_loss_case(draw):
    return _functional_of(_loss(choice(draw, ("cross_entropy", "mse", "bce", "hinge"))), "F.loss", _f_loss)(draw)


def _f_softmax_case(draw):
    from benchmarks.fuzz_ops import OPS

    return _functional_of(OPS[choice(draw, ("softmax", "log_softmax"))], "F.softmax", _f_softmax)(draw)


NN_OPS.update({"F.softmax": _f_softmax_case, "F.dense": _functional_of(_dense_op(False), "F.dense", _f_dense),
               "F.loss": _f_loss_case})

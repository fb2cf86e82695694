"""A Plan and a batch shape -> a Program of kernel calls over preallocated buffers.

The records are the eager step's kernel calls in the eager step's order:

1. forward, layer by layer: ``dense`` (products above ``ops.linalg.DENSE_BLAS_MIN``
   multiply-adds go to numpy's BLAS first, as the eager op sends them);
2. the loss and its gradient with respect to the output (``mse`` or ``xent``);
3. backward, last layer first: ``dense`` backward writing each parameter's gradient
   into a buffer of its own and each layer's input gradient into the layer below's;
4. the optimizer: every gradient scanned for NaN/inf first, then one update record
   per parameter in the optimizer's order (``sgd`` or ``adam``).

Dense networks (activations between the layers, nothing else) under SGD change 3 and
4 so that no pass of its own goes over the weights and their gradients: the forward
records ``max|x|`` of each layer's input and the backward ``max|dz|`` of each layer
(``OP_MAXABS``, on arrays still in cache); the backward computes dz, db and dx of
every layer first, then ``OP_PROVE`` checks that those bounds rule out an overflow in
any gradient, and each ``OP_GRAD_W`` record computes dW = x^T dz and, when proved,
runs the SGD update on each block of rows of dW as the GEMM finishes it. The scans
and the weights' update records then do nothing; when the bounds do not prove it
(a huge or non-finite value), every record runs as listed above.

    >>> import numpy as np
    >>> from microinit import losses, nn, optim
    >>> from microinit.compile.plan import make_plan
    >>> model = nn.MLP([2, 16, 1], rng=0)
    >>> plan = make_plan(model, losses.mse, optim.SGD(model.parameters(), lr=0.1))
    >>> built = build(plan, np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32))
    >>> [g.shape for g in built.grads]
    [(2, 16), (16,), (16, 1), (1,)]
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from microinit._kernels import dense as _kdense
from microinit._kernels import matmul as _kmatmul
from microinit._kernels import program as _kprogram
from microinit.aligned import aligned_zeros
from microinit.compile.plan import DenseSpec, ModuleSpec, Plan
from microinit.ops import linalg, pair_losses
from microinit.rng import default_generator
from microinit.tensor import Tensor

__all__ = ["Built", "build"]


class Built:
    """A Program for one batch shape and the buffers a caller reads: ``grads`` (one per
    model parameter, in model order), ``output`` (the model's output in the last step,
    before its update), ``batch`` (rows per step), ``threads`` (the kernels' thread
    count it was built for: which products go to BLAS depends on it, matmul.uses_blas)."""

    __slots__ = ("program", "grads", "output", "batch", "threads")

    def __init__(self, program: Any, grads: list[NDArray[Any]], output: NDArray[Any], batch: int) -> None:
        self.program = program
        self.grads = grads
        self.output = output
        self.batch = batch
        self.threads = _kmatmul.get_num_threads()


def build(plan: Plan, x: NDArray[Any], y: NDArray[Any]) -> Built:
    """The Program of ``plan`` for batches shaped like ``x`` with targets like ``y``."""
    P = _kprogram.Program(x, y)
    dtype = plan.dtype
    n = x.shape[0]
    blas_min = linalg.DENSE_BLAS_MIN
    slot_of: dict[int, int] = {}
    grad_of: dict[int, NDArray[Any]] = {}
    grad_slot: dict[int, int] = {}

    def param_slot(t: Any) -> int:
        slot_of[id(t)] = P.add_slot(t.data)
        g = aligned_zeros(t.data.shape, t.data.dtype)
        grad_of[id(t)] = g
        grad_slot[id(t)] = P.add_slot(g)
        return slot_of[id(t)]

    def buffer(*shape: int) -> int:
        return int(P.add_slot(aligned_zeros(shape, dtype)))

    # the optimizer's parameters by identity: each gradient is checked finite by the
    # record after the one that computes it (program.pyx: before any update runs)
    opt_index = {id(p): j for j, p in enumerate(plan.optim.optimizer.params)}
    checked: set[int] = set()

    def check_grads(params: Any) -> None:
        for p in params:
            j = opt_index.get(id(p))
            if j is not None and id(p) not in checked:
                checked.add(id(p))
                P.add(_kprogram.OP_CHECK_GRAD, (grad_slot[id(p)],), p.data.size, k=j)

    # Plain dense networks under SGD update each weight from its gradient's rows as the
    # GEMM finishes them (OP_GRAD_W), once bounds on the layers' inputs and gradients
    # have proved every gradient finite (OP_PROVE; otherwise the records below run as
    # listed). The weight gradients then come after all input gradients, so that no
    # weight changes before the backward has read it.
    fuse = _fusable(plan)
    n_dense = sum(isinstance(spec, DenseSpec) for spec in plan.layers)
    bounds = P.add_slot(np.zeros(2 * n_dense, np.float64)) if fuse else -1
    # (fused) rows[] index of each dense layer, bottom up -> the bounds entry of its
    # max|x| (max|dz| is the next one) and its spec; and the slot its backward leaves dz in
    dense_layers: dict[int, tuple[int, DenseSpec]] = {}
    dz_of: dict[int, int] = {}
    sgd = _sgd_settings(P, plan)
    _require_records(P, plan)
    if plan.loss.kind == "cross_entropy":
        # labels first: one out of range (ignore_index, a bad label) runs the step eagerly
        # before any record has drawn a dropout mask or moved a running statistic
        P.add(_kprogram.OP_LABELS, (1,), n, plan.out_features)
    # forward: each layer reads slot `inp` (0 is the batch) and writes its output slot
    inp, width = 0, x.shape[1]
    rows: list[Any] = []
    for spec in plan.layers:
        if isinstance(spec, ModuleSpec):
            for t in spec.params:
                param_slot(t)
            out = buffer(n, width)
            rows.append((inp, out, width, _module_forward(P, spec, inp, out, n * width)))
            inp = out
            continue
        k, o = spec.weight.data.shape
        w = param_slot(spec.weight)
        b = param_slot(spec.bias) if spec.bias is not None else -1
        yslot = buffer(n, o)
        z = buffer(n, o) if spec.code in _kdense.NEEDS_Z else yslot
        blas = _kmatmul.uses_blas(n * k * o, blas_min)  # the eager layer's rule (matmul.pyx)
        blas_bwd = _kmatmul.uses_blas(n * k * o, blas_min, True)  # for x^T dz and dz W^T
        if fuse:  # max|x| of the layer's input, while it is in cache
            dense_layers[len(rows)] = (2 * len(dense_layers), spec)
            P.add(_kprogram.OP_MAXABS, (inp, bounds), n * k, k=dense_layers[len(rows)][0])
        if blas:
            P.add(_kprogram.OP_BLAS, (inp, w, z))
        P.add(_kprogram.OP_DENSE_FWD, (inp, w, b, z, yslot), n, o, k, act=spec.code, param=spec.param,
              flag=int(blas))
        rows.append((inp, yslot, o, (w, b, z, k, blas_bwd)))
        inp, width = yslot, o
    # loss -> gradient of the last output
    g_out = buffer(n, width)
    if plan.loss.kind == "mse":
        P.add(_kprogram.OP_MSE, (inp, 1, buffer(n, width), g_out), n, width, flag=int(plan.loss.mean))
    elif plan.loss.kind == "cross_entropy":
        P.add(_kprogram.OP_XENT, (inp, 1, buffer(n, width), g_out), n, width, flag=int(plan.loss.mean))
    else:
        P.add(_kprogram.OP_PYCALL, (), call=_numpy_loss(plan, P.array(inp), P.array(g_out)))
    # backward: g is the gradient of layer i's output; dx that of its input
    g = g_out
    for i in range(len(rows) - 1, -1, -1):
        xin, yslot, o, detail = rows[i]
        spec = plan.layers[i]
        dx = buffer(n, *P.array(xin).shape[1:]) if xin != 0 else -1
        if isinstance(spec, ModuleSpec):
            _module_backward(P, spec, detail, (xin, yslot, g, dx), [grad_of[id(p)] for p in spec.params], n * o)
            check_grads(spec.params)
            g = dx
            continue
        w, b, z, k, blas_bwd = detail
        dW = grad_slot[id(spec.weight)]
        db = grad_slot[id(spec.bias)] if spec.bias is not None else -1
        # dz (in place in g) and db; dW and dx by the own kernel in the same record, or
        # through BLAS; a fused network's dW comes after OP_PROVE (below)
        P.add(_kprogram.OP_DENSE_BWD, (xin, w, z, yslot, g, g, -1 if blas_bwd else dx,
                                       -1 if (blas_bwd or fuse) else dW, db), n, o, k,
              act=spec.code, param=spec.param, flag=int(blas_bwd))
        if blas_bwd and not fuse:
            P.add(_kprogram.OP_BLAS, (xin, g, dW), flag=1)          # dW = x^T dz
        if blas_bwd and dx >= 0:
            P.add(_kprogram.OP_BLAS, (g, w, dx), flag=2)            # dx = dz W^T
        if fuse:
            P.add(_kprogram.OP_MAXABS, (g, bounds), n * o, k=dense_layers[i][0] + 1)
            dz_of[i] = g
        else:
            check_grads(spec.params)
        g = dx
    fused: set[int] = set()
    if fuse:
        P.add(_kprogram.OP_PROVE, (bounds,), n_dense, n)
        for i, (_, dspec) in dense_layers.items():  # bottom up: the last dz computed is read first
            xin, _, o, (w, _, _, k, blas_bwd) = rows[i]
            dW, dz = grad_slot[id(dspec.weight)], dz_of[i]
            j = opt_index.get(id(dspec.weight))
            if blas_bwd:
                P.add(_kprogram.OP_BLAS, (xin, dz, dW), flag=1)         # dW = x^T dz
            else:
                buf, f, nesterov = sgd[id(dspec.weight)] if j is not None else (-1, (), 0)
                P.add(_kprogram.OP_GRAD_W, (xin, dz, dW, w, buf), k, o, n, f=f, index=-1 if j is None else j,
                      flag=nesterov | (2 if j is not None else 0))
                if j is not None:
                    fused.add(id(dspec.weight))
            check_grads(dspec.params)
    check_grads(plan.optim.optimizer.params)  # any the layers above did not compute
    _optimizer_records(P, plan, grad_slot, slot_of, sgd, fused)
    return Built(P, [grad_of[id(p)] for p in plan.params], P.array(rows[-1][1]), n)


def _module_forward(P: Any, spec: ModuleSpec, inp: int, out: int, size: int) -> Any:
    """The forward records of a width-keeping layer; returns what its backward needs."""
    if spec.kind == "activation":  # elementwise.pyx's loop, as the eager activation op
        P.add(_kprogram.OP_ACT_FWD, (inp, out), size, act=spec.code, param=spec.param)
        return None
    if spec.kind == "dropout":
        shape = P.array(out).shape
        u = P.add_slot(np.zeros(shape, P.array(out).dtype))  # zeros: all kept while p is 0
        keep = P.add_slot(np.zeros(shape, np.uint8))
        p = P.add_slot(np.zeros(1, np.float64))
        P.add(_kprogram.OP_PYCALL, (), call=_dropout_draw(spec.module, P.array(u), P.array(p)))
        P.add(_kprogram.OP_DROPOUT_FWD, (inp, u, out, keep, p), size)
        return keep, p
    if spec.kind == "layer_norm":  # norm.pyx's row loops, as the eager layer_norm op
        rows, width = P.array(out).shape
        w, b = (_module_param_slot(P, spec, i) for i in (0, 1))
        mean, rstd = (P.add_slot(np.zeros(rows, P.array(out).dtype)) for _ in range(2))
        P.add(_kprogram.OP_LAYER_NORM_FWD, (inp, w, b, out, mean, rstd), rows, width, param=spec.param)
        return w, mean, rstd
    record = _ModuleRecord(spec, None if inp == 0 else P.array(inp), P.array(out))
    P.add(_kprogram.OP_PYCALL, (), call=record.forward)
    return record


def _module_param_slot(P: Any, spec: ModuleSpec, i: int) -> int:
    """The slot of the module's weight (i = 0) or bias (1), -1 without one."""
    t = getattr(spec.module, ("weight", "bias")[i])
    return -1 if t is None else int(P.slot_of(t.data))


def _module_backward(P: Any, spec: ModuleSpec, detail: Any, slots: tuple[int, int, int, int],
                     pgrads: list[NDArray[Any]], size: int) -> None:
    """The backward records of a width-keeping layer: g (its output's gradient) -> dx."""
    xin, out, g, dx = slots
    if spec.kind == "activation":
        if dx >= 0:
            P.add(_kprogram.OP_ACT_BWD, (xin, out, g, dx), size, act=spec.code, param=spec.param)
    elif spec.kind == "dropout":
        if dx >= 0:
            keep, p = detail
            P.add(_kprogram.OP_DROPOUT_BWD, (g, keep, dx, p), size)
    elif spec.kind == "layer_norm":
        w, mean, rstd = detail
        rows, width = P.array(out).shape
        dw, db = (-1, -1) if not pgrads else (P.slot_of(pgrads[0]), P.slot_of(pgrads[1]))
        acc = -1 if not pgrads else P.add_slot(np.zeros(2 * width, np.float64))
        if dx >= 0 or acc >= 0:
            P.add(_kprogram.OP_LAYER_NORM_BWD, (xin, mean, rstd, w, g, dx, acc, dw, db), rows, width)
    else:
        detail.gradients(P.array(g), None if dx < 0 else P.array(dx), pgrads)
        P.add(_kprogram.OP_PYCALL, (), call=detail.backward)


def _dropout_draw(module: Any, u: NDArray[Any], p: NDArray[Any]) -> Callable[[Any, Any], None]:
    """The draw the eager dropout op makes: uniforms from the module's generator (the
    default one when it has none), only while training with p > 0; p = 0 otherwise
    (the dropout record then passes x through, as the op returns x itself)."""
    def draw(x: Any, y: Any) -> None:
        if module.training and module.p > 0:
            gen = module.rng if module.rng is not None else default_generator()
            gen.random(dtype=u.dtype, out=u)
            p[0] = module.p
        else:
            p[0] = 0.0
    return draw


class _ModuleRecord:
    """A width-keeping module (Dropout, BatchNorm1d, LayerNorm, an unfused activation)
    run by its own eager forward and backward inside the program: the same kernels, the
    same random draws and running statistics as the eager step, at eager speed."""

    def __init__(self, spec: ModuleSpec, inp: NDArray[Any] | None, out: NDArray[Any]) -> None:
        self.module = spec.module
        self.params = spec.params
        self.inp = inp            # None: the module reads the batch itself
        self.out = out
        self.gout: NDArray[Any] | None = None
        self.gin: NDArray[Any] | None = None
        self.pgrads: list[NDArray[Any]] = []
        self.x: Tensor | None = None
        self.y: Tensor | None = None

    def gradients(self, gout: NDArray[Any], gin: NDArray[Any] | None, pgrads: list[NDArray[Any]]) -> None:
        self.gout, self.gin, self.pgrads = gout, gin, pgrads

    def forward(self, x: Any, y: Any) -> None:
        self.x = Tensor(x if self.inp is None else self.inp, requires_grad=self.gin is not None)
        self.y = self.module(self.x)
        self.out[...] = self.y.data

    def backward(self, x: Any, y: Any) -> None:
        out, inp = self.y, self.x
        self.x = self.y = None
        if self.gin is None and not self.params:
            return
        for p in self.params:
            p.grad = None
        out.backward(self.gout)  # type: ignore[union-attr]  # set by forward
        if self.gin is not None:
            self.gin[...] = inp.grad  # type: ignore[union-attr]  # set by forward
        for p, g in zip(self.params, self.pgrads):
            g[...] = p.grad


# Losses whose eager op computes in numpy (ops/pair_losses.py): the program calls that
# op's own forward and backward (one path per op), with the loss's usual seed of 1.
_NUMPY_LOSSES: dict[str, tuple[Any, Any]] = {
    "bce_with_logits": (pair_losses.bce_with_logits_forward, pair_losses.bce_with_logits_backward),
    "hinge": (pair_losses.hinge_loss_forward, pair_losses.hinge_loss_backward),
}


def _numpy_loss(plan: Plan, pred: NDArray[Any], grad: NDArray[Any]) -> Callable[[Any, Any], float]:
    forward, backward = _NUMPY_LOSSES[plan.loss.kind]
    reduction = "mean" if plan.loss.mean else "sum"
    seed = np.ones((), pred.dtype)

    def loss_record(x: Any, y: Any) -> float:
        loss, saved = forward(pred, y, reduction)
        grad[...] = backward(saved, seed, False)[0]
        return float(loss)
    return loss_record


def _require_records(P: Any, plan: Plan) -> None:
    """The eager SGD initialises a momentum buffer from its first gradient; the program
    only continues buffers, so it checks first that all are set (else that step runs
    eagerly)."""
    ready = plan.optim.state.get("buffer_ready")
    if plan.optim.kind == "sgd" and ready is not None:
        P.add(_kprogram.OP_REQUIRE, (P.add_slot(ready),), ready.size)


def _fusable(plan: Plan) -> bool:
    """SGD over the weights and biases of dense layers with only activations between
    them: the networks whose updates OP_GRAD_W records can run (see build)."""
    if plan.optim.kind != "sgd":
        return False
    dense: set[int] = set()
    for spec in plan.layers:
        if isinstance(spec, ModuleSpec):
            if spec.kind != "activation":
                return False
            continue
        dense.update(id(t) for t in spec.params)
    return all(id(p) in dense for p in plan.optim.optimizer.params)


def _sgd_settings(P: Any, plan: Plan) -> dict[int, tuple[int, tuple[float, ...], int]]:
    """Per SGD parameter (by id): the slot of its momentum buffer (-1: none), the
    record's constants (momentum, dampening, weight decay) and its nesterov flag."""
    if plan.optim.kind != "sgd":
        return {}
    opt: Any = plan.optim.optimizer
    bufs = plan.optim.state.get("momentum_buffer")
    f = (opt.momentum, opt.dampening, opt.weight_decay) if bufs is not None else (0.0, 0.0, opt.weight_decay)
    return {id(p): (P.add_slot(bufs[j]) if bufs is not None else -1, f, int(opt.nesterov))
            for j, p in enumerate(opt.params)}


def _optimizer_records(P: Any, plan: Plan, grad_slot: dict[int, int], slot_of: dict[int, int],
                       sgd: dict[int, tuple[int, tuple[float, ...], int]], fused: set[int]) -> None:
    """One update record per parameter, in the optimizer's order; an SGD record of a
    parameter in ``fused`` is skipped when OP_PROVE held (its OP_GRAD_W updated it)."""
    opt: Any = plan.optim.optimizer
    state = plan.optim.state
    params = opt.params
    if plan.optim.kind == "sgd":
        for j, p in enumerate(params):
            buf, f, nesterov = sgd[id(p)]
            P.add(_kprogram.OP_SGD, (slot_of[id(p)], grad_slot[id(p)], buf), p.data.size, k=j,
                  flag=nesterov | (2 if id(p) in fused else 0), f=f)
    else:
        steps = P.add_slot(state["steps"])
        b1, b2 = opt.betas
        for j, p in enumerate(params):
            P.add(_kprogram.OP_ADAM, (slot_of[id(p)], grad_slot[id(p)], P.add_slot(state["exp_avg"][j]),
                                      P.add_slot(state["exp_avg_sq"][j]), steps), p.data.size, k=j,
                  flag=int(opt.decoupled), f=(b1, b2, opt.eps, opt.weight_decay))

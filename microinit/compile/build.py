"""A Plan and a batch shape -> a Program of kernel calls over preallocated buffers.

The records are the eager step's kernel calls in the eager step's order:

1. forward, layer by layer: ``dense`` (products above ``ops.linalg.DENSE_BLAS_MIN``
   multiply-adds go to numpy's BLAS first, as the eager op sends them);
2. the loss and its gradient with respect to the output (``mse`` or ``xent``);
3. backward, last layer first: ``dense`` backward writing each parameter's gradient
   into a buffer of its own and each layer's input gradient into the layer below's;
4. the optimizer: every gradient scanned for NaN/inf first, then one update record
   per parameter in the optimizer's order (``sgd`` or ``adam``).

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
from microinit._kernels import program as _kprogram
from microinit.compile.plan import Plan
from microinit.ops import linalg, pair_losses

__all__ = ["Built", "build"]


class Built:
    """A Program for one batch shape and the buffers a caller reads: ``grads`` (one per
    model parameter, in model order), ``output`` (the model's output in the last step,
    before its update), ``batch`` (rows per step)."""

    __slots__ = ("program", "grads", "output", "batch")

    def __init__(self, program: Any, grads: list[NDArray[Any]], output: NDArray[Any], batch: int) -> None:
        self.program = program
        self.grads = grads
        self.output = output
        self.batch = batch


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
        g = np.zeros_like(t.data)
        grad_of[id(t)] = g
        grad_slot[id(t)] = P.add_slot(g)
        return slot_of[id(t)]

    def buffer(*shape: int) -> int:
        return int(P.add_slot(np.zeros(shape, dtype)))

    _require_records(P, plan)
    # forward
    inp = 0
    rows = []   # per layer: (input slot, W, b, z, y, in, out, blas)
    for spec in plan.layers:
        k, o = spec.weight.data.shape
        w = param_slot(spec.weight)
        b = param_slot(spec.bias) if spec.bias is not None else -1
        yslot = buffer(n, o)
        z = buffer(n, o) if spec.code in _kdense.NEEDS_Z else yslot
        blas = n * k * o > blas_min
        if blas:
            P.add(_kprogram.OP_BLAS, (inp, w, z))
        P.add(_kprogram.OP_DENSE_FWD, (inp, w, b, z, yslot), n, o, k, act=spec.code, param=spec.param,
              flag=int(blas))
        rows.append((inp, w, b, z, yslot, k, o, blas))
        inp = yslot
    # loss -> gradient of the last output
    out_cols = rows[-1][6]
    g_out = buffer(n, out_cols)
    if plan.loss.kind == "mse":
        P.add(_kprogram.OP_MSE, (inp, 1, buffer(n, out_cols), g_out), n, out_cols, flag=int(plan.loss.mean))
    elif plan.loss.kind == "cross_entropy":
        P.add(_kprogram.OP_XENT, (inp, 1, buffer(n, out_cols), g_out), n, out_cols, flag=int(plan.loss.mean))
    else:
        P.add(_kprogram.OP_PYCALL, (), call=_numpy_loss(plan, P.array(inp), P.array(g_out)))
    # backward
    g = g_out
    for i in range(len(rows) - 1, -1, -1):
        xin, w, b, z, yslot, k, o, blas = rows[i]
        spec = plan.layers[i]
        dW = grad_slot[id(spec.weight)]
        db = grad_slot[id(spec.bias)] if spec.bias is not None else -1
        dx = buffer(n, k) if i > 0 else -1
        if blas:
            P.add(_kprogram.OP_DENSE_BWD, (xin, w, z, yslot, g, g, -1, -1, db), n, o, k,
                  act=spec.code, param=spec.param, flag=1)
            P.add(_kprogram.OP_BLAS, (xin, g, dW), flag=1)          # dW = x^T dz
            if dx >= 0:
                P.add(_kprogram.OP_BLAS, (g, w, dx), flag=2)        # dx = dz W^T
        else:
            P.add(_kprogram.OP_DENSE_BWD, (xin, w, z, yslot, g, g, dx, dW, db), n, o, k,
                  act=spec.code, param=spec.param)
        g = dx
    _optimizer_records(P, plan, grad_slot, slot_of)
    return Built(P, [grad_of[id(p)] for p in plan.params], P.array(rows[-1][4]), n)


# Losses whose eager op computes in numpy (ops/pair_losses.py): the program calls that
# op's own forward and backward (one path per op), with the loss's usual seed of 1.
_NUMPY_LOSSES = {
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


def _optimizer_records(P: Any, plan: Plan, grad_slot: dict[int, int], slot_of: dict[int, int]) -> None:
    opt = plan.optim.optimizer
    state = plan.optim.state
    params = opt.params
    for j, p in enumerate(params):
        P.add(_kprogram.OP_CHECK_GRAD, (grad_slot[id(p)],), p.data.size, k=j)
    if plan.optim.kind == "sgd":
        bufs = state.get("momentum_buffer")
        f = (opt.momentum, opt.dampening, opt.weight_decay) if bufs is not None else (0.0, 0.0, opt.weight_decay)
        for j, p in enumerate(params):
            buf = P.add_slot(bufs[j]) if bufs is not None else -1
            P.add(_kprogram.OP_SGD, (slot_of[id(p)], grad_slot[id(p)], buf), p.data.size, k=j,
                  flag=int(opt.nesterov), f=f)
    else:
        steps = P.add_slot(state["steps"])
        b1, b2 = opt.betas
        for j, p in enumerate(params):
            P.add(_kprogram.OP_ADAM, (slot_of[id(p)], grad_slot[id(p)], P.add_slot(state["exp_avg"][j]),
                                      P.add_slot(state["exp_avg_sq"][j]), steps), p.data.size, k=j,
                  flag=int(opt.decoupled), f=(b1, b2, opt.eps, opt.weight_decay))

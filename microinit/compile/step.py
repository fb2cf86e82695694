"""``compile_step``: one whole training step captured once and replayed as one C call.

    >>> import numpy as np
    >>> from microinit import compile_step, losses, nn, optim
    >>> model = nn.MLP([2, 16, 1], rng=0)
    >>> opt = optim.SGD(model.parameters(), lr=0.01)
    >>> step = compile_step(model, losses.mse, opt)
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((100, 2)).astype(np.float32); y = x[:, :1] * x[:, 1:]
    >>> first = step(x, y)                  # runs eagerly, captures and verifies the program
    >>> later = step.run(np.stack([x] * 50), np.stack([y] * 50))   # 50 steps in one call
    >>> bool(later[-1] < first), later.shape
    (True, (50,))

What a step leaves behind is what the eager step ``opt.zero_grad(); loss_fn(model(x),
y).backward(); opt.step()`` leaves: the parameters and the optimizer's state updated
in place (the same arrays), ``optimizer.step_count`` advanced, and each parameter's
``.grad`` holding this step's gradient -- an array the compiled step owns and
overwrites on its next call (copy it to keep it). Eager and compiled steps mix
freely. The learning rate is read from the optimizer on every call, so schedules
work. The other hyper-parameters are constants of the program: assigning one (momentum,
betas, eps, weight decay, ...) bumps the optimizer's ``hyper_version``, and the next
call captures again. Under ``no_grad()`` the eager step runs, and refuses as it does.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit import losses as _losses_module
from microinit._kernels import matmul as _kmatmul
from microinit._kernels import program as _kprogram
from microinit.autograd.mode import is_grad_enabled
from microinit.compile._hot import StepCore
from microinit.compile.build import Built, build
from microinit.compile.plan import ModuleSpec, Plan, make_plan
from microinit.nn.dropout import Dropout
from microinit.nn.inputs import model_input
from microinit.rng import default_generator
from microinit.tensor import Tensor

__all__ = ["CompiledStep", "compile_step"]

#: relative tolerance of the capture check against the eager step (float32 rounding)
VERIFY_RTOL = 1e-5


class CompiledStep(StepCore):
    """A training step compiled for ``model``, ``loss`` and ``optimizer`` (module docstring).

    ``step(x, y)`` runs one step and returns the loss as a float; ``step.run(xs, ys)``
    runs ``len(xs)`` steps in one call and returns their losses. A batch of a size not
    seen before is captured on first use (the step runs eagerly once, the program is
    built and checked against a second eager step, whose effect is then undone).
    """

    def __init__(self, model: Any, loss: Any, optimizer: Any, verify: bool = True) -> None:
        self._args = (model, loss, optimizer)
        self._plan: Plan = make_plan(model, loss, optimizer)
        self._loss_fn = _losses_module.get(loss)
        self._opt = optimizer
        self._built: dict[int, Built] = {}
        self._fast = None                     # the last used Program: __call__'s first try
        self._bind_plan()
        self.verify = verify
        self._disabled = False                # the capture check failed: every step runs eagerly
        self._current: Built | None = None

    @property
    def output(self) -> NDArray[Any] | None:
        """The model's output in the last step (computed before its update): an array
        the compiled step owns and overwrites, or the eager step's own output when the
        last step ran eagerly; None before any step."""
        if self._eager_out is not None or self._current is None:
            return self._eager_out  # type: ignore[no-any-return]
        return self._current.output

    def __repr__(self) -> str:
        model, loss, opt = self._args
        sizes = sorted(self._built)
        return (f"CompiledStep({type(model).__name__}, {self._loss_fn!r}, {type(opt).__name__}; "
                f"programs for batch sizes {sizes})")

    # __call__(x, y) and _account(nsteps) are StepCore's (microinit/compile/_hot.pyx):
    # run self._fast, or self._slow(x, y) when it does not take the call.

    def run(self, xs: ArrayLike, ys: ArrayLike) -> NDArray[np.float64]:
        """``len(xs)`` steps in one call: step i trains on ``xs[i]``, ``ys[i]``.

        ``xs``: ``(k, batch, in_features)``; ``ys``: ``(k, batch)`` integer labels
        (cross-entropy) or ``(k, batch, out_features)`` targets. Returns the k losses
        (float64). No Python runs between the steps; a step the program does not cover
        (a label out of range, ...) runs eagerly in its place.
        """
        plan = self._plan
        xs = model_input(xs, plan.dtype, plan.dense[0].layer)
        xs = np.ascontiguousarray(xs.data if isinstance(xs, Tensor) else xs)
        yv = np.asarray(ys.data if isinstance(ys, Tensor) else ys)
        width = plan.in_features
        if xs.ndim != 3 or xs.shape[2] != width:
            raise ValueError(f"CompiledStep.run: xs must have shape (steps, batch, {width}), got {xs.shape}")
        k, n = xs.shape[0], xs.shape[1]
        labels = plan.loss.kind == "cross_entropy"
        want = (k, n) if labels else (k, n, plan.out_features)
        if yv.shape != want:
            raise ValueError(f"CompiledStep.run: ys must have shape {want} for xs of shape {xs.shape}, "
                             f"got {yv.shape}")
        if labels and yv.dtype.kind not in "iu":
            raise TypeError(f"CompiledStep.run: ys must hold integer class labels, got dtype {yv.dtype}")
        if not labels and yv.dtype.kind not in "fiu":
            raise TypeError(f"CompiledStep.run: ys must hold numbers, got dtype {yv.dtype}")
        yv = np.ascontiguousarray(yv, dtype=np.int64 if labels else plan.dtype)
        out = np.empty(k, np.float64)
        if not is_grad_enabled():  # the eager step refuses under no_grad(): so does this
            for i in range(k):
                out[i] = self._eager(xs[i], yv[i])
            return out
        if self._plan_outdated():
            self._replan()
        i = 0
        if k and n and self._built_for(n) is None:
            out[0] = self(xs[0], yv[0])
            i = 1
        while i < k:
            built = self._built_for(n)
            if built is None or n == 0:
                out[i] = self(xs[i], yv[i])
                i += 1
                continue
            P = built.program
            self._use(built)
            try:
                P.run(xs, yv, self._opt.lr, out, i)
            finally:  # also when interrupted: the steps made are counted
                done = P.steps_done
                self._account(done)
                if done:
                    self._eager_out = None
            i += done
            if P.status == _kprogram.ST_OK:
                break
            if P.status == _kprogram.ST_PARAM_NONFINITE:
                opt = self._opt
                raise FloatingPointError(
                    f"{type(opt).__name__} step {opt.step_count}: {opt.describe_param(P.status_index)} "
                    f"became NaN/inf after the update (the learning rate is probably too high)")
            out[i] = self._after_status(built, xs[i], yv[i])
            i += 1
        return out

    # -- everything else ---------------------------------------------------------
    def recapture(self) -> None:
        """Forget the captured programs: the next call reads the model, the loss and the
        optimizer again (after changing a hyper-parameter other than the learning rate,
        or the model's layers)."""
        self._replan()

    def _plan_outdated(self) -> bool:
        """A parameter array was replaced or a hyper-parameter other than lr assigned
        since the plan was read (what the fast path in _hot.pyx checks too)."""
        return not self._params_intact() or self._opt.hyper_version != self._plan.optim.version

    def _replan(self) -> None:
        """A parameter array was replaced (e.g. ``p.data = ...``): the captured programs
        point at the old arrays; read the model again and capture anew."""
        self._plan = make_plan(*self._args)
        self._built.clear()
        self._fast = self._current = None
        self._bind_plan()

    def _slow(self, x: Any, y: Any) -> float:
        if not is_grad_enabled():
            return self._eager(x, y)  # under no_grad() the eager step refuses, as it should
        if self._plan_outdated():
            self._replan()
        if self._current is not None and self._current.threads != _kmatmul.get_num_threads():
            self._fast = self._current = None  # not run by this call: the thread count changed
        P = self._fast
        if P is not None and P.status != _kprogram.ST_INPUT:
            # the program took the call and stopped early: act on why (it ran once)
            return self._after_status(self._current, x, y)  # type: ignore[arg-type]  # set with _fast
        xy = None if self._disabled else self._inputs(x, y)
        if xy is None:
            return self._eager(x, y)  # raises the eager step's error, or computes what the program does not
        x, y = xy
        built = self._built_for(x.shape[0])
        if built is None:
            return self._capture(x, y)
        P = built.program
        loss = P.step(x, y, self._opt.lr)
        if loss is not None:
            self._use(built)
            self._eager_out = None
            self._account(1)
            return loss  # type: ignore[no-any-return]
        return self._after_status(built, x, y)

    def _bind_plan(self, grads: list[Any] | None = None) -> None:
        params = self._plan.params
        self._bind(params, [p.data for p in params], grads or [None] * len(params), self._opt.params)

    def _built_for(self, n: int) -> Built | None:
        """The program for batches of ``n`` rows, if one was built for the kernels'
        current thread count (a program built for one thread keeps products the
        own GEMM would run with a stalling team on two: matmul.uses_blas)."""
        built = self._built.get(n)
        if built is not None and built.threads != _kmatmul.get_num_threads():
            return None
        return built

    def _use(self, built: Built) -> None:
        self._fast = built.program
        self._current = built
        self._threads = built.threads
        self._bind_plan(built.grads)

    def _after_status(self, built: Built, x: NDArray[Any], y: NDArray[Any]) -> float:
        """Act on a Program that returned early (program.pyx lists the statuses)."""
        P = built.program
        status = P.status
        if status == _kprogram.ST_PARAM_NONFINITE:
            self._use(built)
            self._account(1)
            opt = self._opt
            raise FloatingPointError(
                f"{type(opt).__name__} step {opt.step_count}: {opt.describe_param(P.status_index)} "
                f"became NaN/inf after the update (the learning rate is probably too high)")
        if status == _kprogram.ST_GRAD_NONFINITE:
            # the gradients are computed and nothing is updated: the eager optimizer
            # finds the same gradient and raises its own error
            for p, g in zip(self._plan.params, built.grads):
                p.grad = g
            self._opt.step()
            raise AssertionError("compile_step: the optimizer accepted a non-finite gradient")  # pragma: no cover
        if status == _kprogram.ST_NOMEM:
            raise MemoryError("compile_step: could not allocate a gemm workspace")
        if status == _kprogram.ST_PYERR and P.error is not None:
            # a record running eager code raised (a hinge target not +-1, a BatchNorm
            # batch of one row): the eager step raises the same error at the same point
            err, P.error = P.error, None
            self._opt.zero_grad()  # as the eager step leaves them when it fails there
            raise err
        if status == _kprogram.ST_ALL_NEG_INF:
            self._opt.zero_grad()
            # the loss of these logits raises its own error (the forward is not run again:
            # it may have drawn dropout masks and moved running statistics already)
            self._loss_fn(Tensor(built.output.copy()), y)
        # inputs the program does not cover, a label out of range (checked before any
        # record ran), an unset momentum buffer: the eager step computes it or raises
        return self._eager(x, y)

    def _inputs(self, x: Any, y: Any) -> tuple[NDArray[Any], NDArray[Any]] | None:
        """x and y as the program takes them (the model's dtype, C order), or None when
        only the eager step can take them."""
        plan = self._plan
        if (isinstance(x, Tensor) and x.requires_grad) or (isinstance(y, Tensor) and y.requires_grad):
            return None  # the eager step also fills x.grad / y.grad; the program does not
        x = model_input(x, plan.dtype, plan.dense[0].layer)  # docs/reliability.md rows 60, 61
        x = x.data if isinstance(x, Tensor) else x
        if type(x) is not np.ndarray or x.ndim != 2 or x.shape[1] != plan.in_features:
            return None
        x = np.ascontiguousarray(x)
        yv = y.data if isinstance(y, Tensor) else np.asarray(y)
        n = x.shape[0]
        if plan.loss.kind == "cross_entropy":
            if yv.dtype.kind not in "iu" or yv.shape != (n,):
                return None
            yv = np.ascontiguousarray(yv, dtype=np.int64)
        else:
            if yv.dtype != plan.dtype or yv.shape != (n, plan.out_features):
                return None
            yv = np.ascontiguousarray(yv)
        if n == 0:
            return None
        return x, yv

    def _eager(self, x: Any, y: Any) -> float:
        """One eager step: ``zero_grad``, forward, loss, backward, update."""
        opt = self._opt
        opt.zero_grad()
        out = self._plan.model(x)
        loss = self._loss_fn(out, y)
        loss.backward()
        opt.step()
        self._eager_out = out.data
        return float(loss.data)

    def _capture(self, x: NDArray[Any], y: NDArray[Any]) -> float:
        loss = self._eager(x, y)
        grads = [p.grad for p in self._plan.params]
        out = self._eager_out
        built = build(self._plan, x, y)
        if self.verify:
            try:
                self._verify(built, x, y)
            except RuntimeError as err:
                warnings.warn(f"{err}; this step runs eagerly from now on", RuntimeWarning, stacklevel=3)
                self._disabled = True
                self._fast = self._current = None  # no program runs again, for any batch size
                self._built.clear()
                return loss
            finally:
                self._eager_out = out  # the output of this call's step, not of the check's
        for p, buf, g in zip(self._plan.params, built.grads, grads):
            buf[...] = g
            p.grad = buf
        self._built[x.shape[0]] = built
        self._use(built)
        return loss

    def _verify(self, built: Built, x: NDArray[Any], y: NDArray[Any]) -> None:
        """Run the program and a second eager step from the same state and compare the
        parameters and optimizer state they leave; then restore that state."""
        before = _Snapshot(self._plan)
        eager_loss = self._eager(x, y)
        eager = _Snapshot(self._plan)
        before.restore()
        loss = built.program.step(x, y, self._opt.lr)
        status = built.program.status
        compiled = _Snapshot(self._plan)
        before.restore()
        if loss is None and status != _kprogram.ST_OK:
            raise RuntimeError(f"compile_step: the captured program stopped with status {status} "
                               f"where the eager step ran")
        where = eager.mismatch(compiled, VERIFY_RTOL)
        if where is None and not np.isclose(loss, eager_loss, rtol=VERIFY_RTOL, atol=0):
            where = f"the loss ({loss!r} vs the eager {eager_loss!r})"
        if where is not None:
            raise RuntimeError(f"compile_step: the captured program disagrees with the eager step in "
                               f"{where}; train eagerly (and please report this)")


class _Snapshot:
    """Copies of everything a step changes -- the parameters, the optimizer's state,
    the model's buffers (running statistics) and the state of the generators Dropout
    draws from -- to compare or restore."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        opt = plan.optim.optimizer
        self.live: list[NDArray[Any]] = [p.data for p in plan.params]
        for v in plan.optim.state.values():
            self.live.extend(v if isinstance(v, list) else [v])
        self.live.extend(b for b in plan.model.buffers() if b is not None)
        self.saved = [a.copy() for a in self.live]
        self.step_count = opt.step_count
        self.generators = [g for g in {id(g): g for g in _dropout_generators(plan)}.values()]
        self.rng_states = [g.bit_generator.state for g in self.generators]

    def restore(self) -> None:
        for a, s in zip(self.live, self.saved):
            a[...] = s
        self.plan.optim.optimizer.step_count = self.step_count
        for g, state in zip(self.generators, self.rng_states):
            g.bit_generator.state = state

    def mismatch(self, other: _Snapshot, rtol: float) -> str | None:
        for i, (a, b) in enumerate(zip(self.saved, other.saved)):
            if a.dtype.kind == "f":
                scale = max(float(np.abs(a).max(initial=0.0)), 1e-30)
                if not np.allclose(a, b, rtol=rtol, atol=rtol * scale):
                    return f"array {i} (shape {a.shape}): max difference {float(np.abs(a - b).max())}"
            elif not np.array_equal(a, b):
                return f"array {i} (shape {a.shape})"
        return None


def _dropout_generators(plan: Plan) -> list[np.random.Generator]:
    """The generators the plan's Dropout layers draw from (None: the default one)."""
    found = []
    for spec in plan.layers:
        if isinstance(spec, ModuleSpec) and isinstance(spec.module, Dropout):
            found.append(spec.module.rng if spec.module.rng is not None else default_generator())
    return found


def compile_step(model: Any, loss: Any, optimizer: Any) -> CompiledStep:
    """A ``CompiledStep`` for ``optimizer`` training ``model`` on ``loss``.

    Supported: a ``Sequential``/``MLP`` of ``Dense`` (``Linear``) layers, every
    activation module (one that follows a Dense without an activation runs in its
    epilogue), ``Dropout`` (drawing from its generator as the eager op draws),
    ``LayerNorm``, ``BatchNorm1d`` (it and the activations computed in numpy run
    through their own eager forward and backward inside the program); the losses ``mse``,
    ``cross_entropy`` (integer labels), ``binary_cross_entropy_with_logits`` and
    ``hinge`` (reduction "mean" or "sum"); ``SGD`` (momentum, dampening, Nesterov,
    weight decay), ``Adam`` and ``AdamW``; any schedule (the learning rate is read each
    step). Anything else raises ``TypeError`` or ``ValueError`` naming it.

    >>> import numpy as np
    >>> from microinit import nn, optim
    >>> model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.LayerNorm(8), nn.ReLU(), nn.Dense(8, 3, rng=1))
    >>> step = compile_step(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01))
    >>> x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    >>> y = np.arange(16) % 3
    >>> first = step(x, y)
    >>> bool(step.run(np.stack([x] * 20), np.stack([y] * 20))[-1] < first)
    True
    >>> compile_step(model, "l1", optim.SGD(model.parameters(), lr=0.1))
    Traceback (most recent call last):
    ...
    TypeError: compile_step: cannot capture the loss L1Loss; supported are mse, cross_entropy, ...
    """
    return CompiledStep(model, loss, optimizer)


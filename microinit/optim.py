"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) and learning-rate schedules.

An optimizer holds a list of parameters (``Tensor`` objects, or ``(name, Tensor)``
pairs such as ``model.named_parameters()`` gives, so errors can name them) and
updates ``p.data`` **in place** from ``p.grad`` with one compiled call per step
(``microinit._kernels.updates``), then bumps each updated tensor's version counter.
State buffers (momentum, Adam moments) are allocated once, on the first step.

* A parameter whose ``grad`` is ``None`` took no part in the loss: it is skipped and
  its state is not advanced (PyTorch does the same).
* A NaN/inf gradient raises ``FloatingPointError`` naming the step and the parameter,
  before any parameter is changed; a parameter that overflows to inf/NaN during the
  update raises the same error after the step.
* Gradients accumulate across ``backward()`` calls until ``zero_grad()``.

Example::

    >>> import numpy as np
    >>> from microinit import losses, nn, optim
    >>> model = nn.MLP([2, 16, 1], rng=0)
    >>> opt = optim.Adam(model.parameters(), lr=1e-2)
    >>> sched = optim.CosineLR(opt, T_max=100)
    >>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    >>> for epoch in range(3):
    ...     opt.zero_grad()
    ...     loss = losses.mse(model(x), y)
    ...     loss.backward()
    ...     opt.step()
    ...     _ = sched.step()
    >>> round(opt.lr, 6)                  # 0.01 * (1 + cos(pi * 3 / 100)) / 2
    0.009978
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, Optional, Union

import numpy as np
from numpy.typing import NDArray

from microinit._kernels import updates as _updates
from microinit.autograd.graph import tensor_class

if TYPE_CHECKING:  # annotations only
    from microinit.nn.module import Module
    from microinit.tensor import Tensor

#: what an optimizer takes: Tensors, (name, Tensor) pairs or a Module (its parameters())
Params = Union[Iterable[Any], "Module"]
#: what a kernel's update reports: None, or (parameter index, "gradient"/"parameter") that went non-finite
Status = Optional[tuple[int, str]]
Arrays = list[NDArray[Any]]

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "StepLR", "CosineLR", "LRSchedule"]


def _check_hyper(name: str, value: float, low: float = 0.0, high: float | None = None,
                 low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number)")
    if value < low or (low_open and value == low) or (high is not None and value >= high):
        bound = f"in {'(' if low_open else '['}{low}, {high})" if high is not None else \
            f"{'>' if low_open else '>='} {low}"
        raise ValueError(f"Invalid {name}: {value!r} (must be {bound})")
    return float(value)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class Optimizer:
    """Base class: parameter bookkeeping, ``zero_grad`` and error reporting.

    Subclasses implement ``_update(datas, grads)`` returning the kernel's status.
    """

    # Each optimizer defines these two (annotations only: the base class has no default).
    _update: Callable[[Arrays, list[NDArray[Any] | None]], Status]  # the kernel call; its status
    _hyper: Callable[[], dict[str, Any]]  # the hyper-parameters, for repr

    params: list[Tensor]
    param_names: list[str | None]

    #: The hyper-parameters besides ``lr``. A compiled step (microinit/compile/) builds
    #: them into its program, so assigning one bumps ``hyper_version``, which tells the
    #: compiled step to build the program again (lr is read on every step instead).
    HYPER_PARAMETERS: ClassVar[frozenset[str]] = frozenset({
        "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps", "alpha", "centered",
        "lr_decay", "initial_accumulator_value"})
    #: how many times a name of HYPER_PARAMETERS was assigned (read by the compiled step)
    hyper_version: int = 0

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in self.HYPER_PARAMETERS:
            object.__setattr__(self, "hyper_version", self.hyper_version + 1)

    def __init__(self, params: Params, lr: float) -> None:
        if hasattr(params, "parameters") and callable(params.parameters) and \
                not isinstance(params, (list, tuple)):
            params = params.parameters()  # a Module passed directly
        if isinstance(params, tensor_class()):
            # iterating a Tensor would give 0-d copies of its rows that nothing reads back
            # (docs/reliability.md row 29): refused, as in PyTorch
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors "
                            f"(e.g. model.parameters() or [w]), but got a single Tensor of shape "
                            f"{tuple(params.data.shape)}; wrap it in a list: [w]")
        try:
            items = list(params)  # type: ignore[arg-type]  # a Module became its parameters() above
        except TypeError:
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors "
                            f"(e.g. model.parameters()), got {type(params).__name__}") from None
        if not items:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        names: list[str | None] = []
        tensors: list[Tensor] = []
        seen: set[int] = set()
        for i, item in enumerate(items):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                name, t = item
            else:
                name, t = None, item
            data = getattr(t, "data", None)
            if not isinstance(data, np.ndarray) or not hasattr(t, "grad"):
                raise TypeError(f"{type(self).__name__}: parameter {i} should be a Tensor "
                                f"(with .data and .grad), got {type(t).__name__}")
            if data.dtype not in (np.float32, np.float64):
                raise TypeError(f"{type(self).__name__}: parameter {name or i} has dtype {data.dtype}; "
                                f"only float32/float64 tensors can be optimized")
            if id(t) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {name or i} appears twice "
                                 f"in the parameter list")
            seen.add(id(t))
            names.append(name)
            tensors.append(t)
        self.params = tensors
        self.param_names = names
        self.lr = _check_hyper("learning rate", lr)
        self.step_count = 0

    def zero_grad(self) -> None:
        """Set every parameter's gradient to None (the next backward starts afresh)."""
        for p in self.params:
            p.grad = None

    def describe_param(self, j: int) -> str:
        p = self.params[j]
        name = self.param_names[j]
        label = f"'{name}'" if name else f"#{j}"
        return f"parameter {label} (shape {tuple(p.data.shape)}, {p.data.dtype})"

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        params = self.params
        datas = [p.data for p in params]
        grads = [p.grad for p in params]
        # straight into __dict__: step_count is no hyper-parameter, and __setattr__'s
        # check would cost ~0.2 us on every step
        self.__dict__["step_count"] += 1
        try:
            bad = self._update(datas, grads)
        except (TypeError, ValueError) as err:
            self.step_count -= 1
            raise type(err)(f"{type(self).__name__} step {self.step_count + 1}: {err}") from None
        if bad is not None and bad[1] == "gradient":
            self.step_count -= 1
            raise FloatingPointError(
                f"{type(self).__name__} step {self.step_count + 1}: the gradient of "
                f"{self.describe_param(bad[0])} contains NaN/inf; no parameter was updated "
                f"(lower the learning rate, or check the loss and the data)")
        for p, g in zip(params, grads):
            if g is not None:
                p._version += 1  # p.data changed in place (Tensor._bump_version, inlined)
        if bad is not None:
            j = bad[0]
            raise FloatingPointError(
                f"{type(self).__name__} step {self.step_count}: {self.describe_param(j)} "
                f"became NaN/inf after the update (the learning rate is probably too high)")

    def _state(self) -> dict[str, Arrays | NDArray[Any]]:
        """The live state: {name: list of per-parameter arrays, or one array}."""
        return {}

    def state_arrays(self) -> dict[str, Arrays | NDArray[Any]]:
        """The optimizer's live state arrays (not copies, unlike ``state_dict``):
        {name: one array per parameter, or one array}. A compiled step updates them in
        place, so eager and compiled steps share one state.

        >>> import microinit as mi
        >>> w = mi.zeros(2, requires_grad=True)
        >>> sorted(mi.optim.SGD([w], lr=0.1, momentum=0.9).state_arrays())
        ['buffer_ready', 'momentum_buffer']
        """
        return self._state()

    def state_dict(self) -> dict[str, Any]:
        """Copies of the optimizer's state (buffers, step counts) and its learning rate,
        for checkpointing; ``load_state_dict`` restores them so training resumes exactly."""
        out: dict[str, Any] = {"step_count": self.step_count, "lr": self.lr}
        for k, v in self._state().items():
            out[k] = [a.copy() for a in v] if isinstance(v, list) else v.copy()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict()`` output in place; everything is checked first, so a
        mismatching state raises ``ValueError`` listing each problem and changes nothing."""
        live = self._state()
        problems: list[str] = []
        pairs: list[tuple[NDArray[Any], NDArray[Any]]] = []
        for k, v in live.items():
            if k not in state:
                problems.append(f"missing {k!r}")
                continue
            dst = v if isinstance(v, list) else [v]
            src = state[k] if isinstance(v, list) else [state[k]]
            if len(src) != len(dst):
                problems.append(f"{k!r} has {len(src)} entries, the optimizer {len(dst)}")
                continue
            for j, (a, b) in enumerate(zip(dst, src)):
                b = np.asarray(b)
                if b.shape != a.shape:
                    problems.append(f"size mismatch for {k}[{j}]: state {b.shape} vs optimizer {a.shape}")
                else:
                    pairs.append((a, b))
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for a, b in pairs:
            a[...] = b
        self.step_count = int(state.get("step_count", self.step_count))
        self.lr = _check_hyper("learning rate", state.get("lr", self.lr))
        self._after_load()

    def _after_load(self) -> None:
        pass

    def _zeros_like_params(self) -> Arrays:
        return [np.zeros_like(p.data) for p in self.params]

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hp})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    Per parameter (PyTorch's ``torch.optim.SGD``)::

        d = grad + weight_decay * p
        buf = d (first step) or momentum * buf + (1 - dampening) * d
        d = d + momentum * buf (nesterov) or buf (momentum > 0)
        p -= lr * d

    >>> from microinit import tensor
    >>> w = tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    >>> (w * w).sum().backward()          # grad = 2 w
    >>> opt.step()                        # buf = d; d + 0.9 * buf = 1.9 * 2 w; w -= 0.1 * that
    >>> [round(float(v), 4) for v in w.data]
    [0.62, -1.24]
    """

    def __init__(self, params: Params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _check_hyper("momentum value", momentum)
        self.weight_decay = _check_hyper("weight_decay value", weight_decay)
        self.dampening = _check_hyper("dampening value", dampening)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        # Momentum buffers, allocated once on the first step; a parameter's buffer is
        # initialised from its first gradient (PyTorch's rule).
        self._bufs = self._zeros_like_params() if self.momentum else []
        self._buf_ready = np.zeros(len(self.params), dtype=bool)
        self._all_ready = False

    def _hyper(self) -> dict[str, Any]:
        return dict(lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                    weight_decay=self.weight_decay)

    def _update(self, datas: Arrays, grads: list[NDArray[Any] | None]) -> Status:
        if not self.momentum:
            return _updates.sgd_foreach(datas, grads, self._bufs, self.lr, 0.0, 0.0,
                                        self.weight_decay, False, False)
        if self._all_ready:
            return _updates.sgd_foreach(datas, grads, self._bufs, self.lr, self.momentum,
                                        self.dampening, self.weight_decay, self.nesterov, False)
        # First step for some parameters: those initialise their buffer, the rest update it.
        ready = self._buf_ready
        status: Status = None
        for init in (False, True):
            sel = [g if (g is not None and ready[j] != init) else None for j, g in enumerate(grads)]
            if any(s is not None for s in sel):
                r = _updates.sgd_foreach(datas, sel, self._bufs, self.lr, self.momentum,
                                         self.dampening, self.weight_decay, self.nesterov, init)
                status = status or r
                if r is not None and r[1] == "gradient":
                    return r
        for j, g in enumerate(grads):
            if g is not None:
                ready[j] = True
        self._after_load()
        return status

    def _state(self) -> dict[str, Arrays | NDArray[Any]]:
        return {"momentum_buffer": self._bufs, "buffer_ready": self._buf_ready} if self.momentum else {}

    def _after_load(self) -> None:
        self._all_ready = bool(self._buf_ready.all())


class Adam(Optimizer):
    """Adam (Kingma & Ba), with L2 weight decay added to the gradient.

    Per parameter, at its step ``t`` (PyTorch's ``torch.optim.Adam``)::

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g**2
        p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    >>> from microinit import tensor
    >>> w = tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1, betas=(0.9, 0.999))
    >>> (w * w).sum().backward()
    >>> opt.step()                        # the first Adam step moves each weight by ~lr
    >>> [round(float(v), 4) for v in w.data]
    [0.9, -1.9]
    """

    decoupled = False

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Invalid betas: {betas!r} (must be a pair (beta1, beta2))") from None
        self.betas = (_check_hyper("beta parameter at index 0", b1, 0.0, 1.0),
                      _check_hyper("beta parameter at index 1", b2, 0.0, 1.0))
        self.eps = _check_hyper("epsilon value", eps)
        self.weight_decay = _check_hyper("weight_decay value", weight_decay)
        self._exp_avg = self._zeros_like_params()
        self._exp_avg_sq = self._zeros_like_params()
        self._steps = np.zeros(len(self.params), dtype=np.int64)

    def _hyper(self) -> dict[str, Any]:
        return dict(lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay)

    def _update(self, datas: Arrays, grads: list[NDArray[Any] | None]) -> Status:
        b1, b2 = self.betas
        return _updates.adam_foreach(datas, grads, self._exp_avg, self._exp_avg_sq, self._steps,
                                     self.lr, b1, b2, self.eps, self.weight_decay, self.decoupled)

    def _state(self) -> dict[str, Arrays | NDArray[Any]]:
        return {"exp_avg": self._exp_avg, "exp_avg_sq": self._exp_avg_sq, "steps": self._steps}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before the Adam update, instead of adding ``weight_decay * p`` to the gradient.

    PyTorch's default ``weight_decay`` for AdamW is 0.01, and so is ours.
    """

    decoupled = True

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """RMSprop (Hinton), with PyTorch's options (``torch.optim.RMSprop``).

    Per parameter::

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        centered: a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a**2) + eps
        else:     avg = sqrt(v) + eps
        momentum > 0: buf = momentum * buf + g / avg;  p -= lr * buf
        else:         p -= lr * g / avg

    >>> from microinit import tensor
    >>> w = tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()                        # the first step moves each weight by lr / sqrt(1 - alpha)
    >>> [round(float(v), 4) for v in w.data]
    [0.9, -1.9]
    """

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr)
        self.alpha = _check_hyper("alpha value", alpha)
        self.eps = _check_hyper("epsilon value", eps)
        self.weight_decay = _check_hyper("weight_decay value", weight_decay)
        self.momentum = _check_hyper("momentum value", momentum)
        self.centered = bool(centered)
        self._square_avg = self._zeros_like_params()
        self._grad_avg = self._zeros_like_params() if self.centered else []
        self._bufs = self._zeros_like_params() if self.momentum > 0 else []

    def _hyper(self) -> dict[str, Any]:
        return dict(lr=self.lr, alpha=self.alpha, eps=self.eps, weight_decay=self.weight_decay,
                    momentum=self.momentum, centered=self.centered)

    def _update(self, datas: Arrays, grads: list[NDArray[Any] | None]) -> Status:
        return _updates.rmsprop_foreach(datas, grads, self._square_avg, self._grad_avg, self._bufs,
                                        self.lr, self.alpha, self.eps, self.weight_decay,
                                        self.momentum, self.centered)

    def _state(self) -> dict[str, Arrays | NDArray[Any]]:
        state: dict[str, Arrays | NDArray[Any]] = {"square_avg": self._square_avg}
        if self.centered:
            state["grad_avg"] = self._grad_avg
        if self.momentum > 0:
            state["momentum_buffer"] = self._bufs
        return state


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), PyTorch's rule (``torch.optim.Adagrad``).

    Per parameter, at its step ``t``::

        g = grad + weight_decay * p
        s = s + g**2
        p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    >>> from microinit import tensor
    >>> w = tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()                        # the first step moves each weight by lr
    >>> [round(float(v), 4) for v in w.data]
    [0.9, -1.9]
    """

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, lr)
        self.lr_decay = _check_hyper("lr_decay value", lr_decay)
        self.weight_decay = _check_hyper("weight_decay value", weight_decay)
        self.eps = _check_hyper("epsilon value", eps)
        self._sums = self._zeros_like_params()
        self._steps = np.zeros(len(self.params), dtype=np.int64)

    def _hyper(self) -> dict[str, Any]:
        return dict(lr=self.lr, lr_decay=self.lr_decay, weight_decay=self.weight_decay, eps=self.eps)

    def _update(self, datas: Arrays, grads: list[NDArray[Any] | None]) -> Status:
        return _updates.adagrad_foreach(datas, grads, self._sums, self._steps, self.lr,
                                        self.lr_decay, self.weight_decay, self.eps)

    def _state(self) -> dict[str, Arrays | NDArray[Any]]:
        return {"sum": self._sums, "steps": self._steps}


class LRSchedule:
    """Base class: ``step()`` once per epoch sets ``optimizer.lr = lr_at(epoch)``.

    ``base_lr`` is the optimizer's learning rate when the schedule is created;
    ``last_epoch`` counts the ``step()`` calls made so far.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs a microinit optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> float:
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)
        return self.optimizer.lr

    def get_last_lr(self) -> float:
        return self.optimizer.lr


class StepLR(LRSchedule):
    """Step decay: ``lr = base_lr * gamma ** (epoch // step_size)`` (torch's ``StepLR``)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _check_hyper("gamma", gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LRSchedule):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs:
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * min(epoch, T_max) / T_max)) / 2``
    (the closed form of torch's ``CosineAnnealingLR``; it stays at ``eta_min`` after ``T_max``).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        self.T_max = _positive_int("T_max", T_max)
        self.eta_min = _check_hyper("eta_min", eta_min)

    def lr_at(self, epoch: int) -> float:
        t = min(epoch, self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


CosineAnnealingLR = CosineLR

"""``fit``: the training loop, with a progress bar on a terminal and log lines otherwise.

One step is ``out = model(xb); l = loss(out, yb); optimizer.zero_grad(); l.backward();
optimizer.step()``. ``fit`` adds what every loop should have and few write:

* a NaN/inf loss raises ``FloatingPointError`` naming the epoch and step, before the
  bad gradient reaches the weights; a NaN/inf gradient or weight raises the
  optimizer's ``FloatingPointError`` re-worded with the epoch, the step and the
  parameter's name in the model (docs/reliability.md row 14);
* data is checked for NaN/inf once, by ``DataLoader`` (docs/reliability.md row 13);
* a history: per epoch ``loss``, ``accuracy`` (classification losses), ``val_loss``,
  ``val_accuracy`` (when ``val`` is given), ``lr`` and ``seconds``.

Example::

    >>> from microinit import nn, optim, data, fit
    >>> X, y = data.spirals(600, rng=0)
    >>> model = nn.MLP([2, 64, 64, 3], rng=0)
    >>> loader = data.DataLoader(X, y, batch_size=32, rng=0)
    >>> history = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01),
    ...               loader, epochs=20, verbose=False)
    >>> history["loss"][-1] < history["loss"][0]
    True
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Any, Callable, Iterable, Mapping, TextIO, Union, overload

import numpy as np
from numpy.typing import ArrayLike

from microinit import losses as _losses
from microinit.compile import compile_step
from microinit.data import DataLoader
from microinit.nn.module import ForwardHook, HookHandle, Module
from microinit.optim import LRSchedule, Optimizer
from microinit.tensor import no_grad

#: what fit/evaluate take as data: a DataLoader or an (X, y) pair
LoaderLike = Union[DataLoader, tuple[ArrayLike, ArrayLike]]
#: a fit callback: cb(epoch, logs); returning True stops training
Callback = Callable[[int, dict[str, Any]], Any]

__all__ = ["fit", "evaluate", "StopTraining", "first_non_finite"]


class StopTraining(Exception):
    """Raise from a callback to end training after the current epoch."""


@overload
def _as_loader(val: None, batch_size: int) -> None: ...
@overload
def _as_loader(val: LoaderLike, batch_size: int) -> DataLoader: ...
def _as_loader(val: LoaderLike | None, batch_size: int) -> DataLoader | None:
    if val is None or isinstance(val, DataLoader):
        return val
    try:
        X, y = val
    except (TypeError, ValueError):
        raise TypeError("val must be a DataLoader or an (X, y) pair") from None
    return DataLoader(X, y, batch_size=batch_size, shuffle=False)


def evaluate(model: Callable[[Any], Any], loss: Any, loader: LoaderLike) -> tuple[float, float | None]:
    """Mean loss and accuracy (None for regression losses) of ``model`` over ``loader``,
    without recording a graph. ``loader`` may also be an ``(X, y)`` pair."""
    loss_fn = _losses.get(loss)
    loader = _as_loader(loader, 1024)
    total, correct, n = 0.0, 0, 0
    has_acc = hasattr(loss_fn, "correct")
    was_training = getattr(model, "training", True)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            for xb, yb in loader:
                out = model(xb)
                m = len(xb)
                total += float(loss_fn(out, yb).item()) * m
                if has_acc:
                    c = loss_fn.correct(out, yb)
                    has_acc = c is not None
                    correct += c or 0
                n += m
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    if n == 0:
        return float("nan"), None
    return total / n, (correct / n if has_acc else None)


def first_non_finite(model: Callable[[Any], Any], x: Any) -> str:
    """Where NaN/inf first appears for the batch ``x``: a parameter (in ``named_parameters``
    order), else the first layer whose output has one (in the order the layers run), else
    the model's output (docs/reliability.md row 62).

    >>> import numpy as np
    >>> from microinit import nn
    >>> model = nn.Sequential(nn.Dense(2, 3, weight_init=1.0), nn.ReLU(), nn.Dense(3, 1))
    >>> first_non_finite(model, np.full((1, 2), 3e38, np.float32))   # 3e38 + 3e38 overflows
    "the output of layer '0' (Dense, shape (1, 3)) contains inf (first at [0, 0])"
    """
    for name, p in getattr(model, "named_parameters", lambda: [])():
        bad = _first_bad(p.data)
        if bad:
            return f"parameter '{name}' (shape {tuple(p.data.shape)}) contains {bad}"
    found: list[str] = []
    handles: list[HookHandle] = []

    def watch(name: str) -> ForwardHook:
        def hook(module: Module, inputs: tuple[Any, ...], out: Any) -> None:
            data = getattr(out, "data", None)
            if not found and isinstance(data, np.ndarray) and data.dtype.kind == "f":
                bad = _first_bad(data)
                if bad:
                    found.append(f"the output of layer '{name}' ({type(module).__name__}, "
                                 f"shape {tuple(data.shape)}) contains {bad}")
        return hook
    for name, module in getattr(model, "named_modules", lambda: [])():
        if module is not model:
            handles.append(module.register_forward_hook(watch(name)))
    try:
        with no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    if found:
        return found[0]
    bad = _first_bad(getattr(out, "data", out))
    return f"the model's output contains {bad}" if bad else "every parameter and layer output is finite"


def _first_bad(a: ArrayLike) -> str:
    """'NaN (first at [i, j])' / 'inf ...' for the first non-finite entry of ``a``, or ''."""
    a = np.asarray(a)
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return ""
    flat = int(np.argmin(np.isfinite(a).ravel()))
    idx = [int(i) for i in np.unravel_index(flat, a.shape)]
    what = "NaN" if np.isnan(a.flat[flat]) else "inf"
    return f"{what} (first at {idx})"


def _param_names(model: Any, optimizer: Any) -> None:
    # Let the optimizer's FloatingPointError name parameters as the model does.
    if hasattr(model, "named_parameters") and hasattr(optimizer, "param_names"):
        names = {id(p): n for n, p in model.named_parameters()}
        optimizer.param_names = [old or names.get(id(p)) for old, p in
                                 zip(optimizer.param_names, optimizer.params)]


def _format(epoch: int, epochs: int, logs: Mapping[str, Any]) -> str:
    parts = [f"epoch {epoch:>{len(str(epochs))}}/{epochs}", f"loss {logs['loss']:.4f}"]
    if logs.get("accuracy") is not None:
        parts.append(f"acc {logs['accuracy']:.3f}")
    if "val_loss" in logs:
        parts.append(f"val_loss {logs['val_loss']:.4f}")
        if logs.get("val_accuracy") is not None:
            parts.append(f"val_acc {logs['val_accuracy']:.3f}")
    parts.append(f"{logs['seconds']:.2f}s")
    return "  ".join(parts)


def _eager_batch(model: Callable[[Any], Any], loss_fn: Any, optimizer: Optimizer, xb: Any, yb: Any,
                 epoch: int, step: int, global_step: int) -> tuple[float, Any]:
    """One eager training step of fit: (loss value, model output)."""
    out = model(xb)
    try:
        lt = loss_fn(out, yb)
        value = lt.item()
    except ValueError:
        # a loss refuses some non-finite outputs itself (cross-entropy of a row
        # of -inf logits): that is the same failure, reported the same way
        if np.isfinite(out.data).all():
            raise
        value = math.nan
    if not math.isfinite(value):
        raise FloatingPointError(
            f"fit: the loss became {value} at epoch {epoch}, step {step} (global step "
            f"{global_step}): {first_non_finite(model, xb)}; stopping before the weights "
            f"are updated with it (lower the learning rate or check the initialization)")
    optimizer.zero_grad()
    lt.backward()
    try:
        optimizer.step()
    except FloatingPointError as err:
        raise FloatingPointError(f"fit: epoch {epoch}, step {step}: {err}") from None
    return value, out


def _compiled_step(model: Any, loss_fn: Any, optimizer: Optimizer) -> Any:
    """compile_step(model, loss_fn, optimizer), or None after one warning naming what
    could not be captured."""
    try:
        return compile_step(model, loss_fn, optimizer)
    except (TypeError, ValueError) as err:
        warnings.warn(f"fit(compile=True): training eagerly: {err}", RuntimeWarning, stacklevel=3)
        return None


def _compiled_batch(compiled: Any, optimizer: Optimizer, xb: Any, yb: Any, epoch: int,
                    step: int) -> tuple[float, Any] | None:
    """One compiled training step of fit: (loss value, model output), or None
    when it stopped before updating anything (a non-finite loss or gradient, a loss
    that refused its input): the eager step then runs the batch and reports it as it
    always does."""
    count = optimizer.step_count
    try:
        value = compiled(xb, yb)
    except (FloatingPointError, ValueError) as err:
        if optimizer.step_count == count:
            return None
        raise FloatingPointError(f"fit: epoch {epoch}, step {step}: {err}") from None
    if not math.isfinite(value):
        # a non-finite loss whose gradients were finite (the step happened)
        raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch}, step {step}; "
                                 f"the compiled step updated the weights with it (lower the learning "
                                 f"rate or check the initialization)")
    return value, compiled.output


def fit(model: Callable[[Any], Any], loss: Any, optimizer: Optimizer, loader: LoaderLike, epochs: int = 1,
        val: LoaderLike | None = None, callbacks: Iterable[Callback | LRSchedule] = (), verbose: bool = True,
        log_every: int | None = None, file: TextIO | None = None, compile: bool = False) -> dict[str, list[Any]]:
    """Train ``model`` for ``epochs`` passes over ``loader``; return the history dict.

    ``loss``: a name (``"cross_entropy"``, ``"mse"``, ``"bce"``, ``"hinge"``), a ``Loss``
    or a callable ``fn(pred, target)``. ``loader``: a ``DataLoader`` (or an ``(X, y)``
    pair, batched by 32 and shuffled). ``val``: a ``DataLoader`` or ``(X, y)``
    evaluated after every epoch. ``callbacks``: learning-rate schedules (stepped once
    per epoch) and callables ``cb(epoch, logs)``; a callable returning ``True`` or
    raising ``StopTraining`` ends training after that epoch.

    Progress: with ``verbose`` and a terminal on ``file`` (default ``sys.stderr``), a
    tqdm bar; otherwise plain lines, one every ``log_every`` epochs (default: about ten
    lines in all) and always the last. ``verbose=False`` prints nothing.

    ``compile=True`` runs each training step as one compiled program
    (``microinit.compile_step``, docs/compile.md): the same numbers, faster on small
    networks. A model, loss or optimizer it cannot capture trains eagerly after one
    warning naming what could not be captured.

    Raises ``FloatingPointError`` naming the epoch, step and (for weights) parameter
    when training diverges.
    """
    loss_fn = _losses.get(loss)
    if not isinstance(loader, DataLoader):
        loader = _as_loader(loader, 32)
        loader.shuffle = True
    val = _as_loader(val, 1024)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    schedules = [c for c in callbacks if isinstance(c, LRSchedule)]
    plain = [c for c in callbacks if not isinstance(c, LRSchedule)]
    for c in plain:
        if not callable(c):
            raise TypeError(f"callback {c!r} is neither callable nor a learning-rate schedule")
    _param_names(model, optimizer)
    has_acc = hasattr(loss_fn, "correct")
    history: dict[str, list[Any]] = {"loss": [], "accuracy": [], "lr": [], "seconds": []}
    if val is not None:
        history["val_loss"] = []
        history["val_accuracy"] = []
    out_file = file if file is not None else sys.stderr
    bar = None
    if verbose and getattr(out_file, "isatty", lambda: False)():
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs * len(loader), file=out_file, unit="step", leave=True)
        except ImportError:
            bar = None
    every = log_every or max(1, epochs // 10)
    if hasattr(model, "train"):
        model.train()
    global_step = 0
    compiled = _compiled_step(model, loss_fn, optimizer) if compile else None
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            total, correct, n = 0.0, 0, 0
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
            for step, (xb, yb) in enumerate(loader, 1):
                global_step += 1
                done = None if compiled is None else _compiled_batch(compiled, optimizer, xb, yb, epoch, step)
                if done is None:
                    done = _eager_batch(model, loss_fn, optimizer, xb, yb, epoch, step, global_step)
                value, out = done
                m = len(xb)
                total += value * m
                n += m
                if has_acc:
                    c = loss_fn.correct(out, yb)
                    if c is None:
                        has_acc = False
                    else:
                        correct += c
                if bar is not None:
                    bar.update(1)
            logs = {"loss": total / n if n else float("nan"),
                    "accuracy": correct / n if (has_acc and n) else None,
                    "lr": getattr(optimizer, "lr", None)}
            if val is not None:
                logs["val_loss"], logs["val_accuracy"] = evaluate(model, loss_fn, val)
            logs["seconds"] = time.perf_counter() - t0
            for k, v in logs.items():
                history.setdefault(k, []).append(v)
            for s in schedules:
                s.step()
            if bar is not None:
                post = {"loss": f"{logs['loss']:.4f}"}
                if logs["accuracy"] is not None:
                    post["acc"] = f"{logs['accuracy']:.3f}"
                if "val_accuracy" in logs and logs["val_accuracy"] is not None:
                    post["val_acc"] = f"{logs['val_accuracy']:.3f}"
                bar.set_postfix(post, refresh=False)
            elif verbose and (epoch % every == 0 or epoch == epochs):
                print(_format(epoch, epochs, logs), file=out_file, flush=True)
            stop = False
            for c in plain:
                try:
                    stop = bool(c(epoch, logs)) or stop
                except StopTraining:
                    stop = True
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    return history

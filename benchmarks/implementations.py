"""The one table of training-step implementations the benchmark times, in column order,
and how each is set up: which package it needs, whether it is an optional compiled peer,
and the warm-up call that compiles it (timed apart from the step).

``select`` picks the rows for a run and prints one line for each one it leaves out
(package not installed, peers off, ``--no-torch``); ``prepare`` builds one and makes its
first call, and a contender that is installed but fails there is reported by name and
left out while the run goes on.
"""
import importlib.util
import time
from dataclasses import dataclass
from typing import Callable, Optional

from benchmarks.peers import JaxJitMLP, MicroinitCompiledMLP, TorchCompiledMLP
from benchmarks.problems import MicroinitMLP, NumpyMLP, TorchMLP, load_torch

__all__ = ["Implementation", "COMPILED", "IMPLEMENTATIONS", "LABELS", "Prepared", "select", "prepare", "error_line"]


@dataclass(frozen=True)
class Implementation:
    """One contender: ``key`` names its figures in the JSON rows, ``label`` its column;
    ``build(params, loss, sizes)`` returns an object with ``inputs(x, y)`` and
    ``step(*inputs)``; ``needs`` is the package it imports (None: always there); a
    ``peer`` runs only with ``--peers``; ``compiles`` marks a first call that compiles."""

    key: str
    label: str
    build: Callable
    needs: Optional[str] = None
    peer: bool = False
    compiles: bool = False


COMPILED = Implementation("microinit_compiled", "microinit compiled", MicroinitCompiledMLP, compiles=True)
IMPLEMENTATIONS = (
    Implementation("microinit", "microinit eager", MicroinitMLP),
    COMPILED,
    Implementation("numpy", "numpy", lambda params, loss, sizes: NumpyMLP(params, loss)),
    Implementation("torch", "torch", lambda params, loss, sizes: TorchMLP(params, loss, load_torch()), needs="torch"),
    Implementation("torch_compile", "torch.compile", TorchCompiledMLP, needs="torch", peer=True, compiles=True),
    Implementation("jax_jit", "jax.jit", JaxJitMLP, needs="jax", peer=True, compiles=True),
)
LABELS = {impl.key: impl.label for impl in IMPLEMENTATIONS}


def select(peers=True, torch=True, log=print):
    """The implementations to time, in column order, with one printed line for each one
    left out and why.

    >>> [impl.key for impl in select(peers=False, torch=False, log=lambda line: None)
    ...  if impl.key != "microinit_compiled"]
    ['microinit', 'numpy']
    """
    chosen = []
    for impl in IMPLEMENTATIONS:
        if impl.needs == "torch" and not torch:
            log(f"{impl.label}: --no-torch; column skipped")
        elif impl.peer and not peers:
            log(f"{impl.label}: peers off (--no-peers, the default with --quick); column skipped")
        elif impl.needs is not None and importlib.util.find_spec(impl.needs) is None:
            log(f"{impl.label}: {impl.needs} is not installed (pip install {impl.needs}); column skipped")
        else:
            chosen.append(impl)
    return chosen


@dataclass
class Prepared:
    """A built contender with its batch converted: ``run()`` is one timed step;
    ``first_call_seconds`` is its first step, which includes any capture or compile;
    ``threads`` is a thread count fixed at process start (None: it follows the row's)."""

    impl: Implementation
    model: object
    run: Callable
    first_call_seconds: float
    threads: Optional[int] = None


def error_line(label, exc):
    """One line naming the contender that failed and the first line of the error.

    >>> error_line("jax.jit", RuntimeError("XLA failed\\nlong trace"))
    'jax.jit: failed to set up or compile (RuntimeError: XLA failed); column left out, the run goes on'
    """
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{label}: failed to set up or compile ({type(exc).__name__}: {first}); column left out, the run goes on"


def prepare(impl, params, loss, sizes, x, y, log=print):
    """Build ``impl`` for one problem and make its first (compiling) call; None, with
    one printed line naming it, when that fails."""
    try:
        model = impl.build(params, loss, sizes)
        batch = model.inputs(x, y)
        t0 = time.perf_counter()
        model.step(*batch)
        first = time.perf_counter() - t0
    except Exception as exc:  # a broken peer must not stop the other columns
        log(error_line(impl.label, exc))
        return None
    return Prepared(impl, model, lambda: model.step(*batch), first, getattr(model, "threads", None))

"""Grad mode: ``no_grad()``, ``enable_grad()``, ``is_grad_enabled()``.

The switch is thread-local (each thread starts with gradients enabled) and every
context restores the state it found on exit, exceptions included (docs/reliability.md
row 46). Both classes work as context managers and as decorators::

    >>> with no_grad():
    ...     print(is_grad_enabled())
    False
    >>> @no_grad()
    ... def evaluate():
    ...     return is_grad_enabled()
    >>> evaluate(), is_grad_enabled()
    (False, True)

Ops read ``grad_mode.enabled`` directly (one attribute load: this runs once per op).
"""
from __future__ import annotations

import functools
import threading
from types import TracebackType
from typing import Any, Callable, Literal, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])


class _GradState(threading.local):
    # A class attribute is the per-thread default: a new thread sees True without
    # any initialisation step.
    enabled: bool = True


#: the current thread's switch: ``grad_mode.enabled`` is True when ops record a graph
grad_mode = _GradState()


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward in the current thread."""
    return grad_mode.enabled


class _GradMode:
    _target: bool = True

    __slots__ = ("_prev",)

    def __init__(self) -> None:
        # A stack, so one instance can be entered re-entrantly.
        self._prev: list[bool] = []

    def __enter__(self) -> _GradMode:
        self._prev.append(grad_mode.enabled)
        grad_mode.enabled = self._target
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        grad_mode.enabled = self._prev.pop()
        return False

    def __call__(self, fn: _F) -> _F:
        cls = type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # A fresh context per call keeps concurrent calls independent.
            with cls():
                return fn(*args, **kwargs)

        return cast(_F, wrapper)  # functools.wraps keeps fn's name and signature


class no_grad(_GradMode):
    """Context manager / decorator: ops inside record no graph (outputs need no grad)."""

    __slots__ = ()
    _target = False


class enable_grad(_GradMode):
    """Context manager / decorator: turn recording back on, e.g. inside ``no_grad``."""

    __slots__ = ()
    _target = True

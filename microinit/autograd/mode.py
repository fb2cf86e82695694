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
import functools
import threading


class _GradState(threading.local):
    # A class attribute is the per-thread default: a new thread sees True without
    # any initialisation step.
    enabled = True


#: the current thread's switch: ``grad_mode.enabled`` is True when ops record a graph
grad_mode = _GradState()


def is_grad_enabled():
    """True when ops record the graph for backward in the current thread."""
    return grad_mode.enabled


class _GradMode:
    _target = True

    __slots__ = ("_prev",)

    def __init__(self):
        # A stack, so one instance can be entered re-entrantly.
        self._prev = []

    def __enter__(self):
        self._prev.append(grad_mode.enabled)
        grad_mode.enabled = self._target
        return self

    def __exit__(self, exc_type, exc, tb):
        grad_mode.enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        cls = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            # A fresh context per call keeps concurrent calls independent.
            with cls():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager / decorator: ops inside record no graph (outputs need no grad)."""

    __slots__ = ()
    _target = False


class enable_grad(_GradMode):
    """Context manager / decorator: turn recording back on, e.g. inside ``no_grad``."""

    __slots__ = ()
    _target = True

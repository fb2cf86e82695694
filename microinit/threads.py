"""How many threads microinit's kernels and numpy's BLAS may use.

    set_num_threads(n)   the OpenMP kernels (matmul, dense, elementwise, updates, ...)
                         and numpy's BLAS (through threadpoolctl) use at most n threads
    get_num_threads()    the current setting

The default, before any call, is ``OMP_NUM_THREADS`` when it is set, else every core
this process may run on (``os.sched_getaffinity``) -- the same rule OpenMP and OpenBLAS
apply on their own, so nothing is changed at import time.

Scope: OpenMP keeps the thread count per calling thread, so the setting applies to
kernels started from the Python thread that called ``set_num_threads`` (normally the
main thread); the BLAS limit is process-wide. Without threadpoolctl installed (it
comes with the ``bench`` extra) only the kernels are governed, and
``set_num_threads`` says so with a ``RuntimeWarning``.

Example::

    >>> import microinit
    >>> microinit.set_num_threads(1)    # single-threaded kernels and BLAS
    >>> microinit.get_num_threads()
    1
"""
from __future__ import annotations

import os
import warnings

__all__ = ["set_num_threads", "get_num_threads"]

_current: int | None = None
_blas_limiter: object | None = None  # threadpoolctl's limiter, kept alive


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _limit_blas(n: int) -> None:
    global _blas_limiter
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        warnings.warn("set_num_threads: threadpoolctl is not installed, so numpy's BLAS "
                      "keeps its own thread count (pip install threadpoolctl)",
                      RuntimeWarning, stacklevel=3)
        return
    # A limiter object holds the limit until it is restored; keep only the newest.
    _blas_limiter = threadpool_limits(limits=n, user_api="blas")


def set_num_threads(n: int) -> None:
    """Use at most ``n`` threads in the kernels and in numpy's BLAS (n >= 1).

    >>> set_num_threads(2); get_num_threads()
    2
    """
    global _current
    if isinstance(n, bool) or not isinstance(n, int):
        if not (hasattr(n, "__index__") and not isinstance(n, bool)):
            raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__} {n!r}")
        n = n.__index__()
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    from microinit._kernels import matmul

    matmul.set_num_threads(n)
    _limit_blas(n)
    _current = n


def get_num_threads() -> int:
    """The thread count set by ``set_num_threads``, or the default described above."""
    return _current if _current is not None else _default_threads()

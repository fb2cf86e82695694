"""Arrays whose data starts on a 64-byte boundary (a cache line, one AVX-512 vector).

numpy aligns its allocations to 16 bytes only, so where a parameter or a buffer of the
compiled step starts depends on what was allocated before it. A GEMM tile reading a
row that does not start on a cache line splits a vector load across two lines on
every step: the small MLP's compiled step measured ~4 % slower with the same code and
data in an unlucky heap layout (two checkouts differing only in their path). The
dense layers' parameters and the compiled step's buffers are allocated here.

    >>> a = aligned_zeros((3, 5), np.float32)
    >>> a.ctypes.data % ALIGNMENT, a.shape, a.flags.c_contiguous, float(a.sum())
    (0, (3, 5), True, 0.0)
    >>> b = aligned_copy(np.arange(4.0))
    >>> b.ctypes.data % ALIGNMENT, b.tolist()
    (0, [0.0, 1.0, 2.0, 3.0])
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["ALIGNMENT", "aligned_zeros", "aligned_copy"]

ALIGNMENT = 64


def aligned_zeros(shape: int | tuple[int, ...], dtype: DTypeLike) -> NDArray[Any]:
    """np.zeros(shape, dtype), C-contiguous, its data starting on an ALIGNMENT boundary
    (a view into a slightly larger block, which it keeps alive as its base)."""
    dt = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.zeros(count * dt.itemsize + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + count * dt.itemsize].view(dt).reshape(shape)


def aligned_copy(a: ArrayLike, dtype: DTypeLike | None = None) -> NDArray[Any]:
    """A C-contiguous, ALIGNMENT-aligned copy of ``a`` (as ``dtype`` when given)."""
    src = np.asarray(a, dtype=dtype)
    out = aligned_zeros(src.shape, src.dtype)
    out[...] = src
    return out

# cython: language_level=3
"""The nogil loops of the elementwise activation kernels (header-only): elementwise.pyx
(the eager activation op's kernel) and program.pyx (the compiled training step) both
call these, so an activation is the same bits either way. Formulas in activations.pxd."""
from cython cimport floating
from cython.parallel cimport prange

from microinit._kernels.activations cimport act_fwd, act_grad
cimport microinit._kernels.activations as A


# Below this many elements a thread team costs more than it saves.
cdef enum:
    ACT_PARALLEL_MIN = 1 << 15
    # Elements per parallel task.
    ACT_CHUNK = 1 << 13


cdef inline void act_forward_range(int code, const floating* x, floating* out, double param,
                            Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    # relu gets its own loop: gcc vectorises it there (5x at 8k elements), not through
    # the per-element dispatch. The other loops do not vectorise either way (libm
    # calls, or branches gcc does not if-convert: checked with -fopt-info-vec).
    if code == A.ACT_RELU:
        for i in range(lo, hi):
            out[i] = A.relu_fwd(x[i])
    else:
        for i in range(lo, hi):
            out[i] = act_fwd(code, x[i], param)


cdef inline void act_backward_range(int code, const floating* x, const floating* y,
                            const floating* dy, floating* dx, double param,
                            Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(lo, hi):
        dx[i] = dy[i] * act_grad(code, x[i], y[i], param)


cdef inline void act_forward_all(int code, const floating* x, floating* out, double param,
                   Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t c, nchunks = (n + ACT_CHUNK - 1) // ACT_CHUNK
    if n >= ACT_PARALLEL_MIN:
        for c in prange(nchunks, schedule="static"):
            act_forward_range(code, x, out, param, c * ACT_CHUNK, min(n, (c + 1) * ACT_CHUNK))
    else:
        act_forward_range(code, x, out, param, 0, n)


cdef inline void act_backward_all(int code, const floating* x, const floating* y, const floating* dy,
                    floating* dx, double param, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t c, nchunks = (n + ACT_CHUNK - 1) // ACT_CHUNK
    if n >= ACT_PARALLEL_MIN:
        for c in prange(nchunks, schedule="static"):
            act_backward_range(code, x, y, dy, dx, param, c * ACT_CHUNK, min(n, (c + 1) * ACT_CHUNK))
    else:
        act_backward_range(code, x, y, dy, dx, param, 0, n)

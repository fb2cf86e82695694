"""Elementwise activation kernels: forward and backward over flat C-contiguous buffers.

Callers (functional.py) pass 1-D views of C-contiguous arrays of one float dtype,
with out/dx already allocated and of the same length; nothing is checked here.
"""
from cython cimport floating
from cython.parallel cimport prange

from microinit._kernels.activations cimport act_fwd, act_grad, N_ACTIVATIONS
cimport microinit._kernels.activations as A

# Mirror of the enum in activations.pxd, so Python can name the codes.
CODES = {
    "identity": A.ACT_IDENTITY,
    "relu": A.ACT_RELU,
    "tanh": A.ACT_TANH,
    "sigmoid": A.ACT_SIGMOID,
    "leaky_relu": A.ACT_LEAKY_RELU,
    "elu": A.ACT_ELU,
    "selu": A.ACT_SELU,
    "gelu": A.ACT_GELU,
    "softplus": A.ACT_SOFTPLUS,
}

# Below this many elements a thread team costs more than it saves.
DEF PARALLEL_MIN = 1 << 15
# Elements per parallel task.
DEF CHUNK = 1 << 13


cdef inline void _fwd_range(int code, const floating[::1] x, floating[::1] out, double param,
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


cdef inline void _bwd_range(int code, const floating[::1] x, const floating[::1] y,
                            const floating[::1] dy, floating[::1] dx, double param,
                            Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(lo, hi):
        dx[i] = dy[i] * act_grad(code, x[i], y[i], param)


def activation_forward(int code, const floating[::1] x, floating[::1] out, double param=0.0):
    """out[i] = act(x[i])."""
    cdef Py_ssize_t c, n = x.shape[0], nchunks = (n + CHUNK - 1) // CHUNK
    if n >= PARALLEL_MIN:
        for c in prange(nchunks, nogil=True, schedule="static"):
            _fwd_range(code, x, out, param, c * CHUNK, min(n, (c + 1) * CHUNK))
    else:
        with nogil:
            _fwd_range(code, x, out, param, 0, n)


def activation_backward(int code, const floating[::1] x, const floating[::1] y,
                        const floating[::1] dy, floating[::1] dx, double param=0.0):
    """dx[i] = dy[i] * act'(x[i]) given x (input) and y = act(x) (output)."""
    cdef Py_ssize_t c, n = x.shape[0], nchunks = (n + CHUNK - 1) // CHUNK
    if n >= PARALLEL_MIN:
        for c in prange(nchunks, nogil=True, schedule="static"):
            _bwd_range(code, x, y, dy, dx, param, c * CHUNK, min(n, (c + 1) * CHUNK))
    else:
        with nogil:
            _bwd_range(code, x, y, dy, dx, param, 0, n)

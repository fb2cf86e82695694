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


def activation_forward(int code, const floating[::1] x, floating[::1] out, double param=0.0):
    """out[i] = act(x[i])."""
    cdef Py_ssize_t i, n = x.shape[0]
    if n >= PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            out[i] = act_fwd(code, x[i], param)
    else:
        with nogil:
            for i in range(n):
                out[i] = act_fwd(code, x[i], param)


def activation_backward(int code, const floating[::1] x, const floating[::1] y,
                        const floating[::1] dy, floating[::1] dx, double param=0.0):
    """dx[i] = dy[i] * act'(x[i]) given x (input) and y = act(x) (output)."""
    cdef Py_ssize_t i, n = x.shape[0]
    if n >= PARALLEL_MIN:
        for i in prange(n, nogil=True, schedule="static"):
            dx[i] = dy[i] * act_grad(code, x[i], y[i], param)
    else:
        with nogil:
            for i in range(n):
                dx[i] = dy[i] * act_grad(code, x[i], y[i], param)

"""Elementwise activation kernels: forward and backward over flat C-contiguous buffers.

    activation_forward(code, x, out, param=0.0)           out[i] = act(x[i])
    activation_backward(code, x, y, dy, dx, param=0.0)    dx[i] = dy[i] * act'(x[i])

``code`` is a value of ``CODES``; ``param`` is leaky_relu's negative slope or elu's
alpha. Arguments are 1-D C-contiguous ndarrays of one float dtype (float32 or float64)
and equal length. The entry points check that in C before any loop runs (argcheck.pxd):
a wrong dtype raises TypeError, a wrong length, layout or code ValueError. They take
ndarrays rather than typed memoryviews because acquiring a memoryview costs about a
microsecond per argument, as much as the loop over a small layer.

>>> import numpy as np
>>> x = np.array([-1.0, 0.0, 2.0]); out = np.empty_like(x)
>>> activation_forward(CODES["relu"], x, out); out
array([0., 0., 2.])
>>> dx = np.empty_like(x)
>>> activation_backward(CODES["relu"], x, out, np.ones(3), dx); dx
array([0., 0., 1.])
"""
from cython cimport floating
cimport numpy as cnp

from microinit._kernels.activations cimport N_ACTIVATIONS
cimport microinit._kernels.activations as A
from microinit._kernels.elementwise_core cimport act_backward_all, act_forward_all
from microinit._kernels.argcheck cimport check_array, check_vector, float_typenum

cnp.import_array()

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

cdef int _check_code(str op, int code) except -1:
    if code < 0 or code >= N_ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation code {code}; codes are 0..{N_ACTIVATIONS - 1} "
                         f"(elementwise.CODES)")
    return 0


def activation_forward(int code, x, out, double param=0.0):
    """out[i] = act(x[i]) for 1-D C-contiguous x and out of one float dtype and length."""
    cdef int t = float_typenum("activation_forward", "x", x)
    _check_code("activation_forward", code)
    check_array("activation_forward", "x", x, t, 1, False)
    cdef Py_ssize_t n = x.shape[0]
    check_vector("activation_forward", "out", out, t, n, True)
    cdef void* px = cnp.PyArray_DATA(<cnp.ndarray> x)
    cdef void* po = cnp.PyArray_DATA(<cnp.ndarray> out)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            act_forward_all(code, <const float*> px, <float*> po, param, n)
        else:
            act_forward_all(code, <const double*> px, <double*> po, param, n)


def activation_backward(int code, x, y, dy, dx, double param=0.0):
    """dx[i] = dy[i] * act'(x[i]) given x (input) and y = act(x) (output), all 1-D
    C-contiguous arrays of one float dtype and length."""
    cdef int t = float_typenum("activation_backward", "x", x)
    _check_code("activation_backward", code)
    check_array("activation_backward", "x", x, t, 1, False)
    cdef Py_ssize_t n = x.shape[0]
    check_vector("activation_backward", "y", y, t, n, False)
    check_vector("activation_backward", "dy", dy, t, n, False)
    check_vector("activation_backward", "dx", dx, t, n, True)
    cdef void* px = cnp.PyArray_DATA(<cnp.ndarray> x)
    cdef void* py = cnp.PyArray_DATA(<cnp.ndarray> y)
    cdef void* pdy = cnp.PyArray_DATA(<cnp.ndarray> dy)
    cdef void* pdx = cnp.PyArray_DATA(<cnp.ndarray> dx)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            act_backward_all(code, <const float*> px, <const float*> py, <const float*> pdy,
                      <float*> pdx, param, n)
        else:
            act_backward_all(code, <const double*> px, <const double*> py, <const double*> pdy,
                      <double*> pdx, param, n)

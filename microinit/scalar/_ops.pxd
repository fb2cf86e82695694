# cython: language_level=3
"""Op codes of the compiled scalar engine and the local derivative of each op.

Header-only (cimported, no module at run time). ``microinit/scalar/tape.py``
repeats the code table for the pure-Python replay (a test checks they agree), and
``microinit/scalar/engine.py`` holds the same derivatives as a Python table (tests
check them against these number for number). The activation derivatives come
from ``microinit/_kernels/activations.pxd``, where each is written once.
"""
from libc.math cimport pow as c_pow

from microinit._kernels.activations cimport (
    relu_grad, tanh_grad, sigmoid_grad, leaky_relu_grad, exp_grad, log_grad, sqrt_grad,
    abs_grad, pow_grad,
)

cdef enum:
    OP_DEAD = -1       # a recorded node that has been freed
    OP_LEAF = 0
    OP_ADD = 1         # a + b
    OP_MUL = 2         # a * b
    OP_SUB = 3         # a - b
    OP_DIV = 4         # a / b, computed as a * b**-1 (micrograd's numbers)
    OP_NEG = 5         # -a
    OP_ADDC = 6        # a + c
    OP_MULC = 7        # a * c
    OP_RSUBC = 8       # c - a
    OP_RDIVC = 9       # c / a, computed as a**-1 * c
    OP_POW = 10        # a ** c
    OP_RELU = 11
    OP_TANH = 12
    OP_SIGMOID = 13
    OP_EXP = 14
    OP_LOG = 15
    OP_SQRT = 16
    OP_ABS = 17
    OP_LEAKY_RELU = 18  # slope c


cdef inline void local_derivatives(int code, double x0, double x1, double y, double c,
                                   double* d0, double* d1) noexcept nogil:
    """d y / d x0 and d y / d x1 of one node y = op(x0, x1; c); untouched if absent."""
    if code == OP_ADD:
        d0[0] = 1.0
        d1[0] = 1.0
    elif code == OP_MUL:
        d0[0] = x1
        d1[0] = x0
    elif code == OP_SUB:
        d0[0] = 1.0
        d1[0] = -1.0
    elif code == OP_DIV:
        # y = x0 * x1**-1: the x1**-1 and -x1**-2 of micrograd's pow node
        d0[0] = c_pow(x1, -1.0)
        d1[0] = pow_grad(x1, -1.0) * x0
    elif code == OP_NEG or code == OP_RSUBC:
        d0[0] = -1.0
    elif code == OP_ADDC:
        d0[0] = 1.0
    elif code == OP_MULC:
        d0[0] = c
    elif code == OP_RDIVC:
        d0[0] = pow_grad(x0, -1.0) * c
    elif code == OP_POW:
        d0[0] = pow_grad(x0, c)
    elif code == OP_RELU:
        d0[0] = relu_grad(x0)
    elif code == OP_TANH:
        d0[0] = tanh_grad(y)
    elif code == OP_SIGMOID:
        d0[0] = sigmoid_grad(y)
    elif code == OP_EXP:
        d0[0] = exp_grad(y)
    elif code == OP_LOG:
        d0[0] = log_grad(x0)
    elif code == OP_SQRT:
        d0[0] = sqrt_grad(y)
    elif code == OP_ABS:
        d0[0] = abs_grad(x0)
    elif code == OP_LEAKY_RELU:
        d0[0] = leaky_relu_grad(x0, c)

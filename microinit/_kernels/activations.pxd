# cython: language_level=3
"""The one definition of every activation and its derivative (docs/design.md).

Both the scalar tape loop (scalar engine) and the tensor elementwise / fused dense
kernels cimport these inline functions, so the math of tanh, sigmoid, relu ... is
written exactly once. Python-side twins live in ``reference.py`` and are checked
against these in the tests.

Conventions at non-differentiable points (pinned by tests):
  relu'(0) = 0, leaky_relu'(0) = negative_slope, elu'(0) = alpha * 1 (left limit)
  -- the same choices PyTorch makes.

Derivatives take whichever of (x = input, y = output) gives the cheapest exact form;
``act_grad`` receives both so callers never recompute the forward pass.
"""
from cython cimport floating
from libc.math cimport exp, expf, expm1, expm1f, tanh, tanhf, log1p, log1pf, erf, erff, fabs, fabsf, sqrt

cdef enum:
    ACT_IDENTITY = 0
    ACT_RELU = 1
    ACT_TANH = 2
    ACT_SIGMOID = 3
    ACT_LEAKY_RELU = 4
    ACT_ELU = 5
    ACT_SELU = 6
    ACT_GELU = 7
    ACT_SOFTPLUS = 8
    N_ACTIVATIONS = 9

# Constants as C macros (src/activation_constants.h says why).
cdef extern from "activation_constants.h":
    const double SELU_ALPHA "MI_SELU_ALPHA"
    const double SELU_SCALE "MI_SELU_SCALE"
    const double INV_SQRT2 "MI_INV_SQRT2"
    const double INV_SQRT_2PI "MI_INV_SQRT_2PI"


cdef inline floating f_exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating f_expm1(floating x) noexcept nogil:
    if floating is float:
        return expm1f(x)
    else:
        return expm1(x)


cdef inline floating f_log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating f_abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


# --- forward ------------------------------------------------------------------

cdef inline floating relu_fwd(floating x) noexcept nogil:
    # written as "x <= 0" so that NaN propagates (IEEE, as torch and numpy do)
    return <floating>0 if x <= 0 else x


cdef inline floating tanh_fwd(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating sigmoid_fwd(floating x) noexcept nogil:
    # Two branches so exp never overflows: for x < 0 use e^x / (1 + e^x).
    cdef floating e
    if x >= 0:
        return 1 / (1 + f_exp(-x))
    e = f_exp(x)
    return e / (1 + e)


cdef inline floating leaky_relu_fwd(floating x, double slope) noexcept nogil:
    return x if x > 0 else <floating>(slope * x)


cdef inline floating elu_fwd(floating x, double alpha) noexcept nogil:
    return x if x > 0 else <floating>(alpha * f_expm1(x))


cdef inline floating selu_fwd(floating x) noexcept nogil:
    if x > 0:
        return <floating>(SELU_SCALE * x)
    return <floating>(SELU_SCALE * SELU_ALPHA * f_expm1(x))


cdef inline floating gelu_fwd(floating x) noexcept nogil:
    # exact GELU: x * Phi(x) with Phi the standard normal CDF
    if floating is float:
        return <float>(0.5 * x * (1 + erff(x * <float>INV_SQRT2)))
    else:
        return 0.5 * x * (1 + erf(x * INV_SQRT2))


cdef inline floating softplus_fwd(floating x) noexcept nogil:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|
    return (x if x > 0 else <floating>0) + f_log1p(f_exp(-f_abs(x)))


# --- derivatives ----------------------------------------------------------------

cdef inline floating relu_grad(floating x) noexcept nogil:
    return 1 if x > 0 else 0


cdef inline floating tanh_grad(floating y) noexcept nogil:
    return 1 - y * y


cdef inline floating sigmoid_grad(floating y) noexcept nogil:
    return y * (1 - y)


cdef inline floating leaky_relu_grad(floating x, double slope) noexcept nogil:
    return 1 if x > 0 else <floating>slope


cdef inline floating elu_grad(floating x, floating y, double alpha) noexcept nogil:
    # for x <= 0, d/dx alpha*(e^x - 1) = alpha*e^x = y + alpha
    return 1 if x > 0 else <floating>(y + alpha)


cdef inline floating selu_grad(floating x, floating y) noexcept nogil:
    if x > 0:
        return <floating>SELU_SCALE
    return <floating>(y + SELU_SCALE * SELU_ALPHA)


cdef inline floating gelu_grad(floating x) noexcept nogil:
    # Phi(x) + x * phi(x)
    cdef double xd = x
    return <floating>(0.5 * (1 + erf(xd * INV_SQRT2)) + xd * INV_SQRT_2PI * exp(-0.5 * xd * xd))


cdef inline floating softplus_grad(floating x) noexcept nogil:
    return sigmoid_fwd(x)


# --- dispatch by code (for kernels that take the activation as an argument) -----

cdef inline floating act_fwd(int code, floating x, double param) noexcept nogil:
    if code == ACT_RELU:
        return relu_fwd(x)
    elif code == ACT_TANH:
        return tanh_fwd(x)
    elif code == ACT_SIGMOID:
        return sigmoid_fwd(x)
    elif code == ACT_LEAKY_RELU:
        return leaky_relu_fwd(x, param)
    elif code == ACT_ELU:
        return elu_fwd(x, param)
    elif code == ACT_SELU:
        return selu_fwd(x)
    elif code == ACT_GELU:
        return gelu_fwd(x)
    elif code == ACT_SOFTPLUS:
        return softplus_fwd(x)
    return x


cdef inline floating act_grad(int code, floating x, floating y, double param) noexcept nogil:
    """d act(x) / dx, given the input x and the output y = act(x)."""
    if code == ACT_RELU:
        return relu_grad(x)
    elif code == ACT_TANH:
        return tanh_grad(y)
    elif code == ACT_SIGMOID:
        return sigmoid_grad(y)
    elif code == ACT_LEAKY_RELU:
        return leaky_relu_grad(x, param)
    elif code == ACT_ELU:
        return elu_grad(x, y, param)
    elif code == ACT_SELU:
        return selu_grad(x, y)
    elif code == ACT_GELU:
        return gelu_grad(x)
    elif code == ACT_SOFTPLUS:
        return softplus_grad(x)
    return 1


# --- derivatives used by the scalar engine's tape (microinit/scalar/_ops.pxd) ---------------------
# Conventions at the points where the derivative does not exist or is infinite
# (pinned by tests/scalar): IEEE arithmetic decides, as in PyTorch --
#   log'(0) = 1/0 = +inf, sqrt'(0) = 0.5/0 = +inf, abs'(0) = 0,
#   d/dx x**p = 0 when p == 0 (so x**0 never yields 0 * inf = NaN at x = 0).
from libc.math cimport pow, powf

cdef inline floating exp_grad(floating y) noexcept nogil:
    # d/dx e^x = e^x = y: reuse the output instead of recomputing exp
    return y


cdef inline floating log_grad(floating x) noexcept nogil:
    return <floating>1 / x


cdef inline floating sqrt_grad(floating y) noexcept nogil:
    # d/dx sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / y
    return <floating>0.5 / y


cdef inline floating abs_grad(floating x) noexcept nogil:
    if x > 0:
        return 1
    elif x < 0:
        return -1
    return 0


cdef inline floating pow_grad(floating x, double p) noexcept nogil:
    # d/dx x**p = p * x**(p-1)
    if p == 0:
        return 0
    if floating is float:
        return <float>(p * powf(x, <float>(p - 1)))
    else:
        return p * pow(x, p - 1)

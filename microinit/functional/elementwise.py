"""Elementwise activations as forward/backward pairs over numpy arrays.

The math lives once, in ``_kernels/activations.pxd`` (DESIGN.md boundary 2); these
functions only check/shape the buffers and call the compiled elementwise kernel.
Inputs on the internal path (Tensor data) are already C-contiguous float32/float64, so
the checks below are cheap no-ops there; the kernel is never called on a zero-size
buffer (RELIABILITY row 11).

Example::

    >>> import numpy as np
    >>> y = activation_forward("tanh", np.array([0.0, 1.0]))
    >>> dx = activation_backward("tanh", np.array([0.0, 1.0]), y, np.ones(2))
    >>> # dx = 1 - tanh(x)**2
"""
import numpy as np

from microinit._kernels import elementwise as _ew
from microinit.functional._validate import as_float_array

#: activation name -> enum code of activations.pxd
ACTIVATION_CODES = dict(_ew.CODES)
ACTIVATIONS = tuple(ACTIVATION_CODES)
_fwd = _ew.activation_forward
_bwd = _ew.activation_backward


#: the parameter an activation takes when none is given (PyTorch's defaults)
DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}


def activation_code(name, op=None):
    """Enum code for an activation name (``None`` means identity; case-insensitive).

    Unknown names raise ValueError listing the available ones, prefixed by ``op``.
    """
    if name is None:
        return 0
    try:
        return ACTIVATION_CODES[name]
    except (KeyError, TypeError):
        if isinstance(name, str) and name.lower() in ACTIVATION_CODES:
            return ACTIVATION_CODES[name.lower()]
        prefix = f"{op}: " if op else ""
        raise ValueError(f"{prefix}unknown activation {name!r}; available: None, "
                         f"{', '.join(sorted(ACTIVATIONS))}") from None


def activation_forward(name, x, param=0.0):
    """y = act(x) elementwise, same shape and dtype as ``x``.

    ``param`` is the negative slope of leaky_relu and the alpha of elu.
    """
    return forward_code(activation_code(name), as_float_array(x, name or "identity", "x"), param)


def activation_backward(name, x, y, dy, param=0.0):
    """dx = dy * act'(x), given the forward input ``x`` and output ``y = act(x)``.

    ``x`` and ``y`` must be the C-contiguous arrays of one dtype used in the forward;
    ``dy`` may be any layout/float dtype and is brought to ``x``'s.
    """
    return backward_code(activation_code(name), x, y, dy, param)


def forward_code(code, x, param=0.0):
    """Internal entry (Tensor ops): ``x`` is already C-contiguous float32/float64."""
    out = np.empty_like(x)
    if x.size:
        _fwd(code, x.reshape(-1), out.reshape(-1), param)
    return out


def backward_code(code, x, y, dy, param=0.0):
    """Internal entry (Tensor ops): ``x``/``y`` as from the forward; ``dy`` any layout."""
    dt = x.dtype
    if dy.dtype != dt or not dy.flags.c_contiguous:
        dy = np.asarray(dy, dtype=dt, order="C")
    dx = np.empty_like(x)
    if x.size:
        _bwd(code, x.reshape(-1), y.reshape(-1), dy.reshape(-1), dx.reshape(-1), param)
    return dx

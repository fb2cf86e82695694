"""The ops as functions of the package (``microinit.sin(x)``, ``microinit.var(x, 1)``),
taking a Tensor or anything array-like as their first argument.

Tensor methods call the ops of their family modules directly; these functions are the
same ops behind one conversion: a first argument that is not a Tensor becomes a leaf
Tensor (float arrays and lists as the boundary makes them, integer/bool arrays keeping
their dtype), and one that cannot be (a str, None, a ragged list, a complex array) is a
``TypeError`` naming the op. Nothing else happens here: no second definition of an op.

    >>> import microinit as mi
    >>> mi.sin([0.0]).tolist(), mi.argmax([3, 9, 1]).item()
    ([0.0], 1)
    >>> mi.var("abc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: var: input must be an array of float32 or float64 ..., got str
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable, Concatenate, ParamSpec, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from microinit.autograd.graph import tensor_class, wrap
from microinit.ops import activations_unfused, elementwise, indexing, reduce, shape, unary
from microinit.ops._boundary import floats, native

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = [
    "as_input_tensor", "argmax", "argmin", "var", "std", "prod", "logsumexp", "cumsum", "all_", "any_",
    "maximum", "minimum", "squeeze", "unsqueeze", "expand", "flip", "pad", "tril", "triu", "gather",
    "masked_fill", "sin", "cos", "erf", "rsqrt", "log2", "exp2", "sign", "floor", "ceil", "round_", "isnan",
    "isinf", "isfinite", "silu", "mish", "hardswish", "hardtanh", "relu6", "logsigmoid", "softsign", "gelu",
]


def as_input_tensor(x: Tensor | ArrayLike, op: str) -> Tensor:
    """``x`` if it is a Tensor, else a leaf Tensor of it (integer/bool kinds kept)."""
    if isinstance(x, tensor_class()):
        return x
    if isinstance(x, np.ndarray) and x.dtype.kind in "iub":
        return wrap(native(x))
    if isinstance(x, (list, tuple, int)) and not isinstance(x, bool):
        try:
            a = np.asarray(x)
        except (TypeError, ValueError):
            a = None
        if a is not None and a.dtype.kind in "iub":
            return wrap(native(a))
    return wrap(floats(x, op))


def _tensor_first(fn: Callable[Concatenate[Tensor, _P], _R],
                  op: str) -> Callable[Concatenate[Tensor | ArrayLike, _P], _R]:
    @functools.wraps(fn)
    def call(x: Tensor | ArrayLike, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return fn(as_input_tensor(x, op), *args, **kwargs)
    # x may also be given by keyword (x=...), which Concatenate's positional-only first
    # parameter does not express
    return call  # type: ignore[return-value]


# one line per op: the op of its family module behind the conversion above
argmax = _tensor_first(reduce.argmax, "argmax")
argmin = _tensor_first(reduce.argmin, "argmin")
var = _tensor_first(reduce.var, "var")
std = _tensor_first(reduce.std, "std")
prod = _tensor_first(reduce.prod, "prod")
logsumexp = _tensor_first(reduce.logsumexp, "logsumexp")
cumsum = _tensor_first(reduce.cumsum, "cumsum")
all_ = _tensor_first(reduce.all_, "all")
any_ = _tensor_first(reduce.any_, "any")
maximum = _tensor_first(elementwise.maximum, "maximum")
minimum = _tensor_first(elementwise.minimum, "minimum")
squeeze = _tensor_first(shape.squeeze, "squeeze")
unsqueeze = _tensor_first(shape.unsqueeze, "unsqueeze")
expand = _tensor_first(shape.expand, "expand")
flip = _tensor_first(shape.flip, "flip")
pad = _tensor_first(shape.pad, "pad")
tril = _tensor_first(shape.tril, "tril")
triu = _tensor_first(shape.triu, "triu")
gather = _tensor_first(indexing.gather, "gather")
masked_fill = _tensor_first(indexing.masked_fill, "masked_fill")
sin = _tensor_first(unary.sin, "sin")
cos = _tensor_first(unary.cos, "cos")
erf = _tensor_first(unary.erf, "erf")
rsqrt = _tensor_first(unary.rsqrt, "rsqrt")
log2 = _tensor_first(unary.log2, "log2")
exp2 = _tensor_first(unary.exp2, "exp2")
sign = _tensor_first(unary.sign, "sign")
floor = _tensor_first(unary.floor, "floor")
ceil = _tensor_first(unary.ceil, "ceil")
round_ = _tensor_first(unary.round_, "round")
isnan = _tensor_first(unary.isnan, "isnan")
isinf = _tensor_first(unary.isinf, "isinf")
isfinite = _tensor_first(unary.isfinite, "isfinite")
silu = _tensor_first(activations_unfused.silu, "silu")
mish = _tensor_first(activations_unfused.mish, "mish")
hardswish = _tensor_first(activations_unfused.hardswish, "hardswish")
hardtanh = _tensor_first(activations_unfused.hardtanh, "hardtanh")
relu6 = _tensor_first(activations_unfused.relu6, "relu6")
logsigmoid = _tensor_first(activations_unfused.logsigmoid, "logsigmoid")
softsign = _tensor_first(activations_unfused.softsign, "softsign")
gelu = _tensor_first(activations_unfused.gelu, "gelu")

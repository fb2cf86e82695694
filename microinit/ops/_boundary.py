"""THE boundary: every array bound for a kernel is made safe here, and only here.

What an array looks like after it passed (what kernels may assume):

* dtype float32 or float64. Integer and bool arrays, Python lists of them and float16
  become float32 (the default float); a list of Python floats becomes float64, as
  ``np.asarray`` makes it. complex, object, str, bytes and ``None`` raise ``TypeError``
  naming the op and what was received.
* native byte order (a big-endian array is converted: same values, native bytes).
* C-contiguous (Fortran order, transposes, strided and negative-stride views are
  copied into C order), so a kernel sees the same bytes whatever layout came in, and
  the result is the same to the last bit.
* shapes checked against each other by the op before any kernel runs (helpers below).
* integer class labels copied, as int64, and range-checked: what backward later reads
  is this private copy, so an in-place change of the caller's array cannot reach it.

One promotion rule: float64 if any float operand is float64, else float32.

The compiled entry points test the same conditions in C (``_kernels/fastpath.pxd``)
so that an argument already in this form costs nothing; anything else comes here.

    >>> floats([[1, 2], [3, 4]], "matmul").dtype
    dtype('float32')
    >>> big = np.arange(3, dtype=">f8")
    >>> floats(big, "op").dtype.isnative, floats(big, "op").tolist()
    (True, [0.0, 1.0, 2.0])
    >>> floats(np.zeros(2, np.complex64), "relu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: relu: input has unsupported dtype complex64; supported: float32 or float64 ...
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.autograd.graph import tensor_class, wrap

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
DEFAULT_DTYPE = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
SUPPORTED = "float32 or float64 (float16, int and bool arrays are cast to float32)"

__all__ = ["floats", "promote", "labels", "check_ndim", "check_same_shape", "result_dtype",
           "check_finite", "fdata", "operand", "as_tensor", "native", "FLOAT_DTYPES", "DEFAULT_DTYPE",
           "SUPPORTED"]


def _describe(x: object) -> str:
    dt = getattr(x, "dtype", None)
    return str(dt) if dt is not None else type(x).__name__


def _as_array(x: Any, op: str, name: str) -> NDArray[Any]:
    """Any array-like as an ndarray, or TypeError (None, str, ragged lists...)."""
    if type(x) is np.ndarray:
        return x
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"{op}: {name} must be an array of {SUPPORTED}, got {type(x).__name__}")
    if isinstance(x, np.ndarray):  # a subclass (np.matrix, masked arrays): plain data
        return np.asarray(x).view(np.ndarray)
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as err:  # ragged lists and the like
        raise TypeError(f"{op}: {name} could not be converted to a float array ({err})") from None


def floats(x: Any, op: str, name: str = "input") -> NDArray[Any]:
    """``x`` as a native-order, C-contiguous float32/float64 ndarray, or ``TypeError``.

    No copy when ``x`` already is one (the common case: a Tensor's data).
    """
    a = _as_array(x, op, name)
    dt = a.dtype
    if dt is FLOAT_DTYPES[0] or dt is FLOAT_DTYPES[1]:  # the exact native dtype objects
        if a.flags.c_contiguous:
            return a
        return np.asarray(a, order="C")
    kind = dt.kind
    if kind == "f":
        if dt.itemsize == 2:
            return np.asarray(a, dtype=DEFAULT_DTYPE, order="C")
        if dt.itemsize in (4, 8):  # float32/float64 in either byte order
            return np.asarray(a, dtype=dt.newbyteorder("="), order="C")
    elif kind in "iub":
        return np.asarray(a, dtype=DEFAULT_DTYPE, order="C")
    raise TypeError(f"{op}: {name} has unsupported dtype {_describe(a)}; supported: {SUPPORTED}")


def promote(a: NDArray[Any], b: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Two boundary arrays brought to one dtype by the promotion rule."""
    if a.dtype is not b.dtype and a.dtype != b.dtype:
        if a.dtype == _F64:
            b = b.astype(_F64)
        else:
            a = a.astype(_F64)
    return a, b


def result_dtype(*arrays: Any) -> type[np.float32] | type[np.float64]:
    """The one promotion rule: float64 if any operand is float64, else float32.

    >>> result_dtype(np.zeros(2, np.float32), np.zeros(2))
    <class 'numpy.float64'>
    """
    for a in arrays:
        if getattr(a, "dtype", None) == np.float64:
            return np.float64
    return np.float32


def check_ndim(a: NDArray[Any], ndim: int, op: str, name: str = "input") -> NDArray[Any]:
    """Raise ``ValueError`` unless ``a.ndim == ndim`` (docs/reliability.md row 3).

    >>> check_ndim(np.zeros(3), 2, "dense", "x")
    Traceback (most recent call last):
    ValueError: dense: x should be 2-dimensional, but found 1 dimension(s) (shape (3,))
    """
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} should be {ndim}-dimensional, but found {a.ndim} "
                         f"dimension(s) (shape {tuple(a.shape)})")
    return a


def check_same_shape(a: NDArray[Any], b: NDArray[Any], op: str, names: tuple[str, str] = ("x", "y")) -> None:
    """Raise ``ValueError`` naming both shapes unless they are equal."""
    if a.shape != b.shape:
        raise ValueError(f"{op}: {names[0]} has shape {a.shape} but {names[1]} has shape "
                         f"{b.shape}; they must be equal")


def _first(a: NDArray[Any]) -> str:
    return f" (first label {a.reshape(-1)[0].item()!r})" if a.size else ""


def labels(y: ArrayLike, n: int, n_classes: int, op: str = "cross_entropy") -> NDArray[np.int64]:
    """Integer class labels of shape (n,) in [0, n_classes): a private int64 copy.

    A float dtype, another shape, or a label out of range raise ``ValueError`` naming
    it and n_classes (never wraparound indexing).

    >>> labels(np.array([2, 0]), 2, 3).tolist()
    [2, 0]
    >>> labels(np.array([3]), 1, 3)
    Traceback (most recent call last):
    ValueError: cross_entropy: label 3 at index 0 is out of range for n_classes 3 (labels must be in [0, 2])
    """
    a = _as_array(y, op, "labels")
    if a.dtype.kind not in "iu":
        raise ValueError(f"{op}: class labels must be integers in [0, {n_classes}) (n_classes "
                         f"{n_classes}), got dtype {a.dtype}{_first(a)}; pass class probabilities as an "
                         f"(N, {n_classes}) float array instead")
    if a.shape != (n,):
        raise ValueError(f"{op}: labels of shape {a.shape} do not match logits of shape ({n}, {n_classes}); "
                         f"expected labels of shape ({n},)")
    out = np.array(a, dtype=np.int64, order="C")  # always a copy, native int64
    if n:
        bad = (out < 0) | (out >= n_classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{op}: label {out[i]} at index {i} is out of range for n_classes "
                             f"{n_classes} (labels must be in [0, {n_classes - 1}])")
    return out


def check_finite(a: ArrayLike, where: str) -> NDArray[Any]:
    """Raise ``ValueError("input contains NaN/inf at ...")`` naming the first bad index.

    Only the data/fit path calls this: raw ops follow IEEE and never raise on NaN.

    >>> check_finite(np.array([1.0, np.nan]), "x")
    Traceback (most recent call last):
    ValueError: input contains NaN/inf at x[1] (value np.float64(nan))
    """
    a = np.asarray(a)
    if a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        idx = tuple(int(i) for i in bad)
        raise ValueError(f"input contains NaN/inf at {where}{list(idx)} (value {a[idx]!r})")
    return a


# ---------------------------------------------------------------- Tensor operands
# The ops see Tensors only through autograd (tensor_class); these give the data an op
# computes with, made safe by floats() above.
def fdata(t: Tensor, op: str = "op") -> NDArray[Any]:
    """A Tensor's data as a boundary array (int/bool label tensors become float32;
    data assigned in another layout or byte order is made C-contiguous native)."""
    d = t.data
    if type(d) is np.ndarray and (d.dtype is FLOAT_DTYPES[0] or d.dtype is FLOAT_DTYPES[1]) \
            and d.flags.c_contiguous:
        return d
    return floats(d, op, "tensor data")


def operand(x: Tensor | ArrayLike, op: str) -> tuple[NDArray[Any] | int | float, Tensor | None]:
    """(data, Tensor or None) for an operand of a binary op: a Tensor's data, a Python
    number as is (it never promotes: ``float32 * 2.5`` stays float32), or an array."""
    if isinstance(x, tensor_class()):
        return fdata(x, op), x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return x, None
    return floats(x, op, "other operand"), None


def as_tensor(x: Tensor | ArrayLike, op: str) -> Tensor:
    """``x`` if it is a Tensor, else a leaf Tensor around its boundary array."""
    if isinstance(x, tensor_class()):
        return x
    return wrap(floats(x, op))



def native(a: NDArray[Any]) -> NDArray[Any]:
    """Any ndarray (labels, masks, indices included) as C-contiguous native-order data;
    the dtype's kind is kept. No copy when it already is."""
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a if a.flags.c_contiguous else np.asarray(a, order="C")

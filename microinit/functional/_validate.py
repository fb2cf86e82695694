"""Boundary checks shared by every op: validate once here, never inside a kernel loop.

Conventions (RELIABILITY.md rows 6-9, 13):

* Supported float dtypes are float32 and float64; float32 is the default.
* Python lists/tuples/scalars convert; integer and bool arrays are cast to float32
  (the default float), so ``as_float_array([1, 2], "op").dtype == float32``.
* float16, complex, object, str and ``None`` raise ``TypeError`` naming the op and the
  dtype: float16 is rejected rather than silently upcast so that precision loss
  upstream is never hidden.
* One promotion rule: any float64 operand makes the result float64.

Example::

    >>> as_float_array([[1, 2], [3, 4]], "matmul", "a").dtype
    dtype('float32')
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
DEFAULT_DTYPE = np.float32

_SUPPORTED = "float32 or float64 (int/bool arrays and lists are cast to float32)"


def _describe(x):
    if x is None:
        return "None"
    dt = getattr(x, "dtype", None)
    return str(dt) if dt is not None else type(x).__name__


def as_float_array(x, op, name="input"):
    """Return ``x`` as a C-contiguous float32/float64 ndarray, or raise ``TypeError``.

    Float32/float64 arrays keep their dtype (no copy when already C-contiguous);
    non-contiguous or negative-stride views are copied into C order; int/bool arrays
    and lists become float32. ``op`` and ``name`` only appear in error messages.
    """
    if x is None:
        raise TypeError(f"{op}: {name} must be an array of {_SUPPORTED}, got None")
    if type(x) is np.ndarray:
        a = x
    else:
        if isinstance(x, (str, bytes)):
            raise TypeError(f"{op}: {name} must be an array of {_SUPPORTED}, got {type(x).__name__}")
        try:
            a = np.asarray(x)
        except (ValueError, TypeError) as err:  # ragged lists and the like
            raise TypeError(f"{op}: {name} could not be converted to a float array ({err})") from None
    kind = a.dtype.kind
    if kind == "f":
        if a.dtype.type is np.float32 or a.dtype.type is np.float64:
            if a.flags.c_contiguous:
                return a
            return np.asarray(a, order="C")
        raise TypeError(f"{op}: {name} has unsupported dtype {a.dtype}; supported: {_SUPPORTED}")
    if kind in "iub":
        return np.asarray(a, dtype=DEFAULT_DTYPE, order="C")
    raise TypeError(f"{op}: {name} has unsupported dtype {_describe(a)}; supported: {_SUPPORTED}")


def check_ndim(a, ndim, op, name="input"):
    """Raise ``ValueError`` unless ``a.ndim == ndim`` (RELIABILITY row 3)."""
    if a.ndim != ndim:
        words = {1: "1-dimensional", 2: "2-dimensional", 3: "3-dimensional"}
        want = words.get(ndim, f"{ndim}-dimensional")
        raise ValueError(f"{op}: {name} should be {want}, but found {a.ndim} dimension(s)"
                         f" (shape {tuple(a.shape)})")
    return a


def result_dtype(*arrays):
    """The one promotion rule: float64 if any operand is float64, else float32.

    >>> result_dtype(np.zeros(2, np.float32), np.zeros(2))
    <class 'numpy.float64'>
    """
    for a in arrays:
        if getattr(a, "dtype", None) == np.float64:
            return np.float64
    return np.float32


def check_finite(a, where):
    """Raise ``ValueError("input contains NaN/inf at ...")`` naming the first bad index.

    Only the data/fit path calls this: raw ops follow IEEE and never raise on NaN.
    """
    a = np.asarray(a)
    if a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        idx = tuple(int(i) for i in bad)
        raise ValueError(f"input contains NaN/inf at {where}{list(idx)} (value {a[idx]!r})")
    return a

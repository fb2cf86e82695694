"""What a model accepts as its input batch, and in which dtype it computes.

The rule (docs/reliability.md rows 60 and 61), applied where a batch enters a Dense
layer or a fused run of them:

* A float array or Tensor in the model's dtype goes through untouched.
* Anything else numeric is cast to the **model's dtype** (its first weight's), so a
  float32 model always computes in float32: a list of rows, an int array, a float32
  batch into a float64 model. A float64 batch into a float32 model would lose
  precision, so that cast also warns, once per model (a float64 batch otherwise
  doubles every buffer and runs about 2.5x slower with no one told). A Tensor that
  requires grad is cast by the differentiable ``astype``, so its gradient comes back
  in its own dtype.
* ``None``, strings, dicts, sets, ragged lists and non-numeric arrays raise
  ``TypeError`` naming the layer, what it received and what it accepts.

    >>> import numpy as np, warnings
    >>> from microinit.nn import Dense
    >>> layer = Dense(2, 1, rng=0)
    >>> layer([[1, 2], [3, 4]]).dtype                 # a list: the model's dtype
    dtype('float32')
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     out = layer(np.ones((3, 2)))               # float64 in, float32 model
    >>> out.dtype, len(caught)
    (dtype('float32'), 1)
    >>> layer(None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: Dense layer expects a 2-D batch (a numpy array, a Tensor or a list ...), but received NoneType
"""
from __future__ import annotations

import os
import sys
import warnings
import weakref
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.tensor import Tensor

if TYPE_CHECKING:  # annotations only: module.py's layers import this module
    from microinit.nn.module import Module

__all__ = ["model_input", "ACCEPTED"]

ACCEPTED = "a 2-D batch (a numpy array, a Tensor or a list of rows of numbers)"

# the layers that already warned about a float64 batch: once per model, not per call
_warned: weakref.WeakSet[Module] = weakref.WeakSet()


def _refuse(who: str, received: str) -> NoReturn:
    raise TypeError(f"{who} expects {ACCEPTED}, but received {received}")


def model_input(x: Tensor | ArrayLike, dtype: np.dtype[Any], layer: Module) -> Tensor | NDArray[Any]:
    """``x`` as an ndarray or Tensor of ``dtype`` (the model's), or ``TypeError``.

    ``layer`` is the Dense layer the batch enters (named in errors and warnings).
    """
    kind = type(x)
    if kind is Tensor:  # the common case first: a batch already in the model's dtype
        if x.data.dtype is dtype:  # type: ignore[union-attr]  # kind is Tensor
            return x  # type: ignore[return-value]  # kind is Tensor
    elif kind is np.ndarray and x.dtype is dtype:  # type: ignore[union-attr]  # kind is ndarray
        return x  # type: ignore[return-value]  # kind is ndarray
    if isinstance(x, Tensor):
        data = x.data
        if data.dtype == dtype:
            return x
        if data.dtype.kind not in "fiub":
            _refuse(layer.layer_label(), f"a Tensor of dtype {data.dtype}")
        _warn_if_narrowing(data.dtype, dtype, layer)
        return x.astype(dtype)
    if x is None or isinstance(x, (str, bytes, dict, set)) or callable(x):
        _refuse(layer.layer_label(), type(x).__name__)
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiub":
            _refuse(layer.layer_label(), f"an array of dtype {x.dtype}")
        if x.dtype == dtype:
            return x
        _warn_if_narrowing(x.dtype, dtype, layer)
        return np.asarray(x, dtype=dtype, order="C")
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as err:  # ragged lists and the like
        _refuse(layer.layer_label(), f"{type(x).__name__} that is not a rectangular array of numbers ({err})")
    if a.dtype.kind not in "fiub":
        _refuse(layer.layer_label(), f"{type(x).__name__} of {a.dtype} values")
    return np.asarray(a, dtype=dtype, order="C")


def _warn_if_narrowing(src: np.dtype[Any], dtype: np.dtype[Any], layer: Module) -> None:
    if src.kind == "f" and src.itemsize > dtype.itemsize and layer not in _warned:
        _warned.add(layer)
        src = src.newbyteorder("=")  # name it float64, not >f8
        warnings.warn(
            f"{layer.layer_label()}: the input batch is {src} but the model's parameters are {dtype}; "
            f"it is cast to {dtype} (warned once per model). Pass {dtype} data, or build the "
            f"model with dtype={src} to compute in {src}.", UserWarning, stacklevel=_caller_outside_package())


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_outside_package() -> int:
    """The ``stacklevel`` that points a warning at the user's line, not at microinit's."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level

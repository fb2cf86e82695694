"""In-place arithmetic: ``t += v``, ``t -= v``, ``t *= v``, ``t /= v`` (docs/reliability.md row 57).

Python turns ``t -= v`` into ``t = t.__isub__(v)``; without these methods it would fall
back to ``t = t - v`` and quietly rebind the name, so ``p -= lr * p.grad`` inside
``no_grad`` would never touch the model's parameter. The rules are PyTorch's:

* grad mode off, or nothing involved requires grad: the result is written into
  ``t.data`` (the same array: views of it see the change) and ``t._version`` goes up;
* grad mode on and ``t`` is a leaf that requires grad: ``RuntimeError`` (the update
  would be invisible to the gradient of everything computed from ``t`` so far);
* otherwise the op is recorded: ``t`` takes the new node as its history (its previous
  value and history live on in a private copy), and its version goes up, so any
  earlier node that saved ``t`` refuses to run backward (row 28).

Each update is the out-of-place op of ``ops/elementwise.py`` (one definition per op),
whose result is cast back to ``t``'s dtype; a result that does not fit (a float into an
integer tensor, a broadcast that would grow ``t``) is refused before anything is written.

    >>> import microinit as mi
    >>> w = mi.tensor([1.0, 2.0], requires_grad=True)
    >>> with mi.no_grad():
    ...     w -= 0.5 * mi.tensor([2.0, 2.0])
    >>> w
    tensor([0., 1.], requires_grad=True)
    >>> h = w * 1.0
    >>> h *= 3.0
    >>> h.sum().backward(); w.grad
    array([3., 3.], dtype=float32)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.autograd.graph import needs_grad, tensor_class, wrap
from microinit.autograd.mode import grad_mode
from microinit.ops import elementwise

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["iadd", "isub", "imul", "idiv"]

_INTEGER_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply}


def _other_requires_grad(other: Tensor | ArrayLike) -> bool:
    return isinstance(other, tensor_class()) and other.requires_grad


def _check_writable(t: Tensor, op: str) -> None:
    if not t.data.flags.writeable:
        raise ValueError(f"{op}: the tensor's data (shape {t.data.shape}) is a read-only array; "
                         f"in-place arithmetic needs a writable one (use t = t {op[0]} ... instead)")


def _integer_inplace(t: Tensor, other: Tensor | ArrayLike, name: str, op: str) -> Tensor:
    """Integer tensors (labels, indices) never require grad: numpy's in-place ufunc."""
    ufunc = _INTEGER_UFUNCS.get(name)
    b = other.data if isinstance(other, tensor_class()) else other
    if ufunc is None:
        raise TypeError(f"{op}: true division cannot be done in place on an integer tensor "
                        f"(dtype {t.data.dtype}); use t = t / v")
    try:
        ufunc(t.data, b, out=t.data, casting="same_kind")
    except TypeError as err:  # numpy's UFuncTypeError: a float operand into int data
        raise TypeError(f"{op}: the result cannot be stored in a tensor of dtype {t.data.dtype} "
                        f"({err})") from None
    except ValueError:  # a broadcast that would grow t
        raise ValueError(f"{op}: operand of shape {np.shape(b)} does not broadcast to the "
                         f"tensor's shape {t.data.shape}") from None
    t._version += 1
    return t


def _result_into(t: Tensor, result: NDArray[Any], op: str) -> None:
    """Check that ``result`` (the out-of-place value) can replace ``t.data`` in place."""
    if result.shape != t.data.shape:
        raise ValueError(f"{op}: the result has shape {result.shape}, but an in-place update must keep "
                         f"the tensor's shape {t.data.shape}")


def _inplace(t: Tensor, other: Tensor | ArrayLike, name: str, op: str) -> Tensor:
    forward: Callable[[Tensor, Any], Tensor] = getattr(elementwise, name)
    if t.data.dtype.kind != "f":
        _check_writable(t, op)
        return _integer_inplace(t, other, name, op)
    if not needs_grad(t) and not (grad_mode.enabled and _other_requires_grad(other)):
        # nothing to record: compute with the one op, write the values into t.data
        _check_writable(t, op)
        result = forward(wrap(t.data), other.data if isinstance(other, tensor_class()) else other).data
        _result_into(t, result, op)
        np.copyto(t.data, result, casting="same_kind")
        t._version += 1
        return t
    if t._ctx is None and t.requires_grad:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {t.data.shape}) cannot be updated in place "
            "while grad mode is on; do the update inside `with microinit.no_grad():`, or use "
            "t = t ... to make a new tensor")
    _check_writable(t, op)
    # The history so far moves to a private copy of the old value, so the new node's
    # backward reads the values as they were; t becomes the new node's output.
    before = wrap(t.data.copy())
    before.requires_grad, before._ctx = t.requires_grad, t._ctx
    # A node that saved its output (exp, softmax...) read t's array, about to be
    # overwritten: the copy carries a nonzero version, so that node refuses backward.
    before._version = t._version + 1
    recorded = forward(before, other)
    _result_into(t, recorded.data, op)
    np.copyto(t.data, recorded.data, casting="same_kind")
    t.requires_grad, t._ctx = recorded.requires_grad, recorded._ctx
    t.grad = None
    t._version += 1
    return t


def iadd(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """``t += other`` (see the module docstring for when it is recorded)."""
    return _inplace(t, other, "add", "+=")


def isub(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """``t -= other``."""
    return _inplace(t, other, "sub", "-=")


def imul(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """``t *= other``."""
    return _inplace(t, other, "mul", "*=")


def idiv(t: Tensor, other: Tensor | ArrayLike) -> Tensor:
    """``t /= other``."""
    return _inplace(t, other, "div", "/=")

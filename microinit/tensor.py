"""Tensor: n-d arrays with reverse-mode automatic differentiation.

A ``Tensor`` wraps a C-contiguous numpy array (float32 by default, float64 supported
everywhere; integer/bool arrays only as labels, indices or masks). This module holds the
class and its operators; every operator is one call into the op that defines it, in
``microinit/ops/`` (forward and backward side by side), and ``Tensor.backward`` hands the
recorded graph to ``microinit/autograd/``.

Conventions, stated once:

* dtype promotion: float64 if any operand is float64, else float32. Python scalars
  never promote (``float32 * 2.5`` stays float32); int/bool numpy arrays and int
  Tensors entering arithmetic are cast to float32.
* broadcasting follows numpy; each input's gradient is summed back to its own shape.
* a gradient always has its tensor's shape and dtype.
* in-place methods (``zero_``, ``fill_``, ``copy_``, ``add_``, ``mul_``, ``t[i] = v``)
  record nothing and bump ``_version``; ``+=``, ``-=``, ``*=``, ``/=`` follow PyTorch
  (``ops/inplace.py``); backward refuses to use a saved tensor whose
  version changed since it was saved (docs/reliability.md row 28).
* ``t.data`` may be reassigned with any array: every op passes what it reads through the
  boundary (``ops/_boundary.py``), so a Fortran-order or byte-swapped array computes
  exactly as its C-order native copy.

Example::

    >>> import microinit as mi
    >>> x = mi.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()          # y = sum(x_ij^2)
    >>> y.backward()
    >>> x.grad                     # dy/dx = 2x
    array([[2., 4.],
           [6., 8.]], dtype=float32)
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from microinit.autograd.backward import run_backward
from microinit.autograd.graph import Node, register_tensor_class, wrap
from microinit.autograd.mode import enable_grad, is_grad_enabled, no_grad
from microinit.ops import activations, activations_unfused, creation, elementwise, indexing, inplace, linalg, reduce
from microinit.ops import unary
from microinit.ops import shape as shape_ops
from microinit.ops._boundary import floats
from microinit.ops.elementwise import where
from microinit.ops.linalg import dense, dense_chain
from microinit.ops.losses import binary_cross_entropy_with_logits, cross_entropy, hinge_loss, mse_loss
from microinit.ops.shape import concatenate, shape_arg, stack
from microinit.rng import as_generator

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "randn", "rand", "concatenate", "stack", "where", "matmul",
    "dense", "dense_chain", "cross_entropy", "mse_loss", "binary_cross_entropy_with_logits", "hinge_loss",
    "no_grad", "enable_grad", "is_grad_enabled",
]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_FLOAT_DTYPES = (_F32, _F64)


def _read_only_one(dtype: np.dtype[Any]) -> NDArray[Any]:
    one = np.ones((), dtype)
    one.flags.writeable = False
    return one


_SEED = {dt: _read_only_one(dt) for dt in _FLOAT_DTYPES}  # d(loss)/d(loss) of a scalar


def _as_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """A dtype a Tensor may hold (float32/float64, int/bool for labels), or TypeError."""
    return creation.tensor_dtype(dtype, "Tensor")


def _to_array(data: Tensor | ArrayLike, dtype: DTypeLike | None) -> NDArray[Any]:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dt = _as_dtype(dtype)
        if isinstance(data, np.ndarray) and data.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: cannot convert an array of dtype {data.dtype} to {dt}")
        try:
            return np.asarray(data, dtype=dt, order="C")
        except (TypeError, ValueError) as err:
            raise TypeError(f"Tensor: cannot convert {type(data).__name__} to {dt} ({err})") from None
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"Tensor: data must be a number, a (nested) list or an array, "
                        f"got {type(data).__name__}")
    if isinstance(data, np.ndarray):
        a = data
        from_python = False
    else:
        try:
            a = np.asarray(data)
        except (TypeError, ValueError) as err:
            raise TypeError(f"Tensor: cannot convert {type(data).__name__} to an array ({err})") from None
        # Python floats/lists default to float32 like PyTorch; numpy scalars keep
        # their dtype like arrays do.
        from_python = not isinstance(data, np.generic)
    kind = a.dtype.kind
    if kind == "f":
        if a.dtype == _F64 and from_python:
            a = a.astype(_F32)
        elif a.dtype.itemsize == 2:  # float16: upcast to float32 (the boundary's rule)
            a = a.astype(_F32)
        elif a.dtype.itemsize not in (4, 8):
            raise TypeError(f"Tensor: unsupported dtype {a.dtype}; use float32 or float64")
    elif kind not in "iub":
        raise TypeError(f"Tensor: unsupported dtype {a.dtype}; use float32 or float64 "
                        "(integer/bool only for labels, indices and masks)")
    if not a.flags.c_contiguous or not a.dtype.isnative:
        a = np.asarray(a, dtype=a.dtype.newbyteorder("="), order="C")
    return a


class Tensor:
    """An n-d array that records the ops applied to it for reverse-mode autodiff.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is a number, nested
    list, ndarray or Tensor. Python floats and lists become float32; float32/float64
    arrays keep their dtype and, when C-contiguous, share memory with the Tensor (like
    ``torch.from_numpy``); integer/bool arrays stay integer/bool (labels, indices,
    masks) and cannot require grad. float16 becomes float32; big-endian arrays are
    converted to native order; complex/object/str/None -> TypeError.

    numpy interop: ``np.asarray(t)`` gives ``t.data``; ``ndarray (op) Tensor`` defers to
    the Tensor (a Tensor results); numpy ufuncs called on a Tensor raise TypeError (use
    ``t.data``). ``<, <=, >, >=, ==, !=`` give bool tensors; hashing is by identity, as
    in PyTorch (tensors are usable as dict keys and set members).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_version", "__weakref__")

    data: NDArray[Any]  # C-contiguous, native byte order
    grad: NDArray[Any] | None  # same shape and dtype as data once backward reached it
    requires_grad: bool
    _ctx: Node | None  # the op that made this tensor; None for a leaf
    _version: int  # bumped by every in-place write

    # numpy must defer to our reflected operators (ndarray + Tensor -> Tensor).
    __array_ufunc__ = None

    def __init__(self, data: Tensor | ArrayLike, requires_grad: bool = False, dtype: DTypeLike | None = None) -> None:
        if (type(data) is np.ndarray and dtype is None and data.dtype in _FLOAT_DTYPES
                and data.flags.c_contiguous):
            a = data  # the common case (a batch, fresh weights): no checks needed
        else:
            a = _to_array(data, dtype)
        if requires_grad and a.dtype.kind != "f":
            raise TypeError(f"Tensor: only float tensors can require grad, got dtype {a.dtype}")
        self.data = a
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._version = 0

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (user-made or detached)."""
        return self._ctx is None

    @property
    def grad_fn(self) -> str | None:
        """Name of the op that produced this tensor, or None for a leaf."""
        return None if self._ctx is None else self._ctx.op

    def numpy(self) -> NDArray[Any]:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                             f"scalar, got shape {self.data.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return wrap(self.data)

    def retain_grad(self) -> Tensor:
        """Make backward store this non-leaf tensor's gradient in ``.grad``."""
        if self._ctx is not None:
            self._ctx.retain = True
        return self

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> NDArray[Any]:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            converted: NDArray[Any] = self.data.astype(dtype)
            return converted
        if copy:
            copied: NDArray[Any] = self.data.copy()
            return copied
        return self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != _F32:
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{self._ctx.op}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.data.shape} is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ in place
    def _bump_version(self) -> None:
        """Mark ``data`` as modified in place (call after writing into ``t.data``)."""
        self._version += 1

    def zero_(self) -> Tensor:
        self.data[...] = 0
        self._version += 1
        return self

    def fill_(self, value: float) -> Tensor:
        self.data[...] = value
        self._version += 1
        return self

    def copy_(self, src: Tensor | ArrayLike) -> Tensor:
        src = src.data if isinstance(src, Tensor) else np.asarray(src)
        try:
            ok = np.broadcast_shapes(src.shape, self.data.shape) == self.data.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"copy_: source shape {src.shape} does not broadcast to {self.data.shape}")
        np.copyto(self.data, src, casting="same_kind")
        self._version += 1
        return self

    def add_(self, other: Tensor | ArrayLike, alpha: float = 1.0) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        if alpha == 1.0:
            np.add(self.data, other, out=self.data, casting="same_kind")
        else:
            np.add(self.data, np.multiply(other, alpha), out=self.data, casting="same_kind")
        self._version += 1
        return self

    def mul_(self, s: Tensor | ArrayLike) -> Tensor:
        s = s.data if isinstance(s, Tensor) else s
        np.multiply(self.data, s, out=self.data, casting="same_kind")
        self._version += 1
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaf float tensors only); returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only float tensors can require grad, got dtype {self.data.dtype}")
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_: use detach() to cut a non-leaf tensor from the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def astype(self, dtype: DTypeLike) -> Tensor:
        """A copy in another dtype; the gradient is cast back (float32 <-> float64)."""
        return shape_ops.astype(self, _as_dtype(dtype))

    # comparisons give bool tensors (masks for where/indexing); they record nothing
    def __lt__(self, other: Tensor | ArrayLike) -> Tensor:
        return elementwise.compare(self, other, np.less)

    def __le__(self, other: Tensor | ArrayLike) -> Tensor:
        return elementwise.compare(self, other, np.less_equal)

    def __gt__(self, other: Tensor | ArrayLike) -> Tensor:
        return elementwise.compare(self, other, np.greater)

    def __ge__(self, other: Tensor | ArrayLike) -> Tensor:
        return elementwise.compare(self, other, np.greater_equal)

    # (object's ==/!= return bool; a Tensor's, as in PyTorch, return a bool Tensor)
    __eq__ = elementwise.equal  # type: ignore[assignment]
    __ne__ = elementwise.not_equal  # type: ignore[assignment]

    def __setitem__(self, idx: Any, value: Tensor | ArrayLike) -> None:
        """In-place assignment into ``data`` (records nothing; bumps ``_version``, so a
        backward that saved this tensor refuses to run)."""
        if isinstance(idx, Tensor):
            idx = idx.data
        elif isinstance(idx, tuple):
            idx = tuple(i.data if isinstance(i, Tensor) else i for i in idx)
        split = shape_ops.torch_index(idx)  # t[0, :, [1, 2]] = v addresses PyTorch's (3, 2) places
        target = self.data if split is None else self.data[split[0]]  # the integers' step: a view
        target[idx if split is None else split[1]] = value.data if isinstance(value, Tensor) else value
        self._version += 1

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    # ------------------------------------------------------------------ operators
    # Each is the op of microinit/ops/ that defines it (forward + backward there).
    __add__ = __radd__ = elementwise.add
    __sub__ = elementwise.sub
    __rsub__ = elementwise.rsub
    __mul__ = __rmul__ = elementwise.mul
    __truediv__ = elementwise.div
    __rtruediv__ = elementwise.rdiv
    __neg__ = elementwise.neg
    # t += v etc.: in place under no_grad, refused on a leaf that requires grad,
    # recorded otherwise (ops/inplace.py; docs/reliability.md row 57)
    __iadd__ = inplace.iadd
    __isub__ = inplace.isub
    __imul__ = inplace.imul
    __itruediv__ = inplace.idiv
    __pow__ = elementwise.power
    __rpow__ = elementwise.rpower
    exp = elementwise.exp
    log = elementwise.log
    sqrt = elementwise.sqrt
    abs = __abs__ = elementwise.absolute
    clip = clamp = elementwise.clip
    sum = reduce.sum_
    mean = reduce.mean
    max = reduce.amax
    min = reduce.amin
    reshape = view = shape_ops.reshape
    transpose = shape_ops.transpose
    __getitem__ = shape_ops.getitem
    softmax = activations.softmax
    log_softmax = activations.log_softmax
    # more reductions (ops/reduce.py)
    argmax, argmin, var, std = reduce.argmax, reduce.argmin, reduce.var, reduce.std
    prod, logsumexp, cumsum = reduce.prod, reduce.logsumexp, reduce.cumsum
    all, any = reduce.all_, reduce.any_
    maximum, minimum = elementwise.maximum, elementwise.minimum
    # shapes and indexing (ops/shape.py, ops/indexing.py)
    squeeze, unsqueeze, expand, flip = shape_ops.squeeze, shape_ops.unsqueeze, shape_ops.expand, shape_ops.flip
    pad, tril, triu = shape_ops.pad, shape_ops.tril, shape_ops.triu
    gather, masked_fill = indexing.gather, indexing.masked_fill
    # elementwise math (ops/unary.py)
    sin, cos, erf, rsqrt, log2, exp2 = unary.sin, unary.cos, unary.erf, unary.rsqrt, unary.log2, unary.exp2
    sign, floor, ceil, round = unary.sign, unary.floor, unary.ceil, unary.round_
    isnan, isinf, isfinite = unary.isnan, unary.isinf, unary.isfinite
    # activations computed in numpy (ops/activations_unfused.py)
    silu, mish, hardswish = activations_unfused.silu, activations_unfused.mish, activations_unfused.hardswish
    hardtanh, relu6 = activations_unfused.hardtanh, activations_unfused.relu6
    logsigmoid, softsign = activations_unfused.logsigmoid, activations_unfused.softsign
    gelu = activations_unfused.gelu

    def __pos__(self) -> Tensor:
        return self

    def __matmul__(self, other: Tensor | ArrayLike) -> Tensor:
        return linalg.matmul_op(self, other)

    def __rmatmul__(self, other: Tensor | ArrayLike) -> Tensor:
        return linalg.matmul_op(other, self)

    @property
    def T(self) -> Tensor:
        return shape_ops.transpose(self)

    def flatten(self) -> Tensor:
        return shape_ops.reshape(self, -1)

    def relu(self) -> Tensor:
        """max(x, 0); derivative 0 at x = 0."""
        return activations.activation(self, "relu")

    def tanh(self) -> Tensor:
        """tanh(x); d/dx = 1 - tanh(x)^2."""
        return activations.activation(self, "tanh")

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x), computed without overflow."""
        return activations.activation(self, "sigmoid")

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """x if x > 0 else slope * x; derivative slope at x <= 0."""
        return activations.activation(self, "leaky_relu", negative_slope)

    def elu(self, alpha: float = 1.0) -> Tensor:
        """x if x > 0 else alpha * (e^x - 1); derivative y + alpha at x <= 0."""
        return activations.activation(self, "elu", alpha)

    def selu(self) -> Tensor:
        """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
        return activations.activation(self, "selu")

    def softplus(self) -> Tensor:
        """log(1 + e^x), stable for large |x|."""
        return activations.activation(self, "softplus")

    # ------------------------------------------------------------------ backward
    def backward(self, grad: Tensor | ArrayLike | None = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) * grad into every leaf that requires grad.

        ``grad`` defaults to 1 for a one-element tensor and is required otherwise.
        The graph is freed afterwards unless ``retain_graph=True``; a second
        backward through a freed graph raises RuntimeError. Gradients add up across
        calls (call ``zero_grad``/``optimizer.zero_grad`` between steps).
        """
        data = self.data
        if not self.requires_grad:
            raise RuntimeError(
                f"backward: tensor of shape {data.shape} has no graph: it does not require grad "
                "(no input had requires_grad=True, or it was made under no_grad())")
        if grad is None:
            if data.size != 1:
                raise RuntimeError(f"backward of non-scalar output of shape {data.shape} needs grad=")
            # the usual seed, a scalar loss: one shared read-only 1 (grads are never
            # written in place; a leaf given it as its gradient gets a copy)
            g = _SEED[data.dtype] if data.ndim == 0 else np.ones(data.shape, data.dtype)
        else:
            g = floats(grad.data if isinstance(grad, Tensor) else grad, "backward", "grad")
            if g.shape != data.shape:
                raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {data.shape}")
            if g.dtype != data.dtype:
                g = g.astype(data.dtype)
        run_backward(self, g, retain_graph)


register_tensor_class(Tensor)


# ---------------------------------------------------------------------- module functions
def tensor(data: Tensor | ArrayLike, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """``Tensor(data, requires_grad, dtype)``: see :class:`Tensor`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape: Any, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(shape_arg(shape), _as_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(shape_arg(shape), _as_dtype(dtype)), requires_grad=requires_grad)


def randn(*shape: Any, rng: Any = None, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from ``rng`` (a numpy Generator or seed)."""
    dt = _as_dtype(dtype)
    return Tensor(as_generator(rng, "randn").standard_normal(shape_arg(shape), dtype=dt), requires_grad=requires_grad)


def rand(*shape: Any, rng: Any = None, dtype: DTypeLike = np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from ``rng`` (a numpy Generator or seed)."""
    dt = _as_dtype(dtype)
    return Tensor(as_generator(rng, "rand").random(shape_arg(shape), dtype=dt), requires_grad=requires_grad)


def matmul(a: Tensor | ArrayLike, b: Tensor | ArrayLike) -> Tensor:
    """a @ b (Tensors or arrays) with numpy's rules for 1-D and N-D operands:
    ``ops.linalg.matmul_op``.

    Shapes are checked before any kernel runs: (2, 3) @ (4, 5) raises
    ``ValueError("matmul: inner dims differ: (2, 3) @ (4, 5)")``.
    d/da = g @ b^T, d/db = a^T @ g (summed over broadcast batch entries).
    """
    return linalg.matmul_op(a, b)

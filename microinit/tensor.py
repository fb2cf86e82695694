"""Tensor: n-d arrays with reverse-mode automatic differentiation.

A ``Tensor`` wraps a C-contiguous numpy array (float32 by default, float64 supported
everywhere; integer/bool arrays only as labels, indices or masks). Every op computes
its result with numpy or a compiled kernel and, when gradients are wanted, records a
``_Node`` holding its parents and a ``backward`` closure written right beside the
forward math. ``Tensor.backward`` walks the recorded graph in an explicit topological
order (iterative: a chain of 100,000 ops works) and accumulates gradients into the
leaves' ``.grad``.

Conventions, stated once:

* dtype promotion: float64 if any operand is float64, else float32. Python scalars
  never promote (``float32 * 2.5`` stays float32); int/bool numpy arrays and int
  Tensors entering arithmetic are cast to float32.
* broadcasting follows numpy; each input's gradient is summed back to its own shape.
* a gradient always has its tensor's shape and dtype.
* ``0 * inf`` in a backward: where the incoming gradient is exactly zero (an inactive
  ``where`` branch, a masked entry) the local contribution is zero even if the local
  derivative is inf/NaN, so NaN never leaks from a branch that was not selected
  (RELIABILITY row 19). A NaN in an *active* path still propagates.
* in-place methods (``zero_``, ``fill_``, ``copy_``, ``add_``, ``mul_``) record
  nothing and bump ``_version``; backward refuses to use a saved tensor whose version
  changed since it was saved (RELIABILITY row 28).

Example::

    >>> import microinit as mi
    >>> x = mi.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()          # y = sum(x_ij^2)
    >>> y.backward()
    >>> x.grad                     # dy/dx = 2x
    array([[2., 4.],
           [6., 8.]], dtype=float32)
"""
import math
import numbers

import numpy as np

from microinit import functional as F
from microinit.autograd_mode import _state, enable_grad, is_grad_enabled, no_grad  # noqa: F401
from microinit.functional._validate import as_float_array

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "randn", "rand", "concatenate", "stack", "where",
    "dense", "dense_chain", "cross_entropy", "mse_loss", "binary_cross_entropy_with_logits", "hinge_loss",
    "no_grad", "enable_grad", "is_grad_enabled",
]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_SCALARS = (int, float)
_ACT_CODES = F.ACTIVATION_CODES
_ACT_OPS = {name: name.capitalize() + "Backward" for name in _ACT_CODES}
_act_fwd = F.elementwise.forward_code
_act_bwd = F.elementwise.backward_code
_FLOAT_DTYPES = (_F32, _F64)


def _read_only_one(dtype):
    one = np.ones((), dtype)
    one.flags.writeable = False
    return one


_SEED = {dt: _read_only_one(dt) for dt in _FLOAT_DTYPES}  # d(loss)/d(loss) of a scalar


class _Node:
    """One recorded op: its parents (Tensor or None per input), the backward closure
    ``backward(g) -> tuple of grads aligned with parents`` and what it saved."""

    __slots__ = ("op", "parents", "backward", "saved", "versions", "saves_out", "retain")

    def __init__(self, op, parents, backward, saved, saves_out):
        self.op = op
        self.parents = parents
        self.backward = backward
        self.saved = saved
        self.versions = [t._version for t in saved] if saved else ()
        self.saves_out = saves_out
        self.retain = False


def _new(data, ctx=None):
    # Internal constructor: data is already a C-contiguous float ndarray, or a numpy
    # scalar (numpy turns 0-d ufunc results into scalars), made a 0-d array here.
    t = Tensor.__new__(Tensor)
    t.data = data if type(data) is np.ndarray else np.asarray(data)
    t.grad = None
    t._version = 0
    if ctx is None:
        t.requires_grad = False
        t._ctx = None
    else:
        t.requires_grad = True
        t._ctx = ctx
    return t


def _record(data, op, parents, backward, saved=(), saves_out=False):
    return _new(data, _Node(op, parents, backward, saved, saves_out))


def _wants_grad(*tensors):
    if not _state.enabled:
        return False
    for t in tensors:
        if t is not None and t.requires_grad:
            return True
    return False


def _fdata(t):
    """Float data of a Tensor (int/bool label tensors are cast to float32)."""
    d = t.data
    if d.dtype.kind != "f":
        d = d.astype(np.float32)
    return d


def _operand(x, op):
    """(data, tensor-or-None) for the other operand of a binary op."""
    if isinstance(x, Tensor):
        return _fdata(x), x
    if isinstance(x, _SCALARS) and not isinstance(x, bool):
        return x, None
    return as_float_array(x, op, "other operand"), None


def _unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the inverse of numpy broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple([i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1])
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def _mul_masked(g, d):
    """g * d, except 0 where g == 0 (so a zero upstream grad kills an inf/NaN local
    derivative: no NaN leak from an inactive branch, RELIABILITY row 19)."""
    if type(d) is float and math.isfinite(d) or type(d) is int:
        return g * d  # a finite constant factor cannot make NaN from a zero
    with np.errstate(invalid="ignore", over="ignore"):
        r = g * d
    if r.dtype.kind == "f" and np.isnan(r).any():
        r = np.where(g == 0, 0, r).astype(r.dtype, copy=False)
    return r


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _norm_axis(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(int(a) % ndim if ndim else int(a) for a in axis))
    return (int(axis) % ndim if ndim else int(axis),)


def _kept_shape(shape, axis, keepdims):
    """Shape of a reduction's output with reduced axes kept as 1 (None when the
    gradient already broadcasts against the input as it is)."""
    if keepdims or axis is None:
        return None
    axes = _norm_axis(axis, len(shape))
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _as_dtype(dtype):
    dt = np.dtype(dtype)
    if dt.kind == "f" and dt not in (_F32, _F64):
        raise TypeError(f"Tensor: unsupported dtype {dt}; use float32 or float64 "
                        "(integer/bool only for labels, indices and masks)")
    if dt.kind not in "fiub":
        raise TypeError(f"Tensor: unsupported dtype {dt}; use float32 or float64 "
                        "(integer/bool only for labels, indices and masks)")
    return dt


def _to_array(data, dtype):
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
        elif a.dtype not in (_F32, _F64):
            raise TypeError(f"Tensor: unsupported dtype {a.dtype}; use float32 or float64")
    elif kind not in "iub":
        raise TypeError(f"Tensor: unsupported dtype {a.dtype}; use float32 or float64 "
                        "(integer/bool only for labels, indices and masks)")
    if not a.flags.c_contiguous:
        a = np.asarray(a, order="C")
    return a


class Tensor:
    """An n-d array that records the ops applied to it for reverse-mode autodiff.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is a number, nested
    list, ndarray or Tensor. Python floats and lists become float32; float32/float64
    arrays keep their dtype and, when C-contiguous, share memory with the Tensor (like
    ``torch.from_numpy``); integer/bool arrays stay integer/bool (labels, indices,
    masks) and cannot require grad. float16/complex/object/str/None -> TypeError.

    numpy interop: ``np.asarray(t)`` gives ``t.data``; ``ndarray (op) Tensor`` defers to
    the Tensor (a Tensor results); numpy ufuncs called on a Tensor raise TypeError (use
    ``t.data``). ``<, <=, >, >=`` give bool tensors; ``==`` is identity (tensors are
    hashable, usable as dict keys and in parameter lists).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_version", "__weakref__")

    # numpy must defer to our reflected operators (ndarray + Tensor -> Tensor).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
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
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op (user-made or detached)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """Name of the op that produced this tensor, or None for a leaf."""
        return None if self._ctx is None else self._ctx.op

    @property
    def T(self):
        return self.transpose()

    def numpy(self):
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                             f"scalar, got shape {self.data.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        return _new(self.data)

    def retain_grad(self):
        """Make backward store this non-leaf tensor's gradient in ``.grad``."""
        if self._ctx is not None:
            self._ctx.retain = True
        return self

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        if copy:
            return self.data.copy()
        return self.data

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != _F32:
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{self._ctx.op}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.data.shape} is ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ in place
    def _bump_version(self):
        """Mark ``data`` as modified in place (call after writing into ``t.data``)."""
        self._version += 1

    def zero_(self):
        self.data[...] = 0
        self._version += 1
        return self

    def fill_(self, value):
        self.data[...] = value
        self._version += 1
        return self

    def copy_(self, src):
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

    def add_(self, other, alpha=1.0):
        other = other.data if isinstance(other, Tensor) else other
        if alpha == 1.0:
            np.add(self.data, other, out=self.data, casting="same_kind")
        else:
            np.add(self.data, np.multiply(other, alpha), out=self.data, casting="same_kind")
        self._version += 1
        return self

    def mul_(self, s):
        s = s.data if isinstance(s, Tensor) else s
        np.multiply(self.data, s, out=self.data, casting="same_kind")
        self._version += 1
        return self

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place (leaf float tensors only); returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only float tensors can require grad, got dtype {self.data.dtype}")
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_: use detach() to cut a non-leaf tensor from the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def astype(self, dtype):
        """A copy in another float dtype; the gradient is cast back (float32 <-> float64)."""
        dt = _as_dtype(dtype)
        a = self.data
        if dt == a.dtype:
            return self
        out = a.astype(dt)
        if self.requires_grad and _state.enabled:
            if dt.kind != "f":
                raise TypeError(f"astype: cannot cast a tensor that requires grad to {dt}")
            src = a.dtype
            return _record(out, "ToCopyBackward", (self,), lambda g: (g.astype(src),))
        return _new(out)

    # comparisons give bool tensors (masks for where/indexing); they record nothing
    def _compare(self, other, ufunc):
        b = other.data if isinstance(other, Tensor) else other
        return _new(ufunc(self.data, b))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __setitem__(self, idx, value):
        """In-place assignment into ``data`` (records nothing; bumps ``_version``, so a
        backward that saved this tensor refuses to run)."""
        if isinstance(idx, Tensor):
            idx = idx.data
        self.data[idx] = value.data if isinstance(value, Tensor) else value
        self._version += 1

    def zero_grad(self):
        """Forget the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        """a + b (broadcasting); d/da = d/db = 1, summed back to each shape.

        >>> (mi.ones(2, 3, requires_grad=True) + mi.ones(3)).shape
        (2, 3)
        """
        a = self.data
        if a.dtype.kind != "f":
            a = _fdata(self)
        b, ot = _operand(other, "add")
        out = a + b
        if _state.enabled and (self.requires_grad or (ot is not None and ot.requires_grad)):
            sa, sb = a.shape, getattr(b, "shape", ())

            def backward(g):
                return _unbroadcast(g, sa), _unbroadcast(g, sb)
            return _record(out, "AddBackward", (self, ot), backward)
        return _new(out)

    __radd__ = __add__

    def __sub__(self, other):
        """a - b; d/da = 1, d/db = -1."""
        a = self.data
        if a.dtype.kind != "f":
            a = _fdata(self)
        b, ot = _operand(other, "sub")
        out = a - b
        if _state.enabled and (self.requires_grad or (ot is not None and ot.requires_grad)):
            sa, sb = a.shape, getattr(b, "shape", ())

            def backward(g):
                return _unbroadcast(g, sa), (_unbroadcast(-g, sb) if ot is not None else None)
            return _record(out, "SubBackward", (self, ot), backward)
        return _new(out)

    def __rsub__(self, other):
        return self.__neg__().__add__(other) if _wants_grad(self) else _new(_operand(other, "sub")[0] - _fdata(self))

    def __mul__(self, other):
        """a * b; d/da = b, d/db = a."""
        a = self.data
        if a.dtype.kind != "f":
            a = _fdata(self)
        b, ot = _operand(other, "mul")
        out = a * b
        if _state.enabled and (self.requires_grad or (ot is not None and ot.requires_grad)):
            sa, sb = a.shape, getattr(b, "shape", ())
            need_a, need_b = self.requires_grad, ot is not None and ot.requires_grad

            def backward(g):
                # masked: a zero upstream grad times an inf factor is 0, not NaN
                # (x * x.log() inside an inactive where-branch at x = 0)
                return (_unbroadcast(_mul_masked(g, b), sa) if need_a else None,
                        _unbroadcast(_mul_masked(g, a), sb) if need_b else None)
            saved = (self, ot) if ot is not None else (self,)
            return _record(out, "MulBackward", (self, ot), backward, saved)
        return _new(out)

    __rmul__ = __mul__

    def __truediv__(self, other):
        """a / b (IEEE: x/0 = ±inf); d/da = 1/b, d/db = -a/b^2."""
        a = self.data
        if a.dtype.kind != "f":
            a = _fdata(self)
        b, ot = _operand(other, "div")
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a / b
        if _state.enabled and (self.requires_grad or (ot is not None and ot.requires_grad)):
            sa, sb = a.shape, getattr(b, "shape", ())
            need_a, need_b = self.requires_grad, ot is not None and ot.requires_grad

            def backward(g):
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    ga = _unbroadcast(_mul_masked(g, 1.0 / b), sa) if need_a else None
                    gb = _unbroadcast(_mul_masked(g, -a / (b * b)), sb) if need_b else None
                return ga, gb
            saved = (self, ot) if ot is not None else (self,)
            return _record(out, "DivBackward", (self, ot), backward, saved)
        return _new(out)

    def __rtruediv__(self, other):
        b, _ = _operand(other, "div")
        return Tensor._scalar_div(b, self)

    @staticmethod
    def _scalar_div(c, t):
        # c / t for a constant c: d/dt = -c / t^2
        a = _fdata(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = c / a
        if t.requires_grad and _state.enabled:
            sa = a.shape

            def backward(g):
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    return (_unbroadcast(_mul_masked(g, -out / a), sa),)
            return _record(out, "DivBackward", (t,), backward, (t,), saves_out=True)
        return _new(out)

    def __neg__(self):
        """-x; d/dx = -1."""
        out = -_fdata(self)
        if self.requires_grad and _state.enabled:
            return _record(out, "NegBackward", (self,), lambda g: (-g,))
        return _new(out)

    def __pos__(self):
        return self

    def __pow__(self, p):
        """x ** p for a Python number p; d/dx = p x^(p-1)."""
        if isinstance(p, Tensor) or not isinstance(p, numbers.Real):
            raise TypeError(f"pow: the exponent must be a Python number, got {type(p).__name__}")
        a = _fdata(self)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = a ** p
        if self.requires_grad and _state.enabled:
            def backward(g):
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    return (_mul_masked(g, p * a ** (p - 1)),)
            return _record(out, "PowBackward", (self,), backward, (self,))
        return _new(out)

    def __rpow__(self, c):
        # c ** t = exp(t ln c): d/dt = c**t * ln c
        if not isinstance(c, numbers.Real):
            return NotImplemented
        a = _fdata(self)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.power(np.asarray(c, a.dtype), a)
        if self.requires_grad and _state.enabled:
            lc = np.log(c) if c > 0 else np.nan

            def backward(g):
                with np.errstate(invalid="ignore", over="ignore"):
                    return (_mul_masked(g, out * lc),)
            return _record(out, "PowBackward", (self,), backward, saves_out=True)
        return _new(out)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None = all); grad broadcasts back: d sum / dx_i = 1."""
        a = _fdata(self)
        out = np.asarray(a.sum(axis=axis, keepdims=keepdims))
        if self.requires_grad and _state.enabled:
            shape, kshape = a.shape, _kept_shape(a.shape, axis, keepdims)

            def backward(g):
                full = np.empty(shape, g.dtype)
                full[...] = g if kshape is None else g.reshape(kshape)
                return (full,)
            return _record(out, "SumBackward", (self,), backward)
        return _new(out)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis``: sum / n, grad 1/n per element (an empty mean is NaN)."""
        a = _fdata(self)
        axes = _norm_axis(axis, a.ndim)
        n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.asarray(a.sum(axis=axis, keepdims=keepdims) / n if n else
                             np.full(np.sum(a, axis=axis, keepdims=keepdims).shape, np.nan, a.dtype))
        out = out.astype(a.dtype, copy=False)
        if self.requires_grad and _state.enabled:
            shape, kshape = a.shape, _kept_shape(a.shape, axis, keepdims)
            scale = 1.0 / n if n else 0.0

            def backward(g):
                full = np.empty(shape, g.dtype)
                np.multiply(g if kshape is None else g.reshape(kshape), scale, out=full)
                return (full,)
            return _record(out, "MeanBackward", (self,), backward)
        return _new(out)

    def _minmax(self, axis, keepdims, fn, op):
        a = _fdata(self)
        try:
            out_k = fn(a, axis=axis, keepdims=True)
        except ValueError:  # a zero-length reduced axis has no max/min (an empty batch does)
            raise ValueError(f"{fn.__name__}: cannot reduce an empty axis of a tensor of shape {a.shape} "
                             f"(axis={axis})") from None
        out = np.asarray(out_k if keepdims else fn(a, axis=axis, keepdims=False))
        if self.requires_grad and _state.enabled:
            axes = _norm_axis(axis, a.ndim)

            def backward(g):
                # Ties share the gradient equally (like torch.amax/amin).
                mask = a == out_k
                cnt = mask.sum(axis=axis, keepdims=True)
                if not keepdims and axes is not None:
                    g = np.expand_dims(g, axes)
                return ((mask * (g / cnt)).astype(a.dtype, copy=False),)
            return _record(out, op, (self,), backward, (self,), saves_out=True)
        return _new(out)

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return self._minmax(axis, keepdims, np.max, "MaxBackward")

    def min(self, axis=None, keepdims=False):
        """Minimum over ``axis``; tied minima share the gradient equally."""
        return self._minmax(axis, keepdims, np.min, "MinBackward")

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        """Same data in a new shape (a view of the same memory when possible)."""
        a = _fdata(self) if self.requires_grad else self.data
        out = a.reshape(_shape_arg(shape))
        if not out.flags.c_contiguous:
            out = np.asarray(out, order="C")
        if self.requires_grad and _state.enabled:
            sa = a.shape
            return _record(out, "ReshapeBackward", (self,), lambda g: (g.reshape(sa),))
        return _new(out)

    view = reshape

    def flatten(self):
        return self.reshape(-1)

    def transpose(self, *axes):
        """Permute dimensions (reverse them when no axes are given); ``.T`` too."""
        a = self.data
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(range(a.ndim))[::-1] if not axes else tuple(int(x) % max(a.ndim, 1) for x in axes)
        out = np.asarray(a.transpose(axes), order="C")
        if self.requires_grad and _state.enabled:
            inv = tuple(np.argsort(axes))
            return _record(out, "TransposeBackward", (self,), lambda g: (g.transpose(inv),))
        return _new(out)

    def __getitem__(self, idx):
        """Basic slicing and integer/bool-array indexing; the gradient scatter-adds
        back, so repeated indices accumulate."""
        if isinstance(idx, tuple):
            idx = tuple(i.data if isinstance(i, Tensor) else i for i in idx)
            advanced = any(isinstance(i, (np.ndarray, list)) for i in idx)
        else:
            if isinstance(idx, Tensor):
                idx = idx.data
            advanced = isinstance(idx, (np.ndarray, list))
        a = self.data
        out = a[idx]
        out = np.asarray(out, order="C") if isinstance(out, np.ndarray) else np.asarray(out)
        if self.requires_grad and _state.enabled:
            shape, dt = a.shape, a.dtype

            def backward(g):
                full = np.zeros(shape, dt)
                if advanced:
                    np.add.at(full, idx, g)
                else:
                    full[idx] = g
                return (full,)
            return _record(out, "IndexBackward", (self,), backward)
        return _new(out)

    # ------------------------------------------------------------------ elementwise math
    def _unary(self, out, local_grad, op, saves_out=False):
        # local_grad() -> derivative array; evaluated lazily in backward only.
        if self.requires_grad and _state.enabled:
            def backward(g):
                return (_mul_masked(g, local_grad()),)
            return _record(out, op, (self,), backward, (self,), saves_out)
        return _new(out)

    def exp(self):
        """e**x; d/dx = e**x."""
        a = _fdata(self)
        with np.errstate(over="ignore"):
            out = np.exp(a)
        return self._unary(out, lambda: out, "ExpBackward", True)

    def log(self):
        """Natural log (IEEE: log 0 = -inf, log(<0) = NaN); d/dx = 1/x."""
        a = _fdata(self)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(a)

        def d():
            with np.errstate(divide="ignore"):
                return 1.0 / a
        return self._unary(out, d, "LogBackward")

    def sqrt(self):
        """Square root; d/dx = 1 / (2 sqrt(x)) (inf at 0)."""
        a = _fdata(self)
        with np.errstate(invalid="ignore"):
            out = np.sqrt(a)

        def d():
            with np.errstate(divide="ignore"):
                return 0.5 / out
        return self._unary(out, d, "SqrtBackward", True)

    def abs(self):
        """|x|; d/dx = sign(x), with 0 at x = 0 (PyTorch's convention)."""
        a = _fdata(self)
        return self._unary(np.abs(a), lambda: np.sign(a), "AbsBackward")

    __abs__ = abs

    def clip(self, lo=None, hi=None):
        """Clamp into [lo, hi]; gradient 1 inside, 0 where clamped (PyTorch's clamp:
        1 at the boundary itself)."""
        a = _fdata(self)
        out = np.clip(a, lo, hi)
        if out.dtype != a.dtype:
            out = out.astype(a.dtype)

        def d():
            m = np.ones_like(a)
            if lo is not None:
                m[a < lo] = 0
            if hi is not None:
                m[a > hi] = 0
            return m
        return self._unary(out, d, "ClampBackward")

    clamp = clip

    def _activation(self, name, param=0.0):
        # Tensor data is already valid kernel input: the unchecked entry points.
        a = _fdata(self)
        code = _ACT_CODES[name]
        out = _act_fwd(code, a, param)
        if self.requires_grad and _state.enabled:
            def backward(g):
                return (_act_bwd(code, a, out, g, param),)
            return _record(out, _ACT_OPS[name], (self,), backward, (self,), True)
        return _new(out)

    def relu(self):
        """max(x, 0); derivative 0 at x = 0."""
        return self._activation("relu")

    def tanh(self):
        """tanh(x); d/dx = 1 - tanh(x)^2."""
        return self._activation("tanh")

    def sigmoid(self):
        """1 / (1 + e^-x), computed without overflow."""
        return self._activation("sigmoid")

    def leaky_relu(self, negative_slope=0.01):
        """x if x > 0 else slope * x; derivative slope at x <= 0."""
        return self._activation("leaky_relu", negative_slope)

    def elu(self, alpha=1.0):
        """x if x > 0 else alpha * (e^x - 1); derivative y + alpha at x <= 0."""
        return self._activation("elu", alpha)

    def selu(self):
        """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
        return self._activation("selu")

    def gelu(self):
        """Exact (erf) GELU: x * Phi(x)."""
        return self._activation("gelu")

    def softplus(self):
        """log(1 + e^x), stable for large |x|."""
        return self._activation("softplus")

    def softmax(self, axis=-1):
        """exp(x - max) / sum(exp(x - max)) along ``axis`` (numerically stable)."""
        a = _fdata(self)
        out = F.softmax_forward(a, axis)
        if self.requires_grad and _state.enabled:
            return _record(out, "SoftmaxBackward", (self,),
                           lambda g: (F.softmax_backward(out, g, axis),), saves_out=True)
        return _new(out)

    def log_softmax(self, axis=-1):
        """x - max - log(sum(exp(x - max))) along ``axis`` (numerically stable)."""
        a = _fdata(self)
        out = F.log_softmax_forward(a, axis)
        if self.requires_grad and _state.enabled:
            return _record(out, "LogSoftmaxBackward", (self,),
                           lambda g: (F.log_softmax_backward(out, g, axis),), saves_out=True)
        return _new(out)

    # ------------------------------------------------------------------ backward
    def backward(self, grad=None, retain_graph=False):
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
            g = grad.data if isinstance(grad, Tensor) else grad
            g = as_float_array(g, "backward", "grad")
            if g.shape != data.shape:
                raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {data.shape}")
            if g.dtype != data.dtype:
                g = g.astype(data.dtype)
        if self._ctx is None:
            _accumulate_leaf(self, g, True)
            return
        order = _topo_order(self)
        grads = {id(self): g}
        pop = grads.pop
        for t in reversed(order):
            g = pop(id(t), None)
            if g is None:
                continue
            node = t._ctx
            fn = node.backward
            if fn is None:
                raise RuntimeError(
                    f"backward: trying to backward through the graph a second time (op {node.op}, "
                    f"output shape {t.data.shape}); its saved values were freed by the first "
                    "backward. Pass retain_graph=True to the first call to keep them.")
            if node.retain:
                t.grad = np.array(g) if t.grad is None else np.asarray(t.grad + g)
            if node.saves_out and t._version:
                _version_error(node, t, "its output", 0, t._version)
            saved = node.saved
            if saved and [s._version for s in saved] != node.versions:
                for s, v in zip(saved, node.versions):
                    if s._version != v:
                        _version_error(node, s, "an input", v, s._version)
            pgrads = fn(g)
            for p, gp in zip(node.parents, pgrads):
                if gp is None or p is None or not p.requires_grad:
                    continue
                if p._ctx is None:
                    _accumulate_leaf(p, gp, gp is g)
                    continue
                pd = p.data
                if gp.dtype != pd.dtype:
                    gp = gp.astype(pd.dtype)
                key = id(p)
                prev = grads.get(key)
                grads[key] = gp if prev is None else prev + gp
            if not retain_graph:
                node.backward = None
                node.parents = ()
                node.saved = ()


def _accumulate_leaf(p, gp, aliased):
    # A leaf's .grad must be an array it owns (optimizers may write into it) with
    # its own shape and dtype; the engine itself never writes into grads in place.
    pd = p.data
    if (p.grad is None and not aliased and type(gp) is np.ndarray and gp.base is None
            and gp.dtype is pd.dtype and gp.shape == pd.shape and gp.flags.writeable):
        p.grad = gp  # the common case: a first gradient that is a fresh array of its own
        return
    if type(gp) is not np.ndarray:  # a numpy scalar from 0-d arithmetic
        gp = np.array(gp, dtype=pd.dtype)
    elif gp.dtype != pd.dtype:
        gp = gp.astype(pd.dtype)
    elif aliased or gp.base is not None or not gp.flags.writeable:
        gp = gp.copy()
    if gp.shape != pd.shape:  # a 0-d/broadcast result from a reduction
        gp = np.broadcast_to(gp, pd.shape).copy()
    if p.grad is None:
        p.grad = gp
    else:
        # out of place: anyone holding the previous grad array keeps its values
        total = p.grad + gp
        p.grad = total if type(total) is np.ndarray else np.asarray(total)


def _version_error(node, t, what, expected, found):
    raise RuntimeError(
        f"backward: {what} of op {node.op} (tensor of shape {t.data.shape}, {t.data.dtype}) "
        f"was modified in place after it was saved for backward: version {found}, expected "
        f"{expected}. Do in-place updates after backward, or clone the tensor first.")


def _topo_order(root):
    """Non-leaf tensors reachable from ``root``, parents before children.

    Iterative depth-first search with grey/black marks: a grey node met again means
    the graph has a cycle (only possible if someone rewired ``_ctx.parents``).
    """
    GREY, BLACK = 1, 2
    state = {id(root): GREY}
    get = state.get
    order = []
    stack = [(root, iter(root._ctx.parents))]
    push, pop = stack.append, stack.pop
    while stack:
        t, it = stack[-1]
        for p in it:
            if p is None:
                continue
            ctx = p._ctx
            if ctx is None:
                continue
            s = get(id(p))
            if s is None:
                state[id(p)] = GREY
                push((p, iter(ctx.parents)))
                break
            if s == GREY:
                raise RuntimeError(f"graph has a cycle (through op {ctx.op}, shape {p.data.shape})")
        else:
            pop()
            state[id(t)] = BLACK
            order.append(t)
    return order


# ---------------------------------------------------------------------- module functions
def tensor(data, requires_grad=False, dtype=None):
    """``Tensor(data, requires_grad, dtype)``: see :class:`Tensor`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape, dtype=np.float32, requires_grad=False):
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape_arg(shape), _as_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(_shape_arg(shape), _as_dtype(dtype)), requires_grad=requires_grad)


def _rng(rng):
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def randn(*shape, rng=None, dtype=np.float32, requires_grad=False):
    """Standard normal samples from ``rng`` (a numpy Generator or seed)."""
    dt = _as_dtype(dtype)
    return Tensor(_rng(rng).standard_normal(_shape_arg(shape), dtype=dt), requires_grad=requires_grad)


def rand(*shape, rng=None, dtype=np.float32, requires_grad=False):
    """Uniform [0, 1) samples from ``rng`` (a numpy Generator or seed)."""
    dt = _as_dtype(dtype)
    return Tensor(_rng(rng).random(_shape_arg(shape), dtype=dt), requires_grad=requires_grad)


def _as_tensor(x, op):
    if isinstance(x, Tensor):
        return x
    return _new(as_float_array(x, op))


def matmul(a, b):
    """a @ b for 2-D and batched 3-D operands (functional.linalg: own kernel or BLAS).

    Shapes are checked before any kernel runs: (2, 3) @ (4, 5) raises
    ``ValueError("matmul: inner dims differ: (2, 3) @ (4, 5)")``.
    d/da = g @ b^T, d/db = a^T @ g (summed over broadcast batch entries).
    """
    a = _as_tensor(a, "matmul")
    b = _as_tensor(b, "matmul")
    ad, bd = a.data, b.data
    out = F.matmul(ad, bd)
    if _wants_grad(a, b):
        need_a, need_b = a.requires_grad, b.requires_grad

        def backward(g):
            return F.matmul_backward(ad, bd, g, need_a, need_b)
        return _record(out, "MmBackward", (a, b), backward, (a, b))
    return _new(out)


def _join(tensors, axis, join, op):
    """(tensors, their float data, joined array) for concatenate/stack."""
    ts = [_as_tensor(t, op) for t in tensors]
    if not ts:
        raise ValueError(f"{op}: need at least one tensor")
    datas = [_fdata(t) for t in ts]
    try:
        out = join(datas, axis=axis)
    except ValueError as err:  # numpy AxisError included
        raise ValueError(f"{op}: shapes {[d.shape for d in datas]} along axis {axis}: {err}") from None
    return ts, datas, out


def concatenate(tensors, axis=0):
    """Join tensors (or arrays) along an existing axis; the gradient is split back."""
    ts, datas, out = _join(tensors, axis, np.concatenate, "concatenate")
    if _wants_grad(*ts):
        ax = axis % out.ndim
        cuts = np.cumsum([d.shape[ax] for d in datas])[:-1]
        return _record(out, "CatBackward", tuple(ts), lambda g: tuple(np.split(g, cuts, axis=ax)))
    return _new(out)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis; the gradient is indexed back."""
    ts, _, out = _join(tensors, axis, np.stack, "stack")
    if _wants_grad(*ts):
        ax = axis % out.ndim
        n = len(ts)
        return _record(out, "StackBackward", tuple(ts),
                       lambda g: tuple([np.take(g, i, axis=ax) for i in range(n)]))
    return _new(out)


def where(cond, a, b):
    """Elementwise ``a if cond else b`` (numpy broadcasting).

    The gradient flows only into the selected branch; the other branch gets exact
    zeros, and zero upstream gradients never turn an inf/NaN local derivative into
    NaN (RELIABILITY row 19), so ``where(x > 0, x.sqrt(), 0)`` has finite grads.
    """
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != np.bool_:
        c = c.astype(bool)
    ad, at = _operand(a, "where")
    bd, bt = _operand(b, "where")
    out = np.where(c, ad, bd)
    if out.dtype.kind != "f":
        out = out.astype(np.float32)
    if _wants_grad(at, bt):
        sa, sb = np.shape(ad), np.shape(bd)
        dt = out.dtype

        def backward(g):
            zero = np.zeros((), g.dtype)
            ga = _unbroadcast(np.where(c, g, zero), sa) if at is not None else None
            gb = _unbroadcast(np.where(c, zero, g), sb) if bt is not None else None
            return ga, gb
        return _record(out.astype(dt, copy=False), "WhereBackward", (at, bt), backward)
    return _new(out)


# ---------------------------------------------------------------------- fused ops and losses
def dense(x, W, b=None, activation=None, param=None):
    """act(x @ W + b) as ONE graph node with a fused backward (functional.linalg).

    ``W`` is (in, out) (DESIGN's single weight layout), ``b`` is (out,) or None,
    ``activation`` one of None/"identity"/"relu"/"tanh"/"sigmoid"/"leaky_relu"/"elu"/
    "selu"/"gelu"/"softplus"; ``param`` is leaky_relu's slope / elu's alpha (PyTorch's
    defaults 0.01 / 1.0 when None).

    >>> y = dense(x, W, b, activation="relu")   # == (x @ W + b).relu()
    """
    x = _as_tensor(x, "dense")
    W = _as_tensor(W, "dense")
    b = None if b is None else _as_tensor(b, "dense")
    y, ctx = F.dense_forward(_fdata(x), _fdata(W), None if b is None else _fdata(b), activation, param)
    if _wants_grad(x, W, b):
        nx, nw, nb = x.requires_grad, W.requires_grad, b is not None and b.requires_grad

        def backward(g):
            return F.dense_backward(ctx, g, need_x=nx, need_W=nw, need_b=nb)
        saved = (x, W) if b is None else (x, W, b)
        return _record(y, "DenseBackward", (x, W, b), backward, saved, saves_out=True)
    return _new(y)


def _chain_node(x, layers):
    """act_n(... act_1(x @ W_1 + b_1) ...) as ONE graph node, or None when the arrays
    are not plain (then nothing was computed; run the layers one by one instead)."""
    specs, parents, saved, need = [], [x], [x], []
    grad = nx = x.requires_grad
    for W, b, act, param in layers:  # one pass: kernel arguments and graph bookkeeping
        nw = W.requires_grad
        saved.append(W)
        if b is None:
            bd, nb = None, False
        else:
            bd, nb = b.data, b.requires_grad
            saved.append(b)
        specs.append((W.data, bd, act, param))
        parents.append(W)
        parents.append(b)
        need.append((nw, nb))
        grad = grad or nw or nb
    r = F.dense_chain_forward(x.data, specs)
    if r is None:
        return None
    y, ctxs = r
    if not (grad and _state.enabled):
        return _new(y), [c[4] for c in ctxs]
    need = tuple(need)

    def backward(g):
        return F.dense_chain_backward(ctxs, g, nx, need)
    return (_record(y, "DenseChainBackward", tuple(parents), backward, tuple(saved), saves_out=True),
            [c[4] for c in ctxs])


def dense_chain(x, layers, return_intermediates=False):
    """Dense layers back to back, ``layers`` a sequence of ``(W, b, activation, param)``.

    Equal to folding :func:`dense` over the layers, but the whole stack is one graph
    node whose forward and backward are each a single kernel call (the per-layer
    dispatch is most of the cost of a tiny layer). Inputs the kernel does not take as
    they are (mixed dtypes, non-contiguous views, ...) go through :func:`dense` layer by
    layer, with its validation and error messages.

    >>> y = dense_chain(x, [(W1, b1, "relu", None), (W2, b2, None, None)])
    >>> # == dense(dense(x, W1, b1, "relu"), W2, b2)

    With ``return_intermediates=True`` it returns ``(y, outputs)``: ``outputs[i]`` is
    layer i's output array (read it, do not write it), for forward hooks.
    """
    x = _as_tensor(x, "dense")
    layers = [(_as_tensor(W, "dense"), None if b is None else _as_tensor(b, "dense"), act, param)
              for W, b, act, param in layers]
    r = _chain_node(x, layers) if layers else None
    if r is not None:
        return r if return_intermediates else r[0]
    outputs = []
    for W, b, act, param in layers:
        x = dense(x, W, b, act, param)
        outputs.append(x.data)
    return (x, outputs) if return_intermediates else x


def _target_data(target):
    """Data of a loss target: Tensors unwrap, other inputs pass to the validator."""
    if isinstance(target, Tensor):
        return target.data, target
    return target, None


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy over (N, C) logits with a fused log-softmax (xent kernel).

    ``target``: integer labels (N,) -- validated: a negative, out-of-range or float
    label raises ValueError naming it and n_classes -- or class probabilities /
    one-hot rows (N, C). ``reduction``: "mean" | "sum" | "none".
    loss_i = logsumexp(x_i) - x_i[y_i]; d loss / d x = softmax(x) - onehot(y).
    """
    lt = _as_tensor(logits, "cross_entropy")
    td, tt = _target_data(target)
    loss, ctx = F.cross_entropy_forward(_fdata(lt), td, reduction)
    need_t = tt is not None and tt.requires_grad and ctx[3]
    if _wants_grad(lt) or (need_t and _state.enabled):
        nl = lt.requires_grad

        def backward(g):
            dx, dt = F.cross_entropy_backward(ctx, g, need_target=need_t)
            return (dx if nl else None), dt
        return _record(loss, "CrossEntropyBackward", (lt, tt), backward, (lt,))
    return _new(loss)


def _pair_loss(name, fwd, bwd, pred, target, reduction):
    """A loss of (prediction, same-shaped target) as one node: ``fwd(p, t, reduction)
    -> (loss, ctx)``, ``bwd(ctx, g, need_target) -> (dpred, dtarget or None)``."""
    pt = pred if type(pred) is Tensor else _as_tensor(pred, name)
    if isinstance(target, Tensor):
        tt, td = target, _fdata(target)
    else:
        tt, td = None, target
    loss, ctx = fwd(_fdata(pt), td, reduction)
    if _wants_grad(pt, tt):
        npd, ntg = pt.requires_grad, tt is not None and tt.requires_grad

        def backward(g):
            dp, dtg = bwd(ctx, g, ntg)
            return (dp if npd else None), (dtg if ntg else None)
        return _record(loss, name, (pt, tt), backward, (pt,) if tt is None else (pt, tt))
    return _new(loss)


def mse_loss(pred, target, reduction="mean"):
    """Mean squared error: mean((pred - target)^2); shapes must match exactly."""
    return _pair_loss("MseLossBackward", F.mse_loss_forward, F.mse_loss_backward, pred, target, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """softplus(x) - x * t (stable BCE on logits); d/dx = sigmoid(x) - t."""
    return _pair_loss("BceWithLogitsBackward", F.bce_with_logits_forward,
                      F.bce_with_logits_backward,
                      logits, target, reduction)


def hinge_loss(scores, target, reduction="mean"):
    """Max-margin loss mean(relu(1 - t * s)) with targets t in {-1, +1}."""
    return _pair_loss("HingeLossBackward", F.hinge_loss_forward,
                      lambda ctx, g, need_target: F.hinge_loss_backward(ctx, g),
                      scores, target, reduction)

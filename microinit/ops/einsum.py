"""einsum: numpy's Einstein summation, with its gradient.

For ``out = einsum("s_1,...,s_n->o", x_1, ..., x_n)`` the gradient of operand k is the
same contraction with g in place of x_k, written to x_k's subscripts::

    dx_k = einsum("o,s_1,..(without s_k)..,s_n->s_k", g, x_1, ..., x_n)

with two adjustments: a letter of s_k that appears nowhere else was summed in the
forward, so its gradient is g's contraction broadcast along it; and a letter repeated
in s_k (a diagonal, ``"ii->i"``) receives the gradient on that diagonal only. The
subscripts are first rewritten without ``...`` and with an explicit output, so the
backward reads one form.

    >>> import microinit as mi
    >>> a = mi.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = mi.einsum("ij,j->i", a, mi.tensor([1.0, 1.0])); y.tolist()
    [3.0, 7.0]
    >>> mi.einsum("ii->", a).item()
    5.0
"""
from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.autograd.graph import needs_grad, record, wrap
from microinit.ops._boundary import as_tensor, fdata, result_dtype

if TYPE_CHECKING:  # annotations only: tensor.py imports the ops
    from microinit.tensor import Tensor

__all__ = ["einsum", "explicit_subscripts"]


def explicit_subscripts(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str]:
    """(input subscripts, output subscript) without ``...`` and with an explicit output
    (numpy's implicit rule: letters used once, in alphabetical order, broadcast dims first).

    >>> explicit_subscripts("...j,jk", [(5, 2, 3), (3, 4)])
    (['ABj', 'jk'], 'ABk')
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a str, got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    lhs, arrow, out = spec.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(ins)} operand(s) but "
                         f"{len(shapes)} were given")
    for part in ins + [out]:
        if any(c not in string.ascii_letters for c in part.replace("...", "")):
            raise ValueError(f"einsum: subscripts {subscripts!r} may hold only letters, ',', '->' and '...'")
    spare = [c for c in string.ascii_uppercase if c not in spec]  # letters for the '...' dims
    n_ell = max([len(s) - (len(p) - 3) for p, s in zip(ins, shapes) if "..." in p] or [0])
    if n_ell > len(spare):
        raise ValueError("einsum: too many dimensions under '...'")
    ell = "".join(spare[:n_ell])
    fixed = []
    for p, s in zip(ins, shapes):
        if "..." in p:
            k = len(s) - (len(p) - 3)
            if k < 0:
                raise ValueError(f"einsum: subscripts {p!r} name more dimensions than shape {s}")
            p = p.replace("...", ell[n_ell - k:])
        if len(p) != len(s):
            raise ValueError(f"einsum: subscripts {p!r} do not match an operand of shape {s}")
        # a letter repeated in one operand (a diagonal) needs equal sizes: numpy's einsum
        # returns uninitialised memory for "ii->i" of a (0, 1) array
        diag: dict[str, int] = {}
        for c, n in zip(p, s):
            if diag.setdefault(c, n) != n:
                raise ValueError(f"einsum: letter {c!r} is repeated in {p!r} but the operand of shape {s} "
                                 f"has sizes {diag[c]} and {n} there")
        fixed.append(p)
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(fixed)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return fixed, out


def _operand_grad(k: int, ins: Sequence[str], out: str, g: NDArray[Any], datas: Sequence[NDArray[Any]],
                  shape: tuple[int, ...]) -> NDArray[Any]:
    """d out / d x_k contracted with g (see the module docstring)."""
    sk = ins[k]
    others = [(s, d) for i, (s, d) in enumerate(zip(ins, datas)) if i != k]
    seen = set(out).union(*[set(s) for s, _ in others]) if others else set(out)
    uniq = "".join(dict.fromkeys(sk))
    present = "".join(c for c in uniq if c in seen)
    spec = ",".join([out] + [s for s, _ in others]) + "->" + present
    part = np.einsum(spec, g, *[d for _, d in others])
    sizes = {}
    for s, d in zip(ins, datas):
        sizes.update({c: n for c, n in zip(s, d.shape) if n != 1 or c not in sizes})
    # letters summed only inside x_k: the gradient is constant along them
    # (part's own size of a letter: 1 where only a broadcast size-1 operand carries it)
    part = part.reshape([part.shape[present.index(c)] if c in present else 1 for c in uniq])
    part = np.broadcast_to(part, [sizes[c] for c in uniq])
    if len(uniq) != len(sk):  # a repeated letter: write onto the diagonal
        full = np.zeros([sizes[c] for c in sk], g.dtype)
        grids = np.indices(part.shape, sparse=True)
        full[tuple(grids[uniq.index(c)] for c in sk)] = part
        part = full
    # a size-1 dimension broadcast against another operand: sum it back
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and part.shape[i] != 1)
    if axes:
        part = part.sum(axis=axes, keepdims=True)
    return np.asarray(part, dtype=g.dtype, order="C")


def einsum(subscripts: str, *operands: Tensor | ArrayLike) -> Tensor:
    """Einstein summation over Tensors (or arrays), numpy's subscripts, with gradients.

    ``einsum("ij,jk->ik", a, b)`` is ``a @ b``; ``"ii->i"`` the diagonal; ``"...ij->...ji"``
    a batched transpose. float64 if any operand is float64, else float32.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    ts = [as_tensor(x, "einsum") for x in operands]
    datas = [fdata(t, "einsum") for t in ts]
    dt = result_dtype(*datas)
    datas = [d.astype(dt, copy=False) for d in datas]
    ins, out_s = explicit_subscripts(subscripts, [d.shape for d in datas])
    spec = ",".join(ins) + "->" + out_s
    # With three or more operands the product is built from intermediate results that
    # the caller never sees (their order is numpy's choice): in float32 one of them can
    # overflow to inf (and inf * 0 give NaN) where the true result is finite, so they are
    # computed in float64 and only the result is rounded to the operands' dtype.
    work = [d.astype(np.float64) for d in datas] if len(datas) > 2 and dt != np.float64 else datas
    try:
        # numpy's contraction order is only a speed-up; with an empty operand the sum has
        # no terms (0), which a pairwise order would turn into inf * 0 = NaN
        optimize = len(datas) > 2 and all(d.size for d in datas)
        out = np.asarray(np.einsum(spec, *work, optimize=optimize), dtype=dt, order="C")
    except ValueError as err:
        raise ValueError(f"einsum: {subscripts!r} with shapes {[d.shape for d in datas]}: {err}") from None
    if needs_grad(*ts):
        need = [t.requires_grad for t in ts]

        def backward(g: NDArray[Any]) -> tuple[NDArray[Any] | None, ...]:
            # the same reason: a gradient of three or more operands has intermediates too
            gw = g.astype(np.float64) if work is not datas else g
            return tuple(None if not need[k] else
                         np.asarray(_operand_grad(k, ins, out_s, gw, work, datas[k].shape), dtype=dt)
                         for k in range(len(datas)))
        return record(out, "EinsumBackward", tuple(ts), backward, tuple(ts))
    return wrap(out)

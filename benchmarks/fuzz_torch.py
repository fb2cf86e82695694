"""torch as the oracle of the fuzz's integer/bool cases.

The ops of :data:`INTEGER_RULE_OPS` follow PyTorch's dtype rule on integer/bool operands
(``microinit/ops/promotion.py``; docs/ops.md): int + int stays int, ``sum``/``prod``
give int64, ``mean``/``var``/``std`` of ints and ``floor``/``neg``/``abs`` of bools are
refused. The float64 references of ``benchmarks/fuzz_refs.py`` cannot express that, so
a case of those ops whose operands are all integer/bool (:func:`integral_only`) is run
through torch itself: :func:`torch_result` makes the call the case made with the same
operands (arrays through ``torch.from_numpy``, Python numbers as they are) and the
case's parameters (axis/keepdims, exponent, bounds, ...), and returns torch's tensor or
raises torch's exception. ``benchmarks/fuzz_properties.py`` compares the two.

torch is imported lazily, once per process (:func:`load_torch`); where it is not
importable such a case stays "deferred".

    >>> from benchmarks.fuzz_cases import Arr
    >>> from benchmarks.fuzz_properties import Case
    >>> case = Case("add", [Arr([1.0, 2.0], "<i4"), 3], run=None, ref=None,
    ...             params={"kind": "scalar", "reflected": False})
    >>> integral_only(case)
    True
    >>> torch = load_torch()
    >>> torch is None or torch_result(torch, case, case.materialise(plain=True)).tolist() == [4, 5]
    True
"""
import operator

import numpy as np

from benchmarks.fuzz_cases import Arr

# Ops whose results on integer/bool operands follow PyTorch's dtype rule. Their builders
# (benchmarks/fuzz_ops.py, fuzz_ops_more.py, fuzz_ops_index.py) record in
# ``Case.params`` whatever :data:`TORCH_CALLS` needs to repeat the call.
INTEGER_RULE_OPS = frozenset({
    "add", "sub", "mul", "neg", "abs", "pow", "rpow", "clip", "where", "sum", "mean", "prod", "var", "std",
    "sign", "floor", "ceil", "round", "maximum", "minimum"})

#: what torch raises where it refuses an input (a dimension out of range is its
#: IndexError, a Python int beyond int64 its OverflowError)
TORCH_REFUSALS = (RuntimeError, TypeError, NotImplementedError, IndexError, OverflowError)

_OPERATOR = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}
_NOT_LOADED = object()
_torch = _NOT_LOADED


def integral_only(case):
    """True when every operand of ``case`` is an integer/bool array or a Python int/bool
    (strings, None and tuples pass too: they are refused by torch and microinit alike)."""
    arrays = [x for x in case.inputs if isinstance(x, Arr)]
    scalars_ok = all(isinstance(x, (Arr, int, bool, np.integer, np.bool_, str, type(None), tuple))
                     for x in case.inputs)
    return bool(arrays) and scalars_ok and all(x.dtype.kind in "iub" for x in arrays)


def judged_by_torch(case):
    """True for a case torch judges: an op of :data:`INTEGER_RULE_OPS` on integer/bool
    operands only. (A list operand with dimensions is not one: microinit's boundary makes
    a float array of it, docs/reliability.md row 9, so the float reference judges it;
    a 0-d array's ``tolist()`` is a Python int, and stays here.)"""
    spelled_as_list = case.params.get("kind") == "list" and case.inputs[1].values.ndim > 0
    return case.op in INTEGER_RULE_OPS and integral_only(case) and not spelled_as_list


def load_torch():
    """The torch module, imported on the first call of this process; None where torch
    is not importable."""
    global _torch
    if _torch is _NOT_LOADED:
        try:
            import torch
        except ImportError:
            torch = None
        _torch = torch
    return _torch


def numpy_dtype(torch, tdtype):
    """The numpy dtype of a torch dtype (torch.int64 -> int64)."""
    return torch.empty(0, dtype=tdtype).numpy().dtype


def _as_torch(torch, x):
    """An array as a tensor sharing its values; anything else (Python numbers, None,
    strings) as it is. (The plain twin is C-ordered and native: from_numpy takes it.)"""
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else x


def _binary(torch, case, xs):
    a, b = (_as_torch(torch, x) for x in xs)
    kind, reflected = case.params["kind"], case.params["reflected"]
    if kind == "list":  # (0-d only, see judged_by_torch: a Python int)
        b = xs[1].tolist()
    fn = _OPERATOR[case.op]
    return fn(b, a) if reflected else fn(a, b)


def _reduction(torch, case, xs):
    t = _as_torch(torch, xs[0])
    axis, keep = case.params.get("axis"), case.params.get("keepdims", False)
    extra = {"correction": case.params["ddof"]} if case.op in ("var", "std") else {}
    fn = getattr(torch, case.op)
    if axis is None:  # (torch.prod takes no tuple of dims: reduce all, then keep them as 1s)
        whole = fn(t, **extra)
        return whole.reshape((1,) * t.ndim) if keep else whole
    return fn(t, dim=axis, keepdim=keep, **extra)


def _where(torch, case, xs):
    cond, a, b = (_as_torch(torch, x) for x in xs)
    # the drawn condition may be an int32 mask, which microinit reads as its truth
    # values; torch.where wants a bool one
    return torch.where(cond.bool(), a, b)


def _method(name):
    return lambda torch, case, xs: getattr(_as_torch(torch, xs[0]), name)()


#: op -> f(torch, case, plain inputs): the call the case's ``run`` makes, in torch
TORCH_CALLS = {
    "add": _binary, "sub": _binary, "mul": _binary,
    "neg": lambda torch, case, xs: -_as_torch(torch, xs[0]),
    "pow": lambda torch, case, xs: _as_torch(torch, xs[0]) ** case.params["p"],
    "rpow": lambda torch, case, xs: case.params["c"] ** _as_torch(torch, xs[0]),
    "clip": lambda torch, case, xs: _as_torch(torch, xs[0]).clip(case.params["lo"], case.params["hi"]),
    "where": _where,
    "maximum": lambda torch, case, xs: torch.maximum(*(_as_torch(torch, x) for x in xs)),
    "minimum": lambda torch, case, xs: torch.minimum(*(_as_torch(torch, x) for x in xs)),
    **{name: _reduction for name in ("sum", "mean", "prod", "var", "std")},
    **{name: _method(name) for name in ("abs", "sign", "floor", "ceil", "round")},
}


def torch_result(torch, case, plain_inputs):
    """torch's tensor for the call ``case`` makes on ``plain_inputs`` (its plain
    materialised inputs), or the exception torch raises."""
    out = TORCH_CALLS[case.op](torch, case, plain_inputs)
    if not isinstance(out, torch.Tensor):
        # Python's fallback answered, not torch: "ab" * t repeats the string t.__index__() times
        raise TypeError(f"{case.op}: torch gives no tensor but a {type(out).__name__}")
    return out

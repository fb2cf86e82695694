"""The fuzz property, written once for the test suite and ``python -m benchmarks.fuzz``.

A :class:`Case` is one call of one public op on drawn inputs (``benchmarks/fuzz_ops.py``
builds them). :func:`check_case` runs it and returns an :class:`Outcome`:

* the reference refuses the input (``fuzz_refs.Refuse``): the op must raise
  TypeError/ValueError/RuntimeError (or what the reference allows) whose message names
  the op;
* otherwise the op must return the reference's result (shape, dtype, values within a
  tolerance by dtype, NaN where the reference has NaN and nowhere else) and, where the
  case records a graph, the reference's gradients for a drawn upstream gradient;
* an op of :data:`INTEGER_RULE_OPS` on operands that are all integer/bool follows
  PyTorch's dtype rule, which the float64 references cannot express: torch judges it
  (``benchmarks/fuzz_torch.py``). The op must give torch's dtype, shape and values
  (bit-exact for an integer/bool result, within the dtype's tolerance for a float one)
  and no result that requires grad, or both must refuse (torch with
  RuntimeError/TypeError/NotImplementedError, or IndexError for a dimension out of
  range; microinit with TypeError/ValueError/RuntimeError naming the op). Where torch
  is not importable the case is "deferred";
* in every case the same values handed over C-contiguous in native byte order give
  the same bits, forward and backward, as the drawn layout/byte order did.

Any other exception is an ``error``; a wrong value, dtype, shape or a missing/foreign
exception is a ``mismatch``. Crashes and hangs are caught one level up, by the runner
running cases in child processes.

    >>> from benchmarks.fuzz_cases import RandomDraw
    >>> from benchmarks.fuzz_ops import build_case
    >>> check_case(build_case(RandomDraw(0, 1), "exp")).status
    'ok'
"""
import traceback

import numpy as np

from benchmarks.fuzz_cases import Arr
from benchmarks.fuzz_refs import Refuse
from benchmarks import fuzz_torch  # (its load_torch is looked up at each call: tests replace it)
from benchmarks.fuzz_torch import (  # noqa: F401 - INTEGER_RULE_OPS, integral_only: part of this API
    INTEGER_RULE_OPS, TORCH_REFUSALS, integral_only, judged_by_torch, numpy_dtype, torch_result,
)

# Relative tolerances by the dtype microinit computes in (times the case's factor).
RTOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-13}


class Absent:
    """Stands for the gradient of an input that did not require grad."""


class Mismatch(AssertionError):
    """The op's result differs from the reference (or from its plain-layout twin)."""


class Case:
    """One call of one op. ``inputs``: the arguments, :class:`Arr` for arrays (handed
    over in their dtype/layout) or plain Python objects; ``run(inputs, grad)`` calls the
    op on the materialised inputs and returns ``(out, leaves)`` (``leaves[i]``: the
    Tensor made from input i when it requires grad, else None); ``ref(vals)`` gets the
    float64 values microinit computes with (non-Arr inputs as they are) and returns a
    ``fuzz_refs.Ref`` or raises ``Refuse``. ``names``: words one of which an error
    message must contain."""

    __slots__ = ("op", "inputs", "params", "run", "ref", "grad", "gseed", "names", "rtol")

    def __init__(self, op, inputs, run, ref, params=None, grad=True, gseed=0, names=None, rtol=1.0):
        self.op, self.inputs, self.run, self.ref = op, list(inputs), run, ref
        self.params, self.grad, self.gseed = dict(params or {}), grad, gseed
        self.names, self.rtol = tuple(names or (op,)), rtol

    def materialise(self, plain=False):
        return [(x.plain() if plain else x.array()) if isinstance(x, Arr) else x for x in self.inputs]

    def describe(self):
        """The case as Python source a reader can paste (values in full)."""
        args = ", ".join(repr(x) for x in self.inputs)
        return f"op={self.op!r} params={self.params!r} grad={self.grad} gseed={self.gseed}\ninputs=[{args}]"


class Outcome:
    """``status``: "ok", "refused" (a clear error, as expected), "deferred" (an
    integer/bool case of :data:`INTEGER_RULE_OPS` where torch, its oracle, is not
    importable), "mismatch" or "error"; ``detail``: what went wrong, with the traceback
    for an error; ``oracle``: what judged the case, "reference" (``fuzz_refs``),
    "torch" or None (deferred)."""

    __slots__ = ("status", "detail", "oracle")

    def __init__(self, status, detail="", oracle="reference"):
        self.status, self.detail, self.oracle = status, detail, oracle

    @property
    def failed(self):
        return self.status in ("mismatch", "error")


def upstream(shape, dtype, seed):
    """A drawn upstream gradient: small integers (zeros included), exact in any dtype."""
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)


def _execute(case, plain):
    """(output array, [grad arrays]) of one run of the case."""
    out, leaves = case.run(case.materialise(plain), case.grad)
    t = out
    data = np.asarray(getattr(out, "data", out))
    grads = []
    if case.grad and any(leaf is not None for leaf in leaves) and getattr(t, "requires_grad", False):
        g = upstream(data.shape, data.dtype, case.gseed)
        t.backward(g)
        grads = [Absent if leaf is None or not leaf.requires_grad else leaf.grad for leaf in leaves]
    return data, grads


def _same_bits(a, b):
    """Equal dtype, shape and bytes; NaNs compare by position only (the sign and payload
    of a NaN are not specified by IEEE arithmetic and vary with summation order)."""
    if a is None or b is None or a is Absent or b is Absent:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        na, nb = np.isnan(a), np.isnan(b)
        if not np.array_equal(na, nb):
            return False
        a, b = np.where(na, 0, a), np.where(nb, 0, b)
    return a.tobytes() == b.tobytes()


def compare(actual, expected, scale, dtype, rtol, what):
    """Raise Mismatch unless ``actual`` matches the float64 ``expected`` within
    ``rtol * scale`` (elements whose scale is NaN, or too large for ``dtype``, are not
    compared; NaN must be where the reference has NaN and nowhere else)."""
    actual = np.asarray(actual)
    expected = np.broadcast_to(np.asarray(expected, np.float64), actual.shape) if actual.shape == np.shape(
        expected) or np.ndim(expected) == 0 else np.asarray(expected)
    if actual.shape != expected.shape:
        raise Mismatch(f"{what}: shape {actual.shape}, expected {expected.shape}")
    if dtype is not None and actual.dtype != dtype:
        raise Mismatch(f"{what}: dtype {actual.dtype}, expected {np.dtype(dtype)}")
    if not actual.size:
        return
    fdt = actual.dtype if actual.dtype.kind == "f" else np.dtype(np.float64)
    info = np.finfo(fdt)
    scale = np.broadcast_to(np.asarray(scale, np.float64), actual.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        exp_cast = expected.astype(fdt).astype(np.float64)
        act = actual.astype(np.float64)
        checked = ~np.isnan(scale) & (scale < info.max / 64)
        both_nan = np.isnan(act) & np.isnan(exp_cast)
        close = (act == exp_cast) | both_nan | (np.abs(act - exp_cast) <= rtol * scale + 4 * info.tiny)
    bad = checked & ~close
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise Mismatch(f"{what}: at index {list(i)} got {actual[i]!r}, expected {expected[i]!r} "
                       f"(tolerance {rtol:g} x scale {scale[i]:g}; {int(bad.sum())} of {bad.size} elements differ)")


def _names_op(err, case):
    msg = str(err).lower()
    return any(name.lower() in msg for name in case.names)


def _named_refusal(case, err, oracle):
    """An expected refusal: "refused" when its message names the op, else a mismatch."""
    if not _names_op(err, case):
        return Outcome("mismatch", f"the error does not name the op ({' or '.join(case.names)}): "
                                   f"{type(err).__name__}: {err}", oracle)
    return Outcome("refused", oracle=oracle)


def _traceback(err):
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


def check_case(case):
    """Run ``case`` against its reference (torch for the integer/bool cases of
    :data:`INTEGER_RULE_OPS`) and its plain-layout twin: an Outcome."""
    oracle = "torch" if judged_by_torch(case) else "reference"
    try:
        return _check_against_torch(case) if oracle == "torch" else _check(case)
    except Mismatch as err:
        return Outcome("mismatch", str(err), oracle)


def _check(case):
    try:
        ref = case.ref([x.computed() if isinstance(x, Arr) else x for x in case.inputs])
        refused = None
    except Refuse as why:
        ref, refused = None, why
    except Exception as err:  # noqa: BLE001 - a bug of the harness, reported, never a crash
        tb = _traceback(err)
        return Outcome("error", f"the fuzz reference itself raised {type(err).__name__}: {err}\n{tb}")
    try:
        out, grads = _execute(case, plain=False)
    except Exception as err:  # noqa: BLE001 - classifying every exception is the point
        return _classify_error(case, err, refused)
    if refused is not None:
        raise Mismatch(f"expected an error ({refused}), got a result of shape {out.shape}")
    plain_out, plain_grads = _execute(case, plain=True)
    if not _same_bits(out, plain_out):
        raise Mismatch(f"forward: layout/byte order changed the result: {out!r} vs plain {plain_out!r}")
    for i, (g, pg) in enumerate(zip(grads, plain_grads)):
        if not _same_bits(g, pg):
            raise Mismatch(f"backward: layout/byte order changed the gradient of input {i}: {g!r} vs {pg!r}")
    _against_reference(case, ref, out, grads)
    return Outcome("ok")


def _classify_error(case, err, refused):
    tb = _traceback(err)
    if refused is None:
        return Outcome("mismatch" if isinstance(err, (TypeError, ValueError, RuntimeError)) else "error",
                       f"raised on a valid input: {type(err).__name__}: {err}\n{tb}")
    if not isinstance(err, refused.allowed):
        return Outcome("error", f"expected {'/'.join(e.__name__ for e in refused.allowed)} ({refused}), "
                                f"got {type(err).__name__}: {err}\n{tb}")
    return _named_refusal(case, err, "reference")


def _against_reference(case, ref, out, grads):
    dt = out.dtype if out.dtype.kind == "f" else np.dtype(np.float64)
    rtol = RTOL.get(dt, 1e-13) * case.rtol
    if ref.exact:
        exp = np.asarray(ref.out)
        if out.shape != exp.shape or (ref.dtype is not None and out.dtype != ref.dtype) or not np.array_equal(
                out, exp.astype(out.dtype), equal_nan=out.dtype.kind == "f"):
            raise Mismatch(f"forward: got {out!r}, expected {exp!r}")
    else:
        compare(out, ref.out, ref.scale, ref.dtype, rtol, "forward")
    if not grads or ref.vjp is None:
        return
    g = upstream(out.shape, out.dtype, case.gseed).astype(np.float64)
    expected = ref.vjp(g)
    for i, (got, exp) in enumerate(zip(grads, expected)):
        if exp is None or got is Absent:
            continue
        leaf_dt = case.inputs[i].compute_dtype if isinstance(case.inputs[i], Arr) else None
        if got is None:
            raise Mismatch(f"backward: input {i} requires grad but got no gradient")
        e, s = exp if isinstance(exp, tuple) else (exp, np.abs(exp))
        # a float32 leaf's gradient is float32 even when the output is float64
        grtol = max(rtol, RTOL.get(np.dtype(leaf_dt), 0) * case.rtol) if leaf_dt is not None else rtol
        compare(got, e, s, leaf_dt, grtol, f"backward (input {i})")


# ------------------------------------------------------------------ integer/bool cases: torch
def _forward(case, plain):
    """(output array, whether the output requires grad) of one run of the case."""
    out, _ = case.run(case.materialise(plain), case.grad)
    return np.asarray(getattr(out, "data", out)), bool(getattr(out, "requires_grad", False))


def _check_against_torch(case):
    """Judge an integer/bool case of :data:`INTEGER_RULE_OPS` by torch: the same dtype,
    shape and values (bit-exact for an integer/bool result, within the tolerance of its
    dtype for a float one) and no result that requires grad, or both refuse."""
    torch = fuzz_torch.load_torch()
    if torch is None:
        return Outcome("deferred", "integer/bool operands follow PyTorch's dtype rule, which only torch "
                                   "judges here: install torch to judge this case", oracle=None)
    try:
        expected, torch_refused = torch_result(torch, case, case.materialise(plain=True)), None
    except TORCH_REFUSALS as err:
        expected, torch_refused = None, err
    except Exception as err:  # noqa: BLE001 - a bug of the harness, reported, never a crash
        tb = _traceback(err)
        return Outcome("error", f"the torch oracle itself raised {type(err).__name__}: {err}\n{tb}", "torch")
    try:
        out, requires_grad = _forward(case, plain=False)
    except Exception as err:  # noqa: BLE001 - classifying every exception is the point
        return _classify_torch_error(case, err, expected, torch_refused)
    if torch_refused is not None:
        raise Mismatch(f"torch refuses ({type(torch_refused).__name__}: {torch_refused}), microinit returned "
                       f"{out.dtype} of shape {out.shape}")
    plain_out, _ = _forward(case, plain=True)
    if not _same_bits(out, plain_out):
        raise Mismatch(f"forward: layout/byte order changed the result: {out!r} vs plain {plain_out!r}")
    _against_torch(torch, case, out, expected)
    if requires_grad:
        raise Mismatch(f"the {out.dtype} result of integer/bool operands requires grad (torch's does not)")
    return Outcome("ok", oracle="torch")


def _classify_torch_error(case, err, expected, torch_refused):
    tb = _traceback(err)
    allowed = (TypeError, ValueError, RuntimeError)
    if torch_refused is None:
        return Outcome("mismatch" if isinstance(err, allowed) else "error",
                       f"torch computes a {expected.dtype} result of shape {tuple(expected.shape)}, microinit "
                       f"raised {type(err).__name__}: {err}\n{tb}", "torch")
    if isinstance(torch_refused, IndexError):  # torch's "dimension out of range"
        allowed += (IndexError,)
    if not isinstance(err, allowed):
        return Outcome("error", f"torch refuses ({type(torch_refused).__name__}: {torch_refused}); microinit "
                                f"raised {type(err).__name__}, not {'/'.join(e.__name__ for e in allowed)}: "
                                f"{err}\n{tb}", "torch")
    return _named_refusal(case, err, "torch")


def _against_torch(torch, case, out, expected):
    want = expected.numpy()
    dtype = numpy_dtype(torch, expected.dtype)
    if out.dtype != dtype or out.shape != want.shape:
        raise Mismatch(f"forward: {out.dtype} of shape {out.shape}, torch gives {dtype} of shape {want.shape}")
    if dtype.kind in "iub":
        bad = out != want
    else:  # a float result (int ** 0.5, 2.0 ** int, clip to -inf): NaN and inf where torch has them
        rtol = RTOL.get(dtype, 1e-13) * case.rtol
        with np.errstate(invalid="ignore", over="ignore"):
            a, w = out.astype(np.float64), want.astype(np.float64)
            close = (a == w) | (np.isnan(a) & np.isnan(w)) | (np.abs(a - w) <= rtol * np.abs(w) + 4 * np.finfo(
                dtype).tiny)
        bad = ~close
    if np.any(bad):
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise Mismatch(f"forward: at index {list(i)} got {out[i].tolist()!r}, torch gives {want[i].tolist()!r} "
                       f"({int(np.sum(bad))} of {bad.size} elements differ)")

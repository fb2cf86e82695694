"""benchmarks/fuzz_torch.py and the torch branch of benchmarks/fuzz_properties.py:
integer/bool cases of the ops that follow PyTorch's dtype rule are judged by torch.

The oracle must be able to fail: a wrong dtype, wrong values, a result that requires
grad, a layout that changes the bits, a refusal torch does not make (or one that does
not name the op) and a result where torch refuses are each a "mismatch"; a case both
refuse is "refused"; without torch the case is "deferred". The runner's summary says
how many cases torch judged.
"""
import re

import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def fz(benchmarks):
    """The modules under test (benchmarks/ is loaded as `microinit bench` loads it)."""
    import importlib

    return {name: importlib.import_module(f"benchmarks.{name}")
            for name in ("fuzz_cases", "fuzz_properties", "fuzz_torch", "fuzz")}


class Result:
    """A stand-in for a Tensor result: data, and whether it requires grad."""

    def __init__(self, data, requires_grad=False):
        self.data, self.requires_grad = data, requires_grad


def int_add_case(fz, run, layout="C"):
    """int32 tensor + int32 tensor with a given ``run`` (microinit's side)."""
    Arr, Case = fz["fuzz_cases"].Arr, fz["fuzz_properties"].Case
    return Case("add", [Arr([1.0, 2.0, -3.0], "<i4", layout), Arr([4.0, 5.0, 6.0], "<i4")], run, ref=None,
                params={"kind": "tensor", "reflected": False})


def microinit_add(xs, grad):
    a, b = mi.tensor(xs[0]), mi.tensor(xs[1])
    return a + b, [None, None]


def test_the_real_op_is_judged_by_torch_and_passes(fz):
    outcome = fz["fuzz_properties"].check_case(int_add_case(fz, microinit_add, "strided"))
    assert (outcome.status, outcome.oracle) == ("ok", "torch"), outcome.detail


def test_a_float64_result_of_int_plus_int_is_a_mismatch(fz):
    case = int_add_case(fz, lambda xs, grad: (Result((xs[0] + xs[1]).astype(np.float64)), [None, None]))
    outcome = fz["fuzz_properties"].check_case(case)
    assert outcome.status == "mismatch" and outcome.oracle == "torch"
    assert "float64" in outcome.detail and "torch gives int32" in outcome.detail, outcome.detail


def test_a_wrong_value_is_a_mismatch_naming_its_index(fz):
    def off_by_one(xs, grad):
        out = (xs[0] + xs[1]).astype(np.int32)
        out[2] += 1
        return Result(out), [None, None]
    outcome = fz["fuzz_properties"].check_case(int_add_case(fz, off_by_one))
    assert outcome.status == "mismatch"
    assert "at index [2] got 4, torch gives 3" in outcome.detail, outcome.detail


def test_an_integer_result_that_requires_grad_is_a_mismatch(fz):
    case = int_add_case(fz, lambda xs, grad: (Result((xs[0] + xs[1]).astype(np.int32), True), [None, None]))
    outcome = fz["fuzz_properties"].check_case(case)
    assert outcome.status == "mismatch" and "requires grad" in outcome.detail, outcome.detail


def test_a_layout_that_changes_the_bits_is_a_mismatch(fz):
    def layout_dependent(xs, grad):  # right for the strided input, wrong for its plain twin
        out = (xs[0] + xs[1]).astype(np.int32)
        return Result(out if not xs[0].flags.c_contiguous else out * 2), [None, None]
    outcome = fz["fuzz_properties"].check_case(int_add_case(fz, layout_dependent, "strided"))
    assert outcome.status == "mismatch" and "layout/byte order" in outcome.detail, outcome.detail


def mean_case(fz, run):
    Arr, Case = fz["fuzz_cases"].Arr, fz["fuzz_properties"].Case
    return Case("mean", [Arr([[1.0, 2.0], [3.0, 4.0]], ">i8", "fortran")], run, ref=None,
                params={"axis": 0, "keepdims": True})


def test_both_refusing_is_refused(fz):
    """torch.mean of an int64 tensor raises RuntimeError, microinit TypeError naming mean."""
    case = mean_case(fz, lambda xs, grad: (mi.tensor(xs[0]).mean(axis=0, keepdims=True), [None]))
    outcome = fz["fuzz_properties"].check_case(case)
    assert (outcome.status, outcome.oracle) == ("refused", "torch"), outcome.detail


def test_a_bool_negation_both_refuse_through_the_case_builders(fz):
    from benchmarks.fuzz_cases import Arr

    case = fz["fuzz"].make_case(0, 0, ["neg"])
    case.inputs = [Arr([1.0, 0.0, 1.0], "|b1", "negative")]
    outcome = fz["fuzz_properties"].check_case(case)
    assert (outcome.status, outcome.oracle) == ("refused", "torch"), outcome.detail


def test_a_refusal_that_does_not_name_the_op_is_a_mismatch(fz):
    def refuse(xs, grad):
        raise TypeError("integers are not supported")
    outcome = fz["fuzz_properties"].check_case(mean_case(fz, refuse))
    assert outcome.status == "mismatch" and "does not name the op" in outcome.detail, outcome.detail


def test_a_result_where_torch_refuses_is_a_mismatch(fz):
    case = mean_case(fz, lambda xs, grad: (Result(np.array([[2.0, 3.0]], np.float32)), [None]))
    outcome = fz["fuzz_properties"].check_case(case)
    assert outcome.status == "mismatch" and outcome.detail.startswith("torch refuses (RuntimeError"), outcome.detail


def test_a_refusal_where_torch_computes_is_a_mismatch(fz):
    def refuse(xs, grad):
        raise ValueError("add: refused")
    outcome = fz["fuzz_properties"].check_case(int_add_case(fz, refuse))
    assert outcome.status == "mismatch" and "torch computes a torch.int32 result" in outcome.detail, \
        outcome.detail


def test_a_float_result_is_compared_within_the_tolerance(fz):
    """int ** 0.5 is float32 in torch: equal within float32 rounding passes, 1e-3 off fails."""
    Arr, Case = fz["fuzz_cases"].Arr, fz["fuzz_properties"].Case

    def run(scale):
        return lambda xs, grad: (Result((xs[0] ** 0.5 * scale).astype(np.float32)), [None])
    cases = [Case("pow", [Arr([0.0, 2.0, 9.0], "<i4")], run(s), ref=None, params={"p": 0.5}) for s in (1, 1.001)]
    assert [fz["fuzz_properties"].check_case(c).status for c in cases] == ["ok", "mismatch"]


def test_without_torch_the_case_is_deferred(fz, monkeypatch):
    monkeypatch.setattr(fz["fuzz_torch"], "load_torch", lambda: None)
    outcome = fz["fuzz_properties"].check_case(int_add_case(fz, microinit_add))
    assert (outcome.status, outcome.oracle) == ("deferred", None)
    assert "install torch" in outcome.detail


def test_a_list_operand_is_judged_by_the_float_reference(fz):
    """microinit makes a float array of a list (docs/reliability.md row 9): not torch's case."""
    for i in range(400):
        case = fz["fuzz"].make_case(3, i, ["add"])
        if case.params["kind"] == "list" and fz["fuzz_torch"].integral_only(case):
            assert fz["fuzz_torch"].judged_by_torch(case) == (case.inputs[1].values.ndim == 0)
            if case.inputs[1].values.ndim:
                assert fz["fuzz_properties"].check_case(case).oracle == "reference"
                return
    pytest.fail("no integer case with a list operand among 400")


def test_the_integer_rule_ops_pass_against_torch(fz):
    """A quick sample of the runner's own cases: the first integer/bool cases of every op
    of INTEGER_RULE_OPS (seed 0) match torch or are refused by both."""
    fuzz, fuzz_torch, check = fz["fuzz"], fz["fuzz_torch"], fz["fuzz_properties"].check_case
    seen = {"ok": 0, "refused": 0}
    for op in sorted(fuzz_torch.INTEGER_RULE_OPS):
        judged = 0
        for i in range(400):
            case = fuzz.make_case(0, i, [op])
            if not fuzz_torch.judged_by_torch(case):
                continue
            outcome = check(case)
            assert outcome.oracle == "torch" and not outcome.failed, (op, i, outcome.detail)
            seen[outcome.status] += 1
            judged += 1
            if judged == 4:
                break
        assert judged == 4, op
    assert seen["ok"] > 20 and seen["refused"] > 10, seen


def test_the_runner_counts_the_cases_torch_judged(fz, capsys, tmp_path):
    rc = fz["fuzz"].main(["--cases", "120", "--batch", "120", "--workers", "1", "--seed", "1",
                          "--ops", "add,mean,neg,sum", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    m = re.search(r"; (\d+) integer/bool cases judged by torch, (\d+) deferred because torch is not importable\)",
                  out)
    assert rc == 0 and m, out
    assert int(m.group(1)) > 10 and m.group(2) == "0", out

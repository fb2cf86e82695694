"""benchmarks/fuzz.py: the runner of the fuzz property, batches in child processes.

A short run ends with the summary line and exit status 0; a child that aborts (the
test-only hook ``--inject-abort-at``) is reported as a crash of that very case, with its
reproducer saved, and the rest of the batch still runs.
"""
import doctest
import importlib
import re

import numpy as np
import pytest

# ops with no open finding in /work/fuzz-findings.md: this test checks the runner, not them
OPS = "exp,relu,tanh,matmul,dense,loss_mse,F.activation,getitem"
SUMMARY = re.compile(r"fuzz: (\d+) cases in (\d+) batches, (\d+) crashes, (\d+) hangs, (\d+) mismatches, "
                     r"(\d+) unexpected errors \(seed (\d+), \d+ s\)")


def _run(benchmarks, capsys, tmp_path, *extra):
    from benchmarks import fuzz

    rc = fuzz.main(["--cases", "240", "--batch", "80", "--workers", "2", "--seed", "5", "--ops", OPS,
                    "--out", str(tmp_path), *extra])
    return rc, capsys.readouterr().out


def test_a_clean_run_prints_the_summary_and_exits_0(benchmarks, capsys, tmp_path):
    rc, out = _run(benchmarks, capsys, tmp_path)
    m = SUMMARY.search(out)
    assert m, out
    assert m.groups() == ("240", "3", "0", "0", "0", "0", "5"), out
    assert rc == 0 and not list(tmp_path.iterdir())
    assert "cases/s" in out


def test_an_aborting_child_is_a_crash_with_its_reproducer(benchmarks, capsys, tmp_path):
    rc, out = _run(benchmarks, capsys, tmp_path, "--inject-abort-at", "100")
    m = SUMMARY.search(out)
    assert m and m.group(3) == "1" and m.group(1) == "240", out
    assert rc == 1
    assert re.search(r"CRASH case 100 \(op \S+\): child exited with status -6 \(SIGABRT\)", out), out
    txt = next(tmp_path.glob("crash-*-s5-i100.txt")).read_text()
    assert "replay: python -m benchmarks.fuzz --replay --seed 5 --index 100" in txt
    saved = np.load(next(tmp_path.glob("crash-*-s5-i100.npz")))
    from benchmarks.fuzz import make_case, op_names

    case = make_case(5, 100, op_names(OPS))
    assert case.op in txt
    arrays = [x.array() for x in case.inputs if hasattr(x, "layout")]
    assert len(saved.files) == len(arrays)
    for i, a in enumerate(arrays):  # the exact inputs, dtype and byte order included
        assert saved[f"input{i}"].dtype == a.dtype and np.array_equal(saved[f"input{i}"], a, equal_nan=True)
    # the other 239 cases still ran and passed
    ok, refused = map(int, re.search(r"\((\d+) matched the reference, (\d+) refused", out).groups())
    assert ok + refused == 239, out


@pytest.mark.parametrize("name", ["fuzz_cases", "fuzz_refs", "fuzz_properties", "fuzz_torch", "fuzz_ops", "fuzz_ops_nn",
                                  "fuzz_ops_optim", "fuzz"])
def test_fuzz_module_examples_pass(benchmarks, name):
    result = doctest.testmod(importlib.import_module(f"benchmarks.{name}"), report=False)
    assert result.failed == 0 and result.attempted > 0, name

"""The examples in the kernel modules' docstrings run and pass (doctest).

Whole modules where every docstring belongs to this folder's kernels; for matmul only
the entry points gemm, gemm_path and gemm_batched (its other docstrings document the
one-call fast path and are tested with it).
"""
import doctest

import pytest

from microinit._kernels import elementwise, matmul, reference, sampling, updates

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("module", [reference, elementwise, sampling, updates], ids=lambda m: m.__name__)
def test_module_examples_pass(module):
    result = doctest.testmod(module, optionflags=FLAGS)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0


@pytest.mark.parametrize("name", ["gemm", "gemm_path", "gemm_batched"])
def test_matmul_entry_point_examples_pass(name):
    finder = doctest.DocTestFinder(recurse=False)
    tests = finder.find(getattr(matmul, name), name, module=False, globs=vars(matmul).copy())
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"matmul.{name} has no examples"
    assert result.failed == 0

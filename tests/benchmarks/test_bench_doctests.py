"""Every docstring example of the benchmarks package runs and passes."""
import doctest
import importlib

import pytest

# module -> does it carry examples?
MODULES = {"problems": True, "report": True, "timing": True, "implementations": True, "suites": False, "runner": False,
           "peers": False}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples_pass(benchmarks, name):
    result = doctest.testmod(importlib.import_module(f"benchmarks.{name}"), verbose=False, report=False)
    assert result.failed == 0, name
    assert (result.attempted > 0) == MODULES[name], name

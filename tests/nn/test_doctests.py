"""Every docstring example in microinit.nn runs and passes (the docs cannot rot)."""
import doctest
import importlib

import pytest

MODULES = ["microinit.nn", "microinit.nn.module", "microinit.nn.layers", "microinit.nn.activations",
           "microinit.nn.containers", "microinit.nn.normalization", "microinit.nn.dropout",
           "microinit.nn.utils", "microinit.ops.normalization"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"

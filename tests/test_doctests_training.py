"""Every docstring example of the training stack (losses, optim, data, training,
serialization, atomic writes) runs and passes."""
import doctest
import importlib

import pytest

MODULES = ["microinit.losses", "microinit.optim", "microinit.data", "microinit.training",
           "microinit.serialization", "microinit._atomic"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"

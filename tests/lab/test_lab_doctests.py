"""Every docstring example of the lab package runs and passes."""
import doctest
import importlib

import pytest

# module -> does it carry examples?
MODULES = {
    "microinit.lab": True,
    "microinit.lab.experiments": True,
    "microinit.lab.runs": True,
    "microinit.lab.specs": True,
    "microinit.lab.summary": True,
    "microinit.lab.figures": False,
    "microinit.lab.cli": False,
}

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples_pass(name):
    result = doctest.testmod(importlib.import_module(name), verbose=False, report=False)
    assert result.failed == 0, name
    assert (result.attempted > 0) == MODULES[name], name

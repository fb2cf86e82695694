"""Every docstring example in microinit.scalar runs and passes (doctest)."""
import doctest
import importlib

import pytest

# modules whose docstrings hold examples (each must run at least one)
WITH_EXAMPLES = [
    "microinit.scalar",
    "microinit.scalar.engine",
    "microinit.scalar.ieee",
    "microinit.scalar.tape",
    "microinit.scalar.nn",
    "microinit.scalar._value",
    "microinit.scalar._graph",
    "microinit.scalar._snapshot",
]
# modules without examples: doctest must still find nothing failing in them
WITHOUT_EXAMPLES = ["microinit.scalar._wengert"]


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), verbose=False)
    assert result.failed == 0
    assert result.attempted > 0, f"{name}: no docstring example was found"


@pytest.mark.parametrize("name", WITHOUT_EXAMPLES)
def test_modules_without_examples(name):
    assert doctest.testmod(importlib.import_module(name), verbose=False).failed == 0

"""The benchmarks are a folder of the repository, not part of the package: load them the
way `microinit bench` does (``microinit.cli.load_benchmarks``)."""
import importlib

import pytest


@pytest.fixture(scope="session")
def benchmarks():
    """The package ``benchmarks`` (the repository's benchmarks/ folder)."""
    from microinit import cli

    if cli.load_benchmarks() is None:
        pytest.fail("no benchmarks/ folder next to the microinit package: run the tests from a clone "
                    "installed with `pip install -e .`")
    return importlib.import_module("benchmarks")

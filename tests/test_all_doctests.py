"""Every docstring example in microinit runs and passes (doctest), module by module.

Walks the whole package, compiled kernels included, so an example added anywhere is
run here; the per-folder doctest files check in addition that the modules that must
have examples do.
"""
import doctest
import importlib
import pkgutil

import pytest

import microinit

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules():
    names = [microinit.__name__]
    for info in pkgutil.walk_packages(microinit.__path__, prefix="microinit."):
        if info.name != "microinit.__main__":  # importing it runs the command line
            names.append(info.name)
    return sorted(names)


# modules whose examples draw with matplotlib (the plot extra, which the test extra
# installs): on a machine without it they skip, as the figure tests do
NEEDS_MATPLOTLIB = {"microinit.viz.png"}


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_pass(name, tmp_path, monkeypatch):
    if name in NEEDS_MATPLOTLIB:
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


def test_the_walk_finds_the_packages():
    names = _modules()
    for expected in ("microinit.ops._boundary", "microinit.autograd.backward", "microinit.nn.containers",
                     "microinit._kernels.dense", "microinit.tensor"):
        assert expected in names

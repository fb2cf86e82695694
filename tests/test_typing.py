"""The package's types: `mypy` (strict, configured in pyproject.toml's [tool.mypy]) runs
clean on the public modules, and the package ships its PEP 561 marker (docs/design.md,
"Types"). Skipped when mypy is not installed (the `test` extra installs it)."""
import subprocess
import sys
from pathlib import Path

import pytest

import microinit

ROOT = Path(microinit.__file__).resolve().parent.parent


def test_package_ships_py_typed():
    assert (ROOT / "microinit" / "py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"microinit" = ["py.typed"]' in pyproject  # package data: wheels carry it


def test_mypy_strict_runs_clean(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")
    # The cache goes to a temporary directory so the test leaves the tree as it was.
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout

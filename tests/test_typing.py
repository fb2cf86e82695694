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


# A user's script: the public names are re-exported and carry real types, so strict mypy
# accepts correct use and catches a wrong argument type (an untyped API would pass both).
USER_SCRIPT = '''
import numpy as np
import microinit as mi
from microinit import nn, optim

x: mi.Tensor = mi.tensor(np.ones((4, 2), np.float32), requires_grad=True)
model = nn.Sequential(nn.Dense(2, 8, activation="relu", rng=0), nn.LayerNorm(8), nn.Dropout(0.1), nn.Dense(8, 1))
opt = optim.RMSprop(model.parameters(), lr=1e-2)
loss: mi.Tensor = (model(x) ** 2).mean(axis=0).sum()
loss.backward()
norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
opt.step()
w = mi.init.get("xavier_uniform")((2, 3), rng=mi.manual_seed(0))
state: dict[str, np.ndarray] = dict(model.state_dict())
shape: tuple[int, ...] = mi.zeros(2, 3).sum(axis=1, keepdims=True).shape
'''


def _mypy_on(code, tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(code)
    # From the repository root (pyproject.toml's settings, the package on the path);
    # the script given on the command line replaces the configured files.
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), str(script)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_user_code_type_checks(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")
    out = _mypy_on(USER_SCRIPT, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    bad = _mypy_on(USER_SCRIPT + "mi.zeros(2).sum(axis='rows')\nnn.Dense('2', 3)\n", tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert 'user_script.py:16: error: Argument "axis" has incompatible type "str"' in bad.stdout, bad.stdout
    assert 'user_script.py:17: error: Argument 1 to "Dense" has incompatible type "str"' in bad.stdout, bad.stdout
    assert "Found 2 errors" in bad.stdout, bad.stdout

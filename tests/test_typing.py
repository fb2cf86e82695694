"""The package's types: `mypy` (strict, configured in pyproject.toml's [tool.mypy]) runs
clean on every module of the package but the experiment lab, no module is put back on an
ignore list, and the package ships its PEP 561 marker (docs/design.md, "Types"). The mypy
runs are skipped when mypy is not installed (the `test` extra installs it)."""
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


def _mypy_config():
    """pyproject.toml's [tool.mypy] table (tomllib, or tomli -- a dependency of mypy -- on 3.10)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="no TOML reader (tomli comes with mypy on 3.10)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


# The only part of the package mypy does not check: the experiment lab, a research tool
# with its own CLI and pages (pyproject.toml says why). Every other module is strict.
UNCHECKED = "microinit.lab"


RELAXING = {"ignore_errors", "disallow_untyped_defs", "disallow_incomplete_defs", "disallow_untyped_calls",
            "check_untyped_defs", "warn_return_any", "disable_error_code", "follow_imports"}


def _relaxations(cfg):
    """What in a [tool.mypy] table leaves part of the package unchecked or less strict
    than the rest (the lab aside): one line per finding."""
    found = []
    if cfg.get("strict") is not True or cfg.get("files") != ["microinit"]:
        found.append(f"not strict over the whole package: strict={cfg.get('strict')}, files={cfg.get('files')}")
    if cfg.get("exclude") != ["^microinit/lab/"]:
        found.append(f"exclude is {cfg.get('exclude')}: only the lab may be left out")
    if cfg.get("untyped_calls_exclude", []) != [UNCHECKED]:
        found.append(f"untyped_calls_exclude is {cfg.get('untyped_calls_exclude')}: only {UNCHECKED}")
    for override in cfg.get("overrides", []):
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        if RELAXING & set(override) and modules != [UNCHECKED + ".*"]:
            found.append(f"override {sorted(RELAXING & set(override))} for {modules}")
        elif not RELAXING & set(override) and [m for m in modules if m.startswith("microinit")]:
            found.append(f"override {override} names microinit's own modules")
    return found


def test_every_package_module_is_checked_strictly():
    """No module is switched off: strict for the whole package, no ignore_errors or relaxed
    override and no untyped-call exemption outside the lab, no file-level ``mypy:``
    comment and no blanket ``# type: ignore`` (each names its error code)."""
    assert _relaxations(_mypy_config()) == []
    offenders = []
    for path in sorted((ROOT / "microinit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("microinit/lab/"):
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "# mypy:" in line or ("type: ignore" in line and "type: ignore[" not in line):
                offenders.append(f"{rel}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_a_module_put_back_on_an_ignore_list_is_found():
    """The check above can fail: the overrides this repository had before every module was
    typed (ignore_errors for untyped modules, their calls exempted) are each caught."""
    cfg = _mypy_config()
    back = dict(cfg, overrides=cfg.get("overrides", []) + [{"module": ["microinit.theory"], "ignore_errors": True}])
    assert _relaxations(back) == ["override ['ignore_errors'] for ['microinit.theory']"]
    exempt = dict(cfg, untyped_calls_exclude=[UNCHECKED, "microinit.theory"])
    assert len(_relaxations(exempt)) == 1
    assert len(_relaxations(dict(cfg, exclude=["^microinit/lab/", "^microinit/theory.py"]))) == 1


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
# the modules typed last (issue 16): losses, metrics, theory, init, diagnostics, viz
ce: mi.Tensor = mi.losses.cross_entropy(model(x), np.array([0, 1, 0, 1]), label_smoothing=0.1)
acc: float = mi.metrics.accuracy(model(x), np.array([0, 1, 0, 1]))
q_star: float = mi.theory.fixed_point_q("tanh", 1.5, 0.05)
edge: float = mi.theory.critical_sigma_w2("tanh", 0.0)
reports: list[dict[str, object]] = mi.init.lsuv(nn.MLP([2, 4, 1]), np.ones((8, 2), np.float32), rng=0)
stats: list[float] = mi.layer_stats(nn.MLP([2, 4, 3]), x.data).column("std").tolist()
svg: str = mi.draw(mi.Value(2.0) * 3.0).svg()
steps: int = len(mi.trace(mi.Value(2.0).tanh()))
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
    n = USER_SCRIPT.count("\n")
    bad = _mypy_on(USER_SCRIPT + "mi.zeros(2).sum(axis='rows')\nnn.Dense('2', 3)\n"
                   "mi.theory.chi1(1.5, 0.05, 0.0)\nname: int = mi.losses.get('mse').name\n", tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    expected = [f'user_script.py:{n + 1}: error: Argument "axis" has incompatible type "str"',
                f'user_script.py:{n + 2}: error: Argument 1 to "Dense" has incompatible type "str"',
                f'user_script.py:{n + 3}: error: Argument 1 to "chi1" has incompatible type "float"',
                f'user_script.py:{n + 4}: error: Incompatible types in assignment (expression has type "str"']
    for line in expected:
        assert line in bad.stdout, bad.stdout
    assert "Found 4 errors" in bad.stdout, bad.stdout


# Names Cython adds to every compiled module (pickling helpers, the C-API capsule, the
# doctest table): not part of the API the stubs describe.
CYTHON_INTERNALS = ("__pyx_capi__", "__reduce_cython__", "__setstate_cython__", "__test__")


def test_stubs_match_the_compiled_modules(tmp_path):
    """Every .pyi stub next to a compiled module agrees with it (mypy's stubtest imports
    the module and compares names, signatures, final and disjoint-base classes)."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")
    stubs = sorted(p for p in (ROOT / "microinit").rglob("*.pyi") if "lab" not in p.parts)
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in stubs]
    assert "microinit._kernels.updates" in modules and "microinit.scalar._value" in modules, modules
    allow = tmp_path / "allowlist.txt"
    allow.write_text("".join(f".*\\.{name}\n" for name in CYTHON_INTERNALS))
    out = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--allowlist", str(allow),
                          "--mypy-config-file", str(ROOT / "pyproject.toml"), *modules],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr

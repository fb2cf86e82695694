"""The installed package: public names, the ImportError when kernels are not built
(docs/reliability.md row 45), and the `microinit --version` / `microinit info` commands."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import microinit
from microinit import _kernels

ROOT = Path(microinit.__file__).resolve().parent.parent


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, **kw)


def test_public_names():
    for name in ("Tensor", "tensor", "zeros", "ones", "randn", "rand", "no_grad", "enable_grad",
                 "is_grad_enabled", "concatenate", "stack", "where", "gradcheck", "F", "functional"):
        assert hasattr(microinit, name), name
    assert microinit.F is microinit.functional
    for name in ("matmul", "matmul_backward", "dense_forward", "dense_backward", "as_float_array",
                 "check_ndim", "result_dtype", "check_finite", "activation_forward",
                 "cross_entropy_forward", "softmax_forward"):
        assert callable(getattr(microinit.F, name)), name


@pytest.mark.parametrize("module", list(_kernels.KERNEL_MODULES))
def test_missing_kernel_gives_build_hint(module):
    # Blocking one compiled module stands in for an unbuilt checkout.
    code = (f"import sys; sys.modules['microinit._kernels.{module}'] = None\n"
            "try:\n    import microinit\nexcept ImportError as e:\n    print('IMPORTERROR', e)\n"
            "else:\n    print('IMPORTED')\n")
    out = _run([sys.executable, "-c", code])
    assert out.returncode == 0, out.stderr
    assert "IMPORTERROR" in out.stdout and module in out.stdout
    assert "pip install -e ." in out.stdout and "build_ext --inplace" in out.stdout


def _cli():
    exe = Path(sys.executable).with_name("microinit")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "microinit"]


@pytest.mark.parametrize("cmd", [["microinit"], [sys.executable, "-m", "microinit"]], ids=["script", "module"])
def test_version(cmd):
    if cmd == ["microinit"]:
        cmd = _cli()
    out = _run(cmd + ["--version"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"microinit {microinit.__version__}"


def test_info_lists_kernels_and_blas():
    out = _run(_cli() + ["info"])
    assert out.returncode == 0, out.stderr
    assert f"microinit {microinit.__version__}" in out.stdout
    assert "numpy" in out.stdout and "BLAS" in out.stdout
    for module in _kernels.KERNEL_MODULES:
        assert module in out.stdout, module


# ---------------------------------------------------------------- set-up time (setup.py)
# setup.py's body runs here with setuptools.setup and Cython recorded, not run, in a
# copy of the sources: nothing is compiled, so these tests take well under a second.
_SETUP_ENV = ("MICROINIT_DEBUG", "MICROINIT_PORTABLE", "MICROINIT_NO_OPENMP", "MICROINIT_BUILD_JOBS",
              "MICROINIT_NO_BUILD_CACHE", "CC", "CFLAGS", "LDFLAGS")


@pytest.fixture
def source_tree(tmp_path):
    """setup.py and the Cython/C sources, copied (the build cache lands in the copy)."""
    import shutil
    tree = tmp_path / "tree"
    for pattern in ("setup.py", "microinit/**/*.pyx", "microinit/**/*.pxd", "microinit/_kernels/src/*.h"):
        for src in ROOT.glob(pattern):
            dst = tree / src.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    return tree


def _load_setup(monkeypatch, tree, **env):
    import runpy
    import types

    import setuptools
    calls = {"generated": 0}

    def cythonize(exts, **kw):  # writes a C file for each extension that has none
        calls["cythonize"] = kw
        for ext in exts:
            c = Path(ext.sources[0]).with_suffix(".c")
            if not c.exists():
                c.write_text(f"/* C of {ext.name} */")
                calls["generated"] += 1
            ext.sources = [str(c)]
        return exts

    cython = types.ModuleType("Cython")
    cython.__version__ = "3.test"
    cython.Build = types.ModuleType("Cython.Build")
    cython.Build.cythonize = cythonize
    monkeypatch.setitem(sys.modules, "Cython", cython)
    monkeypatch.setitem(sys.modules, "Cython.Build", cython.Build)
    monkeypatch.setattr(setuptools, "setup", lambda **kw: calls.setdefault("setup", kw))
    for name in _SETUP_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tree)
    return runpy.run_path(str(tree / "setup.py")), calls


def test_setup_flags_hot_kernels_unchanged_debug_and_portable(monkeypatch, source_tree):
    ns, calls = _load_setup(monkeypatch, source_tree)
    exts = calls["setup"]["ext_modules"]
    assert {e.name for e in exts} >= {"microinit._kernels.dense", "microinit._kernels.xent",
                                      "microinit._kernels.updates", "microinit._kernels.matmul"}
    for ext in exts:  # the kernels' speed flags, plus -g0 (no debug info: same code, faster compile)
        assert ext.extra_compile_args[:2] == ["-O3", "-ffp-contract=fast"], ext.name
        assert "-march=native" in ext.extra_compile_args and "-g0" in ext.extra_compile_args
    ns, calls = _load_setup(monkeypatch, source_tree, MICROINIT_DEBUG="1")
    args = calls["setup"]["ext_modules"][0].extra_compile_args
    assert args[:2] == ["-O0", "-g"] and "-g0" not in args and ns["directives"]["boundscheck"] is True
    ns, calls = _load_setup(monkeypatch, source_tree, MICROINIT_PORTABLE="1")
    assert "-march=native" not in calls["setup"]["ext_modules"][0].extra_compile_args


def test_setup_builds_in_parallel(monkeypatch, source_tree):
    from setuptools import Distribution
    ns, calls = _load_setup(monkeypatch, source_tree, MICROINIT_BUILD_JOBS="3")
    assert calls["cythonize"]["nthreads"] == 3
    cmd = calls["setup"]["cmdclass"]["build_ext"](Distribution({"ext_modules": calls["setup"]["ext_modules"]}))
    cmd.initialize_options()
    cmd.finalize_options()
    assert cmd.parallel == 3
    ns, _ = _load_setup(monkeypatch, source_tree)
    assert ns["JOBS"] == (os.cpu_count() or 1)


def _build_command(calls, build_lib):
    from setuptools import Distribution
    exts = calls["setup"]["ext_modules"]
    cmd = calls["setup"]["cmdclass"]["build_ext"](Distribution({"ext_modules": exts}))
    cmd.initialize_options()
    cmd.build_lib = str(build_lib)
    cmd.finalize_options()
    return cmd, exts


def test_unchanged_extensions_are_not_compiled_again(monkeypatch, source_tree, tmp_path):
    # pip builds an editable install in a new temporary directory each time: the cache
    # is what keeps `pip install -e ".[test]"` after `pip install -e .` from recompiling
    from setuptools.command.build_ext import build_ext
    compiled = []

    def fake_compile(self, ext):
        compiled.append(ext.name)
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"binary of {ext.name}")

    monkeypatch.setattr(build_ext, "build_extension", fake_compile)
    ns, calls = _load_setup(monkeypatch, source_tree)
    assert calls["generated"] == len(calls["setup"]["ext_modules"])
    cmd, exts = _build_command(calls, tmp_path / "lib1")
    for ext in exts:
        cmd.build_extension(ext)
    assert len(compiled) == len(exts)
    for c in source_tree.glob("microinit/**/*.c"):  # a fresh clone: no C files, no build dirs
        c.unlink()
    ns, calls = _load_setup(monkeypatch, source_tree)
    assert calls["generated"] == 0  # every C file came from the cache
    cmd, exts = _build_command(calls, tmp_path / "lib2")
    for ext in exts:
        cmd.build_extension(ext)
        assert Path(cmd.get_ext_fullpath(ext.name)).read_text() == f"binary of {ext.name}"
    assert len(compiled) == len(exts)  # nothing compiled the second time
    # a changed header changes every key; a changed flag, only the build
    header = next(source_tree.glob("microinit/_kernels/src/*.h"))
    header.write_text(header.read_text() + "\n/* changed */\n")
    ns, calls = _load_setup(monkeypatch, source_tree)
    assert calls["generated"] == 0  # (the fake Cython keeps existing C files)
    cmd, exts = _build_command(calls, tmp_path / "lib3")
    cmd.build_extension(exts[0])
    assert len(compiled) == len(exts) + 1
    ns, calls = _load_setup(monkeypatch, source_tree, CFLAGS="-DSOMETHING")
    cmd, exts = _build_command(calls, tmp_path / "lib4")
    cmd.build_extension(exts[0])
    assert len(compiled) == len(exts) + 2
    ns, calls = _load_setup(monkeypatch, source_tree, MICROINIT_NO_BUILD_CACHE="1")
    cmd, exts = _build_command(calls, tmp_path / "lib5")
    cmd.build_extension(exts[1])
    assert len(compiled) == len(exts) + 3


def test_pyproject_has_the_onnx_extra():
    import tomllib
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(dep.startswith("onnx") for dep in meta["project"]["optional-dependencies"]["onnx"])

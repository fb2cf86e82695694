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

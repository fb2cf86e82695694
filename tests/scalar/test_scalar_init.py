"""microinit.scalar's package: public names, and a loud error when the compiled
engine was not built (the check microinit._kernels makes for its kernels)."""
import subprocess
import sys

import pytest

import microinit
from microinit import scalar


def test_public_names():
    for name in scalar.__all__:
        assert hasattr(scalar, name), name
    assert microinit.Value is scalar.Value
    assert isinstance(scalar.Value(1.0).tape(), scalar.Tape)


@pytest.mark.parametrize("module", list(scalar.COMPILED_MODULES))
def test_missing_compiled_engine_gives_build_hint(module):
    # Blocking one compiled module stands in for an unbuilt checkout.
    code = (f"import sys; sys.modules['microinit.scalar.{module}'] = None\n"
            "try:\n    import microinit\nexcept ImportError as e:\n    print('IMPORTERROR', e)\n"
            "else:\n    print('IMPORTED')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "IMPORTERROR" in out.stdout and module in out.stdout
    assert "pip install -e ." in out.stdout and "build_ext --inplace" in out.stdout

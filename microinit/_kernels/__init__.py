"""Compiled kernels. Importing this package fails loudly if they were not built.

Kernels take C-contiguous typed memoryviews (float32 or float64), write into an
output they are given and return; they know nothing of autograd (docs/design.md,
boundary 1). ``reference.py`` holds a plain-numpy twin of every kernel.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Iterable

# Every compiled module the package needs. A module listed here that is missing
# means the package was installed without building its extensions.
KERNEL_MODULES = (
    "elementwise",
    "xent",
    "updates",
    "matmul",
    "dense",
    "sampling",
    "regression",
    "norm",
    "dropout",
    "program",
)

BUILD_HINT = (
    "microinit's compiled {what} {are} missing ({missing}). Build {them} from the "
    "source checkout with:\n    pip install -e .\n"
    "(or, in place: python setup.py build_ext --inplace)."
)


def load_compiled(package: str, names: Iterable[str], what: str = "kernels") -> dict[str, ModuleType]:
    """Import ``package.name`` for every name, or raise one ImportError naming each
    missing module and the build command (the package was installed unbuilt)."""
    loaded: dict[str, ModuleType] = {}
    missing: list[str] = []
    for name in names:
        try:
            loaded[name] = importlib.import_module(f"{package}.{name}")
        except ImportError as err:  # pragma: no cover - exercised by a subprocess test
            missing.append(f"{name}: {err}")
    if missing:
        plural = what.endswith("s")
        raise ImportError(BUILD_HINT.format(what=what, are="are" if plural else "is",
                                            them="them" if plural else "it", missing="; ".join(missing)))
    return loaded


_loaded = load_compiled(__name__, KERNEL_MODULES)

elementwise = _loaded["elementwise"]
xent = _loaded["xent"]
if TYPE_CHECKING:
    # Modules with a .pyi stub next to them get its types; the others are ModuleType
    # (their functions are Any to the type checker).
    from microinit._kernels import updates
else:
    updates = _loaded["updates"]
matmul = _loaded["matmul"]
dense = _loaded["dense"]
sampling = _loaded["sampling"]
regression = _loaded["regression"]
norm = _loaded["norm"]
dropout = _loaded["dropout"]
program = _loaded["program"]
ACTIVATION_CODES = dict(elementwise.CODES)


def compiled_modules() -> dict[str, str]:
    """Names and file paths of the compiled kernel modules (for `microinit info`)."""
    return {name: getattr(mod, "__file__", "?") for name, mod in _loaded.items()}

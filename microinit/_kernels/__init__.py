"""Compiled kernels. Importing this package fails loudly if they were not built.

Kernels take C-contiguous typed memoryviews (float32 or float64), write into an
output they are given and return; they know nothing of autograd (docs/design.md,
boundary 1). ``reference.py`` holds a plain-numpy twin of every kernel.
"""
import importlib

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
)

BUILD_HINT = (
    "microinit's compiled {what} {are} missing ({missing}). Build {them} from the "
    "source checkout with:\n    pip install -e .\n"
    "(or, in place: python setup.py build_ext --inplace)."
)


def load_compiled(package, names, what="kernels"):
    """Import ``package.name`` for every name, or raise one ImportError naming each
    missing module and the build command (the package was installed unbuilt)."""
    loaded, missing = {}, []
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
updates = _loaded["updates"]
matmul = _loaded["matmul"]
dense = _loaded["dense"]
sampling = _loaded["sampling"]
regression = _loaded["regression"]
norm = _loaded["norm"]
dropout = _loaded["dropout"]
ACTIVATION_CODES = dict(elementwise.CODES)


def compiled_modules():
    """Names and file paths of the compiled kernel modules (for `microinit info`)."""
    return {name: getattr(mod, "__file__", "?") for name, mod in _loaded.items()}

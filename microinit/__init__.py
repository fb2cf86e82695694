"""microinit: a small deep-learning framework."""
__version__ = "0.1.0"
from microinit import _kernels  # noqa: F401  (fails loudly when not built)


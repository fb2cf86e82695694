"""microinit: a small deep-learning framework."""
__version__ = "0.1.0"
from microinit import _kernels  # noqa: F401  (fails loudly when not built)

from microinit import functional as F  # noqa: E402,F401
from microinit import functional  # noqa: E402,F401
from microinit.tensor import (  # noqa: E402,F401
    Tensor, concatenate, enable_grad, is_grad_enabled, no_grad, ones, rand, randn, stack, tensor, where, zeros,
)
from microinit.gradcheck import GradcheckError, gradcheck  # noqa: E402,F401
from microinit import init  # noqa: E402,F401
from microinit.threads import get_num_threads, set_num_threads  # noqa: E402,F401
from microinit.scalar import Value  # noqa: E402,F401
from microinit import data, losses, nn, optim  # noqa: E402,F401
from microinit.serialization import load, save  # noqa: E402,F401
from microinit.training import evaluate, fit  # noqa: E402,F401
from microinit.diagnostics import layer_stats  # noqa: E402,F401
from microinit.rng import default_generator, manual_seed  # noqa: E402,F401

"""microinit: a small deep-learning framework."""
__version__ = "0.1.0"
from microinit import _kernels  # noqa: F401  (fails loudly when not built)

from microinit import functional as F  # noqa: E402,F401
from microinit import functional  # noqa: E402,F401
from microinit.tensor import (  # noqa: E402,F401
    Tensor, concatenate, enable_grad, is_grad_enabled, no_grad, ones, rand, randn, stack, tensor, where, zeros,
)
from microinit.ops.creation import (  # noqa: E402,F401
    arange, eye, full, full_like, linspace, ones_like, zeros_like,
)
from microinit.ops.indexing import one_hot  # noqa: E402,F401
from microinit.ops.functions import (  # noqa: E402,F401  (each takes a Tensor or an array)
    all_ as all, any_ as any, argmax, argmin, ceil, cos, cumsum, erf, exp2, expand, flip, floor, gather, gelu,
    hardswish, hardtanh, isfinite, isinf, isnan, log2, logsigmoid, logsumexp, masked_fill, maximum, minimum, mish,
    pad, prod, relu6, round_ as round, rsqrt, sign, silu, sin, softsign, squeeze, std, tril, triu, unsqueeze, var,
)
from microinit.ops.einsum import einsum  # noqa: E402,F401
from microinit.tensor import matmul  # noqa: E402,F401
from microinit.gradcheck import GradcheckError, gradcheck  # noqa: E402,F401
from microinit import init  # noqa: E402,F401
from microinit.threads import get_num_threads, set_num_threads  # noqa: E402,F401
from microinit.scalar import Value  # noqa: E402,F401
from microinit import data, losses, nn, optim  # noqa: E402,F401
from microinit.serialization import load, save  # noqa: E402,F401
from microinit.training import evaluate, fit  # noqa: E402,F401
from microinit.compile import CompiledStep, compile_step  # noqa: E402,F401
from microinit.diagnostics import layer_stats  # noqa: E402,F401
from microinit.rng import default_generator, manual_seed  # noqa: E402,F401
from microinit import metrics, onnx, theory  # noqa: E402,F401
from microinit.viz import draw  # noqa: E402,F401
from microinit.viz import trace  # noqa: E402,F401

# The public names (for `from microinit import *` and for type checkers, which treat
# only listed names as re-exported).
__all__ = [
    "F", "functional", "Tensor", "concatenate", "enable_grad", "is_grad_enabled", "no_grad", "ones", "rand",
    "randn", "stack", "tensor", "where", "zeros", "arange", "eye", "full", "full_like", "linspace", "ones_like",
    "zeros_like", "one_hot", "all", "any", "argmax", "argmin", "ceil", "cos", "cumsum", "erf", "exp2", "expand",
    "flip", "floor", "gather", "gelu", "hardswish", "hardtanh", "isfinite", "isinf", "isnan", "log2",
    "logsigmoid", "logsumexp", "masked_fill", "maximum", "minimum", "mish", "pad", "prod", "relu6", "round",
    "rsqrt", "sign", "silu", "sin", "softsign", "squeeze", "std", "tril", "triu", "unsqueeze", "var", "einsum",
    "matmul", "GradcheckError", "gradcheck", "init", "get_num_threads", "set_num_threads", "Value", "data",
    "losses", "nn", "optim", "load", "save", "evaluate", "fit", "layer_stats", "default_generator",
    "manual_seed", "metrics", "onnx", "theory", "draw", "trace", "CompiledStep", "compile_step",
]

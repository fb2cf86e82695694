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
from microinit.ops.reduce import (  # noqa: E402,F401
    all_ as all, any_ as any, argmax, argmin, cumsum, logsumexp, prod, std, var,
)
from microinit.ops.elementwise import maximum, minimum  # noqa: E402,F401
from microinit.ops.shape import expand, flip, pad, squeeze, tril, triu, unsqueeze  # noqa: E402,F401
from microinit.ops.indexing import gather, masked_fill, one_hot  # noqa: E402,F401
from microinit.ops.unary import (  # noqa: E402,F401
    ceil, cos, erf, exp2, floor, isfinite, isinf, isnan, log2, round_ as round, rsqrt, sign, sin,
)
from microinit.ops.activations_unfused import (  # noqa: E402,F401
    gelu, hardswish, hardtanh, logsigmoid, mish, relu6, silu, softsign,
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
from microinit.diagnostics import layer_stats  # noqa: E402,F401

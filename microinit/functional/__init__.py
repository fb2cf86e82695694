"""The ops as forward/backward pairs over numpy arrays (no Tensor, no graph).

Every function here is defined in the op family that owns it (``microinit/ops/``) and
re-exported: ``F.dense_forward`` is ``microinit.ops.linalg.dense_forward``. Arrays pass
the same boundary as Tensor data (``ops/_boundary.py``): float32/float64 (float16,
int and bool become float32), native byte order, C-contiguous, shapes checked.

    >>> import numpy as np
    >>> import microinit.functional as F
    >>> y, saved = F.dense_forward(np.ones((2, 3)), np.ones((3, 4)), None, "relu")
    >>> dx, dW, db = F.dense_backward(saved, np.ones((2, 4)))
    >>> dx.shape, dW.shape, db
    ((2, 3), (3, 4), None)
"""
from microinit.ops._boundary import (  # noqa: F401
    DEFAULT_DTYPE, FLOAT_DTYPES, check_finite, check_ndim, floats as as_float_array, result_dtype,
)
from microinit.ops.activations import (  # noqa: F401
    ACTIVATION_CODES, ACTIVATIONS, DEFAULT_PARAM, activation_backward, activation_code, activation_forward,
    log_softmax_backward, log_softmax_forward, softmax_backward, softmax_forward,
)
from microinit.ops.linalg import (  # noqa: F401
    MATMUL_BLAS_MIN, DENSE_BLAS_MIN, clear_buffers, dense_backward, dense_chain_backward, dense_chain_forward,
    dense_forward, matmul, matmul_backward, pooled_bytes,
)
from microinit.ops.losses import (  # noqa: F401
    REDUCTIONS, bce_with_logits_backward, bce_with_logits_forward, check_labels, cross_entropy_backward,
    cross_entropy_forward, hinge_loss_backward, hinge_loss_forward, mse_loss_backward, mse_loss_forward,
)

# The re-exported names (type checkers treat only listed names as re-exported).
__all__ = [
    "DEFAULT_DTYPE", "FLOAT_DTYPES", "check_finite", "check_ndim", "as_float_array", "result_dtype",
    "ACTIVATION_CODES", "ACTIVATIONS", "DEFAULT_PARAM", "activation_backward", "activation_code",
    "activation_forward", "log_softmax_backward", "log_softmax_forward", "softmax_backward", "softmax_forward",
    "MATMUL_BLAS_MIN", "DENSE_BLAS_MIN", "clear_buffers", "dense_backward", "dense_chain_backward",
    "dense_chain_forward", "dense_forward", "matmul", "matmul_backward", "pooled_bytes", "REDUCTIONS",
    "bce_with_logits_backward", "bce_with_logits_forward", "check_labels", "cross_entropy_backward",
    "cross_entropy_forward", "hinge_loss_backward", "hinge_loss_forward", "mse_loss_backward",
    "mse_loss_forward"
]

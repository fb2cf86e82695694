"""Ops as forward/backward pairs over numpy arrays; knows nothing of Tensor.

Split by owner (DESIGN.md's functional.py): ``_validate`` (boundary checks),
``linalg`` (matmul/dense with BLAS or kernel dispatch), ``elementwise``
(activations through the compiled kernel), ``losses`` (fused softmax cross-entropy and
friends). Everything is re-exported here, so ``microinit.functional.matmul`` works.
"""
from microinit.functional._validate import (  # noqa: F401
    DEFAULT_DTYPE,
    FLOAT_DTYPES,
    as_float_array,
    check_finite,
    check_ndim,
    result_dtype,
)

from microinit.functional.elementwise import (  # noqa: F401
    ACTIVATION_CODES,
    ACTIVATIONS,
    activation_backward,
    activation_code,
    activation_forward,
)
from microinit.functional.losses import (  # noqa: F401
    REDUCTIONS,
    bce_with_logits_backward,
    bce_with_logits_forward,
    check_labels,
    cross_entropy_backward,
    cross_entropy_forward,
    hinge_loss_backward,
    hinge_loss_forward,
    mse_loss_backward,
    mse_loss_forward,
)
from microinit.functional.softmax import (  # noqa: F401
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)

from microinit.functional.linalg import (  # noqa: F401
    dense_backward,
    dense_chain_backward,
    dense_chain_forward,
    dense_forward,
    matmul,
    matmul_backward,
)

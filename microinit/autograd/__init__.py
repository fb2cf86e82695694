"""Autograd: the recorded graph, the backward engine and grad mode.

``graph`` (nodes, op outputs, the grad gate), ``backward`` (topological order and
gradient accumulation), ``mode`` (``no_grad``/``enable_grad``, thread-local). Ops in
``microinit/ops/`` build their outputs through this package; it imports nothing of
microinit above it.
"""
from microinit.autograd.backward import accumulate_leaf, run_backward, topo_order  # noqa: F401
from microinit.autograd.graph import (  # noqa: F401
    Node, needs_grad, record, register_tensor_class, tensor_class, wrap,
)
from microinit.autograd.mode import enable_grad, grad_mode, is_grad_enabled, no_grad  # noqa: F401

# The re-exported names (type checkers treat only listed names as re-exported).
__all__ = [
    "accumulate_leaf", "run_backward", "topo_order", "Node", "needs_grad", "record", "register_tensor_class",
    "tensor_class", "wrap", "enable_grad", "grad_mode", "is_grad_enabled", "no_grad"
]

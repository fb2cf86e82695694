"""The scalar autograd engine: ``Value``, for learning backpropagation node by node.

``from microinit import Value`` (or ``from microinit.scalar import Value``) is a
drop-in replacement for ``from micrograd.engine import Value``: the same API and the
same numbers, on a compiled tape. ``microinit.scalar.engine`` is the same engine in
plain Python (the one to read), ``microinit.scalar.tape`` the tape and its
pure-Python replay, ``microinit.scalar.nn`` micrograd's ``Neuron``/``Layer``/``MLP``
with weights from the initializer registry, and ``microinit.trace`` steps through a
backward pass.
"""
from microinit._kernels.tape import Tape, Value, zero_grad

__all__ = ["Value", "Tape", "zero_grad"]

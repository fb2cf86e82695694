"""The scalar autograd engine: ``Value``, for learning backpropagation node by node.

``from microinit import Value`` (or ``from microinit.scalar import Value``) is a
drop-in replacement for ``from micrograd.engine import Value``: the same API and the
same numbers, on a compiled tape. ``microinit.scalar.engine`` is the same engine in
plain Python (the one to read), ``microinit.scalar.tape`` the tape and its
pure-Python replay, ``microinit.scalar.nn`` micrograd's ``Neuron``/``Layer``/``MLP``
with weights from the initializer registry, and ``microinit.trace`` steps through a
backward pass.

>>> from microinit.scalar import Value
>>> a = Value(3.0); y = a * a; y.backward(); a.grad
6.0
"""
from microinit._kernels import load_compiled

# The compiled modules of the engine. One that is missing means the package was
# installed without building its extensions: say so, and how to fix it.
COMPILED_MODULES = ("_wengert", "_graph", "_snapshot", "_value")

_compiled = load_compiled(__name__, COMPILED_MODULES, "scalar engine")

from microinit.scalar._graph import release_memory, tape_stats  # noqa: E402
from microinit.scalar._snapshot import Tape  # noqa: E402
from microinit.scalar._value import Value, linearize, zero_grad  # noqa: E402

__all__ = ["Value", "Tape", "zero_grad", "linearize", "release_memory", "tape_stats"]

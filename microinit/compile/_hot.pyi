"""Types of the compiled module _hot.pyx (the per-call path of CompiledStep)."""
from typing import Any

from typing_extensions import disjoint_base

@disjoint_base  # a compiled (cdef) class: its layout is its own (PEP 800)
class StepCore:
    _fast: Any
    _opt: Any
    _eager_out: Any
    _threads: int
    def _bind(self, params: list[Any], datas: list[Any], grads: list[Any], updated: list[Any]) -> None: ...
    def _params_intact(self) -> bool: ...
    def _account(self, nsteps: int) -> None: ...
    def __call__(self, x: Any, y: Any) -> float: ...

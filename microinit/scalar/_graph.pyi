# Type stub for the compiled module _graph.pyx: the C fields of a Value and the
# recording tape's memory.
from typing import final

from typing_extensions import disjoint_base

@disjoint_base  # a compiled (cdef) class: its layout is its own (PEP 800)
class Node:
    data: float
    grad: float
    @property
    def _code(self) -> int: ...

@final
class Recorder:  # the tape nodes are recorded on (no Python-visible members)
    ...

def release_memory() -> None: ...
def tape_stats() -> dict[str, int]: ...

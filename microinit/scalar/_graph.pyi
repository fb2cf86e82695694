# Type stub for the compiled module _graph.pyx: the C fields of a Value and the
# recording tape's memory.
class Node:
    data: float
    grad: float
    @property
    def _code(self) -> int: ...

def release_memory() -> None: ...
def tape_stats() -> dict[str, int]: ...

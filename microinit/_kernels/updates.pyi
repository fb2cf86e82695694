# Type stub for the compiled module updates.pyx (the optimizers' in-place steps).
# Each returns None, or (j, "gradient" | "parameter") for the first non-finite value.
from typing import Any, Optional

from numpy.typing import NDArray

_Arrays = list[NDArray[Any]]
_Grads = list[Optional[NDArray[Any]]]
_Status = Optional[tuple[int, str]]

def sgd_foreach(params: _Arrays, grads: _Grads, bufs: _Arrays, lr: float, momentum: float = ...,
                dampening: float = ..., weight_decay: float = ..., nesterov: bool = ...,
                init_bufs: bool = ...) -> _Status: ...
def adam_foreach(params: _Arrays, grads: _Grads, exp_avgs: _Arrays, exp_avg_sqs: _Arrays,
                 steps: NDArray[Any], lr: float, beta1: float = ..., beta2: float = ...,
                 eps: float = ..., weight_decay: float = ..., decoupled: bool = ...) -> _Status: ...
def rmsprop_foreach(params: _Arrays, grads: _Grads, square_avgs: _Arrays, grad_avgs: _Arrays,
                    bufs: _Arrays, lr: float, alpha: float = ..., eps: float = ...,
                    weight_decay: float = ..., momentum: float = ..., centered: bool = ...) -> _Status: ...
def adagrad_foreach(params: _Arrays, grads: _Grads, state_sums: _Arrays, steps: NDArray[Any], lr: float,
                    lr_decay: float = ..., weight_decay: float = ..., eps: float = ...) -> _Status: ...

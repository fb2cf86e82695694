"""``Dropout``: inverted dropout in ``train()`` mode, the identity in ``eval()`` mode.

    >>> import numpy as np
    >>> from microinit import nn
    >>> drop = nn.Dropout(0.5, rng=0)
    >>> drop(np.ones((1, 8), np.float32)).data.tolist()      # kept entries scaled by 1 / (1 - p)
    [[2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    >>> drop.eval()(np.ones((1, 8), np.float32)).data.tolist()
    [[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from microinit.nn.module import Module
from microinit.ops.normalization import check_dropout_p, dropout
from microinit.rng import RngLike, as_generator
from microinit.tensor import Tensor

__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each element with probability ``p`` while training and scale the kept ones
    by ``1 / (1 - p)`` (``torch.nn.Dropout``); the identity in evaluation mode.

    ``p`` must lie in [0, 1] (p = 1 gives zeros, p = 0 the input itself). ``rng``: a
    Generator or int seed for the masks; None draws from the default Generator that
    ``microinit.manual_seed`` seeds (read at every forward, so a later manual_seed
    applies).
    """

    def __init__(self, p: float = 0.5, rng: RngLike = None) -> None:
        super().__init__()
        self.p = check_dropout_p(p, "Dropout")
        self.rng = None if rng is None else as_generator(rng, "Dropout")

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        if not isinstance(x, (Tensor, np.ndarray)):
            x = np.asarray(x)
        return dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"

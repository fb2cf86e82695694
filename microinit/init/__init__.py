"""microinit.init: the initializer registry.

Every initializer is a pure function ``fn(shape, *, dtype=float32, rng=None, **params)
-> numpy.ndarray`` registered under a name and aliases (matched case- and
underscore-insensitively). Layers take a name, a callable, a number or a config dict
and resolve it with ``get``::

    from microinit import init
    w = init.get("he_normal")((784, 256), rng=0)              # (fan_in, fan_out)
    w = init.get({"name": "variance_scaling", "scale": 2.0, "mode": "fan_out"})((3, 3, 16, 32), rng=0)
    init.describe("xavier_uniform", (784, 256))                # distribution, bounds, std
    init.xavier_uniform_(layer.weight, rng=0)                  # torch-style, in place

Randomness comes only from the numpy Generator passed as ``rng`` (an int seed makes
one); the same seed gives bitwise-identical weights; there is no global random state.
Weight layout: (fan_in, fan_out) for Dense, (*kernel, in, out) for conv kernels; PyTorch
stores the transpose, (out, in, *kernel).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.typing import NDArray

from microinit.init import _builtins
from microinit.init._builtins import TRUNC_STD_CORRECTION  # noqa: F401
from microinit.init._checks import calculate_gain, compute_fans
from microinit.init._registry import (DEFAULT_WEIGHT_INIT, Initializer, available, describe, entry_for,
                                      fill_into, get, register, serialize, unregister)
from microinit.init._lsuv import lsuv
from microinit.init._sample import Plan  # noqa: F401
from microinit.rng import RngLike

__all__ = ["get", "register", "unregister", "available", "serialize", "describe", "calculate_gain",
           "compute_fans", "Initializer", "lsuv", "DEFAULT_WEIGHT_INIT"]


def _target_array(tensor: Any, where: str) -> NDArray[Any]:
    """The ndarray to overwrite: a Tensor's .data, or the array itself."""
    arr = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{where}: expected a microinit Tensor or a numpy array, got {type(tensor).__name__}")
    if arr.dtype.kind != "f":
        raise TypeError(f"{where}: can only fill floating arrays, got dtype {arr.dtype}")
    if not arr.flags.writeable:
        raise ValueError(f"{where}: the array of shape {arr.shape} is read-only")
    return arr


def _bump_version(tensor: Any) -> None:
    bump = getattr(tensor, "_bump_version", None)
    if callable(bump):
        bump()
    elif isinstance(getattr(tensor, "_version", None), int):
        tensor._version += 1


def _make_inplace(name: str) -> Callable[..., Any]:
    entry = entry_for(name)
    order = list(entry.defaults)

    def fill_(tensor: Any, *args: Any, rng: RngLike = None, **params: Any) -> Any:
        where = f"{name}_"
        if len(args) > len(order):
            raise TypeError(f"{where}: takes at most {len(order)} positional parameters ({', '.join(order)}), "
                            f"got {len(args)}")
        for key, value in zip(order, args):
            if key in params:
                raise TypeError(f"{where}: got multiple values for {key!r}")
            params[key] = value
        arr = _target_array(tensor, where)
        # A raw write into the storage: nothing is recorded for autograd.
        fill_into(name, arr, rng, params)
        _bump_version(tensor)
        return tensor

    fill_.__name__ = fill_.__qualname__ = f"{name}_"
    fill_.__doc__ = (
        f"In-place {name}: overwrite tensor (a microinit Tensor's .data, or a numpy array) "
        f"with ``{name}(tensor.shape, dtype=tensor.dtype, rng=rng, ...)``, record nothing "
        f"for autograd, bump the tensor's version, and return it. Parameters may be "
        f"given positionally in the order ({', '.join(order)}), as in torch.nn.init.\n\n"
        f">>> w = np.empty({entry.probe}, np.float32); _ = {name}_(w, rng=0)"
    )
    return fill_


def _export() -> None:
    names: dict[str, Callable[..., Any]] = {}
    for name, aliases in available().items():
        for label in (name,) + aliases:
            names[label] = entry_for(name).fn
            names[label + "_"] = _make_inplace(label)
    globals().update(names)
    __all__.extend(sorted(names))


_export()

if TYPE_CHECKING:
    # The initializers and their in-place forms (``xavier_uniform``, ``xavier_uniform_``,
    # every alias) are added to this module by _export() from the registry; to a type
    # checker they are callables: fn(shape, *, dtype, rng, **params) and
    # fn_(tensor, *params, rng=None, **params).
    def __getattr__(name: str) -> Callable[..., Any]: ...


del _builtins

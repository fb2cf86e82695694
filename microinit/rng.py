"""Random number generators: the one place a seed becomes a ``numpy.random.Generator``.

Everything in microinit that draws random numbers takes an ``rng`` argument and passes it
through ``as_generator``, so a seed, a Generator and ``None`` mean the same thing
everywhere and no code ever touches numpy's global random state.

``None`` means microinit's one default Generator (PyTorch's default generator): seeded
from the operating system's entropy at import, and reseeded by ``manual_seed(n)``.
Initializers, layers, Dropout and DataLoader/fit shuffling without an ``rng`` all draw
from it, so two runs that start with the same ``manual_seed`` draw the same numbers.

>>> from microinit.rng import as_generator, manual_seed
>>> as_generator(0).integers(10, size=3)            # a seed: a fresh, reproducible stream
array([8, 6, 5])
>>> g = as_generator(None)                          # None: the default Generator
>>> as_generator(g) is g                            # a Generator is used as it is
True
>>> _ = manual_seed(0); a = as_generator(None).random()
>>> _ = manual_seed(0); a == as_generator(None).random()
True
"""
from __future__ import annotations

import numbers
from typing import Union

import numpy as np

__all__ = ["as_generator", "manual_seed", "default_generator", "RngLike"]

#: what an ``rng=`` argument accepts (see :func:`as_generator`)
RngLike = Union[np.random.Generator, np.random.SeedSequence, int, None]

# The default Generator. manual_seed replaces its bit generator's state in place, so
# everything already holding it (a DataLoader built with rng=None) follows the seed.
_DEFAULT = np.random.default_rng()


def default_generator() -> np.random.Generator:
    """The Generator that ``rng=None`` stands for everywhere in microinit."""
    return _DEFAULT


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every default random source of microinit; returns the default Generator.

    After ``manual_seed(n)`` the default Generator draws exactly what
    ``numpy.random.default_rng(n)`` draws, so initializers and layers built without
    ``rng``, Dropout masks and DataLoader/``fit`` shuffling repeat bit for bit. numpy's
    legacy global state (``np.random.seed``) is not touched. ``seed`` is a non-negative
    int (``TypeError``/``ValueError`` otherwise).

    >>> import numpy as np
    >>> manual_seed(3).random() == np.random.default_rng(3).random()
    True
    """
    if not isinstance(seed, numbers.Integral) or isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"manual_seed: the seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative int, got {seed}")
    _DEFAULT.bit_generator.state = np.random.default_rng(int(seed)).bit_generator.state
    return _DEFAULT


def as_generator(seed_or_rng: RngLike, where: str = "rng") -> np.random.Generator:
    """The ``numpy.random.Generator`` that ``seed_or_rng`` stands for.

    * a ``Generator``: returned as it is (the caller's stream advances);
    * an int seed >= 0 or a ``SeedSequence``: ``numpy.random.default_rng(seed)``, so the
      same seed gives the same numbers as ``default_rng`` itself;
    * ``None``: the default Generator (``default_generator()``, seeded by ``manual_seed``).

    Anything else (a float, a bool, the legacy ``RandomState``) is a ``TypeError`` and a
    negative seed a ``ValueError``; ``where`` names the caller in the message.

    >>> as_generator(3).random() == np.random.default_rng(3).random()
    True
    >>> as_generator(1.5, where="MLP")
    Traceback (most recent call last):
    ...
    TypeError: MLP: rng must be a numpy.random.Generator, an int seed or None, got float
    >>> as_generator(-1)
    Traceback (most recent call last):
    ...
    ValueError: rng: a seed must be a non-negative int, got -1
    """
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if seed_or_rng is None:
        return _DEFAULT
    if isinstance(seed_or_rng, np.random.SeedSequence):
        return np.random.default_rng(seed_or_rng)
    if isinstance(seed_or_rng, numbers.Integral) and not isinstance(seed_or_rng, (bool, np.bool_)):
        if seed_or_rng < 0:
            raise ValueError(f"{where}: a seed must be a non-negative int, got {seed_or_rng}")
        return np.random.default_rng(int(seed_or_rng))
    raise TypeError(f"{where}: rng must be a numpy.random.Generator, an int seed or None, "
                    f"got {type(seed_or_rng).__name__}")

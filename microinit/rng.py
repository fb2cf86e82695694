"""Random number generators: the one place a seed becomes a ``numpy.random.Generator``.

Everything in microinit that draws random numbers takes an ``rng`` argument and passes it
through ``as_generator``, so a seed, a Generator and ``None`` mean the same thing
everywhere and no code ever touches numpy's global random state.

>>> from microinit.rng import as_generator
>>> as_generator(0).integers(10, size=3)            # a seed: a fresh, reproducible stream
array([8, 6, 5])
>>> g = as_generator(None)                          # None: fresh entropy from the OS
>>> as_generator(g) is g                            # a Generator is used as it is
True
"""
import numbers

import numpy as np

__all__ = ["as_generator"]


def as_generator(seed_or_rng, where="rng"):
    """The ``numpy.random.Generator`` that ``seed_or_rng`` stands for.

    * a ``Generator``: returned as it is (the caller's stream advances);
    * an int seed >= 0 or a ``SeedSequence``: ``numpy.random.default_rng(seed)``, so the
      same seed gives the same numbers as ``default_rng`` itself;
    * ``None``: a fresh Generator seeded from the operating system's entropy.

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
    if seed_or_rng is None or isinstance(seed_or_rng, np.random.SeedSequence):
        return np.random.default_rng(seed_or_rng)
    if isinstance(seed_or_rng, numbers.Integral) and not isinstance(seed_or_rng, (bool, np.bool_)):
        if seed_or_rng < 0:
            raise ValueError(f"{where}: a seed must be a non-negative int, got {seed_or_rng}")
        return np.random.default_rng(int(seed_or_rng))
    raise TypeError(f"{where}: rng must be a numpy.random.Generator, an int seed or None, "
                    f"got {type(seed_or_rng).__name__}")

"""IEEE arithmetic in Python, for the pure-Python scalar engine (``engine.py``).

Python raises where C returns inf or nan (``1/0``, ``0.0**-1``, ``math.log(0)``,
``math.exp(1000)``). The readable engine follows IEEE like the compiled one, so it
computes through these helpers.

>>> ieee_div(1.0, 0.0), ieee_log(0.0), ieee_pow(0.0, -1.0), ieee_exp(1e4)
(inf, -inf, inf, inf)
"""
import math

INF = math.inf
NAN = math.nan


def ieee_div(a: float, b: float) -> float:
    """a / b with IEEE results for b == 0: +-inf, or nan for 0/0.

    >>> ieee_div(-1.0, 0.0)
    -inf
    """
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def ieee_pow(x: float, p: float) -> float:
    """C's pow(x, p): 0 ** -1 = inf, (-8) ** 0.5 = nan, overflow = inf.

    >>> ieee_pow(10.0, 400.0)
    inf
    """
    try:
        return math.pow(x, p)
    except (ValueError, OverflowError):
        import numpy as np  # the corner cases of C99 pow, exactly

        with np.errstate(all="ignore"):
            return float(np.power(np.float64(x), np.float64(p)))


def ieee_exp(x: float) -> float:
    """e^x, inf on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def ieee_log(x: float) -> float:
    """log(0) = -inf, log(x < 0) = nan."""
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else NAN


def ieee_sqrt(x: float) -> float:
    """sqrt(x < 0) = nan."""
    return math.sqrt(x) if x >= 0 else NAN


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x) in two branches, so that exp never overflows (the same
    formula as microinit/_kernels/activations.pxd).

    >>> sigmoid(0.0), sigmoid(-1000.0)
    (0.5, 0.0)
    """
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)

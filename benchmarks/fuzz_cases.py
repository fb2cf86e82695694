"""Fuzz inputs: shapes, values, dtypes and memory layouts, drawn from one primitive.

Every random choice of a fuzz case goes through ``draw.integer(lo, hi)`` (both ends
included). ``RandomDraw`` answers it from a numpy Generator seeded by ``(seed, case
index)``, so ``python -m benchmarks.fuzz`` can rebuild any case from two numbers; the
test suite answers it from Hypothesis (``tests/fuzz_strategies.py``), which then
shrinks a failing case. The case builders (``benchmarks/fuzz_ops.py``) are written
once against this interface and serve both.

An array input is an :class:`Arr`: float64 master values, the dtype it is handed over
in (float32/float64/float16/int/bool, either byte order) and a memory layout (C,
Fortran, strided, negative strides, read-only). The same values in C order and native
byte order are :meth:`Arr.plain`, the twin every layout must match bit for bit.

    >>> d = RandomDraw(0, 7)
    >>> a = Arr(np.arange(6.0).reshape(2, 3), "<f4", "fortran")
    >>> v = a.array()
    >>> v.flags.f_contiguous, v.dtype.str, v.tolist() == a.plain().tolist()
    (True, '<f4', True)
    >>> 0 <= d.integer(0, 3) <= 3
    True
"""
import numpy as np

# The dtypes an array is handed over in, with how often each is drawn (weights).
DTYPES = (("<f4", 6), ("<f8", 4), (">f4", 1), (">f8", 1), ("<f2", 1), ("<i4", 1), (">i8", 1),
          ("|u1", 1), ("|b1", 1))
LAYOUTS = ("C", "C", "C", "fortran", "transposed", "strided", "negative", "readonly")
# Values that break naive code: signed zeros, infinities, NaN, float16/32 overflow,
# subnormals.
SPECIALS = (0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e300, 7e4, 1e-40, 5e-324, 1.0, -1.0)
PY_SCALARS = (0, 1, -2, 3, 0.5, 2.5, -1.5, 1e30, float("inf"), float("nan"), True)


class RandomDraw:
    """The draw primitive over numpy's Generator, seeded by ``(seed, index)``."""

    def __init__(self, seed, index):
        self.rng = np.random.default_rng([int(seed), int(index)])

    def integer(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))


def choice(draw, options):
    """One element of ``options``."""
    return options[draw.integer(0, len(options) - 1)]


def weighted(draw, options):
    """One value of ``((value, weight), ...)``."""
    total = sum(w for _, w in options)
    k = draw.integer(0, total - 1)
    for value, w in options:
        if k < w:
            return value
        k -= w
    raise AssertionError("unreachable")


def chance(draw, percent):
    """True with probability ``percent`` / 100."""
    return draw.integer(0, 99) < percent


def dim(draw):
    """One dimension: mostly 1-4, sometimes 0 (an empty axis)."""
    return weighted(draw, ((0, 1), (1, 4), (2, 4), (3, 3), (4, 2)))


def shape(draw, min_ndim=0, max_ndim=3):
    return tuple(dim(draw) for _ in range(draw.integer(min_ndim, max_ndim)))


def broadcast_partner(draw, base):
    """A shape that broadcasts with ``base``: a suffix of it with some dims set to 1,
    maybe with leading dims added."""
    k = draw.integer(0, len(base))
    out = [1 if chance(draw, 30) else d for d in base[len(base) - k:]]
    if len(out) < 3 and chance(draw, 20):
        out.insert(0, draw.integer(1, 2))
    return tuple(out)


def values(draw, shp):
    """float64 values of shape ``shp`` in one of four regimes (seeded from the draw, so
    a whole array costs one draw of the primitive per regime choice)."""
    regime = choice(draw, ("normal", "normal", "ints", "special", "wide"))
    rng = np.random.default_rng(draw.integer(0, 2**32 - 1))
    if regime == "normal":
        return rng.standard_normal(shp) * 10.0 ** draw.integer(-2, 2)
    if regime == "ints":  # exact small values: ties (max/min), zeros (kinks)
        return rng.integers(-3, 4, shp).astype(np.float64)
    if regime == "wide":
        return rng.choice((-1.0, 1.0), shp) * 10.0 ** rng.uniform(-45, 45, shp)
    v = rng.standard_normal(shp)
    mask = rng.random(shp) < 0.3
    v[mask] = rng.choice(SPECIALS, int(mask.sum()))
    return v


class Arr:
    """An array input: master values (float64), handed-over dtype, memory layout."""

    __slots__ = ("values", "dtype", "layout")

    def __init__(self, values, dtype, layout="C"):
        self.values, self.dtype, self.layout = np.asarray(values, np.float64), np.dtype(dtype), layout

    @property
    def compute_dtype(self):
        """The float dtype microinit computes this input in (the boundary's rule)."""
        return np.dtype(np.float64) if self.dtype.kind == "f" and self.dtype.itemsize == 8 else np.dtype(np.float32)

    @property
    def is_float(self):
        return self.dtype.kind == "f"

    def native_values(self):
        """The values as the handed-over dtype holds them (overflow to inf, NaN of an
        integer dtype avoided), C order, native byte order."""
        v = self.values
        if self.dtype.kind in "iu":
            v = np.nan_to_num(v, nan=0.0, posinf=100.0, neginf=-100.0)
            info = np.iinfo(self.dtype)
            v = np.clip(np.trunc(v), max(info.min, -1000), min(info.max, 1000))
        elif self.dtype.kind == "b":
            v = v > 0
        with np.errstate(over="ignore", invalid="ignore"):  # (ascontiguousarray makes 0-d 1-d)
            return np.asarray(v).astype(self.dtype.newbyteorder("="), order="C")

    def plain(self):
        """The twin every layout must match: same values, C order, native byte order."""
        return self.native_values()

    def array(self):
        """The values in the handed-over dtype and layout."""
        return in_layout(self.native_values().astype(self.dtype), self.layout)

    def computed(self):
        """float64 values of what microinit computes with (after the boundary's cast)."""
        return self.native_values().astype(self.compute_dtype).astype(np.float64)

    def __repr__(self):
        return f"Arr(np.array({self.values.tolist()!r}), {self.dtype.str!r}, {self.layout!r})"


def in_layout(a, layout):
    """``a``'s values in the memory layout named ``layout``."""
    if layout == "fortran":
        return np.array(a, order="F")  # (np.asfortranarray would make a 0-d array 1-d)
    if layout == "transposed" and a.ndim >= 2:
        return np.ascontiguousarray(a.T).T
    if layout == "strided" and a.ndim >= 1:
        wide = np.repeat(a, 2, axis=-1)
        return wide[..., ::2]
    if layout == "negative" and a.ndim >= 1:
        return np.ascontiguousarray(a[::-1])[::-1]
    if layout == "readonly":
        r = a.copy()
        r.flags.writeable = False
        return r
    return a


def arr(draw, shp, float_only=False, percent_plain=0):
    """An :class:`Arr` of shape ``shp`` with a drawn dtype, layout and values."""
    dtypes = DTYPES[:5] if float_only else DTYPES
    dt = "<f4" if chance(draw, percent_plain) else weighted(draw, dtypes)
    return Arr(values(draw, shp), dt, choice(draw, LAYOUTS))


def py_scalar(draw):
    return choice(draw, PY_SCALARS)

"""Built-in toy data sets (no download), a train/test split and a mini-batch loader.

Every generator has the signature ``gen(n, noise=..., rng=None, ...) -> (X, y)`` with
``X`` a C-contiguous float32 array of shape ``(n, 2)`` and ``y`` an int64 array of
class labels ``0 .. n_classes-1`` of shape ``(n,)``. Classes are balanced (sizes differ
by at most one) and the rows come out shuffled. ``rng`` is a ``numpy.random.Generator``,
an int seed or ``None`` (fresh entropy); the same seed gives bitwise-equal data.
``noise`` is the standard deviation of Gaussian noise added to the coordinates.

Example::

    >>> from microinit import data
    >>> X, y = data.spirals(300, noise=0.05, n_classes=3, rng=0)
    >>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist()))
    ((300, 2), dtype('float32'), dtype('int64'), [0, 1, 2])
    >>> Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_size=0.25, rng=0)
    >>> for xb, yb in data.DataLoader(Xtr, ytr, batch_size=32, shuffle=True, rng=0):
    ...     pass

Data with NaN or inf is refused (``ValueError`` naming the row, docs/reliability.md row 13):
training on it would only turn every weight into NaN a few steps later.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microinit.functional import as_float_array, check_finite
from microinit.rng import RngLike, as_generator

__all__ = [
    "moons", "circles", "spirals", "xor", "blobs", "checkerboard",
    "train_test_split", "DataLoader", "as_rng",
]


#: a seed, a Generator or None as a Generator (the one helper, ``microinit.rng``)
as_rng = as_generator


def _check_n(n: int, name: str = "n", minimum: int = 0) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(n).__name__} {n!r}")
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return int(n)


def _check_noise(noise: float) -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not math.isfinite(noise):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    return float(noise)


def _class_sizes(n: int, n_classes: int) -> list[int]:
    # Balanced: the first n % n_classes classes get one extra sample.
    base, extra = divmod(n, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def _finish(X: ArrayLike, y: Sequence[int] | NDArray[Any], noise: float,
            rng: np.random.Generator) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Add coordinate noise, shuffle rows, and return (float32 X, int64 y)."""
    X = np.asarray(X, dtype=np.float64)
    if noise > 0 and X.size:
        X = X + rng.normal(0.0, noise, size=X.shape)
    perm = rng.permutation(len(y))
    return (np.ascontiguousarray(X[perm], dtype=np.float32),
            np.ascontiguousarray(np.asarray(y)[perm], dtype=np.int64))


def moons(n: int, noise: float = 0.1, rng: RngLike = None) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``).

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, ``t`` in [0, pi].
    """
    n, noise, rng = _check_n(n), _check_noise(noise), as_rng(rng)
    n0, n1 = _class_sizes(n, 2)
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n1)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1),
                        np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    y = np.repeat([0, 1], [n0, n1])
    return _finish(X, y, noise, rng)


def circles(n: int, noise: float = 0.05, factor: float = 0.5,
            rng: RngLike = None) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor`` (0 < factor < 1)."""
    n, noise, rng = _check_n(n), _check_noise(noise), as_rng(rng)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    n0, n1 = _class_sizes(n, 2)
    t = rng.uniform(0.0, 2 * np.pi, n)
    r = np.repeat([1.0, float(factor)], [n0, n1])
    X = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    return _finish(X, np.repeat([0, 1], [n0, n1]), noise, rng)


def spirals(n: int, noise: float = 0.05, n_classes: int = 3, rng: RngLike = None,
            turns: float = 1.0) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """``n_classes`` interleaved spiral arms (the CS231n spiral problem).

    A point of class ``k`` at position ``u ~ U(0, 1)`` along its arm sits at radius
    ``r = 0.15 + 0.85 u`` and angle ``2 pi (turns * u + k / n_classes)``. The arms start
    at radius 0.15 rather than 0 so that the classes do not overlap at the centre.
    """
    n, noise, rng = _check_n(n), _check_noise(noise), as_rng(rng)
    n_classes = _check_n(n_classes, "n_classes", minimum=1)
    sizes = _class_sizes(n, n_classes)
    y = np.repeat(np.arange(n_classes), sizes)
    u = rng.uniform(0.0, 1.0, n)
    r = 0.15 + 0.85 * u
    angle = 2 * np.pi * (turns * u + y / n_classes)
    X = np.stack([r * np.sin(angle), r * np.cos(angle)], 1)
    return _finish(X, y, noise, rng)


def xor(n: int, noise: float = 0.1, rng: RngLike = None) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Points uniform in [-1, 1]^2 labelled by the XOR of their coordinate signs.

    The label is taken before the noise is added, so noise blurs the quadrant borders.
    """
    n, noise, rng = _check_n(n), _check_noise(noise), as_rng(rng)
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return _finish(X, y, noise, rng)


def blobs(n: int, noise: float = 1.0, n_classes: int = 3, rng: RngLike = None,
          center_box: tuple[float, float] = (-10.0, 10.0)) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Isotropic Gaussian blobs (as scikit-learn's ``make_blobs``).

    Centres are drawn uniformly from ``center_box`` squared; ``noise`` is the
    standard deviation of each blob.
    """
    n, noise, rng = _check_n(n), _check_noise(noise), as_rng(rng)
    n_classes = _check_n(n_classes, "n_classes", minimum=1)
    lo, hi = center_box
    centers = rng.uniform(lo, hi, (n_classes, 2))
    y = np.repeat(np.arange(n_classes), _class_sizes(n, n_classes))
    return _finish(centers[y], y, noise, rng)


def checkerboard(n: int, noise: float = 0.0, tiles: int = 4,
                 rng: RngLike = None) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Points uniform in [-1, 1]^2 labelled by the colour of a ``tiles`` x ``tiles`` board."""
    n, noise, rng = _check_n(n), _check_noise(noise), as_rng(rng)
    tiles = _check_n(tiles, "tiles", minimum=1)
    X = rng.uniform(-1.0, 1.0, (n, 2))
    cell = np.minimum(np.floor((X + 1.0) * (tiles / 2.0)), tiles - 1).astype(np.int64)
    y = (cell[:, 0] + cell[:, 1]) % 2
    return _finish(X, y, noise, rng)


def _check_xy(X_in: ArrayLike, y_in: ArrayLike | None, op: str) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """Validate a data set at the boundary: float X without NaN/inf, y of matching length."""
    X = as_float_array(X_in, op, "X")  # the boundary: dtype, byte order, C order
    if X.ndim == 0:
        raise ValueError(f"{op}: X should have at least 1 dimension (one row per sample), got a scalar")
    check_finite(X, "X")
    y = None
    if y_in is not None:
        y = np.asarray(y_in)
        if y.ndim == 0:
            raise ValueError(f"{op}: y should have one entry per row of X, got a scalar")
        if len(y) != len(X):
            raise ValueError(f"{op}: X and y have different numbers of rows: "
                             f"X {tuple(X.shape)} vs y {tuple(y.shape)}")
        if y.dtype.kind == "f":
            check_finite(y, "y")
        elif y.dtype.kind not in "iub":
            raise TypeError(f"{op}: y has unsupported dtype {y.dtype}; use integer labels or floats")
    return X, y


def train_test_split(X: ArrayLike, y: ArrayLike, test_size: float = 0.25, shuffle: bool = True,
                     rng: RngLike = None) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Split ``(X, y)`` into ``X_train, X_test, y_train, y_test`` (scikit-learn's order).

    ``test_size`` is a fraction in (0, 1) or a number of rows; the test part is
    ``ceil(test_size * n)`` rows, as in scikit-learn.
    """
    X_checked, y_checked = _check_xy(X, y, "train_test_split")
    n = len(X_checked)
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
        if not 0 <= n_test <= n:
            raise ValueError(f"test_size={n_test} rows is outside [0, {n}]")
    elif isinstance(test_size, (float, numbers.Real)) and 0.0 < test_size < 1.0:
        n_test = int(math.ceil(test_size * n))
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or an int number of rows, "
                         f"got {test_size!r}")
    idx = as_rng(rng).permutation(n) if shuffle else np.arange(n)
    train, test = idx[: n - n_test], idx[n - n_test:]
    return X_checked[train], X_checked[test], y_checked[train], y_checked[test]  # type: ignore[index]  # y given


class DataLoader:
    """Iterate over ``(X_batch, y_batch)`` numpy mini-batches, reshuffled every epoch.

    ``X`` is validated once here (float32/float64, no NaN/inf: ``ValueError`` naming the
    row), so the training loop never has to. Batches are plain arrays: slices (views)
    when ``shuffle=False``, gathered copies otherwise. ``len(loader)`` is the number of
    batches per epoch; the last one is smaller unless ``drop_last=True``. ``rng``: a seed or
    Generator for the shuffling; None draws from microinit's default Generator, so
    ``microinit.manual_seed(n)`` before building the loader (or ``fit``) fixes the order.

    >>> X, y = moons(100, rng=0)
    >>> loader = DataLoader(X, y, batch_size=32, shuffle=True, rng=0)
    >>> len(loader), [len(xb) for xb, _ in loader]
    (4, [32, 32, 32, 4])
    """

    def __init__(self, X: ArrayLike, y: ArrayLike | None = None, batch_size: int = 32, shuffle: bool = True,
                 rng: RngLike = None, drop_last: bool = False) -> None:
        self.X, self.y = _check_xy(X, y, "DataLoader")
        self.batch_size = _check_n(batch_size, "batch_size", minimum=1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng = as_rng(rng)

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def n_samples(self) -> int:
        return len(self.X)

    def __iter__(self) -> Iterator[tuple[NDArray[Any], NDArray[Any] | None]]:
        X, y, b = self.X, self.y, self.batch_size
        n = len(X)
        stop = (n // b) * b if self.drop_last else n
        if self.shuffle:
            perm = self.rng.permutation(n)
            for i in range(0, stop, b):
                idx = perm[i:i + b]
                yield (X[idx], None if y is None else y[idx])
        else:
            for i in range(0, stop, b):
                yield (X[i:i + b], None if y is None else y[i:i + b])

    def __repr__(self) -> str:
        return (f"DataLoader(n_samples={len(self.X)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")

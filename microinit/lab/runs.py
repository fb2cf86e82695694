"""The building blocks every lab experiment (and ``microinit demo``) is made of: a probe
batch, a deep MLP, a train/test split and a quiet training run that reports divergence
instead of raising it.

>>> X, y = gaussian_batch(4, 3, n_classes=2, rng=0)
>>> X.shape, X.dtype, y.shape
((4, 3), dtype('float32'), (4,))
"""
import numpy as np

from microinit import data, nn
from microinit.rng import as_generator
from microinit.training import fit

__all__ = ["gaussian_batch", "deep_mlp", "split", "train_run"]


def gaussian_batch(n, width, n_classes, rng):
    """Unit-variance Gaussian inputs ``(n, width)`` and random labels in ``[0, n_classes)``:
    every layer sees the same kind of signal, so differences between layers come from the
    weights alone. ``rng``: a seed or Generator (``microinit.rng.as_generator``)."""
    rng = as_generator(rng, "gaussian_batch")
    X = rng.standard_normal((n, width)).astype(np.float32)
    y = rng.integers(0, n_classes, n)
    return X, y


def deep_mlp(n_in, width, depth, n_out, activation, spec, seed, dtype=np.float32):
    """``nn.MLP`` with ``depth`` hidden layers of ``width`` units, every weight from ``spec``.

    >>> [layer.weight.shape for layer in deep_mlp(2, 8, 3, 1, "relu", "he_normal", seed=0)]
    [(2, 8), (8, 8), (8, 8), (8, 1)]
    """
    return nn.MLP([n_in] + [width] * depth + [n_out], activation=activation, weight_init=spec,
                  rng=as_generator(seed, "deep_mlp"), dtype=dtype)


def split(X, y, seed):
    """A seeded 75/25 train/test split: ``(X_train, X_test, y_train, y_test)``."""
    return data.train_test_split(X, y, test_size=0.25, rng=as_generator(seed, "split"))


def train_run(model, X, y, optimizer, epochs, batch_size, rng, callbacks=()):
    """``fit`` without output, shuffling with ``rng`` (a seed or a Generator).

    Returns ``(loss per epoch, None)`` or, when training diverges (``fit`` raises
    ``FloatingPointError`` on an inf/NaN loss or weight), the losses of the epochs
    completed before it and the error text: a diverging run is a result to report, not a
    crash. ``callbacks`` are passed to ``fit`` (e.g. a learning-rate schedule).

    >>> from microinit import optim
    >>> X, y = gaussian_batch(64, 4, n_classes=2, rng=0)
    >>> model = deep_mlp(4, 8, 1, 2, "tanh", "xavier_uniform", seed=0)
    >>> losses, error = train_run(model, X, y, optim.SGD(model.parameters(), lr=0.1), 3, 16, rng=0)
    >>> len(losses), error
    (3, None)
    """
    loader = data.DataLoader(X, y, batch_size=batch_size, rng=as_generator(rng, "train_run"))
    losses = []
    try:
        fit(model, "cross_entropy", optimizer, loader, epochs=epochs, verbose=False,
            callbacks=[*callbacks, lambda epoch, logs: losses.append(logs["loss"])])
        return losses, None
    except FloatingPointError as err:
        return losses, str(err)

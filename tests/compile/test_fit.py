"""fit(compile=True): the eager fit's history and weights, and one warning when the
model cannot be captured."""
import io
import warnings

import numpy as np
import pytest

from microinit import data, losses, nn, optim
from microinit.training import fit


def _setup(make_model=lambda: nn.MLP([2, 16, 16, 2], rng=0), lr=0.02, n=300):
    X, y = data.moons(n, noise=0.1, rng=0)
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.CosineLR(opt, T_max=5)
    return X, y, model, opt, data.DataLoader(X, y, batch_size=32, rng=0), sched


def _history(compile, **kw):
    X, y, model, opt, loader, sched = _setup(**kw)
    h = fit(model, "cross_entropy", opt, loader, epochs=5, val=(X, y), callbacks=[sched],
            verbose=False, compile=compile)
    return h, model


def test_compiled_fit_matches_eager_fit():
    (he, me), (hc, mc) = _history(False), _history(True)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert he[key] == hc[key], key
    for a, b in zip(me.parameters(), mc.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_unsupported_model_trains_eagerly_after_one_warning():
    class Twice(nn.Module):
        def forward(self, x):
            return x * 2

    make = lambda: nn.Sequential(nn.Dense(2, 8, rng=0), Twice(), nn.Dense(8, 2, rng=1))  # noqa: E731
    with pytest.warns(RuntimeWarning, match=r"fit\(compile=True\): training eagerly: .*Twice") as record:
        hc, mc = _history(True, make_model=make)
    assert len([w for w in record if issubclass(w.category, RuntimeWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        he, me = _history(False, make_model=make)
    assert he["loss"] == hc["loss"]


def test_diverging_compiled_fit_reports_like_eager():
    """Step 1 trains (and captures), step 2 overflows: the same error, the same weights."""
    X = np.array([[1.0, 2.0], [2.0, 1.0], [3e38, 3e38], [3e38, -3e38]], np.float32)
    y = np.array([0, 1, 0, 1])
    weights = []
    for compile in (False, True):
        model = nn.MLP([2, 4, 2], rng=0)
        opt = optim.SGD(model.parameters(), lr=0.1)
        with pytest.raises(FloatingPointError, match="the loss became nan at epoch 1, step 2"):
            fit(model, losses.cross_entropy, opt, data.DataLoader(X, y, batch_size=2, shuffle=False),
                verbose=False, compile=compile, file=io.StringIO())
        weights.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)

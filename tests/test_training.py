import io

import numpy as np
import pytest

from microinit import data, losses, nn, optim
from microinit.training import StopTraining, evaluate, fit


def _setup(seed=0, lr=0.02):
    X, y = data.moons(300, noise=0.1, rng=seed)
    model = nn.MLP([2, 16, 16, 2], rng=seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    loader = data.DataLoader(X, y, batch_size=32, rng=seed)
    return X, y, model, opt, loader


def test_fit_learns_moons_and_returns_history():
    X, y, model, opt, loader = _setup()
    out = io.StringIO()
    h = fit(model, "cross_entropy", opt, loader, epochs=30, val=(X, y), file=out)
    assert set(h) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert len(h["loss"]) == 30 and len(h["val_accuracy"]) == 30
    assert h["loss"][-1] < 0.3 * h["loss"][0]
    assert h["accuracy"][-1] > 0.95 and h["val_accuracy"][-1] > 0.95
    loss, acc = evaluate(model, "cross_entropy", (X, y))
    assert loss == pytest.approx(h["val_loss"][-1]) and acc == h["val_accuracy"][-1]
    # not a terminal: plain lines, about ten of them, the last one always
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("epoch 30/30  loss ")
    assert "acc " in lines[-1] and "val_acc " in lines[-1]


def test_fit_is_reproducible():
    runs = []
    for _ in range(2):
        X, y, model, opt, loader = _setup(seed=3)
        runs.append(fit(model, "cross_entropy", opt, loader, epochs=3, verbose=False)["loss"])
    assert runs[0] == runs[1]


def test_fit_progress_bar_on_a_terminal():
    pytest.importorskip("tqdm")  # the bar needs tqdm (the `test` extra installs it)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    X, y, model, opt, loader = _setup()
    out = Tty()
    fit(model, "cross_entropy", opt, loader, epochs=2, file=out)
    text = out.getvalue()
    last = text.split("\r")[-1]
    assert "epoch 2/2" in last and "100%" in last and "loss=" in last and "acc=" in last
    assert "epoch 1/2  loss" not in text  # no plain log lines on a terminal


def test_verbose_false_prints_nothing(capsys):
    X, y, model, opt, loader = _setup()
    fit(model, losses.CrossEntropyLoss(), opt, loader, epochs=2, verbose=False)
    assert capsys.readouterr().err == ""


def test_callbacks_schedules_and_early_stop():
    X, y, model, opt, loader = _setup()
    seen = []

    def cb(epoch, logs):
        seen.append((epoch, logs["lr"]))
        return epoch == 3

    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, "cross_entropy", opt, loader, epochs=10, callbacks=[sched, cb], verbose=False)
    assert [e for e, _ in seen] == [1, 2, 3] and len(h["loss"]) == 3
    assert h["lr"] == pytest.approx([0.02, 0.01, 0.005])

    def stopper(epoch, logs):
        raise StopTraining

    assert len(fit(model, "cross_entropy", opt, loader, epochs=5, callbacks=[stopper],
                   verbose=False)["loss"]) == 1
    with pytest.raises(TypeError, match="neither callable"):
        fit(model, "cross_entropy", opt, loader, epochs=1, callbacks=[3])


def test_regression_loss_has_no_accuracy():
    X, _ = data.moons(64, rng=0)
    y = X.sum(axis=1, keepdims=True).astype(np.float32)
    model = nn.MLP([2, 8, 1], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    h = fit(model, "mse", opt, data.DataLoader(X, y, batch_size=16, rng=0), epochs=20, verbose=False)
    assert h["accuracy"] == [None] * 20 and h["loss"][-1] < h["loss"][0]


def test_nan_loss_raises_naming_epoch_and_step():
    X, y, model, opt, loader = _setup()
    model[2].bias.data[0] = np.nan  # the output layer has no activation to mask it
    before = model[0].weight.data.copy()
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, step 1 \(global step 1\)"):
        fit(model, "cross_entropy", opt, loader, epochs=2, verbose=False)
    np.testing.assert_array_equal(model[0].weight.data, before)  # never updated


@pytest.mark.filterwarnings("ignore:invalid value")
def test_nonfinite_gradient_raises_naming_the_parameter():
    X, y, model, opt, loader = _setup()

    def poisoned(out, target):
        # finite loss, but d sqrt(u)/du = inf at u = 0 poisons the last layer's gradient
        base = losses.cross_entropy(out, target)
        return base + (out * 0.0).sum().sqrt()

    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match=r"fit: epoch 1, step 1: Adam step 1: the gradient of "
                                                 r"parameter '0.weight' \(shape \(2, 16\), float32\) contains NaN/inf"):
        fit(model, poisoned, opt, loader, epochs=1, verbose=False)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_exploding_training_stops_with_floating_point_error():
    X, y = data.spirals(200, rng=0)
    model = nn.MLP([2, 32, 32, 3], weight_init={"name": "normal", "std": 30.0}, rng=0)
    opt = optim.SGD(model.parameters(), lr=1e6)
    with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+"):
        fit(model, "cross_entropy", opt, data.DataLoader(X, y, batch_size=50, rng=0), epochs=50,
            verbose=False)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_finite_weights_whose_logits_overflow_stop_fit_naming_the_layer(loss):
    # docs/reliability.md rows 14 and 62: every weight and input is finite, but the
    # logits overflow to -inf. Cross-entropy refuses a row of -inf logits with its own
    # ValueError; fit reports it as the training failure it is.
    X = np.full((8, 2), 1e20, np.float32)
    y = np.zeros(8, np.int64) if loss == "cross_entropy" else np.zeros((8, 3), np.float32)
    model = nn.Sequential(nn.Dense(2, 4, weight_init=1.0), nn.ReLU(), nn.Dense(4, 3, weight_init=-1e30))
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1 .*output of layer '2' \(Dense, shape "
                                                 r"\(4, 3\)\) contains inf \(first at \[0, 0\]\)"):
        fit(model, loss, optim.SGD(model.parameters(), lr=0.1), data.DataLoader(X, y, batch_size=4),
            epochs=1, verbose=False)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # stopped before any update


def test_first_non_finite_names_a_bad_parameter_first():
    from microinit.training import first_non_finite
    model = nn.MLP([2, 3, 1], rng=0)
    model[1].weight.data[1, 0] = np.nan
    assert first_non_finite(model, np.ones((1, 2), np.float32)) == \
        "parameter '1.weight' (shape (3, 1)) contains NaN (first at [1, 0])"
    model[1].weight.data[1, 0] = 0.0
    assert first_non_finite(model, np.ones((1, 2), np.float32)) == "every parameter and layer output is finite"


def test_fit_refuses_nan_data_and_bad_arguments():
    X, y, model, opt, loader = _setup()
    X = X.copy()
    X[5, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN/inf at X\[5, 0\]"):
        fit(model, "cross_entropy", opt, (X, y), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, "cross_entropy", opt, loader, epochs=-1)
    with pytest.raises(ValueError, match="unknown loss"):
        fit(model, "cross-entropi", opt, loader)
    with pytest.raises(TypeError, match="val must be"):
        fit(model, "cross_entropy", opt, loader, val=3)

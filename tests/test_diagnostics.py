"""layer_stats and the Table it returns: every statistic against a hand computation,
both ways of attaching an activation (fused / separate module), overflow reporting,
and that the model is left exactly as it was."""
import doctest
import importlib
import math
import os
import sys

import numpy as np
import pytest

from microinit import nn
from microinit.diagnostics import LayerStats, Table, layer_stats, require_matplotlib, unit_similarity
from microinit.tensor import cross_entropy

# Tiny networks: threads only add contention on a shared machine.
pytestmark = pytest.mark.usefixtures("single_thread")


def _batch(n=32, d=6, k=3, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, d)).astype(np.float32), r.integers(0, k, n)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------- Table
def test_table_prints_converts_and_indexes():
    t = Table(["name", "x", "frac"], [{"name": "a", "x": 1.23456, "frac": None},
                                      {"name": "bb", "x": float("inf"), "frac": 0.5}], title="T",
              formats={"frac": lambda v: "-" if v is None else f"{100 * v:.0f}%"})
    text = str(t)
    assert text.splitlines()[0] == "T"
    assert "1.23" in text and "inf" in text and "50%" in text
    assert t["x"] == [1.23456, float("inf")]
    assert t[1] == {"name": "bb", "x": float("inf"), "frac": 0.5}
    assert t[1:] == [t[1]] and t[:0] == []
    assert t.to_dict() == {"name": ["a", "bb"], "x": [1.23456, float("inf")], "frac": [None, 0.5]}
    assert t.to_records()[0]["name"] == "a"
    assert np.isnan(t.column("frac")[0]) and t.column("frac")[1] == 0.5
    assert t.where(name="bb")[0]["frac"] == 0.5
    with pytest.raises(KeyError, match="no column 'y'"):
        t["y"]
    with pytest.raises(ValueError, match="not in"):
        t.append({"nope": 1})
    t.to_records()[0]["name"] = "changed"   # records are copies
    assert t[0]["name"] == "a"
    sub = Table(["k"], [{"k": 1}], title="SUB")
    t.sections.append(sub)
    assert str(t).rstrip().endswith("SUB\nk\n-\n1")


def test_table_without_figure_says_so():
    with pytest.raises(ValueError, match="has no figure"):
        Table(["a"]).plot()


# ---------------------------------------------------------------------- layer_stats
def test_stats_match_a_hand_computation():
    X, y = _batch()
    model = nn.MLP([6, 5, 4, 3], activation="tanh", rng=0, dtype=np.float64)
    W = [layer.weight.data for layer in model]
    b = [layer.bias.data for layer in model]
    s = layer_stats(model, X, y, lr=0.1)
    assert isinstance(s, LayerStats) and len(s) == 3
    # forward by hand
    x = X.astype(np.float64)
    zs, acts = [], []
    for i in range(3):
        z = x @ W[i] + b[i]
        x = np.tanh(z) if i < 2 else z
        zs.append(z)
        acts.append(x)
    # backward by hand: dL/dlogits = (softmax - onehot) / N
    n = len(y)
    d = _softmax(acts[2])
    d[np.arange(n), y] -= 1
    d /= n
    inputs = [X.astype(np.float64), acts[0], acts[1]]
    grads_a, gW = [None, None, d], [None, None, None]
    dz = d
    for i in (2, 1, 0):
        gW[i] = inputs[i].T @ dz
        if i:
            grads_a[i - 1] = dz @ W[i].T
            dz = grads_a[i - 1] * (1 - acts[i - 1] ** 2)
    for i, r in enumerate(s.to_records()):
        assert r["layer"] == i + 1 and r["name"] == str(i)
        assert r["act"] == ("tanh" if i < 2 else "linear")
        np.testing.assert_allclose(r["pre_mean"], zs[i].mean(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(r["pre_std"], zs[i].std(), rtol=1e-9)
        np.testing.assert_allclose(r["mean"], acts[i].mean(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(r["std"], acts[i].std(), rtol=1e-9)
        np.testing.assert_allclose(r["grad_std"], grads_a[i].std(), rtol=1e-7)
        np.testing.assert_allclose(r["w_grad_std"], gW[i].std(), rtol=1e-7)
        np.testing.assert_allclose(r["w_grad_norm"], np.linalg.norm(gW[i]), rtol=1e-7)
        np.testing.assert_allclose(r["update_ratio"], 0.1 * np.linalg.norm(gW[i]) / np.linalg.norm(W[i]),
                                   rtol=1e-7)
        assert r["nonfinite"] == 0 and r["dead"] is None
    np.testing.assert_allclose(s.loss, cross_entropy(acts[2], y).item(), rtol=1e-9)
    assert s.grad_ratio() == pytest.approx(grads_a[0].std() / grads_a[1].std())
    assert s.std_ratio() == pytest.approx(acts[1].std() / acts[0].std())


def test_fused_and_separate_activation_modules_give_the_same_table():
    X, y = _batch()
    fused = nn.MLP([6, 8, 8, 3], activation="relu", rng=3)
    sep = nn.Sequential(nn.Dense(6, 8, rng=0), nn.ReLU(), nn.Dense(8, 8, rng=0), nn.ReLU(), nn.Dense(8, 3, rng=0))
    for src, dst in zip(fused, (sep[0], sep[2], sep[4])):
        dst.weight.data[...] = src.weight.data
        dst.bias.data[...] = src.bias.data
    a, b = layer_stats(fused, X, y), layer_stats(sep, X, y)
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b):
        for k in LayerStats.COLUMNS:
            if k == "name":
                continue
            va, vb = ra[k], rb[k]
            if isinstance(va, float):
                assert va == pytest.approx(vb, rel=1e-5, abs=1e-12), k
            else:
                assert va == vb, k
    assert [r["act"] for r in b] == ["relu", "relu", "linear"]


def test_model_is_left_unchanged():
    X, y = _batch()
    model = nn.MLP([6, 8, 3], activation="tanh", rng=0)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model[0].weight.grad = np.full_like(model[0].weight.data, 7.0)
    layer_stats(model, X, y)
    assert all(not m._forward_hooks for m in model.modules())
    np.testing.assert_array_equal(model[0].weight.grad, 7.0)   # restored, not accumulated
    assert model[1].weight.grad is None
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_hooks_are_removed_even_when_the_loss_fails():
    X, _ = _batch()
    model = nn.MLP([6, 8, 3], rng=0)
    with pytest.raises(ValueError, match="label"):
        layer_stats(model, X, np.full(len(X), 9))
    assert all(not m._forward_hooks for m in model.modules())


def test_forward_only_without_labels():
    X, _ = _batch()
    s = layer_stats(nn.MLP([6, 8, 3], rng=0), X)
    assert s.loss is None
    assert all(r["grad_std"] is None and r["w_grad_std"] is None for r in s)
    assert all(r["std"] > 0 for r in s)


def test_saturation_and_dead_units_are_counted():
    X, y = _batch(n=64)
    big = nn.MLP([6, 16, 3], activation="tanh", weight_init={"name": "normal", "std": 3.0}, rng=0)
    r = layer_stats(big, X, y)[0]
    a = np.tanh(X @ big[0].weight.data + big[0].bias.data)
    assert r["saturated"] == pytest.approx(np.mean(np.abs(a) > 0.99))
    assert r["saturated"] > 0.5

    sig = nn.Sequential(nn.Dense(6, 16, weight_init={"name": "normal", "std": 3.0}, rng=0), nn.Sigmoid(),
                        nn.Dense(16, 3, rng=0))
    a = 1 / (1 + np.exp(-(X @ sig[0].weight.data)))
    assert layer_stats(sig, X, y)[0]["saturated"] == pytest.approx(np.mean((a < 0.01) | (a > 0.99)))

    relu = nn.MLP([6, 10, 3], activation="relu", rng=0)
    relu[0].bias.data[:4] = -100.0   # these 4 units never fire on this batch
    r = layer_stats(relu, X, y)[0]
    assert r["dead"] == pytest.approx(0.4)
    assert r["saturated"] is None


def test_tiny_float32_values_do_not_underflow_in_the_statistics():
    # 1e-25 squared underflows float32: the statistics must be computed in float64.
    X, y = _batch(d=16)
    model = nn.MLP([16] + [16] * 12 + [3], activation="tanh", weight_init={"name": "normal", "std": 0.01}, rng=0)
    s = layer_stats(model, X, y)
    assert all(r["std"] > 0 for r in s)
    assert all(r["grad_std"] > 0 and r["w_grad_std"] > 0 for r in s)
    assert s.grad_ratio() < 1e-3


def test_overflow_is_reported_not_raised():
    # Each ReLU layer multiplies the scale by ~sqrt(100 / 2): 7^50 overflows float32.
    X, y = _batch(n=16, d=100)
    model = nn.MLP([100] + [100] * 50 + [3], activation="relu", weight_init={"name": "normal", "std": 1.0}, rng=0)
    s = layer_stats(model, X, y)
    assert sum(s["nonfinite"]) > 0
    bad = [r for r in s if r["nonfinite"]]
    assert any(math.isinf(r["std"]) or math.isnan(r["std"]) for r in bad)
    text = str(s)
    assert "inf" in text or "nan" in text


def test_symmetry_measure():
    W = np.tile(np.array([[1.0], [2.0], [3.0]]), (1, 4))
    assert unit_similarity(W, np.zeros(4)) == (1.0, 1)
    assert unit_similarity(np.zeros((3, 5)), np.zeros(5)) == (1.0, 1)
    r = np.random.default_rng(0).standard_normal((50, 6))
    sym, distinct = unit_similarity(r, np.zeros(6))
    C = (r / np.linalg.norm(r, axis=0)).T @ (r / np.linalg.norm(r, axis=0))
    np.fill_diagonal(C, -1)
    assert sym == pytest.approx(C.max()) and sym < 0.9 and distinct == 6
    # The bias is part of a unit: equal weights with different biases are not clones.
    assert unit_similarity(np.ones((2, 2)), np.array([0.0, 5.0]))[1] == 2
    # Huge weights do not overflow the norms.
    assert unit_similarity(np.full((3, 2), 1e200))[0] == pytest.approx(1.0)
    s, d = unit_similarity(np.ones((3, 1)))
    assert math.isnan(s) and d == 1


def test_symmetric_model_shows_symmetry_one():
    X, y = _batch()
    model = nn.MLP([6, 8, 8, 3], activation="tanh", weight_init={"name": "constant", "value": 0.2}, rng=0)
    s = layer_stats(model, X, y)
    assert s["symmetry"][:2] == [1.0, 1.0] and s["distinct"][:2] == [1, 1]


def test_bad_models_are_refused():
    with pytest.raises(TypeError, match="nn.Module"):
        layer_stats(lambda x: x, np.zeros((2, 2)))
    model = nn.MLP([3, 4, 2], rng=0)
    with pytest.raises(ValueError, match=r"non-empty batch, got X of shape \(0, 3\)"):
        layer_stats(model, np.zeros((0, 3), np.float32), np.zeros(0, np.int64))
    X = np.ones((4, 3), np.float32)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN/inf at layer_stats X\[2, 1\]"):
        layer_stats(model, X)
    with pytest.raises(ValueError, match="no Dense layer"):
        layer_stats(nn.Sequential(nn.Tanh()), np.zeros((2, 2), np.float32))


# ---------------------------------------------------------------------- figures
def test_plot_writes_a_png_atomically(tmp_path):
    pytest.importorskip("matplotlib")
    X, y = _batch()
    s = layer_stats(nn.MLP([6, 8, 8, 3], rng=0), X, y, title="three layers")
    out = tmp_path / "stats.png"
    fig = s.plot(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["stats.png"]          # no temporary file left behind
    axes = fig.get_axes()
    assert [ax.get_yscale() for ax in axes] == ["log", "log"]
    assert all(ax.get_legend() is not None for ax in axes)
    for ax in axes:   # a log axis spanning less than a decade must still carry numbers
        lo, hi = ax.get_ylim()
        shown = [t for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True)
                 if t.get_text() and lo <= t.get_position()[1] <= hi]
        assert len(shown) >= 2, ax.get_title()
    with pytest.raises(OSError, match="does not exist"):
        s.plot(tmp_path / "missing" / "x.png")


def test_missing_matplotlib_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"microinit\[plot\]"):
        require_matplotlib()


def test_docstring_examples_pass():
    result = doctest.testmod(importlib.import_module("microinit.diagnostics"), verbose=False, report=False)
    assert result.failed == 0 and result.attempted > 0

import numpy as np
import pytest

from microinit import metrics, tensor


def test_class_accuracy_from_logits_probabilities_and_one_hot(rng):
    logits = rng.standard_normal((50, 4))
    y = rng.integers(0, 4, 50)
    want = np.mean(logits.argmax(1) == y)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert metrics.accuracy(logits, y) == want
    assert metrics.accuracy(probs, y) == want
    assert metrics.accuracy(tensor(logits), tensor(y)) == want
    assert metrics.accuracy(logits, np.eye(4)[y]) == want


def test_class_accuracy_over_extra_axes_and_ignore_index(rng):
    x = rng.standard_normal((2, 3, 5))
    y = rng.integers(0, 3, (2, 5))
    assert metrics.accuracy(x, y) == np.mean(x.argmax(1) == y)
    y[0, :2] = -100
    keep = y != -100
    assert metrics.accuracy(x, y, ignore_index=-100) == np.mean((x.argmax(1) == y)[keep])


def test_binary_accuracy_probabilities_logits_and_threshold():
    p = np.array([0.9, 0.4, 0.6, 0.1])
    t = np.array([1, 1, 0, 0])
    assert metrics.accuracy(p, t) == 0.5
    assert metrics.accuracy(p, t.astype(bool)) == 0.5
    assert metrics.accuracy(p.reshape(4, 1), t) == 0.5
    assert metrics.accuracy(p, t, threshold=0.35) == 0.75   # 0.4 now counts as 1
    assert metrics.accuracy(p, t, threshold=0.95) == 0.5
    logits = np.log(p / (1 - p)) * 3  # values outside [0, 1]: read as logits
    assert metrics.accuracy(logits, t) == 0.5
    assert metrics.accuracy(np.array([-2.0, 2.0]), np.array([0.0, 1.0])) == 1.0


def test_matches_torch_argmax_accuracy(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = rng.integers(0, 5, 40)
    want = (torch.tensor(x).argmax(1) == torch.tensor(y)).float().mean().item()
    assert metrics.accuracy(x, y) == pytest.approx(want)


@pytest.mark.parametrize("pred, target, exc, match", [
    (np.zeros((3, 2)), np.zeros(4, int), ValueError, r"accuracy: target of shape \(4,\) does not match pred"),
    (np.zeros((3, 2)), np.zeros(3), ValueError, r"accuracy: class labels must be integers"),
    (np.zeros(3), np.array([0, 1, 2]), ValueError, r"accuracy: binary targets must be 0 or 1, found 2"),
    (np.zeros(3), np.zeros(2), ValueError, r"accuracy: binary pred of shape \(3,\) and target"),
    (np.zeros((0, 3)), np.zeros(0, int), ValueError, r"accuracy: no prediction to count"),
    (np.zeros((2, 3)), np.full(2, -100), ValueError, r"accuracy: no prediction to count"),
    (None, np.zeros(2), TypeError, r"accuracy: pred must be an array"),
    (np.array(1.0), np.array(1), ValueError, r"accuracy: pred of shape \(\)"),
])
def test_bad_input_names_accuracy(pred, target, exc, match):
    with pytest.raises(exc, match=match):
        metrics.accuracy(pred, target, ignore_index=-100)

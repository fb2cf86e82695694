import numpy as np
import pytest

from microinit import losses
from microinit.gradcheck import gradcheck
from microinit.tensor import Tensor


def _torch_loss(torch, name, x, t, reduction):
    F = torch.nn.functional
    if name == "cross_entropy":
        return F.cross_entropy(x, t, reduction=reduction)
    if name == "mse":
        return F.mse_loss(x, t, reduction=reduction)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(x, t, reduction=reduction)
    return torch.clamp(1 - t * x, min=0).mean() if reduction == "mean" else (
        torch.clamp(1 - t * x, min=0).sum() if reduction == "sum" else torch.clamp(1 - t * x, min=0))


def _inputs(rng, name):
    x = rng.standard_normal((6, 4))
    if name == "cross_entropy":
        t = rng.integers(0, 4, 6)
    elif name == "mse":
        t = rng.standard_normal((6, 4))
    elif name == "bce":
        t = rng.random((6, 4))
    else:
        t = np.where(rng.random((6, 4)) > 0.5, 1.0, -1.0)
    return x, t


FUNCS = {"cross_entropy": losses.cross_entropy, "mse": losses.mse,
         "bce": losses.binary_cross_entropy_with_logits, "hinge": losses.hinge}


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(rng, name, reduction):
    torch = pytest.importorskip("torch")
    x, t = _inputs(rng, name)
    xt = Tensor(x.copy(), requires_grad=True)
    out = FUNCS[name](xt, t, reduction=reduction)
    g = rng.standard_normal(out.shape)
    (out * Tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tout = _torch_loss(torch, name, tx, torch.tensor(t), reduction)
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(FUNCS))
def test_losses_gradcheck(rng, name):
    x, t = _inputs(rng, name)
    if name == "hinge":  # keep away from the kink at t*s = 1
        x = np.where(np.abs(1 - t * x) < 0.05, x + 0.2, x)
    assert gradcheck(lambda a: FUNCS[name](a, t), [Tensor(x, requires_grad=True)])


@pytest.mark.parametrize("bad, match", [
    (np.array([0, 1, 3]), "label 3 at index 2 is out of range for n_classes 3"),
    (np.array([0, -1, 2]), "label -1"),
    (np.array([0.0, 1.0, 2.0]), "dtype float64"),
])
def test_bad_labels_raise_naming_label(bad, match):
    logits = Tensor(np.zeros((3, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        losses.cross_entropy(logits, bad)
    with pytest.raises(ValueError, match=match):
        losses.CrossEntropyLoss()(logits, bad)


def test_huge_logits_stay_finite():
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), requires_grad=True)
    loss = losses.cross_entropy(logits, np.array([1, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad).all()
    np.testing.assert_allclose(logits.grad.sum(axis=1), 0, atol=1e-12)


def test_one_hot_targets_equal_labels(rng):
    x = rng.standard_normal((5, 3))
    y = rng.integers(0, 3, 5)
    a = losses.cross_entropy(Tensor(x), y).item()
    b = losses.cross_entropy(Tensor(x), np.eye(3)[y]).item()
    assert a == pytest.approx(b, rel=1e-12)


def test_loss_modules_registry_and_accuracy():
    assert isinstance(losses.get("cross_entropy"), losses.CrossEntropyLoss)
    assert isinstance(losses.get("MSE"), losses.MSELoss)
    assert isinstance(losses.get("bce"), losses.BCEWithLogitsLoss)
    assert isinstance(losses.get("max-margin"), losses.HingeLoss)
    assert isinstance(losses.get(losses.cross_entropy), losses.CrossEntropyLoss)

    def custom(p, t):
        return losses.mse(p, t)

    assert losses.get(custom) is custom
    with pytest.raises(ValueError, match="unknown loss 'crossentropyy'.*available"):
        losses.get("crossentropyy")
    with pytest.raises(TypeError):
        losses.get(3)
    with pytest.raises(ValueError, match="reduction"):
        losses.MSELoss(reduction="avg")
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    assert losses.CrossEntropyLoss().correct(logits, np.array([0, 1, 1])) == 2
    assert losses.CrossEntropyLoss().correct(logits, np.eye(2)[[0, 1, 1]]) == 2
    assert losses.BCEWithLogitsLoss().correct(np.array([[1.0], [-1.0]]), np.array([1.0, 1.0])) == 1
    assert losses.HingeLoss().correct(np.array([0.5, -2.0, 1.0]), np.array([1, -1, -1])) == 2
    assert losses.MSELoss().correct(logits, logits) is None
    r = losses.CrossEntropyLoss(reduction="sum")
    assert repr(r) == "CrossEntropyLoss(reduction='sum')"
    x = Tensor(logits)
    assert r(x, np.array([0, 1, 1])).item() == pytest.approx(
        3 * losses.cross_entropy(x, np.array([0, 1, 1])).item())


def test_minus_inf_logits():
    x = Tensor(np.array([[0.0, -np.inf, 1.0]]), requires_grad=True)
    loss = losses.cross_entropy(x, np.array([0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad).all() and x.grad[0, 1] == 0
    with pytest.raises(ValueError, match="every logit -inf"):
        losses.CrossEntropyLoss()(Tensor(np.full((1, 2), -np.inf)), np.array([0]))

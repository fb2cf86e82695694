"""The losses PyTorch users reach for (issue 16): nll, l1, huber, binary_cross_entropy on
probabilities, and cross_entropy with label_smoothing, ignore_index and (N, C, d1, ...)
logits -- forward and gradients against torch.nn.functional in float32 and float64,
float64 gradchecks, and errors that name the loss."""
import numpy as np
import pytest

from microinit import losses
from microinit.gradcheck import gradcheck
from microinit.tensor import Tensor

TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
REDUCTIONS = ["mean", "sum", "none"]


def _labels(rng, shape, c, ignore=-100, frac=0.3):
    y = rng.integers(0, c, shape)
    return np.where(rng.random(shape) < frac, ignore, y)


# name -> (make (x, target) from rng, microinit call, torch call); kw are the options
CASES = {
    "ce_smooth": (lambda r: (r.standard_normal((6, 5)), r.integers(0, 5, 6)),
                  lambda x, t, red: losses.cross_entropy(x, t, red, label_smoothing=0.2),
                  lambda F, x, t, red: F.cross_entropy(x, t, reduction=red, label_smoothing=0.2)),
    "ce_ignore": (lambda r: (r.standard_normal((8, 4)), _labels(r, 8, 4)),
                  lambda x, t, red: losses.cross_entropy(x, t, red),
                  lambda F, x, t, red: F.cross_entropy(x, t, reduction=red)),
    "ce_ignore_3": (lambda r: (r.standard_normal((8, 4)), _labels(r, 8, 4, ignore=3)),
                    lambda x, t, red: losses.cross_entropy(x, t, red, ignore_index=3),
                    lambda F, x, t, red: F.cross_entropy(x, t, reduction=red, ignore_index=3)),
    "ce_smooth_ignore": (lambda r: (r.standard_normal((8, 4)), _labels(r, 8, 4)),
                         lambda x, t, red: losses.cross_entropy(x, t, red, label_smoothing=0.3),
                         lambda F, x, t, red: F.cross_entropy(x, t, reduction=red, label_smoothing=0.3)),
    "ce_nd": (lambda r: (r.standard_normal((3, 4, 2, 5)), _labels(r, (3, 2, 5), 4)),
              lambda x, t, red: losses.cross_entropy(x, t, red, label_smoothing=0.1),
              lambda F, x, t, red: F.cross_entropy(x, t, reduction=red, label_smoothing=0.1)),
    "ce_nd_plain": (lambda r: (r.standard_normal((2, 3, 4)), r.integers(0, 3, (2, 4))),
                    lambda x, t, red: losses.cross_entropy(x, t, red),
                    lambda F, x, t, red: F.cross_entropy(x, t, reduction=red)),
    "ce_nd_probs": (lambda r: (r.standard_normal((2, 3, 4)), r.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1)),
                    lambda x, t, red: losses.cross_entropy(x, t, red, label_smoothing=0.25),
                    lambda F, x, t, red: F.cross_entropy(x, t, reduction=red, label_smoothing=0.25)),
    "nll": (lambda r: (np.log(r.dirichlet(np.ones(4), 7)), _labels(r, 7, 4)),
            lambda x, t, red: losses.nll_loss(x, t, red),
            lambda F, x, t, red: F.nll_loss(x, t, reduction=red)),
    "nll_nd": (lambda r: (r.standard_normal((2, 4, 3)), _labels(r, (2, 3), 4, ignore=1)),
               lambda x, t, red: losses.nll_loss(x, t, red, ignore_index=1),
               lambda F, x, t, red: F.nll_loss(x, t, reduction=red, ignore_index=1)),
    "l1": (lambda r: (r.standard_normal((5, 3)), r.standard_normal((5, 3))),
           lambda x, t, red: losses.l1_loss(x, t, red),
           lambda F, x, t, red: F.l1_loss(x, t, reduction=red)),
    "huber": (lambda r: (2 * r.standard_normal((5, 3)), r.standard_normal((5, 3))),
              lambda x, t, red: losses.huber_loss(x, t, red),
              lambda F, x, t, red: F.huber_loss(x, t, reduction=red)),
    "huber_delta": (lambda r: (2 * r.standard_normal((5, 3)), r.standard_normal((5, 3))),
                    lambda x, t, red: losses.huber_loss(x, t, red, delta=0.5),
                    lambda F, x, t, red: F.huber_loss(x, t, reduction=red, delta=0.5)),
    "bce": (lambda r: (r.uniform(0.02, 0.98, (5, 3)), r.random((5, 3))),
            lambda x, t, red: losses.binary_cross_entropy(x, t, red),
            lambda F, x, t, red: F.binary_cross_entropy(x, t, reduction=red)),
}
SOFT_TARGET = {"l1", "huber", "huber_delta", "bce", "ce_nd_probs"}  # float targets that get gradients


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_forward_and_gradients(name, reduction, dtype, rng):
    torch = pytest.importorskip("torch")
    make, ours, theirs = CASES[name]
    x, t = make(rng)
    x = x.astype(dtype)
    soft = name in SOFT_TARGET
    if soft:
        t = t.astype(dtype)
    xt = Tensor(x.copy(), requires_grad=True)
    tt = Tensor(t.copy(), requires_grad=True) if soft else t
    out = ours(xt, tt, reduction)
    assert out.dtype == dtype
    g = rng.standard_normal(out.shape).astype(dtype)
    (out * Tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ttt = torch.tensor(t, requires_grad=soft)
    tout = theirs(torch.nn.functional, tx, ttt, reduction)
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), **TOL[dtype])
    assert xt.grad.dtype == dtype and xt.grad.shape == x.shape
    if soft:
        np.testing.assert_allclose(tt.grad, ttt.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck_float64(name, rng):
    make, ours, _ = CASES[name]
    x, t = make(rng)
    if name.startswith("huber"):  # away from the kink at |d| = delta
        d = 0.5 if name == "huber_delta" else 1.0
        x = np.where(np.abs(np.abs(x - t) - d) < 0.05, x + 0.2, x)
    if name == "l1":
        x = np.where(np.abs(x - t) < 0.05, x + 0.2, x)
    inputs = [Tensor(x, requires_grad=True)]
    if name in SOFT_TARGET:
        inputs.append(Tensor(t, requires_grad=True))
        for red in REDUCTIONS:
            assert gradcheck(lambda a, b: ours(a, b, red), inputs)
    else:
        for red in REDUCTIONS:
            assert gradcheck(lambda a: ours(a, t, red), inputs)


def test_bce_clamps_logs_and_gradient_as_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    p = np.array([0.0, 1.0, 0.3, 1.0, 0.0])
    t = np.array([0.5, 0.5, 0.2, 1.0, 0.0])
    pt, tt = Tensor(p.copy(), requires_grad=True), Tensor(t.copy(), requires_grad=True)
    loss = losses.binary_cross_entropy(pt, tt, "sum")
    loss.backward()
    tp, ttt = torch.tensor(p, requires_grad=True), torch.tensor(t, requires_grad=True)
    tl = F.binary_cross_entropy(tp, ttt, reduction="sum")
    tl.backward()
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-12)
    np.testing.assert_allclose(pt.grad, tp.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tt.grad, ttt.grad.numpy(), rtol=1e-12)  # +-inf where log 0, as PyTorch
    assert np.isinf(tt.grad[[0, 1, 3, 4]]).all()


def test_all_ignored_mean_is_zero_with_zero_grads():
    # microinit's rule for a mean over nothing (an empty batch too): 0, not NaN
    for fn in (losses.cross_entropy, losses.nll_loss):
        x = Tensor(np.ones((3, 2)), requires_grad=True)
        loss = fn(x, np.full(3, -100))
        loss.backward()
        assert loss.item() == 0 and not x.grad.any()


def test_plain_case_keeps_the_fused_kernel(rng):
    # integer labels in range, no smoothing, default ignore_index: one fused-kernel node
    from microinit.ops import losses as loss_ops
    x = rng.standard_normal((4, 3))
    _, saved = loss_ops.cross_entropy_forward(x, np.array([0, 1, 2, 0]))
    assert type(saved) not in (loss_ops.ClassAxisSaved, loss_ops.CrossEntropySaved)
    _, saved = loss_ops.cross_entropy_forward(x, np.array([0, -100, 2, 0]))
    assert type(saved) is loss_ops.ClassAxisSaved


def test_ignore_index_inside_the_class_range_is_ignored_on_the_fast_path_too(rng):
    x = rng.standard_normal((4, 3))
    full = losses.cross_entropy(x, np.array([0, 1, 2, 1]), reduction="none").data
    out = losses.cross_entropy(x, np.array([0, 1, 2, 1]), ignore_index=1)
    np.testing.assert_allclose(out.item(), (full[0] + full[2]) / 2, rtol=1e-6)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: losses.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError,
     r"cross_entropy: label 3 at index 1 is out of range for n_classes 3"),
    (lambda: losses.cross_entropy(np.zeros((2, 3)), np.array([0, -100]), label_smoothing=0.1, ignore_index=0),
     ValueError, r"cross_entropy: label -100 .* ignore_index=0"),
    (lambda: losses.cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), int)), ValueError,
     r"cross_entropy: labels of shape \(2, 3\) do not match input of shape \(2, 3, 4\); expected .*\(2, 4\)"),
    (lambda: losses.cross_entropy(np.zeros(3), np.array(0)), ValueError,
     r"cross_entropy: logits should be 2-dimensional \(N, C\) or more, \(N, C, d1, ...\), but found 1"),
    (lambda: losses.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5), ValueError,
     r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"),
    (lambda: losses.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing="a"), TypeError,
     r"cross_entropy: label_smoothing must be a float"),
    (lambda: losses.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=1.0), TypeError,
     r"cross_entropy: ignore_index must be an int"),
    (lambda: losses.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction="avg"), ValueError,
     r"cross_entropy: reduction must be one of"),
    (lambda: losses.nll_loss(np.zeros((2, 3)), np.array([0.0, 1.0])), ValueError,
     r"nll_loss: class labels must be integers"),
    (lambda: losses.nll_loss(np.zeros((2, 3)), np.array([0, 5])), ValueError,
     r"nll_loss: label 5 at flat index 1 is out of range for n_classes 3"),
    (lambda: losses.nll_loss(np.zeros((2, 3)), np.array([0, 1, 2])), ValueError,
     r"nll_loss: labels of shape \(3,\) do not match input of shape \(2, 3\)"),
    (lambda: losses.nll_loss(np.zeros((2, 3)), np.array([0, 1]), reduction="all"), ValueError,
     r"nll_loss: reduction must be one of"),
    (lambda: losses.l1_loss(np.zeros(3), np.zeros(4)), ValueError, r"l1_loss: input of shape \(3,\) and target"),
    (lambda: losses.l1_loss(np.zeros(3), np.zeros(3), reduction=None), ValueError, r"l1_loss: reduction"),
    (lambda: losses.l1_loss(np.zeros(3), "abc"), TypeError, r"l1_loss: target"),
    (lambda: losses.huber_loss(np.zeros(3), np.zeros(3), delta=0.0), ValueError,
     r"huber_loss: delta must be positive, got 0.0"),
    (lambda: losses.huber_loss(np.zeros(3), np.zeros(3), delta=float("nan")), ValueError, r"huber_loss: delta"),
    (lambda: losses.huber_loss(np.zeros(3), np.zeros(2)), ValueError, r"huber_loss: input of shape"),
    (lambda: losses.huber_loss(np.zeros(3), np.zeros(3), reduction="max"), ValueError, r"huber_loss: reduction"),
    (lambda: losses.binary_cross_entropy(np.array([0.5, 1.5]), np.zeros(2)), ValueError,
     r"binary_cross_entropy: input must hold probabilities in \[0, 1\], found 1.5 at flat index 1"),
    (lambda: losses.binary_cross_entropy(np.zeros(2), np.zeros((2, 1))), ValueError,
     r"binary_cross_entropy: input of shape \(2,\) and target of shape \(2, 1\)"),
    (lambda: losses.binary_cross_entropy(np.zeros(2), np.zeros(2), reduction="x"), ValueError,
     r"binary_cross_entropy: reduction"),
])
def test_bad_input_names_the_loss(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_registry_and_modules_for_the_new_losses(rng):
    assert isinstance(losses.get("nll_loss"), losses.NLLLoss)
    assert isinstance(losses.get("l1"), losses.L1Loss)
    assert isinstance(losses.get("huber"), losses.HuberLoss)
    assert isinstance(losses.get("binary_cross_entropy"), losses.BCELoss)
    for fn, cls in [(losses.nll_loss, losses.NLLLoss), (losses.l1_loss, losses.L1Loss),
                    (losses.huber_loss, losses.HuberLoss), (losses.binary_cross_entropy, losses.BCELoss)]:
        assert type(losses.get(fn)) is cls
    x = rng.standard_normal((5, 3))
    y = np.array([0, 2, -1, 1, 0])
    m = losses.CrossEntropyLoss(label_smoothing=0.1, ignore_index=-1)
    assert repr(m) == "CrossEntropyLoss(reduction='mean', label_smoothing=0.1, ignore_index=-1)"
    assert m(x, y).item() == losses.cross_entropy(x, y, label_smoothing=0.1, ignore_index=-1).item()
    h = losses.HuberLoss(reduction="sum", delta=0.5)
    t = rng.standard_normal((5, 3))
    assert h(x, t).item() == losses.huber_loss(x, t, "sum", delta=0.5).item()
    assert losses.BCELoss().correct(np.array([0.9, 0.2]), np.array([1.0, 1.0])) == 1
    assert losses.NLLLoss().correct(np.log(np.array([[0.9, 0.1], [0.3, 0.7]])), np.array([0, 0])) == 1


@pytest.mark.parametrize("name", ["huber", "l1", "mae", "huber_loss", "l1_loss"])
def test_fit_trains_with_the_new_regression_losses_by_name(name, rng):
    from microinit import nn, optim
    from microinit.training import fit
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = nn.MLP([3, 16, 1], activation="tanh", rng=0)
    history = fit(model, name, optim.Adam(model.parameters(), lr=0.01), (x, y), epochs=20, verbose=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] is None  # a regression loss has no accuracy


def test_fit_with_label_smoothing_reports_accuracy(rng):
    from microinit import nn, optim
    from microinit.training import fit
    x = rng.standard_normal((96, 2)).astype(np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    model = nn.MLP([2, 16, 2], activation="relu", rng=0)
    loss = losses.CrossEntropyLoss(label_smoothing=0.1)
    history = fit(model, loss, optim.Adam(model.parameters(), lr=0.05), (x, y), epochs=15, verbose=False)
    assert history["accuracy"][-1] > 0.9

"""What compile_step refuses, and how: a clear error naming the module, loss, optimizer
or option it cannot capture."""
import numpy as np
import pytest

import microinit as mi
from microinit import losses, nn, optim


def _opt(model):
    return optim.SGD(model.parameters(), lr=0.1)


class Twice(nn.Module):
    def forward(self, x):
        return x * 2


@pytest.mark.parametrize("module, error, name", [
    (Twice(), TypeError, "layer 1 \\(Twice\\)"),
    (nn.LayerNorm([2, 2]), ValueError, "layer 1 \\(LayerNorm over \\(2, 2\\)\\)"),
])
def test_unsupported_module_is_named(module, error, name):
    model = nn.Sequential(nn.Dense(3, 4), module, nn.Dense(4, 2))
    with pytest.raises(error, match=name):
        mi.compile_step(model, losses.mse, _opt(model))


def test_model_of_another_kind_is_refused():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Dense(2, 2)

        def forward(self, x):
            return self.inner(x) * 2

    model = Custom()
    with pytest.raises(TypeError, match="layer 0 \\(Custom\\)"):
        mi.compile_step(model, losses.mse, _opt(model))
    with pytest.raises(TypeError, match="must be a microinit Module"):
        mi.compile_step(lambda x: x, losses.mse, _opt(model))


@pytest.mark.parametrize("loss, error, match", [
    (losses.l1_loss, TypeError, "L1Loss"),
    (losses.HuberLoss(), TypeError, "HuberLoss"),
    (losses.NLLLoss(), TypeError, "NLLLoss"),
    (lambda out, y: (out * out).sum(), TypeError, "cannot capture the loss"),
    (losses.MSELoss(reduction="none"), ValueError, "reduction='none'"),
    (losses.CrossEntropyLoss(label_smoothing=0.1), ValueError, "label_smoothing=0.1"),
])
def test_unsupported_loss_is_named(loss, error, match):
    model = nn.MLP([3, 4, 2])
    with pytest.raises(error, match=match):
        mi.compile_step(model, loss, _opt(model))


@pytest.mark.parametrize("make", [lambda p: optim.RMSprop(p), lambda p: optim.Adagrad(p)])
def test_unsupported_optimizer_is_named(make):
    model = nn.MLP([3, 4, 2])
    opt = make(model.parameters())
    with pytest.raises(TypeError, match=f"optimizer {type(opt).__name__}"):
        mi.compile_step(model, losses.mse, opt)


def test_frozen_parameter_and_foreign_parameter_are_refused():
    model = nn.MLP([3, 4, 2])
    model[0].bias.requires_grad = False
    with pytest.raises(ValueError, match="'0.bias' is frozen"):
        mi.compile_step(model, losses.mse, _opt(model))
    model = nn.MLP([3, 4, 2])
    other = nn.Dense(2, 2)
    opt = optim.SGD(list(model.parameters()) + list(other.parameters()), lr=0.1)
    with pytest.raises(ValueError, match="not a parameter of the model"):
        mi.compile_step(model, losses.mse, opt)


def test_forward_hook_is_refused():
    model = nn.MLP([3, 4, 2])
    model[0].register_forward_hook(lambda m, i, o: None)
    with pytest.raises(ValueError, match="forward hook"):
        mi.compile_step(model, losses.mse, _opt(model))


def test_optimizer_over_a_subset_updates_only_it():
    """A parameter outside the optimizer gets a gradient but no update, as eagerly."""
    model = nn.MLP([3, 4, 2], rng=0)
    opt = optim.SGD(list(model[1].parameters()), lr=0.1)
    before = model[0].weight.data.copy()
    step = mi.compile_step(model, losses.mse, opt)
    x, y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    step(x, y)
    step(x, y)
    np.testing.assert_array_equal(model[0].weight.data, before)
    assert model[0].weight.grad is not None

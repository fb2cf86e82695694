"""The issue-16 must-show: a 3-layer MLP with BatchNorm1d and Dropout(p=0) trained 30
steps with RMSprop gives PyTorch's losses step by step (rtol 1e-4), from the same
initial weights (microinit's Dense weight is (in, out), torch's Linear weight (out, in));
with p > 0, train() and eval() outputs differ as in PyTorch."""
import numpy as np
import pytest

import microinit as mi
from microinit import losses, nn, optim


def _models(torch, p, dtype):
    ours = nn.Sequential(nn.Dense(5, 16, activation="relu", rng=0, dtype=dtype), nn.BatchNorm1d(16, dtype=dtype),
                         nn.Dropout(p), nn.Dense(16, 16, activation="relu", rng=1, dtype=dtype),
                         nn.BatchNorm1d(16, dtype=dtype), nn.Dropout(p), nn.Dense(16, 3, rng=2, dtype=dtype))
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.BatchNorm1d(16),
                                 torch.nn.Dropout(p), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                                 torch.nn.BatchNorm1d(16), torch.nn.Dropout(p), torch.nn.Linear(16, 3)).to(tdt)
    with torch.no_grad():
        for dense, linear in zip([ours[0], ours[3], ours[6]], [theirs[0], theirs[4], theirs[8]]):
            linear.weight.copy_(torch.tensor(dense.weight.data.T))  # (in, out) -> (out, in)
            linear.bias.copy_(torch.tensor(dense.bias.data))
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_with_batchnorm_and_dropout0_trains_as_torch_for_30_rmsprop_steps(dtype):
    torch = pytest.importorskip("torch")
    ours, theirs = _models(torch, 0.0, dtype)
    opt = optim.RMSprop(ours.parameters(), lr=1e-3)
    topt = torch.optim.RMSprop(theirs.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    ours_losses, torch_losses = [], []
    for _ in range(30):
        x = rng.standard_normal((32, 5)).astype(dtype)
        y = rng.integers(0, 3, 32)
        opt.zero_grad()
        loss = losses.cross_entropy(ours(x), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        ours_losses.append(float(loss.data))
        torch_losses.append(float(tloss.detach()))
    np.testing.assert_allclose(ours_losses, torch_losses, rtol=1e-4)
    assert ours_losses[-1] < ours_losses[0]  # it learned something
    # the running statistics followed too: evaluation outputs agree
    x = rng.standard_normal((8, 5)).astype(dtype)
    np.testing.assert_allclose(ours.eval()(x).data, theirs.eval()(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours[1].running_var, theirs[2].running_var.numpy(), rtol=1e-4)


def test_with_p_above_zero_train_and_eval_differ_as_in_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _models(torch, 0.5, np.float32)
    x = np.random.default_rng(1).standard_normal((64, 5)).astype(np.float32)
    tx = torch.tensor(x)
    # evaluation is deterministic: the same numbers
    eval_out = ours.eval()(x).data
    teval_out = theirs.eval()(tx).detach().numpy()
    np.testing.assert_allclose(eval_out, teval_out, rtol=1e-4, atol=1e-5)
    with mi.no_grad():
        train_out = ours.train()(x).data
    with torch.no_grad():
        ttrain_out = theirs.train()(tx).numpy()
    # training draws masks: both differ from their evaluation output
    assert not np.allclose(train_out, eval_out) and not np.allclose(ttrain_out, teval_out)
    # and evaluation does not advance the running statistics
    before = ours[1].running_mean.copy()
    ours.eval()(x)
    np.testing.assert_array_equal(ours[1].running_mean, before)

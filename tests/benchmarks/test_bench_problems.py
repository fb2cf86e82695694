"""The benchmark compares like with like: the numpy, microinit and PyTorch steps train
the same network from the same weights to the same losses (benchmarks/problems.py)."""
import numpy as np
import pytest


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_numpy_and_microinit_steps_agree(benchmarks, name):
    sizes, x, y, loss, params = benchmarks.problems.make_problem(name)
    npm = benchmarks.problems.NumpyMLP(params, loss)
    mi = benchmarks.problems.MicroinitMLP(params, loss, sizes)
    for _ in range(5):
        ln = npm.step(x, y)
        lm = float(mi.step(x, y).item())
        assert abs(ln - lm) <= 1e-4 * max(1.0, abs(ln))
    for layer, W, b in zip(mi.model, npm.W, npm.b):
        np.testing.assert_allclose(layer.weight.data, W, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-4, atol=1e-5)


def test_torch_step_agrees(benchmarks):
    torch = pytest.importorskip("torch")
    sizes, x, y, loss, params = benchmarks.problems.make_problem("small")
    npm = benchmarks.problems.NumpyMLP(params, loss)
    tm = benchmarks.problems.TorchMLP(params, loss, torch)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(3):
        ln = npm.step(x, y)
        lt = float(tm.step(tx, ty).item())
        assert abs(ln - lt) <= 1e-4 * max(1.0, abs(ln))


def test_step_flops_counts_forward_and_backward(benchmarks):
    # forward 2BIO per layer, backward 4BIO except no input gradient for layer 0
    assert benchmarks.problems.step_flops([2, 3, 4], 10) == 2 * 10 * 2 * 3 * 2 + 2 * 10 * 3 * 4 * 3

"""The benchmark compares like with like: the numpy, microinit and PyTorch steps train
the same network from the same weights to the same losses; the runner's pieces work."""
import json

import numpy as np
import pytest

from microinit import bench


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_numpy_and_microinit_steps_agree(name):
    sizes, x, y, loss, params = bench.make_problem(name)
    npm = bench.NumpyMLP(params, loss)
    mi = bench.MicroinitMLP(params, loss, sizes)
    for _ in range(5):
        ln = npm.step(x, y)
        lm = float(mi.step(x, y).item())
        assert abs(ln - lm) <= 1e-4 * max(1.0, abs(ln))
    for layer, W, b in zip(mi.model, npm.W, npm.b):
        np.testing.assert_allclose(layer.weight.data, W, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-4, atol=1e-5)


def test_torch_step_agrees():
    torch = pytest.importorskip("torch")
    sizes, x, y, loss, params = bench.make_problem("small")
    npm = bench.NumpyMLP(params, loss)
    tm = bench.TorchMLP(params, loss, torch)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(3):
        ln = npm.step(x, y)
        lt = float(tm.step(tx, ty).item())
        assert abs(ln - lt) <= 1e-4 * max(1.0, abs(ln))


def test_step_flops_counts_forward_and_backward():
    # forward 2BIO per layer, backward 4BIO except no input gradient for layer 0
    assert bench.step_flops([2, 3, 4], 10) == 2 * 10 * 2 * 3 * 2 + 2 * 10 * 3 * 4 * 3


def test_fma_peak_is_positive():
    from microinit._kernels import matmul

    assert matmul.fma_peak(0.005) > 0.1


def test_runner_quick_smoke(tmp_path, capsys):
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    rc = bench.main(["--quick", "--sizes", "tiny", "--threads", "1", "--repeats", "2", "--no-matmul",
                     "--no-torch", "--json", str(out), "--markdown", str(md)])
    assert rc == 0
    data = json.loads(out.read_text())
    row = data["steps"][0]
    assert row["size"] == "tiny" and row["microinit"]["median"] > 0 and row["numpy"]["median"] > 0
    assert data["memory"][0]["numpy_bytes"] > 0
    assert "| tiny 2-16-16-1 (100) | 1 |" in md.read_text()
    assert bench.main(["--sizes", "huge"]) == 2

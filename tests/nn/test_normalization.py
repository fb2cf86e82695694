"""BatchNorm1d and LayerNorm (microinit/nn/normalization.py) against torch.nn's layers of
the same names: forward, gradients and running statistics in train() and eval() mode,
momentum=None, no running statistics; buffers in state_dict and through save/load; the
layers inside a Sequential keep its fused Dense runs."""
import numpy as np
import pytest

import microinit as mi
from microinit import nn

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _torch_bn(torch, ours, dtype):
    t = torch.nn.BatchNorm1d(ours.num_features, eps=ours.eps, momentum=ours.momentum, affine=ours.affine,
                             track_running_stats=ours.track_running_stats,
                             dtype=torch.float32 if dtype == np.float32 else torch.float64)
    if ours.affine:
        with torch.no_grad():
            t.weight.copy_(torch.tensor(ours.weight.data))
            t.bias.copy_(torch.tensor(ours.bias.data))
    return t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("affine, track", [(True, True), (False, True), (True, False)])
def test_batchnorm1d_matches_torch_over_train_and_eval_steps(dtype, momentum, affine, track):
    torch = pytest.importorskip("torch")
    bn = nn.BatchNorm1d(3, momentum=momentum, affine=affine, track_running_stats=track, dtype=dtype)
    if affine:
        bn.weight.data[...] = [0.5, 1.5, -1.0]
        bn.bias.data[...] = [0.1, 0.0, 2.0]
    tbn = _torch_bn(torch, bn, dtype)
    rng = np.random.default_rng(0)
    for step in range(4):
        shape = (6, 3) if step % 2 else (4, 3, 5)
        x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        xs = mi.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        y, ty = bn(xs), tbn(tx)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(xs.grad, tx.grad.numpy(), **TOL[dtype])
        if affine:
            np.testing.assert_allclose(bn.weight.grad, tbn.weight.grad.numpy(), **TOL[dtype])
            np.testing.assert_allclose(bn.bias.grad, tbn.bias.grad.numpy(), **TOL[dtype])
            bn.zero_grad()
            tbn.zero_grad()
        if track:
            np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), **TOL[dtype])
            np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), **TOL[dtype])
            assert int(bn.num_batches_tracked) == int(tbn.num_batches_tracked)
        if step == 2:
            bn.eval()
            tbn.eval()
    assert bn.training is False


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    ln = nn.LayerNorm((2, 3), dtype=dtype)
    ln.weight.data[...] = np.arange(6).reshape(2, 3) / 3
    tln = torch.nn.LayerNorm((2, 3), dtype=torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        tln.weight.copy_(torch.tensor(ln.weight.data))
    x = np.random.default_rng(1).standard_normal((4, 2, 3)).astype(dtype)
    xs, tx = mi.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ln(xs), tln(tx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(xs.grad, tx.grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(ln.weight.grad, tln.weight.grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(ln.bias.grad, tln.bias.grad.numpy(), **TOL[dtype])
    ln.eval()  # LayerNorm is the same in both modes
    np.testing.assert_array_equal(ln(x).data, y.data)


def test_buffers_are_in_state_dict_in_torchs_order_and_restored(tmp_path):
    model = nn.Sequential(nn.Dense(2, 3, rng=0), nn.BatchNorm1d(3), nn.Dense(3, 1, rng=1))
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "2.weight", "2.bias"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias",
                                                        "2.weight", "2.bias"]
    assert [n for n, _ in model.named_buffers()] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    x = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
    for _ in range(3):
        model(x)
    path = tmp_path / "bn.npz"
    model.save(path)
    fresh = nn.Sequential(nn.Dense(2, 3, rng=5), nn.BatchNorm1d(3), nn.Dense(3, 1, rng=6))
    fresh.load(path)
    for (k, a), (k2, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert int(fresh[1].num_batches_tracked) == 3
    np.testing.assert_array_equal(fresh.eval()(x).data, model.eval()(x).data)


def test_load_state_dict_checks_buffers_and_keeps_them_in_place():
    bn = nn.BatchNorm1d(2)
    mean = bn.running_mean
    state = bn.state_dict()
    state["running_mean"] = np.array([1.0, 2.0])  # float64 into a float32 buffer: cast
    bn.load_state_dict(state)
    assert bn.running_mean is mean and mean.tolist() == [1.0, 2.0]
    bad = dict(state, running_var=np.ones(3), num_batches_tracked=np.array(1.5))
    with pytest.raises(ValueError) as err:
        bn.load_state_dict(bad)
    assert "size mismatch for running_var: state (3,) vs model (2,)" in str(err.value)
    assert "num_batches_tracked: dtype float64 cannot be loaded into a int64 buffer" in str(err.value)
    assert bn.running_var.tolist() == [1.0, 1.0]  # unchanged on error


def test_register_buffer_rules():
    m = nn.Module()
    m.register_buffer("stats", np.zeros(2))
    m.stats = np.ones(2)  # assigning the name replaces the buffer
    assert m.buffers()[0].tolist() == [1.0, 1.0]
    m.register_buffer("off", None)
    assert list(m.state_dict()) == ["stats"]
    with pytest.raises(TypeError, match="register_buffer: buffer 'x' must be a numpy array or None, got list"):
        m.register_buffer("x", [1.0])
    with pytest.raises(ValueError, match="without '.'"):
        m.register_buffer("a.b", np.zeros(1))
    del m.stats
    assert m.buffers() == []


def test_sequential_keeps_fused_dense_runs_around_the_new_layers():
    model = nn.Sequential(nn.Dense(2, 4, activation="relu", rng=0), nn.Dense(4, 4, rng=1),
                          nn.BatchNorm1d(4), nn.Dropout(0.5), nn.LayerNorm(4),
                          nn.Dense(4, 3, activation="tanh", rng=2), nn.Dense(3, 1, rng=3))
    x = mi.tensor(np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32))
    y = model.eval()(x)
    assert y.grad_fn == "DenseChainBackward"  # the last run is one fused op
    h = model[0:2](x)
    assert h.grad_fn == "DenseChainBackward"
    manual = model[6](model[5](model[4](model[3](model[2](h)))))
    np.testing.assert_array_equal(y.data, manual.data)
    assert model.train()[3].training and model[2].training


@pytest.mark.parametrize("make, shape, match", [
    (lambda: nn.BatchNorm1d(3), (4, 2),
     r"BatchNorm1d layer expects input of shape \(batch, 3\) or \(batch, 3, length\), but received shape \(4, 2\)"),
    (lambda: nn.BatchNorm1d(3), (4,), r"BatchNorm1d layer expects input"),
    (lambda: nn.LayerNorm(3), (4, 2), r"LayerNorm layer expects input whose last dimensions are \(3,\), "
                                      r"but received shape \(4, 2\)"),
])
def test_bad_input_shapes_name_the_layer(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.zeros(shape, np.float32))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="BatchNorm1d: num_features must be a positive int, got 0"):
        nn.BatchNorm1d(0)
    with pytest.raises(TypeError, match="BatchNorm1d: momentum must be a number or None"):
        nn.BatchNorm1d(2, momentum="0.1")
    with pytest.raises(TypeError, match="LayerNorm: dtype must be float32 or float64"):
        nn.LayerNorm(2, dtype=np.int32)
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be a non-empty"):
        nn.LayerNorm(())

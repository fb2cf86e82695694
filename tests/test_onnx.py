"""microinit.onnx.export: onnxruntime runs the written file with microinit's outputs
(atol 1e-5). Needs onnx and onnxruntime (.ci/run installs both); skipped without them."""
import os

import numpy as np
import pytest

from microinit import nn
from microinit.ops.activations import ACTIVATIONS, DEFAULT_PARAM

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'microinit[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from microinit import onnx as mi_onnx  # noqa: E402  (after the skips: it needs onnx)


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def _check(model, tmp_path, x, atol=1e-5):
    path = tmp_path / "model.onnx"
    proto = mi_onnx.export(model, path, x[:2])
    assert proto.opset_import[0].version >= 17
    onnx.checker.check_model(onnx.load(str(path)))
    model.eval()
    want = model(x).data
    got = _run(path, x)  # another batch size than the example's: the batch axis is free
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, atol=atol, rtol=1e-5)
    return proto


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_fused_in_dense(activation, tmp_path, rng):
    model = nn.MLP([5, 16, 16, 3], activation=activation, rng=0)
    _check(model, tmp_path, rng.standard_normal((7, 5)).astype(np.float32) * 2)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_module(activation, tmp_path, rng):
    param = {"leaky_relu": 0.2, "elu": 0.7}.get(activation)
    act = nn.activation_module(activation, param)
    model = nn.Sequential(nn.Dense(4, 6, rng=0), act, nn.Dense(6, 2, bias=False, rng=1))
    _check(model, tmp_path, rng.standard_normal((9, 4)).astype(np.float32) * 3)


@pytest.mark.parametrize("name, param", [(n, p) for n, p in DEFAULT_PARAM.items()] + [("leaky_relu", 0.3),
                                                                                       ("elu", 2.0)])
def test_activation_parameters_are_kept(name, param, tmp_path, rng):
    model = nn.Sequential(nn.Dense(3, 8, activation=name, activation_param=param, rng=0), nn.Dense(8, 1, rng=0))
    _check(model, tmp_path, rng.standard_normal((6, 3)).astype(np.float32) * 3)


def test_float64_model(tmp_path, rng):
    model = nn.MLP([3, 8, 2], activation="tanh", rng=0, dtype=np.float64)
    proto = _check(model, tmp_path, rng.standard_normal((4, 3)), atol=1e-12)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_dense_maps_to_gemm_with_the_in_out_weight(tmp_path):
    model = nn.Sequential(nn.Dense(3, 2, rng=0), nn.Dense(2, 2, bias=False, rng=0))
    proto = mi_onnx.export(model, tmp_path / "m.onnx", np.zeros((1, 3), np.float32))
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Gemm", "MatMul", "Identity"]
    w = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    assert any(a.shape == (3, 2) and np.array_equal(a, model[0].weight.data) for a in w.values())


def _layer(name):
    cls = getattr(nn, name, None)
    if cls is None:
        pytest.skip(f"microinit.nn has no {name} on this branch (it comes from the layers16 branch)")
    return cls


def _train_a_bit(model, x):
    # a few training-mode forwards so BatchNorm's running statistics are not the defaults
    model.train()
    for i in range(3):
        model(x * (1 + i))


def test_layer_norm(tmp_path, rng):
    LayerNorm = _layer("LayerNorm")
    norm = LayerNorm(6)
    norm.weight.data[:] = rng.standard_normal(6)
    norm.bias.data[:] = rng.standard_normal(6)
    model = nn.Sequential(nn.Dense(4, 6, rng=0), norm, nn.ReLU(), nn.Dense(6, 2, rng=0))
    _check(model, tmp_path, rng.standard_normal((5, 4)).astype(np.float32))
    plain = nn.Sequential(nn.Dense(4, 6, rng=0), LayerNorm(6, eps=1e-3, elementwise_affine=False))
    _check(plain, tmp_path, rng.standard_normal((5, 4)).astype(np.float32))


def test_batch_norm_in_eval_mode(tmp_path, rng):
    BatchNorm1d = _layer("BatchNorm1d")
    x = rng.standard_normal((16, 4)).astype(np.float32)
    model = nn.Sequential(nn.Dense(4, 8, rng=0), BatchNorm1d(8), nn.Tanh(), nn.Dense(8, 3, rng=0))
    _train_a_bit(model, x)
    assert not np.allclose(model[1].running_mean.data if hasattr(model[1].running_mean, "data")
                           else model[1].running_mean, 0)
    _check(model, tmp_path, x)
    plain = nn.Sequential(nn.Dense(4, 8, rng=0), BatchNorm1d(8, affine=False, eps=1e-3))
    _train_a_bit(plain, x)
    _check(plain, tmp_path, x)


def test_batch_norm_without_running_stats_is_refused(tmp_path):
    BatchNorm1d = _layer("BatchNorm1d")
    model = nn.Sequential(nn.Dense(4, 8, rng=0), BatchNorm1d(8, track_running_stats=False))
    with pytest.raises(TypeError, match=r"onnx.export: Sequential\[1\]: BatchNorm1d without running statistics"):
        mi_onnx.export(model, tmp_path / "m.onnx", np.zeros((2, 4), np.float32))


def test_dropout_is_left_out(tmp_path, rng):
    Dropout = _layer("Dropout")
    model = nn.Sequential(nn.Dense(4, 8, activation="relu", rng=0), Dropout(0.5), nn.Dense(8, 2, rng=0))
    proto = _check(model, tmp_path, rng.standard_normal((6, 4)).astype(np.float32))
    assert "Dropout" not in [n.op_type for n in proto.graph.node]


def test_unsupported_module_names_it(tmp_path):
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2

    model = nn.Sequential(nn.Dense(2, 2, rng=0), Doubler())
    with pytest.raises(TypeError, match=r"onnx.export: Sequential\[1\]: Doubler has no ONNX export"):
        mi_onnx.export(model, tmp_path / "m.onnx", np.zeros((1, 2), np.float32))
    assert not os.listdir(tmp_path)  # nothing written


def test_bad_arguments(tmp_path):
    model = nn.MLP([2, 3, 1], rng=0)
    with pytest.raises(TypeError, match="model must be a microinit Module"):
        mi_onnx.export(object(), tmp_path / "m.onnx", np.zeros((1, 2)))
    with pytest.raises(ValueError, match="opset must be an int >= 17"):
        mi_onnx.export(model, tmp_path / "m.onnx", np.zeros((1, 2)), opset=13)
    with pytest.raises(ValueError, match=r"example_input should have shape \(batch, features\)"):
        mi_onnx.export(model, tmp_path / "m.onnx", np.zeros(2))
    with pytest.raises(ValueError, match="in_features=2"):  # the model's own error
        mi_onnx.export(model, tmp_path / "m.onnx", np.zeros((1, 5)))


def test_written_atomically_over_an_old_file(tmp_path, rng):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    model = nn.MLP([3, 4, 1], rng=0)
    mi_onnx.export(model, path, np.zeros((1, 3), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]  # no temporary file left behind
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(_run(path, x), model(x).data, atol=1e-5)


def test_export_keeps_the_training_flag(tmp_path):
    model = nn.MLP([3, 4, 1], rng=0)
    model.train()
    mi_onnx.export(model, tmp_path / "m.onnx", np.zeros((1, 3), np.float32))
    assert model.training


@pytest.mark.parametrize("opset", [17, 18, 20])
def test_later_opsets(opset, tmp_path, rng):
    model = nn.MLP([3, 8, 2], activation="gelu", rng=0)
    proto = mi_onnx.export(model, tmp_path / "m.onnx", np.zeros((1, 3), np.float32), opset=opset)
    assert proto.opset_import[0].version == opset
    x = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), model(x).data, atol=1e-5)


def test_a_single_layer_and_a_tensor_example(tmp_path, rng):
    from microinit import tensor
    layer = nn.Linear(4, 3, activation="elu", activation_param=0.5, rng=0)
    path = tmp_path / "layer.onnx"
    mi_onnx.export(layer, path, tensor(np.zeros((1, 4), np.float32)))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(_run(path, x), layer(x).data, atol=1e-5)


def test_nested_sequential(tmp_path, rng):
    inner = nn.Sequential(nn.Dense(3, 5, rng=0), nn.SELU())
    model = nn.Sequential(inner, nn.Dense(5, 2, activation="softplus", rng=1), nn.Identity())
    _check(model, tmp_path, rng.standard_normal((4, 3)).astype(np.float32))

"""The fused Dense runs of Sequential/MLP (one tensor.dense_chain op per run of Dense
layers): equality with the layer-by-layer path (fuse=False), hooks that observe a run
(bitwise-identical results, a replacing hook raises), fallbacks and graph rules."""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microinit as mi
from microinit import nn
from microinit._kernels import reference as R


# --------------------------------------------------------------------------- Sequential / MLP
def _noop(module, inputs, output):
    return None


def _run(model, x, g):
    """Output and the gradients of every parameter (and x) after backward(g)."""
    for p in model.parameters():
        p.grad = None
    if isinstance(x, mi.Tensor):
        x.grad = None
    y = model(x)
    y.backward(g)
    grads = [p.grad.copy() for p in model.parameters()]
    if isinstance(x, mi.Tensor) and x.requires_grad:
        grads.append(x.grad.copy())
    return y, grads


def _per_layer(model, x, g):
    """The same, with fuse=False so Sequential runs the layers one by one."""
    model.fuse = False
    try:
        y, grads = _run(model, x, g)
    finally:
        model.fuse = True
    assert y.grad_fn != "DenseChainBackward"
    return y, grads


def _assert_same(a, b, dtype):
    ya, ga = a
    yb, gb = b
    tol = 1e-6 if np.dtype(dtype) == np.float32 else 1e-13
    assert ya.dtype == yb.dtype and len(ga) == len(gb)
    np.testing.assert_allclose(ya.data, yb.data, rtol=tol, atol=tol)
    for p, q in zip(ga, gb):
        assert p.dtype == q.dtype
        np.testing.assert_allclose(p, q, rtol=tol * 10, atol=tol * 10)


def _check_fused(model, x, g, dtype):
    """model(x) is one fused chain at the end and agrees with the per-layer path."""
    fused = _run(model, x, g)
    assert fused[0].grad_fn == "DenseChainBackward"
    _assert_same(fused, _per_layer(model, x, g), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["relu", "tanh", "gelu", "leaky_relu"])
def test_mlp_fused_equals_per_layer(rng, dtype, act):
    model = nn.MLP([4, 16, 8, 3], activation=act, rng=1, dtype=dtype)
    for p in model.parameters():  # non-zero biases, so their path is exercised
        p.data[...] += 0.1 * rng.standard_normal(p.shape).astype(dtype)
    x = mi.Tensor(rng.standard_normal((10, 4)).astype(dtype), requires_grad=True)
    g = rng.standard_normal((10, 3)).astype(dtype)
    _check_fused(model, x, g, dtype)


def test_sequential_with_other_modules_and_no_bias_layers(rng):
    model = nn.Sequential(nn.Dense(3, 5, activation="elu", activation_param=0.7, rng=0, dtype=np.float64),
                          nn.Dense(5, 4, bias=False, rng=1, dtype=np.float64),
                          nn.Tanh(),
                          nn.Dense(4, 4, activation="selu", rng=2, dtype=np.float64),
                          nn.Dense(4, 2, bias=False, rng=3, dtype=np.float64))
    x = mi.Tensor(rng.standard_normal((6, 3)), requires_grad=True)
    g = rng.standard_normal((6, 2))
    _check_fused(model, x, g, np.float64)


def test_shared_layer_twice_in_a_run_accumulates_both_uses(rng):
    layer = nn.Dense(3, 3, activation="tanh", rng=0, dtype=np.float64)
    model = nn.Sequential(layer, layer, nn.Dense(3, 2, rng=1, dtype=np.float64))
    x = mi.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    g = rng.standard_normal((4, 2))
    _check_fused(model, x, g, np.float64)


def test_hook_on_the_middle_layer_fires_and_sees_its_output(rng):
    model = nn.MLP([3, 6, 5, 4, 2], activation="tanh", rng=0, dtype=np.float64)
    x = mi.Tensor(rng.standard_normal((7, 3)), requires_grad=True)
    seen = []
    handle = model[1].register_forward_hook(lambda m, inp, out: seen.append((m, inp, out)))
    y = model(x)
    assert len(seen) == 1
    mod, inp, out = seen[0]
    assert mod is model[1]
    h0 = model[0].forward(x)
    np.testing.assert_allclose(inp[0].data, h0.data, rtol=1e-14)
    np.testing.assert_allclose(out.data, model[1].forward(h0).data, rtol=1e-14)
    # the layers after the hooked one are still a fused run, fed the hooked output
    assert y.grad_fn == "DenseChainBackward"
    np.testing.assert_allclose(y.data, model[3].forward(model[2].forward(out)).data, rtol=1e-14)
    handle.remove()

    # a hook that replaces the output of a layer inside a fused run is refused ...
    model[1].register_forward_hook(lambda m, inp, out: out * 0.5)
    with pytest.raises(RuntimeError, match=r"Dense layer '1'.*replacement.*fuse=False"):
        model(x)
    # ... and honoured layer by layer: it changes what the rest of the network sees
    model.fuse = False
    y2 = model(x)
    np.testing.assert_allclose(y2.data, model[3].forward(model[2].forward(0.5 * out)).data, rtol=1e-13)
    y2.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in model.parameters())


def test_float64_input_into_float32_mlp(rng):
    # docs/reliability.md row 60: a float32 model computes in float32 whatever comes in;
    # a float64 batch is cast (it would lose precision) with one warning per model.
    model = nn.MLP([3, 8, 2], activation="relu", rng=0)  # float32
    x64 = rng.standard_normal((5, 3))
    with pytest.warns(UserWarning, match=r"Dense layer '0'.*float64.*float32.*once per model") as caught:
        y = model(x64)
        model(x64)
        model(mi.Tensor(x64))
    assert len(caught) == 1
    assert y.dtype == model[0].forward(x64).dtype == np.float32
    np.testing.assert_array_equal(y.data, model(x64.astype(np.float32)).data)
    raw = [(d.weight.data, d.bias.data, d.activation or "identity", 0.0) for d in model]
    np.testing.assert_allclose(y.data, R.dense_chain_forward(x64.astype(np.float32), raw)[0], rtol=1e-6)
    # a float64 input that requires grad is cast by a recorded op: its grad is float64,
    # and the fused and layer-by-layer paths agree
    xt = mi.Tensor(x64, requires_grad=True)
    g = rng.standard_normal((5, 2)).astype(np.float32)
    fused, per_layer = _run(model, xt, g), _per_layer(model, xt, g)
    _assert_same(fused, per_layer, np.float32)
    assert fused[1][-1].dtype == np.float64
    for p in model.parameters():
        assert p.grad.dtype == p.dtype == np.float32


@pytest.mark.parametrize("fuse", [True, False])
def test_lists_ints_and_float32_into_a_float64_model_compute_in_its_dtype(fuse):
    model = nn.MLP([3, 4, 2], activation="tanh", rng=0, dtype=np.float64)
    model.fuse = fuse
    rows = [[1, 2, 3], [4, 5, 6]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # widening casts are silent
        outs = [model(rows), model(np.array(rows)), model(np.array(rows, np.float32)),
                model(mi.tensor(rows, dtype="float32"))]
    for out in outs:
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out.data, outs[0].data)


@pytest.mark.parametrize("bad, what", [(None, "NoneType"), ("ab", "str"), ({}, "dict"), ({1, 2}, "set"),
                                       ([[1, 2], [3]], "not a rectangular array"),
                                       (np.array(["a", "b"]), "dtype <U1"), (np.zeros((2, 3), complex), "complex128"),
                                       (print, "builtin_function_or_method")])
@pytest.mark.parametrize("fuse", [True, False])
def test_model_refuses_what_is_not_a_batch_with_typeerror(bad, what, fuse):
    # docs/reliability.md row 61
    model = nn.Sequential(nn.Dense(3, 4, rng=0), nn.ReLU(), nn.Dense(4, 2, rng=0), fuse=fuse)
    with pytest.raises(TypeError, match=rf"Dense layer '0' expects a 2-D batch .*received .*{re.escape(what)}"):
        model(bad)
    with pytest.raises(TypeError, match=r"Dense layer expects a 2-D batch"):
        nn.Dense(3, 4, rng=0)(bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_input(rng, dtype):
    model = nn.MLP([3, 8, 4, 2], activation="gelu", rng=0, dtype=dtype)
    base = rng.standard_normal((6, 7)).astype(dtype)
    views = {"strided": base[:, 1:7:2], "fortran": np.asfortranarray(base[:, :3])}
    g = rng.standard_normal((6, 2)).astype(dtype)
    for why, view in views.items():
        assert not view.flags.c_contiguous
        dense_x = np.ascontiguousarray(view)
        np.testing.assert_allclose(model(view).data, model(dense_x).data, rtol=1e-6, atol=1e-7,
                                   err_msg=why)
        xv, xc = mi.Tensor(view, requires_grad=True), mi.Tensor(dense_x, requires_grad=True)
        _assert_same(_run(model, xv, g), _run(model, xc, g), dtype)


def test_width_mismatch_raises_the_layer_named_error():
    model = nn.Sequential(nn.Dense(2, 3, rng=0), nn.Dense(4, 5, rng=0))
    x = np.ones((6, 2), np.float32)
    with pytest.raises(ValueError) as fused:
        model(x)
    model.fuse = False
    with pytest.raises(ValueError) as per_layer:
        model(x)
    model.fuse = True
    assert str(fused.value) == str(per_layer.value)
    msg = str(fused.value)
    assert "in_features=4" in msg and "(6, 3)" in msg
    # a bad input width is reported by the first layer, not as a kernel refusal
    with pytest.raises(ValueError, match=r"in_features=2.*\(6, 7\)"):
        model(np.ones((6, 7), np.float32))


def test_no_grad_records_nothing(rng):
    model = nn.MLP([3, 5, 2], activation="relu", rng=0)
    x = mi.Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    with mi.no_grad():
        y = model(x)
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_allclose(y.data, model(x).data, rtol=1e-6)


def test_frozen_parameters_and_input_grad(rng):
    model = nn.MLP([3, 5, 4, 2], activation="tanh", rng=0, dtype=np.float64)
    x_data = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 2))
    _, want = _per_layer(model, mi.Tensor(x_data, requires_grad=True), g)
    names = [name for name, _ in model.named_parameters()]
    frozen = {names[0], names[3]}  # the first weight and the middle bias
    for name, p in model.named_parameters():
        p.requires_grad = name not in frozen
        p.grad = None

    x = mi.Tensor(x_data)  # does not require grad
    y = model(x)
    assert y.grad_fn == "DenseChainBackward"
    y.backward(g)
    assert x.grad is None
    for (name, p), w in zip(model.named_parameters(), want):
        if name in frozen:
            assert p.grad is None, name
        else:
            np.testing.assert_allclose(p.grad, w, rtol=1e-12, atol=1e-13, err_msg=name)

    xr = mi.Tensor(x_data, requires_grad=True)
    model(xr).backward(g)
    np.testing.assert_allclose(xr.grad, want[-1], rtol=1e-12, atol=1e-13)

    for p in model.parameters():
        p.requires_grad = False
    y = model(mi.Tensor(x_data))
    assert y.grad_fn is None and not y.requires_grad


def test_in_place_weight_change_before_backward_raises(rng):
    model = nn.MLP([3, 5, 4, 2], activation="relu", rng=0)
    x = mi.Tensor(rng.standard_normal((4, 3)).astype(np.float32))
    y = model(x)
    assert y.grad_fn == "DenseChainBackward"
    model[1].weight.add_(1.0)
    with pytest.raises(RuntimeError, match="version"):
        y.sum().backward()


def test_retain_graph_second_backward_doubles_grads(rng):
    model = nn.MLP([3, 5, 4, 2], activation="elu", rng=0, dtype=np.float64)
    x = mi.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = model(x)
    assert y.grad_fn == "DenseChainBackward"
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    first = [p.grad.copy() for p in model.parameters()] + [x.grad.copy()]
    loss.backward()
    for a, p in zip(first, list(model.parameters()) + [x]):
        np.testing.assert_allclose(p.grad, 2 * a, rtol=1e-13)
    with pytest.raises(RuntimeError):
        loss.backward()


def test_upstream_gradient_that_is_not_plain(rng):
    # a transposed (non-contiguous) or float64 gradient into a float32 chain is converted
    model = nn.MLP([3, 5, 2], activation="sigmoid", rng=0)
    x = mi.Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    c = rng.standard_normal((2, 4)).astype(np.float32)
    g = np.ascontiguousarray(c.T)
    _, want = _per_layer(model, x, g)
    for p in model.parameters():
        p.grad = None
    x.grad = None
    y = model(x)
    assert y.grad_fn == "DenseChainBackward"
    (y.T * mi.Tensor(c)).sum().backward()  # y's gradient arrives as a transposed view
    got = [p.grad for p in model.parameters()] + [x.grad]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for p in model.parameters():
        p.grad = None
    model(x).backward(g.astype(np.float64))
    for p, b in zip(model.parameters(), want):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad, b, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- hooks observe a fused run
def _models(dtype):
    return {
        "mlp": nn.MLP([4, 16, 8, 3], activation="tanh", rng=1, dtype=dtype),
        "mixed": nn.Sequential(nn.Dense(4, 6, activation="elu", rng=0, dtype=dtype),
                               nn.Dense(6, 5, bias=False, rng=1, dtype=dtype), nn.ReLU(),
                               nn.Dense(5, 3, activation="gelu", rng=2, dtype=dtype)),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["mlp", "mixed"])
def test_a_hook_changes_nothing_output_and_gradients_bitwise(rng, dtype, kind):
    model = _models(dtype)[kind]
    for p in model.parameters():  # non-zero biases
        p.data[...] += 0.1 * rng.standard_normal(p.shape).astype(dtype)
    x = mi.Tensor(rng.standard_normal((7, 4)).astype(dtype), requires_grad=True)
    g = rng.standard_normal((7, 3)).astype(dtype)
    y0, grads0 = _run(model, x, g)
    seen = []
    dense = [m for m in model if isinstance(m, nn.Dense)]
    handles = [m.register_forward_hook(lambda mod, inp, out: seen.append(mod)) for m in dense]
    y1, grads1 = _run(model, x, g)
    for h in handles:
        h.remove()
    assert seen == dense                              # every hook fired, in layer order
    assert y1.grad_fn == y0.grad_fn
    assert np.array_equal(y0.data, y1.data)
    assert len(grads0) == len(grads1) == len(model.parameters()) + 1
    for a, b in zip(grads0, grads1):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_hooks_of_a_run_see_each_layers_input_and_output_in_order(rng):
    model = nn.MLP([3, 5, 4, 2], activation="relu", rng=0, dtype=np.float64)
    x = mi.Tensor(rng.standard_normal((6, 3)), requires_grad=True)
    calls = []
    for m in model:
        m.register_forward_hook(lambda mod, inp, out: calls.append((mod, inp, out)))
    y = model(x)
    assert [c[0] for c in calls] == list(model)
    assert calls[0][1][0] is x and calls[-1][2] is y           # the run's own ends
    for (_, _, out), (_, inp, _) in zip(calls, calls[1:]):
        assert inp[0] is out                                   # layer i's output feeds layer i + 1
    h = x
    for (mod, inp, out) in calls:
        assert len(inp) == 1 and isinstance(out, mi.Tensor)
        want = mod.forward(h)
        np.testing.assert_allclose(out.data, want.data, rtol=1e-13, atol=1e-15)
        h = want
    # inner outputs are observations, not graph nodes
    assert all(isinstance(c[2], nn.ObservedOutput) and c[2].grad_fn is None for c in calls[:-1])


def test_a_hook_may_return_its_output_unchanged(rng):
    model = nn.MLP([3, 4, 2], rng=0)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    want = model(x).data
    model[0].register_forward_hook(lambda mod, inp, out: out)
    assert np.array_equal(model(x).data, want)


@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_replacing_hook_inside_a_run_raises_and_fuse_false_honours_it(rng, where):
    model = nn.MLP([3, 6, 5, 2], activation="tanh", rng=0, dtype=np.float64)
    x = rng.standard_normal((4, 3))
    clean = model(x).data.copy()
    model[where].register_forward_hook(lambda mod, inp, out: out * 0.0)
    with pytest.raises(RuntimeError) as info:
        model(x)
    msg = str(info.value)
    assert f"Dense layer '{where}'" in msg and "fuse=False" in msg and "directly" in msg
    unfused = nn.Sequential(list(model), fuse=False)
    y = unfused(x)
    if where == 2:
        assert not y.data.any()
    else:   # a zeroed hidden layer: the rest of the network sees zeros
        rest = unfused[where + 1:]
        rest.fuse = False
        np.testing.assert_allclose(y.data, rest(np.zeros((4, model[where].out_features))).data, rtol=1e-14)
    assert not np.array_equal(y.data, clean)
    model.fuse = False
    np.testing.assert_array_equal(model(x).data, y.data)
    assert "fuse=False" in repr(model) and "fuse=False" in repr(unfused)


def test_a_replacing_hook_on_a_dense_called_directly_is_honoured(rng):
    layer = nn.Dense(3, 2, rng=0)
    layer.register_forward_hook(lambda mod, inp, out: out * 0.0)
    model = nn.Sequential(layer)
    with pytest.raises(RuntimeError, match="Dense layer '0'"):
        model(np.ones((2, 3), np.float32))
    assert not layer(np.ones((2, 3), np.float32)).data.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_observed_output_gradient_equals_the_layer_by_layer_gradient(rng, dtype):
    model = nn.MLP([4, 7, 6, 5, 3], activation="gelu", rng=2, dtype=dtype)
    x = mi.Tensor(rng.standard_normal((8, 4)).astype(dtype), requires_grad=True)
    g = rng.standard_normal((8, 3)).astype(dtype)

    def grads_of_outputs(fuse):
        model.fuse = fuse
        outs = []
        handles = [m.register_forward_hook(lambda mod, inp, out: outs.append(out.retain_grad()))
                   for m in model]
        model(x).backward(g)
        for h in handles:
            h.remove()
        model.zero_grad()
        return [o.grad for o in outs]

    fused, per_layer = grads_of_outputs(True), grads_of_outputs(False)
    model.fuse = True
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(fused, per_layer):
        assert a is not None and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_observed_output_without_retain_grad_or_backward_has_no_grad(rng):
    model = nn.MLP([3, 4, 2], rng=0)
    outs = []
    model[0].register_forward_hook(lambda mod, inp, out: outs.append(out))
    model(rng.standard_normal((2, 3)).astype(np.float32)).sum().backward()
    assert outs[0].grad is None
    with mi.no_grad():
        model(rng.standard_normal((2, 3)).astype(np.float32))
    assert not outs[1].requires_grad and outs[1].retain_grad().grad is None


def test_a_hook_that_raises_stops_the_forward(rng):
    model = nn.MLP([3, 4, 2], rng=0)

    def stop(mod, inp, out):
        raise KeyError("stop here")

    model[0].register_forward_hook(stop)
    with pytest.raises(KeyError, match="stop here"):
        model(np.ones((2, 3), np.float32))


def test_fuse_flag_is_kept_by_slices_and_mlp():
    seq = nn.Sequential(nn.Dense(2, 3, rng=0), nn.Dense(3, 1, rng=0), fuse=False)
    assert seq.fuse is False and seq[:1].fuse is False
    assert nn.MLP([2, 3, 1], rng=0).fuse is True and nn.MLP([2, 3, 1], rng=0, fuse=False).fuse is False
    assert seq(np.ones((2, 2), np.float32)).grad_fn == "DenseBackward"


def test_a_fused_run_sees_reassigned_weights_bias_and_activation(rng):
    model = nn.MLP([3, 4, 2], activation="relu", rng=0, dtype=np.float64)
    x = rng.standard_normal((5, 3))
    model[0].weight = mi.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    model[0].activation = "tanh"
    model[1].bias = None
    want = np.tanh(x @ model[0].weight.data + model[0].bias.data) @ model[1].weight.data
    np.testing.assert_allclose(model(x).data, want, rtol=1e-13)
    model[1].bias = mi.Tensor(np.ones(2), requires_grad=True)
    model[0].activation_param, model[0].activation = 0.5, "leaky_relu"
    z = x @ model[0].weight.data + model[0].bias.data
    want = np.where(z > 0, z, 0.5 * z) @ model[1].weight.data + 1
    np.testing.assert_allclose(model(x).data, want, rtol=1e-13)


ACTS_OR_NONE = [None, "relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(widths=st.lists(st.integers(1, 9), min_size=2, max_size=5),
       acts=st.lists(st.sampled_from(ACTS_OR_NONE), min_size=4, max_size=4),
       hooked=st.lists(st.booleans(), min_size=4, max_size=4),
       batch=st.integers(1, 6), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_fuzz_hooks_never_change_a_fused_run(widths, acts, hooked, batch, dtype, seed):
    rng = np.random.default_rng(seed)
    model = nn.Sequential([nn.Dense(a, b, activation=act, bias_init="normal", rng=seed + i, dtype=dtype)
                           for i, (a, b, act) in enumerate(zip(widths, widths[1:], acts))])
    x = mi.Tensor(rng.standard_normal((batch, widths[0])).astype(dtype), requires_grad=True)
    g = rng.standard_normal((batch, widths[-1])).astype(dtype)
    y0, grads0 = _run(model, x, g)
    handles = [m.register_forward_hook(_noop) for m, h in zip(model, hooked) if h]
    y1, grads1 = _run(model, x, g)
    for h in handles:
        h.remove()
    assert np.array_equal(y0.data, y1.data)
    assert all(np.array_equal(a, b) for a, b in zip(grads0, grads1))
    _assert_same((y0, grads0), _per_layer(model, x, g), dtype)

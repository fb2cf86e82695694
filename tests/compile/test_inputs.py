"""Bad and unusual inputs to a compiled step: the eager step's behaviour, its errors,
and its NaN handling (docs/reliability.md rows 60, 61 for the batch's dtype)."""
import numpy as np
import pytest

import microinit as mi
from microinit import losses, nn, optim


def _setup(loss=losses.cross_entropy, out=3, **opt_kw):
    model = nn.MLP([4, 6, out], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1, **opt_kw)
    return model, opt, mi.compile_step(model, loss, opt)


def _xy(n=5, out=3, labels=True):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (rng.integers(0, out, n) if labels else rng.standard_normal((n, out)).astype(np.float32))


def _eager(model, opt, x, y):
    opt.zero_grad()
    loss = losses.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return float(loss.data)


def test_wrong_width_raises_the_layers_error():
    model, opt, step = _setup()
    x, y = _xy()
    step(x, y)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 4\)"):
        step(np.ones((5, 3), np.float32), y)


def test_wrong_label_count_and_kind_raise_the_loss_error():
    model, opt, step = _setup()
    x, y = _xy()
    step(x, y)
    with pytest.raises(ValueError):
        step(x, y[:3])
    with pytest.raises((TypeError, ValueError)):
        step(x, np.array(["a"] * 5))


def test_label_out_of_range_raises_like_eager_and_changes_nothing():
    model, opt, step = _setup()
    x, y = _xy()
    step(x, y)
    before = [p.data.copy() for p in model.parameters()]
    bad = y.copy()
    bad[2] = 7
    with pytest.raises(ValueError, match="7"):
        step(x, bad)
    for a, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(a, p.data)
    with pytest.raises(ValueError, match="7"):
        step.run(np.stack([x, x]), np.stack([y, bad]))


def test_other_dtypes_are_converted_as_eager_converts_them():
    model, opt, step = _setup()
    ref_model, ref_opt, _ = _setup()
    x, y = _xy()
    for xx, yy in [(x.astype(np.float64), y.astype(np.int32)), (x.tolist(), y.tolist()),
                   (mi.tensor(x), y)]:
        with pytest.warns(UserWarning) if isinstance(xx, np.ndarray) and xx.dtype == np.float64 else _nothing():
            got = step(xx, yy)
        assert got == _eager(ref_model, ref_opt, x, y)
    for a, b in zip(ref_model.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_nan_in_batch_raises_floating_point_error_and_updates_nothing():
    model, opt, step = _setup(loss=losses.mse)
    x, y = _xy(labels=False)
    step(x, y)
    before = [p.data.copy() for p in model.parameters()]
    count = opt.step_count
    x[1, 2] = np.nan
    with pytest.raises(FloatingPointError, match="contains NaN/inf; no parameter was updated"):
        step(x, y)
    for a, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(a, p.data)
    assert opt.step_count == count
    with pytest.raises(FloatingPointError, match="contains NaN/inf"):
        step.run(np.stack([x]), np.stack([y]))


def test_overflowing_update_raises_after_the_step():
    model, opt, step = _setup(loss=losses.mse)
    x, y = _xy(labels=False)
    step(x, y)
    opt.lr = 1e38
    with pytest.raises(FloatingPointError, match="became NaN/inf after the update"):
        step(x, y * 1e3)  # gradients ~1e2, finite; lr * gradient overflows float32
    assert opt.step_count == 2  # the step happened, as the eager optimizer counts it


@pytest.mark.parametrize("x_scale, y_scale", [(1, 1e36), (100, 2e38)])
def test_gradients_near_overflow_are_treated_as_eagerly(x_scale, y_scale):
    # Targets ~1e36: the bounds prove every gradient finite, the updates run fused.
    # ~2e38 with inputs ~100: a weight gradient overflows; the bounds do not prove it
    # finite, the scan finds it and the step refuses as the eager optimizer does,
    # updating nothing. (tests/kernels/test_kernel_program_grad_w.py has the case of
    # bounds that fail on finite gradients.)
    models = [nn.MLP([4, 6, 3], rng=0) for _ in range(2)]
    opts = [optim.SGD(m.parameters(), lr=1e-38) for m in models]
    step = mi.compile_step(models[1], losses.mse, opts[1])
    x, y = _xy(labels=False)
    step(x, y)
    opts[0].zero_grad()
    losses.mse(models[0](x), y).backward()
    opts[0].step()
    x, y = x * np.float32(x_scale), y * np.float32(y_scale)
    before = [p.data.copy() for p in models[1].parameters()]
    errors = []
    for run in (lambda: step(x, y), lambda: _eager_mse(models[0], opts[0], x, y)):
        try:
            run()
            errors.append(None)
        except FloatingPointError as err:
            errors.append(str(err))
    assert errors[0] == errors[1]
    assert (errors[0] is not None) == (y_scale > 1e37)
    for a, b, p0 in zip(models[0].parameters(), models[1].parameters(), before):
        np.testing.assert_array_equal(a.data, b.data)
        assert (errors[0] is None) or np.array_equal(p0, b.data)


def _eager_mse(model, opt, x, y):
    opt.zero_grad()
    losses.mse(model(x), y).backward()
    opt.step()


def test_run_checks_its_stacks():
    model, opt, step = _setup()
    x, y = _xy()
    with pytest.raises(ValueError, match="xs must have shape"):
        step.run(x, y)
    with pytest.raises(ValueError, match="ys must have shape"):
        step.run(np.stack([x, x]), np.stack([y]))
    with pytest.raises(TypeError, match="integer class labels"):
        step.run(np.stack([x]), np.stack([y]).astype(np.float32))
    assert step.run(np.zeros((0, 5, 4), np.float32), np.zeros((0, 5), np.int64)).shape == (0,)


def test_unset_momentum_buffer_runs_eagerly():
    """A momentum buffer reset by load_state_dict is initialised by the eager rule."""
    model, opt, step = _setup(momentum=0.9)
    ref_model, ref_opt, _ = _setup(momentum=0.9)
    x, y = _xy()
    step(x, y)
    state = opt.state_dict()
    state["buffer_ready"][:] = False
    opt.load_state_dict(state)
    ref_opt.load_state_dict(state)
    for a, b in zip(ref_model.parameters(), model.parameters()):
        a.data[...] = b.data
    for _ in range(2):
        assert step(x, y) == _eager(ref_model, ref_opt, x, y)


def test_inputs_that_require_grad_get_their_gradient_as_eagerly():
    model, opt, step = _setup(loss=losses.mse)
    x, y = _xy(labels=False)
    step(x, y)
    xt = mi.tensor(x, requires_grad=True)
    step(xt, y)
    assert xt.grad is not None and xt.grad.shape == x.shape
    assert repr(step) == "CompiledStep(MLP, MSELoss(reduction='mean'), SGD; programs for batch sizes [5])"

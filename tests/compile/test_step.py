"""compile_step against the eager step: the same parameters, optimizer state, losses
and gradients after N steps, for every supported layer, loss and optimizer."""
import numpy as np
import pytest

import microinit as mi
from microinit import losses, nn, optim

ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus", None]
OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.05),
    "sgd_momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "sgd_dampening": lambda p: optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
    "sgd_nesterov_wd": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05),
    "adam": lambda p: optim.Adam(p, lr=0.01, weight_decay=0.01),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
}


def _data(loss, n=12, width=3, out=4, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, width)).astype(dtype)
    if loss in ("cross_entropy", "xent"):
        return x, rng.integers(0, out, n)
    if loss == "hinge":
        return x, np.where(rng.random((n, out)) < 0.5, -1.0, 1.0).astype(dtype)
    if loss == "binary_cross_entropy_with_logits":
        return x, (rng.random((n, out)) < 0.5).astype(dtype)
    return x, rng.standard_normal((n, out)).astype(dtype)


def _pair(make_model, make_opt):
    eager_model, compiled_model = make_model(), make_model()
    return eager_model, make_opt(eager_model.parameters()), compiled_model, make_opt(compiled_model.parameters())


def _eager_step(model, loss_fn, opt, x, y):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return float(loss.data)


def _assert_same(eager_model, eager_opt, model, opt, exact=True):
    check = np.testing.assert_array_equal if exact else \
        (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6))
    for (name, a), (_, b) in zip(eager_model.named_parameters(), model.named_parameters()):
        check(a.data, b.data)
        check(a.grad, b.grad)
    for key, live in eager_opt.state_dict().items():
        other = opt.state_dict()[key]
        if isinstance(live, list):
            for a, b in zip(live, other):
                check(a, b)
        elif isinstance(live, np.ndarray):
            check(live, other)
        else:
            assert live == other, key


def _train_both(make_model, loss_name, make_opt, steps=4, **data):
    x, y = _data(loss_name, **data)
    loss_fn = losses.get(loss_name)
    em, eo, cm, co = _pair(make_model, make_opt)
    step = mi.compile_step(cm, loss_fn, co)
    for _ in range(steps):
        assert step(x, y) == _eager_step(em, loss_fn, eo, x, y)
    return em, eo, cm, co, step


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss_name", ["mse", "cross_entropy", "binary_cross_entropy_with_logits", "hinge"])
def test_mlp_matches_eager_bitwise(activation, loss_name):
    em, eo, cm, co, _ = _train_both(lambda: nn.MLP([3, 8, 5, 4], activation=activation, rng=1),
                                    loss_name, OPTIMIZERS["sgd"])
    _assert_same(em, eo, cm, co)


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizers_match_eager_bitwise(opt_name, dtype):
    make = lambda: nn.MLP([3, 8, 4], activation="tanh", rng=2, dtype=dtype)  # noqa: E731
    em, eo, cm, co, _ = _train_both(make, "cross_entropy", OPTIMIZERS[opt_name], steps=5, dtype=dtype)
    _assert_same(em, eo, cm, co)
    assert co.step_count == eo.step_count == 5


@pytest.mark.parametrize("module", [nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.2), nn.ELU(0.5),
                                    nn.SELU(), nn.GELU(), nn.Softplus(), nn.Identity()], ids=repr)
def test_activation_modules_after_dense(module):
    make = lambda: nn.Sequential(nn.Dense(3, 6, rng=3), module, nn.Linear(6, 4, rng=4))  # noqa: E731
    em, eo, cm, co, _ = _train_both(make, "mse", OPTIMIZERS["sgd_momentum"])
    _assert_same(em, eo, cm, co)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss_cls", [losses.MSELoss, losses.CrossEntropyLoss, losses.BCEWithLogitsLoss,
                                      losses.HingeLoss])
def test_loss_objects_and_reductions(loss_cls, reduction):
    loss = loss_cls(reduction=reduction)
    x, y = _data(loss.name)
    em, eo, cm, co = _pair(lambda: nn.MLP([3, 5, 4], rng=5), OPTIMIZERS["adam"])
    step = mi.compile_step(cm, loss, co)
    for _ in range(3):
        assert step(x, y) == _eager_step(em, loss, eo, x, y)
    _assert_same(em, eo, cm, co)


def test_blas_sized_layers_match_eager():
    """Products above ops.linalg.DENSE_BLAS_MIN go to numpy's BLAS in both steps."""
    em, eo, cm, co, _ = _train_both(lambda: nn.MLP([300, 100, 10], rng=6), "cross_entropy",
                                    OPTIMIZERS["sgd_momentum"], steps=2, n=80, width=300, out=10)
    _assert_same(em, eo, cm, co)


def test_run_matches_step_by_step():
    x, y = _data("cross_entropy", n=10)
    xs = np.stack([x + i for i in range(6)])
    ys = np.stack([np.roll(y, i) for i in range(6)])
    em, eo, cm, co = _pair(lambda: nn.MLP([3, 7, 4], rng=7), OPTIMIZERS["sgd_nesterov_wd"])
    step = mi.compile_step(cm, losses.cross_entropy, co)
    got = step.run(xs, ys)
    want = [_eager_step(em, losses.cross_entropy, eo, xs[i], ys[i]) for i in range(6)]
    assert got.dtype == np.float64 and got.tolist() == want
    _assert_same(em, eo, cm, co)
    assert co.step_count == 6


def test_new_batch_size_recaptures_and_caches():
    em, eo, cm, co = _pair(lambda: nn.MLP([3, 6, 4], rng=8), OPTIMIZERS["adam"])
    step = mi.compile_step(cm, losses.mse, co)
    for n in (12, 5, 12, 5, 7):
        x, y = _data("mse", n=n, seed=n)
        assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
    _assert_same(em, eo, cm, co)
    assert sorted(step._built) == [5, 7, 12]


def test_mixing_eager_and_compiled_steps():
    x, y = _data("cross_entropy")
    em, eo, cm, co = _pair(lambda: nn.MLP([3, 6, 4], rng=9), OPTIMIZERS["sgd_momentum"])
    step = mi.compile_step(cm, losses.cross_entropy, co)
    for i in range(6):
        want = _eager_step(em, losses.cross_entropy, eo, x, y)
        got = step(x, y) if i % 2 else _eager_step(cm, losses.cross_entropy, co, x, y)
        assert got == want
    _assert_same(em, eo, cm, co)


def test_schedule_lr_is_read_every_step():
    x, y = _data("mse")
    em, eo, cm, co = _pair(lambda: nn.MLP([3, 6, 4], rng=10), OPTIMIZERS["sgd"])
    es, cs = optim.CosineLR(eo, T_max=3), optim.CosineLR(co, T_max=3)
    step = mi.compile_step(cm, losses.mse, co)
    for _ in range(4):
        assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
        es.step()
        cs.step()
    _assert_same(em, eo, cm, co)


def test_grad_is_this_steps_gradient_and_zero_grad_works():
    x, y = _data("mse")
    em, eo, cm, co, step = _train_both(lambda: nn.MLP([3, 6, 4], rng=11), "mse", OPTIMIZERS["sgd"], steps=2)
    co.zero_grad()
    assert all(p.grad is None for p in cm.parameters())
    assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
    _assert_same(em, eo, cm, co)


def test_deterministic_run_to_run():
    results = []
    for _ in range(2):
        model = nn.MLP([3, 16, 4], rng=12)
        opt = optim.Adam(model.parameters(), lr=0.01)
        step = mi.compile_step(model, losses.cross_entropy, opt)
        x, y = _data("cross_entropy", n=40)
        step.run(np.stack([x] * 5), np.stack([y] * 5))
        results.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_replaced_parameter_array_recaptures():
    x, y = _data("mse")
    em, eo, cm, co, step = _train_both(lambda: nn.MLP([3, 6, 4], rng=13), "mse", OPTIMIZERS["sgd"], steps=2)
    for a, b in zip(em.parameters(), cm.parameters()):
        a.data = a.data.copy()
        b.data = b.data.copy()
    for _ in range(2):
        assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
    _assert_same(em, eo, cm, co)


RECORDED_MODELS = {
    "batchnorm_relu_dropout": lambda: nn.Sequential(nn.Dense(3, 8, rng=1), nn.BatchNorm1d(8), nn.ReLU(),
                                                    nn.Dropout(0.3, rng=5), nn.Dense(8, 4, rng=2)),
    "layernorm_tanh": lambda: nn.Sequential(nn.Dense(3, 8, rng=1), nn.LayerNorm(8), nn.Tanh(),
                                            nn.Dense(8, 4, rng=2)),
    "unfused_activations": lambda: nn.Sequential(nn.Dense(3, 8, activation="relu", rng=1), nn.SiLU(),
                                                 nn.Dense(8, 8, rng=3), nn.Mish(), nn.Hardtanh(),
                                                 nn.Dense(8, 4, rng=2)),
    "layernorm_first": lambda: nn.Sequential(nn.LayerNorm(3), nn.Dense(3, 8, activation="gelu", rng=1),
                                             nn.Dropout(0.5, rng=7), nn.Dense(8, 4, rng=2)),
    "layernorm_plain_float64": lambda: nn.Sequential(
        nn.Dense(3, 8, rng=1, dtype=np.float64), nn.LayerNorm(8, elementwise_affine=False, dtype=np.float64),
        nn.LeakyReLU(0.1), nn.Dense(8, 4, rng=2, dtype=np.float64)),
    "batchnorm_cumulative_elu": lambda: nn.Sequential(nn.Dense(3, 8, rng=1), nn.BatchNorm1d(8, momentum=None),
                                                      nn.ELU(), nn.Dense(8, 4, rng=2)),
}


@pytest.mark.parametrize("name", sorted(RECORDED_MODELS))
@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adamw"])
def test_dropout_and_normalization_match_eager_bitwise(name, opt_name):
    em, eo, cm, co, step = _train_both(RECORDED_MODELS[name], "cross_entropy", OPTIMIZERS[opt_name], steps=5)
    _assert_same(em, eo, cm, co)
    for a, b in zip(em.buffers(), cm.buffers()):
        np.testing.assert_array_equal(a, b)  # running statistics, batches tracked
    x, y = _data("cross_entropy")
    xs, ys = np.stack([x, x * 0.5, x + 1]), np.stack([y, y, y])
    got = step.run(xs, ys)
    assert got.tolist() == [_eager_step(em, losses.cross_entropy, eo, xs[i], ys[i]) for i in range(3)]
    _assert_same(em, eo, cm, co)


def test_dropout_on_the_default_generator_draws_as_eager():
    x, y = _data("mse")
    make = lambda: nn.Sequential(nn.Dense(3, 16, activation="relu", rng=1), nn.Dropout(0.5),  # noqa: E731
                                 nn.Dense(16, 4, rng=2))
    em, eo, cm, co = _pair(make, OPTIMIZERS["sgd"])
    mi.manual_seed(11)
    want = [_eager_step(em, losses.mse, eo, x, y) for _ in range(4)]
    mi.manual_seed(11)
    step = mi.compile_step(cm, losses.mse, co)
    assert [step(x, y) for _ in range(4)] == want
    _assert_same(em, eo, cm, co)


def test_changed_hyper_parameters_are_seen_by_run_and_recapture():
    x, y = _data("mse")
    em, eo, cm, co, step = _train_both(lambda: nn.MLP([3, 6, 4], rng=14), "mse",
                                       OPTIMIZERS["sgd_momentum"], steps=2)
    eo.momentum = co.momentum = 0.5
    assert step.run(np.stack([x]), np.stack([y])).tolist() == [_eager_step(em, losses.mse, eo, x, y)]
    eo.weight_decay = co.weight_decay = 0.1
    step.recapture()
    assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
    _assert_same(em, eo, cm, co)


@pytest.mark.parametrize("opt_name, name, value", [("sgd_momentum", "momentum", 0.5),
                                                    ("sgd_momentum", "nesterov", True),
                                                    ("sgd", "weight_decay", 0.1),
                                                    ("adam", "betas", (0.5, 0.9)), ("adam", "eps", 1e-3)])
def test_a_changed_hyper_parameter_is_seen_by_the_fast_path(opt_name, name, value):
    # no recapture() call: assigning the attribute is enough (hyper_version)
    x, y = _data("mse")
    em, eo, cm, co, step = _train_both(lambda: nn.MLP([3, 6, 4], rng=15), "mse", OPTIMIZERS[opt_name], steps=3)
    version = co.hyper_version
    setattr(eo, name, value)
    setattr(co, name, value)
    assert co.hyper_version == version + 1
    for _ in range(3):
        assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
    _assert_same(em, eo, cm, co)


def test_a_new_thread_count_recaptures_and_matches_eager():
    # which products go to BLAS depends on the thread count (matmul.uses_blas), so a
    # program is built per thread count, and either way the step equals the eager one
    before = mi.get_num_threads()
    x, y = _data("mse")
    em, eo, cm, co, step = _train_both(lambda: nn.MLP([3, 6, 4], rng=17), "mse", OPTIMIZERS["sgd"], steps=2)
    try:
        for threads in (1, 2, 1):
            mi.set_num_threads(threads)
            for _ in range(2):
                assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
            assert step._current.threads == threads
            xs, ys = np.stack([x, x]), np.stack([y, y])
            want = [_eager_step(em, losses.mse, eo, x, y) for _ in range(2)]
            assert step.run(xs, ys).tolist() == want
    finally:
        mi.set_num_threads(before)
    _assert_same(em, eo, cm, co)


def test_under_no_grad_a_compiled_step_refuses_as_the_eager_step_does():
    x, y = _data("mse")
    em, eo, cm, co, step = _train_both(lambda: nn.MLP([3, 6, 4], rng=16), "mse", OPTIMIZERS["sgd"], steps=2)
    with mi.no_grad():
        with pytest.raises(RuntimeError, match="backward") as eager_err:
            _eager_step(em, losses.mse, eo, x, y)
        with pytest.raises(RuntimeError, match="backward") as compiled_err:
            step(x, y)
        with pytest.raises(RuntimeError, match="backward"):
            step.run(np.stack([x]), np.stack([y]))
    assert str(compiled_err.value) == str(eager_err.value)
    # nothing was updated by the refused steps, and the program runs again afterwards
    _assert_same(em, eo, cm, co)
    assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)


def _eager_or_error(model, loss_fn, opt, x, y):
    try:
        return _eager_step(model, loss_fn, opt, x, y)
    except ValueError as err:
        return type(err)


def _compiled_or_error(step, x, y):
    try:
        return step(x, y)
    except ValueError as err:
        return type(err)


@pytest.mark.parametrize("loss_name", ["cross_entropy", "hinge"])
def test_steps_the_program_hands_back_leave_what_eager_leaves(loss_name):
    """ignore_index labels run eagerly, bad hinge targets raise: either way the running
    statistics and dropout draws are those of one eager step, not of two."""
    x, y = _data(loss_name)
    bad = y.copy()
    bad[3] = -100 if loss_name == "cross_entropy" else 0.5
    loss_fn = losses.get(loss_name)
    em, eo, cm, co = _pair(RECORDED_MODELS["batchnorm_relu_dropout"], OPTIMIZERS["sgd"])
    step = mi.compile_step(cm, loss_fn, co)
    for yy in (y, bad, y, bad):
        assert _compiled_or_error(step, x, yy) == _eager_or_error(em, loss_fn, eo, x, yy)
        for a, b in zip(em.parameters(), cm.parameters()):
            assert (a.grad is None) == (b.grad is None)
    assert step(x, y) == _eager_step(em, loss_fn, eo, x, y)
    _assert_same(em, eo, cm, co)
    for a, b in zip(em.buffers(), cm.buffers()):
        np.testing.assert_array_equal(a, b)


def test_train_and_eval_modes_switch_as_eagerly():
    """Dropout and BatchNorm read the module's mode at every step, as their eager ops do."""
    x, y = _data("cross_entropy")
    em, eo, cm, co = _pair(RECORDED_MODELS["batchnorm_relu_dropout"], OPTIMIZERS["adam"])
    step = mi.compile_step(cm, losses.cross_entropy, co)
    for mode in ("train", "eval", "train"):
        for model in (em, cm):
            getattr(model, mode)()
        for _ in range(2):
            assert step(x, y) == _eager_step(em, losses.cross_entropy, eo, x, y)
    _assert_same(em, eo, cm, co)
    for a, b in zip(em.buffers(), cm.buffers()):
        np.testing.assert_array_equal(a, b)


def test_a_program_that_fails_its_check_is_never_used(monkeypatch):
    """The capture check compares the program with a second eager step; a mismatch
    (forced here) warns once and every later step runs eagerly."""
    from microinit.compile import step as step_module

    monkeypatch.setattr(step_module._Snapshot, "mismatch", lambda self, other, rtol: "array 0 (forced)")
    x, y = _data("mse")
    em, eo, cm, co = _pair(lambda: nn.MLP([3, 6, 4], rng=15), OPTIMIZERS["sgd_momentum"])
    step = mi.compile_step(cm, losses.mse, co)
    with pytest.warns(RuntimeWarning, match="disagrees with the eager step in array 0"):
        assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
    for _ in range(2):
        assert step(x, y) == _eager_step(em, losses.mse, eo, x, y)
    assert step.run(np.stack([x]), np.stack([y])).tolist() == [_eager_step(em, losses.mse, eo, x, y)]
    assert step._fast is None and not step._built
    _assert_same(em, eo, cm, co)

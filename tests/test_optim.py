import math

import numpy as np
import pytest

from microinit import optim
from microinit.tensor import Tensor


def _params(rng, dtype=np.float64):
    shapes = [(3, 5), (5,), (5, 2), (2,)]
    return [rng.standard_normal(s).astype(dtype) * 0.5 for s in shapes]


def _loss(ps, X, Y):
    """A small tanh network in microinit: mean((tanh(X W1 + b1) W2 + b2 - Y)^2)."""
    W1, b1, W2, b2 = ps
    h = (X @ W1 + b1).tanh()
    d = h @ W2 + b2 - Y
    return (d * d).mean()


OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.2, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.85, 0.995), weight_decay=0.1)),
]


@pytest.mark.parametrize("name, kw", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_trajectory_matches_torch(rng, name, kw, dtype):
    torch = pytest.importorskip("torch")
    X = rng.standard_normal((16, 3)).astype(dtype)
    Y = rng.standard_normal((16, 2)).astype(dtype)
    init = _params(rng, dtype)
    ps = [Tensor(a.copy(), requires_grad=True) for a in init]
    tps = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, name)(ps, **kw)
    topt = getattr(torch.optim, name)(tps, **kw)
    tX, tY = torch.tensor(X), torch.tensor(Y)
    for _ in range(25):
        opt.zero_grad()
        _loss(ps, Tensor(X), Tensor(Y)).backward()
        opt.step()
        topt.zero_grad()
        W1, b1, W2, b2 = tps
        ((torch.tanh(tX @ W1 + b1) @ W2 + b2 - tY) ** 2).mean().backward()
        topt.step()
    tol = 1e-5 if dtype == np.float32 else 1e-10
    for p, tp in zip(ps, tps):
        assert p.data.dtype == dtype
        np.testing.assert_allclose(p.data, tp.detach().numpy(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_training_reduces_loss(rng, name):
    X = rng.standard_normal((32, 3))
    Y = np.tanh(X @ rng.standard_normal((3, 2)))
    ps = [Tensor(a, requires_grad=True) for a in _params(rng)]
    opt = getattr(optim, name)(ps, lr=0.05, **({"momentum": 0.9} if name == "SGD" else {}))
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = _loss(ps, Tensor(X), Tensor(Y))
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_params_without_grad_are_skipped(rng):
    torch = pytest.importorskip("torch")
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    ps = [Tensor(a.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)]
    tps = [torch.tensor(a.copy(), requires_grad=True), torch.tensor(b.copy(), requires_grad=True)]
    opt, topt = optim.Adam(ps, lr=0.1), torch.optim.Adam(tps, lr=0.1)
    for step in range(6):
        # the bias takes part only every other step: its Adam step count lags
        use_b = step % 2 == 0
        g = rng.standard_normal((2, 3))
        ps[0].grad, tps[0].grad = g.copy(), torch.tensor(g)
        gb = rng.standard_normal(3)
        ps[1].grad = gb.copy() if use_b else None
        tps[1].grad = torch.tensor(gb) if use_b else None
        v1 = ps[1]._version
        opt.step()
        topt.step()
        assert (ps[1]._version != v1) == use_b
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), atol=1e-12)
    assert opt._steps.tolist() == [6, 3]


def test_sgd_momentum_buffer_starts_when_param_first_gets_a_grad(rng):
    torch = pytest.importorskip("torch")
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    ps = [Tensor(a.copy()), Tensor(b.copy())]
    tps = [torch.tensor(a.copy()), torch.tensor(b.copy())]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tps, lr=0.1, momentum=0.9)
    for step in range(4):
        for j in range(2):
            g = rng.standard_normal(4)
            give = j == 0 or step >= 2
            ps[j].grad = g.copy() if give else None
            tps[j].grad = torch.tensor(g) if give else None
        opt.step()
        topt.step()
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.numpy(), atol=1e-12)


def test_steps_update_in_place_and_bump_versions(rng):
    p = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    arr = p.data
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    v = p._version
    p.grad = np.ones((3, 3))
    bufs = list(opt._bufs)
    opt.step()
    opt.step()
    assert p.data is arr and p._version == v + 2
    assert all(a is b for a, b in zip(bufs, opt._bufs))  # state allocated once


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_gradient_raises_naming_step_and_parameter(rng, bad):
    ps = [Tensor(rng.standard_normal((2, 2)), requires_grad=True) for _ in range(2)]
    opt = optim.Adam([("layer0.weight", ps[0]), ("layer1.weight", ps[1])], lr=0.1)
    for p in ps:
        p.grad = np.ones((2, 2))
    opt.step()
    before = [p.data.copy() for p in ps]
    ps[1].grad = np.ones((2, 2))
    ps[1].grad[0, 1] = bad
    with pytest.raises(FloatingPointError, match=r"Adam step 2: the gradient of parameter "
                                                 r"'layer1.weight' \(shape \(2, 2\), float64\)"):
        opt.step()
    for p, b in zip(ps, before):  # nothing was updated
        np.testing.assert_array_equal(p.data, b)
    assert opt.step_count == 1


def test_parameter_becoming_inf_raises():
    p = Tensor(np.array([1e308, 0.0]))
    opt = optim.SGD([p], lr=1e10)
    p.grad = np.array([-1e300, 0.0])
    with pytest.raises(FloatingPointError, match=r"SGD step 1: parameter #0 .* became NaN/inf"):
        opt.step()


def test_bad_params_argument():
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(3, lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.Adam(None)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    # a single Tensor is not iterated into 0-d copies that never update it (row 29)
    w = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    for cls in (optim.SGD, optim.Adam, optim.AdamW):
        with pytest.raises(TypeError, match=r"single Tensor of shape \(2, 3\).*\[w\]"):
            cls(w, lr=0.1)
    opt = optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_array_equal(w.data, np.zeros((2, 3), np.float32))  # 1 - 0.5 * 2
    with pytest.raises(TypeError, match="parameter 0 should be a Tensor"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="int64"):
        optim.SGD([Tensor(np.zeros(3, np.int64))], lr=0.1)
    t = Tensor(np.zeros(3))
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([t, t], lr=0.1)
    # a generator is consumed once and kept
    opt = optim.SGD((p for p in [Tensor(np.zeros(2))]), lr=0.1)
    assert len(opt.params) == 1


@pytest.mark.parametrize("kw", [dict(lr=-0.1), dict(lr=float("nan")), dict(lr=0.1, momentum=-1),
                                dict(lr=0.1, nesterov=True), dict(lr=0.1, weight_decay=-1)])
def test_bad_sgd_hyperparameters(kw):
    with pytest.raises(ValueError):
        optim.SGD([Tensor(np.zeros(2))], **kw)


@pytest.mark.parametrize("kw", [dict(betas=(1.0, 0.9)), dict(betas=(0.9,)), dict(eps=-1.0),
                                dict(lr="fast")])
def test_bad_adam_hyperparameters(kw):
    with pytest.raises(ValueError):
        optim.Adam([Tensor(np.zeros(2))], **kw)


def test_bad_gradient_shape_names_step_and_index():
    p = Tensor(np.zeros((3, 4)))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"SGD step 1: sgd: gradient 0 has shape \(4, 3\)"):
        opt.step()


def test_zero_grad_sets_none_and_repr():
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.ones(2)
    opt = optim.AdamW([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None
    assert "AdamW(1 parameters, lr=0.1" in repr(opt) and "weight_decay=0.01" in repr(opt)


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for make, tmake in [
        (lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
        (lambda o: optim.CosineLR(o, T_max=10, eta_min=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01)),
    ]:
        opt = optim.SGD([Tensor(np.zeros(1))], lr=0.2)
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
        s, ts = make(opt), tmake(topt)
        for _ in range(10):
            topt.step()
            s.step()
            ts.step()
            assert math.isclose(opt.lr, topt.param_groups[0]["lr"], rel_tol=1e-9, abs_tol=1e-12)


def test_schedule_values_and_errors():
    opt = optim.SGD([Tensor(np.zeros(1))], lr=1.0)
    s = optim.CosineLR(opt, T_max=4)
    assert [round(s.step(), 6) for _ in range(6)] == [0.853553, 0.5, 0.146447, 0.0, 0.0, 0.0]
    opt.lr = 1.0
    s = optim.StepLR(opt, 2, gamma=0.1)
    assert [s.step() for _ in range(4)] == pytest.approx([1.0, 0.1, 0.1, 0.01])
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(opt, 0)
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineLR(opt, 2.5)
    with pytest.raises(TypeError, match="optimizer"):
        optim.StepLR("sgd", 1)


@pytest.mark.parametrize("name, kw", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                      ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01))])
def test_state_dict_resume_matches_uninterrupted_training(rng, name, kw):
    X = rng.standard_normal((16, 3))
    Y = rng.standard_normal((16, 2))
    init = _params(rng)

    def run(ps, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            _loss(ps, Tensor(X), Tensor(Y)).backward()
            opt.step()

    ps = [Tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, name)(ps, **kw)
    run(ps, opt, 5)
    checkpoint = [p.data.copy() for p in ps], opt.state_dict()
    run(ps, opt, 5)
    # a fresh optimizer restored from the checkpoint continues identically
    ps2 = [Tensor(a.copy(), requires_grad=True) for a in checkpoint[0]]
    opt2 = getattr(optim, name)(ps2, **kw)
    opt2.load_state_dict(checkpoint[1])
    run(ps2, opt2, 5)
    for p, q in zip(ps, ps2):
        np.testing.assert_array_equal(p.data, q.data)
    assert opt2.step_count == opt.step_count == 10
    # the checkpoint is a copy, not a view of the live buffers
    key = "momentum_buffer" if name == "SGD" else "exp_avg"
    assert not np.shares_memory(checkpoint[1][key][0], (opt._bufs if name == "SGD" else opt._exp_avg)[0])


def test_load_state_dict_mismatch_changes_nothing(rng):
    ps = [Tensor(rng.standard_normal((2, 3)), requires_grad=True)]
    opt = optim.Adam(ps, lr=0.1)
    ps[0].grad = np.ones((2, 3))
    opt.step()
    before = opt.state_dict()
    bad = opt.state_dict()
    bad["exp_avg"] = [np.zeros((3, 2))]
    del bad["steps"]
    with pytest.raises(ValueError, match=r"missing 'steps'.*size mismatch for exp_avg\[0\]: state "
                                         r"\(3, 2\) vs optimizer \(2, 3\)|size mismatch.*missing"):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    np.testing.assert_array_equal(after["exp_avg"][0], before["exp_avg"][0])
    assert after["steps"].tolist() == [1]


def test_params_from_module_or_named_parameters():
    from microinit import nn

    model = nn.MLP([2, 3, 1], rng=0)
    assert optim.SGD(model, lr=0.1).params == model.parameters()
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    assert opt.param_names == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert "parameter '1.bias' (shape (1,), float32)" == opt.describe_param(3)

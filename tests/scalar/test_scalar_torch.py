"""micrograd's own test_engine.py checks, against PyTorch (float64), plus per-op parity."""
import pytest

from microinit import Value

torch = pytest.importorskip("torch")


def test_sanity_check():
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y

    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xpt, ypt = x, y

    assert ymg.data == ypt.data.item()
    assert xmg.grad == xpt.grad.item()


def test_more_ops():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    amg, bmg, gmg = a, b, g

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    apt, bpt, gpt = a, b, g

    tol = 1e-6
    assert abs(gmg.data - gpt.data.item()) < tol
    assert abs(amg.grad - apt.grad.item()) < tol
    assert abs(bmg.grad - bpt.grad.item()) < tol
    # and much tighter than micrograd asks
    assert gmg.data == pytest.approx(gpt.data.item(), rel=1e-12)
    assert amg.grad == pytest.approx(apt.grad.item(), rel=1e-12)
    assert bmg.grad == pytest.approx(bpt.grad.item(), rel=1e-12)


TORCH_OPS = {
    "tanh": (lambda v: v.tanh(), torch.tanh),
    "sigmoid": (lambda v: v.sigmoid(), torch.sigmoid),
    "exp": (lambda v: v.exp(), torch.exp),
    "log": (lambda v: v.log(), torch.log),
    "sqrt": (lambda v: v.sqrt(), torch.sqrt),
    "abs": (lambda v: v.abs(), torch.abs),
    "relu": (lambda v: v.relu(), torch.relu),
    "leaky_relu": (lambda v: v.leaky_relu(0.05), lambda t: torch.nn.functional.leaky_relu(t, 0.05)),
    "pow": (lambda v: v ** 2.5, lambda t: t ** 2.5),
    "rdiv": (lambda v: 3.0 / v, lambda t: 3.0 / t),
    "rsub": (lambda v: 3.0 - v, lambda t: 3.0 - t),
}


@pytest.mark.parametrize("name", sorted(TORCH_OPS))
@pytest.mark.parametrize("x", [0.3, 1.7, 4.0, -0.8, -2.5])
def test_op_parity_with_torch(name, x):
    ours, theirs = TORCH_OPS[name]
    if name in ("log", "sqrt", "pow") and x < 0:
        x = -x
    v = Value(x)
    y = ours(v)
    y.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = theirs(t)
    ty.backward()
    assert y.data == pytest.approx(ty.item(), rel=1e-12)
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-12)


@pytest.mark.parametrize("name,x", [("relu", 0.0), ("abs", 0.0), ("sqrt", 0.0), ("log", 0.0),
                                    ("leaky_relu", 0.0)])
def test_conventions_match_torch_at_singular_points(name, x):
    ours, theirs = TORCH_OPS[name]
    v = Value(x)
    y = ours(v)
    y.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = theirs(t)
    ty.backward()
    assert y.data == ty.item()
    assert v.grad == t.grad.item()

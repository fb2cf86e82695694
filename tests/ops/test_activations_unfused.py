"""The activations of microinit/ops/activations_unfused.py against torch (values and
gradients, float32 and float64, PyTorch's derivatives at the kinks), float64
gradchecks, and the GELU approximate switch."""
import numpy as np
import pytest

import microinit as mi

torch = pytest.importorskip("torch")
TF = torch.nn.functional
DTYPES = [np.float32, np.float64]
# a grid through every kink (-3, 0, 1, 3, 6) and large |x| (overflow checks)
X = np.concatenate([np.linspace(-8, 8, 33), [-3.0, 3.0, -1.0, 1.0, 0.0, 6.0, -60.0, 60.0]])

CASES = [
    ("silu", lambda t: t.silu(), TF.silu),
    ("mish", lambda t: t.mish(), TF.mish),
    ("hardswish", lambda t: t.hardswish(), TF.hardswish),
    ("hardtanh", lambda t: t.hardtanh(), TF.hardtanh),
    ("hardtanh_bounds", lambda t: t.hardtanh(-2.0, 3.0), lambda t: TF.hardtanh(t, -2.0, 3.0)),
    ("relu6", lambda t: t.relu6(), TF.relu6),
    ("logsigmoid", lambda t: t.logsigmoid(), TF.logsigmoid),
    ("softsign", lambda t: t.softsign(), TF.softsign),
    ("gelu_tanh", lambda t: t.gelu(approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh")),
    ("gelu_none", lambda t: t.gelu(approximate="none"), TF.gelu),
    ("module_fns", lambda t: mi.silu(t) + mi.mish(t) + mi.gelu(t, "tanh") + mi.relu6(t),
     lambda t: TF.silu(t) + TF.mish(t) + TF.gelu(t, approximate="tanh") + TF.relu6(t)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, f, tf", CASES, ids=[c[0] for c in CASES])
def test_forward_and_gradients_match_torch(torch_parity, name, f, tf, dtype):
    torch_parity(f, tf, [X], dtype)


@pytest.mark.parametrize("name, f, tf", CASES, ids=[c[0] for c in CASES])
def test_float64_gradcheck_away_from_kinks(fd_gradcheck, name, f, tf):
    fd_gradcheck(f, [np.array([-4.1, -2.5, -0.7, 0.4, 1.9, 2.6, 4.2])])


@pytest.mark.parametrize("shape", [(0,), (2, 0), ()])
def test_empty_and_0d(torch_parity, shape):
    for _, f, tf in CASES:
        torch_parity(f, tf, [np.full(shape, 0.5)], np.float32)


def test_bad_arguments_name_the_op():
    with pytest.raises(ValueError, match=r"^gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        mi.ones(2).gelu(approximate="erf")
    with pytest.raises(ValueError, match=r"^hardtanh: min_val 2.0 must not exceed max_val 1.0"):
        mi.ones(2).hardtanh(2.0, 1.0)
    with pytest.raises(TypeError, match=r"^hardtanh: min_val must be a number"):
        mi.ones(2).hardtanh("a")
    t = mi.zeros(2)
    t.data = np.zeros(2, np.complex64)
    with pytest.raises(TypeError, match=r"^silu: tensor data has unsupported dtype complex64"):
        t.silu()

"""Dropout (microinit/nn/dropout.py): train() and eval() differ as in PyTorch, p is
validated, masks come from the module's rng or the default Generator."""
import numpy as np
import pytest

import microinit as mi
from microinit import nn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_and_eval_differ_as_in_torch(dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(dtype)
    drop, tdrop = nn.Dropout(0.25, rng=0), torch.nn.Dropout(0.25)
    y, ty = drop(x).data, tdrop(torch.tensor(x)).numpy()
    for out in (y, ty):  # training: a quarter zeroed, the rest scaled by 4/3, in both
        kept = out != 0
        assert abs(kept.mean() - 0.75) < 4 * np.sqrt(0.75 * 0.25 / kept.size)
        np.testing.assert_allclose(out[kept], x[kept] / dtype(0.75), rtol=1e-6)
    assert not np.array_equal(y, x)
    drop.eval()
    tdrop.eval()
    np.testing.assert_array_equal(drop(x).data, tdrop(torch.tensor(x)).numpy())  # the identity
    np.testing.assert_array_equal(drop(x).data, x)


def test_p_zero_and_one_as_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, torch.nn.Dropout(0.0)(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, torch.nn.Dropout(1.0)(torch.tensor(x)).numpy())


@pytest.mark.parametrize("p, exc", [(-0.1, ValueError), (1.01, ValueError), (float("nan"), ValueError),
                                    (None, TypeError), (True, TypeError)])
def test_p_is_validated_as_in_torch(p, exc):
    with pytest.raises(exc, match="Dropout: probability"):
        nn.Dropout(p)


def test_masks_follow_the_module_rng_or_manual_seed():
    x = np.ones((4, 8), np.float32)
    a, b = nn.Dropout(0.5, rng=3), nn.Dropout(0.5, rng=3)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    drop = nn.Dropout(0.5)  # built before the seed: the seed still applies
    mi.manual_seed(11)
    first = drop(x).data
    mi.manual_seed(11)
    np.testing.assert_array_equal(drop(x).data, first)
    assert repr(drop) == "Dropout(p=0.5)"

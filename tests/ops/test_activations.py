"""Activations and softmax at their edge cases (microinit/ops/activations.py): a 0-d
softmax as PyTorch gives it, axes and activation names checked before any kernel."""
import re

import numpy as np
import pytest

import microinit as mi
import microinit.functional as F


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor_is_torchs(op):
    torch = pytest.importorskip("torch")
    x = mi.tensor(np.float64(2.5), requires_grad=True)
    y = getattr(x, op)()
    tx = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    ty = getattr(torch, op)(tx, dim=0)
    assert y.shape == () and y.item() == ty.item()
    (y * 3).backward()
    (ty * 3).backward()
    assert x.grad.shape == () and x.grad.item() == tx.grad.item()


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((), 1), ((), -2), ((2, 3), 2), ((2, 3), -3), ((4,), 1.0), ((4,), None)])
def test_softmax_axis_out_of_range_names_op_axis_and_shape(op, shape, axis):
    x = mi.tensor(np.ones(shape, np.float32))
    with pytest.raises(ValueError, match=rf"{op}: axis {axis!r} is out of range for an input of shape "
                                         rf"{re.escape(str(shape))}"):
        getattr(x, op)(axis=axis)


@pytest.mark.parametrize("bad", [np.zeros(3), 3, ["relu"]])
def test_an_activation_that_is_not_a_name_is_a_typeerror(bad):
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"activation_forward: the activation must be a name \(str\) or None, got"):
        F.activation_forward(bad, x)
    with pytest.raises(ValueError, match=r"activation_forward: unknown activation 'relux'; available: None, elu"):
        F.activation_forward("relux", x)

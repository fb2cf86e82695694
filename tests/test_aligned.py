"""microinit/aligned.py: 64-byte aligned arrays, and where the library uses them."""
import numpy as np
import pytest

import microinit as mi
from microinit import losses, nn, optim
from microinit.aligned import ALIGNMENT, aligned_copy, aligned_zeros


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int64])
@pytest.mark.parametrize("shape", [0, 1, 7, (0, 3), (3, 0), (5, 17), (2, 3, 4)])
def test_aligned_zeros_is_zeros_on_a_cache_line(dtype, shape):
    for _ in range(5):  # several allocations: the offset from numpy's 16 bytes varies
        a = aligned_zeros(shape, dtype)
        want = np.zeros(shape, dtype)
        assert a.shape == want.shape and a.dtype == want.dtype and a.flags.c_contiguous
        assert a.flags.writeable and (a.size == 0 or a.ctypes.data % ALIGNMENT == 0)  # (empty: no data)
        np.testing.assert_array_equal(a, want)


def test_aligned_copy_keeps_values_and_converts(rng):
    src = rng.standard_normal((4, 9))[:, ::2]  # strided source
    out = aligned_copy(src, np.float32)
    assert out.ctypes.data % ALIGNMENT == 0 and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, src.astype(np.float32))
    src[0, 0] = 99  # a copy, not a view
    assert out[0, 0] != 99


def test_dense_parameters_and_compiled_buffers_are_aligned():
    model = nn.MLP([5, 7, 3], rng=0)
    assert all(p.data.ctypes.data % ALIGNMENT == 0 for p in model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = mi.compile_step(model, losses.mse, opt)
    x = np.ones((4, 5), np.float32)
    step(x, np.zeros((4, 3), np.float32))
    step(x, np.zeros((4, 3), np.float32))
    assert all(p.grad.ctypes.data % ALIGNMENT == 0 for p in model.parameters())

"""Shared test fixtures. Parity tests use `torch` through `requires_torch`, which skips
cleanly when PyTorch is not installed."""
import os

import numpy as np
import pytest
from hypothesis import settings

# Hypothesis runs derandomized by default, so every run (CI included) tries the same
# examples and a result reproduces; HYPOTHESIS_PROFILE=fuzz explores fresh random ones.
settings.register_profile("microinit", derandomize=True, database=None, deadline=None)
settings.register_profile("fuzz", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "microinit"))

try:
    import torch  # noqa: F401

    HAS_TORCH = True
except ImportError:  # pragma: no cover - depends on the machine
    HAS_TORCH = False

requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def single_thread():
    """Run the kernels and BLAS on one thread for the test, then restore the setting.
    For tests of many tiny networks: on a shared machine, threads only add contention."""
    from microinit.threads import get_num_threads, set_num_threads

    before = get_num_threads()
    set_num_threads(1)
    yield
    set_num_threads(before)


def _dense_case(rng, n, i, o, dtype, bias=True):
    """Inputs of a dense layer: x (n, i), W (i, o) scaled by 1/sqrt(i), b (o,) or None."""
    x = rng.standard_normal((n, i)).astype(dtype)
    W = (rng.standard_normal((i, o)) / np.sqrt(max(i, 1))).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    return x, W, b


@pytest.fixture(scope="session")
def dense_case():
    """The dense-layer input maker shared by the kernel and linalg tests (session-scoped
    so hypothesis tests may use it)."""
    return _dense_case


def _traced_growth(step, warmup=3, steps=5):
    """Bytes by which traced memory grew over ``steps`` calls of ``step`` after
    ``warmup`` untraced ones (allocations that were freed again do not count)."""
    import tracemalloc

    for _ in range(warmup):
        step()
    tracemalloc.start()
    try:
        step()
        before = tracemalloc.take_snapshot()
        for _ in range(steps):
            step()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    return sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)


@pytest.fixture(scope="session")
def traced_growth():
    """``traced_growth(step, warmup=3, steps=5)``: memory kept by steady-state steps."""
    return _traced_growth

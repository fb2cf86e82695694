"""Shared test fixtures. Parity tests use `torch` through `requires_torch`, which skips
cleanly when PyTorch is not installed."""
import numpy as np
import pytest

try:
    import torch  # noqa: F401

    HAS_TORCH = True
except ImportError:  # pragma: no cover - depends on the machine
    HAS_TORCH = False

requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

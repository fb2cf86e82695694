"""Hypothesis strategies for the fuzz suite, over the case builders of benchmarks/.

The builders (``benchmarks/fuzz_ops.py``, ``benchmarks/fuzz_ops_nn.py``) make every
random choice through one primitive, ``draw.integer(lo, hi)``; here Hypothesis answers
it, so a failing case shrinks to small shapes and plain values. ``python -m
benchmarks.fuzz`` answers it from numpy instead and checks the same property
(``benchmarks/fuzz_properties.py``) on millions of cases.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=3)
    ... @given(fuzz_case("exp"))
    ... def check(case):
    ...     assert check_case(case).status == "ok"
    >>> check()
"""
import importlib
import os

from hypothesis import settings
from hypothesis import strategies as st

from microinit import cli

__all__ = ["HypothesisDraw", "fuzz_case", "check_case", "assert_property", "fuzz_ops", "examples",
           "fuzz_cases", "fuzz_properties", "fuzz_refs"]

# benchmarks/ is a folder of the repository, imported the way `microinit bench` does
cli.load_benchmarks()
fuzz_ops_module = importlib.import_module("benchmarks.fuzz_ops")
fuzz_properties = importlib.import_module("benchmarks.fuzz_properties")
fuzz_cases = importlib.import_module("benchmarks.fuzz_cases")
fuzz_refs = importlib.import_module("benchmarks.fuzz_refs")
check_case = fuzz_properties.check_case


def examples(quick):
    """``quick`` examples per test in the normal suite (the whole fuzz suite adds about
    20 s); under another profile (``HYPOTHESIS_PROFILE=fuzz``) that profile's count."""
    if os.environ.get("HYPOTHESIS_PROFILE", "microinit") == "microinit":
        return quick
    return settings.default.max_examples


def fuzz_ops():
    """Every fuzzed op name (Tensor ops, layers, losses, functional forms)."""
    return sorted(fuzz_ops_module.all_ops())


class HypothesisDraw:
    """The builders' draw primitive answered by Hypothesis's ``draw``."""

    def __init__(self, draw):
        self._draw = draw

    def integer(self, lo, hi):
        return self._draw(st.integers(lo, hi))


@st.composite
def fuzz_case(draw, op):
    """A ``benchmarks.fuzz_properties.Case`` of the public op ``op``."""
    return fuzz_ops_module.build_case(HypothesisDraw(draw), op)


def assert_property(case):
    """Fail with the case (a reproducer) unless it matches its reference or is refused
    with a clear error naming the op."""
    outcome = check_case(case)
    assert not outcome.failed, f"{outcome.status}: {outcome.detail}\n{case.describe()}"

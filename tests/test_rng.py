"""microinit.rng.as_generator: the one seed -> Generator rule."""
import doctest

import numpy as np
import pytest

from microinit import rng as rng_module
from microinit.rng import as_generator


def test_docstring_examples_pass():
    result = doctest.testmod(rng_module, verbose=False, report=False)
    assert result.failed == 0 and result.attempted > 0


def test_a_seed_gives_default_rngs_stream_and_a_generator_is_kept():
    for seed in (0, 7, np.int64(7), np.random.SeedSequence(5)):
        expected = np.random.default_rng(seed).standard_normal(4)
        np.testing.assert_array_equal(as_generator(seed).standard_normal(4), expected)
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    a, b = as_generator(None).random(8), as_generator(None).random(8)
    assert not np.array_equal(a, b)  # fresh OS entropy each time


@pytest.mark.parametrize("bad", [1.5, "3", True, np.bool_(False), np.random.RandomState(0), [1]])
def test_other_kinds_are_a_type_error_naming_the_caller(bad):
    with pytest.raises(TypeError, match=r"^MLP: rng must be a numpy.random.Generator, an int seed or None, got "):
        as_generator(bad, where="MLP")


def test_a_negative_seed_is_a_value_error():
    with pytest.raises(ValueError, match="non-negative int, got -3"):
        as_generator(-3)

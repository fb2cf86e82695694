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
    assert not np.array_equal(a, b)  # the default Generator advances between draws


@pytest.mark.parametrize("bad", [1.5, "3", True, np.bool_(False), np.random.RandomState(0), [1]])
def test_other_kinds_are_a_type_error_naming_the_caller(bad):
    with pytest.raises(TypeError, match=r"^MLP: rng must be a numpy.random.Generator, an int seed or None, got "):
        as_generator(bad, where="MLP")


def test_a_negative_seed_is_a_value_error():
    with pytest.raises(ValueError, match="non-negative int, got -3"):
        as_generator(-3)


def _train_once(seed):
    import microinit as mi
    from microinit import data, nn, optim

    mi.manual_seed(seed)
    X, y = data.moons(96, noise=0.2)  # data, initial weights, masks and shuffling: no rng anywhere
    model = nn.Sequential(nn.Dense(2, 16, activation="relu"), nn.BatchNorm1d(16), nn.Dropout(0.3),
                          nn.Dense(16, 2))
    opt = optim.RMSprop(model.parameters(), lr=1e-2)
    history = mi.fit(model, "cross_entropy", opt, data.DataLoader(X, y, batch_size=16), epochs=3, verbose=False)
    return model.state_dict(), history["loss"]


def test_manual_seed_makes_two_training_runs_bitwise_identical():
    state_a, loss_a = _train_once(7)
    state_b, loss_b = _train_once(7)
    assert loss_a == loss_b
    assert list(state_a) == list(state_b)
    for k in state_a:
        np.testing.assert_array_equal(state_a[k], state_b[k])
    state_c, loss_c = _train_once(8)
    assert loss_c != loss_a and not np.array_equal(state_c["0.weight"], state_a["0.weight"])


def test_manual_seed_reseeds_the_one_default_generator_in_place():
    g = rng_module.default_generator()
    assert as_generator(None) is g
    draws = rng_module.manual_seed(4).random(3)
    np.testing.assert_array_equal(draws, np.random.default_rng(4).random(3))
    assert rng_module.manual_seed(4) is g  # holders of the Generator follow the seed
    with pytest.raises(TypeError, match="manual_seed: the seed must be an int, got float"):
        rng_module.manual_seed(1.0)
    with pytest.raises(ValueError, match="manual_seed: the seed must be a non-negative int, got -1"):
        rng_module.manual_seed(-1)
    import microinit

    assert microinit.manual_seed is rng_module.manual_seed

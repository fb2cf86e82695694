"""The edge-of-chaos experiment: microinit's networks measured against microinit.theory
(reduced grid: the full one is `microinit initlab edge-of-chaos`)."""
import math

import numpy as np
import pytest

from microinit import theory
from microinit.lab.chaos import correlation_per_layer, edge_of_chaos, fit_depth, random_network

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def grid():
    return edge_of_chaos(sigma_w2s=(0.8, 1.2, 3.0), sigma_b2s=(0.05, 0.2), depth=40, width=128, seeds=2,
                         train_points=((1.0, 0.05, 2), (1.0, 0.05, 15)))


def test_measured_gradient_rate_is_the_theory_chi1(grid):
    for r in grid:
        assert r["chi1_measured"] == pytest.approx(r["chi1"], rel=0.08), r


def test_measured_correlation_depth_in_the_ordered_phase_is_the_theory_xi_c(grid):
    ordered = [r for r in grid if r["phase"] == "ordered"]
    assert len(ordered) == 4
    for r in ordered:
        assert r["c_star"] == 1.0
        assert r["xi_c_measured"] == pytest.approx(r["xi_c"], rel=0.15), r


def test_chaotic_points_decorrelate_to_the_theory_c_star(grid):
    for r in grid.where(phase="chaotic"):
        assert r["chi1"] > 1 and r["c_star"] < 1
        assert math.isfinite(r["xi_c_measured"]) and r["xi_c_measured"] / r["xi_c"] < 3
    # the measured correlation after many layers sits at c* (finite width: ~1/sqrt(width * pairs))
    sw, sb = 3.0, 0.05
    c = correlation_per_layer(random_network(256, 40, "tanh", sw, sb, seed=0), 32, seed=0)
    assert np.mean(c[-10:]) == pytest.approx(theory.fixed_point_c("tanh", sw, sb), abs=0.05)


def test_trainable_within_a_few_xi_c_not_at_fifteen(grid):
    shallow, deep = grid.sections[0].rows
    assert shallow["depth/xi_c"] < 6 < deep["depth/xi_c"]
    assert shallow["reading"] == "trains in 3 of 3 seeds" and shallow["train_acc"] > 0.9
    assert deep["reading"] == "does not train in 3 of 3 seeds" and deep["train_acc"] < 0.6


def test_fit_depth_reads_an_exponential_and_stops_at_the_floor():
    v = np.exp(-np.arange(1, 40) / 5.0)
    assert fit_depth(v, 1e-3) == pytest.approx(5.0)
    noisy = np.concatenate([v[:10], np.full(29, 1e-4)])   # below the floor from layer 11 on
    assert fit_depth(noisy, 1e-3) == pytest.approx(5.0)
    assert fit_depth(np.ones(10), 1e-3) == math.inf
    assert math.isnan(fit_depth([1.0, 1e-6], 1e-3))

"""microinit.theory against computations that share none of its code, and against
microinit's own networks.

The independent reference for tanh: a trapezoid rule on a fine uniform grid with numpy's
tanh and the derivative 1 - tanh^2 written out (no Gauss rule, no activation table),
with its own fixed-point iteration and bisection. For ReLU: the closed forms (the
arc-cosine kernel of Cho & Saul 2009, q* = sigma_b2 / (1 - sigma_w2 / 2)).
"""
import math

import numpy as np
import pytest

from microinit import nn, theory
from microinit.rng import as_generator

# ---------------------------------------------------------------------- the reference
_Z = np.linspace(-12.0, 12.0, 2401)
_DENS = np.exp(-0.5 * _Z ** 2) / math.sqrt(2 * math.pi) * (_Z[1] - _Z[0])


def _e(values):
    return float(np.sum(values * _DENS))


def _ref_q_star(sw, sb):
    q = 1.0
    for _ in range(100000):
        new = sw * _e(np.tanh(math.sqrt(q) * _Z) ** 2) + sb
        if abs(new - q) < 1e-15:
            return new
        q = new
    raise AssertionError("reference iteration did not converge")


def _ref_chi1(sw, q):
    return sw * _e((1 - np.tanh(math.sqrt(q) * _Z) ** 2) ** 2)


def _ref_critical(sb):
    lo, hi = 0.5, 5.0
    while hi - lo > 1e-10:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if _ref_chi1(mid, _ref_q_star(mid, sb)) > 1 else (mid, hi)
    return 0.5 * (lo + hi)


def _ref_q_slope(sw, q, h=1e-6):
    # a central difference of the length map: no integration by parts, no phi'
    def f(x):
        return sw * _e(np.tanh(math.sqrt(x) * _Z) ** 2)
    return (f(q + h) - f(q - h)) / (2 * h)


_G = np.linspace(-9.0, 9.0, 361)
_G1, _G2 = np.meshgrid(_G, _G, indexing="ij")
_GD = np.outer(*(2 * [np.exp(-0.5 * _G ** 2) / math.sqrt(2 * math.pi) * (_G[1] - _G[0])]))


def _ref_chaotic_chi_c(sw, sb):
    """c* by bisection on a 2-d trapezoid correlation map (c -> map(c) - c is positive at
    0 and negative just below 1 in the chaotic phase), then its slope by a central
    difference of the map (not Price's theorem)."""
    q = _ref_q_star(sw, sb)

    def cmap(c):
        u1 = math.sqrt(q) * _G1
        u2 = math.sqrt(q) * (c * _G1 + math.sqrt(1 - c * c) * _G2)
        return (sw * float(np.sum(np.tanh(u1) * np.tanh(u2) * _GD)) + sb) / q
    lo, hi = 0.0, 0.999
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cmap(mid) > mid else (lo, mid)
    c = 0.5 * (lo + hi)
    return c, (cmap(c + 1e-5) - cmap(c - 1e-5)) / 2e-5


def _rel(a, b):
    return abs(a - b) / abs(b)


# ---------------------------------------------------------------------- tanh, critical line
@pytest.mark.parametrize("sb", [0.01, 0.05, 0.1, 0.2, 0.3])
def test_tanh_critical_line_matches_an_independent_quadrature(sb):
    sw = theory.critical_sigma_w2("tanh", sb)
    ref_sw = _ref_critical(sb)
    assert _rel(sw, ref_sw) < 0.005
    q = theory.fixed_point_q("tanh", sw, sb)
    ref_q = _ref_q_star(sw, sb)
    assert _rel(q, ref_q) < 0.005
    assert _rel(theory.chi1("tanh", sw, sb), 1.0) < 0.005
    assert _rel(_ref_chi1(sw, ref_q), 1.0) < 0.005
    # xi_q on the line, and xi_c on either side of it (ordered 0.8x, chaotic 1.3x)
    xi_q, xi_c = theory.depth_scales("tanh", sw, sb)
    assert _rel(xi_q, -1 / math.log(_ref_q_slope(sw, ref_q))) < 0.005
    assert xi_c > 1e4                   # infinite at the edge, up to the bisection's tolerance
    ordered = 0.8 * sw
    assert _rel(theory.depth_scales("tanh", ordered, sb)[1],
                -1 / math.log(_ref_chi1(ordered, _ref_q_star(ordered, sb)))) < 0.005
    chaotic = 1.3 * sw
    c_star, slope = _ref_chaotic_chi_c(chaotic, sb)
    assert abs(theory.fixed_point_c("tanh", chaotic, sb) - c_star) < 0.005 * abs(c_star) + 1e-6
    assert _rel(theory.depth_scales("tanh", chaotic, sb)[1], -1 / math.log(slope)) < 0.005


def test_tanh_at_its_edge_without_bias_has_length_zero():
    # the q map's slope at q = 0 is 1 here: q* = 0 is approached only algebraically
    assert theory.fixed_point_q("tanh", 1.0, 0.0) == 0.0
    assert theory.chi1("tanh", 1.0, 0.0) == pytest.approx(1.0)
    assert theory.depth_scales("tanh", 1.0, 0.0)[1] == math.inf


def test_tanh_edge_at_sigma_b2_005_is_176():
    assert theory.critical_sigma_w2("tanh", 0.05) == pytest.approx(1.76, abs=0.005)
    assert theory.critical_sigma_w2("tanh", 0.0) == 1.0


# ---------------------------------------------------------------------- relu, closed forms
def test_relu_edge_is_exactly_he():
    assert theory.critical_sigma_w2("relu", 0.0) == 2.0
    assert theory.chi1("relu", 2.0, 0.0) == 1.0
    assert theory.depth_scales("relu", 2.0, 0.0) == (math.inf, math.inf)
    assert theory.critical_sigma_w2("leaky_relu", 0.0) == pytest.approx(2 / (1 + 0.01 ** 2), rel=1e-14)


@pytest.mark.parametrize("sw, sb", [(1.0, 0.1), (1.5, 0.3), (1.9, 0.05)])
def test_relu_fixed_point_and_slopes_match_closed_forms(sw, sb):
    assert theory.fixed_point_q("relu", sw, sb) == pytest.approx(sb / (1 - sw / 2), rel=1e-10)
    assert theory.q_slope("relu", sw, sb) == pytest.approx(sw / 2, rel=1e-10)
    assert theory.depth_scales("relu", sw, sb)[1] == pytest.approx(-1 / math.log(sw / 2), rel=1e-10)


@pytest.mark.parametrize("c", [-0.9, -0.3, 0.0, 0.4, 0.8, 0.99])
def test_relu_correlation_map_is_the_arc_cosine_kernel(c):
    sw, sb = 1.6, 0.2
    q = theory.fixed_point_q("relu", sw, sb)
    th = math.acos(c)
    kernel = q / (2 * math.pi) * (math.sin(th) + (math.pi - th) * c)
    assert theory.c_map("relu", c, sw, sb) == pytest.approx((sw * kernel + sb) / q, rel=1e-9)


# ---------------------------------------------------------------------- a real network
def test_measured_fixed_point_of_a_60_layer_tanh_net_matches_theory():
    # 12 networks (seeds 0-11), 8 inputs each; layers 21-60 are at the fixed point
    # (xi_q ~ 1.7). One network's q fluctuates by a few percent (the 8 inputs share its
    # weights and, in this ordered phase, converge to one point), so the seeds are
    # averaged; at width 200 the mean sits ~2% below the infinite-width q*.
    sw, sb, width, depth = 1.5, 0.05, 200, 60
    measured = []
    for seed in range(12):
        rng = as_generator(seed)
        layers = [nn.Dense(width, width, weight_init={"name": "normal", "std": math.sqrt(sw / width)},
                           bias_init={"name": "normal", "std": math.sqrt(sb)}, rng=rng) for _ in range(depth)]
        h = rng.standard_normal((8, width)).astype(np.float32)   # inputs of length ~1
        for i, layer in enumerate(layers):
            z = layer(h)
            if i >= 20:
                measured.append(float(np.mean(np.asarray(z.data, dtype=np.float64) ** 2)))
            h = z.tanh()
    q_theory = theory.fixed_point_q("tanh", sw, sb)
    assert q_theory == pytest.approx(0.418, abs=1e-3)
    assert _rel(float(np.mean(measured)), q_theory) < 0.05


# ---------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("call, error, match", [
    (lambda: theory.fixed_point_q("tanh", -1.0, 0.05), ValueError, "sigma_w2 must be a finite number > 0"),
    (lambda: theory.chi1("tanh", 1.0, -0.1), ValueError, "sigma_b2 must be a finite number >= 0"),
    (lambda: theory.depth_scales("tanh", float("nan"), 0.0), ValueError, "sigma_w2"),
    (lambda: theory.critical_sigma_w2("swish", 0.05), ValueError, "unknown activation 'swish'"),
    (lambda: theory.critical_sigma_w2(len, 0.05), TypeError, "activation must be a name"),
    (lambda: theory.chi1("tanh", "1.5", 0.05), TypeError, "sigma_w2 must be a real number"),
    (lambda: theory.fixed_point_q("relu", 3.0, 0.1), ValueError, "q grows without bound"),
    (lambda: theory.critical_sigma_w2("gelu", 0.05), ValueError, "no edge of chaos"),
    (lambda: theory.c_map("tanh", 1.5, 1.0, 0.05), ValueError, r"c must be a correlation in \[-1, 1\]"),
])
def test_bad_arguments_raise_with_the_reason(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_every_registered_activation_has_a_length_and_a_slope():
    from microinit.ops.activations import ACTIVATIONS

    for act in ACTIVATIONS:
        q = theory.fixed_point_q(act, 0.8, 0.1)
        assert q > 0 and math.isfinite(theory.chi1(act, 0.8, 0.1))

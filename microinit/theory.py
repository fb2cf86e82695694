"""Mean-field signal propagation in deep random networks (Poole et al. 2016; Schoenholz et al. 2017).

A fully connected network with weights ``W_ij ~ N(0, sigma_w2 / fan_in)`` and biases
``b_i ~ N(0, sigma_b2)`` maps an input to pre-activations ``z^l = phi(z^(l-1)) W^l + b^l``.
In the limit of wide layers each unit of ``z^l`` is Gaussian, and two numbers carry the
whole forward signal: the length ``q^l`` (the second moment of a unit) and, for two
inputs a and b, the correlation ``c^l``. With ``z, z1, z2`` independent standard normals
and ``E`` the Gaussian expectation:

    length map       q^l = sigma_w2 * E[phi(sqrt(q^(l-1)) z)^2] + sigma_b2
    correlation map  c^l = (sigma_w2 * E[phi(u1) phi(u2)] + sigma_b2) / q*
                     u1 = sqrt(q*) z1,  u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2),  c = c^(l-1)

The length map converges to a fixed point ``q*``. The correlation map always has the
fixed point ``c = 1``; its slope there,

    chi1 = sigma_w2 * E[phi'(sqrt(q*) z)^2],

decides the phase. ``chi1 < 1``: ordered, every input ends up at the same point
(``c* = 1``) and gradients vanish; ``chi1 > 1``: chaotic, nearby inputs decorrelate
to a ``c* < 1`` and gradients explode. ``chi1 = 1`` is the edge of chaos
(``critical_sigma_w2``). Away from it the maps approach their fixed points
geometrically, ``|q^l - q*| ~ exp(-l / xi_q)`` and ``|c^l - c*| ~ exp(-l / xi_c)``,
with the depth scales

    xi_q = -1 / log(dq^l/dq^(l-1) at q*) = -1 / log(sigma_w2 * E[z phi(u) phi'(u)] / sqrt(q*)),  u = sqrt(q*) z
    xi_c = -1 / log(chi_c),   chi_c = dc^l/dc^(l-1) at c* = sigma_w2 * E[phi'(u1) phi'(u2)]

(``chi_c = chi1`` in the ordered phase). Schoenholz et al. find a network trainable up
to a depth of about ``6 xi_c``; at the edge of chaos ``xi_c`` is infinite.

Every expectation is a Gauss-Hermite sum (``numpy.polynomial.hermite_e.hermegauss``,
probabilists' weight ``exp(-z^2/2)``), the bivariate one a product rule over ``z1, z2``,
except for activations with a kink at 0 (ReLU, leaky ReLU, ELU, SELU), across which
Gauss-Hermite converges only slowly: for those the same integrals are Gauss-Legendre
sums on pieces split at the kink (and, in two dimensions, on polar pieces split where
``u1`` or ``u2`` changes sign), exact for ReLU's arc-cosine kernel to 1e-15.
``phi`` and ``phi'`` are the forward and backward of microinit's one activation table
(``microinit.ops.activations``), so the theory describes the very activations the
layers compute. Any name in ``microinit.ops.activations.ACTIVATIONS`` works; ``param``
is leaky_relu's slope / elu's alpha (their defaults when None).

>>> round(critical_sigma_w2("tanh", 0.05), 2)
1.76
>>> critical_sigma_w2("relu", 0.0)
2.0
>>> xi_q, xi_c = depth_scales("tanh", 1.0, 0.05)
>>> round(xi_c, 2)
3.63
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, NoReturn

import numpy as np
from numpy.typing import NDArray
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from microinit.ops.activations import ACTIVATIONS, activation_backward, activation_code, activation_forward

__all__ = ["q_map", "fixed_point_q", "chi1", "q_slope", "c_map", "fixed_point_c", "chi_c",
           "critical_sigma_w2", "depth_scales", "QUADRATURE_POINTS"]

#: Gauss-Hermite nodes per dimension for smooth activations (the bivariate rule uses this many squared).
QUADRATURE_POINTS = 101
Nodes = NDArray[np.float64]  # quadrature nodes or weights
_Z, _W = hermegauss(QUADRATURE_POINTS)
_W = _W / _W.sum()                      # weights of a standard normal expectation
_GRID1, _GRID2 = np.meshgrid(_Z, _Z, indexing="ij")
_W2 = np.outer(_W, _W).ravel()
_Z1: Nodes = _GRID1.ravel()
_Z2: Nodes = _GRID2.ravel()
_DIVERGED = 1e12                        # a q beyond this is growing without bound
# Activations whose derivative is constant on each half-line: chi1 does not depend on q.
_HOMOGENEOUS = ("identity", "relu", "leaky_relu")
# Activations with a kink (in phi or phi') at 0. Gauss-Hermite sums converge only
# algebraically across a kink (101 nodes miss E[relu(z)] = 1/sqrt(2 pi) by 0.8%), so
# for these the same expectations are Gauss-Legendre sums on pieces split at the kink:
# [-L, 0] and [0, L] in one dimension; in two, polar coordinates with the angle split
# where u1 or u2 changes sign (the integrand is smooth along each ray).
_KINKED = ("relu", "leaky_relu", "elu", "selu")
_L = 12.0                               # exp(-L^2 / 2) ~ 1e-32: the tails beyond are nothing
_GL_X, _GL_W = leggauss(64)


def _legendre(a: float, b: float, x: Nodes = _GL_X, w: Nodes = _GL_W) -> tuple[Nodes, Nodes]:
    return 0.5 * (b - a) * x + 0.5 * (b + a), 0.5 * (b - a) * w


def _split_1d() -> tuple[Nodes, Nodes]:
    r, wr = _legendre(0.0, _L)
    dens = wr * np.exp(-0.5 * r * r) / math.sqrt(2 * math.pi)
    return np.concatenate([-r[::-1], r]), np.concatenate([dens[::-1], dens])


_ZK, _WK = _split_1d()
_R, _WR = _legendre(0.0, _L)
_WR = _WR * _R * np.exp(-0.5 * _R * _R) / (2 * math.pi)   # r exp(-r^2/2) dr dt / (2 pi)
_T_X, _T_W = leggauss(32)


def _nodes_1d(act: str) -> tuple[Nodes, Nodes]:
    """``(z, w)``: nodes and weights with ``E[f(z)] ~ sum(w * f(z))``, z ~ N(0, 1)."""
    return (_ZK, _WK) if act in _KINKED else (_Z, _W)


def _nodes_2d(act: str, c: float) -> tuple[Nodes, Nodes, Nodes]:
    """``(z1, z2_c, w)`` with ``E[f(z1, c z1 + sqrt(1 - c^2) z2)] ~ sum(w * f(z1, z2_c))``."""
    s = math.sqrt(max(1.0 - c * c, 0.0))
    if act not in _KINKED:
        return _Z1, c * _Z1 + s * _Z2, _W2
    theta = math.atan2(s, c)            # z2_c = r cos(t - theta) when z1 = r cos t
    cuts = sorted(x % (2 * math.pi) for x in (math.pi / 2, 3 * math.pi / 2, theta + math.pi / 2,
                                                theta + 3 * math.pi / 2))
    edges = [0.0] + cuts + [2 * math.pi]
    pieces = [_legendre(a, b, _T_X, _T_W) for a, b in zip(edges, edges[1:])]
    t = np.concatenate([p[0] for p in pieces])
    wt = np.concatenate([p[1] for p in pieces])
    r = _R[:, None]
    w = (_WR[:, None] * wt[None, :]).ravel()
    return (r * np.cos(t)).ravel(), (r * np.cos(t - theta)).ravel(), w


# ---------------------------------------------------------------------- checks
def _check_activation(activation: str, op: str) -> str:
    if not isinstance(activation, str):
        raise TypeError(f"{op}: activation must be a name (one of {', '.join(ACTIVATIONS)}), "
                        f"got {type(activation).__name__}")
    activation_code(activation, op)     # ValueError naming the known activations
    return activation.lower()


def _check_variance(value: float, name: str, op: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        need = "a finite number > 0" if positive else "a finite number >= 0"
        raise ValueError(f"{op}: {name} must be {need} (a variance), got {value!r}")
    return v


def _check(op: str, activation: str, sigma_w2: float, sigma_b2: float) -> tuple[str, float, float]:
    return (_check_activation(activation, op), _check_variance(sigma_w2, "sigma_w2", op, positive=True),
            _check_variance(sigma_b2, "sigma_b2", op))


# ---------------------------------------------------------------------- phi, phi'
def _phi(act: str, u: Nodes, param: float | None) -> Nodes:
    return activation_forward(act, u, param)


def _dphi(act: str, u: Nodes, param: float | None) -> Nodes:
    y = activation_forward(act, u, param)
    return activation_backward(act, u, y, np.ones_like(u), param)


# ---------------------------------------------------------------------- length
def _q_map(act: str, q: float, sw: float, sb: float, param: float | None) -> float:
    z, w = _nodes_1d(act)
    return sw * float(w @ _phi(act, math.sqrt(q) * z, param) ** 2) + sb


def q_map(activation: str, q: float, sigma_w2: float, sigma_b2: float, param: float | None = None) -> float:
    """One step of the length map: ``sigma_w2 * E[phi(sqrt(q) z)^2] + sigma_b2``.

    >>> round(q_map("relu", 3.0, 2.0, 0.0), 12)    # ReLU keeps half of the second moment
    3.0
    """
    act, sw, sb = _check("q_map", activation, sigma_w2, sigma_b2)
    return _q_map(act, _check_variance(q, "q", "q_map"), sw, sb, param)


def _fixed_point(step: Callable[[float], float], x0: float, tol: float, max_iter: int,
                 on_diverge: Callable[[float], NoReturn], lo: float = 0.0) -> float | None:
    """The limit of ``x -> step(x)`` from ``x0``, accelerated with Aitken's delta-squared
    (a step is kept only when it lands nearer a fixed point than the plain iteration)."""
    x = x0
    for _ in range(max_iter):
        x1 = step(x)
        if not math.isfinite(x1) or abs(x1) > _DIVERGED:
            on_diverge(x1)
        if abs(x1 - x) <= tol * abs(x1) + 1e-30:
            return x1
        x2 = step(x1)
        if not math.isfinite(x2) or abs(x2) > _DIVERGED:
            on_diverge(x2)
        denom = x2 - 2 * x1 + x
        # Only a contracting sequence is extrapolated: on a growing one Aitken's point is
        # an unstable fixed point behind it, which the network never reaches.
        if denom != 0 and abs(x2 - x1) < abs(x1 - x):
            xa = x - (x1 - x) ** 2 / denom
            if math.isfinite(xa) and xa >= lo and abs(step(xa) - xa) < abs(x2 - x1):
                x = xa
                continue
        x = x2
    return None


def fixed_point_q(activation: str, sigma_w2: float, sigma_b2: float, q0: float = 1.0, param: float | None = None,
                  tol: float = 1e-12, max_iter: int = 10000) -> float:
    """The fixed point ``q*`` the length map reaches from ``q0`` (an input's length).

    ``q* = sigma_w2 * E[phi(sqrt(q*) z)^2] + sigma_b2``. Usually unique; for ReLU with
    ``sigma_b2 = 0`` and ``sigma_w2 = 2`` (He) every length is kept, so the answer is
    ``q0``. ``ValueError`` when the length grows without bound (an activation that
    grows linearly with ``sigma_w2`` too large, e.g. ReLU with ``sigma_w2 > 2``) or the
    iteration does not settle (a slope of 1 at a transition).

    >>> round(fixed_point_q("tanh", 1.5, 0.05), 4)
    0.418
    >>> round(fixed_point_q("relu", 2.0, 0.0, q0=3.0), 12)
    3.0
    >>> fixed_point_q("relu", 2.5, 0.1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: fixed_point_q: relu with sigma_w2=2.5, sigma_b2=0.1 has no fixed length: q grows without bound ...
    """
    op = "fixed_point_q"
    act, sw, sb = _check(op, activation, sigma_w2, sigma_b2)
    q0 = _check_variance(q0, "q0", op, positive=True)

    def diverged(_: float) -> NoReturn:
        raise ValueError(f"{op}: {act} with sigma_w2={sigma_w2!r}, sigma_b2={sigma_b2!r} has no fixed length: "
                         "q grows without bound (sigma_w2 * E[phi(sqrt(q) z)^2] grows at least as fast as q)")

    # phi(0) = 0 and no bias: q = 0 is a fixed point that attracts small q. Where the
    # slope there is 1 (tanh at sigma_w2 = 1) the iteration only creeps toward it, so it
    # gets fewer steps, and a q that has fallen 100-fold and still moves counts as 0.
    zero_attracts = sb == 0 and _phi(act, np.zeros(1), param)[0] == 0 and _q_map(act, 1e-8, sw, sb, param) <= 1e-8
    last: list[float] = []

    def step(x: float) -> float:
        last[:] = [x]
        return _q_map(act, x, sw, sb, param)

    q = _fixed_point(step, q0, tol, min(max_iter, 300) if zero_attracts else max_iter, diverged)
    if q is None and zero_attracts and last[0] < 0.01 * q0:
        return 0.0
    if q is None:
        raise ValueError(f"{op}: {act} with sigma_w2={sigma_w2!r}, sigma_b2={sigma_b2!r}: the length map did not "
                         f"settle in {max_iter} steps (its slope is ~1: a phase transition)")
    return max(q, 0.0)


def chi1(activation: str, sigma_w2: float, sigma_b2: float, q: float | None = None,
         param: float | None = None) -> float:
    """``chi1 = sigma_w2 * E[phi'(sqrt(q*) z)^2]``: the slope of the correlation map at
    ``c = 1``, and the factor by which the mean squared gradient grows per layer
    backwards. ``q`` defaults to ``fixed_point_q(...)``.

    >>> chi1("relu", 2.0, 0.0)
    1.0
    >>> round(chi1("tanh", 1.0, 0.05), 4)
    0.759
    """
    act, sw, sb = _check("chi1", activation, sigma_w2, sigma_b2)
    if q is None:
        q = fixed_point_q(act, sw, sb, param=param)
    q = _check_variance(q, "q", "chi1")
    if act in _HOMOGENEOUS:             # exact: phi' takes one value on each half-line
        d = _dphi(act, np.array([-1.0, 1.0]), param)
        return sw * float(d[0] ** 2 + d[1] ** 2) / 2
    z, w = _nodes_1d(act)
    return sw * float(w @ _dphi(act, math.sqrt(q) * z, param) ** 2)


def q_slope(activation: str, sigma_w2: float, sigma_b2: float, q: float | None = None,
            param: float | None = None) -> float:
    """The slope of the length map at ``q`` (default ``q*``):
    ``d/dq [sigma_w2 E[phi(sqrt(q) z)^2]] = sigma_w2 * E[z phi(u) phi'(u)] / sqrt(q)``, ``u = sqrt(q) z``.

    >>> round(q_slope("relu", 1.5, 0.1), 12)   # ReLU: sigma_w2 / 2 at every q
    0.75
    """
    act, sw, sb = _check("q_slope", activation, sigma_w2, sigma_b2)
    if q is None:
        q = fixed_point_q(act, sw, sb, param=param)
    q = max(_check_variance(q, "q", "q_slope"), 1e-300)
    z, w = _nodes_1d(act)
    u = math.sqrt(q) * z
    return sw * float(w @ (z * _phi(act, u, param) * _dphi(act, u, param))) / math.sqrt(q)


# ---------------------------------------------------------------------- correlation
def _pair(act: str, q: float, c: float) -> tuple[Nodes, Nodes, Nodes]:
    z1, z2, w = _nodes_2d(act, c)
    s = math.sqrt(q)
    return s * z1, s * z2, w


def _c_map(act: str, c: float, q: float, sw: float, sb: float, param: float | None) -> float:
    u1, u2, w = _pair(act, q, c)
    return (sw * float(w @ (_phi(act, u1, param) * _phi(act, u2, param))) + sb) / q


def c_map(activation: str, c: float, sigma_w2: float, sigma_b2: float, q: float | None = None,
          param: float | None = None) -> float:
    """One step of the correlation map at length ``q`` (default ``q*``):
    ``(sigma_w2 * E[phi(u1) phi(u2)] + sigma_b2) / q`` with ``u1, u2`` jointly Gaussian,
    variance ``q`` and correlation ``c``.

    >>> round(c_map("relu", 0.0, 2.0, 0.0), 6)     # the arc-cosine kernel: 1/pi at c = 0
    0.31831
    """
    op = "c_map"
    act, sw, sb = _check(op, activation, sigma_w2, sigma_b2)
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not -1.0 <= float(c) <= 1.0:
        raise ValueError(f"{op}: c must be a correlation in [-1, 1], got {c!r}")
    if q is None:
        q = fixed_point_q(act, sw, sb, param=param)
    q = _check_variance(q, "q", op, positive=True)
    return _c_map(act, float(c), q, sw, sb, param)


def fixed_point_c(activation: str, sigma_w2: float, sigma_b2: float, param: float | None = None, tol: float = 1e-12,
                  max_iter: int = 10000) -> float:
    """The stable fixed point ``c*`` of the correlation map: 1 in the ordered phase
    (``chi1 <= 1``), the limit from ``c = 0`` in the chaotic phase.

    >>> fixed_point_c("tanh", 1.0, 0.05)
    1.0
    >>> round(fixed_point_c("tanh", 4.0, 0.05), 4)
    0.1651
    """
    op = "fixed_point_c"
    act, sw, sb = _check(op, activation, sigma_w2, sigma_b2)
    q = fixed_point_q(act, sw, sb, param=param)
    # at the edge (chi1 = 1 to rounding, e.g. from critical_sigma_w2) c* = 1 too; past it
    # the iteration below would creep toward a c* just under 1 with a slope near 1
    if q <= 0 or chi1(act, sw, sb, q=q, param=param) <= 1.0 + 1e-9:
        return 1.0

    def diverged(c: float) -> NoReturn:
        raise ValueError(f"{op}: the correlation map left [-1, 1] (c = {c}); quadrature failure")

    c = _fixed_point(lambda x: min(1.0, max(-1.0, _c_map(act, x, q, sw, sb, param))), 0.0, tol, max_iter,
                     diverged, lo=-1.0)
    if c is None:
        raise ValueError(f"{op}: {act} with sigma_w2={sigma_w2!r}, sigma_b2={sigma_b2!r}: the correlation map "
                         f"did not settle in {max_iter} steps")
    return c


def chi_c(activation: str, sigma_w2: float, sigma_b2: float, param: float | None = None) -> float:
    """The slope of the correlation map at its fixed point ``c*``:
    ``sigma_w2 * E[phi'(u1) phi'(u2)]`` (equal to ``chi1`` when ``c* = 1``).

    >>> round(chi_c("tanh", 4.0, 0.05), 4)
    0.8665
    """
    act, sw, sb = _check("chi_c", activation, sigma_w2, sigma_b2)
    q = fixed_point_q(act, sw, sb, param=param)
    c = fixed_point_c(act, sw, sb, param=param)
    if c >= 1.0:
        return chi1(act, sw, sb, q=q, param=param)
    u1, u2, w = _pair(act, q, c)
    return sw * float(w @ (_dphi(act, u1, param) * _dphi(act, u2, param)))


# ---------------------------------------------------------------------- the edge
def critical_sigma_w2(activation: str, sigma_b2: float, param: float | None = None,
                      tol: float = 1e-10) -> float:
    """The ``sigma_w2`` at which ``chi1 = 1`` at the fixed point: the edge of chaos.

    For ReLU (and leaky ReLU, identity) ``phi'`` is constant on each half-line, so
    ``chi1 = sigma_w2 * E[phi'(z)^2]`` does not depend on ``q`` and the edge is exactly
    ``1 / E[phi'(z)^2]``: 2 for ReLU, He's gain. (With ``sigma_b2 > 0`` the ReLU
    network only reaches it in the limit where ``q*`` diverges.) For other activations
    the edge is found by bisection on ``chi1(q*(sigma_w2), sigma_w2) - 1``.
    ``ValueError`` when no edge exists: ``q*`` diverges before ``chi1`` reaches 1.

    >>> round(critical_sigma_w2("tanh", 0.0), 6)
    1.0
    >>> round(critical_sigma_w2("tanh", 0.3), 3)
    2.505
    """
    op = "critical_sigma_w2"
    act = _check_activation(activation, op)
    sb = _check_variance(sigma_b2, "sigma_b2", op)
    if act in _HOMOGENEOUS:
        return 1.0 / chi1(act, 1.0, sb, q=1.0, param=param)
    if act == "tanh" and sb == 0:
        # q* = 0 for sigma_w2 <= 1 (tanh(0) = 0, tanh'(0) = 1), so chi1 = sigma_w2 there and
        # the edge is exactly 1; bisection would only approach it as slowly as q* -> 0.
        return 1.0

    def excess(sw: float) -> float | None:   # None where q* does not exist (it diverges)
        try:
            return chi1(act, sw, sb, q=fixed_point_q(act, sw, sb, param=param), param=param) - 1.0
        except ValueError:
            return None

    # Bracket: lo has chi1 < 1; hi has chi1 >= 1 (found) or no fixed point (crossed).
    lo, hi = 0.0, 0.75                  # not 1.0, which sits on tanh's sigma_b2 = 0 transition
    e = excess(hi)
    while e is not None and e < 0:
        lo, hi = hi, 2 * hi
        if hi > 1e6:
            raise ValueError(f"{op}: {act} with sigma_b2={sigma_b2!r} has no edge of chaos: chi1 < 1 for every "
                             "sigma_w2 up to 1e6")
        e = excess(hi)
    found = e is not None
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        e = excess(mid)
        if e is not None and e < 0:
            lo = mid
        else:
            hi = mid
            found = found or e is not None
    if not found:
        raise ValueError(f"{op}: {act} with sigma_b2={sigma_b2!r} has no edge of chaos: chi1 is still below 1 "
                         f"at sigma_w2 = {lo:.6g}, where the fixed length q* stops existing (it diverges)")
    return 0.5 * (lo + hi)


def _depth(slope: float) -> float:
    if slope >= 1.0:
        return math.inf
    if slope <= 0.0:
        return 0.0
    return -1.0 / math.log(slope)


def depth_scales(activation: str, sigma_w2: float, sigma_b2: float,
                 param: float | None = None) -> tuple[float, float]:
    """``(xi_q, xi_c)``: the depths over which lengths and correlations approach their
    fixed points, ``-1 / log(slope)`` of the length and correlation maps there
    (``math.inf`` at the edge of chaos, where the slope is 1).

    >>> xi_q, xi_c = depth_scales("relu", 2.0, 0.0)
    >>> xi_q, xi_c
    (inf, inf)
    >>> [round(x, 3) for x in depth_scales("tanh", 1.5, 0.05)]
    [1.683, 15.791]
    """
    act, sw, sb = _check("depth_scales", activation, sigma_w2, sigma_b2)
    q = fixed_point_q(act, sw, sb, param=param)
    return _depth(q_slope(act, sw, sb, q=q, param=param)), _depth(chi_c(act, sw, sb, param=param))

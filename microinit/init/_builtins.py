"""The built-in initializers: the union of PyTorch's, Keras' and JAX's, with their formulas.

Each function below is a *plan*: it checks its parameters, computes the distribution
for the given shape and returns a Plan; `builtin` (in _registry) turns it into the
public initializer `fn(shape, *, dtype=float32, rng=None, **params) -> ndarray`.

Layout (docs/design.md): a Dense weight is (fan_in, fan_out) and a conv kernel is
(*kernel, in, out); fans come from `compute_fans` only. PyTorch stores (out, in), so
`torch.nn.init.kaiming_normal_(w_torch)` corresponds to `he_normal(w_torch.T.shape)`.

The variance-scaling family is written once, in `variance_scaling`; the named ones
(xavier/glorot, he/kaiming, lecun) only translate their arguments into
(scale, mode, distribution):

    xavier_*  scale = gain^2,                 mode = fan_avg
    he_*      scale = calculate_gain(nl, a)^2, mode = fan_in | fan_out
    lecun_*   scale = 1,                      mode = fan_in
"""
from __future__ import annotations

import math
from typing import Sequence

from microinit.init._checks import (FEWER_THAN_2D, calculate_gain, check_choice, check_real,
                                    compute_fans)
from microinit.init._registry import builtin
from microinit.init._sample import Plan

#: Keras/JAX: the std of a standard normal truncated to (-2, 2). variance_scaling
#: divides its std by this so that the *truncated* samples have the target variance.
TRUNC_STD_CORRECTION = 0.87962566103423978

MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")
NORMAL_DISTRIBUTIONS = ("normal", "truncated_normal")


def _need_2d(shape: tuple[int, ...], where: str) -> None:
    if len(shape) < 2:
        raise ValueError(f"{where}: {FEWER_THAN_2D} (shape {shape})")


def _gain(gain: float, where: str) -> float:
    return check_real(gain, "gain", where, positive=True)


# ----------------------------------------------------------------------------- simple


@builtin("zeros", "zero")
def zeros(shape: tuple[int, ...]) -> Plan:
    """All zeros. ``zeros((3, 4))``; torch ``zeros_``, Keras ``Zeros``, JAX ``zeros``."""
    return Plan("constant", value=0.0)


@builtin("ones", "one")
def ones(shape: tuple[int, ...]) -> Plan:
    """All ones. ``ones((3, 4))``; torch ``ones_``, Keras ``Ones``, JAX ``ones``."""
    return Plan("constant", value=1.0)


@builtin("constant", "full", param_aliases={"val": "value", "fill_value": "value"})
def constant(shape: tuple[int, ...], value: float = 0.0) -> Plan:
    """Every entry equals value. ``constant((3, 4), value=0.1)``; torch ``constant_(t, val)``."""
    return Plan("constant", value=check_real(value, "value", "constant"))


@builtin("uniform", "random_uniform",
         param_aliases={"a": "low", "b": "high", "minval": "low", "maxval": "high"})
def uniform(shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> Plan:
    """U[low, high): every value in [low, high) equally likely (torch's defaults 0, 1).

    mean = (low + high) / 2, std = (high - low) / sqrt(12). low == high gives a
    constant; low > high raises. Samples never equal `high`, in any dtype.
    Aliases of the arguments: torch ``a``/``b``, Keras ``minval``/``maxval``.

    >>> w = uniform((2, 3), low=-0.1, high=0.1, rng=0)
    """
    low = check_real(low, "low", "uniform")
    high = check_real(high, "high", "uniform")
    if low > high:
        raise ValueError(f"uniform: low must be <= high, got low={low}, high={high}")
    if low == high:
        return Plan("constant", value=low).from_parameter(f"low=high={low!r}")
    return Plan("uniform", low=low, high=high)


@builtin("normal", "random_normal", "gaussian", param_aliases={"stddev": "std"})
def normal(shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0) -> Plan:
    """N(mean, std^2) (torch's defaults 0, 1; Keras RandomNormal uses std 0.05).

    std = 0 gives a constant; std < 0 raises. ``normal((2, 3), std=0.02, rng=0)``."""
    mean = check_real(mean, "mean", "normal")
    std = check_real(std, "std", "normal", nonnegative=True)
    if std == 0:
        return Plan("constant", value=mean).from_parameter(f"mean={mean!r}")
    return Plan("normal", mean=mean, std=std)


@builtin("truncated_normal", "trunc_normal",
         param_aliases={"stddev": "std", "a": "low", "b": "high"})
def truncated_normal(shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0, low: float = -2.0,
                     high: float = 2.0) -> Plan:
    """N(mean, std^2) restricted to the open interval (low, high).

    Convention (PyTorch's ``trunc_normal_``): `low` and `high` are ABSOLUTE bounds (not
    multiples of std) and `std` is the std BEFORE truncation, so the samples' std is
    smaller than `std` (std * 0.8796 for bounds at mean +- 2 std). Keras'
    ``TruncatedNormal(stddev)`` and JAX's ``truncated_normal(stddev, lower, upper)`` put
    the bounds at +-2 std (resp. lower/upper std) around the mean: that is
    ``truncated_normal(mean=m, std=s, low=m - 2*s, high=m + 2*s)``. The corrected variant,
    whose samples HAVE the target std, is ``variance_scaling(distribution=
    "truncated_normal")``. Every sample lies strictly inside (low, high) in the output
    dtype: the law is drawn on the values that round to a value of the dtype inside
    (Robert's 1995 proposals, bounded work per sample however far in the tail the
    interval is: ``std=1e-9, low=1, high=2`` gives the first value above 1). A bound
    may be infinite for a one-sided truncation. An interval holding no value of the
    dtype, or a mean or reachable side beyond the dtype's range, raises ValueError
    (docs/reliability.md rows 52, 53).

    >>> w = truncated_normal((2, 3), std=0.02, low=-0.04, high=0.04, rng=0)
    >>> truncated_normal((2,), std=1e-9, low=1.0, high=2.0, rng=0).tolist()
    [1.0000001192092896, 1.0000001192092896]
    """
    where = "truncated_normal"
    mean = check_real(mean, "mean", where)
    std = check_real(std, "std", where, positive=True)
    low = check_real(low, "low", where, infinite_ok=True)   # -inf / inf: one-sided
    high = check_real(high, "high", where, infinite_ok=True)
    if not low < high:
        raise ValueError(f"{where}: low must be < high, got low={low}, high={high}")
    return Plan("truncated_normal", mean=mean, std=std, low=low, high=high)


# --------------------------------------------------------------------- variance scaling


@builtin("variance_scaling", probe=(3, 3, 3, 3, 3))
def variance_scaling(shape: tuple[int, ...], scale: float = 1.0, mode: str = "fan_in",
                     distribution: str = "truncated_normal", in_axis: int | Sequence[int] = -2,
                     out_axis: int | Sequence[int] = -1, batch_axis: int | Sequence[int] = ()) -> Plan:
    """Samples with variance scale / n, n chosen by mode (Keras' and JAX's VarianceScaling).

        n = fan_in | fan_out | (fan_in + fan_out) / 2 | sqrt(fan_in * fan_out)
        "uniform":          U(-limit, limit), limit = sqrt(3 * scale / n)
        "normal":           N(0, scale / n)          ("untruncated_normal" is a synonym)
        "truncated_normal": N(0, s^2) truncated to (-2 s, 2 s), s = sqrt(scale / n) / 0.87962566103423978

    The constant 0.87962566103423978 is the std of a standard normal truncated to
    (-2, 2) (Keras, JAX), so the truncated samples' std is exactly sqrt(scale / n).
    Fans: compute_fans(shape, in_axis, out_axis, batch_axis) ("fan_geo_avg" is JAX's).
    A 0-D or 1-D shape needs explicit axes, as in JAX (docs/reliability.md row 32): a
    bias of shape (64,) with ``in_axis=0, out_axis=()`` has fans (64, 1).
    The named initializers are its special cases: Glorot & Bengio (2010), He et al.
    (2015), LeCun et al. (1998).

    >>> w = variance_scaling((256, 128), scale=2.0, mode="fan_in", distribution="normal", rng=0)
    >>> variance_scaling((64,), in_axis=0, out_axis=(), distribution="uniform", rng=0).shape
    (64,)
    """
    where = "variance_scaling"
    scale = check_real(scale, "scale", where, positive=True)
    mode = check_choice(mode, MODES, "mode", where)
    distribution = check_choice(distribution, DISTRIBUTIONS, "distribution", where)
    fans = compute_fans(shape, in_axis, out_axis, batch_axis, where=where)
    fan_in, fan_out = fans
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    n = max(n, 1)  # a zero-element shape is never drawn (warned upstream), only planned
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale / n)
        plan = Plan("uniform", fans=fans, low=-limit, high=limit)
    elif distribution == "truncated_normal":
        std = math.sqrt(scale / n) / TRUNC_STD_CORRECTION
        plan = Plan("truncated_normal", fans=fans, mean=0.0, std=std, low=-2 * std, high=2 * std)
    else:
        plan = Plan("normal", fans=fans, mean=0.0, std=math.sqrt(scale / n))
    return plan.from_parameter(f"scale={scale!r}")


def _scaled(shape: tuple[int, ...], where: str, scale: float, mode: str, distribution: str) -> Plan:
    """variance_scaling's plan for a named special case, which uses the default axes:
    a 0-D or 1-D shape is refused naming `where` (docs/reliability.md row 32)."""
    _need_2d(shape, where)
    plan: Plan = variance_scaling.__wrapped__(shape, scale, mode, distribution)  # type: ignore[attr-defined]
    return plan  # (__wrapped__: the plan function under the registered initializer)


def _normal_kind(distribution: str, where: str) -> str:
    return check_choice(distribution, NORMAL_DISTRIBUTIONS, "distribution", where)


@builtin("xavier_uniform", "glorot_uniform")
def xavier_uniform(shape: tuple[int, ...], gain: float = 1.0) -> Plan:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    torch ``xavier_uniform_``; Keras/JAX ``glorot_uniform`` (gain 1). Suited to tanh,
    sigmoid, linear layers. ``xavier_uniform((784, 256), gain=calculate_gain("tanh"))``.
    """
    plan = _scaled(shape, "xavier_uniform", gain_scale(gain, "xavier_uniform"), "fan_avg", "uniform")
    return plan.from_parameter(f"gain={gain!r}")


@builtin("xavier_normal", "glorot_normal")
def xavier_normal(shape: tuple[int, ...], gain: float = 1.0, distribution: str = "normal") -> Plan:
    """Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    torch ``xavier_normal_`` (plain normal, the default). Keras' and JAX's
    ``glorot_normal`` draw a *truncated* normal with that std after truncation: pass
    ``distribution="truncated_normal"`` to get theirs exactly.

    >>> w = xavier_normal((300, 100), rng=0)          # std sqrt(2 / 400) = 0.0707
    >>> round(float(w.std()), 2)
    0.07
    """
    dist = _normal_kind(distribution, "xavier_normal")
    plan = _scaled(shape, "xavier_normal", gain_scale(gain, "xavier_normal"), "fan_avg", dist)
    return plan.from_parameter(f"gain={gain!r}")


def gain_scale(gain: float, where: str) -> float:
    """gain^2, the variance scale of a gain; ValueError naming `gain` if the square
    overflows or underflows float64 (docs/reliability.md row 53)."""
    gain = _gain(gain, where)
    square = gain * gain  # a float product: inf or 0.0 where ** would raise OverflowError
    if not 0 < square < math.inf:
        raise ValueError(f"{where}: gain={gain!r} is out of range: gain**2 = {square!r} is not a "
                         f"positive finite float64 (need {math.sqrt(5e-324):.3g} < gain < "
                         f"{math.sqrt(1.7976931348623157e308):.6g})")
    return square


def _he_scale(negative_slope: float, nonlinearity: str | None, where: str) -> float:
    slope = check_real(negative_slope, "negative_slope", where)
    try:
        return calculate_gain(nonlinearity, slope) ** 2
    except ValueError as err:  # say which initializer the bad slope or name was given to
        raise ValueError(f"{where}: {err}") from None


def _he_mode(mode: str, where: str) -> str:
    return check_choice(mode, ("fan_in", "fan_out"), "mode", where)


@builtin("he_uniform", "kaiming_uniform", param_aliases={"a": "negative_slope"})
def he_uniform(shape: tuple[int, ...], negative_slope: float = 0.0, mode: str = "fan_in",
               nonlinearity: str | None = "leaky_relu") -> Plan:
    """He et al. (2015): U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, negative_slope).

    fan = fan_in (preserves forward variance) or fan_out (backward). torch
    ``kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu")`` (same
    defaults: gain sqrt(2)); Keras/JAX ``he_uniform`` = the defaults. For ReLU networks.

    >>> w = he_uniform((600, 200), rng=0)             # bound sqrt(6 / 600) = 0.1
    >>> bool(abs(w).max() < 0.1)
    True
    """
    where = "he_uniform"
    return _scaled(shape, where, _he_scale(negative_slope, nonlinearity, where),
                                        _he_mode(mode, where), "uniform")


@builtin("he_normal", "kaiming_normal", param_aliases={"a": "negative_slope"})
def he_normal(shape: tuple[int, ...], negative_slope: float = 0.0, mode: str = "fan_in",
              nonlinearity: str | None = "leaky_relu", distribution: str = "normal") -> Plan:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, negative_slope).

    torch ``kaiming_normal_`` (plain normal, the default). Keras' and JAX's
    ``he_normal`` draw a truncated normal with that std after truncation: pass
    ``distribution="truncated_normal"``. For ReLU / leaky-ReLU networks.

    >>> w = he_normal((512, 256), rng=0)   # std sqrt(2 / 512) = 0.0625
    """
    where = "he_normal"
    return _scaled(shape, where, _he_scale(negative_slope, nonlinearity, where),
                                        _he_mode(mode, where), _normal_kind(distribution, where))


@builtin("lecun_uniform")
def lecun_uniform(shape: tuple[int, ...]) -> Plan:
    """LeCun et al. (1998), "Efficient BackProp": U(-b, b), b = sqrt(3 / fan_in).

    Keras/JAX ``lecun_uniform``. ``lecun_uniform((300, 100), rng=0)``: bound 0.1."""
    return _scaled(shape, "lecun_uniform", 1.0, "fan_in", "uniform")


@builtin("lecun_normal")
def lecun_normal(shape: tuple[int, ...], distribution: str = "normal") -> Plan:
    """LeCun et al. (1998): N(0, 1 / fan_in); the init SELU assumes (Klambauer et al. 2017).

    Default: plain normal like the SELU paper; Keras' and JAX's ``lecun_normal`` use a
    truncated normal with that std after truncation: ``distribution="truncated_normal"``.
    ``lecun_normal((400, 64), rng=0)``: std 0.05.
    """
    return _scaled(shape, "lecun_normal", 1.0, "fan_in", _normal_kind(distribution, "lecun_normal"))


# ------------------------------------------------------------------------- structured


@builtin("orthogonal", "orthogonal_initializer", param_aliases={"scale": "gain"})
def orthogonal(shape: tuple[int, ...], gain: float = 1.0) -> Plan:
    """Saxe et al. (2014): a (semi-)orthogonal matrix times gain, Haar-distributed.

    The weight is viewed as (prod(shape[:-1]), shape[-1]); if it is tall (or square) its
    columns are orthonormal (W^T W = gain^2 I), if wide its rows are (W W^T = gain^2 I).
    It is the Q factor, sign-corrected so diag(R) > 0, of a Gaussian matrix (as torch
    ``orthogonal_``, Keras ``Orthogonal``, JAX ``orthogonal``), computed by CholeskyQR2
    with a Householder fallback (see _ortho.py). Suited to linear/tanh and deep or
    recurrent networks.

    >>> import numpy as np
    >>> w = orthogonal((4, 4), rng=0); bool(abs(w.T @ w - np.eye(4)).max() < 1e-5)
    True
    """
    gain = _gain(gain, "orthogonal")
    _need_2d(shape, "orthogonal")
    return Plan("orthogonal", gain=gain)


@builtin("identity", "eye", "identity_initializer")
def identity(shape: tuple[int, ...], gain: float = 1.0) -> Plan:
    """gain * I for 2-D shapes (torch ``eye_``, Keras ``Identity(gain)``).

    A non-square shape gets an eye-like matrix (ones on the main diagonal, as torch
    ``eye_`` and Keras do); a non-2-D shape raises ValueError. For residual/linear
    blocks that should start as the identity map.

    >>> identity((2, 3), gain=0.5).tolist()
    [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]
    """
    gain = _gain(gain, "identity")
    if len(shape) != 2:
        raise ValueError(f"identity: only 2-D shapes are supported, got shape {shape}")
    return Plan("identity", gain=gain)


def _conv_rank(shape: tuple[int, ...], where: str) -> None:
    if not 3 <= len(shape) <= 5:
        raise ValueError(
            f"{where}: only 3-, 4- or 5-D conv kernels (*kernel, in, out) are supported, got shape {shape}"
        )


@builtin("dirac", param_aliases={}, probe=(3, 3, 4, 4))
def dirac(shape: tuple[int, ...], groups: int = 1, gain: float = 1.0) -> Plan:
    """The Dirac delta for conv kernels (*kernel, in, out): the conv passes inputs through.

    torch ``dirac_(t, groups)`` in microinit's layout: W[centre, d, g * out/groups + d] =
    gain for d < min(out/groups, in). out must be divisible by groups.

    >>> w = dirac((3, 3, 4, 4)); float(w[1, 1].trace()), float(w.sum())
    (4.0, 4.0)
    """
    where = "dirac"
    _conv_rank(shape, where)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    if shape[-1] % groups:
        raise ValueError(f"{where}: out channels {shape[-1]} must be divisible by groups={groups}")
    return Plan("dirac", gain=_gain(gain, where), groups=groups)


@builtin("delta_orthogonal", param_aliases={"scale": "gain"}, probe=(3, 3, 4, 4))
def delta_orthogonal(shape: tuple[int, ...], gain: float = 1.0) -> Plan:
    """Xiao et al. (2018), JAX ``delta_orthogonal``: zeros except the kernel centre, which
    is orthogonal(in, out) * gain; needs a 3-5-D kernel with in <= out.

    ``delta_orthogonal((3, 3, 16, 32), rng=0)[1, 1]`` has orthonormal rows."""
    where = "delta_orthogonal"
    _conv_rank(shape, where)
    if shape[-2] > shape[-1]:
        raise ValueError(f"{where}: needs in <= out channels, got shape {shape}")
    return Plan("delta_orthogonal", gain=_gain(gain, where))


@builtin("sparse")
def sparse(shape: tuple[int, ...], sparsity: float = 0.1, std: float = 0.01) -> Plan:
    """Martens (2010), torch ``sparse_``: N(0, std^2) with a fraction of each unit's
    weights set to zero.

    In microinit's (in, out) layout every row (input unit) gets exactly
    ceil(sparsity * out) zeros at uniformly random positions, which is torch's
    "per column of (out, in)". 2-D only; 0 <= sparsity <= 1, std >= 0.

    >>> w = sparse((4, 10), sparsity=0.3, rng=0); (w == 0).sum(axis=1).tolist()
    [3, 3, 3, 3]
    """
    where = "sparse"
    sparsity = check_real(sparsity, "sparsity", where, lo=0.0, hi=1.0)
    std = check_real(std, "std", where, nonnegative=True)
    if len(shape) != 2:
        raise ValueError(f"{where}: only 2-D shapes are supported, got shape {shape}")
    return Plan("sparse", std=std, n_zeros=int(math.ceil(sparsity * shape[1])))

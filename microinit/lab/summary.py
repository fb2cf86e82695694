"""The per-network summary the lab's tables show, and its reading in words.

A reading is computed from the measured numbers with fixed thresholds on a ratio
last/first: below 0.01 the signal "vanishes", above 100 it "explodes", outside
[0.2, 5] it "shrinks"/"grows", otherwise it is "steady".

>>> trend(1e-3), trend(0.5), trend(300.0)
('vanish', 'steady', 'explode')
"""
import math

import numpy as np

from microinit.diagnostics import percent

__all__ = ["trend", "summarize", "SUMMARY_COLUMNS", "SUMMARY_FORMATS", "ROBUST_SHARE"]

#: A verdict about training (which differs from CPU to CPU in its last bits, and SGD
#: amplifies them) is printed only when at least this share of the seeds agree.
ROBUST_SHARE = 0.8

# The columns ``summarize`` fills, in the order the tables show them.
SUMMARY_COLUMNS = ["std_first", "std_last", "std_ratio", "grad_first", "grad_last", "grad_ratio", "saturated",
                   "dead", "nonfinite", "reading"]
SUMMARY_FORMATS = {"saturated": percent, "dead": percent}


def trend(ratio):
    """One word for a last/first ratio (``None`` when it is missing or not finite)."""
    if ratio is None or not math.isfinite(ratio):
        return None
    if ratio < 0.01:
        return "vanish"
    if ratio > 100:
        return "explode"
    if ratio < 0.2:
        return "shrink"
    if ratio > 5:
        return "grow"
    return "steady"


def _reading(std_ratio, grad_ratio, saturated, nonfinite, first_bad=None):
    if nonfinite:
        # Past an overflow the ratios describe inf/NaN (which ReLU turns into 0), not the
        # network: report where it broke instead.
        return "overflow to inf/NaN" + (f" from layer {first_bad}" if first_bad else "")
    parts = []
    if saturated is not None and saturated > 0.5:
        parts.append("saturated")
    a, g = trend(std_ratio), trend(grad_ratio)
    if a:
        parts.append(f"activations {a}")
    if g:
        parts.append(f"gradients {g}")
    return ", ".join(parts) or "-"


def _mean_or_none(values):
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def summarize(stats):
    """The per-network numbers the lab tables show, from a ``LayerStats`` table.

    ``std_first``/``std_last``: activation std of the first and last hidden layer;
    ``grad_first``/``grad_last``: std of dL/da there; ``grad_ratio`` = grad_first /
    grad_last (how much of the gradient reaching the last hidden layer is left at the
    first one); ``std_ratio`` = std_last / std_first; saturation and dead units averaged
    over the hidden layers; ``nonfinite`` counts inf/NaN values anywhere.

    >>> import numpy as np
    >>> from microinit import nn
    >>> from microinit.diagnostics import layer_stats
    >>> model = nn.MLP([16, 16, 16, 16, 4], activation="relu", weight_init="he_normal", rng=0)
    >>> X = np.random.default_rng(0).standard_normal((128, 16)).astype(np.float32)
    >>> summarize(layer_stats(model, X, np.arange(128) % 4))["reading"]
    'activations steady, gradients steady'
    """
    hidden = stats.hidden()
    first, last = hidden[0], hidden[-1]
    sat = _mean_or_none(r["saturated"] for r in hidden)
    dead = _mean_or_none(r["dead"] for r in hidden)
    nonfinite = int(sum(stats["nonfinite"]))
    std_ratio, grad_ratio = stats.std_ratio(), stats.grad_ratio()
    if all(r["std"] == 0 and r["mean"] == 0 for r in hidden):
        reading = "no signal: every hidden activation is 0"
    else:
        reading = _reading(std_ratio, grad_ratio, sat, nonfinite,
                           next((r["layer"] for r in stats if r["nonfinite"]), None))
    return {"std_first": first["std"], "std_last": last["std"], "grad_first": first["grad_std"],
            "grad_last": last["grad_std"], "std_ratio": std_ratio, "grad_ratio": grad_ratio,
            "saturated": sat, "dead": dead, "nonfinite": nonfinite,
            "reading": reading}

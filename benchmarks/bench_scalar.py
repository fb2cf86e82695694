"""The classic micrograd demo, timed: microinit's scalar engine against micrograd.

100 points of two moons (noise 0.1, from ``microinit.data.moons``), ``MLP(2, [16, 16,
1])``, max-margin loss + L2 1e-4, full-batch SGD with lr = 1.0 - 0.9 k/100, 100 steps
-- exactly the training loop of micrograd's ``demo.ipynb``. Every variant starts from
the same initial weights (microinit's he_uniform draw, copied into micrograd's MLP)
and must produce the same loss at every step (checked to 1e-9 relative).

Variants (per-step time = forward + zero_grad + backward + SGD update):

  micrograd (gc on)           as users run it; Python's cyclic collector is triggered
                              by the closure cycles of its ~66,000 nodes per step
  micrograd (gc off)          the collector disabled during the step; garbage is
                              collected between steps, outside the timing (with no
                              collection at all the cycles would pile up ~GBs)
  microinit                   the exported compiled ``Value`` + ``microinit.scalar.nn``
  microinit (Python neurons)  the same Value, but each neuron computed by micrograd's
                              own interpreted ``sum(wi*xi ...)`` loop -- what plain
                              micrograd-style code written on ``microinit.Value`` gets
  microinit (Python replay)   the same forward graph, backward replayed in plain Python
                              over the same tape (``microinit.scalar.tape.replay``)

The variants run round robin, 10 steps each in turn, so that changes in the load of a
shared machine hit all of them alike; garbage is collected between blocks, untimed.
Run ``python benchmarks/bench_scalar.py [--steps 100]``. ``run()`` returns the
numbers as a dict; ``bench(quick)`` is what ``microinit bench --scalar`` calls.
"""
import argparse
import gc
import statistics
import sys
import time

import numpy as np

TARGETS = {  # microinit's speed-up over ... must be at least
    "micrograd (gc on)": 100.0,
    "micrograd (gc off)": 10.0,
    "microinit (Python replay)": 5.0,
}


def make_data(n_points=100, seed=0):
    """Two moons as plain Python floats; labels -1/+1 as in micrograd's demo."""
    from microinit.data import moons

    X, y = moons(n_points, noise=0.1, rng=seed)
    return np.asarray(X, dtype=np.float64).tolist(), [float(2 * v - 1) for v in y]


def loss(model, Value, X, y, alpha=1e-4):
    """micrograd demo's loss: mean hinge (max-margin) loss + alpha * sum(p**2)."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum((p * p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return total_loss, sum(accuracy) / len(accuracy)


def train(model, Value, X, y, steps, backward=None, gc_off=False, block=10):
    """micrograd demo's loop. A generator: each ``next()`` runs ``block`` steps and
    returns their [(seconds, loss)], after dropping the last graph, so that nothing
    of this variant is alive while another one runs."""
    done = []
    total_loss = None
    for k in range(steps):
        if gc_off:
            gc.collect()          # outside the timing: the previous step's cycles
            gc.disable()
        t0 = time.perf_counter()
        total_loss, _acc = loss(model, Value, X, y)
        model.zero_grad()
        if backward is None:
            total_loss.backward()
        else:
            backward(total_loss)
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        seconds = time.perf_counter() - t0
        if gc_off:
            gc.enable()
        done.append((seconds, total_loss.data))
        if len(done) == block or k == steps - 1:
            total_loss = None
            yield done
            done = []


def _replay_backward(root):
    from microinit.scalar.tape import replay

    tape = root.tape()
    tape.set_grads(replay(tape))
    tape.accumulate()


def _python_neuron_call(self, x):
    # micrograd's Neuron.__call__, verbatim, on microinit Values
    act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
    return act.relu() if self.nonlin else act


def _with_python_neurons(blocks):
    """Run each block of ``blocks`` with micrograd's interpreted Neuron.__call__."""
    from microinit.scalar import nn as snn

    original = snn.Neuron.__call__
    while True:
        snn.Neuron.__call__ = _python_neuron_call
        try:
            item = next(blocks, None)
        finally:
            snn.Neuron.__call__ = original
        if item is None:
            return
        yield item


def _microinit_model(init_values):
    from microinit.scalar.nn import MLP

    model = MLP(2, [16, 16, 1])
    for p, v in zip(model.parameters(), init_values):
        p.data = v
    return model


def _micrograd_model(init_values):
    from micrograd.nn import MLP

    model = MLP(2, [16, 16, 1])
    for p, v in zip(model.parameters(), init_values):
        p.data = v
    return model


def _nodes_per_step(X, y, init_values):
    from microinit import Value

    total, _ = loss(_microinit_model(init_values), Value, X, y)
    return len(total.tape())


def run(steps=100, n_points=100, seed=0, include_micrograd=True, verbose=False):
    """Train every variant for ``steps`` steps; return medians (ms), ratios, checks."""
    from microinit import Value
    from microinit.scalar.nn import MLP

    X, y = make_data(n_points, seed)
    init_values = [p.data for p in MLP(2, [16, 16, 1], rng=seed).parameters()]

    runs = {
        "microinit": train(_microinit_model(init_values), Value, X, y, steps),
        "microinit (Python neurons)": _with_python_neurons(
            train(_microinit_model(init_values), Value, X, y, steps)),
        "microinit (Python replay)": train(_microinit_model(init_values), Value, X, y, steps,
                                           backward=_replay_backward),
    }
    micrograd_version = None
    if include_micrograd:
        try:
            import micrograd
            from micrograd.engine import Value as MValue

            micrograd_version = getattr(micrograd, "__version__", "installed")
        except ImportError:
            MValue = None
        if MValue is not None:
            runs["micrograd (gc off)"] = train(_micrograd_model(init_values), MValue, X, y,
                                               steps, gc_off=True)
            runs["micrograd (gc on)"] = train(_micrograd_model(init_values), MValue, X, y, steps)

    # Round robin, a block of steps of each variant in turn, so that a change in the
    # load of the machine hits every variant alike; garbage is collected between
    # blocks, outside the timing, so that no variant pays for another's.
    times = {name: [] for name in runs}
    losses = {name: [] for name in runs}
    for k in range(0, steps, 10):
        if verbose:
            print(f"  steps {k}-{min(k + 10, steps) - 1} of {steps}", file=sys.stderr, flush=True)
        for name, it in runs.items():
            for seconds, value in next(it):
                times[name].append(seconds)
                losses[name].append(value)
            gc.collect()
    variants = {name: {"median_ms": 1e3 * statistics.median(times[name]) if steps else 0.0,
                       "min_ms": 1e3 * min(times[name]) if steps else 0.0,
                       "losses": losses[name]} for name in runs}

    ref = np.asarray(variants["microinit"]["losses"])
    worst = 0.0
    for v in variants.values():
        diff = np.abs(np.asarray(v["losses"]) - ref) / np.maximum(np.abs(ref), 1e-300)
        v["max_rel_loss_diff"] = float(diff.max()) if len(diff) else 0.0
        worst = max(worst, v["max_rel_loss_diff"])
    base = variants["microinit"]["median_ms"]
    ratios = {name: v["median_ms"] / base for name, v in variants.items() if name != "microinit"}
    return {
        "benchmark": "scalar engine: micrograd demo (moons 100, MLP(2,[16,16,1]), 100-step SGD)",
        "steps": steps,
        "nodes_per_step": _nodes_per_step(X, y, init_values),
        "micrograd": micrograd_version,
        "median_ms": {name: v["median_ms"] for name, v in variants.items()},
        "min_ms": {name: v["min_ms"] for name, v in variants.items()},
        "speedup": ratios,
        "targets": {name: {"target": t, "measured": ratios.get(name),
                           "met": ratios.get(name) is not None and ratios[name] >= t}
                    for name, t in TARGETS.items()},
        "losses_match": worst <= 1e-9,
        "max_rel_loss_diff": worst,
        "final_loss": variants["microinit"]["losses"][-1] if steps else None,
    }


def format_result(res):
    lines = [res["benchmark"],
             f"steps: {res['steps']}, graph: {res['nodes_per_step']} nodes per step, "
             f"micrograd: {res['micrograd'] or 'not installed'}",
             f"{'variant':<28}{'median ms/step':>16}{'min ms':>10}{'microinit is':>16}"]
    for name, ms in res["median_ms"].items():
        ratio = res["speedup"].get(name)
        lines.append(f"{name:<28}{ms:>16.2f}{res['min_ms'][name]:>10.2f}"
                     f"{(f'{ratio:.1f}x faster' if ratio else '-'):>16}")
    for name, t in res["targets"].items():
        if t["measured"] is None:
            lines.append(f"target vs {name}: >= {t['target']:.0f}x, not measured (not run)")
            continue
        lines.append(f"target vs {name}: >= {t['target']:.0f}x, measured {t['measured']:.1f}x "
                     f"-> {'met' if t['met'] else 'NOT met'}")
    lines.append(f"same loss at every step: {res['losses_match']} "
                 f"(max relative difference {res['max_rel_loss_diff']:.1e}); "
                 f"final loss {res['final_loss']:.6f}")
    return "\n".join(lines)


def bench(quick=False):
    """For ``microinit bench --scalar``: run, print the table, return the dict
    (``quick``: 10 steps instead of 100)."""
    res = run(steps=10 if quick else 100, verbose=True)
    print(format_result(res))
    return res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-micrograd", action="store_true")
    args = parser.parse_args(argv)
    res = run(args.steps, args.points, args.seed, include_micrograd=not args.no_micrograd,
              verbose=True)
    print(format_result(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

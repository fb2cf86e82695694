"""`microinit bench`: microinit's training step against hand-written numpy and PyTorch.

One runner, one process, one run: for each MLP size and thread count it times a full
float32 training step (forward, loss, backward, SGD update) of

  * microinit through its public API (``nn.MLP``, ``losses``, ``optim.SGD``),
  * a hand-written numpy MLP (``NumpyMLP`` below: fused in-place bias/ReLU, no
    autograd, the code an expert writes by hand),
  * PyTorch eager (``torch.nn.Sequential`` + ``torch.optim.SGD``) when importable,

and prints medians with min-max, the ratios (>1 means microinit is faster), GFLOP/s
and the fraction of one core's fp32 peak, which is *measured* by an FMA loop kernel
(``matmul.fma_peak``: 12 independent vector FMA chains, no memory traffic). It also
measures the matmul kernel against numpy at n = 8 ... 1024, the traced peak memory of
one step (tracemalloc) against the numpy step's, and, when their modules exist,
engineer C's scalar-engine comparison (``benchmarks/bench_scalar.py``, ``--scalar``)
and engineer B's initializer timings (``benchmarks/bench_init.py``, ``--init``).

    microinit bench                    # full run (a few minutes on 2 cores)
    microinit bench --quick            # fewer repeats, smaller matmul sweep
    microinit bench --json out.json    # also write every figure as JSON

Timing protocol: warm-up steps first (buffers, caches, thread pools), then ``repeats``
samples, each the mean of ``inner`` back-to-back steps; the median sample is reported.
The 1- and 2-thread runs set ``microinit.set_num_threads`` (kernels and numpy's BLAS)
and ``torch.set_num_threads`` alike.
"""
import argparse
import datetime
import gc
import importlib.util
import itertools
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from microinit._atomic import atomic_write

# name -> (layer sizes, batch, loss). The tiny net regresses one output (MSE); the
# others classify into 10 classes (softmax cross-entropy), as in the table.
CONFIGS = {
    "tiny": ([2, 16, 16, 1], 100, "mse"),
    "small": ([64, 128, 128, 10], 32, "xent"),
    "medium": ([784, 256, 256, 10], 128, "xent"),
    "large": ([784, 1024, 1024, 10], 256, "xent"),
}
LR = 0.01
# Sleep before each timed sample with more than one thread, so that thread pools left
# spinning by the previous implementation (OpenBLAS, PyTorch's OpenMP) are idle.
PAUSE_THREADED = 0.1

# Targets from the issue: minimum speed-up over PyTorch (per thread count) and numpy.
TARGETS = {
    "tiny": {"torch": {1: 8.0, 2: 8.0}, "numpy": 1.5},
    "small": {"torch": {1: 4.0, 2: 4.0}, "numpy": 1.5},
    "medium": {"torch": {1: 1.15, 2: 1.0}, "numpy": 1.0},
    "large": {"torch": {1: 1.0, 2: 1.0}, "numpy": 1.0},
}


# ----------------------------------------------------------------------------- data
def make_problem(name, seed=0):
    sizes, batch, loss = CONFIGS[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if loss == "mse":
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    else:
        y = rng.integers(0, sizes[-1], size=batch).astype(np.int64)
    # He-uniform weights (in, out) and zero biases, shared by every implementation.
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / fan_in)
        params.append((rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
                       np.zeros(fan_out, np.float32)))
    return sizes, x, y, loss, params


def step_flops(sizes, batch):
    """Multiply-add FLOPs of one step: forward 2BIO per layer; backward 2BIO for dW and
    2BIO for dx except the first layer (no input gradient); elementwise work ignored."""
    total = 0
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        total += 2 * batch * a * b * (2 if i == 0 else 3)
    return total


# ----------------------------------------------------------------------------- numpy
class NumpyMLP:
    """A hand-written numpy MLP step, written the way one writes it carefully by hand:
    bias-add and ReLU in place on the matmul output, the ReLU mask taken from the
    activations, the softmax cross-entropy gradient built in place, in-place SGD."""

    def __init__(self, params, loss):
        self.W = [w.copy() for w, _ in params]
        self.b = [b.copy() for _, b in params]
        self.loss = loss

    def step(self, x, y, lr=LR):
        W, b = self.W, self.b
        hs = [x]
        h = x
        last = len(W) - 1
        for i in range(len(W)):
            z = h @ W[i]
            z += b[i]
            if i < last:
                np.maximum(z, 0, out=z)
            hs.append(z)
            h = z
        n = x.shape[0]
        if self.loss == "mse":
            g = h - y
            loss = float(np.dot(g.ravel(), g.ravel())) / g.size
            g *= 2.0 / g.size
        else:
            z = h - h.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            loss = -float(np.log(z[np.arange(n), y]).mean())
            g = z
            g[np.arange(n), y] -= 1.0
            g /= n
        for i in range(last, -1, -1):
            dW = hs[i].T @ g
            db = g.sum(axis=0)
            if i > 0:
                g = g @ W[i].T
                g *= hs[i] > 0
            W[i] -= lr * dW
            b[i] -= lr * db
        return loss


# ----------------------------------------------------------------------------- microinit
class _AutogradStep:
    """One training step as both autograd frameworks spell it."""

    def step(self, x, y):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss


class MicroinitMLP(_AutogradStep):
    """The same network through microinit's public API: nn.MLP, losses, optim.SGD."""

    def __init__(self, params, loss, sizes):
        from microinit import losses, nn, optim

        self.model = nn.MLP(sizes, activation="relu", rng=0)
        layers = list(self.model)
        for layer, (w, b) in zip(layers, params):
            layer.weight.data[...] = w
            layer.bias.data[...] = b
        self.opt = optim.SGD(self.model.parameters(), lr=LR)
        self.loss_fn = losses.mse if loss == "mse" else losses.cross_entropy


# ----------------------------------------------------------------------------- torch
def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


class TorchMLP(_AutogradStep):
    def __init__(self, params, loss, torch):
        layers = []
        for i, (w, b) in enumerate(params):
            lin = torch.nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(params) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.loss_fn = torch.nn.functional.mse_loss if loss == "mse" else torch.nn.functional.cross_entropy


# ----------------------------------------------------------------------------- timing
def time_fn(fn, repeats, inner, warmup):
    """Median, min and max seconds per call over `repeats` samples of `inner` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def _inner_for(seconds_per_call, target=0.02):
    return max(1, int(target / max(seconds_per_call, 1e-7)))


def _probe(fn):
    # One untimed call first: a first call (lazy imports, first-touch page faults,
    # thread-pool start-up) can take 1000x a steady one, and an inflated probe would
    # make the samples so short that timer overhead dominates them.
    fn()
    t0 = time.perf_counter()
    fn()
    fn()
    return (time.perf_counter() - t0) / 2


def time_interleaved(fns, repeats, target, pause=0.005):
    """Like time_fn for several implementations, sampled round-robin: each repeat times
    every implementation once in turn (with a short pause before each), so a burst of
    load from other processes on a shared machine lands on all of them rather than on
    whichever ran at that moment.

    The order runs through every permutation in turn, so each implementation follows
    each other one equally often. Rotating one fixed order would not do that (it keeps
    the cyclic order: with three, the first always runs right after the third), and
    with two threads whoever follows PyTorch or OpenBLAS meets their worker threads
    still spinning on a core. ``pause`` seconds of sleep before each implementation
    let those threads go idle first (bench_steps uses a longer one with two threads:
    OpenBLAS's workers busy-wait for tens of milliseconds after a call); one untimed
    call then wakes the implementation's own pool, so the sample is a steady-state
    step, as in a training loop, not a cold start."""
    inner = {}
    for name, fn in fns.items():
        inner[name] = _inner_for(_probe(fn), target)
        for _ in range(max(3, inner[name])):  # warm-up: buffers, caches, thread pools
            fn()
    samples = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    orders = list(itertools.permutations(fns))
    for rep in range(repeats):
        # Vary the order and pause between implementations: a thread pool that has
        # just finished (OpenMP, OpenBLAS, PyTorch's) keeps spinning for a moment and
        # would take a core from whichever implementation always ran next.
        for name in orders[rep % len(orders)]:
            fn = fns[name]
            time.sleep(pause)
            fn()  # untimed: wakes this implementation's own thread pool after the pause
            n = inner[name]
            c0 = time.process_time()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
            cpu[name].append((time.process_time() - c0) / n)
    # cpu_median: process CPU time per call. On a machine shared with other jobs it
    # leaves out the time this process waited for a core, so with one thread it is the
    # steadier figure (with two it adds both threads' time and is not comparable).
    return {name: {"median": statistics.median(v), "min": min(v), "max": max(v),
                   "cpu_median": statistics.median(cpu[name])}
            for name, v in samples.items()}


def set_threads(n, torch=None):
    import microinit

    microinit.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def measure_peak_gflops(seconds=0.2):
    """Single-core fp32 peak, measured by the FMA loop kernel (see matmul.fma_peak)."""
    from microinit._kernels import matmul

    best = 0.0
    for _ in range(10):
        best = max(best, matmul.fma_peak(seconds / 10))
    return best


def bench_steps(names, threads, repeats, quick, torch, log):
    rows = []
    for name in names:
        sizes, x, y, loss, params = make_problem(name)
        flops = step_flops(sizes, x.shape[0])
        impls = {"microinit": MicroinitMLP(params, loss, sizes), "numpy": NumpyMLP(params, loss)}
        if torch is not None:
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            tm = TorchMLP(params, loss, torch)
            impls["torch"] = tm
        for nt in threads:
            set_threads(nt, torch)
            row = {"size": name, "sizes": sizes, "batch": int(x.shape[0]), "threads": nt,
                   "flops_per_step": flops}
            fns = {}
            for impl_name, impl in impls.items():
                if impl_name == "torch":
                    fns[impl_name] = (lambda impl=impl: impl.step(tx, ty))
                else:
                    fns[impl_name] = (lambda impl=impl: impl.step(x, y))
            row.update(time_interleaved(fns, repeats, 0.01 if quick else 0.02,
                                        pause=0.005 if nt == 1 else PAUSE_THREADED))
            # the derived figures, for the JSON (the tables compute the same)
            mi = row["microinit"]
            row["gflops"] = flops / mi["median"] / 1e9
            for other in ("numpy", "torch"):
                if other in row:
                    row[f"speedup_vs_{other}"] = row[other]["median"] / mi["median"]
                    row[f"speedup_vs_{other}_cpu"] = row[other]["cpu_median"] / mi["cpu_median"]
            rows.append(row)
            log(_format_row(row))
    return rows


def _ratio(row, other):
    if other not in row:
        return None
    return row[other]["median"] / row["microinit"]["median"]


def _format_row(row):
    def us(t):
        return f"{t['median'] * 1e6:,.0f} ({t['min'] * 1e6:,.0f}-{t['max'] * 1e6:,.0f})"

    parts = [f"{row['size']:<6} {row['threads']}T", f"microinit {us(row['microinit'])}",
             f"numpy {us(row['numpy'])}"]
    if "torch" in row:
        parts.append(f"torch {us(row['torch'])}")
    return " | ".join(parts)


def bench_matmul(ns, threads, repeats, log):
    """Square float32 products: the own kernel and numpy's BLAS, each writing into a
    given output (pure kernel speed), and the public ``functional.matmul`` (validation,
    pooled output, BLAS above the crossover) against plain ``numpy.matmul``."""
    from microinit._kernels import matmul
    from microinit.ops import linalg

    rows = []
    rng = np.random.default_rng(0)
    for nt in threads:
        set_threads(nt)
        for n in ns:
            a = rng.standard_normal((n, n)).astype(np.float32)
            b = rng.standard_normal((n, n)).astype(np.float32)
            out = np.empty((n, n), np.float32)
            flops = 2.0 * n ** 3
            res = {"n": n, "threads": nt}
            fns = {"own": lambda: matmul.gemm(a, b, out),
                   "numpy_out": lambda: np.matmul(a, b, out=out),
                   "public": lambda: linalg.matmul(a, b),
                   "numpy": lambda: np.matmul(a, b)}
            if nt == 1:
                timed = time_interleaved(fns, repeats, 0.005)
            else:
                # With two threads, each variant is timed in its own block after a pause:
                # interleaved, the own kernel's OpenMP team and OpenBLAS's threads (which
                # spin for a while after every call) take each other's cores and the
                # figures measure that contention (ms per call), not the kernels.
                timed = {}
                for label, fn in fns.items():
                    time.sleep(0.3)
                    timed.update(time_interleaved({label: fn}, repeats, 0.005))
            for label, t in timed.items():
                res[label] = dict(t, gflops=flops / t["median"] / 1e9)
            res["own_over_numpy"] = res["numpy_out"]["median"] / res["own"]["median"]
            res["public_over_numpy"] = res["numpy"]["median"] / res["public"]["median"]
            res["own_over_numpy_cpu"] = res["numpy_out"]["cpu_median"] / res["own"]["cpu_median"]
            rows.append(res)
            log(f"matmul n={n:<5} {nt}T  own kernel {res['own']['median'] * 1e6:9.1f} us "
                f"{res['own']['gflops']:6.1f} GF/s | numpy(out=) {res['numpy_out']['median'] * 1e6:9.1f} us "
                f"{res['numpy_out']['gflops']:6.1f} GF/s | kernel/BLAS speed {res['own_over_numpy']:.2f}x"
                f" (CPU time {res['own_over_numpy_cpu']:.2f}x)"
                f" | F.matmul vs np.matmul {res['public_over_numpy']:.2f}x")
    return rows


def matmul_table(rows):
    lines = ["| n | threads | own kernel µs | GFLOP/s | numpy (BLAS) µs | GFLOP/s | kernel speed vs BLAS "
             "| same, by CPU time (1 thread) | `F.matmul` vs `np.matmul` |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cpu = f"{r['own_over_numpy_cpu']:.2f}×" if r["threads"] == 1 else "—"
        lines.append(f"| {r['n']} | {r['threads']} | {r['own']['median'] * 1e6:,.1f} | {r['own']['gflops']:.1f} "
                     f"| {r['numpy_out']['median'] * 1e6:,.1f} | {r['numpy_out']['gflops']:.1f} "
                     f"| {r['own_over_numpy']:.2f}× | {cpu} | {r['public_over_numpy']:.2f}× |")
    return "\n".join(lines)


def traced_peak(fn):
    """Peak bytes traced by tracemalloc while fn() runs (numpy reports its buffers)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


def bench_memory(names, log):
    """Memory of a steady-state step, two ways.

    * step peak: the most memory newly allocated while one step runs (tracemalloc,
      after warm-up steps), for microinit and for the numpy step. The issue's measure.
    * resident: microinit keeps its reusable buffers (outputs, pre-activations,
      gradients) in a pool between steps, where the numpy step frees its temporaries;
      "microinit resident + step peak" against the numpy step peak is the stricter
      comparison, reported beside it.
    """
    from microinit.ops import linalg

    rows = []
    for name in names:
        sizes, x, y, loss, params = make_problem(name)
        linalg.clear_buffers()
        gc.collect()
        mi = MicroinitMLP(params, loss, sizes)
        npm = NumpyMLP(params, loss)
        for _ in range(3):  # steady state: buffers of earlier steps are reusable
            mi.step(x, y)
            npm.step(x, y)
        row = {"size": name, "microinit_bytes": traced_peak(lambda: mi.step(x, y)),
               "numpy_bytes": traced_peak(lambda: npm.step(x, y)),
               "microinit_pool_bytes": linalg.pooled_bytes()}
        row["ratio"] = row["microinit_bytes"] / max(row["numpy_bytes"], 1)
        row["ratio_with_pool"] = ((row["microinit_bytes"] + row["microinit_pool_bytes"])
                                  / max(row["numpy_bytes"], 1))
        rows.append(row)
        log(f"memory {name:<6} step peak: microinit {row['microinit_bytes'] / 1024:9.1f} KiB, numpy "
            f"{row['numpy_bytes'] / 1024:9.1f} KiB, ratio {row['ratio']:.2f} | microinit resident pool "
            f"{row['microinit_pool_bytes'] / 1024:9.1f} KiB; (pool + peak) / numpy peak "
            f"{row['ratio_with_pool']:.2f}")
        mi = npm = None  # free this size's model before the next one
    linalg.clear_buffers()
    return rows


def _machine():
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    detail = []
    try:
        with open("/proc/cpuinfo") as f:
            info = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        flags = info.get("flags", "").split()
        detail.append(f"family {info.get('cpu family')} model {info.get('model')}")
        detail.append("AVX-512" if "avx512f" in flags else ("AVX2+FMA" if "fma" in flags else "no FMA"))
        if "hypervisor" in flags:
            detail.append("virtual machine")
    except (OSError, ValueError):
        pass
    return {"cpu": model, "cores": cores, "detail": ", ".join(detail), "python": platform.python_version(),
            "numpy": np.__version__, "platform": platform.platform()}


def _optional_module(filename):
    """benchmarks/<filename> from the source checkout, or None when it is absent."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / filename
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"_microinit_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run_optional(filename, flag, quick, log, quick_argv=()):
    """Run another engineer's benchmark module: its ``bench(quick=...)`` when it has
    one (returning its rows for the JSON), else its ``main(argv)`` with our own argv
    kept away from its parser."""
    mod = _optional_module(filename)
    if mod is None:
        log(f"{flag}: benchmarks/{filename} not found (run from a source checkout); skipped")
        return None
    log(f"\n{flag}: benchmarks/{filename}")
    if hasattr(mod, "bench"):
        return mod.bench(quick=quick)
    if hasattr(mod, "main"):
        mod.main(list(quick_argv) if quick else [])
        return {"printed": True}
    log(f"{flag}: benchmarks/{filename} defines neither bench(quick) nor main(argv); skipped")
    return None


# ----------------------------------------------------------------------------- report
def summary_table(rows, peak):
    """The Markdown table of step medians, ratios and GFLOP/s (README format)."""
    lines = ["| MLP (batch) | threads | microinit µs | numpy µs | PyTorch µs | vs numpy | vs PyTorch "
             "| GFLOP/s | % of 1-core peak |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def us(t):
            return f"{t['median'] * 1e6:,.0f} ({t['min'] * 1e6:,.0f}–{t['max'] * 1e6:,.0f})"

        gf = r["flops_per_step"] / r["microinit"]["median"] / 1e9
        rn, rt = _ratio(r, "numpy"), _ratio(r, "torch")
        sizes = "-".join(map(str, r["sizes"]))
        lines.append(
            f"| {r['size']} {sizes} ({r['batch']}) | {r['threads']} | {us(r['microinit'])} "
            f"| {us(r['numpy'])} | {us(r['torch']) if 'torch' in r else 'n/a'} "
            f"| {rn:.2f}× | {f'{rt:.2f}×' if rt else 'n/a'} | {gf:.1f} "
            f"| {100 * gf / (peak * r['threads']):.0f}% |")
    return "\n".join(lines)


def cpu_table(rows, peak):
    """1-thread rows by process CPU time (see time_interleaved)."""
    lines = ["| MLP (batch) | microinit CPU µs | numpy CPU µs | PyTorch CPU µs | vs numpy | vs PyTorch "
             "| GFLOP/s | % of 1-core peak |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["threads"] != 1:
            continue
        mi = r["microinit"]["cpu_median"]
        tn = r["numpy"]["cpu_median"]
        tt = r["torch"]["cpu_median"] if "torch" in r else None
        lines.append(f"| {r['size']} ({r['batch']}) | {mi * 1e6:,.0f} | {tn * 1e6:,.0f} "
                     f"| {f'{tt * 1e6:,.0f}' if tt else 'n/a'} | {tn / mi:.2f}× "
                     f"| {f'{tt / mi:.2f}×' if tt else 'n/a'} | {r['flops_per_step'] / mi / 1e9:.1f} "
                     f"| {100 * r['flops_per_step'] / mi / 1e9 / peak:.0f}% |")
    return "\n".join(lines)


def memory_table(rows):
    lines = ["| MLP | microinit step peak KiB | numpy step peak KiB | ratio | microinit resident pool KiB "
             "| (pool + peak) ÷ numpy peak |", "|---|---|---|---|---|---|"]
    for m in rows:
        lines.append(f"| {m['size']} | {m['microinit_bytes'] / 1024:,.1f} | {m['numpy_bytes'] / 1024:,.1f} "
                     f"| {m['ratio']:.2f} | {m['microinit_pool_bytes'] / 1024:,.1f} | {m['ratio_with_pool']:.2f} |")
    return "\n".join(lines)


def markdown_report(result):
    """The README's figures from one run's result dict (what --json writes)."""
    m = result["machine"]
    parts = [f"Run {result['date'].replace('T', ' ').replace('+00:00', '')} UTC on {m['cpu']} "
             f"({m['cores']} cores{', ' + m['detail'] if m.get('detail') else ''}), Python {m['python']}, "
             f"numpy {m['numpy']}, PyTorch {result.get('torch') or 'not installed'}; measured "
             f"single-core fp32 peak {result['peak_gflops_1core']:.1f} GFLOP/s"
             f"{' (quick mode)' if result.get('quick') else ''}.", "",
             "Training step, float32, median µs (min–max):", "",
             summary_table(result["steps"], result["peak_gflops_1core"]), "",
             "The same 1-thread steps by process CPU time (median µs; leaves out time spent "
             "waiting for a core on a shared machine):", "", cpu_table(result["steps"], result["peak_gflops_1core"])]
    if result.get("matmul"):
        parts += ["", "Square float32 matmul:", "", matmul_table(result["matmul"])]
    if result.get("memory"):
        parts += ["", "Memory of one steady-state step (1 thread):", "", memory_table(result["memory"])]
    if result.get("targets"):
        parts += ["", "Targets, as the runner printed them:", "", "```"] + result["targets"] + ["```"]
    return "\n".join(parts) + "\n"


def target_report(rows, mem_rows, peak):
    out = []
    for r in rows:
        t = TARGETS[r["size"]]
        rn, rt = _ratio(r, "numpy"), _ratio(r, "torch")
        ok_n = rn >= t["numpy"]

        def cpu(other):
            if r["threads"] != 1:
                return ""
            return f" [CPU time {r[other]['cpu_median'] / r['microinit']['cpu_median']:.2f}x]"

        msg = f"{r['size']:<6} {r['threads']}T: vs numpy {rn:.2f}x{cpu('numpy')} (need {t['numpy']:.2f}x) " \
              f"{'MET' if ok_n else 'NOT MET'}"
        if rt is not None:
            need = t["torch"][r["threads"]]
            msg += (f"; vs PyTorch {rt:.2f}x{cpu('torch')} (need {need:.2f}x) "
                    f"{'MET' if rt >= need else 'NOT MET'}")
        out.append(msg)
    for r in rows:
        if r["size"] == "large" and r["threads"] == 1:
            wall = r["flops_per_step"] / r["microinit"]["median"] / 1e9
            cpu = r["flops_per_step"] / r["microinit"]["cpu_median"] / 1e9
            frac = wall / peak
            out.append(f"large  1T: {wall:.1f} GFLOP/s = {100 * frac:.0f}% of the measured 1-core peak "
                       f"{peak:.1f} [CPU time {100 * cpu / peak:.0f}%] (need >= 60%) "
                       f"{'MET' if frac >= 0.6 else 'NOT MET'}")
    for m in mem_rows:
        out.append(f"{m['size']:<6} memory: step peak {m['ratio']:.2f}x numpy's (need <= 1.10x) "
                   f"{'MET' if m['ratio'] <= 1.1 else 'NOT MET'}; counting microinit's resident "
                   f"buffer pool too: {m['ratio_with_pool']:.2f}x "
                   f"{'MET' if m['ratio_with_pool'] <= 1.1 else 'NOT MET'}")
    return out


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller matmul sweep")
    parser.add_argument("--sizes", default="tiny,small,medium,large",
                        help="comma-separated MLP sizes (tiny,small,medium,large)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=None, help="timing samples per figure")
    parser.add_argument("--json", default=None, metavar="PATH", help="write all figures as JSON")
    parser.add_argument("--markdown", default=None, metavar="PATH",
                        help="write the tables as Markdown (the README's Benchmarks figures)")
    parser.add_argument("--no-matmul", action="store_true", help="skip the matmul sweep")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory comparison")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    parser.add_argument("--scalar", action="store_true",
                        help="also run the scalar engine vs micrograd (benchmarks/bench_scalar.py)")
    parser.add_argument("--init", action="store_true",
                        help="also time the initializers vs torch.nn.init (benchmarks/bench_init.py)")


def run(args):
    log = print
    names = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"bench: unknown size(s) {unknown}; choose from {list(CONFIGS)}", file=sys.stderr)
        return 2
    threads = [int(t) for t in args.threads.split(",")]
    repeats = args.repeats or (6 if args.quick else 30)  # whole cycles of the 6 orders of 3
    torch = None if args.no_torch else _torch()
    import microinit

    before = microinit.get_num_threads()
    machine = _machine()
    log(f"microinit bench — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']}"
        + (f", torch {torch.__version__}" if torch is not None else ", torch not installed"))
    set_threads(1, torch)
    peak = measure_peak_gflops()
    log(f"measured single-core fp32 peak (FMA loop kernel): {peak:.1f} GFLOP/s")
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine, "peak_gflops_1core": peak, "quick": bool(args.quick),
              "torch": getattr(torch, "__version__", None)}
    try:
        result["steps"] = rows = bench_steps(names, threads, repeats, args.quick, torch, log)
        log("")
        log(summary_table(rows, peak))
        log("")
        log(cpu_table(rows, peak))
        if not args.no_matmul:
            ns = [8, 16, 32, 64, 128, 256] if args.quick else [8, 16, 24, 32, 48, 64, 96, 128, 192,
                                                                 256, 384, 512, 768, 1024]
            log("")
            result["matmul"] = mm = bench_matmul(ns, [1] if args.quick else threads,
                                                 max(3, repeats // 2), log)
            log("")
            log(matmul_table(mm))
        mem_rows = []
        if not args.no_memory:
            log("")
            set_threads(1, torch)
            result["memory"] = mem_rows = bench_memory(names, log)
        # The FMA loop is the same at the start and the end of the run; on a shared
        # machine the larger of the two is the closer to what one core can do.
        set_threads(1, torch)
        peak = result["peak_gflops_1core"] = max(peak, measure_peak_gflops())
        log(f"single-core fp32 peak, max of start and end of run: {peak:.1f} GFLOP/s")
        log("")
        result["targets"] = target_report(rows, mem_rows, peak)
        for line in result["targets"]:
            log(line)
        if args.scalar:
            result["scalar"] = _run_optional("bench_scalar.py", "--scalar", args.quick, log,
                                             quick_argv=("--steps", "20"))
        if args.init:
            result["init"] = _run_optional("bench_init.py", "--init", args.quick, log)
    finally:
        set_threads(before, torch)
    if args.json:
        _write_atomic(args.json, json.dumps(result, indent=2, default=str))
        log(f"\nwrote {args.json}")
    if args.markdown:
        _write_atomic(args.markdown, markdown_report(result))
        log(f"wrote {args.markdown}")
    return 0


def _write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="microinit bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Initializer speed: microinit.init against torch.nn.init, one thread, one run.

Every initializer fills a preallocated 4096 x 4096 float32 weight in place
(``init.kaiming_normal_(w)`` vs ``torch.nn.init.kaiming_normal_(t)``); microinit's
allocating form (``init.get(name)(shape)``, which also pays for the new array) and a
plain-numpy baseline (``Generator`` draw times the std; ``numpy.linalg.qr`` + sign
correction for orthogonal) are timed in the same run. Measurements of the variants
are interleaved and the median of `repeats` is reported; ratio = torch / microinit
(> 1 means microinit is faster). Torch runs with ``torch.set_num_threads(1)`` and
numpy's BLAS is limited to one thread with threadpoolctl.

Run ``python benchmarks/bench_init.py [--repeats 3] [--size 4096]``; ``run()`` returns
one dict per initializer, and ``bench(quick)`` prints and returns them for
``microinit bench --init``.
"""
import argparse
import math
import statistics
import time

import numpy as np

# (label, microinit in-place fn name, its kwargs, torch fn name, torch kwargs, numpy baseline)
# numpy baselines: ("normal", std) | ("uniform", bound) | ("trunc", std, low, high) | ("qr",) | None
S = 4096


def _cases(n):
    he_std, he_bound = math.sqrt(2 / n), math.sqrt(6 / n)
    xg_std, xg_bound = math.sqrt(2 / (2 * n)), math.sqrt(6 / (2 * n))
    return [
        ("uniform", "uniform_", {"low": -1.0, "high": 1.0}, "uniform_", {"a": -1.0, "b": 1.0}, ("uniform", 1.0)),
        ("normal", "normal_", {"std": 0.02}, "normal_", {"std": 0.02}, ("normal", 0.02)),
        ("trunc_normal", "trunc_normal_", {"std": 0.02, "low": -0.04, "high": 0.04},
         "trunc_normal_", {"std": 0.02, "a": -0.04, "b": 0.04}, ("trunc", 0.02, -0.04, 0.04)),
        ("xavier_uniform", "xavier_uniform_", {}, "xavier_uniform_", {}, ("uniform", xg_bound)),
        ("xavier_normal", "xavier_normal_", {}, "xavier_normal_", {}, ("normal", xg_std)),
        ("kaiming_uniform", "kaiming_uniform_", {}, "kaiming_uniform_", {}, ("uniform", he_bound)),
        ("kaiming_normal", "kaiming_normal_", {}, "kaiming_normal_", {}, ("normal", he_std)),
        ("orthogonal", "orthogonal_", {}, "orthogonal_", {}, ("qr",)),
        ("sparse", "sparse_", {"sparsity": 0.1}, "sparse_", {"sparsity": 0.1}, None),
        ("eye", "eye_", {}, "eye_", {}, None),
        ("zeros", "zeros_", {}, "zeros_", {}, None),
        ("constant", "constant_", {"value": 0.1}, "constant_", {"val": 0.1}, None),
        # No torch counterpart: Keras/JAX's defaults, timed against torch's nearest op.
        ("variance_scaling (trunc)", "variance_scaling_", {}, "trunc_normal_",
         {"std": math.sqrt(1 / n) / 0.87962566103423978, "a": -2 * math.sqrt(1 / n) / 0.87962566103423978,
          "b": 2 * math.sqrt(1 / n) / 0.87962566103423978}, None),
        ("lecun_normal", "lecun_normal_", {}, "normal_", {"std": math.sqrt(1 / n)}, ("normal", math.sqrt(1 / n))),
    ]


def _numpy_baseline(spec, shape, gen):
    kind = spec[0]
    if kind == "normal":
        return lambda: gen.standard_normal(shape, dtype=np.float32) * np.float32(spec[1])
    if kind == "uniform":
        return lambda: gen.uniform(-spec[1], spec[1], shape).astype(np.float32)
    if kind == "trunc":
        std, low, high = spec[1:]

        def trunc():
            out = np.empty(shape[0] * shape[1], np.float32)
            filled = 0
            while filled < out.size:
                z = gen.standard_normal(out.size - filled, dtype=np.float32) * np.float32(std)
                z = z[(z > low) & (z < high)]
                out[filled:filled + z.size] = z
                filled += z.size
            return out
        return trunc

    def qr():
        q, r = np.linalg.qr(gen.standard_normal(shape, dtype=np.float32))
        return q * np.sign(np.diagonal(r))
    return qr


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(repeats=3, size=S, names=None, numpy_baseline=True):
    """Time every initializer; returns [{"name", "shape", "microinit_ms",
    "microinit_alloc_ms", "torch_ms", "numpy_ms", "ratio", "faster"}]."""
    import torch
    from threadpoolctl import threadpool_limits

    from microinit import init

    torch.set_num_threads(1)
    shape = (size, size)
    gen = np.random.default_rng(0)
    tg = torch.Generator().manual_seed(0)
    results = []
    with threadpool_limits(limits=1):
        for label, ours_name, ours_kw, torch_name, torch_kw, base in _cases(size):
            if names and label not in names:
                continue
            w = np.empty(shape, np.float32)
            t = torch.empty(shape)
            ours = getattr(init, ours_name)
            theirs = getattr(torch.nn.init, torch_name)
            alloc = init.get({"name": ours_name.rstrip("_"), **ours_kw})
            tkw = dict(torch_kw)
            if torch_name not in ("eye_", "zeros_", "constant_", "dirac_"):
                tkw["generator"] = tg
            variants = {
                "microinit_ms": lambda: ours(w, rng=gen, **ours_kw),
                "torch_ms": lambda: theirs(t, **tkw),
                "microinit_alloc_ms": lambda: alloc(shape, rng=gen),
            }
            if numpy_baseline and base is not None:
                variants["numpy_ms"] = _numpy_baseline(base, shape, gen)
            times = {k: [] for k in variants}
            for _ in range(repeats):
                for key, fn in variants.items():
                    times[key].append(_time(fn))
            row = {"name": label, "shape": shape}
            for key, ts in times.items():
                row[key] = 1000 * statistics.median(ts)
            row.setdefault("numpy_ms", None)
            row["ratio"] = row["torch_ms"] / row["microinit_ms"]
            row["faster"] = row["ratio"] >= 1.0
            results.append(row)
    return results


def format_table(results):
    head = f"{'initializer':<26}{'microinit':>11}{'(alloc)':>10}{'torch':>11}{'numpy':>11}{'torch/mi':>10}"
    lines = [head, "-" * len(head)]
    for r in results:
        numpy_ms = f"{r['numpy_ms']:9.1f}ms" if r["numpy_ms"] is not None else f"{'-':>11}"
        lines.append(f"{r['name']:<26}{r['microinit_ms']:9.1f}ms{r['microinit_alloc_ms']:8.1f}ms"
                     f"{r['torch_ms']:9.1f}ms{numpy_ms}{r['ratio']:9.2f}x")
    n_fast = sum(r["faster"] for r in results)
    lines.append(f"microinit at least as fast as torch.nn.init in {n_fast}/{len(results)} "
                 f"(in-place fill, {results[0]['shape'][0]}x{results[0]['shape'][1]} float32, 1 thread)"
                 if results else "no results")
    return "\n".join(lines)


def bench(quick=False):
    """Entry point for ``microinit bench --init``: print the table, return the rows.
    quick: 1024 x 1024, one repeat, no numpy baselines (seconds instead of minutes)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("bench_init: PyTorch is not installed; nothing to compare against (skipped)")
        return []
    results = run(repeats=1, size=1024, numpy_baseline=False) if quick else run()
    print(format_table(results))
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--size", type=int, default=S)
    p.add_argument("--only", nargs="*", help="initializer labels to run")
    p.add_argument("--no-numpy", action="store_true", help="skip the numpy baselines")
    a = p.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        p.exit(2, "bench_init: needs PyTorch (pip install torch) to compare against torch.nn.init\n")
    print(format_table(run(a.repeats, a.size, a.only, not a.no_numpy)))


if __name__ == "__main__":
    main()

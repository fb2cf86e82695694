"""The measurements ``microinit bench`` makes: training steps, the matmul sweep, the
memory of one step, and a description of the machine they ran on."""
import gc
import os
import platform
import time

import numpy as np

from benchmarks.implementations import LABELS, prepare
from benchmarks.problems import MicroinitMLP, NumpyMLP, make_problem, step_flops
from benchmarks.report import RATIOS, speedup
from benchmarks.timing import PAUSE_THREADED, set_threads, time_interleaved, traced_peak

__all__ = ["bench_steps", "format_row", "bench_matmul", "bench_memory", "machine_info"]


def bench_steps(names, threads, repeats, quick, impls, torch, log, note=None):
    """Every implementation of ``impls`` (``implementations.select``) on every problem
    and thread count, timed together by ``time_interleaved``. One row per size and
    thread count: each contender's timing under its key, its first call under
    ``compile_seconds``, and the ratios (``speedups``: other's median / microinit's).
    ``note`` (default ``log``) gets the lines about contenders left out."""
    note = note or log
    rows = []
    told = set()
    for name in names:
        sizes, x, y, loss, params = make_problem(name)
        flops = step_flops(sizes, x.shape[0])
        set_threads(threads[0], torch)
        prepared = [p for p in (prepare(impl, params, loss, sizes, x, y, note) for impl in impls) if p is not None]
        for p in prepared:
            if p.impl.compiles:
                log(f"{name:<6} {p.impl.label}: first call (capture/compile) {p.first_call_seconds:.3f} s, "
                    "not part of the step time")
        for nt in threads:
            set_threads(nt, torch)
            fns = {}
            for p in prepared:
                if p.threads is not None and p.threads != nt:
                    if (p.impl.key, nt) not in told:
                        told.add((p.impl.key, nt))
                        note(f"{p.impl.label}: its threads are fixed at start ({p.threads}); "
                            f"left out of the {nt}-thread rows")
                    continue
                fns[p.impl.key] = p.run
            row = {"size": name, "sizes": sizes, "batch": int(x.shape[0]), "threads": nt,
                   "flops_per_step": flops,
                   "compile_seconds": {p.impl.key: p.first_call_seconds for p in prepared if p.impl.compiles}}
            row.update(time_interleaved(fns, repeats, 0.01 if quick else 0.02,
                                        pause=0.005 if nt == 1 else PAUSE_THREADED))
            # the derived figures, for the JSON (the tables compute the same)
            row["gflops"] = flops / row["microinit"]["median"] / 1e9
            row["speedups"] = {f"{base}/{other}": speedup(row, other, base) for base, other in RATIOS
                               if speedup(row, other, base) is not None}
            for other in ("numpy", "torch"):
                if other in row:
                    row[f"speedup_vs_{other}"] = row[other]["median"] / row["microinit"]["median"]
                    row[f"speedup_vs_{other}_cpu"] = row[other]["cpu_median"] / row["microinit"]["cpu_median"]
            rows.append(row)
            log(format_row(row))
        prepared = None  # free this size's models before the next one
    return rows


def format_row(row):
    """One console line: each contender's median (min-max) in µs."""
    def us(t):
        return f"{t['median'] * 1e6:,.0f} ({t['min'] * 1e6:,.0f}-{t['max'] * 1e6:,.0f})"

    parts = [f"{row['size']:<6} {row['threads']}T"]
    parts += [f"{label} {us(row[key])}" for key, label in LABELS.items() if key in row]
    return " | ".join(parts)


def bench_matmul(ns, threads, repeats, log):
    """Square float32 products: the own kernel and numpy's BLAS, each writing into a
    given output (pure kernel speed), and the public ``functional.matmul`` (validation,
    pooled output, BLAS above the crossover) against plain ``numpy.matmul``. Each row
    names the instruction set of the own kernel's tile (``isa``: avx512, avx2 or base,
    chosen at run time, docs/building.md)."""
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
            res = {"n": n, "threads": nt, "isa": matmul.gemm_isa()}
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
            log(f"matmul n={n:<5} {nt}T  own kernel ({res['isa']}) {res['own']['median'] * 1e6:9.1f} us "
                f"{res['own']['gflops']:6.1f} GF/s | numpy(out=) {res['numpy_out']['median'] * 1e6:9.1f} us "
                f"{res['numpy_out']['gflops']:6.1f} GF/s | kernel/BLAS speed {res['own_over_numpy']:.2f}x"
                f" (CPU time {res['own_over_numpy_cpu']:.2f}x)"
                f" | F.matmul vs np.matmul {res['public_over_numpy']:.2f}x")
    return rows


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


def machine_info():
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

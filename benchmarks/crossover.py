"""Where numpy's BLAS overtakes microinit's own kernel: the constants in functional/linalg.py.

For each shape this times the same call twice, once forced onto the own kernel and
once forced onto BLAS (``np.matmul(..., out=)`` + the fused epilogue), at 1 and 2
threads, and prints the faster path. Run from the repository root:

    python benchmarks/crossover.py            # dense layers (forward + backward) and matmul
    python benchmarks/crossover.py --quick
    OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/crossover.py --square --threads 1
    OPENBLAS_NUM_THREADS=2 python benchmarks/crossover.py --square --threads 2

``--square`` times the kernels alone: the own ``gemm`` and ``np.matmul``, each into a
preallocated output, on square float32 and float64 products (numpy's BLAS thread count
is fixed when it loads: set OPENBLAS_NUM_THREADS to match ``--threads``).

One-thread figures are CPU-time medians (the time this process computed, not the time
it waited for a core on a shared machine); two-thread figures are wall-clock medians.
The first line names the own kernel's tile (avx512, avx2 or base: chosen at run time,
docs/building.md), since the crossover depends on it.
Measured 2026-11-22 on the benchmark machine (AMD EPYC Zen 3, 2 cores, AVX2, OpenBLAS
0.3.31 Haswell kernels): see the MATMUL_BLAS_MIN / DENSE_BLAS_MIN comments in
microinit/ops/linalg.py. With the AVX-512 packed kernel (Dec 2026, Xeon family 6
model 207, OpenBLAS SkylakeX kernels) the own kernel matches BLAS on square products
from 96 to 1024 (docs/building.md has the table).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

import microinit
from microinit.ops import linalg as L

if not __package__:
    # Run as a script: make the folder importable as the package `benchmarks`.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import PAUSE_THREADED, time_interleaved  # noqa: E402


def _forced(blas, fn):
    """fn with both crossovers forced: every product on BLAS, or none."""
    def call():
        old = (L.MATMUL_BLAS_MIN, L.DENSE_BLAS_MIN)
        L.MATMUL_BLAS_MIN = L.DENSE_BLAS_MIN = (-1 if blas else 1 << 62)
        try:
            return fn()
        finally:
            L.MATMUL_BLAS_MIN, L.DENSE_BLAS_MIN = old
    return call


def _compare(fn, nt, repeats=9):
    """(own, blas) seconds per call: CPU-time medians with one thread (steadier on a
    shared machine), wall-clock medians with more; sampled round-robin."""
    r = time_interleaved({"own": _forced(False, fn), "blas": _forced(True, fn)}, repeats, 0.01)
    key = "cpu_median" if nt == 1 else "median"
    return r["own"][key], r["blas"][key]


def dense_shapes(quick):
    batches = [32, 128, 256] if quick else [32, 64, 128, 256]
    widths = [(64, 128), (128, 128), (256, 256), (784, 256), (1024, 1024)] if quick else \
        [(16, 16), (64, 128), (128, 128), (128, 10), (256, 256), (256, 10), (784, 256), (512, 512),
         (784, 1024), (1024, 1024), (1024, 10)]
    return [(n, i, o) for n in batches for i, o in widths]


def run(quick=False, threads=(1, 2), log=print):
    from microinit._kernels import matmul

    rng = np.random.default_rng(0)
    rows = []
    log(f"own kernel tile: {matmul.gemm_isa()}")
    before = microinit.get_num_threads()
    try:
        for nt in threads:
            microinit.set_num_threads(nt)
            for n, i, o in dense_shapes(quick):
                x = rng.standard_normal((n, i)).astype(np.float32)
                W = rng.standard_normal((i, o)).astype(np.float32)
                b = np.zeros(o, np.float32)
                dy = rng.standard_normal((n, o)).astype(np.float32)

                def step():
                    _, ctx = L.dense_forward(x, W, b, "relu")
                    L.dense_backward(ctx, dy)

                own, blas = _compare(step, nt)
                macs = n * i * o
                rows.append(dict(kind="dense", threads=nt, n=n, i=i, o=o, macs=macs, own=own, blas=blas))
                log(f"dense {nt}T {n:4d}x{i:4d}x{o:4d} macs {macs:>11,d}: own {own * 1e6:9.1f} us  "
                    f"blas {blas * 1e6:9.1f} us  -> {'own' if own <= blas else 'BLAS'} ({blas / own:.2f}x)")
            for s in ([32, 64, 128, 256, 512] if quick else [32, 64, 96, 128, 192, 256, 384, 512, 768]):
                a = rng.standard_normal((s, s)).astype(np.float32)
                c = rng.standard_normal((s, s)).astype(np.float32)
                own, blas = _compare(lambda: L.matmul(a, c), nt)
                rows.append(dict(kind="matmul", threads=nt, n=s, macs=s ** 3, own=own, blas=blas))
                log(f"matmul {nt}T n={s:4d} macs {s ** 3:>11,d}: own {own * 1e6:9.1f} us  blas {blas * 1e6:9.1f} us"
                    f"  -> {'own' if own <= blas else 'BLAS'} ({blas / own:.2f}x)")
    finally:
        microinit.set_num_threads(before)
    return rows


def square_kernels(sizes=(96, 128, 256, 512, 1024), dtypes=("float32", "float64"), nt=1,
                   rounds=7, log=print):
    """Own gemm against np.matmul on square products, both writing into a given output.

    One thread: the two calls interleaved, wall-clock medians (run under taskset -c 0).
    More threads: each in blocks of calls after a pause, the two alternating ``rounds``
    times, the median of the block medians -- interleaved call by call, OpenMP's and
    OpenBLAS's workers (which spin after each call) take each other's cores.
    Returns rows of (dtype, n, own seconds, BLAS seconds)."""
    from microinit._kernels import matmul

    rng = np.random.default_rng(0)
    rows = []
    before = microinit.get_num_threads()
    microinit.set_num_threads(nt)
    log(f"own kernel tile: {matmul.gemm_isa()}, {nt} thread(s)")
    try:
        for dt in dtypes:
            for n in sizes:
                a, b = (rng.standard_normal((n, n)).astype(dt) for _ in range(2))
                out_own, out_blas = np.empty((n, n), dt), np.empty((n, n), dt)
                fns = {"own": lambda: matmul.gemm(a, b, out_own),
                       "blas": lambda: np.matmul(a, b, out=out_blas)}
                if nt == 1:
                    r = time_interleaved(fns, 21, 0.01, pause=0.002)
                    own, blas = r["own"]["median"], r["blas"]["median"]
                else:
                    blocks = {"own": [], "blas": []}
                    for i in range(rounds):
                        for name in (("own", "blas") if i % 2 == 0 else ("blas", "own")):
                            time.sleep(PAUSE_THREADED)
                            blocks[name].append(time_interleaved({name: fns[name]}, 5, 0.02)[name]["median"])
                    own, blas = float(np.median(blocks["own"])), float(np.median(blocks["blas"]))
                rows.append((dt, n, own, blas))
                log(f"{dt:8s} n={n:5d} {nt}T  own {own * 1e6:9.1f} us {2 * n ** 3 / own / 1e9:6.1f} GF/s"
                    f" | BLAS {blas * 1e6:9.1f} us {2 * n ** 3 / blas / 1e9:6.1f} GF/s"
                    f" | own/BLAS speed {blas / own:.2f}x")
    finally:
        microinit.set_num_threads(before)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--square", action="store_true", help="own gemm vs np.matmul into given outputs")
    a = p.parse_args()
    if a.square:
        for t in a.threads.split(","):
            square_kernels(nt=int(t))
    else:
        run(a.quick, tuple(int(t) for t in a.threads.split(",")))
    sys.exit(0)

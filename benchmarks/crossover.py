"""Where numpy's BLAS overtakes microinit's own kernel: the constants in functional/linalg.py.

For each shape this times the same call twice, once forced onto the own kernel and
once forced onto BLAS (``np.matmul(..., out=)`` + the fused epilogue), at 1 and 2
threads, and prints the faster path. Run from the repository root:

    python benchmarks/crossover.py            # dense layers (forward + backward) and matmul
    python benchmarks/crossover.py --quick

Measured 2026-11-22 on the benchmark machine (AMD EPYC Zen 3, 2 cores, AVX2, OpenBLAS
0.3.31 Haswell kernels, shared with other jobs, so medians of repeated samples): see
the MATMUL_BLAS_MIN / DENSE_BLAS_MIN comments in microinit/functional/linalg.py.
"""
import argparse
import sys

import numpy as np

import microinit
from microinit.bench import _inner_for, _probe, time_fn
from microinit.functional import linalg as L


def _time(fn, repeats=7):
    return time_fn(fn, repeats, _inner_for(_probe(fn), 0.01), warmup=2)["median"]


def _forced(kind, blas, fn):
    old = (L.MATMUL_BLAS_MIN, L.DENSE_BLAS_MIN)
    L.MATMUL_BLAS_MIN = L.DENSE_BLAS_MIN = (-1 if blas else 1 << 62)
    try:
        return fn()
    finally:
        L.MATMUL_BLAS_MIN, L.DENSE_BLAS_MIN = old


def dense_shapes(quick):
    batches = [32, 128, 256] if quick else [32, 64, 128, 256]
    widths = [(64, 128), (128, 128), (256, 256), (784, 256), (1024, 1024)] if quick else \
        [(16, 16), (64, 128), (128, 128), (128, 10), (256, 256), (256, 10), (784, 256), (512, 512),
         (784, 1024), (1024, 1024), (1024, 10)]
    return [(n, i, o) for n in batches for i, o in widths]


def run(quick=False, threads=(1, 2), log=print):
    rng = np.random.default_rng(0)
    rows = []
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

                own = _forced("dense", False, lambda: _time(step))
                blas = _forced("dense", True, lambda: _time(step))
                macs = n * i * o
                rows.append(dict(kind="dense", threads=nt, n=n, i=i, o=o, macs=macs, own=own, blas=blas))
                log(f"dense {nt}T {n:4d}x{i:4d}x{o:4d} macs {macs:>11,d}: own {own * 1e6:9.1f} us  "
                    f"blas {blas * 1e6:9.1f} us  -> {'own' if own <= blas else 'BLAS'} ({blas / own:.2f}x)")
            for s in ([32, 64, 128, 256, 512] if quick else [32, 64, 96, 128, 192, 256, 384, 512, 768]):
                a = rng.standard_normal((s, s)).astype(np.float32)
                c = rng.standard_normal((s, s)).astype(np.float32)
                own = _forced("mm", False, lambda: _time(lambda: L.matmul(a, c)))
                blas = _forced("mm", True, lambda: _time(lambda: L.matmul(a, c)))
                rows.append(dict(kind="matmul", threads=nt, n=s, macs=s ** 3, own=own, blas=blas))
                log(f"matmul {nt}T n={s:4d} macs {s ** 3:>11,d}: own {own * 1e6:9.1f} us  blas {blas * 1e6:9.1f} us"
                    f"  -> {'own' if own <= blas else 'BLAS'} ({blas / own:.2f}x)")
    finally:
        microinit.set_num_threads(before)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", default="1,2")
    a = p.parse_args()
    run(a.quick, tuple(int(t) for t in a.threads.split(",")))
    sys.exit(0)

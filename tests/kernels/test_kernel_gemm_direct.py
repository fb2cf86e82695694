"""The direct (small-product) GEMM (src/gemm_direct_body.h through src/gemm.h): every
instruction-set variant agrees with the numpy twin on ragged tiles, k = 1, the
transposed store and accumulation, without touching memory past an operand.

The variant follows the packed GEMM's choice (MICROINIT_GEMM_ISA, read at the first
call): avx512 tiles are up to 8 rows x 32 floats (16 doubles), avx2 and base tiles 6 x
16 floats (8 doubles); the sizes below straddle both."""
import os
import subprocess
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))

# Runs in a subprocess so that MICROINIT_GEMM_ISA takes effect at the first call.
_VARIANT_CHECK = r"""
import sys
import numpy as np
from microinit._kernels import matmul as K, reference as R
sys.path.insert(0, sys.argv[1])
from guard_pages import gemm_operands_at_end, guarded_region

print(K.gemm_isa())
rng = np.random.default_rng(11)
regions = [guarded_region(2 * 1024 * 1024) for _ in range(3)]
guarded = all(r is not None for r in regions)
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def operands(m, k, n, ta, tb, dtype):
    if guarded:
        return gemm_operands_at_end(regions, rng, m, k, n, ta, tb, dtype)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b, np.empty((m, n), dtype)


def check(m, k, n, ta, tb, acc, dtype, path=None, nthreads=1):
    a, b, out = operands(m, k, n, ta, tb, dtype)
    start = rng.standard_normal((m, n)).astype(dtype)
    out[...] = start if acc else np.nan
    if path is None:
        K.gemm(a, b, out, ta, tb, acc)
    else:
        K.gemm_path(a, b, out, ta, tb, path, nthreads)
    want = R.gemm(a, b, ta, tb) + (start if acc else 0)
    tol = TOL[dtype] * max(1.0, np.sqrt(k))
    err = np.abs(out - want) - tol * np.abs(want)
    assert np.all(err <= 4 * tol), (m, k, n, ta, tb, acc, dtype, path, nthreads)


for dtype in (np.float32, np.float64):
    # ragged rows 1..9 (tiles of 6 or 8), ragged columns 1..33 (one or two vectors of
    # 8 or 16 lanes, masked or piecewise tails), k = 1 and 2 and a few deeper
    for m in (1, 2, 3, 5, 6, 7, 8, 9, 17):
        for n in (1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 24, 31, 32, 33):
            for k in (1, 2, 17):
                for ta in (False, True):
                    for tb in (False, True):
                        check(m, k, n, ta, tb, (m + n + k) % 2 == 1, dtype)
    # op(A) = x^T with few columns: computed as C^T with the transposed store (rows of
    # C^T = columns of C in pieces of 8 floats / 4 doubles); also accumulating, deep
    # (two KC blocks) and on two threads
    for m in (8, 9, 16, 17, 31, 33, 40, 100):
        for n in (1, 2, 3, 5, 9):
            for k in (1, 3, 100, 300):
                for acc in (False, True):
                    check(m, k, n, True, False, acc, dtype)
                    check(m, k, n, True, True, acc, dtype)
                check(m, k, n, True, False, False, dtype, "direct", 2)
    # the shapes of the tiny and small MLPs' training steps, forced through the direct
    # path (the larger ones run packed by default where the direct tile is narrow)
    for m, k, n, ta, tb in [(100, 2, 16, 0, 0), (100, 16, 1, 0, 0), (16, 100, 16, 1, 0),
                            (2, 100, 16, 1, 0), (16, 100, 1, 1, 0), (100, 16, 16, 0, 1),
                            (100, 1, 16, 0, 1), (32, 128, 128, 0, 0), (32, 128, 10, 0, 0),
                            (128, 32, 128, 1, 0), (128, 32, 10, 1, 0), (32, 128, 128, 0, 1),
                            (32, 10, 128, 0, 1)]:
        check(m, k, n, bool(ta), bool(tb), False, dtype, "direct")
        check(m, k, n, bool(ta), bool(tb), True, dtype)
    # a dense layer's forward over a batch of at most 160 rows into at most 256 columns
    # runs direct at any depth with the AVX-512 float tile (gemm.pxd,
    # MI_DIRECT_ROWS_MAX): several depth blocks, ragged rows and columns, accumulating
    for m, k, n in [(128, 784, 256), (150, 300, 250), (160, 513, 256), (64, 784, 33), (33, 257, 200)]:
        for acc in (False, True):
            check(m, k, n, False, False, acc, dtype)
        check(m, k, n, False, False, False, dtype, "direct")
        if dtype == np.float32 and K.gemm_isa() == "avx512":
            a, b, out = operands(m, k, n, False, False, dtype)
            K.gemm(a, b, out)
            direct = np.empty_like(out)
            K.gemm_path(a, b, direct, path="direct")
            assert np.array_equal(out, direct), (m, k, n)  # the rule sent it direct
print("ok")
"""


@pytest.mark.parametrize("isa", ["avx512", "avx2", "base"])
def test_every_direct_variant_matches_reference_and_stays_in_bounds(isa):
    # MICROINIT_GEMM_ISA forces a variant; one this CPU cannot run falls back to the
    # automatic choice, which the test then skips.
    env = dict(os.environ, MICROINIT_GEMM_ISA=isa)
    run = subprocess.run([sys.executable, "-c", _VARIANT_CHECK, _HERE], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.split()
    if lines[0] != isa:
        pytest.skip(f"this CPU does not run the {isa} variant (chose {lines[0]})")
    assert lines[-1] == "ok"

"""The packed GEMM (src/gemm_packed.h): every instruction-set variant, the in-place
small path and the packed path agree with the numpy twin on ragged shapes and never
touch memory past an operand.

gemm_path(..., "packed", nthreads=1) on row-major operands of up to 200^3
multiply-adds runs the in-place path (mi_pk_small); with nthreads=2, or a transposed
operand, it packs (row blocks split between the threads when there are two)."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microinit._kernels import matmul as K
from microinit._kernels import reference as R

from guard_pages import gemm_operands_at_end, guarded_region

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}
# around the AVX-512 tile (12 rows x 32 floats / 16 doubles), the AVX2 and base
# tiles (6 rows x 16/8 or 8/4 columns) and the KC = 256 depth block
EDGES = [1, 5, 6, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47, 257]


def _ok(got, want, dtype, k):
    tol = TOL[dtype] * max(1.0, np.sqrt(max(k, 1)))
    return bool(np.all(np.abs(got - want) <= tol * 4 + tol * np.abs(want)))


def _operands(rng, m, k, n, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def test_gemm_isa_names_a_variant():
    assert K.gemm_isa() in ("avx512", "avx2", "base")


@settings(max_examples=60, deadline=None)
@given(m=st.sampled_from(EDGES), k=st.sampled_from(EDGES), n=st.sampled_from(EDGES),
       ta=st.booleans(), tb=st.booleans(), dtype=st.sampled_from(DTYPES),
       nt=st.sampled_from([1, 2]), seed=st.integers(0, 2**31))
def test_packed_and_small_paths_match_reference(m, k, n, ta, tb, dtype, nt, seed):
    rng = np.random.default_rng(seed)
    a, b = _operands(rng, m, k, n, ta, tb, dtype)
    out = np.full((m, n), np.nan, dtype)
    K.gemm_path(a, b, out, ta, tb, "packed", nt)
    assert _ok(out, R.gemm(a, b, ta, tb), dtype, k), (m, k, n, ta, tb, nt)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_accumulates_on_the_packed_and_small_paths(rng, dtype):
    # 64^3 and up pack (or read in place); depth 600 is two KC blocks of floats (three
    # of doubles), the later ones adding into C; 300 rows are two row blocks split
    # between two threads; 520 columns (16 full panels of 32 floats and 8 columns) are
    # split between two threads by columns.
    for m, k, n in [(64, 64, 64), (97, 600, 45), (300, 70, 130), (33, 257, 200),
                    (70, 600, 520)]:
        for ta in (False, True):
            for tb in (False, True):
                a, b = _operands(rng, m, k, n, ta, tb, dtype)
                start = rng.standard_normal((m, n)).astype(dtype)
                for nt in (1, 2):
                    K.set_num_threads(nt)
                    try:
                        out = start.copy()
                        K.gemm(a, b, out, ta, tb, True)
                    finally:
                        K.set_num_threads(1)
                    assert _ok(out, R.gemm(a, b, ta, tb) + start, dtype, k), (m, k, n, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_packed_paths_never_touch_memory_past_their_operands(rng, dtype):
    # Operands and output end right before an inaccessible page: a tile that read a
    # full vector past the last column, a panel past the last row, or stored a whole
    # tile into a ragged corner, faults here.
    regions = [guarded_region(512 * 1024) for _ in range(3)]
    if any(r is None for r in regions):
        pytest.skip("needs Linux mprotect")
    sizes = [1, 11, 12, 13, 31, 33, 47]
    for m in sizes:
        for n in sizes:
            for k in (1, 13, 257):
                for ta in (False, True):
                    for tb in (False, True):
                        a, b, out = gemm_operands_at_end(regions, rng, m, k, n, ta, tb, dtype)
                        want = R.gemm(a, b, ta, tb)
                        for nt in (1, 2):
                            K.gemm_path(a, b, out, ta, tb, "packed", nt)
                            assert _ok(out, want, dtype, k), (m, k, n, ta, tb, nt)


_VARIANT_CHECK = """
import numpy as np
from microinit._kernels import matmul as K, reference as R
rng = np.random.default_rng(7)
print(K.gemm_isa())
for dtype, tol in ((np.float32, 1e-4), (np.float64, 1e-11)):
    for m, k, n in [(12, 8, 32), (13, 300, 33), (96, 96, 96), (100, 70, 50), (250, 40, 260),
                    (40, 520, 300)]:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                want = R.gemm(a, b, ta, tb)
                for nt in (1, 2):
                    out = np.full((m, n), np.nan, dtype)
                    K.gemm_path(a, b, out, ta, tb, "packed", nt)
                    err = np.abs(out - want).max() / np.abs(want).max()
                    assert err < tol, (m, k, n, ta, tb, nt, err)
"""


@pytest.mark.parametrize("isa", ["avx512", "avx2", "base"])
def test_every_instruction_set_variant_matches_reference(isa):
    # MICROINIT_GEMM_ISA (read at the first call) forces a variant; one this CPU cannot
    # run falls back to the automatic choice, which the test then skips.
    env = dict(os.environ, MICROINIT_GEMM_ISA=isa)
    run = subprocess.run([sys.executable, "-c", _VARIANT_CHECK], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    chosen = run.stdout.split()[0]
    if chosen != isa:
        pytest.skip(f"this CPU does not run the {isa} variant (chose {chosen})")

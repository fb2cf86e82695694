"""Every def entry point of elementwise, sampling, updates and matmul (gemm, gemm_batched,
gemm_path) refuses bad arguments with a clean exception before touching memory.

The kernels run nogil loops with bounds checking off, so a missing check would corrupt
the heap or crash rather than raise. The bad calls therefore run in ONE child process
(this file run as a script); each test reads its case's outcome from the child's
report, and a case that crashed the child is reported as such instead of killing
pytest.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

RO = "read-only"


def _ro(a):
    a.setflags(write=False)
    return a


def _swapped(a):
    return a.astype(a.dtype.newbyteorder())


def _cases():
    """name -> (thunk making the call, expected exception type, regex its message must match)."""
    from microinit._kernels import elementwise as E
    from microinit._kernels import matmul as M
    from microinit._kernels import sampling as S
    from microinit._kernels import updates as U

    x = np.linspace(-2, 2, 5)
    x32 = x.astype(np.float32)
    relu, tanh = E.CODES["relu"], E.CODES["tanh"]
    fwd, bwd = E.activation_forward, E.activation_backward
    e = np.empty
    gen = np.random.default_rng(0)
    a34, b45 = np.ones((3, 4)), np.ones((4, 5))
    c = {
        # elementwise.activation_forward(code, x, out, param)
        "fwd_short_out": (lambda: fwd(relu, x, e(4)), ValueError,
                          r"activation_forward: out has length 4, expected 5"),
        "fwd_long_out": (lambda: fwd(relu, x, e(6)), ValueError, r"out has length 6, expected 5"),
        "fwd_out_dtype": (lambda: fwd(relu, x, e(5, np.float32)), TypeError,
                          r"activation_forward: out has dtype float32, expected float64"),
        "fwd_x_int": (lambda: fwd(relu, np.arange(5), e(5)), TypeError, r"activation_forward: x .*int64"),
        "fwd_x_float16": (lambda: fwd(relu, x.astype(np.float16), e(5, np.float16)), TypeError, "float16"),
        "fwd_x_swapped": (lambda: fwd(relu, _swapped(x), e(5)), TypeError, "byte order"),
        "fwd_x_list": (lambda: fwd(relu, [1.0, 2.0], e(2)), TypeError, "numpy array, got list"),
        "fwd_x_strided": (lambda: fwd(relu, np.ones(10)[::2], e(5)), ValueError, "C-contiguous"),
        "fwd_x_2d": (lambda: fwd(relu, np.ones((2, 3)), e(6)), ValueError, r"x must be 1-D.*\(2, 3\)"),
        "fwd_out_strided": (lambda: fwd(relu, x, e(10)[::2]), ValueError, "C-contiguous"),
        "fwd_out_read_only": (lambda: fwd(relu, x, _ro(e(5))), ValueError, RO),
        "fwd_out_none": (lambda: fwd(relu, x, None), TypeError, "out must be a numpy array"),
        "fwd_code_negative": (lambda: fwd(-1, x, e(5)), ValueError, "unknown activation code -1"),
        "fwd_code_too_big": (lambda: fwd(len(E.CODES), x, e(5)), ValueError, "unknown activation code 9"),
        # elementwise.activation_backward(code, x, y, dy, dx, param)
        "bwd_short_y": (lambda: bwd(tanh, x, e(3), e(5), e(5)), ValueError,
                        r"activation_backward: y has length 3, expected 5"),
        "bwd_short_dy": (lambda: bwd(tanh, x, e(5), e(4), e(5)), ValueError, r"dy has length 4"),
        "bwd_long_dy": (lambda: bwd(tanh, x, e(5), e(9), e(5)), ValueError, r"dy has length 9"),
        "bwd_short_dx": (lambda: bwd(tanh, x, e(5), e(5), e(2)), ValueError, r"dx has length 2"),
        "bwd_dy_dtype": (lambda: bwd(tanh, x32, e(5, np.float32), e(5), e(5, np.float32)), TypeError,
                         r"activation_backward: dy has dtype float64, expected float32"),
        "bwd_dy_strided": (lambda: bwd(tanh, x, e(5), e(10)[::2], e(5)), ValueError, "C-contiguous"),
        "bwd_dx_read_only": (lambda: bwd(tanh, x, e(5), e(5), _ro(e(5))), ValueError, RO),
        "bwd_code": (lambda: bwd(99, x, e(5), e(5), e(5)), ValueError, "unknown activation code 99"),
        # matmul.gemm(a, b, out, trans_a, trans_b, accumulate)
        "gemm_out_shape": (lambda: M.gemm(a34, b45, e((3, 4))), ValueError,
                           r"gemm: argument b: expected shape \(4, 4\), got \(4, 5\)"),
        "gemm_inner_mismatch": (lambda: M.gemm(a34, np.ones((3, 5)), e((3, 5))), ValueError,
                                r"gemm: argument b: expected shape \(4, 5\), got \(3, 5\)"),
        "gemm_trans_a_mismatch": (lambda: M.gemm(a34, b45, e((3, 5)), True), ValueError,
                                  r"gemm: argument a"),
        "gemm_a_dtype": (lambda: M.gemm(a34.astype(np.float32), b45, e((3, 5))), TypeError,
                         "gemm: argument a has dtype float32"),
        "gemm_out_float16": (lambda: M.gemm(a34, b45, e((3, 5), np.float16)), TypeError, "float16"),
        "gemm_a_swapped": (lambda: M.gemm(_swapped(a34), b45, e((3, 5))), TypeError, "byte order"),
        "gemm_a_strided": (lambda: M.gemm(np.ones((3, 8))[:, ::2], b45, e((3, 5))), ValueError,
                           "C-contiguous"),
        "gemm_out_read_only": (lambda: M.gemm(a34, b45, _ro(e((3, 5)))), ValueError, RO),
        "gemm_a_1d": (lambda: M.gemm(np.ones(4), b45, e((3, 5))), ValueError, "gemm: a must be 2-D"),
        "gemm_b_list": (lambda: M.gemm(a34, [[1.0]], e((3, 5))), TypeError, "ndarray"),
        # matmul.gemm_batched(a, b, out, trans_a, trans_b, accumulate)
        "batched_batch_mismatch": (lambda: M.gemm_batched(np.ones((2, 3, 4)), np.ones((3, 4, 5)),
                                                          e((2, 3, 5))), ValueError, "gemm_batched: shapes"),
        "batched_inner_mismatch": (lambda: M.gemm_batched(np.ones((2, 3, 4)), np.ones((2, 3, 5)),
                                                          e((2, 3, 5))), ValueError, "gemm_batched: shapes"),
        "batched_out_strided": (lambda: M.gemm_batched(np.ones((2, 3, 4)), np.ones((2, 4, 5)),
                                                       e((2, 3, 10))[:, :, ::2]), ValueError, "gemm_batched: out"),
        "batched_negative_stride": (lambda: M.gemm_batched(np.ones((2, 3, 4))[:, ::-1], np.ones((2, 4, 5)),
                                                           e((2, 3, 5))), ValueError, "non-negative strides"),
        "batched_dtype": (lambda: M.gemm_batched(np.ones((2, 3, 4), np.float32), np.ones((2, 4, 5)),
                                                 e((2, 3, 5))), TypeError, "gemm_batched: a has dtype float32"),
        "batched_2d": (lambda: M.gemm_batched(a34, np.ones((2, 4, 5)), e((2, 3, 5))), ValueError,
                       "gemm_batched: a must be 3-D"),
        "batched_out_read_only": (lambda: M.gemm_batched(np.ones((2, 3, 4)), np.ones((2, 4, 5)),
                                                         _ro(e((2, 3, 5)))), ValueError, RO),
        # matmul.gemm_path(a, b, out, trans_a, trans_b, path, nthreads)
        "path_name": (lambda: M.gemm_path(a34, b45, e((3, 5)), path="fast"), ValueError, "path must be"),
        "path_threads_zero": (lambda: M.gemm_path(a34, b45, e((3, 5)), nthreads=0), ValueError,
                              "gemm_path: nthreads must be in 1..1024, got 0"),
        "path_threads_huge": (lambda: M.gemm_path(a34, b45, e((3, 5)), nthreads=10**6), ValueError,
                              "nthreads must be in 1..1024"),
        "path_shape": (lambda: M.gemm_path(a34, b45, e((3, 6))), ValueError,
                       r"gemm_path: argument b: expected shape \(4, 6\)"),
        "path_dtype": (lambda: M.gemm_path(a34, b45.astype(np.float32), e((3, 5))), TypeError,
                       "gemm_path: argument b has dtype float32"),
        # sampling: out must be a writeable C-contiguous float array of the right rank
        "uniform_int": (lambda: S.uniform_fill(gen, np.zeros(3, np.int32), 0.0, 1.0), TypeError,
                        "uniform_fill: out has dtype int32"),
        "uniform_2d": (lambda: S.uniform_fill(gen, e((2, 2)), 0.0, 1.0), ValueError, "uniform_fill: out must be 1-D"),
        "uniform_strided": (lambda: S.uniform_fill(gen, e(6)[::2], 0.0, 1.0), ValueError, "C-contiguous"),
        "uniform_read_only": (lambda: S.uniform_fill(gen, _ro(e(3)), 0.0, 1.0), ValueError, RO),
        "uniform_list": (lambda: S.uniform_fill(gen, [0.0], 0.0, 1.0), TypeError, "numpy array, got list"),
        "uniform_swapped": (lambda: S.uniform_fill(gen, _swapped(e(3)), 0.0, 1.0), TypeError, "byte order"),
        "uniform_bad_gen": (lambda: S.uniform_fill(np.random.RandomState(0), e(3), 0.0, 1.0), TypeError,
                            "Generator"),
        "normal_float16": (lambda: S.normal_fill(gen, e(3, np.float16), 0.0, 1.0), TypeError,
                           "normal_fill: out has dtype float16"),
        "normal_strided": (lambda: S.normal_fill(gen, e(6, np.float32)[::2], 0.0, 1.0), ValueError,
                           "C-contiguous"),
        "truncnorm_int": (lambda: S.truncnorm_fill(gen, np.zeros(3, np.int64), 0.0, 1.0, -1.0, 1.0),
                          TypeError, "truncnorm_fill: out has dtype int64"),
        "truncnorm_read_only": (lambda: S.truncnorm_fill(gen, _ro(e(3)), 0.0, 1.0, -1.0, 1.0), ValueError, RO),
        "zero_rows_1d": (lambda: S.zero_random_per_row(gen, e(4), 1), ValueError,
                         "zero_random_per_row: out must be 2-D"),
        "zero_rows_strided": (lambda: S.zero_random_per_row(gen, e((3, 8))[:, ::2], 1), ValueError,
                              "C-contiguous"),
        "zero_rows_k_too_big": (lambda: S.zero_random_per_row(gen, e((3, 4)), 5), ValueError, "k=5"),
        "zero_rows_k_negative": (lambda: S.zero_random_per_row(gen, e((3, 4)), -1), ValueError, "k=-1"),
        "zero_rows_int": (lambda: S.zero_random_per_row(gen, np.zeros((3, 4), np.int64), 1), TypeError, "int64"),
        "ziggurat_bits": (lambda: S.ziggurat_tables(64), ValueError, "bits must be in 1..63, got 64"),
        # updates.sgd_foreach / adam_foreach
        "sgd_lists": (lambda: U.sgd_foreach([e(3), e(3)], [np.ones(3)], [], 0.1), ValueError,
                      "2 params but 1 grads"),
        "sgd_grad_shape": (lambda: U.sgd_foreach([e(3)], [np.ones(4)], [], 0.1), ValueError,
                           r"gradient 0 has shape \(4,\)"),
        "sgd_param_swapped": (lambda: U.sgd_foreach([_swapped(e(3))], [np.ones(3)], [], 0.1), TypeError,
                              "byte order"),
        "sgd_buf_dtype": (lambda: U.sgd_foreach([e(3)], [np.ones(3)], [e(3, np.float32)], 0.1, 0.9),
                          ValueError, "momentum buffer 0"),
        "sgd_buf_shape": (lambda: U.sgd_foreach([e(3)], [np.ones(3)], [e(2)], 0.1, 0.9), ValueError,
                          r"momentum buffer 0 has shape \(2,\)"),
        "sgd_buf_strided": (lambda: U.sgd_foreach([e(3)], [np.ones(3)], [e(6)[::2]], 0.1, 0.9), ValueError,
                            "momentum buffer 0"),
        "sgd_bufs_missing": (lambda: U.sgd_foreach([e(3)], [np.ones(3)], [], 0.1, 0.9), ValueError,
                             "0 momentum buffers"),
        "adam_steps_float": (lambda: U.adam_foreach([e(3)], [np.ones(3)], [np.zeros(3)], [np.zeros(3)],
                                                    np.zeros(1), 0.1), TypeError,
                             "adam_foreach: steps has dtype float64, expected int64"),
        "adam_steps_short": (lambda: U.adam_foreach([e(3), e(3)], [np.ones(3)] * 2, [np.zeros(3)] * 2,
                                                    [np.zeros(3)] * 2, np.zeros(1, np.int64), 0.1), ValueError,
                             "2 params but 1 steps"),
        "adam_steps_list": (lambda: U.adam_foreach([e(3)], [np.ones(3)], [np.zeros(3)], [np.zeros(3)], [0], 0.1),
                            TypeError, "steps must be a numpy int64 array, got list"),
        "adam_steps_read_only": (lambda: U.adam_foreach([e(3)], [np.ones(3)], [np.zeros(3)], [np.zeros(3)],
                                                        _ro(np.zeros(1, np.int64)), 0.1), ValueError, RO),
        "adam_exp_avg_shape": (lambda: U.adam_foreach([e(3)], [np.ones(3)], [np.zeros(4)], [np.zeros(3)],
                                                      np.zeros(1, np.int64), 0.1), ValueError,
                               r"exp_avg 0 has shape \(4,\)"),
        "adam_lists": (lambda: U.adam_foreach([e(3)], [np.ones(3)], [], [np.zeros(3)], np.zeros(1, np.int64), 0.1),
                       ValueError, "1 params but 1 grads, 0 exp_avgs"),
        "adam_param_read_only": (lambda: U.adam_foreach([_ro(e(3))], [np.ones(3)], [np.zeros(3)], [np.zeros(3)],
                                                        np.zeros(1, np.int64), 0.1), ValueError, RO),
    }
    return c


CASE_NAMES = sorted(_cases())


def _run_all_in_child():
    """Run every case, printing one JSON line per case (a 'start' line first, so a crash
    is attributed to the case that caused it)."""
    for name, (call, _, _) in sorted(_cases().items()):
        print(json.dumps({"start": name}), flush=True)
        try:
            call()
        except Exception as exc:  # reported to the parent as data
            print(json.dumps({"case": name, "type": type(exc).__name__, "msg": str(exc)}), flush=True)
        else:
            print(json.dumps({"case": name, "type": None, "msg": ""}), flush=True)


@pytest.fixture(scope="module")
def child_report():
    # the child imports the same microinit as this process (a scratch debug build too)
    import microinit

    root = os.path.dirname(os.path.dirname(os.path.abspath(microinit.__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONFAULTHANDLER="1", PYTHONPATH=path)
    proc = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=300,
                          env=env)
    report, started = {}, None
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if "start" in rec:
            started = rec["start"]
        else:
            report[rec["case"]] = rec
            started = None
    return report, started, proc


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_call_raises_cleanly(child_report, name):
    report, crashed, proc = child_report
    if name not in report:
        pytest.fail(f"no result for {name}: the child exited with {proc.returncode} while running "
                    f"{crashed!r}\n{proc.stderr[-2000:]}")
    _, exc_type, match = _cases()[name]
    rec = report[name]
    assert rec["type"] == exc_type.__name__, f"{name}: got {rec['type']}: {rec['msg']}"
    assert re.search(match, rec["msg"]), f"{name}: message {rec['msg']!r} !~ {match!r}"


def test_child_ran_every_case_and_exited_normally(child_report):
    report, _, proc = child_report
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(report) == CASE_NAMES


def test_refused_calls_write_nothing():
    # in process: these are the cases where a write would land in memory the caller owns
    from microinit._kernels import elementwise as E
    from microinit._kernels import matmul as M
    from microinit._kernels import updates as U

    x = np.linspace(-1, 1, 8)
    out = np.full(7, 5.0)
    with pytest.raises(ValueError):
        E.activation_forward(E.CODES["tanh"], x, out)
    assert (out == 5.0).all()
    dx = np.full(8, 5.0)
    with pytest.raises(ValueError):
        E.activation_backward(E.CODES["tanh"], x, x, np.ones(7), dx)
    assert (dx == 5.0).all()
    c = np.full((3, 5), 5.0)
    with pytest.raises(ValueError):
        M.gemm(np.ones((3, 4)), np.ones((3, 5)), c)
    assert (c == 5.0).all()
    p, g = np.ones(3), np.ones(3)
    steps = np.zeros(1, np.float64)
    with pytest.raises(TypeError):
        U.adam_foreach([p], [g], [np.zeros(3)], [np.zeros(3)], steps, 0.1)
    assert (p == 1.0).all() and (steps == 0).all()


if __name__ == "__main__":
    _run_all_in_child()

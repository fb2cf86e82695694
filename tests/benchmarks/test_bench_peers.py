"""The compiled contenders (benchmarks/peers.py) train like the numpy step, and the table of
implementations (benchmarks/implementations.py) leaves out what is absent or broken
without stopping the run."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import microinit


def losses_agree(benchmarks, name, build, steps=4):
    """Each of ``steps`` losses of ``build(params, loss, sizes)`` matches NumpyMLP's."""
    sizes, x, y, loss, params = benchmarks.problems.make_problem(name)
    npm = benchmarks.problems.NumpyMLP(params, loss)
    model = build(params, loss, sizes)
    batch = model.inputs(x, y)
    for _ in range(steps):
        ln = npm.step(x, y)
        lm = float(model.step(*batch))
        assert abs(ln - lm) <= 1e-4 * max(1.0, abs(ln)), (name, ln, lm)
    return model


def eager_compile_step(model, loss_fn, opt):
    """Stands in for ``microinit.compile_step`` until it lands: the same call and the same
    step, run eagerly, the loss as a float."""
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


# jax and torch.compile start thread pools (and inductor its compile workers) that stay
# for the life of the process, and a later test of the suite forks (jax warns that a fork
# of a multithreaded process can deadlock): their steps run in a fresh interpreter.
PEER_LOSSES = """
import sys
from benchmarks import peers, problems
name, peer, steps = sys.argv[1], getattr(peers, sys.argv[2]), int(sys.argv[3])
sizes, x, y, loss, params = problems.make_problem(name)
npm = problems.NumpyMLP(params, loss)
model = peer(params, loss, sizes)
batch = model.inputs(x, y)
for _ in range(steps):
    print(npm.step(x, y), float(model.step(*batch)))
# jax's parameters: a list of (W, b) pairs; torch's: the module's parameters
leaves = [w for pair in model.params for w in pair] if hasattr(model, "params") else list(model.model.parameters())
print("dtypes", *sorted({str(w.dtype) for w in leaves}))
"""


def peer_losses_agree(benchmarks, name, peer, steps):
    root = Path(benchmarks.__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", PEER_LOSSES, name, peer, str(steps)], capture_output=True,
                         text=True, cwd=root, env=dict(os.environ, PYTHONPATH=str(root)), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    *pairs, dtypes = out.stdout.strip().splitlines()
    assert len(pairs) == steps
    for line in pairs:
        ln, lm = map(float, line.split())
        assert abs(ln - lm) <= 1e-4 * max(1.0, abs(ln)), (name, peer, ln, lm)
    return dtypes.split()[1:]


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_jax_jit_step_agrees_with_numpy(benchmarks, name):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    assert peer_losses_agree(benchmarks, name, "JaxJitMLP", steps=4) == ["float32"]


def test_torch_compile_step_agrees_with_numpy(benchmarks):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    assert peer_losses_agree(benchmarks, "small", "TorchCompiledMLP", steps=3) == ["torch.float32"]


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_compiled_row_drives_compile_step_and_agrees(benchmarks, monkeypatch, name):
    # the API the row uses: step = microinit.compile_step(model, loss_fn, opt); step(x, y)
    monkeypatch.setattr(microinit, "compile_step", eager_compile_step, raising=False)
    losses_agree(benchmarks, name, benchmarks.peers.MicroinitCompiledMLP)


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_real_compiled_step_agrees_with_numpy(benchmarks, name):
    losses_agree(benchmarks, name, benchmarks.peers.MicroinitCompiledMLP, steps=5)


def test_compiled_row_is_selected_when_compile_step_exists(benchmarks, monkeypatch):
    monkeypatch.setattr(microinit, "compile_step", eager_compile_step, raising=False)
    keys = [impl.key for impl in benchmarks.implementations.select(peers=False, torch=False, log=lambda line: None)]
    assert keys == ["microinit", "microinit_compiled", "numpy"]


def test_absent_package_is_skipped_with_one_line(benchmarks, monkeypatch):
    real = benchmarks.implementations.importlib.util.find_spec
    monkeypatch.setattr(benchmarks.implementations.importlib.util, "find_spec",
                        lambda name: None if name == "jax" else real(name))
    lines = []
    keys = [impl.key for impl in benchmarks.implementations.select(peers=True, torch=False, log=lines.append)]
    assert "jax_jit" not in keys and "torch" not in keys and "numpy" in keys
    assert [line for line in lines if line.startswith("jax.jit:")] == [
        "jax.jit: jax is not installed (pip install jax); column skipped"]


def test_peers_off_leaves_out_only_the_peers(benchmarks):
    lines = []
    keys = [impl.key for impl in benchmarks.implementations.select(peers=False, torch=True, log=lines.append)]
    assert "jax_jit" not in keys and "torch_compile" not in keys
    assert any(line.startswith("jax.jit: peers off") for line in lines)


class BrokenStep:
    def __init__(self, params, loss, sizes):
        raise RuntimeError("cannot compile this\nsecond line of a long trace")


class FixedOneThreadNumpy:
    """A numpy step whose threads are fixed at start, as jax's are."""
    threads = 1

    def __init__(self, params, loss, sizes):
        from benchmarks.problems import NumpyMLP

        self.impl = NumpyMLP(params, loss)
        self.inputs = self.impl.inputs
        self.step = self.impl.step


def test_a_failing_peer_is_named_and_the_run_goes_on(benchmarks):
    impl = benchmarks.implementations
    table = [impl.IMPLEMENTATIONS[0], impl.IMPLEMENTATIONS[2],
             impl.Implementation("torch_compile", "torch.compile", BrokenStep, peer=True, compiles=True),
             impl.Implementation("jax_jit", "jax.jit", FixedOneThreadNumpy, peer=True, compiles=True)]
    lines, notes = [], []
    rows = benchmarks.suites.bench_steps(["tiny"], [1, 2], 1, True, table, None, lines.append, notes.append)
    assert notes[0] == ("torch.compile: failed to set up or compile (RuntimeError: cannot compile this); "
                        "column left out, the run goes on")
    assert notes[1] == "jax.jit: its threads are fixed at start (1); left out of the 2-thread rows"
    one, two = rows
    assert {"microinit", "numpy", "jax_jit"} <= set(one) and "torch_compile" not in one
    assert "jax_jit" not in two and "microinit" in two
    assert set(one["compile_seconds"]) == {"jax_jit"} and one["speedups"]["microinit/jax_jit"] > 0
    assert any(line.startswith("tiny   1T | microinit eager") and "jax.jit" in line for line in lines)


def timing(median):
    return {"median": median, "min": median, "max": median, "cpu_median": median}


def step_row(threads, **medians):
    row = {"size": "small", "sizes": [64, 128, 128, 10], "batch": 32, "threads": threads,
           "flops_per_step": 1e6, "compile_seconds": {}}
    row.update({key: timing(m) for key, m in medians.items()})
    return row


def test_tables_leave_out_untimed_columns_and_dash_missing_cells(benchmarks):
    report = benchmarks.report
    rows = [step_row(1, microinit=2e-5, microinit_compiled=5e-6, numpy=3e-5, jax_jit=2.5e-5),
            step_row(2, microinit=2e-5, microinit_compiled=5e-6, numpy=3e-5)]
    rows[0]["compile_seconds"] = {"microinit_compiled": 0.01, "jax_jit": 0.4}
    table = report.summary_table(rows, peak=100.0)
    head, _, first, second = table.splitlines()
    assert "torch µs" not in head and "torch.compile" not in head
    assert ("| microinit eager µs | microinit compiled µs | numpy µs | jax.jit µs | eager vs numpy "
            "| eager vs jax.jit | compiled vs numpy | compiled vs jax.jit | compiled vs eager |") in head
    assert "| 6.00× | 5.00× | 4.00× |" in first
    assert second.count("—") == 3  # jax.jit's time and the two ratios with it
    cpu = report.cpu_table(rows, peak=100.0).splitlines()
    assert len(cpu) == 3 and "jax.jit CPU µs" in cpu[0]
    assert report.compile_table(rows).splitlines()[-1] == "| small | 0.010 | 0.400 |"
    eager_only = report.summary_table([step_row(1, microinit=2e-5, numpy=3e-5)], peak=100.0)
    assert "compiled" not in eager_only and "| 1.50× |" in eager_only
    assert report.compile_table([step_row(1, microinit=2e-5, numpy=3e-5)]) == ""


def test_compiled_targets_are_checked_at_one_thread(benchmarks):
    rows = [step_row(1, microinit=2e-5, microinit_compiled=1e-5, numpy=3e-5, jax_jit=1.9e-5),
            step_row(2, microinit=2e-5, microinit_compiled=1e-5, numpy=3e-5)]
    lines = benchmarks.report.target_report(rows, [], peak=100.0)
    assert "small  1T: compiled vs numpy 3.00x (need 2.00x) MET; compiled vs jax.jit 1.90x (need 2.00x) NOT MET" \
        in lines
    assert not any(line.startswith("small  2T: compiled") for line in lines)


def test_jax_threads_are_set_before_jax_starts(benchmarks):
    # in a fresh process, so that this one's jax (if imported) and environment stay as they are
    root = Path(benchmarks.__file__).resolve().parent.parent
    code = ("import os, sys; from benchmarks import peers; "
            "assert peers.configure_jax_threads([2]) is None and 'XLA_FLAGS' not in os.environ; "
            "print(peers.configure_jax_threads([1, 2]), peers.jax_threads(), os.environ['XLA_FLAGS'])")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1", "--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"]


def test_quick_run_leaves_out_peers_and_says_so(benchmarks, capsys):
    rc = benchmarks.runner.main(["--quick", "--sizes", "tiny", "--threads", "1", "--repeats", "1", "--no-matmul",
                                 "--no-memory", "--no-torch"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "jax.jit: peers off (--no-peers, the default with --quick); column skipped" in out
    assert "| tiny 2-16-16-1 (100) | 1 |" in out and "jax.jit µs" not in out

"""The runner behind `microinit bench` (benchmarks/runner.py) and its timing pieces work."""
import json
import subprocess
import sys


def test_fma_peak_is_positive():
    from microinit._kernels import matmul

    assert matmul.fma_peak(0.005) > 0.1


def test_runner_quick_smoke(benchmarks, tmp_path, capsys):
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    rc = benchmarks.runner.main(["--quick", "--sizes", "tiny", "--threads", "1", "--repeats", "2", "--no-matmul",
                                 "--no-torch", "--json", str(out), "--markdown", str(md)])
    assert rc == 0
    data = json.loads(out.read_text())
    row = data["steps"][0]
    assert row["size"] == "tiny" and row["microinit"]["median"] > 0 and row["numpy"]["median"] > 0
    assert data["memory"][0]["numpy_bytes"] > 0
    assert "| tiny 2-16-16-1 (100) | 1 |" in md.read_text()
    assert benchmarks.runner.main(["--sizes", "huge"]) == 2


def test_interleaved_timing_reports_every_implementation(benchmarks):
    calls = {"a": 0, "b": 0}

    def count(name):
        calls[name] += 1

    timed = benchmarks.timing.time_interleaved({"a": lambda: count("a"), "b": lambda: count("b")}, repeats=2,
                                               target=1e-4, pause=0)
    assert set(timed) == {"a", "b"} and calls["a"] > 2 and calls["b"] > 2
    for t in timed.values():
        assert 0 < t["min"] <= t["median"] <= t["max"] and t["cpu_median"] >= 0


def test_run_py_is_the_same_runner_as_a_script(benchmarks):
    # `python benchmarks/run.py` from anywhere: the script makes its folder importable itself
    script = benchmarks.runner.__file__.replace("runner.py", "run.py")
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, cwd="/", timeout=120)
    assert out.returncode == 0 and "--quick" in out.stdout and "--markdown" in out.stdout


def test_balanced_orders_let_each_follow_each_other_equally_often(benchmarks):
    from collections import Counter

    for n in range(2, 8):
        orders = benchmarks.timing.balanced_orders(range(n))
        assert all(sorted(order) == list(range(n)) for order in orders)
        follows = Counter(pair for order in orders for pair in zip(order, order[1:]))
        firsts = Counter(order[0] for order in orders)
        assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1, n
        assert len(firsts) == n and len(set(firsts.values())) == 1, n
        assert len(orders) == (n if n % 2 == 0 else 2 * n)

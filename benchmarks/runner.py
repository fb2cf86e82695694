"""`microinit bench`: microinit's training step against hand-written numpy, PyTorch and
the compiled peers.

One runner, one process, one run: for each MLP size and thread count it times a full
float32 training step (forward, loss, backward, SGD update) of every contender in the
one table of ``benchmarks/implementations.py``, interleaved:

  * microinit eager, through its public API (``nn.MLP``, ``losses``, ``optim.SGD``),
  * microinit compiled, the same objects stepped by ``microinit.compile_step``,
  * a hand-written numpy MLP (``NumpyMLP`` in ``benchmarks/problems.py``: fused in-place bias/ReLU, no
    autograd, the code an expert writes by hand),
  * PyTorch eager (``torch.nn.Sequential`` + ``torch.optim.SGD``) when importable,
  * the compiled peers, each where installed and unless ``--no-peers`` (off by default
    with ``--quick``): ``torch.compile`` of PyTorch's whole step and ``jax.jit`` of
    jax's (``benchmarks/peers.py``); their compile time is reported apart,

and prints medians with min-max, the ratios (>1 means microinit is faster), GFLOP/s
and the fraction of one core's fp32 peak, which is *measured* by an FMA loop kernel
(``matmul.fma_peak``: 12 independent vector FMA chains, no memory traffic). A contender
that is not installed is left out with one line saying why; one that is installed but
fails to build or compile is named in one error line and the run goes on without it.
It also measures the matmul kernel against numpy at n = 8 ... 1024, the traced peak
memory of one step (tracemalloc) against the numpy step's, and, when their modules
exist, engineer C's scalar-engine comparison (``benchmarks/bench_scalar.py``,
``--scalar``) and engineer B's initializer timings (``benchmarks/bench_init.py``,
``--init``).

    microinit bench                    # full run (a few minutes on 2 cores)
    microinit bench --quick            # fewer repeats, smaller matmul sweep, no peers
    microinit bench --sizes tiny --threads 1 --no-matmul
    microinit bench --json out.json    # also write every figure as JSON
    python benchmarks/run.py --quick   # the same runner, without the console script
    taskset -c 0 python benchmarks/run.py --threads 1   # 1-thread figures on one core

The benchmarks live in the repository, not in the installed package: ``microinit
bench`` finds this folder next to an editable install (``pip install -e .`` from a
clone). This module parses the options and runs the pieces: ``implementations.py`` (the
table of contenders), ``problems.py`` and ``peers.py`` (the steps themselves),
``timing.py``, ``suites.py`` (what is measured) and ``report.py`` (the tables).

Timing protocol: warm-up steps first (buffers, caches, thread pools), then ``repeats``
samples, each the mean of ``inner`` back-to-back steps; the median sample is reported.
The 1- and 2-thread runs set ``microinit.set_num_threads`` (kernels and numpy's BLAS)
and ``torch.set_num_threads`` alike; jax's threads are fixed when it starts (one
thread when a 1-thread row is wanted, ``peers.configure_jax_threads``), so its column
appears only in rows of that thread count.
"""
import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

from microinit._atomic import atomic_write

from benchmarks.implementations import select
from benchmarks.peers import configure_jax_threads
from benchmarks.problems import CONFIGS, load_torch
from benchmarks.report import cpu_table, markdown_report, matmul_table, summary_table, target_report
from benchmarks.suites import bench_matmul, bench_memory, bench_steps, machine_info
from benchmarks.timing import measure_peak_gflops, set_threads

__all__ = ["add_arguments", "run", "main", "run_optional"]


def optional_module(filename):
    """benchmarks/<filename> beside this runner, or None when it is absent."""
    path = Path(__file__).resolve().parent / filename
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"_microinit_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_optional(filename, flag, quick, log, quick_argv=()):
    """Run another engineer's benchmark module: its ``bench(quick=...)`` when it has
    one (returning its rows for the JSON), else its ``main(argv)`` with our own argv
    kept away from its parser."""
    mod = optional_module(filename)
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
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch (eager or torch.compile)")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=None,
                        help="time the compiled peers torch.compile and jax.jit where installed "
                             "(default: on, off with --quick)")
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
    repeats = args.repeats or (6 if args.quick else 30)  # whole cycles of timing.balanced_orders for 2, 3 or 6
    peers = (not args.quick) if args.peers is None else args.peers
    left_out = []

    def note(line):  # a contender left out of the run: printed, and kept for the report
        log(line)
        left_out.append(line)

    impls = select(peers=peers, torch=not args.no_torch, log=left_out.append)  # printed after the header
    keys = [impl.key for impl in impls]
    if "jax_jit" in keys:
        # before anything imports jax: XLA reads its thread flags once, at start
        if configure_jax_threads(threads) is None and 1 in threads:
            left_out.append("jax.jit: jax was imported before the benchmark could set its threads: XLA's defaults")
    torch = load_torch() if "torch" in keys or "torch_compile" in keys else None
    jax_version = package_version("jax") if "jax_jit" in keys else None
    import microinit

    before = microinit.get_num_threads()
    machine = machine_info()
    log(f"microinit bench — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']}"
        + (f", torch {torch.__version__}" if torch is not None else ", torch not used")
        + (f", jax {jax_version}" if jax_version else ""))
    for line in left_out:
        log(line)
    set_threads(1, torch)
    peak = measure_peak_gflops()
    log(f"measured single-core fp32 peak (FMA loop kernel): {peak:.1f} GFLOP/s")
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine, "peak_gflops_1core": peak, "quick": bool(args.quick),
              "torch": getattr(torch, "__version__", None), "jax": jax_version, "left_out": left_out,
              "implementations": keys}
    try:
        result["steps"] = rows = bench_steps(names, threads, repeats, args.quick, impls, torch, log, note)
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
            result["scalar"] = run_optional("bench_scalar.py", "--scalar", args.quick, log,
                                             quick_argv=("--steps", "20"))
        if args.init:
            result["init"] = run_optional("bench_init.py", "--init", args.quick, log)
    finally:
        set_threads(before, torch)
    if args.json:
        write_atomic(args.json, json.dumps(result, indent=2, default=str))
        log(f"\nwrote {args.json}")
    if args.markdown:
        write_atomic(args.markdown, markdown_report(result))
        log(f"wrote {args.markdown}")
    return 0


def package_version(name):
    """An installed package's version, read without importing it."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="microinit bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`python -m benchmarks.fuzz`: millions of fuzz cases, each batch in its own process.

The property is the test suite's (``benchmarks/fuzz_properties.py``: every public op
matches its float64 numpy reference forward and backward, or raises TypeError/
ValueError/RuntimeError naming itself, and any memory layout gives the same bits as C
order). The ops that follow PyTorch's dtype rule, on operands that are all
integer/bool, are judged by torch itself (``benchmarks/fuzz_torch.py``): torch's dtype,
shape and values, or both refuse; without torch they are counted as deferred. Case
``i`` of seed ``S`` is op ``ops[i % len(ops)]`` drawn from a numpy Generator seeded by
``(S, i)``, so two numbers rebuild it.

Batches of cases run in child processes (``--workers`` at a time), each with a
``--timeout``: a segfault or abort kills only the child and is reported as a crash, a
batch that stops making progress as a hang; the child records the index of the case it
is running in a small file, so the parent knows which case it was, saves its reproducer
and resumes the batch after it. Every failure (crash, hang, mismatch, unexpected
error) is printed and saved under ``--out`` as ``<status>-<op>-s<seed>-i<index>.txt``
(the case as Python source, what happened, the replay command) and ``.npz`` (the exact
input arrays); the exit status is then 1.

    python -m benchmarks.fuzz --cases 1000000              # >= 10^6 cases, 2 workers
    python -m benchmarks.fuzz --cases 2000 --ops exp,relu  # a few ops only
    python -m benchmarks.fuzz --replay --seed 0 --index 17 # rerun one case, in process

Case 17 of seed 0 among the ops ``exp`` and ``relu`` is the second op's:

    >>> make_case(0, 17, ["exp", "relu"]).op
    'relu'
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FAILURES = ("crash", "hang", "mismatch", "error")
#: the outcomes that are not failures (fuzz_properties.Outcome says what each means)
PASSED = ("ok", "refused", "deferred")
#: what a child counts and reports: the passed outcomes, and the cases torch judged
#: (integer/bool operands, benchmarks/fuzz_torch.py; their failures are among FAILURES too)
COUNTED = PASSED + ("torch",)


def add_arguments(parser):
    parser.add_argument("--cases", type=int, default=1_000_000, help="number of cases (default 10^6)")
    parser.add_argument("--workers", type=int, default=2, help="child processes at a time (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case stream (default 0)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per batch before it is a hang")
    parser.add_argument("--batch", type=int, default=5000, help="cases per child process (default 5000)")
    parser.add_argument("--ops", default="", help="comma-separated op names (default: every fuzzed op)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "fuzz"),
                        help="folder for reproducers (default benchmarks/results/fuzz)")
    parser.add_argument("--max-reports", type=int, default=20,
                        help="reproducers printed and saved per op and kind of failure (default 20)")
    parser.add_argument("--replay", action="store_true", help="run case --index of --seed in this process")
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    # the child's side, and the test-only hooks that prove crashes and hangs are caught
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--progress", default="", help=argparse.SUPPRESS)
    parser.add_argument("--inject-abort-at", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--inject-hang-at", type=int, default=-1, help=argparse.SUPPRESS)


def op_names(spec):
    from benchmarks.fuzz_ops import all_ops

    ops = sorted(all_ops())
    if not spec:
        return ops
    chosen = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(ops))
    if unknown:
        raise SystemExit(f"fuzz: unknown ops {unknown}; known: {', '.join(ops)}")
    return chosen


def make_case(seed, index, ops):
    from benchmarks.fuzz_cases import RandomDraw
    from benchmarks.fuzz_ops import build_case

    return build_case(RandomDraw(seed, index), ops[index % len(ops)])


# ------------------------------------------------------------------ the child
def run_child(args):
    """Run cases [start, start + cases); one JSON line per failure, then the counts."""
    from benchmarks.fuzz_properties import check_case

    warnings.simplefilter("ignore")  # IEEE overflow/invalid warnings are expected here
    ops = op_names(args.ops)
    counts = dict.fromkeys(COUNTED + ("mismatch", "error"), 0)
    fd = os.open(args.progress, os.O_WRONLY | os.O_CREAT) if args.progress else None
    for i in range(args.start, args.start + args.cases):
        if fd is not None:
            # which case runs and what passed so far: what the parent reads after a crash
            os.pwrite(fd, b" ".join(b"%20d" % v for v in [i] + [counts[k] for k in COUNTED]), 0)
        if i == args.inject_abort_at:
            os.abort()
        if i == args.inject_hang_at:
            time.sleep(3600)
        case = make_case(args.seed, i, ops)
        outcome = check_case(case)
        counts[outcome.status] += 1
        counts["torch"] += outcome.oracle == "torch"
        if outcome.failed:
            print(json.dumps({"index": i, "op": case.op, "status": outcome.status, "detail": outcome.detail}),
                  flush=True)
    print(json.dumps({"done": counts}), flush=True)
    return 0


# ------------------------------------------------------------------ the parent
class Tally:
    """Counts and failures of the whole run, updated by the worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(COUNTED + FAILURES, 0)
        self.failures = []
        self.reported = {}
        self.batches = 0


def _child_command(args, start, stop, progress):
    cmd = [sys.executable, "-m", "benchmarks.fuzz", "--child", "--seed", str(args.seed), "--start", str(start),
           "--cases", str(stop - start), "--progress", progress, "--ops", args.ops]
    if args.inject_abort_at >= 0:
        cmd += ["--inject-abort-at", str(args.inject_abort_at)]
    if args.inject_hang_at >= 0:
        cmd += ["--inject-hang-at", str(args.inject_hang_at)]
    return cmd


def _run_batch(args, start, stop, tally, tmpdir, total_batches):
    """Run [start, stop) in children until every case ran (a crash or hang ends a
    child; the rest of its batch goes to a new one)."""
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    while start < stop:
        progress = os.path.join(tmpdir, f"progress-{start}")
        try:
            proc = subprocess.run(_child_command(args, start, stop, progress), cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=args.timeout)
            out, err, status = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err, status = "", None
        done = None
        for line in out.splitlines():
            record = json.loads(line) if line.startswith("{") else {}
            if "done" in record:
                done = record["done"]
            elif "index" in record:
                _record_failure(args, tally, record)
        if done is not None and status == 0:
            with tally.lock:  # failures were counted as their lines came
                for key in COUNTED:
                    tally.counts[key] += done[key]
            break
        # the child died or hung: the case it was running is the culprit
        at, passed = _read_progress(progress, start)
        kind = "hang" if status is None else "crash"
        detail = (f"no progress within --timeout {args.timeout:g} s" if kind == "hang"
                  else f"child exited with status {status} ({_signal_name(status)})\n{err[-2000:]}")
        with tally.lock:  # the failures before the culprit were reported line by line
            for key, n in zip(COUNTED, passed):
                tally.counts[key] += n
        _record_failure(args, tally, {"index": at, "op": None, "status": kind, "detail": detail})
        start = at + 1
    with tally.lock:
        tally.batches += 1
        n, c = tally.batches, dict(tally.counts)
    print(f"fuzz: batch {n}/{total_batches} done ({time.perf_counter() - t0:.1f} s): "
          f"{sum(c[k] for k in PASSED + FAILURES)} cases so far, {sum(c[k] for k in FAILURES)} failures", flush=True)


def _read_progress(path, start):
    """(index of the case the child was running, the counts of COUNTED before it)."""
    try:
        with open(path, "rb") as f:
            index, *passed = (int(v) for v in f.read().split())
        if len(passed) != len(COUNTED):
            raise ValueError(f"progress file {path}: {len(passed)} counts")
        return index, passed
    except (OSError, ValueError):
        return start, [0] * len(COUNTED)  # died before its first case


def _signal_name(status):
    import signal

    if status is not None and status < 0:
        try:
            return signal.Signals(-status).name
        except ValueError:
            pass
    return "abnormal exit"


def _record_failure(args, tally, record):
    ops = op_names(args.ops)
    case = make_case(args.seed, record["index"], ops)  # building a case runs no op: safe here
    record["op"] = case.op
    key = (record["status"], case.op)
    with tally.lock:
        tally.counts[record["status"]] += 1
        tally.failures.append(record)
        seen = tally.reported[key] = tally.reported.get(key, 0) + 1
    if seen > args.max_reports:  # a systematic failure would otherwise print thousands
        if seen == args.max_reports + 1:
            print(f"fuzz: further {record['status']}es of op {case.op} are counted, not reported", flush=True)
        return
    path = save_reproducer(args, case, record)
    first = record["detail"].strip().splitlines()[0] if record["detail"].strip() else ""
    print(f"fuzz: {record['status'].upper()} case {record['index']} (op {case.op}): {first}\n"
          f"      reproducer: {path}", flush=True)


def save_reproducer(args, case, record):
    """Write ``<status>-<op>-s<seed>-i<index>.txt`` and ``.npz`` under ``--out``."""
    from benchmarks.fuzz_cases import Arr

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{record['status']}-{case.op.replace('.', '_')}-s{args.seed}-i{record['index']}"
    arrays = {f"input{i}": x.array() for i, x in enumerate(case.inputs) if isinstance(x, Arr)}
    np.savez(out / f"{stem}.npz", **arrays)
    ops_arg = f" --ops {args.ops}" if args.ops else ""
    (out / f"{stem}.txt").write_text(
        f"{record['status']}: case {record['index']} of seed {args.seed}, op {case.op}\n\n"
        f"replay: python -m benchmarks.fuzz --replay --seed {args.seed} --index {record['index']}{ops_arg}\n"
        f"inputs (dtype, layout as handed over) saved in {stem}.npz\n\n{case.describe()}\n\n{record['detail']}\n")
    return out / f"{stem}.txt"


def replay(args):
    from benchmarks.fuzz_properties import check_case

    case = make_case(args.seed, args.index, op_names(args.ops))
    print(case.describe())
    outcome = check_case(case)
    print(f"{outcome.status}\n{outcome.detail}")
    return 1 if outcome.failed else 0


def run(args):
    if args.child:
        return run_child(args)
    if args.replay:
        return replay(args)
    op_names(args.ops)  # unknown names fail here, not in every child
    bounds = [(a, min(a + args.batch, args.cases)) for a in range(0, args.cases, args.batch)]
    tally = Tally()
    t0 = time.perf_counter()
    print(f"fuzz: {args.cases} cases in {len(bounds)} batches, {args.workers} workers, seed {args.seed}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="microinit-fuzz-") as tmpdir, \
            ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for f in [pool.submit(_run_batch, args, a, b, tally, tmpdir, len(bounds)) for a, b in bounds]:
            f.result()
    elapsed = time.perf_counter() - t0
    c = tally.counts
    print(f"fuzz: {args.cases} cases in {len(bounds)} batches, {c['crash']} crashes, {c['hang']} hangs, "
          f"{c['mismatch']} mismatches, {c['error']} unexpected errors (seed {args.seed}, {elapsed:.0f} s)")
    print(f"fuzz: {args.cases / elapsed:.0f} cases/s ({c['ok']} matched the reference, {c['refused']} refused "
          f"with a clear error; {c['torch']} integer/bool cases judged by torch, {c['deferred']} deferred "
          f"because torch is not importable)")
    return 1 if any(c[k] for k in FAILURES) else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

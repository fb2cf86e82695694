"""The benchmark's report: Markdown tables (the README's format), the target check,
and the whole report that ``--markdown`` writes."""

__all__ = ["TARGETS", "COMPILED_TARGETS", "RATIOS", "speedup", "step_columns", "summary_table", "cpu_table",
           "compile_table", "compiled_targets", "matmul_table", "memory_table", "markdown_report", "target_report"]

from benchmarks.implementations import LABELS

# Targets from the issue: minimum speed-up over PyTorch (per thread count) and numpy.
TARGETS = {
    "tiny": {"torch": {1: 8.0, 2: 8.0}, "numpy": 1.5},
    "small": {"torch": {1: 4.0, 2: 4.0}, "numpy": 1.5},
    "medium": {"torch": {1: 1.15, 2: 1.0}, "numpy": 1.0},
    "large": {"torch": {1: 1.0, 2: 1.0}, "numpy": 1.0},
}
# Issue 14: minimum speed-up of the compiled step at 1 thread over numpy's and jax.jit's.
COMPILED_TARGETS = {
    "tiny": {"numpy": 8.0, "jax_jit": 8.0},
    "small": {"numpy": 2.0, "jax_jit": 2.0},
    "medium": {"numpy": 1.2, "jax_jit": 1.15},
    "large": {"numpy": 1.1},
}
# The ratio columns, (base, other): other's time over base's, > 1 means base is faster.
RATIOS = (("microinit", "numpy"), ("microinit", "torch"), ("microinit", "jax_jit"),
          ("microinit_compiled", "numpy"), ("microinit_compiled", "jax_jit"), ("microinit_compiled", "microinit"))


def speedup(row, other, base="microinit", field="median"):
    """``other``'s step time over ``base``'s (> 1: ``base`` is faster), or None when
    either was not timed in this row.

    >>> row = {"microinit": {"median": 2e-6}, "numpy": {"median": 3e-6}}
    >>> speedup(row, "numpy"), speedup(row, "torch"), speedup(row, "numpy", base="microinit_compiled")
    (1.5, None, None)
    """
    if other not in row or base not in row:
        return None
    return row[other][field] / row[base][field]


def _short(key):
    return "eager" if key == "microinit" else "compiled" if key == "microinit_compiled" else LABELS[key]


def step_columns(rows):
    """The contenders and ratio columns present in any of ``rows``, in table order; a
    column nobody timed (package absent, peers off) is left out of the tables.

    >>> step_columns([{"microinit": {}, "numpy": {}}, {"microinit": {}, "jax_jit": {}}])
    (['microinit', 'numpy', 'jax_jit'], [('microinit', 'numpy'), ('microinit', 'jax_jit')])
    """
    keys = [key for key in LABELS if any(key in r for r in rows)]
    ratios = [(b, o) for b, o in RATIOS if b in keys and o in keys]
    return keys, ratios


def _ratio(r, other, base, field="median"):
    value = speedup(r, other, base, field)
    return "—" if value is None else f"{value:.2f}×"


def summary_table(rows, peak):
    """The Markdown table of step medians (min–max), the ratios, and microinit eager's
    GFLOP/s; "—" where a contender was not timed in that row.

    >>> row = {"size": "tiny", "sizes": [2, 1], "batch": 4, "threads": 1, "flops_per_step": 100,
    ...        "microinit": {"median": 1e-6, "min": 1e-6, "max": 2e-6},
    ...        "numpy": {"median": 3e-6, "min": 2e-6, "max": 4e-6}}
    >>> print(summary_table([row], peak=1.0))
    | MLP (batch) | threads | microinit eager µs | numpy µs | eager vs numpy | eager GFLOP/s | % of 1-core peak |
    |---|---|---|---|---|---|---|
    | tiny 2-1 (4) | 1 | 1 (1–2) | 3 (2–4) | 3.00× | 0.1 | 10% |
    """
    keys, ratios = step_columns(rows)
    head = (["MLP (batch)", "threads"] + [f"{LABELS[k]} µs" for k in keys]
            + [f"{_short(b)} vs {_short(o)}" for b, o in ratios] + ["eager GFLOP/s", "% of 1-core peak"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        def us(k):
            if k not in r:
                return "—"
            t = r[k]
            return f"{t['median'] * 1e6:,.0f} ({t['min'] * 1e6:,.0f}–{t['max'] * 1e6:,.0f})"

        gf = r["flops_per_step"] / r["microinit"]["median"] / 1e9
        cells = ([f"{r['size']} {'-'.join(map(str, r['sizes']))} ({r['batch']})", str(r["threads"])]
                 + [us(k) for k in keys] + [_ratio(r, o, b) for b, o in ratios]
                 + [f"{gf:.1f}", f"{100 * gf / (peak * r['threads']):.0f}%"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_table(rows, peak):
    """The 1-thread rows by process CPU time (see time_interleaved), same columns."""
    rows = [r for r in rows if r["threads"] == 1]
    keys, ratios = step_columns(rows)
    head = (["MLP (batch)"] + [f"{LABELS[k]} CPU µs" for k in keys]
            + [f"{_short(b)} vs {_short(o)}" for b, o in ratios] + ["eager GFLOP/s", "% of 1-core peak"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mi = r["microinit"]["cpu_median"]
        cells = ([f"{r['size']} ({r['batch']})"]
                 + [f"{r[k]['cpu_median'] * 1e6:,.0f}" if k in r else "—" for k in keys]
                 + [_ratio(r, o, b, "cpu_median") for b, o in ratios]
                 + [f"{r['flops_per_step'] / mi / 1e9:.1f}", f"{100 * r['flops_per_step'] / mi / 1e9 / peak:.0f}%"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compile_table(rows):
    """Seconds of each compiled contender's first call (capture or compile plus one
    step), per size; empty when nothing compiled.

    >>> print(compile_table([{"size": "tiny", "threads": 1, "compile_seconds": {"jax_jit": 0.25}}]))
    | MLP | jax.jit first call s |
    |---|---|
    | tiny | 0.250 |
    """
    firsts = {}
    for r in rows:
        firsts.setdefault(r["size"], r.get("compile_seconds", {}))
    keys = [k for k in LABELS if any(k in c for c in firsts.values())]
    if not keys:
        return ""
    lines = ["| MLP | " + " | ".join(f"{LABELS[k]} first call s" for k in keys) + " |",
             "|---|" + "---|" * len(keys)]
    for size, c in firsts.items():
        lines.append(f"| {size} | " + " | ".join(f"{c[k]:.3f}" if k in c else "—" for k in keys) + " |")
    return "\n".join(lines)


def matmul_table(rows):
    lines = ["| n | threads | own kernel µs | GFLOP/s | numpy (BLAS) µs | GFLOP/s | kernel speed vs BLAS "
             "| same, by CPU time (1 thread) | `F.matmul` vs `np.matmul` |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cpu = f"{r['own_over_numpy_cpu']:.2f}×" if r["threads"] == 1 else "—"
        lines.append(f"| {r['n']} | {r['threads']} | {r['own']['median'] * 1e6:,.1f} | {r['own']['gflops']:.1f} "
                     f"| {r['numpy_out']['median'] * 1e6:,.1f} | {r['numpy_out']['gflops']:.1f} "
                     f"| {r['own_over_numpy']:.2f}× | {cpu} | {r['public_over_numpy']:.2f}× |")
    return "\n".join(lines)


def memory_table(rows):
    lines = ["| MLP | microinit step peak KiB | numpy step peak KiB | ratio | microinit resident pool KiB "
             "| (pool + peak) ÷ numpy peak |", "|---|---|---|---|---|---|"]
    for m in rows:
        lines.append(f"| {m['size']} | {m['microinit_bytes'] / 1024:,.1f} | {m['numpy_bytes'] / 1024:,.1f} "
                     f"| {m['ratio']:.2f} | {m['microinit_pool_bytes'] / 1024:,.1f} | {m['ratio_with_pool']:.2f} |")
    return "\n".join(lines)


def markdown_report(result):
    """The README's figures from one run's result dict (what --json writes)."""
    m = result["machine"]
    parts = [f"Run {result['date'].replace('T', ' ').replace('+00:00', '')} UTC on {m['cpu']} "
             f"({m['cores']} cores{', ' + m['detail'] if m.get('detail') else ''}), Python {m['python']}, "
             f"numpy {m['numpy']}, PyTorch {result.get('torch') or 'not installed'}, "
             f"jax {result.get('jax') or 'not used'}; measured "
             f"single-core fp32 peak {result['peak_gflops_1core']:.1f} GFLOP/s"
             f"{' (quick mode)' if result.get('quick') else ''}.", "",
             "Training step, float32, median µs (min–max); \"a vs b\" is b's time over a's "
             "(above 1: a is faster):", "",
             summary_table(result["steps"], result["peak_gflops_1core"]), "",
             "The same 1-thread steps by process CPU time (median µs; leaves out time spent "
             "waiting for a core on a shared machine):", "", cpu_table(result["steps"], result["peak_gflops_1core"])]
    compiled = compile_table(result["steps"])
    if compiled:
        parts += ["", "First call of each compiled contender (capture or compile, plus one step), "
                  "not part of the step times above:", "", compiled]
    if result.get("left_out"):
        parts += ["", "Left out of this run:", ""] + [f"- {line}" for line in result["left_out"]]
    if result.get("matmul"):
        parts += ["", "Square float32 matmul:", "", matmul_table(result["matmul"])]
    if result.get("memory"):
        parts += ["", "Memory of one steady-state step (1 thread):", "", memory_table(result["memory"])]
    if result.get("targets"):
        parts += ["", "Targets, as the runner printed them:", "", "```"] + result["targets"] + ["```"]
    return "\n".join(parts) + "\n"


def compiled_targets(r):
    """Issue 14's lines for a 1-thread row with a compiled step: its speed-up over
    numpy's step and jax.jit's against the targets.

    >>> row = {"size": "large", "threads": 1, "microinit_compiled": {"median": 1.0}, "numpy": {"median": 1.2}}
    >>> compiled_targets(row)
    ['large  1T: compiled vs numpy 1.20x (need 1.10x) MET']
    """
    if r["threads"] != 1 or "microinit_compiled" not in r:
        return []
    parts = []
    for other, need in COMPILED_TARGETS[r["size"]].items():
        got = speedup(r, other, "microinit_compiled")
        if got is not None:
            status = "MET" if got >= need else "NOT MET"
            parts.append(f"compiled vs {LABELS[other]} {got:.2f}x (need {need:.2f}x) {status}")
    return [f"{r['size']:<6} 1T: " + "; ".join(parts)] if parts else []


def target_report(rows, mem_rows, peak):
    out = []
    for r in rows:
        t = TARGETS[r["size"]]
        rn, rt = speedup(r, "numpy"), speedup(r, "torch")
        ok_n = rn >= t["numpy"]

        def cpu(other):
            if r["threads"] != 1:
                return ""
            return f" [CPU time {r[other]['cpu_median'] / r['microinit']['cpu_median']:.2f}x]"

        msg = f"{r['size']:<6} {r['threads']}T: vs numpy {rn:.2f}x{cpu('numpy')} (need {t['numpy']:.2f}x) " \
              f"{'MET' if ok_n else 'NOT MET'}"
        if rt is not None:
            need = t["torch"][r["threads"]]
            msg += (f"; vs PyTorch {rt:.2f}x{cpu('torch')} (need {need:.2f}x) "
                    f"{'MET' if rt >= need else 'NOT MET'}")
        out.append(msg)
    for r in rows:
        out += compiled_targets(r)
    for r in rows:
        if r["size"] == "large" and r["threads"] == 1:
            wall = r["flops_per_step"] / r["microinit"]["median"] / 1e9
            cpu = r["flops_per_step"] / r["microinit"]["cpu_median"] / 1e9
            frac = wall / peak
            out.append(f"large  1T: {wall:.1f} GFLOP/s = {100 * frac:.0f}% of the measured 1-core peak "
                       f"{peak:.1f} [CPU time {100 * cpu / peak:.0f}%] (need >= 60%) "
                       f"{'MET' if frac >= 0.6 else 'NOT MET'}")
    for m in mem_rows:
        out.append(f"{m['size']:<6} memory: step peak {m['ratio']:.2f}x numpy's (need <= 1.10x) "
                   f"{'MET' if m['ratio'] <= 1.1 else 'NOT MET'}; counting microinit's resident "
                   f"buffer pool too: {m['ratio_with_pool']:.2f}x "
                   f"{'MET' if m['ratio_with_pool'] <= 1.1 else 'NOT MET'}")
    return out

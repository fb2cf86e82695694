"""The benchmark's report: Markdown tables (the README's format), the target check,
and the whole report that ``--markdown`` writes."""

__all__ = ["TARGETS", "speedup", "summary_table", "cpu_table", "matmul_table", "memory_table", "markdown_report",
           "target_report"]

# Targets from the issue: minimum speed-up over PyTorch (per thread count) and numpy.
TARGETS = {
    "tiny": {"torch": {1: 8.0, 2: 8.0}, "numpy": 1.5},
    "small": {"torch": {1: 4.0, 2: 4.0}, "numpy": 1.5},
    "medium": {"torch": {1: 1.15, 2: 1.0}, "numpy": 1.0},
    "large": {"torch": {1: 1.0, 2: 1.0}, "numpy": 1.0},
}


def speedup(row, other):
    """``other``'s median step time over microinit's (> 1: microinit is faster), or None
    when ``other`` was not timed.

    >>> row = {"microinit": {"median": 2e-6}, "numpy": {"median": 3e-6}}
    >>> speedup(row, "numpy"), speedup(row, "torch")
    (1.5, None)
    """
    if other not in row:
        return None
    return row[other]["median"] / row["microinit"]["median"]


def summary_table(rows, peak):
    """The Markdown table of step medians, ratios and GFLOP/s (README format)."""
    lines = ["| MLP (batch) | threads | microinit µs | numpy µs | PyTorch µs | vs numpy | vs PyTorch "
             "| GFLOP/s | % of 1-core peak |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def us(t):
            return f"{t['median'] * 1e6:,.0f} ({t['min'] * 1e6:,.0f}–{t['max'] * 1e6:,.0f})"

        gf = r["flops_per_step"] / r["microinit"]["median"] / 1e9
        rn, rt = speedup(r, "numpy"), speedup(r, "torch")
        sizes = "-".join(map(str, r["sizes"]))
        lines.append(
            f"| {r['size']} {sizes} ({r['batch']}) | {r['threads']} | {us(r['microinit'])} "
            f"| {us(r['numpy'])} | {us(r['torch']) if 'torch' in r else 'n/a'} "
            f"| {rn:.2f}× | {f'{rt:.2f}×' if rt else 'n/a'} | {gf:.1f} "
            f"| {100 * gf / (peak * r['threads']):.0f}% |")
    return "\n".join(lines)


def cpu_table(rows, peak):
    """1-thread rows by process CPU time (see time_interleaved)."""
    lines = ["| MLP (batch) | microinit CPU µs | numpy CPU µs | PyTorch CPU µs | vs numpy | vs PyTorch "
             "| GFLOP/s | % of 1-core peak |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["threads"] != 1:
            continue
        mi = r["microinit"]["cpu_median"]
        tn = r["numpy"]["cpu_median"]
        tt = r["torch"]["cpu_median"] if "torch" in r else None
        lines.append(f"| {r['size']} ({r['batch']}) | {mi * 1e6:,.0f} | {tn * 1e6:,.0f} "
                     f"| {f'{tt * 1e6:,.0f}' if tt else 'n/a'} | {tn / mi:.2f}× "
                     f"| {f'{tt / mi:.2f}×' if tt else 'n/a'} | {r['flops_per_step'] / mi / 1e9:.1f} "
                     f"| {100 * r['flops_per_step'] / mi / 1e9 / peak:.0f}% |")
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
             f"numpy {m['numpy']}, PyTorch {result.get('torch') or 'not installed'}; measured "
             f"single-core fp32 peak {result['peak_gflops_1core']:.1f} GFLOP/s"
             f"{' (quick mode)' if result.get('quick') else ''}.", "",
             "Training step, float32, median µs (min–max):", "",
             summary_table(result["steps"], result["peak_gflops_1core"]), "",
             "The same 1-thread steps by process CPU time (median µs; leaves out time spent "
             "waiting for a core on a shared machine):", "", cpu_table(result["steps"], result["peak_gflops_1core"])]
    if result.get("matmul"):
        parts += ["", "Square float32 matmul:", "", matmul_table(result["matmul"])]
    if result.get("memory"):
        parts += ["", "Memory of one steady-state step (1 thread):", "", memory_table(result["memory"])]
    if result.get("targets"):
        parts += ["", "Targets, as the runner printed them:", "", "```"] + result["targets"] + ["```"]
    return "\n".join(parts) + "\n"


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

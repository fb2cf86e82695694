"""How the benchmark times things: interleaved medians, thread settings, the measured
fp32 peak and traced peak memory."""
import gc
import statistics
import time
import tracemalloc

__all__ = ["PAUSE_THREADED", "time_fn", "inner_for", "probe", "balanced_orders", "time_interleaved", "set_threads",
           "measure_peak_gflops", "traced_peak"]

# Sleep before each timed sample with more than one thread, so that thread pools left
# spinning by the previous implementation (OpenBLAS, PyTorch's OpenMP) are idle.
PAUSE_THREADED = 0.1


def time_fn(fn, repeats, inner, warmup):
    """Median, min and max seconds per call over `repeats` samples of `inner` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def inner_for(seconds_per_call, target=0.02):
    """Back-to-back calls per sample so that one sample lasts about ``target`` seconds.

    >>> inner_for(1e-4), inner_for(1.0)
    (200, 1)
    """
    return max(1, int(target / max(seconds_per_call, 1e-7)))


def probe(fn):
    """Seconds per call of ``fn`` from two calls after an untimed first one."""
    # One untimed call first: a first call (lazy imports, first-touch page faults,
    # thread-pool start-up) can take 1000x a steady one, and an inflated probe would
    # make the samples so short that timer overhead dominates them.
    fn()
    t0 = time.perf_counter()
    fn()
    fn()
    return (time.perf_counter() - t0) / 2


def balanced_orders(names):
    """Orders in which to sample ``names`` so that, over one cycle of them, each name
    runs right after each other name equally often, and first equally often: a Williams
    design, the rotations of 0, 1, n-1, 2, n-2, ... (n orders when n is even; with the
    reversed orders added, 2n when it is odd). All n! permutations would do that too,
    but with six contenders 30 samples would cover only the first 30 of 720 orders,
    all starting with the same one.

    >>> balanced_orders("ab")
    [('a', 'b'), ('b', 'a')]
    >>> balanced_orders("abcd")
    [('a', 'b', 'd', 'c'), ('b', 'c', 'a', 'd'), ('c', 'd', 'b', 'a'), ('d', 'a', 'c', 'b')]
    >>> from itertools import permutations
    >>> sorted(balanced_orders("abc")) == sorted(permutations("abc"))   # with three, all six
    True
    """
    names = list(names)
    n = len(names)
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    orders = [tuple(names[(i + k) % n] for i in first) for k in range(n)]
    if n % 2:
        orders += [order[::-1] for order in orders]
    return orders


def time_interleaved(fns, repeats, target, pause=0.005):
    """Like time_fn for several implementations, sampled round-robin: each repeat times
    every implementation once in turn (with a short pause before each), so a burst of
    load from other processes on a shared machine lands on all of them rather than on
    whichever ran at that moment.

    The order runs through ``balanced_orders`` in turn, so over each cycle of them
    (n samples for n implementations, 2n when n is odd) each implementation follows
    each other one equally often. Rotating one fixed order would not do that (it keeps
    the cyclic order: with three, the first always runs right after the third), and
    with two threads whoever follows PyTorch or OpenBLAS meets their worker threads
    still spinning on a core. ``pause`` seconds of sleep before each implementation
    let those threads go idle first (bench_steps uses a longer one with two threads:
    OpenBLAS's workers busy-wait for tens of milliseconds after a call); one untimed
    call then wakes the implementation's own pool, so the sample is a steady-state
    step, as in a training loop, not a cold start."""
    inner = {}
    for name, fn in fns.items():
        inner[name] = inner_for(probe(fn), target)
        for _ in range(max(3, inner[name])):  # warm-up: buffers, caches, thread pools
            fn()
    samples = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    orders = balanced_orders(fns)
    for rep in range(repeats):
        # Vary the order and pause between implementations: a thread pool that has
        # just finished (OpenMP, OpenBLAS, PyTorch's) keeps spinning for a moment and
        # would take a core from whichever implementation always ran next.
        for name in orders[rep % len(orders)]:
            fn = fns[name]
            time.sleep(pause)
            fn()  # untimed: wakes this implementation's own thread pool after the pause
            n = inner[name]
            c0 = time.process_time()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
            cpu[name].append((time.process_time() - c0) / n)
    # cpu_median: process CPU time per call. On a machine shared with other jobs it
    # leaves out the time this process waited for a core, so with one thread it is the
    # steadier figure (with two it adds both threads' time and is not comparable).
    return {name: {"median": statistics.median(v), "min": min(v), "max": max(v),
                   "cpu_median": statistics.median(cpu[name])}
            for name, v in samples.items()}


def set_threads(n, torch=None):
    import microinit

    microinit.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def measure_peak_gflops(seconds=0.2):
    """Single-core fp32 peak, measured by the FMA loop kernel (see matmul.fma_peak)."""
    from microinit._kernels import matmul

    best = 0.0
    for _ in range(10):
        best = max(best, matmul.fma_peak(seconds / 10))
    return best


def traced_peak(fn):
    """Peak bytes traced by tracemalloc while fn() runs (numpy reports its buffers)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base

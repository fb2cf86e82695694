"""Optimizer step speed: microinit.optim against torch.optim, one thread.

Times ``optimizer.step()`` alone (gradients already in place) for the parameters of a
2-16-16-1 MLP (6 small tensors: per-call overhead dominates) and for one 1M-element
float32 tensor (memory bandwidth dominates). Prints the median of several repeats and
the ratio torch / microinit (> 1 means microinit is faster).

    python benchmarks/bench_optim.py [--repeats 7]
"""
import argparse
import statistics
import timeit

import numpy as np


def _median_us(fn, number, repeats):
    fn()  # warm-up (allocates optimizer state)
    return statistics.median(t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeats))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    from microinit import optim
    from microinit.tensor import Tensor

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None

    cases = {
        "MLP 2-16-16-1 (6 tensors, 337 values)": [(2, 16), (16,), (16, 16), (16,), (16, 1), (1,)],
        "one tensor of 1M values": [(1_000_000,)],
    }
    configs = [("SGD", dict(lr=1e-3)), ("SGD", dict(lr=1e-3, momentum=0.9)),
               ("Adam", dict(lr=1e-3)), ("AdamW", dict(lr=1e-3))]
    rng = np.random.default_rng(0)
    print(f"{'parameters':<40} {'optimizer':<22} {'microinit us':>13} {'torch us':>10} {'ratio':>7}")
    for label, shapes in cases.items():
        number = 2000 if len(shapes) > 1 else 20
        for name, kw in configs:
            ps = [Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
            for p in ps:
                p.grad = rng.standard_normal(p.shape).astype(np.float32) * 1e-3
            ours = _median_us(getattr(optim, name)(ps, **kw).step, number, args.repeats)
            theirs, ratio = "-", "-"
            if torch is not None:
                tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
                for tp, p in zip(tps, ps):
                    tp.grad = torch.tensor(p.grad)
                t = _median_us(getattr(torch.optim, name)(tps, **kw).step, number, args.repeats)
                theirs, ratio = f"{t:.1f}", f"{t / ours:.1f}x"
            desc = name + ("(momentum=0.9)" if kw.get("momentum") else "")
            print(f"{label:<40} {desc:<22} {ours:>13.1f} {theirs:>10} {ratio:>7}")


if __name__ == "__main__":
    main()

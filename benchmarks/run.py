"""The benchmark runner: the same code as `microinit bench` (microinit/bench.py).

    python benchmarks/run.py --quick
    python benchmarks/run.py --json benchmarks/results/latest.json

See ``microinit bench --help`` for the options.
"""
import sys

from microinit.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

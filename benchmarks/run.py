"""The benchmark runner as a script: the same code and options as `microinit bench`
(``benchmarks/runner.py``), for a clone where the console script is not installed.

    python benchmarks/run.py --quick
    python benchmarks/run.py --json benchmarks/results/latest.json

See ``microinit bench --help`` (or ``python benchmarks/run.py --help``) for the options.
"""
import sys
from pathlib import Path

if not __package__:
    # Run as a script: make the folder importable as the package `benchmarks`.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

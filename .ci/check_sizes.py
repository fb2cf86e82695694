"""Fail when a module under microinit/ is longer than the project's limit.

Small modules that each own one thing are the project's rule (docs/design.md); this
is the check CI runs for it. Counts the lines of every *.py, *.pyx and *.pxd file under
the package directory, prints each one over the limit with its count, and exits 1 if
there is any (0 otherwise; 2 if the directory holds no module at all, so a wrong path
cannot pass as "nothing too long").

    python .ci/check_sizes.py                  # microinit/, at most 600 lines
    python .ci/check_sizes.py --max-lines 400 path/to/package
"""
import argparse
import os
import sys
from pathlib import Path

SUFFIXES = (".py", ".pyx", ".pxd")
MAX_LINES = 600


def line_count(path):
    """Lines as an editor numbers them: a last line without a newline counts too."""
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def too_long(root, max_lines):
    """(modules checked, [(path, lines)] of those over max_lines, longest first)."""
    modules = sorted(p for p in Path(root).rglob("*") if p.suffix in SUFFIXES and p.is_file())
    over = [(p, n) for p in modules if (n := line_count(p)) > max_lines]
    return len(modules), sorted(over, key=lambda item: -item[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parent.parent / "microinit"))
    parser.add_argument("--max-lines", type=int, default=MAX_LINES)
    args = parser.parse_args(argv)
    checked, over = too_long(args.root, args.max_lines)
    if not checked:
        print(f"check_sizes: no {'/'.join(SUFFIXES)} module under {args.root}", file=sys.stderr)
        return 2
    for path, n in over:
        print(f"{os.path.relpath(path)}: {n} lines (limit {args.max_lines})")
    if over:
        print(f"check_sizes: {len(over)} of {checked} modules exceed {args.max_lines} lines", file=sys.stderr)
        return 1
    print(f"check_sizes: all {checked} modules have at most {args.max_lines} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""pytest plugin for .ci/run: refuse to run the kernel tests unless the debug build is loaded.

The kernel tests run a second time against a bounds-checked build (MICROINIT_DEBUG=1 in
setup.py: boundscheck/wraparound/initializedcheck on, -O0 -g) made in a copy of the
tree. An installed or in-place optimized build earlier on sys.path would pass those
tests too and prove nothing, so before any test runs this plugin imports every
extension module of the copy, prints where each was loaded from, and stops the session
(exit code 3) if one does not lie in the copy (MICROINIT_DEBUG_TREE) or was not
compiled with -O0 (read from the GCC producer string that -g stores in the binary).

    MICROINIT_DEBUG_TREE=/tmp/x/tree PYTHONPATH=/tmp/x/tree:/tmp/x/tree/.ci \\
        python -m pytest -p debug_build_check tests/kernels
"""
import importlib
import os
import re
from pathlib import Path

import pytest

# What gcc -g records in .debug_str (DW_AT_producer): "GNU C17 12.2.0 -march=... -O3 -O0 ...".
PRODUCER = re.compile(rb"GNU C[0-9A-Za-z+]* [0-9][0-9.]* [\x20-\x7e]+")
OPT_FLAG = re.compile(rb"(?:^|\s)-O([0-3sgz]?|fast)(?=\s|$)")


def optimization_levels(binary):
    """The effective -O level of each compilation unit in a shared object (gcc's last -O
    wins), e.g. {"0"}; empty when it carries no producer string."""
    levels = set()
    for producer in PRODUCER.findall(Path(binary).read_bytes()):
        flags = OPT_FLAG.findall(producer)
        if flags:
            levels.add(flags[-1].decode() or "1")
    return levels


def extension_modules(tree):
    """Dotted names of the compiled modules setup.py builds: every .pyx under microinit/."""
    package = Path(tree) / "microinit"
    return sorted(".".join(p.relative_to(tree).with_suffix("").parts) for p in package.rglob("*.pyx"))


def pytest_sessionstart(session):
    tree = os.environ.get("MICROINIT_DEBUG_TREE")
    if not tree:
        pytest.exit("debug_build_check: MICROINIT_DEBUG_TREE is not set", returncode=3)
    tree = Path(tree).resolve()
    write = session.config.pluginmanager.get_plugin("terminalreporter").write_line
    names = extension_modules(tree)
    if not names:
        pytest.exit(f"debug_build_check: no .pyx module under {tree}/microinit", returncode=3)
    problems = []
    for name in names:
        loaded = Path(importlib.import_module(name).__file__).resolve()
        levels = optimization_levels(loaded)
        write(f"debug build: {name} loaded from {loaded} (-O{'/-O'.join(sorted(levels)) or '?'})")
        if tree not in loaded.parents:
            problems.append(f"{name} was loaded from {loaded}, not from the debug tree {tree}")
        elif levels != {"0"}:
            problems.append(f"{name} ({loaded}) was compiled with -O{'/-O'.join(sorted(levels)) or '?'}, not -O0")
    if problems:
        pytest.exit("debug_build_check: " + "; ".join(problems), returncode=3)

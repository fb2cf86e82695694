"""`microinit <command>`: the command-line entry point.

Each subcommand lives in the module that owns its work; that module provides
``add_arguments(parser)`` and ``run(args) -> int``. This file only dispatches, so
that adding a command never means touching the others.

``microinit bench`` is the one command whose code is not in the package: the benchmarks
live in the repository's ``benchmarks/`` folder, which an editable install
(``pip install -e .`` from a clone) has next to the package. ``load_benchmarks()``
finds it there; without it the command says to run from a clone.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import platform
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, Sequence

# name -> (module, one-line help). BENCHMARKS stands for the runner in the clone's
# benchmarks/ folder (see load_benchmarks).
BENCHMARKS = "benchmarks.runner"
COMMANDS = {
    "demo": ("microinit.demo", "train a small network on spirals under several initializers"),
    "trace": ("microinit.viz.command", "step through backpropagation of a scalar expression"),
    "initlab": ("microinit.lab", "experiments that show what initialization does"),
    "bench": (BENCHMARKS, "benchmark microinit (eager and compiled) against numpy, PyTorch, "
                          "torch.compile, jax.jit and micrograd"),
}


def benchmarks_dir() -> Path | None:
    """The repository's ``benchmarks/`` folder beside the installed package, or None
    (a regular, non-editable install has no such folder)."""
    import microinit

    folder = Path(microinit.__file__).resolve().parent.parent / "benchmarks"
    return folder if (folder / "runner.py").is_file() and (folder / "__init__.py").is_file() else None


def load_benchmarks() -> ModuleType | None:
    """The module ``benchmarks.runner`` from ``benchmarks_dir()``, or None when there is none.

    The folder is imported as the package ``benchmarks`` from its path, without putting
    the repository on ``sys.path`` (which would shadow other top-level names)."""
    folder = benchmarks_dir()
    if folder is None:
        return None
    loaded = sys.modules.get("benchmarks")
    if loaded is None or Path(getattr(loaded, "__file__", "") or "").resolve().parent != folder:
        spec = importlib.util.spec_from_file_location("benchmarks", folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        package = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]  # (a file: never None)
        sys.modules["benchmarks"] = package
        spec.loader.exec_module(package)  # type: ignore[union-attr]  # (a file location has a loader)
    return importlib.import_module(BENCHMARKS)


def _needs_clone(args: argparse.Namespace) -> int:
    import microinit

    print("microinit bench: the benchmarks are not part of the installed package and no benchmarks/ folder "
          f"was found next to it ({Path(microinit.__file__).resolve().parent.parent}). Run it from a clone of "
          "the repository: git clone ..., then `pip install -e .` in the clone and `microinit bench` "
          "(or `python benchmarks/run.py`).", file=sys.stderr)
    return 2


setattr(_needs_clone, "ignores_arguments", True)  # whatever options were given, the answer is the same


def _info(args: argparse.Namespace) -> int:
    import numpy as np

    import microinit
    from microinit import _kernels

    print(f"microinit {microinit.__version__}")
    print(f"python    {platform.python_version()} ({platform.machine()}, {platform.system()})")
    print(f"numpy     {np.__version__}")
    print("compiled kernels (float32 and float64 each):")
    for name, path in _kernels.compiled_modules().items():
        print(f"  {name:<14} {path}")
    print("BLAS used by numpy:")
    for line in _blas_lines():
        print(f"  {line}")
    return 0


def _blas_lines() -> list[str]:
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            return [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads) "
                    f"{p.get('filepath')}" for p in pools]
    except ImportError:
        pass
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return [f"{blas.get('name')} {blas.get('version')}"]
    except Exception:  # older numpy without mode="dicts"
        return ["unknown (install threadpoolctl to see it)"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microinit", description="microinit command line")
    from microinit import __version__

    parser.add_argument("--version", action="version", version=f"microinit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="versions, compiled kernels and the BLAS numpy uses")
    info.set_defaults(func=_info)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if module == BENCHMARKS:
            mod = load_benchmarks()
            if mod is None:
                p.set_defaults(func=_needs_clone)
                p.add_argument("rest", nargs=argparse.REMAINDER)
                continue
        elif importlib.util.find_spec(module) is None:
            p.set_defaults(func=_not_built(name))
            p.add_argument("rest", nargs=argparse.REMAINDER)
            continue
        else:
            mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return parser


def _not_built(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"`microinit {name}` is not built yet in this version.")
        return 0

    setattr(run, "ignores_arguments", True)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(getattr(args, "func", None), "ignores_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    status: int | None = args.func(args)
    return status or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

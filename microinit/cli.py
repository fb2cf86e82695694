"""`microinit <command>`: the command-line entry point.

Each subcommand lives in the module that owns its work; that module provides
``add_arguments(parser)`` and ``run(args) -> int``. This file only dispatches, so
that adding a command never means touching the others.
"""
import argparse
import importlib
import importlib.util
import platform
import sys

# name -> (module, one-line help)
COMMANDS = {
    "demo": ("microinit.demo", "train a small network on spirals under several initializers"),
    "trace": ("microinit.trace", "step through backpropagation of a scalar expression"),
    "initlab": ("microinit.lab", "experiments that show what initialization does"),
    "bench": ("microinit.bench", "benchmark microinit against numpy, PyTorch and micrograd"),
}


def _info(args):
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


def _blas_lines():
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


def build_parser():
    parser = argparse.ArgumentParser(prog="microinit", description="microinit command line")
    from microinit import __version__

    parser.add_argument("--version", action="version", version=f"microinit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="versions, compiled kernels and the BLAS numpy uses")
    info.set_defaults(func=_info)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if importlib.util.find_spec(module) is None:
            p.set_defaults(func=_not_built(name))
            p.add_argument("rest", nargs=argparse.REMAINDER)
            continue
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return parser


def _not_built(name):
    def run(args):
        print(f"`microinit {name}` is not built yet in this version.")
        return 0

    return run


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args) or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

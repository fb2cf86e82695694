"""``microinit initlab <experiment> [--seed N] [--plot FILE.png] ...``: the lab's command line.

Parses the options of each experiment in ``microinit.lab.experiments``, runs it with the
requested number of threads and prints its table (and writes its figure with ``--plot``).
"""
import argparse
import math
import os
import sys

from microinit.diagnostics import check_figure_path
from microinit.lab.chaos import CHAOS_SIGMA_B2, CHAOS_SIGMA_W2
from microinit.lab.experiments import DEPTH_INITS, EXPERIMENTS
from microinit.lab.specs import parse_init
from microinit.threads import get_num_threads, set_num_threads

__all__ = ["add_arguments", "run"]


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise _arg_error(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise _arg_error(f"expected a positive integer, got {v}")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise _arg_error(f"expected a positive number, got {text!r}") from None
    if not v > 0 or not math.isfinite(v):
        raise _arg_error(f"expected a positive number, got {text!r}")
    return v


def _non_negative_float(text):
    try:
        v = float(text)
    except ValueError:
        raise _arg_error(f"expected a number >= 0, got {text!r}") from None
    if not v >= 0 or not math.isfinite(v):
        raise _arg_error(f"expected a number >= 0, got {text!r}")
    return v


def _init_arg(text):
    try:
        return parse_init(text)
    except (ValueError, TypeError) as err:
        raise _arg_error(str(err)) from None


def _arg_error(msg):
    return argparse.ArgumentTypeError(msg)


def add_arguments(parser):
    """``microinit initlab <experiment> [--seed N] [--plot FILE.png] ...`` or
    ``microinit initlab --html report.html [--quick] [--seed N]``"""
    parser.add_argument("--html", metavar="FILE",
                        help="run every experiment and write one self-contained HTML report with the init explorer")
    parser.add_argument("--quick", action="store_true", help="with --html: small settings (seconds, for a try)")
    parser.add_argument("--seed", type=int, default=0, dest="report_seed",
                        help="with --html: the seed of every experiment (default 0)")
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=False)
    helps = {name: ((fn.__doc__ or "").strip().splitlines() or [name])[0] for name, fn in EXPERIMENTS.items()}

    def common(p):
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--threads", type=_positive_int, default=1,
                       help="threads for kernels and BLAS (default 1: these networks are too small for "
                            "threads to pay for their start-up, and on a busy machine they lose badly)")
        p.add_argument("--plot", metavar="FILE", help="write the figure to FILE (PNG; needs matplotlib)")

    p = sub.add_parser("symmetry", help=helps["symmetry"], description=helps["symmetry"])
    common(p)
    p.add_argument("--init", nargs="+", type=_init_arg, default=None, help="initializers (default: %(default)s)")
    p.add_argument("--width", type=_positive_int, default=16)
    p.add_argument("--epochs", type=_positive_int, default=60)
    p.add_argument("--activation", default="tanh")

    p = sub.add_parser("depth", help=helps["depth"], description=helps["depth"])
    common(p)
    p.add_argument("--depth", type=_positive_int, default=30, help="hidden layers (default 30)")
    p.add_argument("--width", type=_positive_int, default=100, help="units per layer (default 100)")
    p.add_argument("--batch", type=_positive_int, default=256)
    p.add_argument("--init", nargs="+", type=_init_arg, default=None,
                   help="initializers (default: " + " ".join(DEPTH_INITS) + ")")
    p.add_argument("--activation", nargs="+", default=["tanh", "relu"])

    p = sub.add_parser("deep-relu", help=helps["deep-relu"], description=helps["deep-relu"])
    common(p)
    p.add_argument("--depth", type=_positive_int, default=30)
    p.add_argument("--width", type=_positive_int, default=64)
    p.add_argument("--epochs", type=_positive_int, default=30)
    p.add_argument("--lr", type=_positive_float, default=0.001)
    p.add_argument("--seeds", type=_positive_int, default=3,
                   help="runs per initializer, seeds SEED, SEED+1, ...; medians shown (default 3)")
    p.add_argument("--init", nargs="+", type=_init_arg, default=None, help="default: xavier_uniform he_normal")

    p = sub.add_parser("lsuv", help=helps["lsuv"], description=helps["lsuv"])
    common(p)
    p.add_argument("--depth", type=_positive_int, default=20)
    p.add_argument("--width", type=_positive_int, default=64)
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument("--activation", default="tanh")

    p = sub.add_parser("edge-of-chaos", help=helps["edge-of-chaos"], description=helps["edge-of-chaos"])
    common(p)
    p.add_argument("--activation", default="tanh")
    p.add_argument("--sigma-w2", nargs="+", type=_positive_float, default=None,
                   help="weight variances x fan_in (default: " + " ".join(map(str, CHAOS_SIGMA_W2)) + ")")
    p.add_argument("--sigma-b2", nargs="+", type=_non_negative_float, default=None,
                   help="bias variances (default: " + " ".join(map(str, CHAOS_SIGMA_B2)) + ")")
    p.add_argument("--depth", type=_positive_int, default=60)
    p.add_argument("--width", type=_positive_int, default=128)
    p.add_argument("--seeds", type=_positive_int, default=2, help="networks per grid point (default 2)")
    p.add_argument("--no-train", action="store_true", help="skip the trainability runs")

    p = sub.add_parser("custom", help=helps["custom"], description=helps["custom"])
    common(p)
    p.add_argument("--init", nargs="+", type=_init_arg, required=True,
                   help='registry specs: he_normal, "normal(std=0.05)", \'{"name": "orthogonal", "gain": 2}\'')
    p.add_argument("--activation", nargs="+", default=["relu"])
    p.add_argument("--depth", nargs="+", type=_positive_int, default=[20])
    p.add_argument("--width", nargs="+", type=_positive_int, default=[64])
    p.add_argument("--batch", type=_positive_int, default=256)


def _kwargs(args):
    name = args.experiment
    kw = {"seed": args.seed}
    inits = getattr(args, "init", None)
    if inits:
        kw["inits"] = inits
    if name == "symmetry":
        kw.update(width=args.width, epochs=args.epochs, activation=args.activation)
    elif name == "depth":
        kw.update(depth=args.depth, width=args.width, batch=args.batch, activations=args.activation)
    elif name == "deep-relu":
        kw.update(depth=args.depth, width=args.width, epochs=args.epochs, lr=args.lr, seeds=args.seeds)
    elif name == "lsuv":
        kw.update(depth=args.depth, width=args.width, epochs=args.epochs, activation=args.activation)
    elif name == "edge-of-chaos":
        kw.update(activation=args.activation, depth=args.depth, width=args.width, seeds=args.seeds)
        if args.sigma_w2:
            kw["sigma_w2s"] = args.sigma_w2
        if args.sigma_b2:
            kw["sigma_b2s"] = args.sigma_b2
        if args.no_train:
            kw["train_points"] = ()
    elif name == "custom":
        kw.update(activations=args.activation, depths=args.depth, widths=args.width, batch=args.batch)
    return kw


def _report(args):
    from microinit.lab.report import write_report

    if args.experiment:
        # an argument error, reported the way argparse reports one (status 2)
        print("microinit initlab: error: --html runs every experiment; give it without an experiment name",
              file=sys.stderr)
        sys.exit(2)
    folder = os.path.dirname(os.path.abspath(args.html))
    if not os.path.isdir(folder):       # say so before a minute of experiments, not after
        print(f"microinit initlab --html: cannot write {args.html}: directory {folder!r} does not exist",
              file=sys.stderr)
        return 1
    before = get_num_threads()
    set_num_threads(1)
    try:
        write_report(args.html, quick=args.quick, seed=args.report_seed,
                     log=lambda message: print(message, file=sys.stderr, flush=True))
    except OSError as err:
        print(f"microinit initlab --html: cannot write {args.html}: {err}", file=sys.stderr)
        return 1
    finally:
        set_num_threads(before)
    print(f"wrote {args.html}")
    return 0


def run(args):
    if getattr(args, "html", None):
        return _report(args)
    if not args.experiment:
        print("microinit initlab: error: name an experiment (" + ", ".join(EXPERIMENTS) + ") or give --html FILE",
              file=sys.stderr)
        sys.exit(2)
    if args.plot:
        try:
            check_figure_path(args.plot)  # say so before the experiment runs, not after
        except (ImportError, OSError) as err:
            print(f"microinit initlab {args.experiment}: {err}", file=sys.stderr)
            return 1
    before = get_num_threads()
    set_num_threads(args.threads)
    try:
        table = EXPERIMENTS[args.experiment](**_kwargs(args))
    except (ValueError, TypeError) as err:
        print(f"microinit initlab {args.experiment}: {err}", file=sys.stderr)
        return 2
    finally:
        set_num_threads(before)
    print(table)
    if args.plot:
        try:
            table.plot(args.plot)
        except OSError as err:
            print(f"microinit initlab {args.experiment}: cannot write the figure: {err}", file=sys.stderr)
            return 1
        print(f"\nfigure written to {args.plot}")
    return 0

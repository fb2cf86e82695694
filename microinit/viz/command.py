"""``microinit trace "EXPR"``: step through backpropagation of a scalar expression.

``microinit trace "tanh(x1*w1 + x2*w2 + b)" --var x1=2 --var x2=0 --var w1=-3 --var w2=1
--var b=6.8813735870195432 [--step] [--dot graph.dot] [--html trace.html]`` prints the
backward pass as a table (``--step``: one step per Enter), the leaves' gradients, and
writes the graph as DOT (``.svg``/``.png``: rendered by Graphviz's ``dot``) and/or the
clickable step-through page (``--html``: one self-contained file, ``Trace.save_html``).
The expression language is ``microinit.viz.expression``.

    >>> import argparse, io
    >>> parser = argparse.ArgumentParser(); add_arguments(parser)
    >>> out = io.StringIO()
    >>> run(parser.parse_args(["x * y", "--var", "x=3", "--var", "y=4"]), out=out)
    0
    >>> out.getvalue().splitlines()[-1]
    'gradients: d out/d x = 4, d out/d y = 3'
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, TextIO

from microinit._atomic import atomic_write
from microinit.viz.dot import render_with_graphviz, to_dot
from microinit.viz.expression import ExpressionError, parse_expression
from microinit.viz.graph import fmt
from microinit.viz.steps import trace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", help='e.g. "tanh(x1*w1 + x2*w2 + b)"')
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="a variable's value (repeat for each variable)")
    parser.add_argument("--dot", metavar="FILE",
                        help="write the graph as Graphviz DOT text (.svg/.png: render with dot)")
    parser.add_argument("--step", action="store_true",
                        help="show one step at a time; press Enter for the next")
    parser.add_argument("--html", metavar="FILE",
                        help="write the step-through page: one self-contained HTML file to click through")


def _parse_vars(pairs: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ExpressionError(f"--var {pair!r}: expected NAME=VALUE, e.g. --var x=2.0")
        try:
            out[name] = float(text)
        except ValueError:
            raise ExpressionError(f"--var {pair!r}: {text!r} is not a number") from None
    return out


def run(args: argparse.Namespace, out: TextIO | None = None, wait: Callable[[str], object] = input) -> int:
    out = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out)

    try:
        variables = _parse_vars(args.var)
        y, leaves = parse_expression(args.expression, variables)
    except ExpressionError as err:
        print(f"microinit trace: {err}", file=sys.stderr)
        return 2
    y.backward()
    try:
        steps = trace(y)
    except ValueError as err:   # a graph too large to step through
        print(f"microinit trace: {err}", file=sys.stderr)
        return 2
    given = ", ".join(f"{k}={fmt(v)}" for k, v in variables.items())
    say(f"forward:  {args.expression} = {fmt(y.data)}" + (f"   with {given}" if given else ""))
    say(f"backward: {len(steps)} steps, from the output back to the inputs "
        "(upstream = d out/d node; each input gets local d * upstream)")
    say()
    if args.step:
        steps.step_through(wait=wait, out=say)
    else:
        say(steps.table())
    if leaves:
        say()
        say("gradients: " + ", ".join(f"d out/d {k} = {fmt(v.grad)}" for k, v in leaves.items()))
    if args.dot:
        try:
            if args.dot.endswith((".svg", ".png")):
                render_with_graphviz(y, args.dot[-3:], args.dot)
            else:
                atomic_write(args.dot, to_dot(y))
        except (OSError, RuntimeError) as err:
            print(f"microinit trace: cannot write {args.dot}: {err}", file=sys.stderr)
            return 1
        say(f"graph written to {args.dot}")
    if args.html:
        try:
            steps.save_html(args.html, title=f"microinit trace: {args.expression}")
        except OSError as err:
            print(f"microinit trace: cannot write {args.html}: {err}", file=sys.stderr)
            return 1
        say(f"step-through page written to {args.html}")
    return 0

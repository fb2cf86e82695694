"""The expression language of ``microinit trace``: text in, a scalar graph out.

    >>> y, leaves = parse_expression("tanh(x*w + 1)", {"x": 2.0, "w": 0.25})
    >>> round(y.data, 6), sorted(leaves), y.label
    (0.905148, ['w', 'x'], 'tanh(x*w + 1)')

Expressions are parsed with Python's ``ast`` module and only a whitelist of node types
is accepted (numbers, names, + - * / **, unary minus, and the functions in
``FUNCTIONS``); nothing is ever evaluated as Python. A bad expression raises
``ExpressionError`` (a ValueError) whose message points at the column.
"""
from __future__ import annotations

import ast
from typing import Mapping, Union

from microinit.scalar import Value
from microinit.scalar.tape import ieee_div, ieee_pow

# name -> (fewest, most) arguments
FUNCTIONS: dict[str, tuple[int, int]] = {
    "tanh": (1, 1), "relu": (1, 1), "sigmoid": (1, 1), "exp": (1, 1), "log": (1, 1),
    "sqrt": (1, 1), "abs": (1, 1), "leaky_relu": (1, 2),
}


#: what a subexpression evaluates to: a node of the graph, or a plain number
Operand = Union[Value, float]


class ExpressionError(ValueError):
    """A bad expression; the message shows where."""


def _where(source: str, node: ast.AST, message: str) -> ExpressionError:
    col = getattr(node, "col_offset", 0)
    return ExpressionError(f"{message} (column {col + 1})\n  {source}\n  {' ' * col}^")


def parse_expression(source: str, variables: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    """Build the graph of ``source`` over ``variables`` (name -> number).

    Grammar: numbers, variable names, ``+ - * / **``, unary ``-``/``+``, parentheses
    and ``tanh relu sigmoid exp log sqrt abs leaky_relu(x[, slope])``. Every
    variable becomes a leaf Value labelled with its name, every other node is
    labelled with the text it came from. Returns the output Value and the leaves.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("empty expression")
    source = source.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        col = (err.offset or 1) - 1
        raise ExpressionError(f"invalid syntax: {err.msg} (column {col + 1})\n  {source}\n"
                              f"  {' ' * col}^") from None
    leaves: dict[str, Value] = {}

    def leaf(name: str) -> Value:
        if name not in leaves:
            leaves[name] = Value(float(variables[name]), label=name)
        return leaves[name]

    def labelled(v: Operand, node: ast.AST) -> Operand:
        if isinstance(v, Value) and not v.label:
            v.label = ast.get_source_segment(source, node) or ""
        return v

    def ev(node: ast.AST) -> Operand:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise _where(source, node, f"only numbers are allowed, not {node.value!r}")
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise _where(source, node, f"{node.id} is a function: write {node.id}(...)")
            if node.id not in variables:
                known = ", ".join(sorted(variables)) or "none"
                raise _where(source, node, f"unknown variable {node.id!r} (defined: {known}; "
                                           f"add --var {node.id}=VALUE)")
            return leaf(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return labelled(-v, node) if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
            kind = ops.get(type(node.op))
            if kind is None:
                raise _where(source, node, f"operator {type(node.op).__name__} is not allowed "
                                           "(use + - * / **)")
            a, b = ev(node.left), ev(node.right)
            if kind == "**":
                if isinstance(b, Value):
                    raise _where(source, node.right, "the exponent of ** must be a number")
                if not isinstance(a, Value):
                    return ieee_pow(a, b)
                return labelled(a ** b, node)
            if not isinstance(a, Value) and not isinstance(b, Value):
                return _number_op(kind, a, b)
            result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                      "/": lambda: a / b}[kind]()
            return labelled(result, node)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = getattr(node.func, "id", type(node.func).__name__)
                raise _where(source, node, f"unknown function {name!r} (allowed: "
                                           f"{', '.join(sorted(FUNCTIONS))})")
            if node.keywords:
                raise _where(source, node, "keyword arguments are not allowed")
            lo, hi = FUNCTIONS[node.func.id]
            if not lo <= len(node.args) <= hi:
                count = lo if lo == hi else f"{lo} or {hi}"
                raise _where(source, node, f"{node.func.id} takes {count} argument(s), "
                                           f"got {len(node.args)}")
            args = [ev(a) for a in node.args]
            x = args[0]
            if not isinstance(x, Value):
                x = Value(x, label=ast.get_source_segment(source, node.args[0]) or "")
            if node.func.id == "leaky_relu" and len(args) == 2:
                if isinstance(args[1], Value):
                    raise _where(source, node.args[1], "the slope of leaky_relu must be a number")
                return labelled(x.leaky_relu(args[1]), node)
            return labelled(getattr(x, node.func.id)(), node)
        raise _where(source, node, f"{type(node).__name__} is not allowed in an expression")

    out = ev(tree.body)
    if not isinstance(out, Value):
        out = Value(out, label=source)
    return out, leaves


def _number_op(kind: str, a: float, b: float) -> float:
    # numbers combined with numbers stay numbers (IEEE, as in the engine)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    return ieee_div(a, b)


"""The expression language of `microinit trace` (was tests/test_trace.py)."""
import math

import pytest

from microinit.viz import expression as tr


def test_parse_expression_builds_the_graph():
    y, leaves = tr.parse_expression("tanh(x1*w1 + x2*w2 + b)",
                                    dict(x1=2, x2=0, w1=-3, w2=1, b=6.8813735870195432))
    assert y.data == pytest.approx(math.tanh(2 * -3 + 6.8813735870195432), rel=1e-15)
    assert set(leaves) == {"x1", "x2", "w1", "w2", "b"}
    assert y.label == "tanh(x1*w1 + x2*w2 + b)"
    y2, _ = tr.parse_expression("-x ** 2 / 4 + leaky_relu(x - 3, 0.2) + sqrt(abs(x)) "
                                "+ exp(log(x)) + sigmoid(x) + relu(-x) + 2 ** 3", {"x": 2.0})
    expected = (-(2.0 ** 2) / 4 + 0.2 * (2.0 - 3) + math.sqrt(2.0) + 2.0
                + 1 / (1 + math.exp(-2.0)) + 0.0 + 8.0)
    assert y2.data == pytest.approx(expected, rel=1e-14)
    y3, leaves3 = tr.parse_expression("3 * 4", {})
    assert y3.data == 12.0 and leaves3 == {}


@pytest.mark.parametrize("expr,message", [
    ("x +", "invalid syntax"),
    ("x + (3", "never closed"),
    ("x.data", "Attribute is not allowed"),
    ("__import__('os').system('true')", "unknown function"),
    ("open('f')", "unknown function"),
    ("x if x else 1", "IfExp is not allowed"),
    ("x ** y", "exponent of \\*\\* must be a number"),
    ("z * 2", "unknown variable 'z'"),
    ("'a' * x", "only numbers"),
    ("True + x", "only numbers"),
    ("x // 2", "FloorDiv is not allowed"),
    ("tanh(x, 2)", "takes 1 argument"),
    ("tanh(x=1)", "keyword arguments"),
    ("tanh + x", "is a function"),
    ("leaky_relu(x, y)", "slope of leaky_relu must be a number"),
    ("[x]", "List is not allowed"),
    ("", "empty expression"),
])
def test_parse_errors_name_the_position(expr, message):
    with pytest.raises(tr.ExpressionError, match=message):
        tr.parse_expression(expr, {"x": 1.0, "y": 2.0})


def test_error_message_points_at_the_column():
    with pytest.raises(tr.ExpressionError) as err:
        tr.parse_expression("x + foo(x)", {"x": 1.0})
    text = str(err.value)
    assert "(column 5)" in text and text.splitlines()[-1] == "      ^"

"""The compiled tape against its readable twins: the pure-Python replay of the same
tape, and the pure-Python engine (microinit.scalar.engine) on the same expressions."""
import math

import numpy as np
import pytest

from microinit import Value
from microinit.scalar import engine
from microinit.scalar import tape as ptape
from microinit.scalar._value import OPS as COMPILED_OPS


def test_op_tables_agree():
    assert ptape.OPS == COMPILED_OPS
    assert set(ptape.FORMULA) == set(ptape.OPS)


def build(V, xs, program):
    """Run a program (list of (op, i, j, const)) on Values of class V."""
    nodes = [V(x) for x in xs]
    for op, i, j, c in program:
        a, b = nodes[i], nodes[j]
        nodes.append({
            "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "div": lambda: a / (b * b + 1.0), "neg": lambda: -a, "addc": lambda: a + c,
            "raddc": lambda: c + a, "mulc": lambda: a * c, "rsubc": lambda: c - a,
            "rdivc": lambda: c / (a * a + 0.5), "divc": lambda: a / c,
            "pow": lambda: (a * a + 0.1) ** c, "relu": lambda: a.relu(),
            "tanh": lambda: a.tanh(), "sigmoid": lambda: a.sigmoid(),
            "exp": lambda: (a * 0.1).exp(), "log": lambda: (a * a + 0.1).log(),
            "sqrt": lambda: (a * a + 0.1).sqrt(), "abs": lambda: a.abs(),
            "leaky_relu": lambda: a.leaky_relu(c * 0.1),
        }[op]())
    return nodes


OP_CHOICES = ["add", "sub", "mul", "div", "neg", "addc", "raddc", "mulc", "rsubc", "rdivc",
              "divc", "pow", "relu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs",
              "leaky_relu"]


def random_program(rng, n_inputs, n_ops):
    prog = []
    for k in range(n_ops):
        n = n_inputs + k
        op = OP_CHOICES[int(rng.integers(len(OP_CHOICES)))]
        prog.append((op, int(rng.integers(n)), int(rng.integers(n)),
                     float(rng.choice([-2.0, -1.0, 0.5, 1.5, 2.0, 3.0]))))
    return prog


@pytest.mark.parametrize("seed", range(12))
def test_compiled_engine_equals_python_engine(seed):
    rng = np.random.default_rng(seed)
    xs = [float(v) for v in rng.uniform(-1.5, 1.5, 5)]
    prog = random_program(rng, 5, 60)
    fast, slow = build(Value, xs, prog), build(engine.Value, xs, prog)
    for f, s in zip(fast, slow):
        assert f.data == pytest.approx(s.data, rel=1e-12, abs=1e-300)
        assert f._op == s._op
    fast[-1].backward()
    slow[-1].backward()
    for f, s in zip(fast, slow):
        assert f.grad == pytest.approx(s.grad, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_python_replay_of_the_compiled_tape(seed):
    rng = np.random.default_rng(100 + seed)
    xs = [float(v) for v in rng.uniform(-1.5, 1.5, 4)]
    nodes = build(Value, xs, random_program(rng, 4, 80))
    tape = nodes[-1].tape()
    compiled = tape.backward()
    replayed = ptape.replay(tape)
    np.testing.assert_allclose(replayed, compiled, rtol=1e-12, atol=1e-12)
    # the local derivatives the compiled loop uses, against the Python formulas
    ops = [ptape.OP_NAMES[c] for c in tape.ops.tolist()]
    vals, ins, params = tape.values, tape.inputs, tape.params
    local = tape.local_derivatives()
    for i, op in enumerate(ops):
        if op == "leaf":
            continue
        a, b = ins[i]
        d = ptape.local_derivatives(op, vals[a], vals[b] if b >= 0 else 0.0, vals[i], params[i])
        np.testing.assert_allclose(local[i], d, rtol=1e-13, atol=1e-15)


def test_tape_structure_of_a_neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2, b = Value(-3.0, label="w1"), Value(1.0, label="w2"), Value(6.8813735870195432, label="b")
    out = (x1 * w1 + x2 * w2 + b).tanh()
    tape = out.tape()
    assert len(tape) == 10
    names = [ptape.OP_NAMES[c] for c in tape.ops.tolist()]
    assert names.count("leaf") == 5 and names[-1] == "tanh"
    assert tape.nodes[-1] is out
    # every input comes before the node that uses it
    for i, (a, b_) in enumerate(tape.inputs.tolist()):
        assert a < i and b_ < i
    grads = dict(zip(map(id, tape.nodes), tape.backward()))
    assert grads[id(w1)] == pytest.approx(2.0 * (1 - out.data ** 2), rel=1e-12)
    # backward() on the tape does not touch .grad; accumulate() adds them
    assert w1.grad == 0.0
    tape.accumulate()
    assert w1.grad == pytest.approx(grads[id(w1)], rel=0)
    with pytest.raises(ValueError, match="expected 10 gradients"):
        tape.set_grads([0.0])


def test_python_record_matches_compiled_tape():
    def f(V):
        a, b = V(1.5), V(-0.5)
        return ((a * b).tanh() + a / b - 3.0 / a) ** 2

    t_fast, t_slow = f(Value).tape(), ptape.record(f(engine.Value))
    assert t_fast.ops.tolist() == t_slow.ops
    assert [tuple(r) for r in t_fast.inputs.tolist()] == t_slow.inputs
    np.testing.assert_allclose(t_fast.values, t_slow.values, rtol=1e-15)
    np.testing.assert_allclose(ptape.replay(t_slow), t_fast.backward(), rtol=1e-12)


def test_ieee_helpers():
    assert ptape.ieee_div(1.0, 0.0) == math.inf and ptape.ieee_div(-1.0, 0.0) == -math.inf
    assert ptape.ieee_div(1.0, -0.0) == -math.inf and math.isnan(ptape.ieee_div(0.0, 0.0))
    assert ptape.ieee_pow(0.0, -1.0) == math.inf and math.isnan(ptape.ieee_pow(-8.0, 0.5))
    assert ptape.ieee_pow(10.0, 400.0) == math.inf
    assert ptape.ieee_exp(1e4) == math.inf and ptape.ieee_log(0.0) == -math.inf
    assert math.isnan(ptape.ieee_log(-1.0)) and math.isnan(ptape.ieee_sqrt(-1.0))
    with pytest.raises(ValueError, match="unknown op"):
        ptape.local_derivatives("cube", 1.0, 0.0, 1.0, 0.0)

"""The scalar Value engine: API, gradients (finite differences), accumulation,
conventions at non-differentiable points, deep graphs, cycles, tape lifetime.

Every test runs on the compiled Value (the one microinit exports) and, where the
API is shared, on the readable pure-Python engine as well."""
import gc
import math
import sys
import weakref

import numpy as np
import pytest

from microinit import Value
from microinit.scalar import engine, release_memory, tape_stats, zero_grad

ENGINES = pytest.mark.parametrize("V", [Value, engine.Value], ids=["compiled", "python"])

# name -> (function of two Values, domain sampler)
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "mix": lambda a, b: (a * b + a / b - b).tanh() * a,
}
UNARY = {
    "neg": (lambda a: -a, (-3, 3)),
    "addc": (lambda a: a + 1.5, (-3, 3)),
    "raddc": (lambda a: 1.5 + a, (-3, 3)),
    "subc": (lambda a: a - 2.5, (-3, 3)),
    "rsubc": (lambda a: 2.5 - a, (-3, 3)),
    "mulc": (lambda a: a * -1.7, (-3, 3)),
    "rmulc": (lambda a: -1.7 * a, (-3, 3)),
    "divc": (lambda a: a / 3.0, (-3, 3)),
    "rdivc": (lambda a: 3.0 / a, (0.5, 3)),
    "pow2": (lambda a: a ** 2, (-3, 3)),
    "pow3": (lambda a: a ** 3, (-3, 3)),
    "pow-1": (lambda a: a ** -1, (0.5, 3)),
    "pow0.5": (lambda a: a ** 0.5, (0.5, 3)),
    "relu": (lambda a: a.relu(), (0.1, 3)),
    "relu_neg": (lambda a: a.relu(), (-3, -0.1)),
    "leaky_relu": (lambda a: a.leaky_relu(), (-3, -0.1)),
    "leaky_relu_slope": (lambda a: a.leaky_relu(0.2), (-3, 3)),
    "tanh": (lambda a: a.tanh(), (-3, 3)),
    "sigmoid": (lambda a: a.sigmoid(), (-5, 5)),
    "exp": (lambda a: a.exp(), (-3, 3)),
    "log": (lambda a: a.log(), (0.2, 5)),
    "sqrt": (lambda a: a.sqrt(), (0.2, 5)),
    "abs": (lambda a: a.abs(), (0.1, 3)),
    "abs_neg": (lambda a: abs(a), (-3, -0.1)),
}


def numeric_grad(f, xs, h=1e-6):
    """Central differences of f(list of floats) -> float."""
    out = []
    for i in range(len(xs)):
        up, dn = list(xs), list(xs)
        up[i] += h
        dn[i] -= h
        out.append((f(up) - f(dn)) / (2 * h))
    return out


@ENGINES
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(V, name, rng):
    fn, (lo, hi) = UNARY[name]
    for x in rng.uniform(lo, hi, 5):
        a = V(float(x))
        y = fn(a)
        y.backward()
        num = numeric_grad(lambda v: fn(V(v[0])).data, [float(x)])[0]
        assert a.grad == pytest.approx(num, rel=1e-6, abs=1e-8), (name, x)


@ENGINES
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(V, name, rng):
    fn = BINARY[name]
    for x, y in rng.uniform(0.5, 3, (5, 2)) * rng.choice([-1, 1], (5, 2)):
        a, b = V(float(x)), V(float(y))
        fn(a, b).backward()
        num = numeric_grad(lambda v: fn(V(v[0]), V(v[1])).data, [float(x), float(y)])
        assert [a.grad, b.grad] == pytest.approx(num, rel=1e-6, abs=1e-8), (name, x, y)


@ENGINES
def test_forward_values_match_python_math(V):
    x = 0.7
    assert (V(x).tanh()).data == math.tanh(x)
    assert (V(x).exp()).data == math.exp(x)
    assert (V(x).log()).data == math.log(x)
    assert (V(x).sqrt()).data == math.sqrt(x)
    assert (V(x).sigmoid()).data == pytest.approx(1 / (1 + math.exp(-x)), rel=1e-15)
    assert (V(x) ** 3).data == x ** 3
    assert (V(6.0) / V(3.0)).data == 6.0 * 3.0 ** -1     # micrograd's a * b**-1
    assert (V(-2.0).leaky_relu(0.1)).data == pytest.approx(-0.2, rel=1e-15)
    assert (V(-2.0).relu()).data == 0.0


# --- accumulation (docs/reliability.md rows 24, 20, 30)---------------------------------

@ENGINES
def test_accumulation_exact(V):
    """docs/reliability.md row 24: a Value used many times accumulates exactly."""
    a = V(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    x = V(5.0)
    (x * x).backward()
    assert x.grad == 10.0
    a = V(1.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0 and c.grad == 1.0


@ENGINES
def test_node_used_10000_times(V):
    """docs/reliability.md row 24: 10^4 uses of one node give grad 10^4."""
    a = V(2.0)
    total = a
    for _ in range(9999):
        total = total + a
    total.backward()
    assert a.grad == 10000.0
    assert total.data == 20000.0


@ENGINES
def test_backward_twice_accumulates_exactly_not_stale(V):
    """docs/reliability.md row 20: backward() twice adds the same gradients again."""
    # micrograd gives 6 then 18 here (the intermediate 2x keeps its old grad)
    x = V(1.5)
    y = (2 * x) * 3
    y.backward()
    assert x.grad == 6.0
    y.backward()
    assert x.grad == 12.0
    x2 = V(1.5)
    b = x2 * 2
    y2 = b * 3
    y2.backward()
    y2.backward()
    assert x2.grad == 12.0 and b.grad == 6.0 and y2.grad == 2.0


@ENGINES
def test_zero_grad_helpers(V):
    a, b = V(2.0), V(3.0)
    y = (a * b).tanh() + a
    y.backward()
    assert a.grad != 0 and b.grad != 0
    y.zero_grad()
    assert a.grad == 0.0 and b.grad == 0.0 and y.grad == 0.0
    y.backward()
    first = (a.grad, b.grad)
    if V is Value:
        zero_grad([a, b])
        assert (a.grad, b.grad) == (0.0, 0.0)
        y.zero_grad()
        y.backward()
        assert (a.grad, b.grad) == first
        with pytest.raises(TypeError, match="zero_grad: expected Values"):
            zero_grad([a, 1.0])


def test_leaf_backward_and_root_grad():
    a = Value(4.0)
    a.backward()
    assert a.grad == 1.0
    a.backward()
    assert a.grad == 2.0


# --- conventions at non-differentiable points, IEEE forward (row 18) ---------------

@ENGINES
def test_conventions_at_singular_points(V):
    """docs/reliability.md row 18: IEEE forward, pinned backward conventions."""
    def grad_of(fn, x):
        a = V(x)
        y = fn(a)
        y.backward()
        return y.data, a.grad

    assert grad_of(lambda a: a.relu(), 0.0) == (0.0, 0.0)              # relu'(0) = 0
    assert grad_of(lambda a: a.leaky_relu(0.1), 0.0) == (0.0, 0.1)     # slope at 0
    assert grad_of(lambda a: a.abs(), 0.0) == (0.0, 0.0)               # abs'(0) = 0
    assert grad_of(lambda a: a.sqrt(), 0.0) == (0.0, math.inf)         # 0.5/0 = inf
    assert grad_of(lambda a: a.log(), 0.0) == (-math.inf, math.inf)    # log(0) = -inf
    assert grad_of(lambda a: a ** 0, 0.0) == (1.0, 0.0)                # no 0 * inf
    y, g = grad_of(lambda a: a.log(), -1.0)
    assert math.isnan(y) and g == -1.0                                  # log(-1) = nan
    y, g = grad_of(lambda a: a.sqrt(), -1.0)
    assert math.isnan(y) and math.isnan(g)
    y, g = grad_of(lambda a: 1 / a, 0.0)                                # IEEE 1/0
    assert y == math.inf and g == -math.inf
    y, g = grad_of(lambda a: a / 0.0, 2.0)
    assert y == math.inf and g == math.inf
    assert grad_of(lambda a: a.exp(), 1000.0)[0] == math.inf           # overflow, no raise
    for fn in (lambda a: a.relu(), lambda a: a.leaky_relu(), lambda a: a.tanh()):
        assert math.isnan(grad_of(fn, math.nan)[0])                     # NaN propagates
    num = V(1.0)
    den = V(0.0)
    q = num / den
    q.backward()
    assert q.data == math.inf and num.grad == math.inf and den.grad == -math.inf


# --- deep and wide graphs, freeing (rows 25, 26) -------------------------------------

@ENGINES
def test_chain_of_100000_nodes(V):
    """docs/reliability.md row 25: a 10^5-node chain, no RecursionError either way."""
    x = V(1.0)
    y = x
    for i in range(100_000):
        y = y * 1.0 if i % 2 else y + 0.0
    assert len(y.tape() if V is Value else ktape_like(y)) == 100_001
    y.backward()
    assert x.grad == 1.0
    del y        # freeing must not recurse either (would crash the interpreter)
    gc.collect()


def ktape_like(y):
    from microinit.scalar.tape import record

    return record(y)


def test_freeing_a_million_node_chain_does_not_recurse():
    """docs/reliability.md row 25: freeing a deep graph does not recurse."""
    old = sys.getrecursionlimit()
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    try:
        sys.setrecursionlimit(1000)
        del y
    finally:
        sys.setrecursionlimit(old)
    assert tape_stats()["live"] == 0


def test_wide_graph_memory_is_linear():
    """docs/reliability.md row 26: 10^6 nodes in O(nodes) memory (tracemalloc)."""
    import tracemalloc

    def peak(n_leaves):
        release_memory()              # count the tape's arrays too
        tracemalloc.start()
        xs = [Value(float(i)) for i in range(n_leaves)]
        s = xs[0]
        for v in xs[1:]:
            s = s + v * 2.0                 # 3 nodes per leaf
        s.backward()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert xs[-1].grad == 2.0 and xs[0].grad == 1.0
        return top

    small, big = peak(83_334), peak(333_334)      # 250,000 and 1,000,000 nodes
    assert big / small < 4 * 1.25           # O(nodes): 4x the nodes, ~4x the memory
    assert big / 1_000_000 < 300            # bytes per node: Value, tape entry, list


# --- cycles (row 27) ---------------------------------------------------------------------

@ENGINES
def test_cycle_from_rewired_prev_raises(V):
    """docs/reliability.md row 27: a cycle made through _prev raises, no hang."""
    a = V(1.0)
    b = a * 2.0
    c = b + 1.0
    b._prev = {c}                 # b <- c <- b
    with pytest.raises(RuntimeError, match="graph has a cycle"):
        c.backward()


def test_prev_rewiring_checks_arity_and_type():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    with pytest.raises(ValueError, match="takes 2 input"):
        c._prev = {a}
    with pytest.raises(TypeError, match="must be Values"):
        c._prev = [a, 3.0]


# --- API and introspection ---------------------------------------------------------------

def test_micrograd_style_introspection():
    a = Value(2.0, label="a")
    b = Value(-3.0)
    c = a * b
    assert c._op == "*" and c._prev == {a, b} and c.op_name == "mul"
    assert (a + 1)._op == "+" and (a + 1).constant == 1.0
    assert (a ** 2)._op == "**2" and (a ** 0.5)._op == "**0.5"
    assert a.relu()._op == "ReLU" and a.tanh()._op == "tanh"
    assert a._prev == set() and a._op == "" and a.label == "a"
    assert repr(b) == "Value(data=-3.0, grad=0.0)"
    assert "label='a'" in repr(a)
    c.label = "c"
    assert c.label == "c"
    # the micrograd video's manual backward: set grad, call _backward node by node
    c.grad = 1.0
    c._backward()
    assert (a.grad, b.grad) == (-3.0, 2.0)


@ENGINES
def test_bad_operands(V):
    a = V(1.0)
    with pytest.raises(TypeError):
        V("1.0")
    with pytest.raises(TypeError):
        V(None)
    with pytest.raises(TypeError):
        a + "x"
    with pytest.raises(TypeError):
        "x" * a
    with pytest.raises(TypeError, match="exponent must be an int or float"):
        a ** V(2.0)
    with pytest.raises(TypeError):
        a + [1.0]


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="made by operations"):
        Value(1.0, (Value(2.0),), "+")
    with pytest.raises(TypeError, match="real number"):
        Value(Value(1.0))
    with pytest.raises(TypeError, match=r"\*\* Value is not supported"):
        2 ** Value(1.0)


def test_numpy_scalars_and_ints_work_on_both_sides():
    a = Value(2.0)
    for c in (np.float64(1.5), np.float32(1.5), np.int64(3), 3, True):
        assert (c * a).data == float(c) * 2.0
        assert isinstance(c * a, Value) and isinstance(a * c, Value)
        assert (c + a).data == float(c) + 2.0
        assert (c - a).data == float(c) - 2.0
    assert Value(np.float32(0.5)).data == 0.5
    assert Value(7).data == 7.0


# --- recording tapes: lifetime, reuse, graphs spanning tapes --------------------------

def test_graph_used_again_after_backward_spans_tapes():
    x = Value(3.0)
    y = x * x               # recorded on tape A
    y.backward()            # seals tape A
    assert x.grad == 6.0
    z = (y + x) * 2.0       # recorded on tape B, y is a foreign input
    x.grad = 0.0
    y.grad = 0.0
    z.backward()
    assert x.grad == 2.0 * (2 * 3.0 + 1)
    assert y.grad == 2.0
    w = z * y               # a third tape; both z (tape B) and y (tape A) foreign
    x.grad = 0.0
    w.backward()
    # w = 2 (x^2 + x) x^2 ; dw/dx = 2 (2x + 1) x^2 + 2 (x^2 + x) 2x
    assert x.grad == pytest.approx(2 * 7 * 9 + 2 * 12 * 6, rel=1e-15)


def test_recorded_backward_matches_snapshot_backward(rng):
    for _ in range(20):
        xs = [Value(float(v)) for v in rng.uniform(-2, 2, 4)]
        y = _random_expression(xs, rng, 30)
        snap = y.tape()
        expected = dict(zip(map(id, snap.nodes), snap.backward()))
        y.backward()
        for node in snap.nodes:
            assert node.grad == pytest.approx(expected[id(node)], rel=1e-12, abs=1e-300)


def _random_expression(xs, rng, n_ops):
    nodes = list(xs)
    for _ in range(n_ops):
        a, b = (nodes[int(i)] for i in rng.integers(0, len(nodes), 2))
        op = int(rng.integers(0, 8))
        nodes.append([a + b, a * b, a - b, (a * 0.5).tanh(), a.sigmoid() * b,
                      a * 1.3 + 0.2, (a * a + 1.0).sqrt(), a.relu() + b.leaky_relu()][op])
    return nodes[-1]


def test_training_loop_keeps_tape_memory_bounded():
    xs = [Value(float(v)) for v in np.linspace(-1, 1, 50)]
    w = Value(0.3)
    sizes = []
    for _ in range(30):
        loss = sum(((w * x).tanh() - x) ** 2 for x in xs)
        w.grad = 0.0
        loss.backward()
        w.data -= 0.1 * w.grad
        sizes.append(tape_stats()["entries"])
    # one step's graph at a time: the tape never grows with the number of steps
    assert max(sizes) == sizes[0] and max(sizes) < 400


def test_mostly_dead_tape_is_left_to_its_survivors():
    """A tape whose entries are mostly dead is left to the few nodes still alive
    (the current thread records on a fresh one), and backward through those
    survivors still gives their exact gradients. (This test used to check only
    gradients that were 0 whatever backward did: tanh saturated at w * 4000.)"""
    keep = []
    w = Value(0.5)
    for i in range(5000):
        y = (w * (i * 1e-3)).tanh() + 1.0   # garbage, except every 1000th result
        if i % 1000 == 0:
            keep.append(y)
    stats = tape_stats()
    assert stats["entries"] <= 4096         # not 15,000: dead entries were left behind
    keep[1].backward()                      # y = tanh(w * 1.0) + 1
    first = 1.0 * (1 - math.tanh(0.5 * 1.0) ** 2)
    assert first > 0.7 and w.grad == pytest.approx(first, rel=1e-12)
    keep[-1].backward()                     # y = tanh(w * 4.0) + 1, added
    assert w.grad == pytest.approx(first + 4.0 * (1 - math.tanh(0.5 * 4.0) ** 2), rel=1e-12)
    keep[0].backward()                      # y = tanh(w * 0) + 1: d/dw = 0
    assert w.grad == pytest.approx(first + 4.0 * (1 - math.tanh(2.0) ** 2), rel=1e-12)


def test_many_inputs_from_an_older_tape():
    xs = [Value(float(i)) for i in range(1500)]
    ys = [x * 2.0 for x in xs]          # recorded on one tape ...
    ys[0].backward()                    # ... which backward() seals
    total = ys[0]
    for y in ys[1:]:
        total = total + y               # a new tape with 1,499 foreign inputs
    total.backward()
    assert xs[0].grad == 4.0 and all(x.grad == 2.0 for x in xs[1:])
    assert total.data == 2.0 * sum(range(1500))


def test_values_are_not_picklable():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Value(1.0))


def test_graphs_built_in_several_threads_at_once():
    import threading

    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(200):
            a, b = Value(float(rng.uniform(0.5, 2))), Value(float(rng.uniform(0.5, 2)))
            y = (a * b + a / b).tanh() * a
            y.backward()
            t = y.tape()
            expected = dict(zip(map(id, t.nodes), t.backward()))
            if a.grad != pytest.approx(expected[id(a)], rel=1e-12):
                errors.append((a.grad, expected[id(a)]))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --- rewired cycles are freed, threads are independent (rows 58, 59) ---------------------

def _make_rewired_cycle():
    a = Value(1.0)
    b = a * 2.0
    c = b + 1.0
    b._prev = {c}                 # b <- c <- b: a reference cycle between two nodes
    with pytest.raises(RuntimeError, match="graph has a cycle"):
        c.backward()
    return a, weakref.ref(b), weakref.ref(c)


def test_rewired_cycle_is_refused_and_freed():
    """docs/reliability.md row 58: backward on a graph made cyclic by rewiring
    `_prev` raises RuntimeError, and the nodes of the cycle are freed (no leak)."""
    a, b, c = _make_rewired_cycle()
    assert b() is not None and c() is not None    # kept alive by their cycle ...
    gc.collect()
    assert b() is None and c() is None            # ... until the collector frees it
    assert a.grad == 0.0
    # a cycle still referred to from outside is kept, and freed once it is not
    x = Value(1.0)
    b = x * 2.0
    c = b + 1.0
    b._prev = {c}
    d = c * 3.0                   # holds the cycle from outside
    refs = [weakref.ref(b), weakref.ref(c)]
    del b, c
    gc.collect()
    assert all(r() is not None for r in refs) and d.data == 9.0
    del d
    gc.collect()
    assert all(r() is None for r in refs)
    # a cycle undone by rewiring again is plain reference counting again
    x = Value(1.0)
    b = x * 2.0
    c = b + 1.0
    b._prev = {c}
    b._prev = {x}
    c.backward()
    assert x.grad == 2.0
    refs = [weakref.ref(b), weakref.ref(c)]
    del b, c
    assert all(r() is None for r in refs)
    # an acyclic rewiring stays with reference counting alone
    x = Value(2.0)
    y = x * 3.0
    z = x + 1.0
    y._prev = {z}
    y.backward()
    assert x.grad == 3.0
    ref = weakref.ref(y)
    del y
    assert ref() is None


def _train_value_model(seed, steps=6):
    """A small MLP trained with SGD on fixed data; every loss and final weight."""
    from microinit.scalar.nn import MLP

    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (24, 2)).tolist()
    y = [1.0 if a * b > 0 else -1.0 for a, b in X]
    # hidden nodes with 16 users each: when a graph was split across tapes by
    # another thread's backward(), their gradients were summed in another order
    model = MLP(2, [16, 16, 1], rng=seed)
    losses = []
    for _ in range(steps):
        scores = [model(row) for row in X]
        loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(X))
        loss = loss + 1e-3 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.3 * p.grad
        losses.append(loss.data)
    return losses, [p.data for p in model.parameters()]


def test_threads_training_their_own_models_are_bitwise_sequential():
    """docs/reliability.md row 59: several threads, each training its own Value
    model at the same time, get results bitwise equal to training them one after
    another (each thread records on its own tape)."""
    import threading

    seeds = list(range(4))
    sequential = [_train_value_model(s) for s in seeds]
    results = [None] * len(seeds)

    def work(k):
        results[k] = _train_value_model(seeds[k])

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)           # switch threads as often as possible
    try:
        for _ in range(3):                # (the engine before row 59 was fixed failed
            threads = [threading.Thread(target=work, args=(k,))   # 9 runs in 10)
                       for k in range(len(seeds))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results == sequential  # exact: == on floats, no tolerance
    finally:
        sys.setswitchinterval(old)


def test_graph_from_a_finished_thread_is_still_usable():
    """Each thread records on its own tape, owned by the thread's state: a graph
    built in a thread that has ended lives on with its nodes and differentiates."""
    import threading

    box = {}

    def work():
        x = Value(2.0)
        box["x"], box["y"] = x, x * x + 1.0

    for _ in range(20):
        t = threading.Thread(target=work)
        t.start()
        t.join()
        x, y = box.pop("x"), box.pop("y")
        z = (y * 0.1).tanh() + y          # recorded here, with y from the dead thread's tape
        z.backward()
        assert x.grad == pytest.approx((0.1 * (1 - math.tanh(0.5) ** 2) + 1) * 4.0, rel=1e-12)

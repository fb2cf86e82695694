# cython: language_level=3
"""``Tape``: a self-contained snapshot of the graph below one node.

``Value.tape()`` lists the graph below a node (leaves included) in topological
order, found by an iterative depth-first search that reports cycles. The snapshot
is a Wengert list like the recording tape (``_wengert.Arrays``) whose entries point
at its own copies of the values, and its ``backward`` is the same compiled loop,
``_wengert.chain_rule``. Its arrays are what ``microinit.scalar.tape.replay``
replays in plain Python and what ``microinit.trace`` prints. ``Value.backward``
uses it after ``_prev`` has been rewired, when creation order may no longer be a
topological order (and a cycle is possible).
"""
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from cpython.mem cimport PyMem_RawMalloc as malloc, PyMem_RawRealloc as realloc, PyMem_RawFree as free
from libc.string cimport memset

import numpy as np

from microinit.scalar._ops cimport OP_LEAF, local_derivatives
from microinit.scalar._wengert cimport chain_rule, free_arrays, grow_arrays, regrow

cdef unsigned long long _epoch = 0   # marks for the depth-first search


cdef class Tape:
    """The Wengert list of the graph below one node: entry ``i`` is node ``i`` in
    topological order (inputs before outputs, leaves included; the output is last).

    Arrays (numpy copies): ``ops`` (op codes, see ``microinit.scalar.tape.OPS``),
    ``inputs`` ((n, 2) input slots, -1 for none), ``params`` (saved constants),
    ``values`` (node data), ``grads`` (from the last ``backward``/``set_grads``);
    ``nodes`` are the Values.

    >>> from microinit.scalar import Value
    >>> x = Value(3.0); y = x * x + 1.0
    >>> t = y.tape(); len(t), t.backward().tolist()     # d y / d (x, x*x, y)
    (3, [6.0, 1.0, 1.0])
    """

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.n):
            Py_DECREF(<object>self.nodes[i])
        free_arrays(&self.a)
        free(self.pairs)
        free(self.nodes)

    cdef int run(self, double seed) except -1:
        """The chain rule from the last entry (seeded with ``seed``) into ``grads``."""
        cdef Py_ssize_t i, n = self.n
        if n == 0:
            return 0
        with nogil:
            memset(self.a.reached, 0, n)
            for i in range(n):
                self.pairs[2 * i + 1] = 0.0
            self.a.reached[n - 1] = 1
            self.a.buf[n - 1] = seed
            chain_rule(&self.a, n - 1, NULL, NULL)
        return 0

    cdef int add_to_nodes(self) except -1:
        cdef Py_ssize_t i
        for i in range(self.n):
            (<Node>self.nodes[i]).grad += self.pairs[2 * i + 1]
        return 0

    def __len__(self):
        return self.n

    def backward(self, double seed=1.0):
        """Run the compiled chain-rule loop into ``grads`` and return them (the
        nodes' ``.grad`` are not touched; ``accumulate()`` adds them there)."""
        self.run(seed)
        return self.grads

    def accumulate(self):
        """Add ``grads`` to each node's ``.grad``."""
        self.add_to_nodes()

    def set_grads(self, grads):
        """Replace ``grads`` (e.g. by the pure-Python replay's result)."""
        cdef double[::1] g = np.ascontiguousarray(grads, dtype=np.float64)
        cdef Py_ssize_t i
        if g.shape[0] != self.n:
            raise ValueError(f"set_grads: expected {self.n} gradients, got {g.shape[0]}")
        for i in range(self.n):
            self.pairs[2 * i + 1] = g[i]

    def local_derivatives(self):
        """(n, 2) array: d node_i / d input_0 and d node_i / d input_1 (0 if none)."""
        out = np.zeros((self.n, 2), dtype=np.float64)
        cdef double[:, ::1] d = out
        cdef Py_ssize_t i
        for i in range(self.n):
            if self.a.op[i] != OP_LEAF:
                local_derivatives(self.a.op[i], self.a.x0[i][0],
                                  self.a.x1[i][0] if self.a.x1[i] != NULL else 0.0,
                                  self.pairs[2 * i], self.a.param[i], &d[i, 0], &d[i, 1])
        return out

    @property
    def ops(self):
        return np.array([self.a.op[i] for i in range(self.n)], dtype=np.int32)

    @property
    def inputs(self):
        out = np.empty((self.n, 2), dtype=np.int64)
        cdef Py_ssize_t i
        for i in range(self.n):
            out[i, 0] = self.a.s0[i]
            out[i, 1] = self.a.s1[i]
        return out

    @property
    def params(self):
        return np.array([self.a.param[i] for i in range(self.n)], dtype=np.float64)

    @property
    def values(self):
        return np.array([self.pairs[2 * i] for i in range(self.n)], dtype=np.float64)

    @property
    def grads(self):
        return np.array([self.pairs[2 * i + 1] for i in range(self.n)], dtype=np.float64)

    @property
    def nodes(self):
        return [<object>self.nodes[i] for i in range(self.n)]


cdef int _fill(Tape t, PyObject** order, Py_ssize_t n) except -1:
    """Entries of ``t`` for the nodes ``order[0..n)`` (already in topological order)."""
    cdef Py_ssize_t i
    cdef Node v
    t.nodes = <PyObject**>malloc(n * sizeof(PyObject*) + 1)
    t.pairs = <double*>malloc(2 * n * sizeof(double) + 1)
    if t.nodes == NULL or t.pairs == NULL:
        raise MemoryError(f"Value.tape: cannot allocate a snapshot of {n} nodes")
    grow_arrays(&t.a, n + 1)
    for i in range(n):
        v = <Node>order[i]
        Py_INCREF(v)
        t.nodes[i] = order[i]
        t.n = i + 1
        v._index = i
        t.pairs[2 * i] = v.data
        t.pairs[2 * i + 1] = 0.0
        t.a.op[i] = v._code
        t.a.param[i] = v._param
        t.a.out[i] = &t.pairs[2 * i]
        if v._a is not None:
            t.a.s0[i] = v._a._index
            t.a.x0[i] = &t.pairs[2 * v._a._index]
        else:
            t.a.s0[i] = -1
            t.a.x0[i] = NULL
        if v._b is not None:
            t.a.s1[i] = v._b._index
            t.a.x1[i] = &t.pairs[2 * v._b._index]
        else:
            t.a.s1[i] = -1
            t.a.x1[i] = NULL
    return 0


cdef Tape linearize(Node root):
    """The snapshot of the graph below ``root``: a topological order by an
    iterative depth-first search (no recursion, so any depth works). A node is grey
    while its inputs are being visited and black once it is listed; reaching a grey
    node again means the graph has a cycle."""
    global _epoch
    _epoch += 2
    cdef unsigned long long grey = _epoch, black = _epoch + 1
    cdef Tape t = Tape.__new__(Tape)
    cdef Py_ssize_t sp = 0, cap = 64, n = 0, order_cap = 64
    cdef PyObject** stack = <PyObject**>malloc(cap * sizeof(PyObject*))
    cdef char* state = <char*>malloc(cap)
    cdef PyObject** order = <PyObject**>malloc(order_cap * sizeof(PyObject*))
    cdef Node v, c
    if stack == NULL or state == NULL or order == NULL:
        free(stack); free(state); free(order)
        raise MemoryError()
    try:
        root._mark = grey
        stack[0] = <PyObject*>root   # borrowed: every node is owned by its parent
        state[0] = 0
        sp = 1
        while sp:
            v = <Node>stack[sp - 1]
            if state[sp - 1] == 2:
                sp -= 1
                v._mark = black
                if n == order_cap:
                    order_cap *= 2
                    regrow(<void**>&order, order_cap, sizeof(PyObject*))
                order[n] = <PyObject*>v
                n += 1
                continue
            c = v._a if state[sp - 1] == 0 else v._b
            state[sp - 1] += 1
            if c is None or c._mark == black:
                continue
            if c._mark == grey:
                raise RuntimeError(f"graph has a cycle: {c!r} is its own ancestor "
                                   "(was _prev rewired?)")
            c._mark = grey
            if sp == cap:
                cap *= 2
                regrow(<void**>&stack, cap, sizeof(PyObject*))
                regrow(<void**>&state, cap, 1)
            stack[sp] = <PyObject*>c
            state[sp] = 0
            sp += 1
        _fill(t, order, n)
    finally:
        free(stack)
        free(state)
        free(order)
    return t


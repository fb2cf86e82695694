# cython: language_level=3
"""The compiled scalar autograd engine: a tiny ``Value`` node and its tape.

``microinit.Value`` is the ``Value`` defined here. ``microinit/scalar/engine.py``
holds the same class written in plain Python -- the one to read; this file is that
class made fast. The two are tested against each other.

How it works
------------
* A ``Value`` is a small C struct: ``data``, ``grad``, an op code, up to two input
  nodes and one saved constant (the exponent of ``x**p``, the ``c`` of ``x + c``,
  the slope of ``leaky_relu``). There is no closure and no set per node, so a graph
  has no reference cycles and is freed by reference counting as soon as the last
  reference goes -- iteratively (see ``_bury``), so a 100,000-node chain frees
  without recursion -- and the cyclic garbage collector never needs to look at it.
* Every op also appends one entry to the *recording tape* (``_Recorder``): a Wengert
  list in growable C arrays (op code, constant, pointers to the output's and the
  inputs' ``data``/``grad``, the inputs' slots). ``backward()`` is then one compiled
  loop over that tape in reverse, run without the GIL (see ``_recorded_backward``),
  with every local derivative taken from ``activations.pxd``
  (DESIGN.md, boundary 2). Gradients are summed in a fresh per-pass buffer and then
  *added* to each node's ``.grad``: a second ``backward()`` adds exactly the same
  amounts again (micrograd re-adds stale intermediate gradients instead).
* Tape lifetime: ``backward()`` seals the tape it ran on, so the next forward pass
  records onto a new one; a tape is freed (its arrays kept for the next tape) when
  its last node dies, and an unsealed tape whose nodes all died is reset in place.
  So a training loop keeps at most two tapes, whatever the number of steps.
  Graphs that span tapes (a node used after a ``backward()``) are handled by
  passing gradients from the newer tape to the older one.
* ``Value.tape()`` returns a ``Tape``: a self-contained snapshot of the graph below
  one node (leaves included) in topological order, found by an iterative
  depth-first search that reports cycles. Its arrays are what
  ``microinit.scalar.tape.replay`` replays in plain Python and what
  ``microinit.trace`` prints. After ``_prev`` has been rewired anywhere, creation
  order no longer guarantees a topological order, so ``backward()`` switches to
  this snapshot path for good (it detects the cycles such rewiring can create).
"""
cimport cython
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF, _Py_REFCNT
from cpython.mem cimport PyMem_RawMalloc as malloc, PyMem_RawRealloc as realloc, PyMem_RawFree as free
from libc.string cimport memset
from cpython.pythread cimport (
    PyThread_type_lock, PyThread_allocate_lock, PyThread_acquire_lock, PyThread_release_lock,
    WAIT_LOCK,
)
from libc.math cimport pow as c_pow, log as c_log, sqrt as c_sqrt, exp as c_exp

import numbers

import numpy as np

from microinit._kernels.activations cimport (
    relu_fwd, relu_grad, tanh_fwd, tanh_grad, sigmoid_fwd, sigmoid_grad,
    leaky_relu_fwd, leaky_relu_grad, f_abs, exp_grad, log_grad, sqrt_grad, abs_grad,
    pow_grad,
)

# Op codes. microinit/scalar/tape.py repeats this table for the pure-Python replay;
# a test checks that the two agree.
cdef enum:
    OP_DEAD = -1       # a recorded node that has been freed
    OP_LEAF = 0
    OP_ADD = 1         # a + b
    OP_MUL = 2         # a * b
    OP_SUB = 3         # a - b
    OP_DIV = 4         # a / b, computed as a * b**-1 (micrograd's numbers)
    OP_NEG = 5         # -a
    OP_ADDC = 6        # a + c
    OP_MULC = 7        # a * c
    OP_RSUBC = 8       # c - a
    OP_RDIVC = 9       # c / a, computed as a**-1 * c
    OP_POW = 10        # a ** c
    OP_RELU = 11
    OP_TANH = 12
    OP_SIGMOID = 13
    OP_EXP = 14
    OP_LOG = 15
    OP_SQRT = 16
    OP_ABS = 17
    OP_LEAKY_RELU = 18  # slope c

OPS = {
    "leaf": OP_LEAF, "add": OP_ADD, "mul": OP_MUL, "sub": OP_SUB, "div": OP_DIV,
    "neg": OP_NEG, "addc": OP_ADDC, "mulc": OP_MULC, "rsubc": OP_RSUBC,
    "rdivc": OP_RDIVC, "pow": OP_POW, "relu": OP_RELU, "tanh": OP_TANH,
    "sigmoid": OP_SIGMOID, "exp": OP_EXP, "log": OP_LOG, "sqrt": OP_SQRT,
    "abs": OP_ABS, "leaky_relu": OP_LEAKY_RELU,
}
OP_NAMES = {code: name for name, code in OPS.items()}
# What `_op` shows, as in micrograd ('+', '*', 'ReLU', '**2', ...).
_SYMBOL = ("", "+", "*", "-", "/", "neg", "+", "*", "-", "/", "**", "ReLU", "tanh",
           "sigmoid", "exp", "log", "sqrt", "abs", "leaky_relu")
_BINARY = frozenset({OP_ADD, OP_MUL, OP_SUB, OP_DIV})
_HAS_CONSTANT = frozenset({OP_ADDC, OP_MULC, OP_RSUBC, OP_RDIVC, OP_POW, OP_LEAKY_RELU})

cdef object _Real = numbers.Real


cdef inline bint _is_number(object o):
    # bool/int/float/numpy scalars; str is refused although float("1") would work
    return type(o) is float or type(o) is int or isinstance(o, _Real)


cdef inline void _local(int code, double x0, double x1, double y, double c,
                        double* d0, double* d1) noexcept nogil:
    """The local derivatives d y / d x0 (and d y / d x1) of one tape entry."""
    if code == OP_ADD:
        d0[0] = 1.0
        d1[0] = 1.0
    elif code == OP_MUL:
        d0[0] = x1
        d1[0] = x0
    elif code == OP_SUB:
        d0[0] = 1.0
        d1[0] = -1.0
    elif code == OP_DIV:
        # y = x0 * x1**-1: the x1**-1 and -x1**-2 of micrograd's pow node
        d0[0] = c_pow(x1, -1.0)
        d1[0] = pow_grad(x1, -1.0) * x0
    elif code == OP_NEG or code == OP_RSUBC:
        d0[0] = -1.0
    elif code == OP_ADDC:
        d0[0] = 1.0
    elif code == OP_MULC:
        d0[0] = c
    elif code == OP_RDIVC:
        d0[0] = pow_grad(x0, -1.0) * c
    elif code == OP_POW:
        d0[0] = pow_grad(x0, c)
    elif code == OP_RELU:
        d0[0] = relu_grad(x0)
    elif code == OP_TANH:
        d0[0] = tanh_grad(y)
    elif code == OP_SIGMOID:
        d0[0] = sigmoid_grad(y)
    elif code == OP_EXP:
        d0[0] = exp_grad(y)
    elif code == OP_LOG:
        d0[0] = log_grad(x0)
    elif code == OP_SQRT:
        d0[0] = sqrt_grad(y)
    elif code == OP_ABS:
        d0[0] = abs_grad(x0)
    elif code == OP_LEAKY_RELU:
        d0[0] = leaky_relu_grad(x0, c)


# ---------------------------------------------------------------------------------
# The recording tape
# ---------------------------------------------------------------------------------

# A node's `data` and `grad` are adjacent doubles, so one pointer reaches both:
# p[0] is data, p[1] is grad (checked when the module loads, see _check_layout).
# Arrays come from PyMem_Raw* (malloc underneath, usable without the GIL), so that
# tracemalloc sees them.
cdef struct Arrays:
    Py_ssize_t cap
    int* op            # op code, OP_DEAD once the node is freed
    char* reached      # this pass: does the output depend on the entry?
    double* param      # saved constant
    double* buf        # this pass: d output / d entry
    double** out       # &node.data
    double** x0        # &input0.data
    double** x1        # &input1.data
    Py_ssize_t* s0     # slot of input0 on this tape; -1 a leaf; <= -2 foreign (see below)
    Py_ssize_t* s1


cdef void _free_arrays(Arrays* a) noexcept nogil:
    free(a.op); free(a.reached); free(a.param); free(a.buf)
    free(a.out); free(a.x0); free(a.x1); free(a.s0); free(a.s1)
    memset(a, 0, sizeof(Arrays))


cdef int _regrow(void** p, Py_ssize_t cap, size_t size) except -1:
    """Resize the array ``*p`` to ``cap`` items (``*p`` is left as it was on failure)."""
    cdef void* q = realloc(p[0], cap * size)
    if q == NULL:
        raise MemoryError(f"scalar tape: cannot grow an array to {cap} entries")
    p[0] = q
    return 0


cdef int _grow_arrays(Arrays* a) except -1:
    cdef Py_ssize_t cap = a.cap * 2 if a.cap else 1024
    _regrow(<void**>&a.op, cap, sizeof(int))
    _regrow(<void**>&a.reached, cap, 1)
    _regrow(<void**>&a.param, cap, sizeof(double))
    _regrow(<void**>&a.buf, cap, sizeof(double))
    _regrow(<void**>&a.out, cap, sizeof(double*))
    _regrow(<void**>&a.x0, cap, sizeof(double*))
    _regrow(<void**>&a.x1, cap, sizeof(double*))
    _regrow(<void**>&a.s0, cap, sizeof(Py_ssize_t))
    _regrow(<void**>&a.s1, cap, sizeof(Py_ssize_t))
    a.cap = cap
    return 0


cdef Arrays _spare            # the arrays of the last freed tape, reused by the next
cdef _Recorder _current = None  # the tape new nodes are recorded on (None: start one)
cdef unsigned long long _serial = 0   # tapes are numbered in creation order
cdef unsigned long long _pass_id = 0
cdef Py_ssize_t _n_rewired = 0   # how many times any `_prev` has been assigned


@cython.final
cdef class _Recorder:
    """The tape nodes are recorded on as they are created (one per forward pass).

    Inputs from an older tape ("foreign" inputs, e.g. a node used again after a
    ``backward()``) get slot -2 - j: their gradient is summed in ``ext[j]`` and
    handed to their own tape once this one is done.
    """
    cdef Arrays a
    cdef Py_ssize_t n, live
    cdef unsigned long long serial, stamp
    cdef Py_ssize_t hi          # highest reached slot in the current pass
    cdef bint sealed
    cdef bint rewired           # a node on it had its `_prev` assigned
    cdef PyObject** foreign     # borrowed: each is owned by the node that uses it,
    cdef Py_ssize_t* user       # ... the node in slot user[j]
    cdef double* ext
    cdef char* ext_reached
    cdef Py_ssize_t nforeign, foreign_cap

    def __cinit__(self):
        global _serial, _spare
        _serial += 1
        self.serial = _serial
        self.a = _spare
        memset(&_spare, 0, sizeof(Arrays))

    def __dealloc__(self):
        global _spare
        if self.a.cap > _spare.cap:
            _free_arrays(&_spare)
            _spare = self.a
        else:
            _free_arrays(&self.a)
        free(self.foreign); free(self.user); free(self.ext); free(self.ext_reached)

    def __len__(self):
        return self.n

    cdef inline Py_ssize_t _slot_of(self, Value v, Py_ssize_t user) except? -1000:
        """Where entry inputs point: a slot here, -1 for a leaf, -2 - j if foreign."""
        if v._tape is self:
            return v._slot
        if v._tape is None:
            return -1
        if self.nforeign == self.foreign_cap:
            self._grow_foreign()
        self.foreign[self.nforeign] = <PyObject*>v
        self.user[self.nforeign] = user
        self.nforeign += 1
        return -1 - self.nforeign

    cdef inline bint _foreign_alive(self, Py_ssize_t j) noexcept:
        # the pointer is valid while the node that uses it lives
        return self.a.op[self.user[j]] != OP_DEAD

    cdef int _grow_foreign(self) except -1:
        cdef Py_ssize_t cap = self.foreign_cap * 2 if self.foreign_cap else 16
        _regrow(<void**>&self.foreign, cap, sizeof(PyObject*))
        _regrow(<void**>&self.user, cap, sizeof(Py_ssize_t))
        _regrow(<void**>&self.ext, cap, sizeof(double))
        _regrow(<void**>&self.ext_reached, cap, 1)
        self.foreign_cap = cap
        return 0

    cdef void _kill(self, Py_ssize_t slot) noexcept:
        global _current
        self.a.op[slot] = OP_DEAD
        self.live -= 1
        if self.live == 0 and self is _current:
            # every node recorded here is gone: start again from the top
            self.n = 0
            self.nforeign = 0

    cdef void _prepare(self, unsigned long long pass_id) noexcept:
        if self.stamp != pass_id:
            self.stamp = pass_id
            memset(self.a.reached, 0, self.n)
            if self.nforeign:
                memset(self.ext_reached, 0, self.nforeign)
            self.hi = -1


cdef inline int _record(Value out) except -1:
    """Append ``out`` (just made by an op) to the current tape."""
    global _current
    cdef _Recorder t = _current
    cdef Py_ssize_t i
    if t is None or t.sealed:
        t = _current = _Recorder.__new__(_Recorder)
    i = t.n
    if (i & 4095) == 0 and i and t.live * 2 < i:
        # mostly dead entries, kept by a few long-lived nodes: leave this tape to
        # them and record onto a fresh one instead of growing this one forever
        t.sealed = True
        t = _current = _Recorder.__new__(_Recorder)
        i = 0
    if i == t.a.cap:
        _grow_arrays(&t.a)
    t.a.op[i] = out._code
    t.a.param[i] = out._param
    t.a.out[i] = &out.data
    t.a.x0[i] = &out._a.data
    t.a.s0[i] = t._slot_of(out._a, i)
    if out._b is not None:
        t.a.x1[i] = &out._b.data
        t.a.s1[i] = t._slot_of(out._b, i)
    else:
        t.a.x1[i] = NULL
        t.a.s1[i] = -1
    out._tape = t
    out._slot = i
    t.n = i + 1
    t.live += 1
    return 0


cdef inline void _send(Arrays* a, Py_ssize_t s, double* x, double amount, double* ext,
                       char* ext_reached) noexcept nogil:
    """Add ``amount`` to one input's gradient: slot ``s`` of this tape, a leaf's own
    ``.grad`` (``x[1]``) when s == -1, or a foreign node's accumulator when s <= -2."""
    if s >= 0:
        if a.reached[s]:
            a.buf[s] += amount
        else:
            a.reached[s] = 1
            a.buf[s] = amount
    elif s == -1:
        x[1] += amount
    else:
        s = -2 - s
        if ext_reached[s]:
            ext[s] += amount
        else:
            ext_reached[s] = 1
            ext[s] = amount


cdef void _tape_loop(Arrays* a, Py_ssize_t hi, double* ext, char* ext_reached) noexcept nogil:
    """The chain rule over a recorded tape in reverse, from slot ``hi`` down:
    grad[input] += local derivative * grad[output], for the entries the output
    depends on. Leaves get their share directly in their ``.grad``."""
    cdef Py_ssize_t i
    cdef double g, d0, d1, v1
    for i in range(hi, -1, -1):
        if not a.reached[i]:
            continue
        g = a.buf[i]
        d0 = 0.0
        d1 = 0.0
        v1 = a.x1[i][0] if a.x1[i] != NULL else 0.0
        _local(a.op[i], a.x0[i][0], v1, a.out[i][0], a.param[i], &d0, &d1)
        _send(a, a.s0[i], a.x0[i], d0 * g, ext, ext_reached)
        if a.x1[i] != NULL:
            _send(a, a.s1[i], a.x1[i], d1 * g, ext, ext_reached)
    # the pass's gradients, added to what the nodes already hold
    for i in range(hi + 1):
        if a.reached[i]:
            a.out[i][1] += a.buf[i]


# One backward pass over the recording tapes at a time, process-wide: a pass uses the
# tapes' shared reached/buf arrays. Taken without the GIL, so waiting threads run on.
cdef PyThread_type_lock _backward_lock = PyThread_allocate_lock()


cdef int _recorded_backward(Value root) except -1:
    """backward() over the recording tapes: root's tape, then any older tape that
    received gradient through a foreign input, newest first."""
    with nogil:
        PyThread_acquire_lock(_backward_lock, WAIT_LOCK)
    try:
        _recorded_backward_locked(root)
    finally:
        PyThread_release_lock(_backward_lock)
    return 0


cdef int _recorded_backward_locked(Value root) except -1:
    global _pass_id
    cdef _Recorder t, f
    cdef Value v
    cdef Py_ssize_t j, s
    _pass_id += 1
    t = root._tape
    t._prepare(_pass_id)
    t.a.reached[root._slot] = 1
    t.a.buf[root._slot] = 1.0
    t.hi = root._slot
    pending = {t.serial: t}
    while pending:
        t = pending.pop(max(pending))
        # The loop runs without the GIL. That is safe because (1) the tape is sealed
        # first, so no thread appends to it (which could move its arrays) meanwhile;
        # (2) every entry the loop reads is reachable from root, whose references keep
        # those nodes alive; other threads may only free unreached entries, which the
        # loop skips; (3) _backward_lock keeps other passes off the shared buffers.
        t.sealed = True
        with nogil:
            _tape_loop(&t.a, t.hi, t.ext, t.ext_reached)
        for j in range(t.nforeign):
            if not t.ext_reached[j]:
                continue
            v = <Value>t.foreign[j]
            f = v._tape
            f._prepare(_pass_id)
            s = v._slot
            if f.a.reached[s]:
                f.a.buf[s] += t.ext[j]
            else:
                f.a.reached[s] = 1
                f.a.buf[s] = t.ext[j]
            if s > f.hi:
                f.hi = s
            pending[f.serial] = f
    return 0


cdef bint _reaches_rewired(_Recorder root) except -1:
    """Does the graph recorded on ``root``'s tape, or on an older tape it takes
    inputs from, contain a node whose ``_prev`` was assigned?"""
    cdef _Recorder t
    cdef Py_ssize_t j
    seen = {root.serial}
    todo = [root]
    while todo:
        t = todo.pop()
        if t.rewired:
            return True
        for j in range(t.nforeign):
            if t._foreign_alive(j):
                f = (<Value>t.foreign[j])._tape
                if (<_Recorder>f).serial not in seen:
                    seen.add((<_Recorder>f).serial)
                    todo.append(f)
    return False


# ---------------------------------------------------------------------------------
# Value
# ---------------------------------------------------------------------------------

cdef unsigned long long _epoch = 0   # marks for the depth-first search (_linearize)


# Freeing a deep graph without recursion. When a node dies, CPython would free its
# inputs from inside its deallocator, and theirs from inside theirs: a 100,000-node
# chain would overflow the C stack. So a dying node moves the inputs it is the last
# owner of onto this stack, and the outermost deallocation frees them in a loop.
# (cython.trashcan does the same for garbage-collected types only; Value is not one.)
cdef PyObject** _grave = NULL
cdef Py_ssize_t _grave_n = 0, _grave_cap = 0
cdef bint _draining = False


cdef inline void _bury(PyObject* v) noexcept:
    """Take one extra reference to ``v`` onto the stack if we are its last owner
    (a raw pointer: a typed argument would hold a reference of its own)."""
    global _grave, _grave_cap, _grave_n
    cdef void* p
    if v == <PyObject*>None or _Py_REFCNT(v) > 1:
        return
    if _grave_n == _grave_cap:
        p = realloc(_grave, (_grave_cap * 2 + 1024) * sizeof(PyObject*))
        if p == NULL:
            return        # out of memory: let CPython free it the recursive way
        _grave = <PyObject**>p
        _grave_cap = _grave_cap * 2 + 1024
    Py_INCREF(<object>v)
    _grave[_grave_n] = v
    _grave_n += 1


cdef inline void _drain() noexcept:
    global _draining, _grave_n
    cdef PyObject* o
    if _draining:
        return
    _draining = True
    while _grave_n:
        _grave_n -= 1
        o = _grave[_grave_n]
        Py_DECREF(<object>o)    # may bury o's own inputs: the loop picks them up
    _draining = False


@cython.freelist(4096)
@cython.no_gc   # no reference cycles are possible (see the module docstring)
@cython.auto_pickle(False)   # a node is part of a graph and a tape: not picklable alone
cdef class Value:
    """A scalar with a gradient: ``Value(data, label="")`` (micrograd-compatible).

    ``a + b``, ``a * b``, ``a - b``, ``a / b``, ``-a``, ``a ** p`` (p an int/float),
    reflected ops with numbers, ``relu``, ``tanh``, ``sigmoid``, ``exp``, ``log``,
    ``sqrt``, ``abs``, ``leaky_relu``; ``backward()`` adds d(output)/d(node) to the
    ``.grad`` of every node the output depends on (use ``zero_grad`` between steps).

    >>> x = Value(2.0); y = (x * x + 1).tanh(); y.backward(); round(x.grad, 6)
    0.000726
    """
    cdef public double data
    cdef public double grad     # must directly follow data (see Arrays)
    cdef readonly int _code
    cdef Value _a
    cdef Value _b
    cdef double _param
    cdef object _label
    cdef _Recorder _tape
    cdef Py_ssize_t _slot
    cdef unsigned long long _mark
    cdef Py_ssize_t _index

    # numpy scalars on the left (np.float64(2) * v) must defer to __rmul__ instead
    # of building an object array
    __array_ufunc__ = None

    def __init__(self, data, _children=(), _op="", label=""):
        if isinstance(data, Value) or not _is_number(data):
            raise TypeError(f"Value(data): data must be a real number (int or float), "
                            f"got {type(data).__name__}")
        if _children:
            raise TypeError("Value(data, _children): nodes with inputs are made by "
                            "operations (a + b, a.tanh(), ...), not by the constructor")
        self.data = data
        self._label = label if label else None

    def __dealloc__(self):
        if self._tape is not None:
            self._tape._kill(self._slot)
        if self._a is not None:
            _bury(<PyObject*>self._a)
            self._a = None      # drops the reference the stack now also holds
            _bury(<PyObject*>self._b)
            self._b = None
            _drain()

    # -- introspection (micrograd's names) --------------------------------------
    @property
    def label(self):
        return self._label if self._label is not None else ""

    @label.setter
    def label(self, value):
        self._label = str(value) if value else None

    @property
    def _op(self):
        if self._code == OP_POW:
            p = self._param
            return f"**{int(p) if p == int(p) else p}"
        return _SYMBOL[self._code]

    @property
    def op_name(self):
        """The op that made this node: 'leaf', 'add', 'mul', ..., 'leaky_relu'."""
        return OP_NAMES[self._code]

    @property
    def constant(self):
        """The number saved by the op (c in x + c, p in x ** p, slope), else None."""
        return self._param if self._code in _HAS_CONSTANT else None

    @property
    def _inputs(self):
        """The input nodes in order: (), (a,) or (a, b)."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._a,)
        return (self._a, self._b)

    @property
    def _prev(self):
        """The input nodes as a set, as in micrograd. A new set each time: to rewire
        the graph, assign to ``_prev``."""
        return set(self._inputs)

    @_prev.setter
    def _prev(self, children):
        global _n_rewired
        kids = list(children)
        arity = 0 if self._code == OP_LEAF else (2 if self._code in _BINARY else 1)
        for k in kids:
            if not isinstance(k, Value):
                raise TypeError(f"_prev: inputs must be Values, got {type(k).__name__}")
        if len(kids) != arity:
            raise ValueError(f"_prev: op {OP_NAMES[self._code]!r} takes {arity} "
                             f"input(s), got {len(kids)}")
        # The recorded tape assumes creation order is topological, which rewiring
        # can break: backward() through this tape takes the snapshot path instead,
        # which checks for cycles.
        _n_rewired += 1
        if self._tape is not None:
            self._tape.rewired = True
        self._a = kids[0] if arity >= 1 else None
        self._b = kids[1] if arity == 2 else None

    def __repr__(self):
        if self._label is not None:
            return f"Value(data={self.data}, grad={self.grad}, label={self._label!r})"
        return f"Value(data={self.data}, grad={self.grad})"

    # -- arithmetic ----------------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, Value):
            return _node(self.data + (<Value>other).data, OP_ADD, self, other, 0.0)
        if _is_number(other):
            c = <double>other
            return _node(self.data + c, OP_ADDC, self, None, c)
        return NotImplemented

    def __radd__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(self.data + c, OP_ADDC, self, None, c)
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, Value):
            return _node(self.data * (<Value>other).data, OP_MUL, self, other, 0.0)
        if _is_number(other):
            c = <double>other
            return _node(self.data * c, OP_MULC, self, None, c)
        return NotImplemented

    def __rmul__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(self.data * c, OP_MULC, self, None, c)
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, Value):
            return _node(self.data - (<Value>other).data, OP_SUB, self, other, 0.0)
        if _is_number(other):
            # a - c is a + (-c), bit for bit, with the same derivative
            c = -<double>other
            return _node(self.data + c, OP_ADDC, self, None, c)
        return NotImplemented

    def __rsub__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(c - self.data, OP_RSUBC, self, None, c)
        return NotImplemented

    def __truediv__(self, other):
        if isinstance(other, Value):
            return _node(self.data * c_pow((<Value>other).data, -1.0), OP_DIV, self,
                         other, 0.0)
        if _is_number(other):
            # a / c is a * c**-1, as micrograd computes it; IEEE: a / 0 is +-inf
            c = c_pow(<double>other, -1.0)
            return _node(self.data * c, OP_MULC, self, None, c)
        return NotImplemented

    def __rtruediv__(self, other):
        if _is_number(other):
            c = <double>other
            return _node(c_pow(self.data, -1.0) * c, OP_RDIVC, self, None, c)
        return NotImplemented

    def __neg__(self):
        return _node(-self.data, OP_NEG, self, None, 0.0)

    def __pos__(self):
        return self

    def __pow__(self, other, modulo=None):
        if not isinstance(self, Value):
            return NotImplemented
        if isinstance(other, Value) or not _is_number(other):
            raise TypeError(f"Value ** {type(other).__name__}: the exponent must be an "
                            "int or float (for a Value exponent y use (y * x.log()).exp())")
        if modulo is not None:
            raise TypeError("pow(Value, p, modulo) is not supported")
        p = <double>other
        return _node(c_pow((<Value>self).data, p), OP_POW, self, None, p)

    def __rpow__(self, other, modulo=None):
        raise TypeError(f"{type(other).__name__} ** Value is not supported: the exponent "
                        "must be a number (for c ** x use (x * log(c)).exp())")

    def __abs__(self):
        return _node(f_abs(self.data), OP_ABS, self, None, 0.0)

    # -- functions -----------------------------------------------------------------
    def relu(self):
        """max(x, 0); derivative 1 for x > 0, else 0 (relu'(0) = 0)."""
        return _node(relu_fwd(self.data), OP_RELU, self, None, 0.0)

    def leaky_relu(self, negative_slope=0.01):
        """x for x > 0, else slope * x; derivative 1 or slope (slope at 0)."""
        s = <double>negative_slope
        return _node(leaky_relu_fwd(self.data, s), OP_LEAKY_RELU, self, None, s)

    def tanh(self):
        """tanh(x); derivative 1 - tanh(x)**2."""
        return _node(tanh_fwd(self.data), OP_TANH, self, None, 0.0)

    def sigmoid(self):
        """1 / (1 + e^-x); derivative s (1 - s)."""
        return _node(sigmoid_fwd(self.data), OP_SIGMOID, self, None, 0.0)

    def exp(self):
        """e^x (IEEE: overflows to inf); derivative e^x."""
        return _node(c_exp(self.data), OP_EXP, self, None, 0.0)

    def log(self):
        """Natural log, IEEE: log(0) = -inf, log(x < 0) = nan; derivative 1/x."""
        return _node(c_log(self.data), OP_LOG, self, None, 0.0)

    def sqrt(self):
        """Square root, IEEE: sqrt(x < 0) = nan; derivative 0.5/sqrt(x) (inf at 0)."""
        return _node(c_sqrt(self.data), OP_SQRT, self, None, 0.0)

    def abs(self):
        """|x|; derivative sign(x), 0 at 0."""
        return _node(f_abs(self.data), OP_ABS, self, None, 0.0)

    # -- autograd --------------------------------------------------------------------
    def backward(self):
        """Add d(self)/d(node) to ``node.grad`` for every node ``self`` depends on.

        One compiled loop over the recorded tape in reverse. Calling it twice adds
        the same gradients twice, exactly. Raises RuntimeError("graph has a cycle")
        if ``_prev`` was rewired into a loop.
        """
        cdef Tape t
        if self._tape is None:
            self.grad += 1.0      # a leaf: d self / d self
        elif _n_rewired and _reaches_rewired(self._tape):
            t = _linearize(self)
            t._run_backward(1.0)
            t.accumulate()
        else:
            _recorded_backward(self)
        if _current is not None:
            # the next forward pass records onto a new tape, so that this graph's
            # tape is freed with it instead of growing with every step
            (<_Recorder>_current).sealed = True

    def tape(self):
        """A ``Tape`` snapshot of the graph ending at this node (see ``Tape``)."""
        return _linearize(self)

    def zero_grad(self):
        """Set ``.grad = 0`` on this node and on every node it depends on."""
        cdef Tape t = _linearize(self)
        cdef Py_ssize_t i
        for i in range(t.n):
            (<Value>t.nodes[i]).grad = 0.0

    def _backward(self):
        """One step of the chain rule, micrograd's way: add this node's ``grad``
        times each local derivative to its inputs' ``grad``."""
        cdef double d0 = 0.0, d1 = 0.0
        if self._code == OP_LEAF:
            return
        _local(self._code, self._a.data, self._b.data if self._b is not None else 0.0,
               self.data, self._param, &d0, &d1)
        self._a.grad += d0 * self.grad
        if self._b is not None:
            self._b.grad += d1 * self.grad


cdef inline Value _node(double data, int code, Value a, Value b, double param):
    # Value.__new__ skips __init__: no argument parsing on the hot path
    cdef Value out = Value.__new__(Value)
    out.data = data
    out._code = code
    out._a = a
    out._b = b
    out._param = param
    _record(out)
    return out


def _check_layout():
    cdef Value v = Value.__new__(Value)
    if &v.grad != &v.data + 1:   # pragma: no cover - a compiler that pads doubles
        raise ImportError("microinit._kernels.tape: Value.grad must follow Value.data")


_check_layout()


def neuron(w, x, Value b, bint relu):
    """``b + w[0]*x[0] + w[1]*x[1] + ...`` (then ``relu()`` if ``relu``), node by node.

    Builds exactly the nodes -- and, in the same order, exactly the numbers -- that
    micrograd's ``sum((wi*xi for wi, xi in zip(w, x)), b)`` builds, in one compiled
    call instead of 2 n interpreted ones. ``w`` is a list of Values; ``x`` a
    sequence of Values or numbers of the same length (checked by the caller).
    """
    cdef Value act = b
    cdef Value prod, wi
    cdef Py_ssize_t i, n = len(w)
    cdef list wl = w if type(w) is list else list(w)
    for i in range(n):
        wi = <Value?>wl[i]
        xi = x[i]
        if isinstance(xi, Value):
            prod = _node(wi.data * (<Value>xi).data, OP_MUL, wi, xi, 0.0)
        else:
            prod = wi * xi
        act = _node(act.data + prod.data, OP_ADD, act, prod, 0.0)
    if relu:
        return _node(relu_fwd(act.data), OP_RELU, act, None, 0.0)
    return act


def zero_grad(values):
    """Set ``.grad = 0`` on each Value in ``values`` (e.g. ``model.parameters()``)."""
    for v in values:
        if not isinstance(v, Value):
            raise TypeError(f"zero_grad: expected Values, got {type(v).__name__}")
        (<Value>v).grad = 0.0


def release_memory():
    """Free the arrays kept for reuse by the next recording tape (they are reused
    across training steps; a long-running program may want them back)."""
    global _current
    if _current is not None and (<_Recorder>_current).live == 0:
        _current = None         # its arrays go to _spare, freed next
    _free_arrays(&_spare)


def tape_stats():
    """Diagnostics for tests: entries and live nodes on the current recording tape,
    and the capacity of the spare arrays kept for the next tape."""
    t = _current
    if t is None:
        return {"entries": 0, "live": 0, "spare_capacity": _spare.cap}
    return {"entries": (<_Recorder>t).n, "live": (<_Recorder>t).live,
            "serial": (<_Recorder>t).serial, "spare_capacity": _spare.cap}


# ---------------------------------------------------------------------------------
# Tape: a self-contained snapshot, for replay, trace and rewired graphs
# ---------------------------------------------------------------------------------

cdef void _backward_loop(Py_ssize_t n, const int* op, const Py_ssize_t* in0,
                         const Py_ssize_t* in1, const double* param, const double* value,
                         double* grad) noexcept nogil:
    """The chain rule over a snapshot in reverse: grad[input] += local * grad[node]."""
    cdef Py_ssize_t i, a, b
    cdef double g, d0, d1
    cdef int code
    for i in range(n - 1, -1, -1):
        code = op[i]
        if code == OP_LEAF:
            continue
        g = grad[i]
        a = in0[i]
        b = in1[i]
        d0 = 0.0
        d1 = 0.0
        _local(code, value[a], value[b] if b >= 0 else 0.0, value[i], param[i], &d0, &d1)
        grad[a] += d0 * g
        if b >= 0:
            grad[b] += d1 * g


cdef class Tape:
    """The Wengert list of the graph below one node: entry ``i`` is node ``i`` in
    topological order (inputs before outputs, leaves included; the output is last).

    Arrays (numpy copies): ``ops`` (op codes, see ``OPS``), ``inputs`` ((n, 2) input
    slots, -1 for none), ``params`` (saved constants), ``values`` (node data),
    ``grads`` (from the last ``backward``/``set_grads``); ``nodes`` are the Values.
    """
    cdef Py_ssize_t n, cap
    cdef int* op
    cdef Py_ssize_t* in0
    cdef Py_ssize_t* in1
    cdef double* param
    cdef double* value
    cdef double* grad
    cdef PyObject** nodes   # owned references: the snapshot keeps its nodes alive

    def __cinit__(self):
        self.n = 0
        self.cap = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.n):
            Py_DECREF(<object>self.nodes[i])
        free(self.op); free(self.in0); free(self.in1)
        free(self.param); free(self.value); free(self.grad); free(self.nodes)

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = self.cap * 2 if self.cap else 64
        _regrow(<void**>&self.op, cap, sizeof(int))
        _regrow(<void**>&self.in0, cap, sizeof(Py_ssize_t))
        _regrow(<void**>&self.in1, cap, sizeof(Py_ssize_t))
        _regrow(<void**>&self.param, cap, sizeof(double))
        _regrow(<void**>&self.value, cap, sizeof(double))
        _regrow(<void**>&self.grad, cap, sizeof(double))
        _regrow(<void**>&self.nodes, cap, sizeof(PyObject*))
        self.cap = cap
        return 0

    cdef int _append(self, Value v) except -1:
        cdef Py_ssize_t i = self.n
        if i == self.cap:
            self._grow()
        Py_INCREF(v)
        self.nodes[i] = <PyObject*>v
        self.op[i] = v._code
        self.in0[i] = v._a._index if v._a is not None else -1
        self.in1[i] = v._b._index if v._b is not None else -1
        self.param[i] = v._param
        self.value[i] = v.data
        self.grad[i] = 0.0
        v._index = i
        self.n = i + 1
        return 0

    cdef void _run_backward(self, double seed) noexcept:
        cdef Py_ssize_t i
        with nogil:
            for i in range(self.n):
                self.grad[i] = 0.0
            if self.n:
                self.grad[self.n - 1] = seed
                _backward_loop(self.n, self.op, self.in0, self.in1, self.param,
                               self.value, self.grad)

    def __len__(self):
        return self.n

    def backward(self, double seed=1.0):
        """Run the compiled chain-rule loop into ``grads`` and return them (the
        nodes' ``.grad`` are not touched; ``accumulate()`` adds them there)."""
        self._run_backward(seed)
        return self.grads

    def accumulate(self):
        """Add ``grads`` to each node's ``.grad``."""
        cdef Py_ssize_t i
        for i in range(self.n):
            (<Value>self.nodes[i]).grad += self.grad[i]

    def set_grads(self, grads):
        """Replace ``grads`` (e.g. by the pure-Python replay's result)."""
        cdef double[::1] g = np.ascontiguousarray(grads, dtype=np.float64)
        cdef Py_ssize_t i
        if g.shape[0] != self.n:
            raise ValueError(f"set_grads: expected {self.n} gradients, got {g.shape[0]}")
        for i in range(self.n):
            self.grad[i] = g[i]

    def local_derivatives(self):
        """(n, 2) array: d node_i / d input_0 and d node_i / d input_1 (0 if none)."""
        out = np.zeros((self.n, 2), dtype=np.float64)
        cdef double[:, ::1] d = out
        cdef Py_ssize_t i, b
        for i in range(self.n):
            if self.op[i] != OP_LEAF:
                b = self.in1[i]
                _local(self.op[i], self.value[self.in0[i]],
                       self.value[b] if b >= 0 else 0.0, self.value[i], self.param[i],
                       &d[i, 0], &d[i, 1])
        return out

    @property
    def ops(self):
        return np.array([self.op[i] for i in range(self.n)], dtype=np.int32)

    @property
    def inputs(self):
        out = np.empty((self.n, 2), dtype=np.int64)
        cdef Py_ssize_t i
        for i in range(self.n):
            out[i, 0] = self.in0[i]
            out[i, 1] = self.in1[i]
        return out

    @property
    def params(self):
        return np.array([self.param[i] for i in range(self.n)], dtype=np.float64)

    @property
    def values(self):
        return np.array([self.value[i] for i in range(self.n)], dtype=np.float64)

    @property
    def grads(self):
        return np.array([self.grad[i] for i in range(self.n)], dtype=np.float64)

    @property
    def nodes(self):
        return [<object>self.nodes[i] for i in range(self.n)]


cdef Tape _linearize(Value root):
    """Topological order of the graph below ``root`` by an iterative depth-first
    search (no recursion, so any depth works). A node is grey while its inputs are
    being visited and black once it is on the tape; reaching a grey node again
    means the graph has a cycle."""
    global _epoch
    _epoch += 2
    cdef unsigned long long grey = _epoch, black = _epoch + 1
    cdef Tape t = Tape.__new__(Tape)
    cdef Py_ssize_t sp = 0, cap = 64
    cdef PyObject** stack = <PyObject**>malloc(cap * sizeof(PyObject*))
    cdef char* state = <char*>malloc(cap)
    cdef Value v, c
    cdef void* p
    if stack == NULL or state == NULL:
        free(stack); free(state)
        raise MemoryError()
    try:
        root._mark = grey
        stack[0] = <PyObject*>root   # borrowed: every node is owned by its parent
        state[0] = 0
        sp = 1
        while sp:
            v = <Value>stack[sp - 1]
            if state[sp - 1] == 2:
                sp -= 1
                v._mark = black
                t._append(v)
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
                p = realloc(stack, cap * sizeof(PyObject*))
                if p == NULL: raise MemoryError()
                stack = <PyObject**>p
                p = realloc(state, cap)
                if p == NULL: raise MemoryError()
                state = <char*>p
            stack[sp] = <PyObject*>c
            state[sp] = 0
            sp += 1
    finally:
        free(stack)
        free(state)
    return t


def linearize(Value root):
    """The ``Tape`` snapshot of the graph ending at ``root`` (see ``Value.tape``)."""
    return _linearize(root)

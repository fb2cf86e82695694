# cython: language_level=3
"""The node of the compiled scalar engine, and the tape it is recorded on.

* A ``Node`` is a small C struct: ``data``, ``grad``, an op code, up to two input
  nodes and one saved constant (the exponent of ``x**p``, the ``c`` of ``x + c``,
  the slope of ``leaky_relu``). There is no closure and no set per node, so a graph
  has no reference cycles and is freed by reference counting as soon as the last
  reference goes -- iteratively (see ``_bury``), so a 100,000-node chain frees
  without recursion -- and the cyclic garbage collector never needs to look at it.
  The one exception, a cycle made by rewiring ``_prev``, is looked after by
  ``_free_rewired_cycles`` (docs/reliability.md row 58).
* Every op appends one entry to the calling thread's *recording tape*
  (``Recorder``): a Wengert list (``_wengert.Arrays``) whose order is creation
  order, which is a topological order. ``backward()`` is then one compiled loop
  over it in reverse (``_wengert.chain_rule``), run without the GIL.
* Tape lifetime: ``backward()`` seals the thread's tape, so the next forward pass
  records onto a new one; a tape is freed (its arrays kept for the next tape) when
  its last node dies, and an unsealed tape whose nodes all died is reset in place.
  So a training loop keeps at most two tapes, whatever the number of steps.
  Graphs that span tapes (a node used after a ``backward()``) are handled by
  passing gradients from the newer tape to the older one.
* After ``_prev`` has been rewired, creation order no longer guarantees a
  topological order: ``needs_snapshot`` then tells ``Value.backward`` to order the
  graph by a depth-first search instead (``_snapshot.pyx``, which finds cycles).
"""
cimport cython
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF, _Py_REFCNT
from cpython.mem cimport PyMem_RawRealloc as realloc, PyMem_RawFree as free
from libc.string cimport memset
from cpython.pythread cimport (
    PyThread_type_lock, PyThread_allocate_lock, PyThread_acquire_lock, PyThread_release_lock,
    WAIT_LOCK,
)

import gc

from microinit.scalar._ops cimport OP_DEAD
from microinit.scalar._wengert cimport Arrays, chain_rule, free_arrays, grow_arrays, regrow

cdef extern from "scalar_thread_tape.h":
    PyObject* mi_get_thread_tape()
    int mi_set_thread_tape(object key, PyObject* tape) except -1


cdef Arrays _spare            # the arrays of the last freed tape, reused by the next
cdef unsigned long long _serial = 0   # tapes are numbered in creation order
cdef unsigned long long _pass_id = 0
cdef Py_ssize_t _n_rewired = 0   # how many times any `_prev` has been assigned
cdef object _THREAD_KEY = object()   # the thread-state dict key of the thread's tape


@cython.final
cdef class Recorder:
    """The tape nodes are recorded on as they are created (one per forward pass).

    Inputs from an older tape ("foreign" inputs, e.g. a node used again after a
    ``backward()``) get slot -2 - j: their gradient is summed in ``ext[j]`` and
    handed to their own tape once this one is done.
    """

    def __cinit__(self):
        global _serial, _spare
        _serial += 1
        self.serial = _serial
        self.a = _spare
        memset(&_spare, 0, sizeof(Arrays))

    def __dealloc__(self):
        global _spare
        if self.a.cap > _spare.cap:
            free_arrays(&_spare)
            _spare = self.a
        else:
            free_arrays(&self.a)
        free(self.foreign); free(self.user); free(self.ext); free(self.ext_reached)

    def __len__(self):
        return self.n

    cdef Py_ssize_t slot_of(self, Node v, Py_ssize_t user) except? -1000:
        """Where entry inputs point: a slot here, -1 for a leaf, -2 - j if foreign."""
        if v._rec == <PyObject*>self:
            return v._slot
        if v._rec == NULL:
            return -1
        if self.nforeign == self.foreign_cap:
            self.grow_foreign()
        self.foreign[self.nforeign] = <PyObject*>v
        self.user[self.nforeign] = user
        self.nforeign += 1
        return -1 - self.nforeign

    cdef int grow_foreign(self) except -1:
        cdef Py_ssize_t cap = self.foreign_cap * 2 if self.foreign_cap else 16
        regrow(<void**>&self.foreign, cap, sizeof(PyObject*))
        regrow(<void**>&self.user, cap, sizeof(Py_ssize_t))
        regrow(<void**>&self.ext, cap, sizeof(double))
        regrow(<void**>&self.ext_reached, cap, 1)
        self.foreign_cap = cap
        return 0

    cdef void kill(self, Py_ssize_t slot) noexcept:
        self.a.op[slot] = OP_DEAD
        self.live -= 1
        if self.live == 0 and not self.sealed:
            # every node recorded here is gone (an unsealed tape is some thread's
            # current one): start again from the top
            self.n = 0
            self.nforeign = 0

    cdef void prepare(self, unsigned long long pass_id) noexcept:
        if self.stamp != pass_id:
            self.stamp = pass_id
            memset(self.a.reached, 0, self.n)
            if self.nforeign:
                memset(self.ext_reached, 0, self.nforeign)
            self.hi = -1


cdef inline Recorder _fresh_tape():
    """Start a new recording tape for the calling thread."""
    cdef Recorder t = Recorder.__new__(Recorder)
    mi_set_thread_tape(_THREAD_KEY, <PyObject*>t)
    return t


cdef int record(Node out) except -1:
    """Append ``out`` (just made by an op) to the calling thread's tape."""
    cdef PyObject* p = mi_get_thread_tape()
    cdef Recorder t
    cdef Py_ssize_t i
    if p == NULL or (<Recorder>p).sealed:
        t = _fresh_tape()
    else:
        t = <Recorder>p
    i = t.n
    if (i & 4095) == 0 and i and t.live * 2 < i:
        # mostly dead entries, kept by a few long-lived nodes: leave this tape to
        # them and record onto a fresh one instead of growing this one forever
        t.sealed = True
        t = _fresh_tape()
        i = 0
    if i == t.a.cap:
        grow_arrays(&t.a, t.a.cap * 2 if t.a.cap else 1024)
    t.a.op[i] = out._code
    t.a.param[i] = out._param
    t.a.out[i] = &out.data
    t.a.x0[i] = &out._a.data
    t.a.s0[i] = t.slot_of(out._a, i)
    if out._b is not None:
        t.a.x1[i] = &out._b.data
        t.a.s1[i] = t.slot_of(out._b, i)
    else:
        t.a.x1[i] = NULL
        t.a.s1[i] = -1
    Py_INCREF(t)
    out._rec = <PyObject*>t
    out._slot = i
    t.n = i + 1
    t.live += 1
    return 0


cdef int seal_current() except -1:
    """The next forward pass of this thread records onto a new tape, so that the
    graph just differentiated is freed with its tape instead of growing it."""
    cdef PyObject* p = mi_get_thread_tape()
    if p != NULL:
        (<Recorder>p).sealed = True
    return 0


cdef void note_rewired(Node v) noexcept:
    """``v._prev`` is being assigned: from now on, backward through ``v``'s tape
    orders the graph by a search that checks for cycles (``needs_snapshot``)."""
    global _n_rewired
    _n_rewired += 1
    if v._rec != NULL:
        (<Recorder>v._rec).rewired = True


# Cycles made by rewiring `_prev` (docs/reliability.md row 58). Nodes are not
# tracked by the cyclic garbage collector (no op can make a cycle, and tracking
# 10^5 nodes per step would cost the engine its speed), so a cycle made by
# rewiring would never be freed. Instead, the node whose rewiring closed a cycle is
# registered here (by address: a borrowed pointer, dropped when the node dies), and
# whenever the garbage collector runs, a cycle no one outside refers to any more is
# broken at that node, after which reference counting frees it.
cdef dict _cycles = {}


cdef int check_for_cycle(Node v) except -1:
    """``v._prev`` was just assigned: register ``v`` if that closed a cycle through it."""
    cdef Node node, child
    seen = {id(v)}
    stack = [v]
    while stack:
        node = <Node>stack.pop()
        for child in (node._a, node._b):
            if child is v:
                v._cyclic = True
                _cycles[<Py_ssize_t><PyObject*>v] = None
                return 0
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return 0


cdef tuple _inputs_of(Py_ssize_t address):
    cdef Node node = <Node><PyObject*>address
    return (<Py_ssize_t><PyObject*>node._a if node._a is not None else 0,
            <Py_ssize_t><PyObject*>node._b if node._b is not None else 0)


cdef int _free_if_garbage(Py_ssize_t root) except -1:
    """The collector's test on the nodes reachable from ``root``: a node whose
    reference count exceeds the references it gets from inside that set is held
    from outside, and so is everything it reaches. If ``root`` is not, its cycle
    is garbage: clearing ``root``'s inputs breaks it."""
    cdef Node node
    edges = {}                      # address -> (input0, input1) addresses, 0: none
    stack = [root]
    while stack:
        x = stack.pop()
        if x not in edges:
            edges[x] = _inputs_of(x)
            stack.extend(c for c in edges[x] if c)
    if not any(root in ins for ins in edges.values()):
        (<Node><PyObject*>root)._cyclic = False     # rewired again: no cycle now
        del _cycles[root]
        return 0
    inside = dict.fromkeys(edges, 0)
    for ins in edges.values():
        for c in ins:
            if c:
                inside[c] += 1
    # no reference to a node of the set is held here: only addresses
    held = [x for x in edges if _Py_REFCNT(<PyObject*><Py_ssize_t>x) > inside[x]]
    alive = set(held)
    while held:
        for c in edges[held.pop()]:
            if c and c not in alive:
                alive.add(c)
                held.append(c)
    if root not in alive:
        node = <Node><PyObject*>root
        node._cyclic = False
        del _cycles[root]
        node._a = None              # frees the cycle, by reference counting
        node._b = None
    return 0


def _free_rewired_cycles(phase, info):
    """A ``gc.callbacks`` hook: at the start of every collection, free the
    rewired cycles that nothing refers to any more."""
    if phase != "start" or not _cycles:
        return
    for root in list(_cycles):
        if root in _cycles:         # not freed with an earlier one
            _free_if_garbage(root)


gc.callbacks.append(_free_rewired_cycles)


# One backward pass over the recording tapes at a time, process-wide: a pass uses the
# tapes' shared reached/buf arrays. Taken without the GIL, so waiting threads run on.
cdef PyThread_type_lock _backward_lock = PyThread_allocate_lock()


cdef int recorded_backward(Node root) except -1:
    """backward() over the recording tapes: root's tape, then any older tape that
    received gradient through a foreign input, newest first."""
    with nogil:
        PyThread_acquire_lock(_backward_lock, WAIT_LOCK)
    try:
        _recorded_backward_locked(root)
    finally:
        PyThread_release_lock(_backward_lock)
    return 0


cdef int _recorded_backward_locked(Node root) except -1:
    global _pass_id
    cdef Recorder t, f
    cdef Node v
    cdef Py_ssize_t j, s
    _pass_id += 1
    t = <Recorder>root._rec
    t.prepare(_pass_id)
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
            chain_rule(&t.a, t.hi, t.ext, t.ext_reached)
        for j in range(t.nforeign):
            if not t.ext_reached[j]:
                continue
            v = <Node>t.foreign[j]
            f = <Recorder>v._rec
            f.prepare(_pass_id)
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


cdef bint needs_snapshot(Node root) except -1:
    """Does the graph recorded on ``root``'s tape, or on an older tape it takes
    inputs from, contain a node whose ``_prev`` was assigned?"""
    cdef Recorder t
    cdef Py_ssize_t j
    if not _n_rewired:
        return False
    t = <Recorder>root._rec
    seen = {t.serial}
    todo = [t]
    while todo:
        t = todo.pop()
        if t.rewired:
            return True
        for j in range(t.nforeign):
            # the pointer is valid while the node that uses it lives
            if t.a.op[t.user[j]] != OP_DEAD:
                f = <Recorder>(<Node>t.foreign[j])._rec
                if (<Recorder>f).serial not in seen:
                    seen.add((<Recorder>f).serial)
                    todo.append(f)
    return False


# Freeing a deep graph without recursion. When a node dies, CPython would free its
# inputs from inside its deallocator, and theirs from inside theirs: a 100,000-node
# chain would overflow the C stack. So a dying node moves the inputs it is the last
# owner of onto this stack, and the outermost deallocation frees them in a loop.
# (cython.trashcan does the same for garbage-collected types only; Node is not one.)
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
cdef class Node:
    """The C fields of a ``Value`` (``_value.pyx`` defines the public API on it)."""

    def __dealloc__(self):
        cdef PyObject* rec = self._rec
        if self._cyclic:
            _cycles.pop(<Py_ssize_t><PyObject*>self, None)
        if rec != NULL:
            self._rec = NULL
            (<Recorder>rec).kill(self._slot)
            Py_DECREF(<object>rec)
        if self._a is not None:
            _bury(<PyObject*>self._a)
            self._a = None      # drops the reference the stack now also holds
            _bury(<PyObject*>self._b)
            self._b = None
            _drain()


def _check_layout():
    cdef Node v = Node.__new__(Node)
    if &v.grad != &v.data + 1:   # pragma: no cover - a compiler that pads doubles
        raise ImportError("microinit.scalar._graph: Node.grad must follow Node.data")


_check_layout()


def release_memory():
    """Free the arrays kept for reuse by the next recording tape (they are reused
    across training steps; a long-running program may want them back).

    >>> from microinit.scalar import release_memory, tape_stats
    >>> release_memory(); tape_stats()["spare_capacity"]
    0
    """
    cdef PyObject* p = mi_get_thread_tape()
    if p != NULL and (<Recorder>p).live == 0:
        mi_set_thread_tape(_THREAD_KEY, NULL)   # its arrays go to _spare, freed next
    free_arrays(&_spare)


def tape_stats():
    """Diagnostics for tests: entries and live nodes on the calling thread's
    recording tape, and the capacity of the spare arrays kept for the next tape.

    >>> from microinit.scalar import Value, tape_stats
    >>> y = Value(1.0) * 2.0 + 1.0
    >>> tape_stats()["live"] >= 2
    True
    """
    cdef PyObject* p = mi_get_thread_tape()
    if p == NULL:
        return {"entries": 0, "live": 0, "spare_capacity": _spare.cap}
    t = <Recorder>p
    return {"entries": t.n, "live": t.live, "serial": t.serial, "spare_capacity": _spare.cap}

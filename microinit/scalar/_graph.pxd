# cython: language_level=3
"""The node of the compiled scalar engine and the tape it is recorded on (see
``_graph.pyx``). ``_value.pyx`` builds the public ``Value`` on ``Node``."""
cimport cython
from cpython.ref cimport PyObject

from microinit.scalar._wengert cimport Arrays


cdef class Recorder:
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

    cdef Py_ssize_t slot_of(self, Node v, Py_ssize_t user) except? -1000
    cdef int grow_foreign(self) except -1
    cdef void kill(self, Py_ssize_t slot) noexcept
    cdef void prepare(self, unsigned long long pass_id) noexcept


@cython.no_gc   # see _graph.pyx: no reference cycles (a subclass must know it too)
cdef class Node:
    cdef public double data
    cdef public double grad     # must directly follow data (see _wengert.Arrays)
    cdef readonly int _code
    cdef bint _cyclic           # rewiring `_prev` closed a cycle through it
    cdef Node _a
    cdef Node _b
    cdef double _param
    cdef object _label
    # Its recording tape, NULL for a leaf: an owned reference held as a raw pointer,
    # so that the garbage collector's tp_clear leaves it for __dealloc__ (which
    # must mark the node's entry dead on it).
    cdef PyObject* _rec
    cdef Py_ssize_t _slot
    cdef unsigned long long _mark   # scratch for the snapshot's depth-first search
    cdef Py_ssize_t _index          # scratch: the node's entry in a snapshot
    cdef object __weakref__


cdef int record(Node out) except -1
cdef int recorded_backward(Node root) except -1
cdef bint needs_snapshot(Node root) except -1
cdef int seal_current() except -1
cdef void note_rewired(Node v) noexcept
cdef int check_for_cycle(Node v) except -1

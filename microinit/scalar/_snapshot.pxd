# cython: language_level=3
"""The ``Tape`` snapshot of a graph (see ``_snapshot.pyx``)."""
from cpython.ref cimport PyObject

from microinit.scalar._graph cimport Node
from microinit.scalar._wengert cimport Arrays


cdef class Tape:
    cdef Arrays a
    cdef Py_ssize_t n
    cdef double* pairs      # (value, grad) of entry i at pairs[2 i], pairs[2 i + 1]
    cdef PyObject** nodes   # owned references: the snapshot keeps its nodes alive

    cdef int run(self, double seed) except -1
    cdef int add_to_nodes(self) except -1


cdef Tape linearize(Node root)

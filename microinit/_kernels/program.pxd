# cython: language_level=3
"""C-level declarations of program.pyx, the compiled step's interpreter: the op record,
the outcome of a run, and the Program class, so that microinit/compile/_hot.pyx calls
``Program.step`` as a C method (a Python-level call costs ~0.1 us, 2% of a tiny step)."""
cimport numpy as cnp

cdef enum:
    MAX_SLOTS_PER_OP = 9


cdef struct Op:
    int code
    int act
    int flag
    int s[MAX_SLOTS_PER_OP]
    Py_ssize_t m, n, k
    double param
    double f[4]


cdef struct Outcome:
    int status
    Py_ssize_t index     # the optimizer index of a non-finite gradient/parameter
    double loss


cdef class Program:
    cdef Op* ops
    cdef int nops, cap
    cdef void** slots
    cdef list arrays             # the slot arrays (None for 0 and 1), kept alive here
    cdef list calls              # (a, b, out, a transposed, b transposed) of each OP_BLAS record
    cdef list pycalls            # the callables of OP_PYCALL records
    cdef object cur_x, cur_y     # the batch while a step runs (what OP_BLAS/OP_PYCALL read)
    cdef public object error     # the exception an OP_PYCALL record raised (status ST_PYERR)
    cdef readonly int typenum, ytype, status
    cdef readonly Py_ssize_t macs     # multiply-adds of the dense records (decides the GIL)
    cdef readonly Py_ssize_t status_index, steps_done
    cdef tuple xshape, yshape
    cdef int ynd

    cdef Py_ssize_t _size(self, int s) except -1
    cdef int _type(self, int s)
    cdef bint _plain_inputs(self, object x, object y) noexcept
    cdef int _go(self, double lr, Outcome* res) noexcept
    cpdef object step(self, x, y, double lr)

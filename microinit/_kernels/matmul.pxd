# cython: language_level=3
"""C-level declarations of matmul.pyx shared with dense.pyx: the buffer pool."""
cimport numpy as cnp


cdef class BufferPool:
    cdef dict _free
    cdef public Py_ssize_t per_key
    cdef public Py_ssize_t max_keys
    cdef cnp.ndarray take(self, int nd, Py_ssize_t d0, Py_ssize_t d1, int typenum)

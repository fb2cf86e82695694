# cython: language_level=3
"""The chain rule over a Wengert list: the backward pass of the compiled Value.

A Wengert list lists the nodes of a graph so that every node comes after its
inputs. Backpropagation is then one loop over it in reverse: the gradient of an
entry is complete when the loop reaches it, because every entry that uses it has
already been visited. ``chain_rule`` is that loop, in C, without the GIL; the
local derivative of every op comes from ``_ops.pxd``. Arrays come from
PyMem_Raw* (malloc underneath, usable without the GIL), so tracemalloc sees them.
"""
from cpython.mem cimport PyMem_RawRealloc as realloc, PyMem_RawFree as free
from libc.string cimport memset

from microinit.scalar._ops cimport local_derivatives


cdef int regrow(void** p, Py_ssize_t cap, size_t size) except -1:
    """Resize the array ``*p`` to ``cap`` items (``*p`` is left as it was on failure)."""
    cdef void* q = realloc(p[0], cap * size)
    if q == NULL:
        raise MemoryError(f"scalar tape: cannot grow an array to {cap} entries")
    p[0] = q
    return 0


cdef int grow_arrays(Arrays* a, Py_ssize_t cap) except -1:
    """Give every array of ``a`` room for ``cap`` entries."""
    regrow(<void**>&a.op, cap, sizeof(int))
    regrow(<void**>&a.reached, cap, 1)
    regrow(<void**>&a.param, cap, sizeof(double))
    regrow(<void**>&a.buf, cap, sizeof(double))
    regrow(<void**>&a.out, cap, sizeof(double*))
    regrow(<void**>&a.x0, cap, sizeof(double*))
    regrow(<void**>&a.x1, cap, sizeof(double*))
    regrow(<void**>&a.s0, cap, sizeof(Py_ssize_t))
    regrow(<void**>&a.s1, cap, sizeof(Py_ssize_t))
    a.cap = cap
    return 0


cdef void free_arrays(Arrays* a) noexcept nogil:
    free(a.op); free(a.reached); free(a.param); free(a.buf)
    free(a.out); free(a.x0); free(a.x1); free(a.s0); free(a.s1)
    memset(a, 0, sizeof(Arrays))


cdef inline void _send(Arrays* a, Py_ssize_t s, double* x, double amount, double* ext,
                       char* ext_reached) noexcept nogil:
    """Add ``amount`` to one input's gradient: slot ``s`` of this list, a leaf's own
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


cdef void chain_rule(Arrays* a, Py_ssize_t hi, double* ext, char* ext_reached) noexcept nogil:
    """Backward over entries ``hi`` down to 0: grad[input] += local derivative *
    grad[entry], for the entries marked ``reached`` (the caller seeds the output:
    reached = 1, buf = d output / d output). Gradients are summed in ``buf``, then
    *added* to each entry's ``grad`` (``out[i][1]``), so running it twice adds the
    same amounts twice. Inputs outside the list get their share directly: a leaf
    (slot -1) in its ``.grad``, a foreign input (slot -2 - j) in ``ext[j]``."""
    cdef Py_ssize_t i
    cdef double g, d0, d1, v1
    for i in range(hi, -1, -1):
        if not a.reached[i] or a.x0[i] == NULL:
            continue
        g = a.buf[i]
        d0 = 0.0
        d1 = 0.0
        v1 = a.x1[i][0] if a.x1[i] != NULL else 0.0
        local_derivatives(a.op[i], a.x0[i][0], v1, a.out[i][0], a.param[i], &d0, &d1)
        _send(a, a.s0[i], a.x0[i], d0 * g, ext, ext_reached)
        if a.x1[i] != NULL:
            _send(a, a.s1[i], a.x1[i], d1 * g, ext, ext_reached)
    for i in range(hi + 1):
        if a.reached[i]:
            a.out[i][1] += a.buf[i]

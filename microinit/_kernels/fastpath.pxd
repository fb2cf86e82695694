# cython: language_level=3
"""The boundary's test, in C: is an argument already what ops/_boundary.py makes?

The ``*_auto``/``*_chain`` functions of dense.pyx, matmul.pyx, regression.pyx and
xent.pyx take raw Python objects, not typed memoryviews: acquiring a memoryview buffer
costs ~1 us per argument, more than a small layer or loss itself. These inline tests
decide in a few nanoseconds whether an argument is exactly what the boundary
(``microinit/ops/_boundary.py``) would return unchanged: an exact ndarray of float32 or
float64 (int64 for labels), in native byte order, C-contiguous. For anything else the
entry point computes nothing and returns None; the op then passes the arguments
through the boundary, which converts or refuses them, and calls the same entry point
again. There is no second implementation behind a None: only the conversion.
"""
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from cpython.long cimport PyLong_AsDouble, PyLong_CheckExact
cimport numpy as cnp


cdef inline int plain_float_type(object a, int nd) noexcept:
    """Typenum of an exact, C-contiguous, native-order float32/float64 ndarray with nd
    dimensions (any number when nd < 0), else -1."""
    cdef int t
    if not cnp.PyArray_CheckExact(a):
        return -1
    t = cnp.PyArray_TYPE(<cnp.ndarray> a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        return -1
    if not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> a):
        return -1
    if nd >= 0 and cnp.PyArray_NDIM(<cnp.ndarray> a) != nd:
        return -1
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a):
        return -1
    return t


cdef enum:
    RED_MEAN = 0
    RED_SUM = 1


cdef inline int reduction_code(object reduction) noexcept:
    """RED_MEAN for "mean", RED_SUM for "sum", -1 for anything else ("none" and bad
    values go to the validating path, which computes or rejects them)."""
    if reduction == "mean":
        return RED_MEAN
    if reduction == "sum":
        return RED_SUM
    return -1


cdef inline bint plain_of(object a, int t, int nd) noexcept:
    """a is an exact, C-contiguous, native-order ndarray of typenum t with nd dimensions."""
    return (cnp.PyArray_CheckExact(a) and cnp.PyArray_TYPE(<cnp.ndarray> a) == t
            and cnp.PyArray_NDIM(<cnp.ndarray> a) == nd
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> a))


cdef inline bint same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int k, nd = cnp.PyArray_NDIM(a)
    if cnp.PyArray_NDIM(b) != nd:
        return False
    for k in range(nd):
        if cnp.PyArray_DIMS(a)[k] != cnp.PyArray_DIMS(b)[k]:
            return False
    return True


cdef inline int scalar_value(object g, double* out) except -1:
    """Read an upstream gradient that is a Python float/int (or numpy float64) or a
    0-d float32/float64 ndarray into out and return 1; 0 for anything else (e.g. an
    array with elements, which only the validating path may broadcast)."""
    cdef int t
    if PyFloat_Check(g):
        out[0] = PyFloat_AS_DOUBLE(g)
        return 1
    if cnp.PyArray_CheckExact(g):
        if cnp.PyArray_NDIM(<cnp.ndarray> g) != 0 or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> g):
            return 0
        t = cnp.PyArray_TYPE(<cnp.ndarray> g)
        if t == cnp.NPY_FLOAT32:
            out[0] = (<float*> cnp.PyArray_DATA(<cnp.ndarray> g))[0]
            return 1
        if t == cnp.NPY_FLOAT64:
            out[0] = (<double*> cnp.PyArray_DATA(<cnp.ndarray> g))[0]
            return 1
        return 0
    if PyLong_CheckExact(g):
        # Ints beyond 2**53 round as float(g) does; beyond the double range this
        # raises OverflowError, as float(g) would.
        out[0] = PyLong_AsDouble(g)
        return 1
    return 0


cdef inline cnp.ndarray scalar_array(double v, int t):
    """A new 0-d array of typenum t holding v (rounded to float32 when t is)."""
    cdef cnp.ndarray a = cnp.PyArray_EMPTY(0, NULL, t, 0)
    if t == cnp.NPY_FLOAT32:
        (<float*> cnp.PyArray_DATA(a))[0] = <float> v
    else:
        (<double*> cnp.PyArray_DATA(a))[0] = v
    return a
